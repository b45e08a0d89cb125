// Package denoiser holds the two noise predictors of Diffusion Policy
// (Chi et al., "Diffusion Policy: Visuomotor Policy Learning via Action
// Diffusion", RSS 2023, https://arxiv.org/abs/2303.04137) as GoMLX graph
// functions:
//
//   - MLP is the chapter's NoisePredictor (section 4.2.3): the action
//     sequence is flattened and concatenated with the condition and a
//     timestep embedding, then a 4-layer ReLU MLP predicts the flattened
//     noise.
//   - UNet1D is Diffusion Policy's CNN noise predictor, ConditionalUnet1D: a
//     1-D temporal U-Net over the action sequence whose residual blocks are
//     conditioned on the timestep and the observation by FiLM (Perez et al.,
//     "FiLM: Visual Reasoning with a General Conditioning Layer", AAAI 2018,
//     https://arxiv.org/abs/1709.07871).
//
// Both take the same inputs and return the same shape:
//
//	x [batch, horizon, actionDim]  the noisy action sequence a^k
//	t [batch]                      the diffusion step k, as float values 0..T−1
//	c [batch, condDim]             the condition (encoded observations)
//	→ ε̂ [batch, horizon, actionDim] the predicted noise
//
// The observation encoder that produces c (the chapter's obs_encoder,
// Linear → ReLU → Linear, or Diffusion Policy's stacked observations) lives
// in the policy, not here.
//
// # Layout
//
// We keep channels last: sequences are [batch, horizon, channels], while
// Diffusion Policy's PyTorch code rearranges them to [batch, channels,
// horizon] for nn.Conv1d. Convolution kernels are [kernel, in, out]
// (PyTorch's nn.Conv1d weight [out, in, k] is w.permute(2, 1, 0), an
// nn.ConvTranspose1d weight [in, out, k] is w.permute(2, 0, 1)); dense
// weights are [in, out] (PyTorch's nn.Linear weight transposed). The
// convolutions are package conv's (patch extraction and matrix products on
// GoMLX's pure-Go backend, graph.Convolve elsewhere).
//
// # Initialization
//
// Every layer starts as PyTorch's defaults do, so that training behaves as
// the paper's: nn.Linear, nn.Conv1d and nn.ConvTranspose1d draw weights from
// kaiming_uniform(a=√5), i.e. U(−1/√fan_in, 1/√fan_in), and biases from the
// same range; GroupNorm starts at scale 1, offset 0.
package denoiser

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/policylab/policylab/lessons/lora"
)

// SinusoidalEmbedding is the chapter's (and Diffusion Policy's)
// SinusoidalPosEmb, the transformer's positional encoding (Vaswani et al.
// 2017) applied to the diffusion step: t [batch] → [batch, dim] with
//
//	half = dim/2, freq_i = exp(−i·ln(10000)/(half−1)), i = 0..half−1
//	emb[b] = concat(sin(t[b]·freq), cos(t[b]·freq))
//
// dim must be even and at least 4 (half−1 divides). The frequencies are
// computed in float64 and rounded to t's dtype; an integer t is converted
// to float32.
func SinusoidalEmbedding(t *Node, dim int) *Node {
	if dim < 4 || dim%2 != 0 {
		panic(fmt.Errorf("denoiser: SinusoidalEmbedding needs an even dim >= 4, got %d", dim))
	}
	if t.Rank() != 1 {
		panic(fmt.Errorf("denoiser: SinusoidalEmbedding needs t shaped [batch], got %s", t.Shape()))
	}
	if !t.DType().IsFloat() {
		t = ConvertDType(t, dtypes.Float32)
	}
	half := dim / 2
	freqs := make([]float64, half)
	step := math.Log(10000) / float64(half-1)
	for i := range freqs {
		freqs[i] = math.Exp(-float64(i) * step)
	}
	f := ConvertDType(Const(t.Graph(), freqs), t.DType()) // [half]
	arg := Mul(InsertAxes(t, -1), InsertAxes(f, 0))       // [batch, half]
	return Concatenate([]*Node{Sin(arg), Cos(arg)}, -1)   // [batch, dim]
}

// Mish is Misra's activation ("Mish: A Self Regularized Non-Monotonic
// Activation Function", BMVC 2020), Diffusion Policy's nonlinearity:
//
//	Mish(x) = x · tanh(softplus(x)),  softplus(x) = ln(1 + eˣ)
//
// It is computed with one exponential: with e = eˣ and n = e·(e + 2),
// tanh(ln(1 + e)) = ((1+e)² − 1) / ((1+e)² + 1) = n / (n + 2). x is capped
// at 20 inside the exponential (n/(n+2) is 1 in float32 from about x = 9),
// and for very negative x, n/(n+2) ≈ e keeps its relative precision. On
// GoMLX's Go backend the textbook form (exp, log1p, tanh) took 14% of a
// U-Net's sampling time.
func Mish(x *Node) *Node {
	e := Exp(MinScalar(x, 20))
	n := Mul(e, AddScalar(e, 2))
	return Mul(x, Div(n, AddScalar(n, 2)))
}

// linear is PyTorch's nn.Linear on the last axis of x [..., in] → [..., out],
// variables "weights" [in, out] and "biases" [out], both initialized
// U(−1/√in, 1/√in): lora.Dense without adapters.
func linear(scope *model.Scope, x *Node, out int) *Node { return lora.Dense(scope, x, out, nil) }

// linearParams is the parameter count of linear: in·out + out.
func linearParams(in, out int) int { return in*out + out }

// torchUniform is PyTorch's default initialization of Linear and Conv
// weights (kaiming_uniform with a=√5) and biases: U(−1/√fanIn, 1/√fanIn).
func torchUniform(scope *model.Scope, fanIn int) model.VariableInitializer {
	store := scope.Store()
	bound := 1 / math.Sqrt(float64(fanIn))
	return func(g *Graph, shape shapes.Shape) *Node {
		u := store.RandomUniform(g, shape) // [0, 1)
		return MulScalar(AddScalar(MulScalar(u, 2), -1), bound)
	}
}
