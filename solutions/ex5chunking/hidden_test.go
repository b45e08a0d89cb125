//go:build grading

package ex5chunking

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/policylab/policylab/lessons/chunking"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/sim"
)

// reference is ACT's temporal ensembling as lessons/chunking computes it.
func reference(chunks []chunking.Chunk, step int, m float64) []float32 {
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

func randChunks(rng *rand.Rand) ([]chunking.Chunk, int) {
	dim := 1 + rng.IntN(7)
	n := rng.IntN(9)
	step := 5 + rng.IntN(10)
	var out []chunking.Chunk
	start := max(0, step-12)
	for range n {
		start += rng.IntN(3)
		c := chunking.Chunk{Start: min(start, step), Actions: make([][]float32, 1+rng.IntN(16))}
		for i := range c.Actions {
			c.Actions[i] = make([]float32, dim)
			for d := range c.Actions[i] {
				c.Actions[i][d] = float32(rng.NormFloat64() * 3)
			}
		}
		out = append(out, c)
	}
	return out, step
}

// TestHiddenEnsembleRandom: 2,000 random chunk sets (0 to 8 chunks of 1 to
// 16 actions of 1 to 7 values, some no longer covering the step) and
// values of m, against lessons/chunking's formula.
func TestHiddenEnsembleRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 2026))
	for trial := 0; trial < 2000; trial++ {
		chunks, step := randChunks(rng)
		m := []float64{0, 0.01, 0.1, 0.5, 1, 3}[rng.IntN(6)]
		want := reference(chunks, step, m)
		if got := Ensemble(chunks, step, m); !sameAction(got, want) {
			t.Fatalf("Ensemble(chunks %s, step %d, m %g) = %v, want %v", chunksString(chunks), step, m, got, want)
		}
	}
}

// TestHiddenEnsembleWeights: the weights fall from the OLDEST prediction,
// and i counts only the chunks that cover the step (an expired chunk in
// between takes no weight).
func TestHiddenEnsembleWeights(t *testing.T) {
	old := chunking.Chunk{Start: 0, Actions: [][]float32{{0}, {0}, {0}, {0}, {0}, {0}}}
	mid := chunking.Chunk{Start: 1, Actions: [][]float32{{50}, {50}}} // covers steps 1 and 2
	newer := chunking.Chunk{Start: 2, Actions: [][]float32{{80}, {80}, {80}, {100}}}
	got := Ensemble([]chunking.Chunk{old, newer}, 5, 3)
	want := float32(100 * math.Exp(-3) / (1 + math.Exp(-3)))
	if len(got) != 1 || !close32(got[0], want) {
		t.Fatalf("Ensemble([old 0, newer 100], m 3) = %v, want %v: with m = 3 the OLDEST prediction weighs 1 and the newer exp(-3)", got, want)
	}
	got = Ensemble([]chunking.Chunk{old, mid, newer}, 5, math.Ln2)
	want = float32(100 * 0.5 / 1.5)
	if len(got) != 1 || !close32(got[0], want) {
		t.Fatalf("Ensemble([old 0, expired, newer 100], step 5, m ln 2) = %v, want %v: the expired chunk does not count, so newer is i = 1 (weight ½)", got, want)
	}
	got = Ensemble([]chunking.Chunk{mid}, 5, 0)
	if got != nil {
		t.Fatalf("Ensemble([a chunk for steps 1..2], step 5) = %v, want nil", got)
	}
}

// steps is a chunk policy over step-numbered observations with random
// chunk values and, with vary, random chunk lengths.
type steps struct {
	rng  *rand.Rand
	seed uint64
	n    int
	vary bool
	dim  int
}

func (s *steps) Reset(seed int64) { s.rng = rand.New(rand.NewPCG(s.seed, uint64(seed))) }
func (s *steps) PredictActionChunk(obs sim.Obs) ([][]float32, error) {
	n := s.n
	if s.vary {
		n = 1 + s.rng.IntN(s.n)
	}
	out := make([][]float32, n)
	for i := range out {
		out[i] = make([]float32, s.dim)
		for d := range out[i] {
			out[i][d] = float32(obs.State[0]) + float32(s.rng.NormFloat64())
		}
	}
	return out, nil
}

func hold(sim.Obs) ([]float32, error) { return []float32{-7, -7, -7}, nil }

