package denoiser

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/policylab/policylab/lessons/conv"
	"github.com/policylab/policylab/lessons/resnet"
)

// UNetConfig is the size of Diffusion Policy's ConditionalUnet1D.
type UNetConfig struct {
	// DownDims are the channel counts of the U-Net's levels (down_dims):
	// [256, 512, 1024] in Diffusion Policy. Each level but the last halves
	// the horizon, so the horizon must be divisible by 2^(len(DownDims)−1).
	DownDims []int `json:"down_dims"`
	// KernelSize is the temporal kernel of every Conv1dBlock (odd, padded by
	// KernelSize/2 so the length is kept): 5 in Diffusion Policy's configs.
	KernelSize int `json:"kernel_size"`
	// Groups is the number of GroupNorm groups of every Conv1dBlock
	// (n_groups, 8); it must divide every entry of DownDims.
	Groups int `json:"groups"`
	// TimeEmbedDim is the size of the diffusion step embedding
	// (diffusion_step_embed_dim): 256 = DownDims[0] in Diffusion Policy.
	// Even and >= 4.
	TimeEmbedDim int `json:"time_embed_dim"`
	// CondPredictScale makes each residual block's FiLM predict a
	// per-channel scale and bias (out = scale·out + bias), as Diffusion
	// Policy's configs do (cond_predict_scale: True); false predicts a bias
	// only (out = out + bias).
	CondPredictScale bool `json:"cond_predict_scale"`
}

// DefaultUNetConfig is Diffusion Policy's CNN noise predictor as its
// low-dimensional configuration (train_diffusion_unet_lowdim_workspace.yaml)
// builds it: down_dims [256, 512, 1024], kernel_size 5, n_groups 8,
// diffusion_step_embed_dim 256, cond_predict_scale true. With actionDim 2 and a 40-dimensional condition
// (Push-T keypoints: 2 observation steps × 20) it has 65,783,298 parameters,
// see UNetNumParams.
func DefaultUNetConfig() UNetConfig {
	return UNetConfig{DownDims: []int{256, 512, 1024}, KernelSize: 5, Groups: 8, TimeEmbedDim: 256, CondPredictScale: true}
}

// Validate reports the first problem of the configuration.
func (cfg UNetConfig) Validate() error {
	if len(cfg.DownDims) == 0 {
		return fmt.Errorf("denoiser: UNetConfig.DownDims must list at least one level, got %v", cfg.DownDims)
	}
	if cfg.Groups <= 0 {
		return fmt.Errorf("denoiser: UNetConfig.Groups must be > 0, got %d", cfg.Groups)
	}
	for i, d := range cfg.DownDims {
		if d <= 0 {
			return fmt.Errorf("denoiser: UNetConfig.DownDims[%d] must be > 0, got %v", i, cfg.DownDims)
		}
		if d%cfg.Groups != 0 {
			return fmt.Errorf("denoiser: UNetConfig.DownDims[%d] = %d channels cannot be split into Groups = %d GroupNorm groups", i, d, cfg.Groups)
		}
	}
	if cfg.KernelSize <= 0 || cfg.KernelSize%2 == 0 {
		return fmt.Errorf("denoiser: UNetConfig.KernelSize must be odd and > 0 (padding KernelSize/2 keeps the length), got %d", cfg.KernelSize)
	}
	if cfg.TimeEmbedDim < 4 || cfg.TimeEmbedDim%2 != 0 {
		return fmt.Errorf("denoiser: UNetConfig.TimeEmbedDim must be even and >= 4, got %d", cfg.TimeEmbedDim)
	}
	return nil
}

// HorizonMultiple is what the horizon must be a multiple of:
// 2^(len(DownDims)−1), 4 for three levels.
func (cfg UNetConfig) HorizonMultiple() int { return 1 << (len(cfg.DownDims) - 1) }

// filmChannels is the FiLM output size of a residual block with out channels.
func (cfg UNetConfig) filmChannels(out int) int {
	if cfg.CondPredictScale {
		return 2 * out
	}
	return out
}

