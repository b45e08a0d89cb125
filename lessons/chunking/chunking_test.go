package chunking

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/sim"
)

// steps is a hand-made chunk policy with 1-D actions: a query with the
// observation of step j (State[0] = j) returns the chunk
// value(j, 0), ..., value(j, n-1). Every observation reaches it once,
// queried or observed; it records them in order and fails the test on
// a concurrent call.
type steps struct {
	t      *testing.T
	n      int
	value  func(j, i int) float32
	sleep  func() time.Duration
	seen   []int
	busy   atomic.Int32
	fail   error
	resets int
}

func (s *steps) enter() {
	if s.busy.Add(1) != 1 {
		s.t.Error("the policy was called concurrently")
	}
}

func (s *steps) Reset(int64) { s.enter(); defer s.busy.Add(-1); s.seen, s.resets = nil, s.resets+1 }

func (s *steps) Observe(obs sim.Obs) {
	s.enter()
	defer s.busy.Add(-1)
	s.seen = append(s.seen, int(obs.State[0]))
}

func (s *steps) PredictActionChunk(obs sim.Obs) ([][]float32, error) {
	s.enter()
	defer s.busy.Add(-1)
	j := int(obs.State[0])
	s.seen = append(s.seen, j)
	if s.sleep != nil {
		time.Sleep(s.sleep())
	}
	if s.fail != nil {
		return nil, s.fail
	}
	out := make([][]float32, s.n)
	for i := range out {
		out[i] = []float32{s.value(j, i)}
	}
	return out, nil
}

// tens labels chunk element i of the query at step j as 10·j + i.
func tens(j, i int) float32 { return float32(10*j + i) }

func obsAt(k int) sim.Obs { return sim.Obs{State: []float32{float32(k)}} }

func hold(sim.Obs) ([]float32, error) { return []float32{-1}, nil }

