package chunking

import (
	"fmt"
	"time"

	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/sim"
)

// Live runs an executor in real time, as an eval.Policy: the ROS 2 node
// (deploy.PolicyNode) drives it from its control loop, once per period,
// from one goroutine. A blocking executor queries the policy inside Act,
// as the chapter's node does. An asynchronous one starts the query on its
// own goroutine and returns at once. It executes the current chunk until
// the answer comes, and uses that answer from the step it arrives at, in
// step with the query's step (steps are Act calls).
//
// The policy is never called concurrently with itself. While a query is
// in flight, the observations of the steps in between are kept, and they
// go to the policy's Observe, in order, once the query returns.
//
// Reset waits for a query in flight to finish and discards its answer.
// Before the first chunk of an episode arrives, an asynchronous executor
// holds (Config.Hold, or the HoldAction of the spec given to SetSpec) if
// it can, and else waits for the chunk.
type Live struct {
	p  eval.ChunkPolicy
	ex *Executor

	answers  chan answer
	inflight bool
	held     []sim.Obs // observations of the steps while a query runs
}

type answer struct {
	chunk [][]float32
	err   error
}

var _ eval.Policy = (*Live)(nil)

// NewLive runs p under an executor of cfg in real time. cfg.Delay must be
// 0: the latency is the policy's own.
func NewLive(p eval.ChunkPolicy, cfg Config) (*Live, error) {
	if cfg.Delay != 0 {
		return nil, fmt.Errorf("chunking: Live measures latency, Delay = %d must be 0", cfg.Delay)
	}
	ex, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return &Live{p: p, ex: ex, answers: make(chan answer, 1)}, nil
}

// Executor is the executor Live drives (for SetSpec and SetRecorder).
func (l *Live) Executor() *Executor { return l.ex }

// Reset implements eval.Policy.
func (l *Live) Reset(seed int64) {
	if l.inflight {
		<-l.answers
		l.inflight = false
	}
	l.held = nil
	l.ex.Reset(seed)
	l.p.Reset(seed)
}

// Act implements eval.Policy.
func (l *Live) Act(obs sim.Obs) ([]float32, error) {
	if l.inflight {
		select {
		case a := <-l.answers:
			if err := l.landed(a); err != nil {
				return nil, err
			}
		default:
		}
	}
	if !l.inflight {
		l.flush()
	}
	switch {
	case l.ex.Due():
		if err := l.ex.begin(); err != nil {
			return nil, err
		}
		l.inflight = true
		go func() { l.answers <- ask(l.p, obs) }()
		if !l.ex.cfg.Async || (len(l.ex.plans) == 0 && !l.ex.canHold()) {
			if err := l.landed(<-l.answers); err != nil {
				return nil, err
			}
		}
	case l.inflight:
		l.held = append(l.held, obs)
	default:
		if o, ok := l.p.(eval.Observer); ok {
			o.Observe(obs)
		}
	}
	return l.ex.next(obs)
}

// landed takes a query's answer.
func (l *Live) landed(a answer) error {
	l.inflight = false
	if a.err == nil {
		a.err = checkChunk(a.chunk)
	}
	if a.err != nil {
		l.ex.inflight = false
		return fmt.Errorf("chunking: query from step %d: %w", l.ex.issued, a.err)
	}
	return l.ex.arrive(a.chunk)
}

// flush passes the observations kept during a query to the policy.
func (l *Live) flush() {
	if o, ok := l.p.(eval.Observer); ok {
		for _, h := range l.held {
			o.Observe(h)
		}
	}
	l.held = l.held[:0]
}

// ask queries the policy, turning a panic into an error.
func ask(p eval.ChunkPolicy, obs sim.Obs) (a answer) {
	defer func() {
		if r := recover(); r != nil {
			a = answer{err: fmt.Errorf("panic: %v", r)}
		}
	}()
	c, err := p.PredictActionChunk(obs)
	return answer{chunk: c, err: err}
}

// Slowed makes p answer no sooner than latency after each query, to stand
// for a slower policy (a large VLA, a far GPU) in real time. It keeps p's
// Observe.
func Slowed(p eval.ChunkPolicy, latency time.Duration) eval.ChunkPolicy {
	return &slowed{p: p, latency: latency}
}

type slowed struct {
	p       eval.ChunkPolicy
	latency time.Duration
}

func (s *slowed) Reset(seed int64) { s.p.Reset(seed) }

func (s *slowed) PredictActionChunk(obs sim.Obs) ([][]float32, error) {
	t0 := time.Now()
	c, err := s.p.PredictActionChunk(obs)
	time.Sleep(s.latency - time.Since(t0))
	return c, err
}

func (s *slowed) Observe(obs sim.Obs) {
	if o, ok := s.p.(eval.Observer); ok {
		o.Observe(obs)
	}
}
