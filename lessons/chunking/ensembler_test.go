package chunking

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/policylab/policylab/lessons/eval"
)

// actEnsemble is ACT's temporal ensembling written against the
// Config.Ensembler hook: the chunks covering step, weights exp(-m·i) with
// i = 0 for the oldest of them.
func actEnsemble(chunks []Chunk, step int, m float64) []float32 {
	var sum []float64
	var wsum float64
	i := 0
	for _, c := range chunks {
		if step < c.Start || step >= c.Start+len(c.Actions) {
			continue
		}
		a := c.Actions[step-c.Start]
		if sum == nil {
			sum = make([]float64, len(a))
		}
		w := math.Exp(-m * float64(i))
		for d, v := range a {
			sum[d] += w * float64(v)
		}
		wsum += w
		i++
	}
	if sum == nil {
		return nil
	}
	out := make([]float32, len(sum))
	for d := range sum {
		out[d] = float32(sum[d] / wsum)
	}
	return out
}

// TestEnsemblerHook: an executor with ACT's ensembling plugged in through
// Config.Ensembler sends exactly what the built-in sends, with its seams
// and holds, for random chunk lengths, m, delays, synchronous and
// asynchronous, over two episodes (Reset between); and a wrong ensembler
// is an error, not a wrong action.
func TestEnsemblerHook(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2))
	for trial := 0; trial < 60; trial++ {
		cfg := TemporalEnsemble([]float64{0, 0.01, 0.5, 2}[rng.IntN(4)])
		if rng.IntN(2) == 0 {
			cfg = AsynchronousEnsemble(cfg.M)
		}
		cfg = cfg.WithDelay(rng.IntN(3))
		cfg.Hold = hold
		n := 1 + rng.IntN(6)
		value := func(j, i int) float32 { return float32(math.Sin(float64(7*j+3*i+trial)) * 10) }
		run := func(c Config) *Recorder {
			ex, err := New(c)
			if err != nil {
				t.Fatal(err)
			}
			rec := NewRecorder()
			ex.SetRecorder(rec)
			pol := eval.Scheduled(&steps{t: t, n: n, value: value}, ex)
			for _, seed := range []int64{1, 2} {
				pol.Reset(seed)
				for k := 0; k < 12; k++ {
					if _, err := pol.Act(obsAt(k)); err != nil {
						t.Fatal(err)
					}
				}
			}
			return rec
		}
		want := run(cfg)
		hooked := cfg
		hooked.Ensembler = actEnsemble
		got := run(hooked)
		for _, seed := range []int64{1, 2} {
			w, g := want.Trace(seed), got.Trace(seed)
			for k := range w.Actions {
				if g.Actions[k][0] != w.Actions[k][0] || g.Fresh[k] != w.Fresh[k] || g.Seam[k] != w.Seam[k] {
					t.Fatalf("%s, chunks of %d, episode %d, step %d: hooked sent %v (fresh %v, seam %v), built-in %v (%v, %v)",
						cfg.Name, n, seed, k, g.Actions[k], g.Fresh[k], g.Seam[k], w.Actions[k], w.Fresh[k], w.Seam[k])
				}
			}
		}
	}

	for _, tc := range []struct {
		f    func([]Chunk, int, float64) []float32
		want string
	}{
		{func([]Chunk, int, float64) []float32 { return nil }, "returned 0 values at step 1, want 1"},
		{func([]Chunk, int, float64) []float32 { return []float32{1, 2} }, "returned 2 values"},
	} {
		cfg := TemporalEnsemble(0).WithDelay(1)
		cfg.Hold, cfg.Ensembler = hold, tc.f
		ex, _ := New(cfg)
		pol := eval.Scheduled(&steps{t: t, n: 3, value: tens}, ex)
		pol.Reset(0)
		var err error
		for k := 0; k < 3 && err == nil; k++ {
			_, err = pol.Act(obsAt(k))
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err %v, want %q", err, tc.want)
		}
	}
	// A chunk that no longer covers the step: the ensembler must say nil.
	cfg := TemporalEnsemble(0)
	cfg.Ensembler = func([]Chunk, int, float64) []float32 { return []float32{1} }
	ex, _ := New(cfg)
	ex.plans, ex.k = []*plan{{start: 0, actions: [][]float32{{5}}}}, 2
	if _, _, err := ex.fromPlans(); err == nil || !strings.Contains(err.Error(), "where no chunk covers the step") {
		t.Errorf("err %v, want the uncovered step named", err)
	}
	cfg.Ensembler = actEnsemble
	ex, _ = New(cfg)
	ex.plans, ex.k = []*plan{{start: 0, actions: [][]float32{{5}}}}, 2
	if a, p, err := ex.fromPlans(); a != nil || p != nil || err != nil {
		t.Errorf("uncovered step: %v, %v, %v; want nothing", a, p, err)
	}
}
