// Package lora is low-rank adaptation (Hu et al. 2021, "LoRA: Low-Rank
// Adaptation of Large Language Models"), the fine-tuning of section 4.2.4:
// a frozen linear layer W [in, out] gains a trainable update
//
//	y = x·W + b + (α/r) · dropout(x)·Aᵀ·Bᵀ,   A [r, in], B [out, r]
//
// with B zero-initialised, so a fresh adapter leaves the model as it was,
// and A drawn as PyTorch's PEFT draws it (Kaiming-uniform with a = √5).
// Only A and B train: r·(in + out) parameters instead of in·out.
//
// Dense is the linear layer models build with; it adds an adapter where a
// Config targets the layer's scope name ("q" and "v" as the chapter's
// q_proj and v_proj). Freeze marks everything else untrainable. Save and
// Load keep adapters apart from the base checkpoint, in safetensors, named
// after the base weights they adapt. Merge folds adapters into the base
// weights for inference.
package lora

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"

	"github.com/policylab/policylab/lessons/dense"
)

// Config of the adapters.
type Config struct {
	// Rank r of the update (the chapter: 8).
	Rank int `json:"rank"`
	// Alpha scales the update by Alpha/Rank (the chapter: 16).
	Alpha float64 `json:"alpha"`
	// Dropout on the adapter's input while training (the chapter: 0.1).
	Dropout float64 `json:"dropout"`
	// Targets are the scope names of the layers that get adapters ("q",
	// "v"); empty means every layer built by Dense.
	Targets []string `json:"targets"`
	// Arithmetic, when set, computes the adapted layers and the merge in
	// place of this package's own (an exercise plugs a student's functions
	// in here). It is not saved: a Config read back by Load has none.
	Arithmetic *Arithmetic `json:"-"`
}

// Arithmetic is the arithmetic of LoRA, for Config.Arithmetic: other code
// standing in for this package's, with everything else (variables,
// initialisation, dropout, Freeze, Save, Load) kept. A nil field keeps the
// package's own.
type Arithmetic struct {
	// Forward is an adapted layer,
	//
	//	y = x·W + bias + scale·(x·Aᵀ)·Bᵀ,
	//
	// x [..., in], W [in, out], bias [out], A [r, in], B [out, r],
	// scale = α/r → y [..., out]. With dropout in effect, Dense calls it
	// on the dropped-out input xd and adds (x − xd)·W, so that the base
	// path sees x and the adapter xd (the result is linear in the input).
	Forward func(x, w, bias, a, b *Node, scale float64) *Node
	// Merge returns W + scale·(B·A)ᵀ, every matrix flat in row-major
	// order: w [in·out] (W [in, out]), a [r·in] (A [r, in]), b [out·r]
	// (B [out, r]) → [in·out]. It may reuse w's storage.
	Merge func(w, a, b []float32, in, out, r int, scale float64) []float32
}

// ChapterConfig is the chapter's LoraConfig: r 8, alpha 16, dropout 0.1,
// on the query and value projections.
func ChapterConfig() Config {
	return Config{Rank: 8, Alpha: 16, Dropout: 0.1, Targets: []string{"q", "v"}}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Rank < 1:
		return fmt.Errorf("lora: Rank = %d, must be >= 1", c.Rank)
	case !(c.Alpha > 0) || math.IsInf(c.Alpha, 0):
		return fmt.Errorf("lora: Alpha = %v, must be > 0 and finite", c.Alpha)
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return fmt.Errorf("lora: Dropout = %v, must be in [0, 1)", c.Dropout)
	}
	return nil
}

// Scale is α/r.
func (c Config) Scale() float64 { return c.Alpha / float64(c.Rank) }

// Targets reports whether a layer named name gets an adapter.
func (c Config) targets(name string) bool {
	return len(c.Targets) == 0 || slices.Contains(c.Targets, name)
}

// Variable names, under the adapted layer's scope.
const (
	Weights = "weights" // base weights [in, out]
	Biases  = "biases"  // base biases [out]
	Scope   = "lora"    // the adapter's sub-scope: "A" [r, in] and "B" [out, r]
)

