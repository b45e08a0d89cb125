// Package chunking executes action chunks (section 4.2.6): a policy
// predicts the next actions as a chunk, and an executor decides which
// action each control period sends and when to ask the policy again.
//
// One Executor, configured by Config, covers the four ways the course
// compares:
//
//   - Chapter(16, 8): the chapter's ActionChunkingExecutor. It replays the
//     first ExecutionHorizon actions of a chunk, then re-plans.
//   - Receding(): receding-horizon control at its closed-loop extreme. It
//     re-plans at every step and executes the first action of each chunk.
//   - TemporalEnsemble(m): ACT's temporal ensembling (Zhao et al., RSS 2023,
//     "Learning Fine-Grained Bimanual Manipulation with Low-Cost Hardware",
//     section 3.3). It queries at every step, and the action for the
//     current step is the average of every chunk's prediction for it, with
//     weights w_i = exp(-m·i), where i = 0 is the oldest prediction.
//   - Asynchronous(8): the next chunk is computed while the current one
//     executes. When it arrives, its actions for steps already past are
//     dropped, and execution goes on from the one for the current step. The
//     idea is the asynchronous inference of SmolVLA (Shukor et al. 2025)
//     and of real-time chunking (Black et al. 2025); departure: we switch to
//     the new chunk at once, where they blend or inpaint the overlap.
//
// Latency. A query answered within the control period it started in is on
// time. One that takes longer is answered d periods late. In simulation,
// Config.Delay sets d, and DelayFor turns a latency into periods. A
// synchronous executor (the first three) blocks while it waits: the robot
// gets no fresh action for d periods and holds still. After the wait, the
// synchronous executor starts the chunk from its first action, which was
// planned for d periods ago. The asynchronous one keeps executing the
// chunk it has, and aligns the new one to the time it arrives.
//
// Step counting. An executor counts control steps by its Act calls: one per
// control period. Chunk element i of a query made at step j is the action
// for step j+i. Live runs an executor in real time for the ROS 2 node:
// queries run on their own goroutine while the loop goes on.
package chunking

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/sim"
)

// Config of an Executor.
type Config struct {
	// Name labels the executor in tables and charts.
	Name string `json:"name"`
	// ActionHorizon is how many actions of each chunk are used (the
	// chapter's action_horizon, 16); 0 uses all that the policy returns.
	ActionHorizon int `json:"action_horizon"`
	// ExecutionHorizon is the number of steps from one query to the next
	// (the chapter's execution_horizon, 8); 1 queries at every step. It is
	// capped at the length of the chunk.
	ExecutionHorizon int `json:"execution_horizon"`
	// Ensemble averages every chunk's prediction for the current step with
	// ACT's weights exp(-M·i), i = 0 for the oldest. Without Ensemble, the
	// newest chunk alone decides.
	Ensemble bool `json:"ensemble"`
	// M is ACT's m: larger values weigh new predictions more (0: a plain
	// average). ACT uses 0.01. Read only with Ensemble.
	M float64 `json:"m"`
	// Async computes the next chunk while the current one executes, and
	// aligns it to its arrival (drops its actions for past steps). Without
	// Async, the executor blocks while a query runs.
	Async bool `json:"async"`
	// Delay is the simulated inference latency in control periods: a
	// query made at step j is answered at step j+Delay (see DelayFor).
	// Live measures real latency and needs Delay 0.
	Delay int `json:"delay"`
	// Ensembler, when set, replaces the built-in ACT average of an
	// Ensemble executor: hands-on exercise 5 plugs a student's temporal
	// ensembling in here, so the executors, Run and Live use it. At every
	// step it gets every chunk the executor holds, oldest first (some may
	// no longer cover the step, and it must not modify them), the step,
	// and M; it returns the action for the step, or nil when no chunk
	// covers it. Nil means the built-in. Read only with Ensemble.
	Ensembler func(chunks []Chunk, step int, m float64) []float32 `json:"-"`
	// Hold gives the action sent before the first chunk of an episode
	// arrives (under latency). Nil means sim.Spec.HoldAction of the
	// environment given to SetSpec. Later, when no fresh action is ready,
	// the executor repeats the last one, as a robot's controller keeps
	// tracking its last setpoint.
	Hold func(obs sim.Obs) ([]float32, error) `json:"-"`
}

