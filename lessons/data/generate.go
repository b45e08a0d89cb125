package data

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/policylab/policylab/lessons/sim"
)

// GenOptions tune Generate.
type GenOptions struct {
	// Workers is the number of goroutines rolling out episodes, each with
	// its own environment and expert; 0 means runtime.NumCPU(). The dataset
	// does not depend on it.
	Workers int
	// OnlySuccessful keeps only episodes in which the expert solved the
	// task, rolling out further seeds until n have succeeded or MaxAttempts
	// episodes have been tried.
	OnlySuccessful bool
	// MaxAttempts caps the episodes tried when OnlySuccessful is set; 0
	// means 10n+10.
	MaxAttempts int
	// Progress, when set, is called after each finished rollout with the
	// rollouts finished and the rollouts scheduled so far (the second grows
	// when OnlySuccessful schedules retries). Calls never overlap.
	Progress func(done, total int)
	// ActionNoise, when > 0, perturbs the actions the environment executes
	// with Gaussian noise of this standard deviation times each action's
	// range (Spec.ActionHigh − ActionLow), while the dataset records the
	// expert's clean action: noise injection (DART, Laskey et al. 2017).
	// The demonstrations then visit states just off the expert's path,
	// labelled with how the expert recovers, which counters behaviour
	// cloning's compounding error. The noise is seeded by the episode seed.
	ActionNoise float64
}

// EpisodeSeed is the environment seed of rollout i of a dataset generated
// with seed: a SplitMix64 hash of both, so that neighbouring datasets and
// neighbouring episodes get unrelated initial states. It is never negative.
func EpisodeSeed(seed int64, i int) int64 {
	z := uint64(seed) + uint64(i+1)*0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	z ^= z >> 31
	return int64(z >> 1)
}

// Generate rolls out the factory's scripted expert for n episodes and
// records them. Rollout i starts the environment with EpisodeSeed(seed, i)
// and runs until the environment reports Done or Spec.MaxSteps steps have
// been taken.
//
// Rollouts run in parallel on opts.Workers goroutines, one environment and
// one expert per goroutine, and are put back in rollout order, so the same
// (factory, n, seed, OnlySuccessful) gives the same dataset for any number
// of workers. With OnlySuccessful the dataset holds the first n successful
// rollouts in rollout order; Episode.Index is the position in the dataset
// and Episode.Seed the environment seed that reproduces it.
func Generate(f sim.Factory, n int, seed int64, opts GenOptions) (*Dataset, error) {
	if n <= 0 {
		return nil, fmt.Errorf("data: Generate %s: n is %d, want at least 1", f.Name, n)
	}
	if f.NewEnv == nil || f.NewExpert == nil {
		return nil, fmt.Errorf("data: Generate %s: factory lacks NewEnv or NewExpert", f.Name)
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	maxAttempts := n
	if opts.OnlySuccessful {
		maxAttempts = opts.MaxAttempts
		if maxAttempts <= 0 {
			maxAttempts = 10*n + 10
		}
		if maxAttempts < n {
			maxAttempts = n
		}
	}

	// One environment and expert per worker, made once and reused across
	// rounds.
	type actor struct {
		env sim.Env
		exp sim.Expert
	}
	actors := make([]*actor, 0, workers)
	getActor := func(w int) (*actor, error) {
		for len(actors) <= w {
			env, err := f.NewEnv()
			if err != nil {
				return nil, fmt.Errorf("data: Generate %s: making environment: %v", f.Name, err)
			}
			actors = append(actors, &actor{env: env, exp: f.NewExpert()})
		}
		return actors[w], nil
	}
	first, err := getActor(0)
	if err != nil {
		return nil, err
	}
	spec := first.env.Spec()

	var (
		results   []Episode // by rollout number
		succeeded int
		progMu    sync.Mutex
		done      int
	)
	scheduled := 0
	for {
		// Plan the next round of rollouts [lo, hi).
		lo := len(results)
		need := n - succeeded
		if !opts.OnlySuccessful {
			need = n - lo
		}
		if need <= 0 {
			break
		}
		size := need
		if opts.OnlySuccessful && lo > 0 {
			// Scale by the failure rate seen so far, plus a margin.
			rate := float64(succeeded) / float64(lo)
			if rate < 0.05 {
				rate = 0.05
			}
			size = int(float64(need)/rate) + 1
		}
		hi := lo + size
		if hi > maxAttempts {
			hi = maxAttempts
		}
		if hi <= lo {
			return nil, fmt.Errorf("data: Generate %s: only %d of %d rollouts succeeded after %d attempts (cap MaxAttempts=%d); the expert fails too often for OnlySuccessful", f.Name, succeeded, n, lo, maxAttempts)
		}
		progMu.Lock()
		scheduled = hi
		progMu.Unlock()

		w := workers
		if w > hi-lo {
			w = hi - lo
		}
		for k := 0; k < w; k++ {
			if _, err := getActor(k); err != nil {
				return nil, err
			}
		}
		round := make([]Episode, hi-lo)
		errs := make([]error, hi-lo)
		jobs := make(chan int)
		var wg sync.WaitGroup
		for k := 0; k < w; k++ {
			wg.Add(1)
			go func(a *actor) {
				defer wg.Done()
				for i := range jobs {
					round[i-lo], errs[i-lo] = rollout(a.env, a.exp, spec, EpisodeSeed(seed, i), opts.ActionNoise)
					if opts.Progress != nil {
						progMu.Lock()
						done++
						opts.Progress(done, scheduled)
						progMu.Unlock()
					}
				}
			}(actors[k])
		}
		for i := lo; i < hi; i++ {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				return nil, fmt.Errorf("data: Generate %s: rollout %d (env seed %d): %v", f.Name, lo+i, EpisodeSeed(seed, lo+i), err)
			}
		}
		results = append(results, round...)
		succeeded = 0
		for i := range results {
			if results[i].Success {
				succeeded++
			}
		}
	}

	ds := &Dataset{
		Name:        f.Name,
		FPS:         spec.ControlHz,
		RobotType:   spec.Name,
		StateNames:  append([]string(nil), spec.StateNames...),
		ActionNames: append([]string(nil), spec.ActionNames...),
	}
	for _, e := range results {
		if len(ds.Episodes) == n {
			break
		}
		if opts.OnlySuccessful && !e.Success {
			continue
		}
		e.Index = len(ds.Episodes)
		if ds.TaskIndex(e.Task) < 0 {
			ds.Tasks = append(ds.Tasks, e.Task)
		}
		ds.Episodes = append(ds.Episodes, e)
	}
	if err := ds.Validate(); err != nil {
		return nil, fmt.Errorf("data: Generate %s: %v", f.Name, trimPrefix(err))
	}
	return ds, nil
}

