package data

import (
	"reflect"
	"strings"
	"testing"
)

func TestFeatureAndSummary(t *testing.T) {
	d := &Dataset{
		Name: "tiny", FPS: 10, StateNames: []string{"a", "b"}, ActionNames: []string{"u"}, Tasks: []string{"t"},
		Episodes: []Episode{
			{Task: "t", States: [][]float32{{1, 2}, {3, 4}}, Actions: [][]float32{{5}, {6}}, Success: true},
			{Index: 1, Task: "t", States: [][]float32{{7, 8}}, Actions: [][]float32{{9}}},
		},
	}
	for _, tc := range []struct {
		name string
		eps  []int
		want []float64
	}{
		{"b", nil, []float64{2, 4, 8}},
		{"u", nil, []float64{5, 6, 9}},
		{"a", []int{1}, []float64{7}},
	} {
		got, err := d.Feature(tc.name, tc.eps...)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Feature(%q, %v) = %v, %v; want %v", tc.name, tc.eps, got, err, tc.want)
		}
	}
	if _, err := d.Feature("nope"); err == nil || !strings.Contains(err.Error(), `no feature "nope"`) {
		t.Errorf("unknown feature: %v", err)
	}
	if _, err := d.Feature("a", 5); err == nil {
		t.Error("episode 5 accepted")
	}
	if got := d.Lengths(); !reflect.DeepEqual(got, []float64{2, 1}) {
		t.Errorf("Lengths = %v", got)
	}
	if s := d.Summary(); !strings.Contains(s, "2 episodes, 3 frames") || !strings.Contains(s, "50% successful") {
		t.Errorf("Summary = %q", s)
	}
}
