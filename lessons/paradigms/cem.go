package paradigms

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// CEMConfig sets up the cross-entropy method.
type CEMConfig struct {
	// Population is the number of candidate policies sampled per iteration.
	Population int
	// Elites is how many of the best candidates refit the search distribution.
	Elites int
	// EpisodesPerCandidate is the number of episodes scoring each candidate
	// (the same freshly drawn starts for every candidate of an iteration).
	EpisodesPerCandidate int
	// InitStd is the initial standard deviation of every parameter; the
	// initial mean is zero (a policy that never pushes).
	InitStd float64
	// ExtraStd is noise added to the refitted standard deviation, which keeps
	// the search from collapsing too early; it decays by ExtraStdDecay per
	// iteration.
	ExtraStd, ExtraStdDecay float64
	// Target is the success rate (on the evaluation starts) at which the
	// search stops.
	Target float64
	// Budget is the most environment steps the search may consume.
	Budget int
	// KeepImproving continues the search after Target is reached, until the
	// Budget is spent, to show what more interaction buys.
	KeepImproving bool
}

// DefaultCEMConfig returns the settings of the lesson: 24 candidates of 4
// episodes each per iteration, 6 elites, initial std 2, stop at 90% success
// or 200,000 environment steps.
func DefaultCEMConfig() CEMConfig {
	return CEMConfig{
		Population: 24, Elites: 6, EpisodesPerCandidate: 4,
		InitStd: 2, ExtraStd: 0.5, ExtraStdDecay: 0.8,
		Target: 0.9, Budget: 200_000,
	}
}

// Validate checks the settings; errors are prefixed "paradigms: ".
func (c CEMConfig) Validate() error {
	switch {
	case c.Population < 2:
		return fmt.Errorf("paradigms: CEMConfig.Population must be >= 2, got %d", c.Population)
	case c.Elites < 1 || c.Elites > c.Population:
		return fmt.Errorf("paradigms: CEMConfig.Elites must be in [1, Population=%d], got %d", c.Population, c.Elites)
	case c.EpisodesPerCandidate < 1:
		return fmt.Errorf("paradigms: CEMConfig.EpisodesPerCandidate must be >= 1, got %d", c.EpisodesPerCandidate)
	case !(c.InitStd > 0):
		return fmt.Errorf("paradigms: CEMConfig.InitStd must be > 0, got %g", c.InitStd)
	case c.ExtraStd < 0 || c.ExtraStdDecay < 0 || c.ExtraStdDecay > 1:
		return fmt.Errorf("paradigms: CEMConfig.ExtraStd must be >= 0 and ExtraStdDecay in [0, 1], got %g and %g", c.ExtraStd, c.ExtraStdDecay)
	case !(c.Target > 0 && c.Target <= 1):
		return fmt.Errorf("paradigms: CEMConfig.Target must be in (0, 1], got %g", c.Target)
	case c.Budget < 1:
		return fmt.Errorf("paradigms: CEMConfig.Budget must be >= 1, got %d", c.Budget)
	}
	return nil
}

// CEMPoint is one point of the reinforcement-learning curve: after an
// iteration, the environment steps consumed so far and the success rate of
// the current mean policy on the evaluation starts.
type CEMPoint struct {
	Iteration int
	EnvSteps  int
	Success   float64
}

// CEMResult is the outcome of RunCEM.
type CEMResult struct {
	// Policy is the final mean of the search distribution.
	Policy LinearPolicy
	// Curve has one point per iteration, starting with iteration 0 (the
	// initial mean, before any interaction).
	Curve []CEMPoint
	// EnvSteps is every environment step the search consumed (training
	// episodes only: evaluating the curve is measurement, not learning, and
	// is not counted, just as it is not for behaviour cloning).
	EnvSteps int
	// Reached reports whether Target was reached within Budget.
	Reached bool
	// StepsToTarget is EnvSteps at the first evaluation that reached Target
	// (-1 when it never did): reinforcement learning's sample cost.
	StepsToTarget int
	// Final is the evaluation of Policy.
	Final Evaluation
}

