package bc

import (
	"strings"
	"testing"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/plot"
	"github.com/policylab/policylab/lessons/pusht"
	"github.com/policylab/policylab/lessons/sim"
	"github.com/policylab/policylab/lessons/trainer"
)

func TestArmDistanceCurveOfExpert(t *testing.T) {
	for _, task := range []arm.Task{arm.Reach, arm.ReachColor} {
		f := sim.ArmFactory(arm.DefaultConfig(task), false)
		c, err := ArmDistanceCurve(f, eval.ExpertPolicy{X: f.NewExpert()}, []int64{1, 2, 3, 4}, 30)
		if err != nil {
			t.Fatal(err)
		}
		if !(c[0] > 0.1 && c[30] < 0.02) {
			t.Errorf("%v: expert distance %.3f → %.3f m, want from > 0.1 to < 0.02", task, c[0], c[30])
		}
	}
}

func TestPushTPathsOfExpert(t *testing.T) {
	f := sim.PushTFactory(sim.PushTKeypoints, false)
	paths, covs, err := PushTPaths(eval.ExpertPolicy{X: f.NewExpert()}, pusht.TieStart, []int64{1, 2}, 300)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 || len(paths[0]) < 10 || covs[0] < 0.9 {
		t.Errorf("%d paths, first of %d points, coverage %v", len(paths), len(paths[0]), covs)
	}
}

func TestExperimentAndTable(t *testing.T) {
	b := mustBackend(t)
	ds, f := armData(t, 20)
	cfg := DefaultConfig()
	cfg.Hidden = 32
	tc := trainer.DefaultConfig()
	tc.Steps, tc.BatchSize, tc.WarmupSteps = 20, 16, 2
	r, err := Experiment("tiny", b, ds, cfg, tc, f, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	tab := Table(r)
	if !strings.Contains(tab, "| tiny | 20 | 20 |") {
		t.Errorf("table:\n%s", tab)
	}
	if h := plot.ChartHTML(LossChart(r)); !strings.Contains(h, "tiny train") || !strings.Contains(h, "tiny val") {
		t.Errorf("loss chart lacks its series")
	}
}
