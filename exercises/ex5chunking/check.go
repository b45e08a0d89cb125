// Package ex5chunking is hands-on exercise 5, "Action chunking for smooth
// execution" (section 4.2.6): you write ACT's temporal ensembling and the
// chapter's chunk executor step, and they run inside lessons/chunking's
// executor and on the simulated arm.
//
// student.go holds the two functions you write. This file holds the glue
// (Student, EnsembleConfig, ChapterPolicy, RunEnsemble, RunChapter,
// ArmSetup) and the Check functions that the visible tests and the
// notebook's %test cell call.
package ex5chunking

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/chunking"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/sim"
)

// EnsembleFunc is the signature of Ensemble.
type EnsembleFunc = func(chunks []chunking.Chunk, step int, m float64) []float32

// ChapterFunc is the signature of ChapterAction.
type ChapterFunc = func(buffer *[][]float32, index *int, executionHorizon int, obs sim.Obs, predict func(obs sim.Obs) ([][]float32, error)) ([]float32, error)

// Student holds the functions of student.go (or a notebook's copies).
type Student struct {
	Ensemble      EnsembleFunc
	ChapterAction ChapterFunc
}

// Mine is the package's own student.go.
func Mine() Student { return Student{Ensemble: Ensemble, ChapterAction: ChapterAction} }

// EnsembleConfig is lessons/chunking's temporal ensembling executor
// (chunking.TemporalEnsemble(m): a query at every step) with the student's
// Ensemble plugged in through chunking.Config.Ensembler.
func EnsembleConfig(ensemble EnsembleFunc, m float64) chunking.Config {
	c := chunking.TemporalEnsemble(m)
	c.Name = fmt.Sprintf("your temporal ensemble (m = %g)", m)
	c.Ensembler = ensemble
	return c
}

// ChapterPolicy runs a chunk policy under the student's ChapterAction as
// an eval.Policy: Reset empties the buffer (and resets p), Act calls
// ChapterAction with p's PredictActionChunk. An empty or ragged chunk
// from p is an error before ChapterAction sees it. With rec non-nil, each
// episode's actions, queries and seams (a step that re-planned, after the
// first) are recorded, as chunking's executors record theirs.
func ChapterPolicy(fn ChapterFunc, p eval.ChunkPolicy, executionHorizon int, rec *Traces) eval.Policy {
	return &chapterPolicy{fn: fn, p: p, h: executionHorizon, rec: rec}
}

type chapterPolicy struct {
	fn     ChapterFunc
	p      eval.ChunkPolicy
	h      int
	rec    *Traces
	buffer [][]float32
	index  int
	trace  *chunking.Trace
}

func (c *chapterPolicy) Reset(seed int64) {
	c.buffer, c.index = nil, 0
	c.p.Reset(seed)
	if c.rec != nil {
		c.trace = c.rec.begin(seed)
	}
}

func (c *chapterPolicy) Act(obs sim.Obs) ([]float32, error) {
	queried := false
	predict := func(o sim.Obs) ([][]float32, error) {
		if queried {
			return nil, errors.New("ex5chunking: ChapterAction called predict twice in one step")
		}
		queried = true
		chunk, err := c.p.PredictActionChunk(o)
		if err == nil && len(chunk) == 0 {
			err = errors.New("ex5chunking: the policy returned an empty chunk")
		}
		for i := range chunk {
			if err == nil && len(chunk[i]) != len(chunk[0]) {
				err = fmt.Errorf("ex5chunking: chunk action %d has %d values, action 0 has %d", i, len(chunk[i]), len(chunk[0]))
			}
		}
		return chunk, err
	}
	a, err := c.fn(&c.buffer, &c.index, c.h, obs, predict)
	if err != nil {
		return nil, err
	}
	if !queried {
		if o, ok := c.p.(eval.Observer); ok {
			o.Observe(obs)
		}
	}
	if t := c.trace; t != nil {
		k := len(t.Actions)
		if queried {
			t.Queries++
		}
		t.Actions = append(t.Actions, append([]float32(nil), a...))
		t.Fresh = append(t.Fresh, true)
		t.Seam = append(t.Seam, queried && k > 0)
	}
	return a, nil
}

