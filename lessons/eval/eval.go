// Package eval is the one evaluation loop of the course: it runs any policy
// over N seeded episodes of any simulator, in parallel across cores, and
// reports the success rate, the mean of per-episode maximum scores (Push-T's
// score, as in Diffusion Policy's protocol) and the episode lengths.
//
// Results are deterministic for a seed: episode i always starts from
// Seeds(cfg)[i], and results come back in episode order whatever the
// number of workers.
//
// RunBatched is the same protocol for policies that act for many episodes
// in one call (a diffusion policy denoising a batch): the episodes run in
// lockstep instead of one per worker, and the result is the same Result,
// episode for episode (TestRunBatchedMatchesRun).
package eval

import (
	"errors"
	"fmt"
	"image"
	"math"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/policylab/policylab/lessons/sim"
)

// Policy is what the harness runs: reset at the start of each episode, then
// one action per control step.
type Policy interface {
	// Reset starts an episode; seed is the environment's reset seed (most
	// policies ignore it; scripted experts use it for their coin flips).
	Reset(seed int64)
	// Act returns the action for this observation: [ActionDim].
	Act(obs sim.Obs) ([]float32, error)
}

// ChunkPolicy predicts a chunk of future actions per query.
type ChunkPolicy interface {
	Reset(seed int64)
	// PredictActionChunk returns actions for the next steps: [chunk, ActionDim].
	PredictActionChunk(obs sim.Obs) ([][]float32, error)
}

// Observer is a ChunkPolicy that keeps a history of observations (a
// diffusion policy conditions on the last few). Executors pass it every
// observation at which they do not query the policy; the observations they
// query with arrive through PredictActionChunk. So each observation reaches
// the policy exactly once, in order.
type Observer interface {
	Observe(obs sim.Obs)
}

// Scheduler decides, for one episode of a chunk policy, when the policy is
// queried and which action each control step executes. At every step the
// loop asks Due; when it says yes, the policy is queried with this step's
// observation and the chunk goes to Plan (a policy that is an Observer sees
// the observation through Observe otherwise); then Act gives the step's
// action. Execute is the simplest; package chunking has the chapter's
// executor, temporal ensembling and asynchronous execution.
type Scheduler interface {
	// Reset starts an episode (seed as for Policy.Reset).
	Reset(seed int64)
	// Due reports whether the policy is queried at this step.
	Due() bool
	// Plan hands over the chunk of this step's query: [chunk][ActionDim].
	Plan(chunk [][]float32) error
	// Act returns this step's action, [ActionDim], and ends the step.
	Act(obs sim.Obs) ([]float32, error)
}

// Execute is the simplest Scheduler: it executes the first k actions of
// each chunk open-loop (all of them when k <= 0 or larger than the chunk),
// then queries again. This is the chapter's ActionChunkingExecutor in its
// plainest form.
func Execute(k int) Scheduler { return &execute{k: k} }

type execute struct {
	k     int
	queue [][]float32
}

func (e *execute) Reset(int64) { e.queue = nil }
func (e *execute) Due() bool   { return len(e.queue) == 0 }

func (e *execute) Plan(chunk [][]float32) error {
	if len(chunk) == 0 {
		return errors.New("eval: policy returned an empty action chunk")
	}
	n := len(chunk)
	if e.k > 0 && e.k < n {
		n = e.k
	}
	e.queue = chunk[:n]
	return nil
}

func (e *execute) Act(sim.Obs) ([]float32, error) {
	if len(e.queue) == 0 {
		return nil, errors.New("eval: Act with no planned action (Plan was not called when Due)")
	}
	a := e.queue[0]
	e.queue = e.queue[1:]
	return a, nil
}

// Scheduled runs a ChunkPolicy as a Policy under the scheduler s.
func Scheduled(p ChunkPolicy, s Scheduler) Policy { return &scheduled{p: p, s: s} }

// Chunked runs a ChunkPolicy as a Policy that executes the first execute
// actions of each chunk: Scheduled(p, Execute(execute)).
func Chunked(p ChunkPolicy, execute int) Policy { return Scheduled(p, Execute(execute)) }

type scheduled struct {
	p ChunkPolicy
	s Scheduler
}

func (c *scheduled) Reset(seed int64) { c.s.Reset(seed); c.p.Reset(seed) }

func (c *scheduled) Act(obs sim.Obs) ([]float32, error) {
	if c.s.Due() {
		chunk, err := c.p.PredictActionChunk(obs)
		if err != nil {
			return nil, err
		}
		if err := c.s.Plan(chunk); err != nil {
			return nil, err
		}
	} else if o, ok := c.p.(Observer); ok {
		o.Observe(obs)
	}
	return c.s.Act(obs)
}