// TestExecutorsExact: the actions of each executor for hand-made chunks of
// 4 actions labelled 10·(query step) + index, over 7 steps, with and
// without simulated latency; and which steps were on time and which were
// seams.
func TestExecutorsExact(t *testing.T) {
	w := math.Exp(-0.5) // ACT weights with m = 0.5: 1, w, w², w³ from the oldest
	ens := func(vals ...float64) float32 {
		var s, ws float64
		for i, v := range vals {
			wi := math.Pow(w, float64(i))
			s, ws = s+wi*v, ws+wi
		}
		return float32(s / ws)
	}
	for _, tc := range []struct {
		name  string
		cfg   Config
		want  []float32
		fresh string // "x": fresh, ".": held
		seams string // "s": seam (a newer chunk's first action, or the first after holding)
	}{
		{"chapter 4/2", Chapter(4, 2), []float32{0, 1, 20, 21, 40, 41, 60}, "xxxxxxx", "..s.s.s"},
		{"chapter 4/4", Chapter(4, 4), []float32{0, 1, 2, 3, 40, 41, 42}, "xxxxxxx", "....s.."},
		{"chapter 3/3: action horizon cuts", Chapter(3, 3), []float32{0, 1, 2, 30, 31, 32, 60}, "xxxxxxx", "...s..s"},
		{"receding", Receding(), []float32{0, 10, 20, 30, 40, 50, 60}, "xxxxxxx", ".ssssss"},
		{"ensemble m=0", TemporalEnsemble(0), []float32{0, 5.5, 11, 16.5, 26.5, 36.5, 46.5}, "xxxxxxx", ".ssssss"},
		{"ensemble m=0.5", TemporalEnsemble(0.5), []float32{
			0, ens(1, 10), ens(2, 11, 20), ens(3, 12, 21, 30), ens(13, 22, 31, 40), ens(23, 32, 41, 50), ens(33, 42, 51, 60),
		}, "xxxxxxx", ".ssssss"},
		{"async, no delay = chapter", Asynchronous(2), []float32{0, 1, 20, 21, 40, 41, 60}, "xxxxxxx", "..s.s.s"},
		// Query at 0 answered at 1, aligned: element 1 at step 1.
		{"async, delay 1", Asynchronous(2).WithDelay(1), []float32{-1, 1, 2, 21, 22, 41, 42}, ".xxxxxx", ".s.s.s."},
		// Queries at 0 and 3, answered at 3 and 6: chunk 0 runs out after
		// step 3, the robot holds 3 at 4 and 5, and chunk 1 starts at its
		// element 3.
		{"async, delay 3", Asynchronous(2).WithDelay(3), []float32{-1, -1, -1, 3, 3, 3, 33}, "...x..x", "...s..s"},
		// Blocking: the query at 0 is answered at 1 and starts there from
		// its first action; the query at 3 blocks step 3 (holds 1).
		{"chapter 4/2, delay 1", Chapter(4, 2).WithDelay(1), []float32{-1, 0, 1, 1, 30, 31, 31}, ".xx.xx.", ".s..s.."},
		{"receding, delay 1", Receding().WithDelay(1), []float32{-1, 0, 0, 20, 20, 40, 40}, ".x.x.x.", ".s.s.s."},
		// Ensembling blocks every other step at delay 1; the chunks are
		// aligned to their arrival: 0 at 1, 20 at 3, 40 at 5.
		{"ensemble m=0, delay 1", TemporalEnsemble(0).WithDelay(1), []float32{-1, 0, 0, 11, 11, 31, 31}, ".x.x.x.", ".s.s.s."},
		// Asynchronous ensembling: a query at every step from 1 on (each
		// answer arrives as the next step starts), each chunk aligned to
		// its query: step 3 averages 0's element 3, 1's 2 and 2's 1.
		{"async ensemble m=0, delay 1", Config{ExecutionHorizon: 1, Ensemble: true, Async: true, Delay: 1}, []float32{-1, 1, 6.5, 12, 22, 32, 42}, ".xxxxxx", ".ssssss"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Hold = hold
			ex, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			rec := NewRecorder()
			ex.SetRecorder(rec)
			p := &steps{t: t, n: 4, value: tens}
			pol := eval.Scheduled(p, ex)
			pol.Reset(9)
			for k := range tc.want {
				a, err := pol.Act(obsAt(k))
				if err != nil {
					t.Fatal(err)
				}
				if math.Abs(float64(a[0]-tc.want[k])) > 1e-4 {
					t.Errorf("step %d: action %v, want %v (all: %v)", k, a[0], tc.want[k], rec.Trace(9).Actions)
				}
			}
			tr := rec.Trace(9)
			if got := marks(tr.Fresh, "x", "."); got != tc.fresh {
				t.Errorf("fresh %s, want %s", got, tc.fresh)
			}
			if got := marks(tr.Seam, "s", "."); got != tc.seams {
				t.Errorf("seams %s, want %s", got, tc.seams)
			}
			for k, j := range p.seen {
				if j != k {
					t.Fatalf("the policy saw steps %v, want each once in order", p.seen)
				}
			}
		})
	}
}