// Chapter is the chapter's ActionChunkingExecutor: use actionHorizon
// actions of each chunk (0: all), execute executionHorizon of them,
// re-plan.
func Chapter(actionHorizon, executionHorizon int) Config {
	of := "the chunk"
	if actionHorizon > 0 {
		of = fmt.Sprint(actionHorizon)
	}
	return Config{Name: fmt.Sprintf("chapter (execute %d of %s)", executionHorizon, of),
		ActionHorizon: actionHorizon, ExecutionHorizon: executionHorizon}
}

// Names are the executors ByName knows.
var Names = []string{"chapter", "receding", "ensemble", "async", "async-ensemble"}

// ByName is the executor called name (one of Names), for command lines:
// execute is the chapter's and the asynchronous executor's
// ExecutionHorizon, m the ensembles' weight exponent.
func ByName(name string, execute int, m float64) (Config, error) {
	var c Config
	switch name {
	case "chapter":
		c = Chapter(0, execute)
	case "receding":
		c = Receding()
	case "ensemble":
		c = TemporalEnsemble(m)
	case "async":
		c = Asynchronous(execute)
	case "async-ensemble":
		c = AsynchronousEnsemble(m)
	default:
		return Config{}, fmt.Errorf("chunking: no executor %q (want one of %s)", name, strings.Join(Names, ", "))
	}
	return c, c.Validate()
}

// Receding re-plans at every step and executes the first action of the
// newest chunk: receding-horizon control in its closed-loop form (the
// chapter's executor is the same control with a horizon of 8).
func Receding() Config { return Config{Name: "receding (execute 1)", ExecutionHorizon: 1} }

// TemporalEnsemble is ACT's temporal ensembling with weight exponent m
// (ACT: 0.01): query at every step, average the overlapping predictions.
func TemporalEnsemble(m float64) Config {
	return Config{Name: fmt.Sprintf("temporal ensemble (m = %g)", m), ExecutionHorizon: 1, Ensemble: true, M: m}
}

// Asynchronous queries every executionHorizon steps without blocking and
// aligns each chunk to its arrival.
func Asynchronous(executionHorizon int) Config {
	return Config{Name: fmt.Sprintf("asynchronous (every %d)", executionHorizon), ExecutionHorizon: executionHorizon, Async: true}
}

// AsynchronousEnsemble combines the two: a query whenever none is in
// flight, each chunk aligned to its query, and ACT's weighted average of
// the predictions for the current step.
func AsynchronousEnsemble(m float64) Config {
	return Config{Name: fmt.Sprintf("asynchronous ensemble (m = %g)", m), ExecutionHorizon: 1, Ensemble: true, M: m, Async: true}
}

// WithDelay returns c with a simulated latency of delay control periods.
func (c Config) WithDelay(delay int) Config { c.Delay = delay; return c }

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.ActionHorizon < 0:
		return fmt.Errorf("chunking: ActionHorizon = %d, must be >= 0 (0: the whole chunk)", c.ActionHorizon)
	case c.ExecutionHorizon < 1:
		return fmt.Errorf("chunking: ExecutionHorizon = %d, must be >= 1", c.ExecutionHorizon)
	case c.ActionHorizon > 0 && c.ExecutionHorizon > c.ActionHorizon:
		return fmt.Errorf("chunking: ExecutionHorizon = %d, more than ActionHorizon = %d", c.ExecutionHorizon, c.ActionHorizon)
	case c.M < 0 || math.IsNaN(c.M) || math.IsInf(c.M, 0):
		return fmt.Errorf("chunking: M = %v, must be finite and >= 0", c.M)
	case c.Delay < 0:
		return fmt.Errorf("chunking: Delay = %d, must be >= 0", c.Delay)
	}
	return nil
}

// DelayFor is how many control periods late a query of the given latency
// (seconds) is answered at controlHz: 0 while it fits in one period, else
// ceil(latency·hz) − 1.
func DelayFor(latency, controlHz float64) int {
	periods := latency * controlHz
	if periods <= 1 {
		return 0
	}
	return int(math.Ceil(periods-1e-9)) - 1
}

// Chunk is a chunk as a Config.Ensembler sees it: Actions[i] is the
// action planned for control step Start+i.
type Chunk struct {
	Start   int
	Actions [][]float32
}

// plan is a chunk being executed: actions[i] is for step start+i.
type plan struct {
	start   int
	actions [][]float32
}

func (p *plan) covers(k int) bool { return k >= p.start && k < p.start+len(p.actions) }

