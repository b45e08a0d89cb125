package dp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/policylab/policylab/lessons/diffusion"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/sim"
)

// Evaluate scores the policy with Diffusion Policy's protocol on f (Push-T
// from keypoints in the paper's state experiments): episodes seeded initial
// states (the paper uses 50), each scored by its maximum coverage reward;
// the result holds the mean score and the success rate (coverage > 0.95).
// The episodes run in lockstep and are denoised as one batch per query
// (see Batch and eval.RunBatched), executing ActionHorizon actions per
// chunk.
func Evaluate(p *Policy, f sim.Factory, episodes int) (*eval.Result, error) {
	return eval.RunBatched(f.NewEnv, func(n int) (eval.BatchPolicy, error) { return p.NewBatch(n), nil },
		p.cfg.ActionHorizon, eval.Config{Episodes: episodes})
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

// PushTRow is one policy's result for PushTTable (Push-T) or Table (any
// task).
type PushTRow struct {
	Name         string
	Steps        int     // training steps
	TrainSeconds float64 // training wall time, evaluations excluded
	MaxScore     float64 // max over evaluations (Score)
	MeanLast     float64 // mean of the last Last evaluations (Score)
	Last         int
	Success      float64 // success rate (coverage > 0.95) of the last evaluation
}

// Table is a Markdown table of our rows alone (PushTTable adds the
// paper's), for tasks the paper has no figures for.
func Table(rows ...PushTRow) string {
	var sb strings.Builder
	sb.WriteString("| policy | steps | train time | max score | mean of last evaluations | success (last evaluation) |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&sb, "| ours: %s | %d | %.0f s | %.3f | %.3f (last %d) | %.0f%% |\n", r.Name, r.Steps, r.TrainSeconds,
			r.MaxScore, r.MeanLast, r.Last, 100*r.Success)
	}
	return sb.String()
}

// PaperPushTState is Diffusion Policy's Table 1 for Push-T from state
// (keypoints): max and mean-of-last-10-checkpoints scores (Chi et al. 2023).
var PaperPushTState = []struct {
	Name          string
	Max, MeanLast float64
}{{"DP-CNN", 0.95, 0.91}, {"LSTM-GMM", 0.67, 0.61}}

// PushTTable is a Markdown table of our rows beside the paper's.
func PushTTable(rows ...PushTRow) string {
	var sb strings.Builder
	sb.WriteString(Table(rows...))
	for _, p := range PaperPushTState {
		fmt.Fprintf(&sb, "| paper: %s | | | %.2f | %.2f (last 10) | |\n", p.Name, p.Max, p.MeanLast)
	}
	return sb.String()
}

// SamplingLatency times sampling one action chunk (batch 1) with DDIM in
// 10 steps and with DDPM's full schedule, repeats times each after a
// warm-up call, and returns a Markdown table of the median latencies. The
// policy's own sampler is restored afterwards; do not act with the policy
// meanwhile.
func SamplingLatency(p *Policy, repeats int) (string, error) {
	c := p.cfg
	defer func() { p.cfg.Method, p.cfg.InferenceSteps = c.Method, c.InferenceSteps }()
	win := make([][]float32, c.ObsHorizon)
	for i := range win {
		win[i] = p.obsNorm.Unnormalized(make([]float32, c.StateDim)) // the middle of the observed range
	}
	var sb strings.Builder
	sb.WriteString("| sampler | network evaluations | latency per chunk (median) |\n|---|---|---|\n")
	for _, m := range []struct {
		method diffusion.Method
		steps  int
	}{{diffusion.MethodDDIM, min(10, c.Noise.TrainSteps)}, {diffusion.MethodDDPM, c.Noise.TrainSteps}} {
		p.cfg.Method, p.cfg.InferenceSteps = m.method, m.steps
		var ds []time.Duration
		rng := rand.New(rand.NewPCG(1, 1))
		for i := 0; i <= max(repeats, 1); i++ {
			t0 := time.Now()
			if _, err := p.Sample(win, 1, rng, SampleOptions{}); err != nil {
				return "", err
			}
			if i > 0 {
				ds = append(ds, time.Since(t0))
			}
		}
		slices.Sort(ds)
		fmt.Fprintf(&sb, "| %s | %d | %.1f ms |\n", m.method, m.steps, float64(ds[len(ds)/2].Microseconds())/1000)
	}
	return sb.String(), nil
}
