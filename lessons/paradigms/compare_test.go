package paradigms

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/policylab/policylab/lessons/plot"
)

// withoutTimings zeroes the fields of a Comparison that are wall-clock
// measurements, the only ones allowed to differ between runs.
func withoutTimings(c *Comparison) Comparison {
	d := *c
	d.VLA.Latency, d.VLA.AchievedFLOPS, d.VLA.OpenVLALatencyHere = 0, 0, 0
	return d
}

func TestCompare(t *testing.T) {
	start := time.Now()
	a, err := Compare(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Compare(1) took %v\n%s\n%s", time.Since(start), a.Table(), a.Details())
	b, err := Compare(1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(withoutTimings(a), withoutTimings(b)) {
		t.Error("Compare(1) twice gave different measurements")
	}
	c, err := Compare(2)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(withoutTimings(a).BC, withoutTimings(c).BC) {
		t.Error("Compare(1) and Compare(2) gave the same BC results")
	}

	// The measured story of the chapter's table.
	if got := len(a.BC.Curve); got != len(CompareDemoCounts) {
		t.Fatalf("BC curve has %d points", got)
	}
	if last := a.BC.Curve[len(a.BC.Curve)-1]; last.Eval.Success < 0.9 {
		t.Errorf("BC with %d demos: %.2f success", last.Demos, last.Eval.Success)
	}
	if !a.RL.Reached || a.SampleRatio() <= 1 {
		t.Errorf("RL reached %v with sample ratio %.1f, want more steps than BC", a.RL.Reached, a.SampleRatio())
	}
	if a.VLA.TotalParams != 142663 || a.VLA.Latency <= 0 || a.VLA.FLOPRatio <= 1 {
		t.Errorf("VLA: %+v", a.VLA)
	}
	table := a.Table()
	for _, want := range []string{"Imitation Learning", "Reinforcement Learning", "VLA Models",
		"Sample efficient", "Distribution shift", "Optimal policies", "Sample inefficient",
		"Generalization", "Compute intensive", "estimate"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q", want)
		}
	}
}

func TestEstimateOpenVLA(t *testing.T) {
	e := EstimateOpenVLA("open the drawer")
	// "In: What action should the robot take to open the drawer? Out:" has 12 words.
	if e.PromptTokens != 12 || e.TokensPerAction != 256+12+6 {
		t.Errorf("tokens: %+v", e)
	}
	if want := 2 * 7.5e9 * float64(256+12+6); e.FLOPsPerAction != want {
		t.Errorf("FLOPsPerAction = %g, want %g", e.FLOPsPerAction, want)
	}
}

func TestCharts(t *testing.T) {
	c, err := Compare(1)
	if err != nil {
		t.Fatal(err)
	}
	h := plot.ChartHTML(c.SampleEfficiencyChart())
	for _, want := range []string{`"type":"log"`, "imitation learning", "reinforcement learning"} {
		if !strings.Contains(h, want) {
			t.Errorf("sample-efficiency chart lacks %q", want)
		}
	}
}