// Dense is a linear layer on the last axis, x [..., in] → [..., out], with
// variables Weights [in, out] and Biases [out] in scope (initialised
// U(−1/√in, 1/√in), PyTorch's nn.Linear). When cfg is not nil and targets
// the scope's name, it adds the LoRA update, its variables in scope
// "lora". Dropout applies when the graph is training. cfg.Arithmetic, when
// set, computes the adapted layer.
func Dense(scope *model.Scope, x *Node, out int, cfg *Config) *Node {
	dims := x.Shape().Dimensions
	in := dims[len(dims)-1]
	g := x.Graph()
	bound := 1 / math.Sqrt(float64(in))
	uni := uniform(scope, bound)
	w := scope.WithInitializer(uni).VariableWithShape(Weights, shapes.Make(x.DType(), in, out)).NodeValue(g)
	b := scope.WithInitializer(uni).VariableWithShape(Biases, shapes.Make(x.DType(), out)).NodeValue(g)
	adapted := cfg != nil && cfg.targets(lastName(scope))
	if adapted && cfg.Arithmetic != nil && cfg.Arithmetic.Forward != nil {
		s := scope.In(Scope)
		a, bm := adapter(s, x, in, out, *cfg)
		xd := layers.DropoutStatic(s, x, cfg.Dropout) // x itself unless training
		y := cfg.Arithmetic.Forward(xd, w, b, a, bm, cfg.Scale())
		if xd != x {
			y = Add(y, dense.MatMul(Sub(x, xd), w))
		}
		return y
	}
	y := Add(dense.MatMul(x, w), ExpandLeftToRank(b, x.Rank()))
	if !adapted {
		return y
	}
	return Add(y, update(scope.In(Scope), x, in, out, *cfg))
}

// adapter returns the adapter's variables A [r, in] and B [out, r] in
// scope, created when new.
func adapter(scope *model.Scope, x *Node, in, out int, cfg Config) (a, b *Node) {
	g := x.Graph()
	// PEFT: kaiming_uniform_(A, a=√5), i.e. U(−1/√in, 1/√in); B = 0.
	a = scope.WithInitializer(uniform(scope, 1/math.Sqrt(float64(in)))).
		VariableWithShape("A", shapes.Make(x.DType(), cfg.Rank, in)).SetTrainable(true).NodeValue(g)
	b = scope.WithInitializer(initializer.Zero).VariableWithShape("B", shapes.Make(x.DType(), out, cfg.Rank)).SetTrainable(true).NodeValue(g)
	return a, b
}

// update is (α/r)·dropout(x)·Aᵀ·Bᵀ: [..., out].
func update(scope *model.Scope, x *Node, in, out int, cfg Config) *Node {
	a, b := adapter(scope, x, in, out, cfg)
	x = layers.DropoutStatic(scope, x, cfg.Dropout) // a no-op unless training

	h := DotGeneral(x, []int{x.Rank() - 1}, nil, a, []int{1}, nil) // [..., r]
	u := DotGeneral(h, []int{h.Rank() - 1}, nil, b, []int{1}, nil) // [..., out]
	return MulScalar(u, cfg.Scale())
}

// lastName is the last element of the scope's path ("/vla/block0/q" → "q").
func lastName(scope *model.Scope) string {
	p := strings.TrimRight(scope.Scope(), model.ScopeSeparator)
	if i := strings.LastIndex(p, model.ScopeSeparator); i >= 0 {
		return p[i+len(model.ScopeSeparator):]
	}
	return p
}

// uniform initializes U(−bound, bound) from the store's random state.
func uniform(scope *model.Scope, bound float64) model.VariableInitializer {
	store := scope.Store()
	return func(g *Graph, shape shapes.Shape) *Node {
		u := store.RandomUniform(g, shape) // [0, 1)
		return MulScalar(AddScalar(MulScalar(u, 2), -1), bound)
	}
}