// TestHiddenEnsembleInExecutor: lessons/chunking's executors with your
// Ensemble plugged in send what the built-in sends (synchronous and
// asynchronous ensembling, with delays, chunks of varying length), over
// two episodes with a Reset between.
func TestHiddenEnsembleInExecutor(t *testing.T) {
	for trial := 0; trial < 40; trial++ {
		m := []float64{0, 0.01, 0.7, 2}[trial%4]
		base := chunking.TemporalEnsemble(m)
		if trial%3 == 1 {
			base = chunking.AsynchronousEnsemble(m)
		}
		base = base.WithDelay(trial % 3)
		base.Hold = hold
		run := func(c chunking.Config) *chunking.Recorder {
			ex, err := chunking.New(c)
			if err != nil {
				t.Fatal(err)
			}
			rec := chunking.NewRecorder()
			ex.SetRecorder(rec)
			pol := eval.Scheduled(&steps{seed: uint64(trial), n: 2 + trial%6, vary: trial%2 == 0, dim: 3}, ex)
			for _, seed := range []int64{1, 2} {
				pol.Reset(seed)
				for k := 0; k < 15; k++ {
					if _, err := pol.Act(obsAt(k)); err != nil {
						t.Fatalf("%s: %v", c.Name, err)
					}
				}
			}
			return rec
		}
		want := run(base)
		hooked := base
		hooked.Ensembler = Ensemble
		got := run(hooked)
		for _, seed := range []int64{1, 2} {
			w, g := want.Trace(seed), got.Trace(seed)
			for k := range w.Actions {
				if !sameAction(g.Actions[k], w.Actions[k]) || g.Fresh[k] != w.Fresh[k] {
					t.Fatalf("%s, episode %d, step %d: with your Ensemble the executor sent %v, the built-in %v", base.Name, seed, k, g.Actions[k], w.Actions[k])
				}
			}
		}
	}
}

// TestHiddenChapterAction: your ChapterAction sends what lessons/chunking's
// chapter executor sends, for random execution horizons and chunks of
// random (sometimes shorter) length, across resets; a failing policy's
// error comes back.
func TestHiddenChapterAction(t *testing.T) {
	for trial := 0; trial < 60; trial++ {
		h := 1 + trial%9
		mk := func() *steps { return &steps{seed: uint64(trial), n: 1 + trial%12, vary: trial%2 == 1, dim: 2} }
		ex, err := chunking.New(chunking.Chapter(0, h))
		if err != nil {
			t.Fatal(err)
		}
		builtin := eval.Scheduled(mk(), ex)
		mine := ChapterPolicy(ChapterAction, mk(), h, nil)
		for _, seed := range []int64{3, 4} {
			builtin.Reset(seed)
			mine.Reset(seed)
			for k := 0; k < 20; k++ {
				w, err := builtin.Act(obsAt(k))
				if err != nil {
					t.Fatal(err)
				}
				g, err := mine.Act(obsAt(k))
				if err != nil {
					t.Fatalf("execute %d, step %d: %v", h, k, err)
				}
				if !sameAction(g, w) {
					t.Fatalf("execute %d, chunks of %d actions (varying: %v), episode %d, step %d: sent %v, the chapter's executor %v",
						h, 1+trial%12, trial%2 == 1, seed, k, g, w)
				}
			}
		}
	}
	boom := errors.New("policy failed")
	var buf [][]float32
	idx := 0
	if _, err := ChapterAction(&buf, &idx, 4, obsAt(0), func(sim.Obs) ([][]float32, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("a failing predict: error %v, want the policy's error back", err)
	}
}

// TestHiddenArmRollout: on the arm (REACH, 30 episodes of ArmPlanner's
// noisy 16-action chunks), your temporal ensemble in lessons/chunking's
// executor runs the episodes the built-in runs, and moves the arm more
// smoothly than your chapter executor (execute 8 of 16), which itself
// matches the library's; both succeed.
func TestHiddenArmRollout(t *testing.T) {
	s := ArmSetup(30)
	ens, err := RunEnsemble(s, Ensemble, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	builtin, err := chunking.Run(s, chunking.TemporalEnsemble(0.01), 0)
	if err != nil {
		t.Fatal(err)
	}
	chap, err := RunChapter(s, ChapterAction, 8)
	if err != nil {
		t.Fatal(err)
	}
	libChap, err := chunking.Run(s, chunking.Chapter(0, 8), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + chunking.Table("rad", ens, builtin, chap, libChap))
	for _, c := range []struct{ got, want *chunking.Row }{{ens, builtin}, {chap, libChap}} {
		if math.Abs(c.got.Metrics.Jerk-c.want.Metrics.Jerk) > 1e-3*c.want.Metrics.Jerk || c.got.Result.SuccessRate != c.want.Result.SuccessRate {
			t.Fatalf("%s: success %.2f, jerk %.3f rad/s³; %s: success %.2f, jerk %.3f: want the same episodes",
				c.got.Executor, c.got.Result.SuccessRate, c.got.Metrics.Jerk, c.want.Executor, c.want.Result.SuccessRate, c.want.Metrics.Jerk)
		}
	}
	if ens.Result.SuccessRate < 0.9 || chap.Result.SuccessRate < 0.9 {
		t.Fatalf("success: ensemble %.2f, chapter %.2f; want >= 0.9", ens.Result.SuccessRate, chap.Result.SuccessRate)
	}
	if ens.Metrics.Jerk > 0.75*chap.Metrics.Jerk {
		t.Fatalf("jerk: your ensemble %.1f rad/s³, your chapter executor %.1f: ensembling should cut it by at least 25%%", ens.Metrics.Jerk, chap.Metrics.Jerk)
	}
	t.Logf("jerk: ensemble %.1f, chapter %.1f rad/s³", ens.Metrics.Jerk, chap.Metrics.Jerk)
}
