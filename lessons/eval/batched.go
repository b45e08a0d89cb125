package eval

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/policylab/policylab/lessons/sim"
)

// BatchPolicy predicts action chunks for many episodes in one call, as a
// diffusion policy samples them as one batch: one network call per
// denoising step for all episodes instead of one per episode.
type BatchPolicy interface {
	// Reset starts episode i (0..n-1 of the run) from seed.
	Reset(i int, seed int64)
	// Observe passes episode i's observation at a step where it is not
	// queried (see Observer).
	Observe(i int, obs sim.Obs)
	// PredictChunks returns one chunk [chunk][ActionDim] per queried
	// episode: episodes[k] observed obs[k].
	PredictChunks(episodes []int, obs []sim.Obs) ([][][]float32, error)
}

// Bucket is the batch size a batch policy pads n queries to: the next
// power of two (n itself when n < 1). A batched evaluation queries fewer
// episodes as they end; padding to buckets keeps the compiled graphs to
// one per bucket (8 up to 128 episodes) instead of one per batch size.
func Bucket(n int) int {
	if n < 1 {
		return n
	}
	b := 1
	for b < n {
		b *= 2
	}
	return b
}

// RunBatched evaluates a BatchPolicy on cfg.Episodes seeded episodes run in
// lockstep, each executing the first execute actions of its chunks (all
// when execute <= 0): RunScheduled with Execute(execute).
func RunBatched(newEnv func() (sim.Env, error), newPolicy func(n int) (BatchPolicy, error), execute int, cfg Config) (*Result, error) {
	return RunScheduled(newEnv, newPolicy, func() (Scheduler, error) { return Execute(execute), nil }, cfg)
}

// RunScheduled evaluates a BatchPolicy on cfg.Episodes seeded episodes run
// in lockstep, each under its own Scheduler made by newScheduler: at each
// control step, every running episode whose scheduler is Due is queried in
// one PredictChunks call, the others Observe, and each episode executes
// its scheduler's action. The environments step in parallel on
// cfg.Workers goroutines. Since the episodes start together and their
// schedulers are deterministic, the queries of a step, and so the result,
// are deterministic for a seed; a scheduler and a policy that act on one
// episode as they would on many give Run's result with Scheduled
// (TestRunBatchedMatchesRun).
//
// A failed call (error or panic) ends the episodes it queried with Err
// set; the others go on. cfg.EpisodeTimeout is not supported (an error).
func RunScheduled(newEnv func() (sim.Env, error), newPolicy func(n int) (BatchPolicy, error), newScheduler func() (Scheduler, error), cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.EpisodeTimeout > 0 {
		return nil, errors.New("eval: RunBatched and RunScheduled do not support EpisodeTimeout")
	}
	cfg = cfg.withDefaults()
	seeds := Seeds(cfg)
	n := len(seeds)
	start := time.Now()
	res := &Result{Episodes: make([]Episode, n)}
	envs := make([]sim.Env, n)
	scheds := make([]Scheduler, n)
	for i := range envs {
		env, err := newEnv()
		if err != nil {
			return nil, fmt.Errorf("eval: making environment: %w", err)
		}
		envs[i] = env
		if scheds[i], err = newScheduler(); err != nil {
			return nil, fmt.Errorf("eval: making scheduler: %w", err)
		}
	}
	if n == 0 {
		return res, nil
	}
	res.Env = envs[0].Spec().Name
	pol, err := newPolicy(n)
	if err != nil {
		return nil, fmt.Errorf("eval: making policy: %w", err)
	}
	obs := make([]sim.Obs, n)
	done := make([]bool, n)
	limit := make([]int, n)
	for i, seed := range seeds {
		res.Episodes[i].Seed = seed
		obs[i] = envs[i].Reset(seed)
		pol.Reset(i, seed)
		scheds[i].Reset(seed)
		limit[i] = envs[i].Spec().MaxSteps
		if cfg.MaxSteps > 0 {
			limit[i] = cfg.MaxSteps
		}
		if i < cfg.Record {
			res.Episodes[i].Frames = append(res.Episodes[i].Frames, envs[i].Render(cfg.RecordSize))
		}
	}
	for {
		var running, need []int
		isNeed := make(map[int]bool)
		for i := range envs {
			if !done[i] && res.Episodes[i].Length < limit[i] {
				running = append(running, i)
				if scheds[i].Due() {
					need = append(need, i)
					isNeed[i] = true
				}
			}
		}
		if len(running) == 0 {
			break
		}
		if len(need) > 0 {
			q := make([]sim.Obs, len(need))
			for k, i := range need {
				q[k] = obs[i]
			}
			chunks, err := predictChunks(pol, need, q)
			for k, i := range need {
				perr := err
				if perr == nil {
					perr = scheds[i].Plan(chunks[k])
				}
				if perr != nil {
					res.Episodes[i].Err, done[i] = fmt.Errorf("step %d: %w", res.Episodes[i].Length, perr), true
				}
			}
		}
		var step []int
		for _, i := range running {
			if done[i] {
				continue
			}
			if !isNeed[i] {
				pol.Observe(i, obs[i])
			}
			step = append(step, i)
		}
		parallel(cfg.Workers, step, func(i int) {
			ep := &res.Episodes[i]
			st, err := actAndStep(scheds[i], envs[i], obs[i])
			if err != nil {
				ep.Err, done[i] = fmt.Errorf("step %d: %w", ep.Length, err), true
				return
			}
			ep.add(st)
			if i < cfg.Record {
				ep.Frames = append(ep.Frames, envs[i].Render(cfg.RecordSize))
			}
			obs[i] = st.Obs
			done[i] = st.Done
		})
	}
	res.Wall = time.Since(start)
	return res, summarize(res)
}

// predictChunks calls the policy, turning a panic or a wrong number of
// chunks into an error.
func predictChunks(pol BatchPolicy, episodes []int, obs []sim.Obs) (chunks [][][]float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			chunks, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	chunks, err = pol.PredictChunks(episodes, obs)
	if err == nil && len(chunks) != len(episodes) {
		return nil, fmt.Errorf("eval: PredictChunks returned %d chunks for %d episodes", len(chunks), len(episodes))
	}
	return chunks, err
}

// actAndStep takes the scheduler's action and steps the environment with
// it, turning a panic (a malformed action, a failing scheduler) into an
// error.
func actAndStep(s Scheduler, env sim.Env, obs sim.Obs) (st sim.Step, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	a, err := s.Act(obs)
	if err != nil {
		return st, err
	}
	return env.Step(a), nil
}

// parallel calls f for every item on up to workers goroutines.
func parallel(workers int, items []int, f func(int)) {
	if workers <= 1 || len(items) <= 1 {
		for _, i := range items {
			f(i)
		}
		return
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(workers, len(items)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for _, i := range items {
		next <- i
	}
	close(next)
	wg.Wait()
}