// RunCEM searches the linear policy class with the cross-entropy method,
// using nothing but the reward: each iteration samples Population parameter
// vectors from a diagonal Gaussian, scores each by its mean return over
// EpisodesPerCandidate episodes, and refits the Gaussian to the Elites best.
// After every iteration the mean policy is evaluated on eval; the search
// stops when its success reaches Target (unless KeepImproving) or when the
// next iteration could exceed Budget. The same seed gives the same result.
func RunCEM(env PointMass, cfg CEMConfig, eval []State, seed uint64) (CEMResult, error) {
	if err := env.Validate(); err != nil {
		return CEMResult{}, err
	}
	if err := cfg.Validate(); err != nil {
		return CEMResult{}, err
	}
	if len(eval) == 0 {
		return CEMResult{}, fmt.Errorf("paradigms: RunCEM needs evaluation starts, got none")
	}
	const dim = 2 * NumFeatures
	rng := rand.New(rand.NewPCG(seed, 0xce1))
	mean := make([]float64, dim)
	std := make([]float64, dim)
	for i := range std {
		std[i] = cfg.InitStd
	}
	extra := cfg.ExtraStd
	var res CEMResult
	current := func() LinearPolicy { p, _ := LinearPolicyFromParams(mean); return p }
	ev := env.Evaluate(current(), eval)
	res.Curve = append(res.Curve, CEMPoint{Iteration: 0, Success: ev.Success})
	type candidate struct {
		theta []float64
		score float64
	}
	worstCase := cfg.Population * cfg.EpisodesPerCandidate * env.Horizon
	res.StepsToTarget = -1
	reached := func() bool {
		if res.StepsToTarget < 0 && ev.Success >= cfg.Target {
			res.StepsToTarget = res.EnvSteps
		}
		return res.StepsToTarget >= 0
	}
	for iter := 1; (!reached() || cfg.KeepImproving) && res.EnvSteps+worstCase <= cfg.Budget; iter++ {
		starts := make([]State, cfg.EpisodesPerCandidate)
		for i := range starts {
			starts[i] = env.randomStart(rng)
		}
		cands := make([]candidate, cfg.Population)
		for c := range cands {
			theta := make([]float64, dim)
			for i := range theta {
				theta[i] = mean[i] + std[i]*rng.NormFloat64()
			}
			p, _ := LinearPolicyFromParams(theta)
			total := 0.0
			for _, s := range starts {
				ret, steps, _, _ := env.run(s, p, nil, true)
				total += ret
				res.EnvSteps += steps
			}
			cands[c] = candidate{theta, total / float64(len(starts))}
		}
		// Best first; refit mean and std to the elites.
		slices.SortStableFunc(cands, func(a, b candidate) int { return cmp.Compare(b.score, a.score) })
		elites := make([][]float64, cfg.Elites)
		for i := range elites {
			elites[i] = cands[i].theta
		}
		refit(mean, std, elites, extra)
		extra *= cfg.ExtraStdDecay
		ev = env.Evaluate(current(), eval)
		res.Curve = append(res.Curve, CEMPoint{Iteration: iter, EnvSteps: res.EnvSteps, Success: ev.Success})
	}
	res.Policy = current()
	res.Final = ev
	res.Reached = reached()
	return res, nil
}

// refit sets mean and std, per parameter, to the mean and standard
// deviation of the elites, plus extra on the std.
func refit(mean, std []float64, elites [][]float64, extra float64) {
	n := float64(len(elites))
	for i := range mean {
		m, v := 0.0, 0.0
		for _, e := range elites {
			m += e[i]
		}
		m /= n
		for _, e := range elites {
			v += (e[i] - m) * (e[i] - m)
		}
		mean[i] = m
		std[i] = math.Sqrt(v/n) + extra
	}
}
