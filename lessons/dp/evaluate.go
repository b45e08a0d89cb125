package dp

import (
	"fmt"
	"math"

	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/sim"
)

// Evaluate scores the policy with Diffusion Policy's protocol on f (Push-T
// from keypoints in the paper's state experiments): episodes seeded initial
// states (the paper uses 50), each scored by its maximum coverage reward;
// the result holds the mean score and the success rate (coverage > 0.95).
// Every episode gets its own Actor, so episodes run in parallel.
func Evaluate(p *Policy, f sim.Factory, episodes int) (*eval.Result, error) {
	return eval.Run(f.NewEnv, func() (eval.Policy, error) {
		return eval.Chunked(p.NewActor(), p.cfg.ActionHorizon), nil
	}, eval.Config{Episodes: episodes})
}

// Score summarizes periodic evaluations as the paper's Table 1 does: the
// maximum over all evaluated checkpoints, and the mean over the last `last`
// of them. scores are in evaluation order.
func Score(scores []float64, last int) (maxScore, meanLast float64, err error) {
	if len(scores) == 0 {
		return 0, 0, fmt.Errorf("dp: Score: no evaluations (set the trainer's Eval and EvalEvery)")
	}
	if last < 1 {
		return 0, 0, fmt.Errorf("dp: Score: last = %d, must be >= 1", last)
	}
	maxScore = math.Inf(-1)
	for _, s := range scores {
		maxScore = math.Max(maxScore, s)
	}
	tail := scores[max(0, len(scores)-last):]
	for _, s := range tail {
		meanLast += s
	}
	return maxScore, meanLast / float64(len(tail)), nil
}
