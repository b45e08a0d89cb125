package denoiser

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
)

// MLPConfig is the size of the chapter's NoisePredictor.
type MLPConfig struct {
	// Hidden is the width of every hidden layer and of the timestep
	// embedding (the chapter's hidden_dim, 256).
	Hidden int `json:"hidden"`
}

// DefaultMLPConfig is the chapter's NoisePredictor: hidden_dim 256.
func DefaultMLPConfig() MLPConfig { return MLPConfig{Hidden: 256} }

// Validate reports the first problem of the configuration.
func (cfg MLPConfig) Validate() error {
	if cfg.Hidden < 4 || cfg.Hidden%2 != 0 {
		return fmt.Errorf("denoiser: MLPConfig.Hidden must be even and >= 4 (it is also the sinusoidal embedding's size), got %d", cfg.Hidden)
	}
	return nil
}

// MLPNumParams is the number of parameters of MLP for the given sizes.
func MLPNumParams(cfg MLPConfig, horizon, actionDim, condDim int) int {
	h, out := cfg.Hidden, horizon*actionDim
	return 2*linearParams(h, h) + // time_embed
		linearParams(out+condDim+h, h) + 2*linearParams(h, h) + linearParams(h, out) // net
}

// MLP is the chapter's NoisePredictor (section 4.2.3), as written there:
//
//	time_emb = time_embed(t)  SinusoidalEmbedding(Hidden) → Linear(Hidden→Hidden) → ReLU → Linear(Hidden→Hidden)
//	h = concat(flatten(x), c, time_emb)                        [batch, H·A + condDim + Hidden]
//	net: Linear(→Hidden), ReLU, Linear, ReLU, Linear, ReLU, Linear(Hidden → H·A)
//	→ reshaped [batch, H, A]
//
// with x [batch, H (horizon), A (actionDim)], t [batch] and c [batch,
// condDim] (nil for no condition). flatten(x) is row-major over (horizon,
// action), as PyTorch's flatten(1) of a [batch, horizon, action] tensor.
// Variables follow the chapter's module names: time_embed/1, time_embed/3,
// net/0, net/2, net/4, net/6, each with "weights" [in, out] and "biases"
// [out], initialized as PyTorch's nn.Linear.
func MLP(scope *model.Scope, cfg MLPConfig, x, t, c *Node) *Node {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	batch, horizon, actionDim := checkInputs("MLP", x, t, c)
	te := scope.In("time_embed")
	emb := SinusoidalEmbedding(ConvertDType(t, x.DType()), cfg.Hidden)
	emb = linear(te.In("1"), emb, cfg.Hidden)
	emb = activation.Relu(emb)
	emb = linear(te.In("3"), emb, cfg.Hidden)

	parts := []*Node{Reshape(x, batch, horizon*actionDim)}
	if c != nil {
		parts = append(parts, c)
	}
	h := Concatenate(append(parts, emb), -1)
	net := scope.In("net")
	for i := 0; i < 3; i++ {
		h = activation.Relu(linear(net.In("%d", 2*i), h, cfg.Hidden))
	}
	h = linear(net.In("6"), h, horizon*actionDim)
	return Reshape(h, batch, horizon, actionDim)
}

// checkInputs checks x [batch, horizon, actionDim], t [batch] and c
// [batch, condDim] (or nil) and returns batch, horizon and actionDim.
func checkInputs(fn string, x, t, c *Node) (batch, horizon, actionDim int) {
	if x.Rank() != 3 {
		panic(fmt.Errorf("denoiser: %s needs x shaped [batch, horizon, actionDim], got %s", fn, x.Shape()))
	}
	d := x.Shape().Dimensions
	batch, horizon, actionDim = d[0], d[1], d[2]
	if t.Rank() != 1 || t.Shape().Dimensions[0] != batch {
		panic(fmt.Errorf("denoiser: %s needs t shaped [batch=%d], got %s", fn, batch, t.Shape()))
	}
	if c != nil && (c.Rank() != 2 || c.Shape().Dimensions[0] != batch || c.DType() != x.DType()) {
		panic(fmt.Errorf("denoiser: %s needs c shaped [batch=%d, condDim] of x's dtype %s, got %s", fn, batch, x.DType(), c.Shape()))
	}
	return
}
