package paradigms

import (
	"fmt"
	"slices"
	"time"

	"github.com/gomlx/compute"
)

// Published facts about OpenVLA-7B (Kim et al., 2024, "OpenVLA: An
// Open-Source Vision-Language-Action Model"). They are the only constants of
// the comparison; everything derived from them is computed.
const (
	// OpenVLAParams is OpenVLA-7B's parameter count.
	OpenVLAParams = 7.5e9
	// OpenVLAImageTokens is the number of image patch tokens per forward pass.
	OpenVLAImageTokens = 256
	// OpenVLAActionTokens is the number of action tokens decoded, one per
	// action dimension, autoregressively.
	OpenVLAActionTokens = 7
	// OpenVLATrainEpisodes is the number of robot episodes (from the Open
	// X-Embodiment collection) OpenVLA was trained on.
	OpenVLATrainEpisodes = 970_000
	// OpenVLAPrompt is OpenVLA's prompt template; %s is the instruction.
	OpenVLAPrompt = "In: What action should the robot take to %s?\nOut:"
)

// OpenVLAEstimate is an ESTIMATE of the compute OpenVLA-7B spends to choose
// one action, by the rule of thumb that a transformer costs about
// 2 × parameters FLOPs per token it processes (attention and the vision
// tower's own token count are ignored).
type OpenVLAEstimate struct {
	// Params is OpenVLAParams.
	Params float64
	// ImageTokens is OpenVLAImageTokens.
	ImageTokens int
	// PromptTokens estimates the text tokens of the prompt by counting its
	// words (a Llama tokenizer would give a few more).
	PromptTokens int
	// ActionTokens is OpenVLAActionTokens.
	ActionTokens int
	// TokensPerAction is the tokens pushed through the model per action: the
	// image and prompt tokens of the first pass, which yields the first action
	// token, and one more token per remaining action token (with a KV cache).
	TokensPerAction int
	// FLOPsPerAction ≈ 2 × Params × TokensPerAction.
	FLOPsPerAction float64
}

// EstimateOpenVLA computes the OpenVLA-7B estimate for an instruction.
func EstimateOpenVLA(instruction string) OpenVLAEstimate {
	e := OpenVLAEstimate{
		Params:       OpenVLAParams,
		ImageTokens:  OpenVLAImageTokens,
		PromptTokens: len(words(fmt.Sprintf(OpenVLAPrompt, instruction))),
		ActionTokens: OpenVLAActionTokens,
	}
	e.TokensPerAction = e.ImageTokens + e.PromptTokens + e.ActionTokens - 1
	e.FLOPsPerAction = 2 * e.Params * float64(e.TokensPerAction)
	return e
}

// ComputeResult measures the architecture of this package on a backend and
// sets it beside OpenVLA-7B.
type ComputeResult struct {
	// Backend describes where the latency was measured.
	Backend string
	// Params is the policy's parameter count per module, then the total.
	Params []ModuleParams
	// TotalParams is the total of Params.
	TotalParams int
	// FLOPsPerAction counts the multiply-adds (×2) of one batch-1 forward
	// pass of the policy, computed from its configuration (see ForwardFLOPs).
	FLOPsPerAction float64
	// Latency is the median wall time of Runs batch-1 forward passes,
	// measured after a warm-up. It varies from run to run.
	Latency time.Duration
	// Runs is the number of timed forward passes.
	Runs int
	// AchievedFLOPS is FLOPsPerAction / Latency: the FLOP rate this backend
	// reached on the policy. It varies from run to run.
	AchievedFLOPS float64
	// OpenVLA is the estimate for OpenVLA-7B on the same instruction.
	OpenVLA OpenVLAEstimate
	// ParamRatio is OpenVLA.Params / TotalParams.
	ParamRatio float64
	// FLOPRatio is OpenVLA.FLOPsPerAction / FLOPsPerAction.
	FLOPRatio float64
	// OpenVLALatencyHere extrapolates OpenVLA's time per action on this
	// backend at AchievedFLOPS: an estimate, not a measurement (a GPU runs
	// OpenVLA at a few actions per second).
	OpenVLALatencyHere time.Duration
}

// ForwardFLOPs counts the floating-point operations of one forward pass of
// the architecture for one example: 2 per multiply-add of every convolution
// and dense layer (biases, activations, pooling and the embedding lookup are
// negligible and left out).
func ForwardFLOPs(cfg ArchConfig) float64 {
	flops := 0.0
	size, in := cfg.ImageSize, cfg.ImageChannels
	for _, out := range cfg.VisionChannels {
		size = (size + 1) / 2
		flops += 2 * float64(size*size*3*3*in*out)
		in = out
	}
	dense := func(i, o int) { flops += 2 * float64(i*o) }
	dense(cfg.TextDim, cfg.TextDim)
	dense(cfg.ProprioDim, cfg.StateDim)
	dense(cfg.StateDim, cfg.StateDim)
	dense(in+cfg.TextDim+cfg.StateDim, cfg.FusionDim)
	dense(cfg.FusionDim, cfg.HeadDim)
	dense(cfg.HeadDim, cfg.ActionDim)
	return flops
}

// MeasureCompute builds the policy for cfg on backend, times runs batch-1
// forward passes on an instruction (after three warm-up passes) and returns
// the measurements beside the OpenVLA-7B estimate.
func MeasureCompute(backend compute.Backend, cfg ArchConfig, instruction string, runs int) (ComputeResult, error) {
	if runs < 1 {
		return ComputeResult{}, fmt.Errorf("paradigms: MeasureCompute runs must be >= 1, got %d", runs)
	}
	p, err := BuildPolicy(backend, cfg)
	if err != nil {
		return ComputeResult{}, err
	}
	defer p.Finalize()
	images, tokens, mask, proprio := SampleInputs(cfg, 1, instruction, 1)
	for range 3 {
		if _, err := p.Forward(images, tokens, mask, proprio); err != nil {
			return ComputeResult{}, err
		}
	}
	times := make([]time.Duration, runs)
	for i := range times {
		start := time.Now()
		if _, err := p.Forward(images, tokens, mask, proprio); err != nil {
			return ComputeResult{}, err
		}
		times[i] = time.Since(start)
	}
	slices.Sort(times)
	r := ComputeResult{
		Backend:        backend.Name() + ": " + backend.Description(),
		Params:         p.ParamCounts(),
		TotalParams:    p.NumParams(),
		FLOPsPerAction: ForwardFLOPs(cfg),
		Latency:        times[runs/2],
		Runs:           runs,
		OpenVLA:        EstimateOpenVLA(instruction),
	}
	r.AchievedFLOPS = r.FLOPsPerAction / max(r.Latency.Seconds(), 1e-9)
	r.ParamRatio = r.OpenVLA.Params / float64(r.TotalParams)
	r.FLOPRatio = r.OpenVLA.FLOPsPerAction / r.FLOPsPerAction
	r.OpenVLALatencyHere = time.Duration(r.OpenVLA.FLOPsPerAction / r.AchievedFLOPS * float64(time.Second))
	return r, nil
}
