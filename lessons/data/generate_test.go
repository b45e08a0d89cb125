package data

import (
	"image"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/sim"
)

// lineEnv is a 1-D point that must reach a target drawn from the seed; the
// expert fails on purpose when the seed is divisible by failEvery.
type lineEnv struct {
	x, goal float32
	steps   int
}

func (e *lineEnv) Spec() sim.Spec {
	return sim.Spec{Name: "line", StateNames: []string{"x", "goal"}, ActionNames: []string{"dx"},
		ActionLow: []float32{-1}, ActionHigh: []float32{1}, ControlHz: 5, MaxSteps: 20, ScoreName: "success"}
}

func (e *lineEnv) obs() sim.Obs {
	return sim.Obs{State: []float32{e.x, e.goal}, Instruction: "go to the goal"}
}

func (e *lineEnv) Reset(seed int64) sim.Obs {
	e.x, e.goal, e.steps = 0, float32(seed%7)-3.5, 0
	return e.obs()
}

func (e *lineEnv) Step(a []float32) sim.Step {
	e.x += a[0]
	e.steps++
	d := e.goal - e.x
	ok := d*d < 0.01
	st := sim.Step{Obs: e.obs(), Reward: -float64(d * d), Success: ok, Done: ok || e.steps >= 20}
	if ok {
		st.Score = 1
	}
	return st
}

func (e *lineEnv) Render(int) *image.RGBA { return nil }

type lineExpert struct {
	seed      int64
	failEvery int64
}

func (x *lineExpert) Reset(seed int64) { x.seed = seed }
func (x *lineExpert) Act(o sim.Obs) []float32 {
	if x.failEvery > 0 && x.seed%x.failEvery == 0 {
		return []float32{0}
	}
	d := o.State[1] - o.State[0]
	if d > 1 {
		d = 1
	} else if d < -1 {
		d = -1
	}
	return []float32{d}
}

func lineFactory(failEvery int64) sim.Factory {
	return sim.Factory{
		Name:      "line",
		NewEnv:    func() (sim.Env, error) { return &lineEnv{}, nil },
		NewExpert: func() sim.Expert { return &lineExpert{failEvery: failEvery} },
	}
}

func TestGenerateDeterministicAcrossWorkers(t *testing.T) {
	for _, only := range []bool{false, true} {
		var ref *Dataset
		for _, w := range []int{1, 2, 3, 8} {
			ds, err := Generate(lineFactory(2), 25, 11, GenOptions{Workers: w, OnlySuccessful: only})
			if err != nil {
				t.Fatal(err)
			}
			if len(ds.Episodes) != 25 {
				t.Fatalf("%d episodes", len(ds.Episodes))
			}
			if ref == nil {
				ref = ds
				continue
			}
			equalDatasets(t, ref, ds)
		}
		if only {
			for _, e := range ref.Episodes {
				if !e.Success || e.Score != 1 {
					t.Fatalf("OnlySuccessful kept a failed episode (seed %d)", e.Seed)
				}
			}
		}
	}
	a, _ := Generate(lineFactory(0), 5, 1, GenOptions{})
	b, _ := Generate(lineFactory(0), 5, 2, GenOptions{})
	if a.Episodes[0].Seed == b.Episodes[0].Seed {
		t.Error("different seeds gave the same episode seed")
	}
}

func TestGenerateOnlySuccessfulCap(t *testing.T) {
	_, err := Generate(lineFactory(1), 5, 3, GenOptions{OnlySuccessful: true, MaxAttempts: 40, Workers: 2})
	if err == nil || !strings.Contains(err.Error(), "only 0 of 5 rollouts succeeded after 40 attempts") || !strings.HasPrefix(err.Error(), "data: ") {
		t.Fatalf("error %v", err)
	}
	if _, err := Generate(lineFactory(0), 0, 3, GenOptions{}); err == nil {
		t.Error("n = 0: no error")
	}
}

func TestGenerateProgressAndPanics(t *testing.T) {
	var calls, last atomic.Int64
	_, err := Generate(lineFactory(0), 9, 3, GenOptions{Workers: 3, Progress: func(done, total int) {
		calls.Add(1)
		last.Store(int64(done*100 + total))
	}})
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 9 || last.Load() != 909 {
		t.Fatalf("progress: %d calls, last %d", calls.Load(), last.Load())
	}
	f := lineFactory(0)
	f.NewExpert = func() sim.Expert { return badExpert{} }
	if _, err := Generate(f, 3, 1, GenOptions{}); err == nil || !strings.Contains(err.Error(), "panic") {
		t.Fatalf("panicking expert: %v", err)
	}
}

type badExpert struct{}

func (badExpert) Reset(int64)           {}
func (badExpert) Act(sim.Obs) []float32 { panic("boom") }

func TestGenerateArmReach(t *testing.T) {
	f := sim.ArmFactory(arm.DefaultConfig(arm.Reach), false)
	ds, err := Generate(f, 12, 5, GenOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if ds.StateDim() != 32 || ds.ActionDim() != 7 || ds.FPS != 10 {
		t.Fatalf("dims %d %d fps %v", ds.StateDim(), ds.ActionDim(), ds.FPS)
	}
	for _, e := range ds.Episodes {
		if !e.Success || e.Score != 1 {
			t.Errorf("episode %d (seed %d) failed after %d steps", e.Index, e.Seed, e.Len())
		}
		if len(e.Rewards) != e.Len() || e.Task == "" {
			t.Errorf("episode %d: %d rewards for %d frames, task %q", e.Index, len(e.Rewards), e.Len(), e.Task)
		}
	}
	// The first state is the Reset observation of the episode's seed.
	env, _ := f.NewEnv()
	o := env.Reset(ds.Episodes[3].Seed)
	for k, v := range o.State {
		if v != ds.Episodes[3].States[0][k] {
			t.Fatalf("episode 3 does not replay from its seed")
		}
	}
	ds1, err := Generate(f, 12, 5, GenOptions{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	equalDatasets(t, ds1, ds)
}

func BenchmarkGenerateArm200(b *testing.B) {
	f := sim.ArmFactory(arm.DefaultConfig(arm.Reach), false)
	for i := 0; i < b.N; i++ {
		ds, err := Generate(f, 200, int64(i), GenOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(ds.NumFrames()), "frames/op")
	}
}

// BenchmarkGeneratePushT200 times 200 Push-T expert demonstrations
// (keypoint observations), the size of Diffusion Policy's Push-T set.
func BenchmarkGeneratePushT200(b *testing.B) {
	f := sim.PushTFactory(sim.PushTKeypoints, false)
	for i := 0; i < b.N; i++ {
		ds, err := Generate(f, 200, int64(i), GenOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(ds.NumFrames()), "frames/op")
	}
}