// ExpertPolicy runs a scripted sim.Expert as a Policy.
type ExpertPolicy struct{ X sim.Expert }

// Reset implements Policy.
func (e ExpertPolicy) Reset(seed int64) { e.X.Reset(seed) }

// Act implements Policy.
func (e ExpertPolicy) Act(obs sim.Obs) ([]float32, error) { return e.X.Act(obs), nil }

// Expert returns a policy maker for Run that runs f's scripted expert.
func Expert(f sim.Factory) func() (Policy, error) {
	return func() (Policy, error) { return ExpertPolicy{X: f.NewExpert()}, nil }
}

// Config of an evaluation run.
type Config struct {
	Episodes int   // number of episodes (default 50, Diffusion Policy's protocol)
	Seed     int64 // episode i resets the environment with Seed + i (default 100000, kept apart from training seeds)
	Workers  int   // parallel episodes (default: number of CPUs)
	// MaxSteps overrides the environment's episode limit when > 0.
	MaxSteps int
	// Record keeps rendered frames of the first Record episodes at
	// RecordSize pixels (default 192), for GIFs.
	Record     int
	RecordSize int
	// EpisodeTimeout bounds one episode's wall time (default: none); a
	// policy that never returns is reported, not waited on forever.
	EpisodeTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Episodes == 0 {
		c.Episodes = 50
	}
	if c.Seed == 0 {
		c.Seed = 100000
	}
	if c.Workers <= 0 {
		c.Workers = runtime.NumCPU()
	}
	if c.RecordSize == 0 {
		c.RecordSize = 192
	}
	return c
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Episodes < 0:
		return fmt.Errorf("eval: Episodes = %d, must be >= 0", c.Episodes)
	case c.MaxSteps < 0:
		return fmt.Errorf("eval: MaxSteps = %d, must be >= 0", c.MaxSteps)
	case c.Record < 0 || c.RecordSize < 0:
		return fmt.Errorf("eval: Record = %d, RecordSize = %d, must be >= 0", c.Record, c.RecordSize)
	case c.EpisodeTimeout < 0:
		return fmt.Errorf("eval: EpisodeTimeout = %v, must be >= 0", c.EpisodeTimeout)
	}
	return nil
}

// Seeds lists the reset seed of each episode.
func Seeds(cfg Config) []int64 {
	cfg = cfg.withDefaults()
	s := make([]int64, cfg.Episodes)
	for i := range s {
		s[i] = cfg.Seed + int64(i)
	}
	return s
}

// Episode is the outcome of one episode.
type Episode struct {
	Seed     int64
	Success  bool    // solved at some step
	MaxScore float64 // highest Score over the episode (Push-T: max coverage)
	Length   int     // control steps taken
	Return   float64 // sum of rewards
	Err      error   // the policy failed (error, panic or timeout)
	Frames   []image.Image
}

// Result of an evaluation.
type Result struct {
	Env          string
	Episodes     []Episode
	SuccessRate  float64 // fraction of episodes solved
	MeanMaxScore float64 // mean over episodes of the per-episode maximum score
	MeanLength   float64
	Failed       int // episodes whose policy failed
	Wall         time.Duration
}

// String is a one-line summary.
func (r *Result) String() string {
	return fmt.Sprintf("%s: %d episodes, success %.1f%%, mean max score %.3f, mean length %.1f steps, %d policy failures, %v",
		r.Env, len(r.Episodes), 100*r.SuccessRate, r.MeanMaxScore, r.MeanLength, r.Failed, r.Wall.Round(time.Millisecond))
}

// Table is a Markdown table of several results, one row each.
func Table(results ...*Result) string {
	var sb strings.Builder
	sb.WriteString("| environment | episodes | success | mean max score | mean length | median length | failures | wall time |\n")
	sb.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		q := r.LengthQuantiles(0.5)
		fmt.Fprintf(&sb, "| %s | %d | %.1f%% | %.3f | %.1f | %.0f | %d | %v |\n", r.Env, len(r.Episodes), 100*r.SuccessRate,
			r.MeanMaxScore, r.MeanLength, q[0], r.Failed, r.Wall.Round(time.Millisecond))
	}
	return sb.String()
}

// LengthQuantiles returns the given quantiles (0..1) of episode lengths.
func (r *Result) LengthQuantiles(qs ...float64) []float64 {
	if len(r.Episodes) == 0 {
		return make([]float64, len(qs))
	}
	ls := make([]float64, len(r.Episodes))
	for i, e := range r.Episodes {
		ls[i] = float64(e.Length)
	}
	sort.Float64s(ls)
	out := make([]float64, len(qs))
	for i, q := range qs {
		k := int(math.Round(q * float64(len(ls)-1)))
		out[i] = ls[max(0, min(len(ls)-1, k))]
	}
	return out
}

