package pusht

import (
	"sync"
	"testing"
)

type episode struct {
	success            bool
	steps              int
	coverage           float64
	left, right, first int
	coin               int
}

func runExpertEpisode(seed int64) episode {
	e, err := New(DefaultConfig())
	if err != nil {
		panic(err)
	}
	x := NewExpert()
	x.Reset(seed)
	o := e.Reset(seed)
	for {
		o2, _, done, info := e.Step(x.Act(o))
		o = o2
		if done {
			return episode{info.Success, info.Steps, info.Coverage, x.Left, x.Right, x.FirstSide, x.Coin}
		}
	}
}

// TestExpert runs the scripted expert on 100 seeded episodes (two worker
// goroutines) and checks its success rate and that it goes round the block
// on both sides.
func TestExpert(t *testing.T) {
	const n = 100
	eps := make([]episode, n)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				eps[i] = runExpertEpisode(int64(i))
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	var ok, steps, left, right, firstL, firstR, coin int
	for i, ep := range eps {
		if ep.success {
			ok++
			steps += ep.steps
		} else {
			t.Logf("seed %d failed: coverage %.3f", i, ep.coverage)
		}
		left += ep.left
		right += ep.right
		coin += ep.coin
		switch ep.first {
		case -1:
			firstL++
		case 1:
			firstR++
		}
	}
	t.Logf("expert success %d/%d, mean steps to success %.1f", ok, n, float64(steps)/float64(max(ok, 1)))
	t.Logf("detours: %d left (counter-clockwise), %d right (clockwise), %d sides by coin; first detour left in %d episodes, right in %d",
		left, right, coin, firstL, firstR)
	if ok < 90 {
		t.Errorf("expert success %d%%, want ≥ 90%%", ok)
	}
	if firstL < 20 || firstR < 20 {
		t.Errorf("first detour left %d / right %d times: not multimodal enough", firstL, firstR)
	}
}

func TestExpertDeterministic(t *testing.T) {
	a, b := runExpertEpisode(3), runExpertEpisode(3)
	if a != b {
		t.Errorf("same seed, different episodes: %+v vs %+v", a, b)
	}
}
