package chunking

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gomlx/compute"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/bc"
	"github.com/policylab/policylab/lessons/checkpoint"
	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/dp"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/sim"
	"github.com/policylab/policylab/lessons/trainer"
)

// BCChunk is the chunk length of the lesson's chunked BC (Diffusion
// Policy's Tp, so both policies plan as far ahead).
const BCChunk = 16

// ChunkedBC loads the newest checkpoint in dir, or, when dir holds none,
// trains there the lesson's chunked BC on f: the chapter's BC MLP
// predicting BCChunk actions (joint targets relative to the joint
// positions on the arm), on 200 successful expert demonstrations, with
// steps training steps (3,000 take about 20 s on 2 cores).
func ChunkedBC(b compute.Backend, f sim.Factory, dir string, steps int, progress io.Writer) (*bc.Policy, error) {
	cfg := bc.DefaultConfig()
	cfg.Chunk = BCChunk
	if strings.HasPrefix(f.Name, "arm") {
		cfg.RelativeTo = []int{0, 1, 2, 3, 4, 5, 6}
	}
	tc := trainer.DefaultConfig()
	tc.Steps, tc.WarmupSteps, tc.Dir, tc.Progress = steps, steps/10, dir, progress
	return bc.LoadOrTrain(b, cfg, func() (*data.Dataset, error) {
		return data.Generate(f, 200, 1, data.GenOptions{OnlySuccessful: true})
	}, tc)
}

// ArmDiffusionConfig is the lesson's diffusion policy for arm REACH:
// dp.CPUConfig (To 2, Tp 16, Ta 8, DDIM in 10 steps) with a U-Net of 32
// and 64 channels instead of 32, 64 and 128. It denoises absolute joint
// targets: unlike BC (see ChunkedBC), it did worse with targets relative
// to the joint positions (measured 2026-11-25, batch 8, 2,400 steps, 50
// episodes: 68% success absolute, 22% relative).
func ArmDiffusionConfig() dp.Config {
	c := dp.CPUConfig()
	c.UNet.DownDims, c.UNet.TimeEmbedDim = []int{32, 64}, 32
	return c
}

// ArmDiffusion loads the newest checkpoint in dir, or, when dir holds
// none, trains there the lesson's diffusion policy for arm REACH
// (ArmDiffusionConfig) on 200 successful expert demonstrations, with steps
// training steps at batch 8 (2,000 take about a minute on 2 cores; make
// dp-arm trains a longer run at batch 16).
func ArmDiffusion(b compute.Backend, dir string, steps int, progress io.Writer) (*dp.Policy, error) {
	f := sim.ArmFactory(arm.DefaultConfig(arm.Reach), false)
	tc := trainer.DefaultConfig()
	tc.Steps, tc.WarmupSteps, tc.Seed, tc.Dir, tc.Progress = steps, steps/10, 1, dir, progress
	tc.BatchSize = 8 // for short runs: on 2 cores, batch 8 learned faster per second than 16 or 64
	return dp.LoadOrTrain(b, ArmDiffusionConfig(), func() (*data.Dataset, error) {
		return data.Generate(f, 200, 1, data.GenOptions{OnlySuccessful: true})
	}, tc)
}

// LoadDiffusion loads the newest checkpoint of the first of dirs that
// holds one, and says which it loaded.
func LoadDiffusion(b compute.Backend, dirs ...string) (*dp.Policy, string, error) {
	for _, dir := range dirs {
		latest, err := checkpoint.Latest(dir)
		if errors.Is(err, checkpoint.ErrNone) {
			continue
		} else if err != nil {
			return nil, "", fmt.Errorf("chunking: %w", err)
		}
		p, err := dp.Load(b, latest)
		if err != nil {
			return nil, "", err
		}
		return p, latest, nil
	}
	return nil, "", fmt.Errorf("chunking: no diffusion policy checkpoint in %s (train one: make dp-pusht or make dp-arm, or notebook 4.2.3)", strings.Join(dirs, ", "))
}

// DiffusionSetup runs a diffusion policy batched (one denoising batch for
// all the episodes queried at a step) on f, on the episodes of ec.
func DiffusionSetup(name string, p *dp.Policy, f sim.Factory, ec eval.Config) Setup {
	return Setup{Name: name, Env: f, Eval: ec,
		Batch: func(n int) (eval.BatchPolicy, error) { return p.NewBatch(n), nil }}
}

// PolicySetup runs a chunk policy one episode per worker on f, on the
// episodes of ec. The policy is shared by the workers: it must be safe for
// concurrent use and keep no state between queries (the BC policy).
func PolicySetup(name string, p eval.ChunkPolicy, f sim.Factory, ec eval.Config) Setup {
	return Setup{Name: name, Env: f, Eval: ec,
		Policy: func() (eval.ChunkPolicy, error) { return p, nil }}
}

// JSON is the row's figures in flat form, for -json outputs.
func (r *Row) JSON() RowJSON {
	m := r.Metrics
	return RowJSON{Setup: r.Setup, Executor: r.Executor, LatencyMs: 1000 * r.Latency, Delay: r.Delay,
		Episodes: len(r.Result.Episodes), Score: r.Result.MeanMaxScore, Success: r.Result.SuccessRate,
		Jerk: m.Jerk, SeamJump: m.SeamJump, StepJump: m.StepJump, OnTime: m.DeadlineMet,
		QueriesPerStep: m.QueriesPerStep, WallSeconds: r.Result.Wall.Seconds()}
}

// RowJSON is a Row's figures.
type RowJSON struct {
	Setup          string  `json:"setup"`
	Executor       string  `json:"executor"`
	LatencyMs      float64 `json:"latency_ms"`
	Delay          int     `json:"late_by_periods"`
	Episodes       int     `json:"episodes"`
	Score          float64 `json:"score"`
	Success        float64 `json:"success"`
	Jerk           float64 `json:"jerk"`
	SeamJump       float64 `json:"seam_jump"`
	StepJump       float64 `json:"step_jump"`
	OnTime         float64 `json:"periods_on_time"`
	QueriesPerStep float64 `json:"queries_per_step"`
	WallSeconds    float64 `json:"wall_seconds"`
}
