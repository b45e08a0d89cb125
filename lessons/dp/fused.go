package dp

import (
	"fmt"
	"math"
	"math/rand/v2"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/denoiser"
	"github.com/policylab/policylab/lessons/diffusion"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/trainer"
)

// MaxFusedSteps is the most denoising steps a sampling run takes as one
// compiled graph (see SamplingMode): DDIM with up to 16 steps, such as our
// configs' DDIM-10; longer runs (DDPM over 100 steps) always call the
// noise predictor once per step from the host. Each step is a copy of the
// noise predictor in the graph, so the limit bounds the graph's size and
// its compile time.
const MaxFusedSteps = 16

// SamplingMode is how a sampling run of at most MaxFusedSteps steps
// executes: as one compiled graph (fused: the noise predictor unrolled
// once per step, with each step's arithmetic from diffusion.Plan), or as
// one call of the noise predictor per step, the step computed on the host
// (diffusion.Sample). Both draw the same noise and sample the same chunks,
// to float rounding.
type SamplingMode int

const (
	// SampleAuto fuses on accelerator backends (XLA), where each call is a
	// round trip to the device (measured on an H100: 0.33 ms per step for
	// the chapter's MLP, 1.6 ms for the small U-Net). On the pure-Go
	// backend it fuses the MLP and steps on the host for the U-Net, as
	// measured on AMD EPYC (SIMD build, DDIM-10): the MLP took 0.50-0.63 ms
	// fused against 0.84-1.19 ms stepping, and the 32/64/128 U-Net
	// 10.7-11.8 ms fused against 8.9-10.6 ms stepping on one core (13.2-14.2
	// against 11.2-12.1 ms before package dense).
	SampleAuto SamplingMode = iota
	// SampleFused always fuses runs of at most MaxFusedSteps steps.
	SampleFused
	// SampleOnHost always steps on the host.
	SampleOnHost
)

// fusedKey names a compiled sampling run: which weights it reads and the
// sampler it unrolls.
type fusedKey struct {
	ema    bool
	method diffusion.Method
	steps  int
	eta    float64
}

// fusedPlan is the sampling run of the policy's sampler as one graph, or
// nil when it steps on the host: by Sampling (SampleOnHost, or SampleAuto
// for a U-Net on the pure-Go backend), when a caller watches every step (onStep), when
// Hooks replace the scheduler's arithmetic (a student's DDIM step,
// exercise ex2diffusion) or when the run has more than MaxFusedSteps steps.
func (p *Policy) fusedPlan(onStep func(int, []float32)) []diffusion.Step {
	c := p.cfg
	switch {
	case p.Sampling == SampleOnHost, p.Sampling == SampleAuto && c.Network == NetworkUNet && backend.IsGo(p.backend),
		onStep != nil, p.sched.Hooks.StepDDIM != nil:
		return nil
	}
	plan, err := p.sched.Plan(c.Method, c.InferenceSteps, c.Eta)
	if err != nil || len(plan) > MaxFusedSteps {
		return nil // Validate rejected bad samplers already; Sample reports them
	}
	return plan
}

// fusedExec returns the compiled sampling run of plan: (cond [n, C],
// x_T [n, Tp, A], z [K, n, Tp, A], ts [K, n]) → x_0 [n, Tp, A], where
// K = len(plan), z[k] is the noise of step k (read only when its Sigma >
// 0) and ts[k] its timestep for every row. Every step is the noise
// predictor followed by diffusion.Step's arithmetic, in float32 on the
// backend (the host loop computes the step in float64; the two agree to
// about 1e-6). The timesteps are an input rather than constants because,
// measured on the Go backend, a constant broadcast to [n] made the U-Net
// run 30% slower (its broadcasting ops left the SIMD paths).
func (p *Policy) fusedExec(plan []diffusion.Step) (*model.Exec, error) {
	ema := p.UseEMA && p.hasEMA()
	key := fusedKey{ema, p.cfg.Method, p.cfg.InferenceSteps, p.cfg.Eta}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.fused[key]; e != nil {
		return e, nil
	}
	e, err := model.NewExec(p.backend, p.store, func(scope *model.Scope, cond, x, z, ts *Node) *Node {
		if ema {
			scope = p.store.Scope(trainer.EMAScope)
		}
		step := p.denoiseSteps(cond, ts)
		for k, st := range plan {
			eps := step(scope.At(Kind), k, x) // At: every step reads the same weights
			x0 := DivScalar(Sub(x, MulScalar(eps, st.SqrtOneMinusAlphaBar)), st.SqrtAlphaBar)
			if st.Clip {
				x0 = ClipScalar(x0, -st.ClipRange, st.ClipRange)
			}
			next := Add(MulScalar(x0, st.X0), MulScalar(x, st.Xt))
			if st.Sigma > 0 {
				next = Add(next, MulScalar(Squeeze(Slice(z, AxisElem(k)), 0), st.Sigma))
			}
			x = next
		}
		return x
	})
	if err != nil {
		return nil, fmt.Errorf("dp: %w", err)
	}
	e.SetMaxCache(-1) // one graph per batch size on the Go backend (see runFused), as exec
	if p.fused == nil {
		p.fused = map[fusedKey]*model.Exec{}
	}
	p.fused[key] = e
	return e, nil
}

