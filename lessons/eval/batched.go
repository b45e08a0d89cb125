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

// RunBatched evaluates a BatchPolicy on cfg.Episodes seeded episodes run in
// lockstep: at each control step, every running episode whose chunk is
// spent is queried in one PredictChunks call, and executes the first
// execute actions of its chunk (all when execute <= 0). The environments
// step in parallel on cfg.Workers goroutines. Since the episodes start
// together and execute the same number of actions per chunk, the queries
// of a step, and so the result, are deterministic for a seed.
//
// A failed call (error or panic) ends the episodes it queried with Err
// set; the others go on. cfg.EpisodeTimeout is not supported (an error).
func RunBatched(newEnv func() (sim.Env, error), newPolicy func(n int) (BatchPolicy, error), execute int, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.EpisodeTimeout > 0 {
		return nil, errors.New("eval: RunBatched does not support EpisodeTimeout")
	}
	cfg = cfg.withDefaults()
	seeds := Seeds(cfg)
	n := len(seeds)
	start := time.Now()
	res := &Result{Episodes: make([]Episode, n)}
	envs := make([]sim.Env, n)
	for i := range envs {
		env, err := newEnv()
		if err != nil {
			return nil, fmt.Errorf("eval: making environment: %w", err)
		}
		envs[i] = env
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
	queue := make([][][]float32, n)
	done := make([]bool, n)
	limit := make([]int, n)
	for i, seed := range seeds {
		res.Episodes[i].Seed = seed
		obs[i] = envs[i].Reset(seed)
		pol.Reset(i, seed)
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
		for i := range envs {
			if !done[i] && res.Episodes[i].Length < limit[i] {
				running = append(running, i)
				if len(queue[i]) == 0 {
					need = append(need, i)
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
				ep := &res.Episodes[i]
				switch {
				case err != nil:
					ep.Err = fmt.Errorf("step %d: %w", ep.Length, err)
				case len(chunks[k]) == 0:
					ep.Err = fmt.Errorf("step %d: eval: policy returned an empty action chunk", ep.Length)
				default:
					c := chunks[k]
					if execute > 0 && execute < len(c) {
						c = c[:execute]
					}
					queue[i] = c
					continue
				}
				done[i] = true
			}
		}
		isNeed := make(map[int]bool, len(need))
		for _, i := range need {
			isNeed[i] = true
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
			a := queue[i][0]
			queue[i] = queue[i][1:]
			st, err := stepEnv(envs[i], a)
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

// stepEnv steps an environment, turning a panic (a malformed action) into
// an error.
func stepEnv(env sim.Env, a []float32) (st sim.Step, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
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