// Executor turns chunks into one action per control step. It is an
// eval.Scheduler: run it with eval.Scheduled (any eval.ChunkPolicy) or
// eval.RunScheduled (a batched policy), or in real time with Live. An
// Executor serves one episode at a time and is not safe for concurrent use.
type Executor struct {
	cfg  Config
	spec *sim.Spec
	rec  *Recorder

	k        int     // control steps taken this episode
	plans    []*plan // oldest first; the last is the newest
	inflight bool
	issued   int         // step of the in-flight query
	pending  [][]float32 // simulated: the in-flight query's chunk
	ready    int         // simulated: the step it is answered at
	last     []float32   // last action sent
	lastPlan *plan       // the newest plan behind the last fresh action (nil: none)
	trace    *Trace
}

var _ eval.Scheduler = (*Executor)(nil)

// New returns an executor of cfg.
func New(cfg Config) (*Executor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Executor{cfg: cfg}
	e.Reset(0)
	return e, nil
}

// Config is the executor's configuration.
func (e *Executor) Config() Config { return e.cfg }

// SetSpec tells the executor its environment, whose HoldAction it sends
// before its first action when Config.Hold is nil.
func (e *Executor) SetSpec(s sim.Spec) { e.spec = &s }

// SetRecorder makes the executor record every episode into r.
func (e *Executor) SetRecorder(r *Recorder) { e.rec = r }

// Reset implements eval.Scheduler: it forgets every chunk, any query in
// flight and the last action, and starts step counting at 0.
func (e *Executor) Reset(seed int64) {
	e.k, e.plans, e.inflight, e.pending, e.last, e.lastPlan = 0, nil, false, nil, nil, nil
	e.trace = nil
	if e.rec != nil {
		e.trace = e.rec.begin(seed)
	}
}

// Step is the number of control steps taken this episode.
func (e *Executor) Step() int { return e.k }

// Due implements eval.Scheduler: a query starts at this step when none is
// in flight and ExecutionHorizon steps have passed since the newest
// chunk's first action (its query, for an asynchronous executor), or when
// there is no chunk yet. A simulated answer whose delay is over is taken
// first: it arrived at the start of this step.
func (e *Executor) Due() bool {
	if err := e.poll(); err != nil {
		return false // Act reports it
	}
	if e.inflight {
		return false
	}
	if len(e.plans) == 0 {
		return true
	}
	p := e.plans[len(e.plans)-1]
	return e.k-p.start >= min(e.cfg.ExecutionHorizon, len(p.actions))
}

// Plan implements eval.Scheduler: the chunk of a query made at this step,
// answered Config.Delay steps later.
func (e *Executor) Plan(chunk [][]float32) error {
	if err := e.begin(); err != nil {
		return err
	}
	if err := checkChunk(chunk); err != nil {
		e.inflight = false
		return err
	}
	e.pending, e.ready = chunk, e.k+e.cfg.Delay
	return nil
}

// begin records a query made with this step's observation.
func (e *Executor) begin() error {
	if e.inflight {
		return fmt.Errorf("chunking: a query at step %d while the one from step %d is in flight", e.k, e.issued)
	}
	e.inflight, e.issued = true, e.k
	if e.trace != nil {
		e.trace.Queries++
	}
	return nil
}

func checkChunk(chunk [][]float32) error {
	if len(chunk) == 0 {
		return errors.New("chunking: the policy returned an empty action chunk")
	}
	for i, a := range chunk {
		if len(a) != len(chunk[0]) {
			return fmt.Errorf("chunking: chunk action %d has %d values, action 0 has %d", i, len(a), len(chunk[0]))
		}
	}
	return nil
}

// arrive takes the answer of the in-flight query at the current step, a
// chunk checkChunk passed (Plan and Live check it as it comes in). A
// blocking executor starts it now from its first action; an asynchronous
// one aligns it to the step it was asked at.
func (e *Executor) arrive(chunk [][]float32) error {
	if !e.inflight {
		return errors.New("chunking: a chunk arrived with no query in flight")
	}
	if h := e.cfg.ActionHorizon; h > 0 && len(chunk) > h {
		chunk = chunk[:h]
	}
	start := e.k
	if e.cfg.Async {
		start = e.issued
	}
	e.inflight, e.pending = false, nil
	e.plans = append(e.plans, &plan{start: start, actions: chunk})
	// Forget chunks that end before this step.
	keep := e.plans[:0]
	for _, p := range e.plans {
		if p.start+len(p.actions) > e.k {
			keep = append(keep, p)
		}
	}
	e.plans = keep
	return nil
}