// UNetNumParams is the number of parameters of UNet1D for an action of
// actionDim values and a condition of condDim values (0: no condition),
// by formula: 65,783,298 for DefaultUNetConfig, actionDim 2, condDim 40.
// The horizon does not change it.
func UNetNumParams(cfg UNetConfig, actionDim, condDim int) int {
	k, D := cfg.KernelSize, cfg.TimeEmbedDim
	cond := D + condDim
	convBlock := func(in, out int) int { return k*in*out + out + 2*out } // conv + GroupNorm
	res := func(in, out int) int {
		n := convBlock(in, out) + convBlock(out, out) + linearParams(cond, cfg.filmChannels(out))
		if in != out {
			n += in*out + out // residual_conv, 1×1
		}
		return n
	}
	n := linearParams(D, 4*D) + linearParams(4*D, D) // diffusion_step_encoder
	dims := append([]int{actionDim}, cfg.DownDims...)
	L := len(cfg.DownDims)
	for i := 0; i < L; i++ {
		in, out := dims[i], dims[i+1]
		n += res(in, out) + res(out, out)
		if i < L-1 {
			n += 3*out*out + out // Downsample1d
		}
	}
	mid := dims[L]
	n += 2 * res(mid, mid)
	for i := L - 1; i >= 1; i-- {
		in, out := dims[i], dims[i+1]
		n += res(2*out, in) + res(in, in) + 4*in*in + in // Upsample1d
	}
	d0 := cfg.DownDims[0]
	n += convBlock(d0, d0) + d0*actionDim + actionDim // final_conv
	return n
}

// UNet1D is Diffusion Policy's ConditionalUnet1D (Chi et al. 2023, section
// III-B and appendix; real-stanford/diffusion_policy,
// model/diffusion/conditional_unet1d.py), a 1-D temporal U-Net (Janner et
// al., "Planning with Diffusion", ICML 2022) conditioned by FiLM:
//
//	x [batch, horizon, actionDim], t [batch], c [batch, condDim] → [batch, horizon, actionDim]
//
//	cond = concat(step_encoder(t), c)      step_encoder: SinusoidalEmbedding(TimeEmbedDim) →
//	                                       Linear(→4·TimeEmbedDim) → Mish → Linear(→TimeEmbedDim)
//	down level i (in→out over [actionDim]+DownDims):
//	    x = Res(in→out), Res(out→out); skip_i = x; x = Downsample1d(x) except at the last level
//	mid: x = Res(last→last), Res(last→last)
//	up, for the levels L−1..1 (in→out the level's pair):
//	    x = concat(x, skip_level) on channels; Res(2·out→in), Res(in→in); x = Upsample1d(x)
//	final: Conv1dBlock(DownDims[0]→DownDims[0]) → 1×1 Conv1d(→actionDim)
//
// where Res is ConditionalResidualBlock1D (see residualBlock), Conv1dBlock
// is Conv1d(KernelSize, pad KernelSize/2) → GroupNorm(Groups) → Mish,
// Downsample1d a Conv1d(k 3, stride 2, pad 1) and Upsample1d a
// ConvTranspose1d(k 4, stride 2, pad 1). Every up level upsamples (in
// Diffusion Policy's code the up path's is_last is never true), so
// there are as many upsamplings as downsamplings, and level 0's skip is
// never used. With DefaultUNetConfig and horizon 16, the sequence is 16
// long at level 0, 8 at level 1 and 4 at level 2 and in the middle.
//
// Departures from the paper's code: channels last (x is [batch, horizon,
// channels], PyTorch's code works on [batch, channels, horizon]); the final
// Conv1dBlock uses cfg.Groups where Diffusion Policy leaves its default of 8
// (the same in every configuration of the paper); c may be nil (no global
// condition, cond is then the step embedding alone).
//
// UNet1D panics with a clear message on an invalid configuration (call
// cfg.Validate for an error), on inputs of the wrong shape, and when the
// horizon is not divisible by cfg.HorizonMultiple() = 2^(len(DownDims)−1):
// the skip connections need every halving to be exact.
//
// Variables follow Diffusion Policy's module names under scope:
// diffusion_step_encoder/{1,3}, down_modules/<i>/{0,1} (residual blocks),
// down_modules/<i>/2/conv (Downsample1d), mid_modules/{0,1},
// up_modules/<j>/{0,1}, up_modules/<j>/2/conv (Upsample1d), final_conv/0
// (Conv1dBlock) and final_conv/1; inside a residual block blocks/{0,1}/block/0
// (conv: "weights" [k, in, out], "biases" [out]), blocks/{0,1}/block/1
// (GroupNorm: "scale", "offset"), cond_encoder/1 (FiLM Linear) and
// residual_conv.
func UNet1D(scope *model.Scope, cfg UNetConfig, x, t, c *Node) *Node {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	checkInputs("UNet1D", x, t, c)
	checkHorizon(cfg, x)
	cond := stepCondition(scope, cfg, t, c, x.DType())
	return unetTrunk(scope, cfg, x, func(s *model.Scope, out int) *Node {
		return film(s, cfg, cond, out)
	})
}