// TestAsyncEnsembleDelay1: an asynchronous ensembling executor with a
// one-period latency queries at every step but the first answer's: one
// query in flight at a time, each answered as the next step starts.
func TestAsyncEnsembleDelay1(t *testing.T) {
	ex, _ := New(Config{ExecutionHorizon: 1, Ensemble: true, Async: true, Delay: 1, Hold: hold})
	var queried []int
	for k := 0; k < 5; k++ {
		if ex.Due() {
			queried = append(queried, k)
			c := make([][]float32, 4)
			for i := range c {
				c[i] = []float32{tens(k, i)}
			}
			if err := ex.Plan(c); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := ex.Act(obsAt(k)); err != nil {
			t.Fatal(err)
		}
	}
	if want := []int{0, 1, 2, 3, 4}; !slices.Equal(queried, want) {
		t.Errorf("queries at %v, want %v", queried, want)
	}
}

func marks(b []bool, yes, no string) string {
	var sb strings.Builder
	for _, v := range b {
		if v {
			sb.WriteString(yes)
		} else {
			sb.WriteString(no)
		}
	}
	return sb.String()
}

// TestResetClears: after Reset an executor queries at once and never
// sends an action of the previous episode; Live drops a query in flight.
func TestResetClears(t *testing.T) {
	for _, cfg := range []Config{Chapter(4, 2), TemporalEnsemble(0.01), Asynchronous(2).WithDelay(1), Receding().WithDelay(2)} {
		ex, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		rec := NewRecorder()
		ex.SetRecorder(rec)
		ex.cfg.Hold = func(sim.Obs) ([]float32, error) { return []float32{5000}, nil }
		p := &steps{t: t, n: 4, value: func(j, i int) float32 { return float32(1000 + j + i) }}
		pol := eval.Scheduled(p, ex)
		pol.Reset(1)
		for k := 0; k < 3; k++ {
			if _, err := pol.Act(obsAt(k)); err != nil {
				t.Fatal(err)
			}
		}
		// Second episode: different labels, an explicit hold.
		p.value = func(j, i int) float32 { return float32(j + i) }
		ex.cfg.Hold = hold
		pol.Reset(2)
		if !ex.Due() || ex.Step() != 0 {
			t.Fatalf("%s: after Reset: Due %v, step %d", cfg.Name, ex.Due(), ex.Step())
		}
		for k := 0; k < 6; k++ {
			a, err := pol.Act(obsAt(k))
			if err != nil {
				t.Fatal(err)
			}
			if a[0] >= 1000 {
				t.Fatalf("%s: step %d after Reset sent %v, from the previous episode", cfg.Name, k, a[0])
			}
		}
		if tr := rec.Trace(2); len(tr.Actions) != 6 || tr.Queries == 0 {
			t.Errorf("%s: second episode's trace: %d actions, %d queries", cfg.Name, len(tr.Actions), tr.Queries)
		}
	}
}

// TestAsyncNeverSendsThePast: for random horizons, delays and ensembling,
// every action an asynchronous executor sends on time is the one planned
// for the current step (chunk element i of the query at step j is labelled
// j+i), in simulation and in real time with random latencies.
func TestAsyncNeverSendsThePast(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	target := func(j, i int) float32 { return float32(j + i) }
	// A chunk shorter than the latency can never be on time; the others
	// must be, some of the time, or the test proves nothing.
	check := func(name string, tr *Trace, canBeOnTime bool) (fresh int) {
		t.Helper()
		for k, a := range tr.Actions {
			if !tr.Fresh[k] {
				continue
			}
			fresh++
			if math.Abs(float64(a[0])-float64(k)) > 1e-3 {
				t.Fatalf("%s: step %d sent the action planned for step %v", name, k, a[0])
			}
		}
		if fresh == 0 && canBeOnTime {
			t.Fatalf("%s: no action on time in %d steps", name, len(tr.Actions))
		}
		return fresh
	}
	for trial := 0; trial < 200; trial++ {
		n := 1 + rng.IntN(8)
		cfg := Config{ExecutionHorizon: 1 + rng.IntN(n), Async: true, Ensemble: rng.IntN(2) == 0, M: rng.Float64(), Delay: rng.IntN(n + 2), Hold: hold}
		ex, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		rec := NewRecorder()
		ex.SetRecorder(rec)
		pol := eval.Scheduled(&steps{t: t, n: n, value: target}, ex)
		pol.Reset(0)
		for k := 0; k < 40; k++ {
			if _, err := pol.Act(obsAt(k)); err != nil {
				t.Fatal(err)
			}
		}
		check(cfgString(cfg, n), rec.Trace(0), cfg.Delay < n)
	}
	// Real time: the policy sleeps 0-3 ms, the loop ticks every 1 ms; how
	// late the answers come depends on the machine's load, so only the
	// trials together must have sent actions on time.
	liveFresh := 0
	for trial := 0; trial < 20; trial++ {
		n := 2 + rng.IntN(7)
		cfg := Config{ExecutionHorizon: 1 + rng.IntN(n), Async: true, Ensemble: trial%2 == 0, M: 0.01, Hold: hold}
		p := &steps{t: t, n: n, value: target, sleep: func() time.Duration { return time.Duration(rand.IntN(3000)) * time.Microsecond }}
		l, err := NewLive(p, cfg)
		if err != nil {
			t.Fatal(err)
		}
		rec := NewRecorder()
		l.Executor().SetRecorder(rec)
		l.Reset(0)
		for k := 0; k < 60; k++ {
			if _, err := l.Act(obsAt(k)); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Millisecond)
		}
		liveFresh += check("live "+cfgString(cfg, n), rec.Trace(0), false)
		l.Reset(1) // waits for a query in flight
		for k, j := range p.seen {
			if j != k {
				t.Fatalf("live: the policy saw steps %v, want each once in order", p.seen)
			}
		}
	}
	if liveFresh == 0 {
		t.Error("live: no action on time in any trial")
	}
}