// Act implements eval.Scheduler: the action for this step. A simulated
// query whose delay is over arrives first.
func (e *Executor) Act(obs sim.Obs) ([]float32, error) {
	if err := e.poll(); err != nil {
		return nil, err
	}
	return e.next(obs)
}

// poll takes the simulated answer in flight if its delay is over.
func (e *Executor) poll() error {
	if e.inflight && e.pending != nil && e.k >= e.ready {
		return e.arrive(e.pending)
	}
	return nil
}

// next sends the action for step k and advances: from the chunks covering
// k (the newest, or the ensemble of all), or the hold action when none is
// ready or the executor is blocked on a query.
func (e *Executor) next(obs sim.Obs) ([]float32, error) {
	var a []float32
	var newest *plan
	if e.cfg.Async || !e.inflight {
		var err error
		if a, newest, err = e.fromPlans(); err != nil {
			return nil, err
		}
	}
	fresh := a != nil
	if !fresh {
		var err error
		if a, err = e.hold(obs); err != nil {
			return nil, err
		}
	}
	// A seam: the first action of a newer chunk, or the first fresh one
	// after holding at the start of an episode (a jump all the same).
	seam := fresh && e.k > 0 && newest != e.lastPlan
	if fresh {
		e.lastPlan = newest
	}
	if e.trace != nil {
		e.trace.add(a, fresh, seam)
	}
	e.last = a
	e.k++
	return a, nil
}

// fromPlans is the planned action for step k and the newest chunk it
// comes from; nil when no chunk covers k.
func (e *Executor) fromPlans() ([]float32, *plan, error) {
	if len(e.plans) == 0 {
		return nil, nil, nil
	}
	if !e.cfg.Ensemble {
		p := e.plans[len(e.plans)-1]
		if !p.covers(e.k) {
			return nil, nil, nil
		}
		return p.actions[e.k-p.start], p, nil
	}
	if e.cfg.Ensembler != nil {
		return e.fromEnsembler()
	}
	// ACT: w_i = exp(-m·i) over the predictions for this step, i = 0 the
	// oldest; the weighted mean of them.
	var sum []float64
	var wsum float64
	var newest *plan
	i := 0
	for _, p := range e.plans {
		if !p.covers(e.k) {
			continue
		}
		w := math.Exp(-e.cfg.M * float64(i))
		act := p.actions[e.k-p.start]
		if sum == nil {
			sum = make([]float64, len(act))
		}
		for d, v := range act {
			sum[d] += w * float64(v)
		}
		wsum += w
		newest = p
		i++
	}
	if sum == nil {
		return nil, nil, nil
	}
	out := make([]float32, len(sum))
	for d := range sum {
		out[d] = float32(sum[d] / wsum)
	}
	return out, newest, nil
}

// fromEnsembler is fromPlans with Config.Ensembler: it checks that the
// ensembler answers exactly when a chunk covers step k, with an action
// of the chunks' size.
func (e *Executor) fromEnsembler() ([]float32, *plan, error) {
	chunks := make([]Chunk, len(e.plans))
	var newest *plan
	for i, p := range e.plans {
		chunks[i] = Chunk{Start: p.start, Actions: p.actions}
		if p.covers(e.k) {
			newest = p
		}
	}
	a := e.cfg.Ensembler(chunks, e.k, e.cfg.M)
	switch {
	case newest == nil && len(a) > 0:
		return nil, nil, fmt.Errorf("chunking: Config.Ensembler returned %v at step %d, where no chunk covers the step (want nil)", a, e.k)
	case newest == nil:
		return nil, nil, nil
	case len(a) != len(newest.actions[0]):
		return nil, nil, fmt.Errorf("chunking: Config.Ensembler returned %d values at step %d, want %d (the chunks' action size)", len(a), e.k, len(newest.actions[0]))
	}
	return a, newest, nil
}

// canHold reports whether hold has an action to send.
func (e *Executor) canHold() bool { return e.last != nil || e.cfg.Hold != nil || e.spec != nil }

// hold is the action sent when no fresh one is ready.
func (e *Executor) hold(obs sim.Obs) ([]float32, error) {
	switch {
	case e.last != nil:
		return e.last, nil
	case e.cfg.Hold != nil:
		a, err := e.cfg.Hold(obs)
		if err != nil {
			return nil, fmt.Errorf("chunking: Hold at step %d: %w", e.k, err)
		}
		return a, nil
	case e.spec != nil:
		return e.spec.HoldAction(obs)
	}
	return nil, fmt.Errorf("chunking: no action is ready at step %d and there is nothing to hold: set Config.Hold or call SetSpec", e.k)
}