// rollout runs one expert episode; a panic in the environment or expert is
// returned as an error.
func rollout(env sim.Env, exp sim.Expert, spec sim.Spec, seed int64, noise float64) (ep Episode, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	maxSteps := spec.MaxSteps
	if maxSteps <= 0 {
		maxSteps = 100000
	}
	obs := env.Reset(seed)
	exp.Reset(seed)
	ep = Episode{Seed: seed, Task: obs.Instruction}
	var rng *rand.Rand
	if noise > 0 {
		rng = rand.New(rand.NewPCG(uint64(seed), 0xDA27))
	}
	for t := 0; t < maxSteps; t++ {
		a := exp.Act(obs)
		if len(a) != spec.ActionDim() {
			return ep, fmt.Errorf("step %d: expert action has %d values, want %d", t, len(a), spec.ActionDim())
		}
		ep.States = append(ep.States, append([]float32(nil), obs.State...))
		ep.Actions = append(ep.Actions, append([]float32(nil), a...))
		exec := a
		if rng != nil {
			exec = make([]float32, len(a))
			for i := range a {
				r := float64(1)
				if i < len(spec.ActionHigh) && i < len(spec.ActionLow) {
					r = float64(spec.ActionHigh[i] - spec.ActionLow[i])
				}
				exec[i] = a[i] + float32(rng.NormFloat64()*noise*r)
			}
		}
		st := env.Step(exec)
		ep.Rewards = append(ep.Rewards, float32(st.Reward))
		if st.Score > ep.Score {
			ep.Score = st.Score
		}
		if st.Success {
			ep.Success = true
		}
		obs = st.Obs
		if st.Done {
			break
		}
	}
	return ep, nil
}

// trimPrefix drops the package prefix of an error from this package, to
// avoid "data: ... data: ..." when wrapping.
func trimPrefix(err error) string {
	s := err.Error()
	if len(s) > 6 && s[:6] == "data: " {
		return s[6:]
	}
	return s
}