// conditionOnce makes the fused U-Net run compute what does not read x
// once (see denoiseSteps); false builds a whole UNet1D per step, as before
// 2026-11-26. It is a variable for A/B runs: the benchmarks set it from
// POLICYLAB_BENCH_FILM=once or per-step.
var conditionOnce = true

// denoiseSteps is the noise predictor of a sampling run of K steps on one
// condition cond [n, C] and timesteps ts [K, n]: step(scope, k, x) is
// denoise(scope, cond, x, ts[k]). The U-Net computes what does not read x
// (its step encoder and FiLM Linears) once for all K steps (see
// denoiser.UNetSteps). The chapter's MLP is left as it was, one whole
// forward per step: its x-free parts are small (the observation encoder
// and two time-embedding Linears) and its fused DDIM-10 took 0.86-1.23 ms
// on an H100.
func (p *Policy) denoiseSteps(cond, ts *Node) func(scope *model.Scope, k int, x *Node) *Node {
	if p.cfg.Network == NetworkMLP || !conditionOnce {
		return func(scope *model.Scope, k int, x *Node) *Node {
			return p.denoise(scope, cond, x, Squeeze(Slice(ts, AxisElem(k)), 0))
		}
	}
	u := denoiser.NewUNetSteps(p.cfg.UNet, ts, cond)
	return func(scope *model.Scope, k int, x *Node) *Node { return u.Step(scope.In("noise_pred"), k, x) }
}

// runFused is run as one call of the compiled sampling run: the same noise
// as the host loop (z drawn from rng, n·Tp·A values per step whose Sigma >
// 0, in step order), so the two agree to float rounding. x (n·Tp·A) ends
// as the samples. On backends other than the pure-Go one (XLA, where every
// new shape compiles for seconds) the batch is padded to eval.Bucket(n)
// rows, zero conditions and noise dropped after, which keeps the compiled
// graphs to one per bucket; the rows do not mix, so padding changes no
// sample. The pure-Go backend compiles the graph in tens of milliseconds
// (40-60 ms measured for DDIM-10 with the 32/64/128 U-Net) and would pay
// for the padded rows in arithmetic (a 50-episode Push-T evaluation took
// 12-13 s padded against 8-10 s unpadded), so there it compiles one graph
// per n.
func (p *Policy) runFused(plan []diffusion.Step, cond []float32, n int, x []float32, rng *rand.Rand) error {
	c := p.cfg
	e, err := p.fusedExec(plan)
	if err != nil {
		return err
	}
	m, row := n, c.PredHorizon*c.ActionDim
	if p.padFused || !backend.IsGo(p.backend) {
		m = eval.Bucket(n)
	}
	z := make([]float32, len(plan)*m*row)
	for k, st := range plan {
		if st.Sigma == 0 {
			continue
		}
		if rng == nil {
			return fmt.Errorf("dp: sampling step %d of %d adds noise and there is no random stream", k+1, len(plan))
		}
		for i := range n * row {
			z[k*m*row+i] = float32(rng.NormFloat64())
		}
	}
	C := len(cond) / n
	condT := tensors.FromFlatDataAndDimensions(append(cond[:len(cond):len(cond)], make([]float32, (m-n)*C)...), m, C)
	xT := tensors.FromFlatDataAndDimensions(append(x[:len(x):len(x)], make([]float32, (m-n)*row)...), m, c.PredHorizon, c.ActionDim)
	tsv := make([]float32, len(plan)*m)
	for k, st := range plan {
		for i := range m {
			tsv[k*m+i] = float32(st.T)
		}
	}
	res, err := e.Call(condT, xT, tensors.FromFlatDataAndDimensions(z, len(plan), m, c.PredHorizon, c.ActionDim), tensors.FromFlatDataAndDimensions(tsv, len(plan), m))
	if err != nil {
		return fmt.Errorf("dp: %w", err)
	}
	out := tensors.MustCopyFlatData[float32](res[0])
	copy(x, out[:n*row])
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("dp: sampling (%d steps fused into one graph) gave %v at index %d (sample with Policy.Sampling = SampleOnHost to find the step)", len(plan), v, i)
		}
	}
	return nil
}