// UNetSteps is UNet1D over the steps of one sampling run, every step with
// the same global condition c [n, condDim] (nil: none) and its own
// timesteps ts[k] (ts [K, n]). The parts of the network that do not read
// x (the diffusion step encoder and every residual block's FiLM Linear)
// are computed once for all K steps, at batch K·n, by the first Step that
// needs them, rather than K times at batch n. On a GPU, where the latency
// of a small U-Net follows the number of kernels launched (about 130 per
// forward of the 32/64/128 U-Net at batch 1 on an H100), this takes 13 of
// the 14 Linears per step of the three-level U-Nets out of the loop and
// turns K matrix-vector products per layer into one matrix product.
// Step(k, x) equals UNet1D(x, ts[k], c) to float rounding.
//
// The nodes Step builds belong to the graph of ts; every Step must be
// called with the scope of the same variables (the Scope of UNet1D).
type UNetSteps struct {
	cfg   UNetConfig
	ts, c *Node
	cond  *Node            // [K·n, TimeEmbedDim+condDim], by the first Step
	films map[string]*Node // residual block scope → [K, n, filmChannels]
	root  string           // the first Step's scope: every Step reads its variables
}

// NewUNetSteps prepares the noise predictor of a sampling run of K =
// ts.Shape().Dimensions[0] steps over n rows: ts [K, n], c [n, condDim]
// or nil. It panics on an invalid configuration or shapes.
func NewUNetSteps(cfg UNetConfig, ts, c *Node) *UNetSteps {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if ts.Rank() != 2 {
		panic(fmt.Errorf("denoiser: UNetSteps needs timesteps shaped [steps, batch], got %s", ts.Shape()))
	}
	if c != nil && (c.Rank() != 2 || c.Shape().Dimensions[0] != ts.Shape().Dimensions[1]) {
		panic(fmt.Errorf("denoiser: UNetSteps needs a condition shaped [batch, condDim] with the batch of the timesteps %s, got %s", ts.Shape(), c.Shape()))
	}
	return &UNetSteps{cfg: cfg, ts: ts, c: c, films: map[string]*Node{}}
}

// Step is the noise prediction of step k (0 <= k < K) for x [n, horizon,
// actionDim] → [n, horizon, actionDim], with the variables under scope.
func (u *UNetSteps) Step(scope *model.Scope, k int, x *Node) *Node {
	K, n := u.ts.Shape().Dimensions[0], u.ts.Shape().Dimensions[1]
	if k < 0 || k >= K {
		panic(fmt.Errorf("denoiser: UNetSteps.Step(%d) of a run of %d steps", k, K))
	}
	if x.Rank() != 3 || x.Shape().Dimensions[0] != n || (u.c != nil && u.c.DType() != x.DType()) {
		panic(fmt.Errorf("denoiser: UNetSteps.Step needs x shaped [batch=%d, horizon, actionDim] of the condition's dtype, got %s", n, x.Shape()))
	}
	checkHorizon(u.cfg, x)
	if u.cond != nil && scope.Scope() != u.root {
		panic(fmt.Errorf("denoiser: UNetSteps.Step(%d) with the variables of scope %q, the run's first step used %q: the step encoder and FiLM are computed once, from one set of weights", k, scope.Scope(), u.root))
	}
	if u.cond == nil {
		u.root = scope.Scope()
		c := u.c
		if c != nil { // [n, C] → [K·n, C], row k·n+i is c[i]
			c = Reshape(BroadcastToDims(InsertAxes(c, 0), append([]int{K}, c.Shape().Dimensions...)...), K*n, c.Shape().Dimensions[1])
		}
		u.cond = stepCondition(scope, u.cfg, Reshape(u.ts, K*n), c, x.DType())
	}
	return unetTrunk(scope, u.cfg, x, func(s *model.Scope, out int) *Node {
		f, ok := u.films[s.Scope()]
		if !ok {
			f = film(s, u.cfg, u.cond, out)
			f = Reshape(f, K, n, f.Shape().Dimensions[1])
			u.films[s.Scope()] = f
		}
		return Squeeze(Slice(f, AxisElem(k)), 0)
	})
}