func cfgString(c Config, n int) string {
	var sb strings.Builder
	sb.WriteString("chunk ")
	sb.WriteString(string(rune('0' + n)))
	if c.Ensemble {
		sb.WriteString(" ensemble")
	}
	sb.WriteString(" exec ")
	sb.WriteString(string(rune('0' + c.ExecutionHorizon)))
	sb.WriteString(" delay ")
	sb.WriteString(string(rune('0' + c.Delay)))
	return sb.String()
}

// TestLiveBlockingAndAsync: with a policy 30 ms slow and Act called
// without pause, a blocking Live spends the latency inside Act at every
// query; an asynchronous one returns at once after the first chunk.
func TestLiveBlockingAndAsync(t *testing.T) {
	for _, async := range []bool{false, true} {
		cfg := Chapter(8, 4)
		cfg.Async = async
		p := &steps{t: t, n: 8, value: func(j, i int) float32 { return float32(j + i) }}
		l, err := NewLive(Slowed(p, 30*time.Millisecond), cfg)
		if err != nil {
			t.Fatal(err)
		}
		l.Reset(0)
		var slow int
		for k := 0; k < 12; k++ {
			t0 := time.Now()
			if _, err := l.Act(obsAt(k)); err != nil {
				t.Fatal(err)
			}
			if time.Since(t0) > 20*time.Millisecond {
				slow++
			}
			time.Sleep(10 * time.Millisecond)
		}
		l.Reset(1)
		// Blocking: queries at 0, 4, 8; asynchronous: only the first waits.
		if want := map[bool]int{false: 3, true: 1}[async]; slow != want {
			t.Errorf("async %v: %d slow steps, want %d", async, slow, want)
		}
	}
}

// TestErrors: bad configurations, empty and ragged chunks, a failing
// policy and nothing to hold are errors that say what is wrong.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{ExecutionHorizon: 0}, "ExecutionHorizon = 0"},
		{Config{ExecutionHorizon: 9, ActionHorizon: 8}, "more than ActionHorizon = 8"},
		{Config{ExecutionHorizon: 1, ActionHorizon: -1}, "ActionHorizon = -1"},
		{Config{ExecutionHorizon: 1, M: math.NaN()}, "M = NaN"},
		{Config{ExecutionHorizon: 1, Delay: -2}, "Delay = -2"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := NewLive(&steps{t: t, n: 2, value: tens}, Receding().WithDelay(1)); err == nil {
		t.Error("NewLive accepted a simulated delay")
	}
	ex, _ := New(Receding())
	if err := ex.Plan(nil); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty chunk: %v", err)
	}
	if err := ex.Plan([][]float32{{1, 2}, {3}}); err == nil || !strings.Contains(err.Error(), "action 1 has 1 values") {
		t.Errorf("ragged chunk: %v", err)
	}
	ex, _ = New(Receding().WithDelay(2))
	_ = ex.Plan([][]float32{{1}})
	if _, err := ex.Act(obsAt(0)); err == nil || !strings.Contains(err.Error(), "nothing to hold") {
		t.Errorf("no hold: %v", err)
	}
	p := &steps{t: t, n: 2, value: tens, fail: errors.New("GPU on fire")}
	l, _ := NewLive(p, Asynchronous(1))
	l.Reset(0)
	if _, err := l.Act(obsAt(0)); err == nil || !strings.Contains(err.Error(), "GPU on fire") {
		t.Errorf("failing policy: %v", err)
	}
	// A panicking policy in real time is an error, not a crash.
	l, _ = NewLive(panicky{}, Asynchronous(1))
	l.Reset(0)
	if _, err := l.Act(obsAt(0)); err == nil || !strings.Contains(err.Error(), "panic") {
		t.Errorf("panicking policy: %v", err)
	}
}

type panicky struct{}

func (panicky) Reset(int64) {}
func (panicky) PredictActionChunk(sim.Obs) ([][]float32, error) {
	var m map[string]int
	m["x"]++
	return nil, nil
}