// Run evaluates policies made by newPolicy (one per worker: policies keep
// per-episode state) on environments made by newEnv. It returns the result
// and, if any episode's policy failed, an error naming the first ones; the
// result is complete either way.
func Run(newEnv func() (sim.Env, error), newPolicy func() (Policy, error), cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	seeds := Seeds(cfg)
	start := time.Now()
	res := &Result{Episodes: make([]Episode, len(seeds))}
	workers := min(cfg.Workers, max(len(seeds), 1))
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := 0; w < workers; w++ {
		env, err := newEnv()
		if err != nil {
			return nil, fmt.Errorf("eval: making environment: %w", err)
		}
		pol, err := newPolicy()
		if err != nil {
			return nil, fmt.Errorf("eval: making policy: %w", err)
		}
		if w == 0 {
			res.Env = env.Spec().Name
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ep := runEpisode(env, pol, seeds[i], cfg, i < cfg.Record)
				if errors.Is(ep.Err, errTimeout) {
					// The stuck call may still be running on the old
					// policy: never touch it again.
					if p, err := newPolicy(); err == nil {
						pol = p
					}
				}
				mu.Lock()
				res.Episodes[i] = ep
				mu.Unlock()
			}
		}()
	}
	for i := range seeds {
		next <- i
	}
	close(next)
	wg.Wait()
	res.Wall = time.Since(start)
	return res, summarize(res)
}

// summarize fills the result's rates and means from its episodes and
// returns an error naming the first failed episodes, if any.
func summarize(res *Result) error {
	var failures []string
	for _, e := range res.Episodes {
		if e.Success {
			res.SuccessRate++
		}
		res.MeanMaxScore += e.MaxScore
		res.MeanLength += float64(e.Length)
		if e.Err != nil {
			res.Failed++
			if len(failures) < 3 {
				failures = append(failures, fmt.Sprintf("seed %d: %v", e.Seed, e.Err))
			}
		}
	}
	if n := float64(len(res.Episodes)); n > 0 {
		res.SuccessRate /= n
		res.MeanMaxScore /= n
		res.MeanLength /= n
	}
	if res.Failed > 0 {
		return fmt.Errorf("eval: the policy failed in %d of %d episodes: %s", res.Failed, len(res.Episodes), strings.Join(failures, "; "))
	}
	return nil
}

// runEpisode plays one episode; a policy error, panic or timeout ends it
// with Err set.
func runEpisode(env sim.Env, pol Policy, seed int64, cfg Config, record bool) (ep Episode) {
	ep.Seed = seed
	maxSteps := env.Spec().MaxSteps
	if cfg.MaxSteps > 0 {
		maxSteps = cfg.MaxSteps
	}
	deadline := time.Time{}
	if cfg.EpisodeTimeout > 0 {
		deadline = time.Now().Add(cfg.EpisodeTimeout)
	}
	defer func() {
		if r := recover(); r != nil {
			ep.Err = fmt.Errorf("panic at step %d: %v", ep.Length, r)
		}
	}()
	obs := env.Reset(seed)
	pol.Reset(seed)
	if record {
		ep.Frames = append(ep.Frames, env.Render(cfg.RecordSize))
	}
	for ep.Length < maxSteps {
		a, err := act(pol, obs, deadline)
		if err != nil {
			ep.Err = fmt.Errorf("step %d: %w", ep.Length, err)
			return ep
		}
		st := env.Step(a)
		ep.add(st)
		if record {
			ep.Frames = append(ep.Frames, env.Render(cfg.RecordSize))
		}
		obs = st.Obs
		if st.Done {
			break
		}
	}
	return ep
}

// add counts one control step's outcome into the episode.
func (ep *Episode) add(st sim.Step) {
	ep.Length++
	ep.Return += st.Reward
	ep.MaxScore = math.Max(ep.MaxScore, st.Score)
	ep.Success = ep.Success || st.Success
}

var errTimeout = errors.New("episode timed out")

// act calls the policy, bounded by the episode's deadline when there is one.
func act(pol Policy, obs sim.Obs, deadline time.Time) ([]float32, error) {
	if deadline.IsZero() {
		return pol.Act(obs)
	}
	left := time.Until(deadline)
	if left <= 0 {
		return nil, errTimeout
	}
	type out struct {
		a   []float32
		err error
	}
	ch := make(chan out, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				ch <- out{err: fmt.Errorf("panic: %v", r)}
			}
		}()
		a, err := pol.Act(obs)
		ch <- out{a, err}
	}()
	select {
	case o := <-ch:
		return o.a, o.err
	case <-time.After(left):
		return nil, fmt.Errorf("%w: the policy did not return", errTimeout)
	}
}