// checkHorizon panics unless x's horizon halves exactly at every level.
func checkHorizon(cfg UNetConfig, x *Node) {
	horizon, L := x.Shape().Dimensions[1], len(cfg.DownDims)
	if m := cfg.HorizonMultiple(); horizon%m != 0 {
		panic(fmt.Errorf("denoiser: UNet1D needs a horizon divisible by 2^(levels−1) = %d (%d DownDims levels halve it %d times), got horizon %d",
			m, L, L-1, horizon))
	}
}

// stepCondition is the global condition of every residual block's FiLM:
// concat(step_encoder(t), c), t [batch] → [batch, TimeEmbedDim+condDim].
func stepCondition(scope *model.Scope, cfg UNetConfig, t, c *Node, dtype dtypes.DType) *Node {
	se := scope.In("diffusion_step_encoder")
	D := cfg.TimeEmbedDim
	cond := SinusoidalEmbedding(ConvertDType(t, dtype), D)
	cond = linear(se.In("1"), cond, 4*D)
	cond = Mish(cond)
	cond = linear(se.In("3"), cond, D)
	if c != nil {
		cond = Concatenate([]*Node{cond, c}, -1)
	}
	return cond
}

// film is the FiLM of the residual block at scope with out channels:
// Linear(Mish(cond)), cond_encoder/1, [batch, filmChannels(out)].
func film(scope *model.Scope, cfg UNetConfig, cond *Node, out int) *Node {
	return linear(scope.In("cond_encoder").In("1"), Mish(cond), cfg.filmChannels(out))
}

// unetTrunk is the part of UNet1D that reads x: the levels, the middle,
// the way up and the final convolution, with filmOf giving the FiLM
// [batch, filmChannels] of the residual block at a scope.
func unetTrunk(scope *model.Scope, cfg UNetConfig, x *Node, filmOf func(s *model.Scope, out int) *Node) *Node {
	actionDim := x.Shape().Dimensions[2]
	L := len(cfg.DownDims)
	dims := append([]int{actionDim}, cfg.DownDims...)
	down := scope.In("down_modules")
	skips := make([]*Node, L)
	for i := 0; i < L; i++ {
		s := down.In("%d", i)
		out := dims[i+1]
		x = residualBlock(s.In("0"), cfg, x, filmOf, out)
		x = residualBlock(s.In("1"), cfg, x, filmOf, out)
		skips[i] = x
		if i < L-1 {
			x = conv1d(s.In("2").In("conv"), x, out, 3, 2, 1) // Downsample1d
		}
	}

	mid := scope.In("mid_modules")
	x = residualBlock(mid.In("0"), cfg, x, filmOf, dims[L])
	x = residualBlock(mid.In("1"), cfg, x, filmOf, dims[L])

	up := scope.In("up_modules")
	for j, i := 0, L-1; i >= 1; j, i = j+1, i-1 {
		s := up.In("%d", j)
		in := dims[i]
		x = Concatenate([]*Node{x, skips[i]}, -1)
		x = residualBlock(s.In("0"), cfg, x, filmOf, in)
		x = residualBlock(s.In("1"), cfg, x, filmOf, in)
		x = convTranspose1d(s.In("2").In("conv"), x, in, 4, 2, 1) // Upsample1d
	}

	final := scope.In("final_conv")
	x = conv1dBlock(final.In("0"), cfg, x, cfg.DownDims[0])
	return conv1d(final.In("1"), x, actionDim, 1, 1, 0)
}