// TestHoldFromSpec: before the first chunk arrives, an executor given the
// environment's spec holds the robot where it is.
func TestHoldFromSpec(t *testing.T) {
	env, err := sim.PushTFactory(sim.PushTState, false).NewEnv()
	if err != nil {
		t.Fatal(err)
	}
	ex, _ := New(Asynchronous(8).WithDelay(2))
	ex.SetSpec(env.Spec())
	obs := env.Reset(1)
	if err := ex.Plan([][]float32{{1, 1}, {2, 2}, {3, 3}}); err != nil {
		t.Fatal(err)
	}
	a, err := ex.Act(obs)
	if err != nil {
		t.Fatal(err)
	}
	if a[0] != obs.State[0] || a[1] != obs.State[1] {
		t.Errorf("held %v, want the agent's position %v", a, obs.State[:2])
	}
}

// TestDelayFor: latencies within a period are on time; longer ones are
// late by whole periods.
func TestDelayFor(t *testing.T) {
	for _, tc := range []struct {
		latency, hz float64
		want        int
	}{{0, 10, 0}, {0.05, 10, 0}, {0.1, 10, 0}, {0.101, 10, 1}, {0.2, 10, 1}, {0.25, 10, 2}, {0.35, 10, 3}, {0.3, 10, 2}} {
		if got := DelayFor(tc.latency, tc.hz); got != tc.want {
			t.Errorf("DelayFor(%v s, %v Hz) = %d, want %d", tc.latency, tc.hz, got, tc.want)
		}
	}
}

// TestMeasure: metrics of hand-made traces.
func TestMeasure(t *testing.T) {
	tr := &Trace{
		Actions: [][]float32{{0}, {1}, {2}, {10}, {11}, {11}},
		Fresh:   []bool{true, true, true, true, true, false},
		Seam:    []bool{false, false, false, true, false, false},
		Queries: 2,
	}
	m := Measure([]*Trace{tr}, 10)
	if m.Steps != 6 || m.Episodes != 1 || math.Abs(m.DeadlineMet-5.0/6) > 1e-12 {
		t.Errorf("steps %d, episodes %d, deadline %v", m.Steps, m.Episodes, m.DeadlineMet)
	}
	if m.SeamJump != 8 || m.StepJump != 1 || m.Seams != 1 || math.Abs(m.QueriesPerStep-2.0/6) > 1e-12 {
		t.Errorf("seam jump %v (want 8), step jump %v (want 1), seams %v, queries/step %v", m.SeamJump, m.StepJump, m.Seams, m.QueriesPerStep)
	}
	// Third differences: 10-6+3-0 = 7... spelled out:
	d3 := []float64{10 - 3*2 + 3*1 - 0, 11 - 3*10 + 3*2 - 1, 11 - 3*11 + 3*10 - 2}
	var s float64
	for _, d := range d3 {
		s += d * d
	}
	if want := math.Sqrt(s/3) * 1000; math.Abs(m.Jerk-want) > 1e-9 {
		t.Errorf("jerk %v, want %v", m.Jerk, want)
	}
}

// TestRecorderConcurrent: executors on several goroutines record apart.
func TestRecorderConcurrent(t *testing.T) {
	rec := NewRecorder()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ex, _ := New(Chapter(4, 2))
			ex.SetRecorder(rec)
			for ep := 0; ep < 5; ep++ {
				pol := eval.Scheduled(&steps{t: t, n: 4, value: tens}, ex)
				pol.Reset(int64(10*w + ep))
				for k := 0; k < 7; k++ {
					if _, err := pol.Act(obsAt(k)); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if tr := rec.Traces(); len(tr) != 20 || len(tr[0].Actions) != 7 || tr[19].Seed != 34 {
		t.Errorf("%d traces", len(tr))
	}
}

// TestByName: every named executor parses to its constructor's config.
func TestByName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want Config
	}{
		{"chapter", Chapter(0, 8)}, {"receding", Receding()}, {"ensemble", TemporalEnsemble(0.1)},
		{"async", Asynchronous(8)}, {"async-ensemble", AsynchronousEnsemble(0.1)},
	} {
		got, err := ByName(tc.name, 8, 0.1)
		if err != nil || got.Name != tc.want.Name || got.ExecutionHorizon != tc.want.ExecutionHorizon || got.Async != tc.want.Async || got.Ensemble != tc.want.Ensemble {
			t.Errorf("ByName(%q) = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	if _, err := ByName("smooth", 8, 0); err == nil || !strings.Contains(err.Error(), `"smooth"`) {
		t.Errorf("unknown executor: %v", err)
	}
	if _, err := ByName("chapter", 0, 0); err == nil {
		t.Error("execute 0 accepted")
	}
}
