package chunking

import (
	"reflect"
	"strings"
	"testing"

	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/sim"
)

// expertChunks turns a scripted expert into a chunk policy: the expert's
// action now, then a straight line on from it (each step adding the
// change since the previous query's action), n actions. It observes, so
// batched and per-episode runs are comparable.
type expertChunks struct {
	x    sim.Expert
	n    int
	prev []float32
}

func (e *expertChunks) Reset(seed int64) { e.x.Reset(seed); e.prev = nil }
func (e *expertChunks) Observe(sim.Obs)  {}
func (e *expertChunks) PredictActionChunk(obs sim.Obs) ([][]float32, error) {
	a := e.x.Act(obs)
	out := make([][]float32, e.n)
	for i := range out {
		out[i] = make([]float32, len(a))
		for d := range a {
			v := a[d]
			if e.prev != nil {
				v += float32(i) * 0.2 * (a[d] - e.prev[d])
			}
			out[i][d] = v
		}
	}
	e.prev = a
	return out, nil
}

// perEpisode runs one expertChunks per episode as a BatchPolicy.
type perEpisode []*expertChunks

func (b perEpisode) Reset(i int, seed int64)  { b[i].Reset(seed) }
func (b perEpisode) Observe(i int, o sim.Obs) { b[i].Observe(o) }
func (b perEpisode) PredictChunks(eps []int, obs []sim.Obs) ([][][]float32, error) {
	out := make([][][]float32, len(eps))
	for k, i := range eps {
		out[k], _ = b[i].PredictActionChunk(obs[k])
	}
	return out, nil
}

// TestRunBatchedMatchesPerEpisode: on Push-T, every executor at every
// latency gives the same episodes, actions and metrics whether the
// episodes run one per worker (eval.Run) or in lockstep (eval.RunScheduled).
func TestRunBatchedMatchesPerEpisode(t *testing.T) {
	f := sim.PushTFactory(sim.PushTKeypoints, false)
	single := Setup{Name: "expert", Env: f, Eval: eval.Config{Episodes: 4, MaxSteps: 40},
		Policy: func() (eval.ChunkPolicy, error) { return &expertChunks{x: f.NewExpert(), n: 8}, nil }}
	batched := single
	batched.Policy = nil
	batched.Batch = func(n int) (eval.BatchPolicy, error) {
		b := make(perEpisode, n)
		for i := range b {
			b[i] = &expertChunks{x: f.NewExpert(), n: 8}
		}
		return b, nil
	}
	cfgs := []Config{Chapter(8, 4), Receding(), TemporalEnsemble(0.01), Asynchronous(4)}
	a, err := Sweep(single, cfgs, []float64{0, 0.25}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Sweep(batched, cfgs, []float64{0, 0.25}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if a[i].Delay != map[bool]int{false: 0, true: 2}[a[i].Latency > 0] {
			t.Errorf("%s at %v s: delay %d", a[i].Executor, a[i].Latency, a[i].Delay)
		}
		for k := range a[i].Result.Episodes {
			a[i].Result.Episodes[k].Frames, b[i].Result.Episodes[k].Frames = nil, nil
		}
		if !reflect.DeepEqual(a[i].Result.Episodes, b[i].Result.Episodes) || !reflect.DeepEqual(a[i].Traces, b[i].Traces) {
			t.Errorf("%s at %v s: per-episode and batched runs differ", a[i].Executor, a[i].Latency)
		}
		if a[i].Metrics != b[i].Metrics {
			t.Errorf("%s: metrics %+v vs %+v", a[i].Executor, a[i].Metrics, b[i].Metrics)
		}
		m := a[i].Metrics
		if m.Episodes != 4 || m.Steps != 160 {
			t.Errorf("%s: %d episodes, %d steps", a[i].Executor, m.Episodes, m.Steps)
		}
		// Blocking executors miss deadlines under latency; the
		// asynchronous one only before its first chunk.
		switch {
		case a[i].Latency == 0 && m.DeadlineMet != 1:
			t.Errorf("%s: %.3f of periods on time with no latency", a[i].Executor, m.DeadlineMet)
		case a[i].Latency > 0 && strings.HasPrefix(a[i].Executor, "async") && m.DeadlineMet != 38.0/40:
			t.Errorf("%s: %.3f of periods on time, want 38/40", a[i].Executor, m.DeadlineMet)
		case a[i].Latency > 0 && !strings.HasPrefix(a[i].Executor, "async") && m.DeadlineMet > 0.8:
			t.Errorf("%s: %.3f of periods on time while blocking for 2 of them per query", a[i].Executor, m.DeadlineMet)
		}
	}
	md := Table("px", a...)
	if strings.Count(md, "\n") != len(a)+2 || !strings.Contains(md, "| expert | temporal ensemble (m = 0.01) | 250 ms | 2 |") {
		t.Errorf("table:\n%s", md)
	}
	v := Verdicts(a...)
	if strings.Count(v, "**expert, latency") != 2 || strings.Count(v, "\n- ") != 6 {
		t.Errorf("verdicts:\n%s", v)
	}
	if _, err := SeamChart("x", 100000, 0, 0, 40, a[0], a[3]); err != nil {
		t.Error(err)
	}
	if _, err := SeamChart("x", 7, 0, 0, 40, a[0]); err == nil {
		t.Error("SeamChart of a missing seed")
	}
}