// Traces collects ChapterPolicy's episodes, by seed (safe for the
// parallel workers of eval.Run).
type Traces struct {
	mu sync.Mutex
	m  map[int64]*chunking.Trace
}

// NewTraces returns an empty collection.
func NewTraces() *Traces { return &Traces{m: map[int64]*chunking.Trace{}} }

func (r *Traces) begin(seed int64) *chunking.Trace {
	t := &chunking.Trace{Seed: seed}
	r.mu.Lock()
	r.m[seed] = t
	r.mu.Unlock()
	return t
}

// All returns the traces sorted by seed.
func (r *Traces) All() []*chunking.Trace {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*chunking.Trace
	for _, t := range r.m {
		out = append(out, t)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Seed < out[j-1].Seed; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// Planner, Noise and Chunk are the exercise's chunk policy on the arm:
// ArmPlanner with chunks of 16 actions, each off by 0.03 rad per joint.
const (
	Chunk = 16
	Noise = 0.03
)

// ArmSetup is arm REACH under ArmPlanner(Chunk, Noise), one planner per
// worker, on the given number of episodes (seeds from 100000).
func ArmSetup(episodes int) chunking.Setup {
	return chunking.Setup{Name: "planner, arm-reach", Env: sim.ArmFactory(arm.DefaultConfig(arm.Reach), false),
		Eval:   eval.Config{Episodes: episodes},
		Policy: func() (eval.ChunkPolicy, error) { return NewArmPlanner(Chunk, Noise), nil }}
}

// RunEnsemble evaluates s under lessons/chunking's executor with the
// student's ensembling (EnsembleConfig), queries on time.
func RunEnsemble(s chunking.Setup, ensemble EnsembleFunc, m float64) (*chunking.Row, error) {
	return chunking.Run(s, EnsembleConfig(ensemble, m), 0)
}

// RunChapter evaluates s (its Policy, one per worker) under the student's
// ChapterAction with the given execution horizon, and measures it as
// chunking.Run measures an executor.
func RunChapter(s chunking.Setup, fn ChapterFunc, executionHorizon int) (*chunking.Row, error) {
	if s.Policy == nil {
		return nil, fmt.Errorf("ex5chunking: setup %q has no Policy", s.Name)
	}
	env, err := s.Env.NewEnv()
	if err != nil {
		return nil, err
	}
	spec := env.Spec()
	rec := NewTraces()
	res, err := eval.Run(s.Env.NewEnv, func() (eval.Policy, error) {
		p, err := s.Policy()
		if err != nil {
			return nil, err
		}
		return ChapterPolicy(fn, p, executionHorizon, rec), nil
	}, s.Eval)
	if err != nil {
		return nil, err
	}
	if res.Failed > 0 {
		for _, e := range res.Episodes {
			if e.Err != nil {
				return nil, fmt.Errorf("ex5chunking: episode %d: %w", e.Seed, e.Err)
			}
		}
	}
	traces := rec.All()
	return &chunking.Row{Setup: s.Name, Executor: fmt.Sprintf("your chapter executor (execute %d)", executionHorizon),
		Result: res, Metrics: chunking.Measure(traces, spec.ControlHz), Traces: traces}, nil
}

// Labelled makes a chunk of n one-value actions labelled 10·j + i for a
// query at step j, as chunking.Labelled does.
func Labelled(j, n int) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		out[i] = []float32{float32(10*j + i)}
	}
	return out
}

func close32(a, b float32) bool {
	return math.Abs(float64(a)-float64(b)) <= 1e-5*max(1, math.Abs(float64(b)))
}

func sameAction(got, want []float32) bool {
	if len(got) != len(want) || (got == nil) != (want == nil) {
		return false
	}
	for i := range want {
		if !close32(got[i], want[i]) {
			return false
		}
	}
	return true
}

func chunksString(chunks []chunking.Chunk) string {
	var s []string
	for _, c := range chunks {
		s = append(s, fmt.Sprintf("{Start %d, Actions %v}", c.Start, c.Actions))
	}
	return "[" + strings.Join(s, " ") + "]"
}

