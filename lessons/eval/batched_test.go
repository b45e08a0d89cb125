package eval

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/policylab/policylab/lessons/sim"
)

// batchOf runs one chunker per episode as a BatchPolicy, optionally failing
// the calls that query episode fail.
type batchOf struct {
	per   []*observer
	calls int
	fail  int // episode whose queries fail (-1: none)
	panic bool
}

func (b *batchOf) Reset(i int, seed int64)    { b.per[i].Reset(seed) }
func (b *batchOf) Observe(i int, obs sim.Obs) { b.per[i].Observe(obs) }
func (b *batchOf) PredictChunks(eps []int, obs []sim.Obs) ([][][]float32, error) {
	b.calls++
	out := make([][][]float32, len(eps))
	for k, i := range eps {
		if i == b.fail {
			if b.panic {
				panic("boom")
			}
			return nil, errors.New("no chunk for you")
		}
		c, err := b.per[i].PredictActionChunk(obs[k])
		if err != nil {
			return nil, err
		}
		out[k] = c
	}
	return out, nil
}

// TestRunBatchedMatchesRun: the lockstep loop gives the per-episode loop's
// result, episode by episode, and queries every running episode in one
// call per query step.
func TestRunBatchedMatchesRun(t *testing.T) {
	f := sim.PushTFactory(sim.PushTKeypoints, false)
	cfg := Config{Episodes: 6, MaxSteps: 60}
	for _, execute := range []int{1, 4} {
		want, err := Run(f.NewEnv, func() (Policy, error) {
			return Chunked(&chunker{k: 8, inner: f.NewExpert()}, execute), nil
		}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var b *batchOf
		got, err := RunBatched(f.NewEnv, func(n int) (BatchPolicy, error) {
			b = &batchOf{fail: -1}
			for i := 0; i < n; i++ {
				b.per = append(b.per, &observer{chunker: chunker{k: 8, inner: f.NewExpert()}})
			}
			return b, nil
		}, execute, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want.Episodes {
			w, g := want.Episodes[i], got.Episodes[i]
			if !reflect.DeepEqual(w, g) {
				t.Errorf("execute %d, episode %d: batched %+v, per-episode %+v", execute, i, g, w)
			}
		}
		if got.MeanMaxScore != want.MeanMaxScore || got.SuccessRate != want.SuccessRate || got.Env != want.Env {
			t.Errorf("execute %d: batched %v, per-episode %v", execute, got, want)
		}
		// 60 steps, a query every `execute` steps, all episodes together.
		if wantCalls := (60 + execute - 1) / execute; b.calls != wantCalls {
			t.Errorf("execute %d: %d PredictChunks calls, want %d", execute, b.calls, wantCalls)
		}
		// Every observation reaches the policy once: queried or observed.
		for i, o := range b.per {
			if o.seen+o.queries != got.Episodes[i].Length {
				t.Errorf("execute %d, episode %d: %d observed + %d queried, want %d", execute, i, o.seen, o.queries, got.Episodes[i].Length)
			}
		}
	}
}

// TestRunBatchedFailures: an erroring or panicking call ends the episodes
// it queried, with the error, and the others are unaffected when queried
// apart; a bad number of chunks is an error too.
func TestRunBatchedFailures(t *testing.T) {
	f := sim.PushTFactory(sim.PushTKeypoints, false)
	for _, panics := range []bool{false, true} {
		r, err := RunBatched(f.NewEnv, func(n int) (BatchPolicy, error) {
			b := &batchOf{fail: 1, panic: panics}
			for i := 0; i < n; i++ {
				b.per = append(b.per, &observer{chunker: chunker{k: 8, inner: f.NewExpert()}})
			}
			return b, nil
		}, 8, Config{Episodes: 3, MaxSteps: 20})
		want := "no chunk for you"
		if panics {
			want = "panic: boom"
		}
		if err == nil || !strings.Contains(err.Error(), want) || r.Failed != 3 {
			t.Errorf("panics %v: err %v, failed %d; want all 3 queried together to fail with %q", panics, err, r.Failed, want)
		}
	}
	if _, err := RunBatched(f.NewEnv, func(int) (BatchPolicy, error) { return nil, nil }, 1, Config{Episodes: 1, EpisodeTimeout: 1}); err == nil {
		t.Error("EpisodeTimeout accepted")
	}
}

func TestBucket(t *testing.T) {
	for _, tc := range []struct{ n, want int }{{0, 0}, {1, 1}, {2, 2}, {3, 4}, {4, 4}, {5, 8}, {50, 64}, {64, 64}, {65, 128}, {100, 128}} {
		if got := Bucket(tc.n); got != tc.want {
			t.Errorf("Bucket(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}
