package pusht

import "testing"

// TestExpertModesSplit: from TieStart, different expert seeds go round the
// block on both sides, and most runs still solve the task.
func TestExpertModesSplit(t *testing.T) {
	var seeds []int64
	for s := int64(0); s < 16; s++ {
		seeds = append(seeds, s)
	}
	runs, err := ExpertModes(DefaultConfig(), TieStart, seeds, 300)
	if err != nil {
		t.Fatal(err)
	}
	left, right, solved := 0, 0, 0
	for _, r := range runs {
		switch r.FirstSide {
		case -1:
			left++
		case 1:
			right++
		}
		if r.Success {
			solved++
		}
		if len(r.Path) < 2 {
			t.Errorf("seed %d: path of %d points", r.Seed, len(r.Path))
		}
	}
	t.Logf("left %d, right %d, solved %d of %d", left, right, solved, len(runs))
	if left < 3 || right < 3 {
		t.Errorf("from the tie start the expert went left %d and right %d times of %d: not multimodal", left, right, len(runs))
	}
	if solved < len(runs)*3/4 {
		t.Errorf("only %d of %d runs solved the task", solved, len(runs))
	}
	if _, err := ExpertModes(DefaultConfig(), TieStart, seeds, 0); err == nil {
		t.Error("maxSteps 0 accepted")
	}
}
