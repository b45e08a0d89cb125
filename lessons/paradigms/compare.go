package paradigms

import (
	"fmt"

	"github.com/policylab/policylab/lessons/backend"
)

// Settings of Compare.
const (
	// CompareInstruction is the instruction used for the compute comparison.
	CompareInstruction = "pick up the red block and place it in the bowl"
	// EvalEpisodes is the number of evaluation starts every policy is scored on.
	EvalEpisodes = 100
	// PushSpeed is the largest initial speed per axis of the pushed starts
	// (m/s) used to probe distribution shift.
	PushSpeed = 1.5
	// LatencyRuns is the number of timed forward passes.
	LatencyRuns = 30
)

// CompareDemoCounts are the numbers of demonstrations behaviour cloning is
// fitted on.
var CompareDemoCounts = []int{1, 2, 5, 10}

// BCPoint is one point of the imitation-learning curve.
type BCPoint struct {
	// Demos is the number of expert demonstrations.
	Demos int
	// DemoSteps is the environment steps those demonstrations contain.
	DemoSteps int
	// Eval scores the cloned policy on the evaluation starts.
	Eval Evaluation
}

// BCResult is the imitation-learning part of the comparison.
type BCResult struct {
	// Curve has one point per entry of CompareDemoCounts.
	Curve []BCPoint
	// Policy is the policy cloned from the most demonstrations.
	Policy LinearPolicy
	// Pushed scores Policy on the pushed starts (distribution shift).
	Pushed Evaluation
}

// Comparison holds the measurements behind the chapter's table. Every field
// is measured or computed by Compare; only the published OpenVLA facts are
// constants. Fields of VLA that are timings vary between runs; everything
// else is identical for the same seed.
type Comparison struct {
	// Seed is the seed Compare was called with.
	Seed int64
	// Env is the point-mass task.
	Env PointMass
	// Expert scores the scripted demonstrator on the evaluation starts, and
	// ExpertPushed on the pushed starts.
	Expert, ExpertPushed Evaluation
	// BC is imitation learning: behaviour cloning from demonstrations.
	BC BCResult
	// RL is reinforcement learning: the cross-entropy method from reward.
	RL CEMResult
	// RLConfig is the configuration RL ran with.
	RLConfig CEMConfig
	// RLPushed scores RL.Policy on the pushed starts.
	RLPushed Evaluation
	// VLA measures this package's multimodal policy and estimates OpenVLA-7B.
	VLA ComputeResult
}

// Compare runs the three paradigms of section 4.2.1 on the point-mass task
// and measures the VLA-style architecture on the default backend
// (backend.New). It takes a few seconds on two CPU cores.
func Compare(seed int64) (*Comparison, error) {
	b, err := backend.New()
	if err != nil {
		return nil, fmt.Errorf("paradigms: %w", err)
	}
	env := DefaultPointMass()
	c := &Comparison{Seed: seed, Env: env}
	eval := env.Starts(EvalEpisodes, subSeed(seed, 1))
	pushed := env.PushedStarts(EvalEpisodes, subSeed(seed, 2), PushSpeed)
	c.Expert = env.Evaluate(env.Expert(), eval)
	c.ExpertPushed = env.Evaluate(env.Expert(), pushed)

	// Imitation learning: nested sets of demonstrations.
	maxDemos := CompareDemoCounts[len(CompareDemoCounts)-1]
	demos := env.Demos(maxDemos, subSeed(seed, 3))
	for _, n := range CompareDemoCounts {
		p, err := FitBC(demos[:n], DefaultRidge)
		if err != nil {
			return nil, err
		}
		c.BC.Curve = append(c.BC.Curve, BCPoint{Demos: n, DemoSteps: DemoSteps(demos[:n]), Eval: env.Evaluate(p, eval)})
		c.BC.Policy = p
	}
	c.BC.Pushed = env.Evaluate(c.BC.Policy, pushed)

	// Reinforcement learning: CEM from reward only, kept running after it
	// reaches its target to show what further interaction buys.
	c.RLConfig = DefaultCEMConfig()
	c.RLConfig.KeepImproving = true
	if c.RL, err = RunCEM(env, c.RLConfig, eval, subSeed(seed, 4)); err != nil {
		return nil, err
	}
	c.RLPushed = env.Evaluate(c.RL.Policy, pushed)

	// VLA: the compute side.
	if c.VLA, err = MeasureCompute(b, DefaultArchConfig(), CompareInstruction, LatencyRuns); err != nil {
		return nil, err
	}
	return c, nil
}

// subSeed derives an independent stream seed from the user's seed (one
// SplitMix64 step), so demonstrations, evaluation and search never share
// random numbers.
func subSeed(seed int64, k uint64) uint64 {
	z := uint64(seed) + k*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