// CheckEnsemble checks Ensemble on labelled chunks: four 1-D chunks
// covering step 3 with m = 0 (the plain mean) and m = ln 2 (weights 1, ½,
// ¼, ⅛ from the oldest), two 2-D chunks, and a step no chunk covers.
func CheckEnsemble(t testing.TB, ensemble EnsembleFunc) {
	t.Helper()
	four := []chunking.Chunk{{Start: 0, Actions: Labelled(0, 4)}, {Start: 1, Actions: Labelled(1, 4)}, {Start: 2, Actions: Labelled(2, 4)}, {Start: 3, Actions: Labelled(3, 4)}}
	twoD := []chunking.Chunk{
		{Start: 5, Actions: [][]float32{{1, -1}, {2, -2}, {3, -3}}},
		{Start: 6, Actions: [][]float32{{5, 10}, {7, 20}}},
	}
	for _, c := range []struct {
		chunks []chunking.Chunk
		step   int
		m      float64
		want   []float32
		why    string
	}{
		{four, 3, 0, []float32{16.5}, "the plain mean of the four chunks' predictions for step 3: (3 + 12 + 21 + 30) / 4"},
		{four, 3, math.Ln2, []float32{9.6}, "(1·3 + ½·12 + ¼·21 + ⅛·30) / (1 + ½ + ¼ + ⅛): weights from the oldest"},
		{four, 1, 0, []float32{5.5}, "the mean of 1 and 10: only the chunks from steps 0 and 1 cover step 1"},
		{twoD, 6, math.Ln2, []float32{(2 + 0.5*5) / 1.5, (-2 + 0.5*10) / 1.5}, "each value weighted alike: (1·a_0 + ½·a_1) / 1.5"},
		{twoD, 5, 0.01, []float32{1, -1}, "only the first chunk covers step 5"},
		{twoD, 8, 0, nil, "no chunk covers step 8: nil"},
	} {
		got := ensemble(c.chunks, c.step, c.m)
		if !sameAction(got, c.want) {
			t.Fatalf("Ensemble(chunks %s, step %d, m %.4g) = %v, want %v (%s)", chunksString(c.chunks), c.step, c.m, got, c.want, c.why)
		}
	}
	if four[0].Actions[3][0] != 3 || twoD[1].Actions[0][1] != 10 {
		t.Fatal("Ensemble modified the chunks")
	}
}

// labelled is a chunk policy over obsAt observations: a query at step j
// returns Labelled(j, n), and it records the steps it was queried at.
type labelled struct {
	n       int
	queries []int
}

func (l *labelled) Reset(int64) { l.queries = nil }
func (l *labelled) PredictActionChunk(obs sim.Obs) ([][]float32, error) {
	j := int(obs.State[0])
	l.queries = append(l.queries, j)
	return Labelled(j, l.n), nil
}

func obsAt(k int) sim.Obs { return sim.Obs{State: []float32{float32(k)}} }

// CheckChapterAction checks ChapterAction on labelled chunks of 4 actions
// executing 2 of each (the chapter's executor at a small scale), then
// again after a reset in the middle of a chunk.
func CheckChapterAction(t testing.TB, fn ChapterFunc) {
	t.Helper()
	p := &labelled{n: 4}
	pol := ChapterPolicy(fn, p, 2, nil)
	pol.Reset(0)
	want := []float32{0, 1, 20, 21, 40, 41, 60}
	var got []float32
	for k := range want {
		a, err := pol.Act(obsAt(k))
		if err != nil {
			t.Fatalf("step %d: %v", k, err)
		}
		got = append(got, a[0])
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(p.queries) != "[0 2 4 6]" {
		t.Fatalf("chunks of 4 labelled 10·(query step) + i, executing 2: sent %v with queries at steps %v; want %v with queries at [0 2 4 6]", got, p.queries, want)
	}
	pol.Reset(1) // after step 6, one action into the chunk from step 6
	a, err := pol.Act(obsAt(10))
	if err != nil || a[0] != 100 || fmt.Sprint(p.queries) != "[10]" {
		t.Fatalf("after a reset (buffer nil, index 0) the first step must re-plan: sent %v (err %v), queries %v; want 100 from a query at step 10", a, err, p.queries)
	}
}