// residualBlock is Diffusion Policy's ConditionalResidualBlock1D:
// x [batch, length, in] → [batch, length, out], with filmOf(scope, out)
// the block's FiLM [batch, filmChannels(out)] (see film),
//
//	h = Conv1dBlock(x)                             blocks/0
//	film = Linear(Mish(cond))                      cond_encoder/1: [batch, 2·out] or [batch, out]
//	h = scale·h + bias  (scale, bias = film[:, :out], film[:, out:]; or h + film)
//	h = Conv1dBlock(h)                             blocks/1
//	return h + residual(x)                         residual_conv: 1×1 Conv1d if in ≠ out, else identity
//
// scale and bias are per example and channel, broadcast over the length.
func residualBlock(scope *model.Scope, cfg UNetConfig, x *Node, filmOf func(s *model.Scope, out int) *Node, out int) *Node {
	in := x.Shape().Dimensions[2]
	blocks := scope.In("blocks")
	h := conv1dBlock(blocks.In("0"), cfg, x, out)
	film := InsertAxes(filmOf(scope, out), 1) // [batch, 1, channels]: broadcast over the length
	if cfg.CondPredictScale {
		scale := Slice(film, AxisRange(), AxisRange(), AxisRange(0, out))
		bias := Slice(film, AxisRange(), AxisRange(), AxisRange(out, 2*out))
		h = Add(Mul(scale, h), bias)
	} else {
		h = Add(h, film)
	}
	h = conv1dBlock(blocks.In("1"), cfg, h, out)
	residual := x
	if in != out {
		residual = conv1d(scope.In("residual_conv"), x, out, 1, 1, 0)
	}
	return Add(h, residual)
}

// conv1dBlock is Diffusion Policy's Conv1dBlock: Conv1d(KernelSize, pad
// KernelSize/2) → GroupNorm(Groups) → Mish, [batch, length, in] → [batch,
// length, out]; variables block/0 (conv) and block/1 (GroupNorm).
func conv1dBlock(scope *model.Scope, cfg UNetConfig, x *Node, out int) *Node {
	b := scope.In("block")
	h := conv1d(b.In("0"), x, out, cfg.KernelSize, 1, cfg.KernelSize/2)
	h = resnet.GroupNormalization(b.In("1"), h, cfg.Groups, resnet.Epsilon)
	return Mish(h)
}

// conv1d is PyTorch's nn.Conv1d(in, out, k, stride, pad) with bias on
// channels-last x [batch, length, in] → [batch, ⌊(length+2·pad−k)/stride⌋+1,
// out]: variables "weights" [k, in, out] and "biases" [out], initialized
// U(−1/√(in·k), 1/√(in·k)).
func conv1d(scope *model.Scope, x *Node, out, k, stride, pad int) *Node {
	in := x.Shape().Dimensions[2]
	g := x.Graph()
	init := scope.WithInitializer(torchUniform(scope, in*k))
	w := init.VariableWithShape("weights", shapes.Make(x.DType(), k, in, out)).NodeValue(g)
	b := init.VariableWithShape("biases", shapes.Make(x.DType(), out)).NodeValue(g)
	return Add(convolve1D(x, w, stride, pad), Reshape(b, 1, 1, out))
}

// convTranspose1d is PyTorch's nn.ConvTranspose1d(in, out, k, stride, pad)
// with bias on channels-last x [batch, length, in] → [batch,
// (length−1)·stride − 2·pad + k, out]: variables "weights" [k, in, out] and
// "biases" [out]. PyTorch computes the fan-in of a transposed convolution
// from its weight [in, out, k] as out·k, which is what the initialization
// U(−1/√(out·k), 1/√(out·k)) uses.
func convTranspose1d(scope *model.Scope, x *Node, out, k, stride, pad int) *Node {
	in := x.Shape().Dimensions[2]
	g := x.Graph()
	init := scope.WithInitializer(torchUniform(scope, out*k))
	w := init.VariableWithShape("weights", shapes.Make(x.DType(), k, in, out)).NodeValue(g)
	b := init.VariableWithShape("biases", shapes.Make(x.DType(), out)).NodeValue(g)
	return Add(convolveTranspose1D(x, w, stride, pad), Reshape(b, 1, 1, out))
}

// convolve1D and convolveTranspose1D are the one place where the U-Net's
// convolutions are computed: package conv (patch extraction on the pure-Go
// backend, graph.Convolve on XLA).
func convolve1D(x, w *Node, stride, pad int) *Node { return conv.Conv1D(x, w, stride, pad) }

func convolveTranspose1D(x, w *Node, stride, pad int) *Node {
	return conv.ConvTranspose1D(x, w, stride, pad, 0)
}
