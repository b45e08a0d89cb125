package data

import (
	"math"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	cases := []struct {
		name string
		edit func(d *Dataset)
		want string // substring of the error; "" for none
	}{
		{"ok", func(d *Dataset) {}, ""},
		{"nan state", func(d *Dataset) { d.Episodes[1].States[2][1] = nan }, "episode 1 (index 1) frame 2: observation.state[1] is NaN"},
		{"inf action", func(d *Dataset) { d.Episodes[0].Actions[3][0] = inf }, "episode 0 (index 0) frame 3: action[0] is +Inf"},
		{"nan reward", func(d *Dataset) { d.Episodes[2].Rewards[0] = nan }, "episode 2 (index 2) frame 0: next.reward is NaN"},
		{"short state", func(d *Dataset) { d.Episodes[2].States[1] = d.Episodes[2].States[1][:2] }, "episode 2 (index 2) frame 1: observation.state has 2 values, want 3"},
		{"long action", func(d *Dataset) { d.Episodes[0].Actions[0] = append(d.Episodes[0].Actions[0], 1) }, "frame 0: action has 3 values, want 2"},
		{"missing actions", func(d *Dataset) { d.Episodes[1].Actions = d.Episodes[1].Actions[:1] }, "episode 1 (index 1): 1 actions for 6 states"},
		{"rewards length", func(d *Dataset) { d.Episodes[1].Rewards = d.Episodes[1].Rewards[:1] }, "1 rewards for 6 states"},
		{"nil rewards ok", func(d *Dataset) { d.Episodes[1].Rewards = nil }, ""},
		{"empty episode", func(d *Dataset) { d.Episodes[0].States, d.Episodes[0].Actions, d.Episodes[0].Rewards = nil, nil, nil }, "episode 0 (index 0): no frames"},
		{"unknown task", func(d *Dataset) { d.Episodes[2].Task = "dance" }, `task "dance" is not in`},
		{"duplicate index", func(d *Dataset) { d.Episodes[2].Index = 0 }, "episode index 0 is also used by episode 0"},
		{"bad fps", func(d *Dataset) { d.FPS = 0 }, "fps is 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := randomDataset(1, []int{4, 6, 5}, 3, 2)
			c.edit(d)
			err := d.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "data: ") {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestDatasetHelpers(t *testing.T) {
	d := tinyDataset()
	if d.NumFrames() != 8 || d.StateDim() != 1 || d.ActionDim() != 1 {
		t.Fatalf("NumFrames %d StateDim %d ActionDim %d", d.NumFrames(), d.StateDim(), d.ActionDim())
	}
	if r := d.StateRows(); len(r) != 8 || r[3][0] != 10 {
		t.Fatalf("StateRows %v", r)
	}
	if r := d.ActionRows(); len(r) != 8 || r[7][0] != 114 {
		t.Fatalf("ActionRows %v", r)
	}
	if d.TaskIndex("t") != 0 || d.TaskIndex("x") != -1 {
		t.Fatal("TaskIndex")
	}
}
