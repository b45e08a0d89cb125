package paradigms

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // graph code reads best unqualified.
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/policylab/policylab/lessons/dense"
)

// Scope names of the five modules of the architecture, in diagram order.
// ParamCounts groups the GoMLX variables by these names.
const (
	ScopeVision   = "vision"
	ScopeLanguage = "language"
	ScopeState    = "state"
	ScopeFusion   = "fusion"
	ScopeHead     = "head"
)

// moduleScopes lists the module scopes in diagram order.
var moduleScopes = []string{ScopeVision, ScopeLanguage, ScopeState, ScopeFusion, ScopeHead}

// policyGraph is the whole architecture of the chapter's diagram.
//
//	images:  float32 [batch, height, width, channels]
//	tokens:  int32   [batch, tokens]
//	mask:    float32 [batch, tokens]
//	proprio: float32 [batch, proprio]
//	result:  float32 [batch, action]
func policyGraph(s *model.Scope, cfg ArchConfig, images, tokens, mask, proprio *Node) *Node {
	v := visionEncoder(s.In(ScopeVision), cfg, images)
	l := languageEncoder(s.In(ScopeLanguage), cfg, tokens, mask)
	p := stateEncoder(s.In(ScopeState), cfg, proprio)
	f := fusion(s.In(ScopeFusion), cfg, v, l, p)
	return policyHead(s.In(ScopeHead), cfg, f)
}

// visionEncoder maps images [batch, height, width, channels] to
// [batch, VisionChannels[last]]: strided 3x3 convolutions with ReLU, each
// halving height and width, then a global mean over the spatial axes.
func visionEncoder(s *model.Scope, cfg ArchConfig, images *Node) *Node {
	x := images
	for i, ch := range cfg.VisionChannels {
		x = layers.Convolution(s.In("conv%d", i), x).
			Filters(ch).KernelSize(3).Strides(2).PadSame().Done()
		x = activation.Relu(x) // [batch, height/2^(i+1), width/2^(i+1), ch]
	}
	return ReduceMean(x, 1, 2) // [batch, channels]
}

// languageEncoder maps tokens int32 [batch, tokens] and mask float32
// [batch, tokens] to [batch, TextDim]: embed each token
// ([batch, tokens, TextDim]), average the embeddings of the real tokens
// (mask 1), then a linear Dense layer.
func languageEncoder(s *model.Scope, cfg ArchConfig, tokens, mask *Node) *Node {
	emb := layers.Embedding(s.In("embed"), tokens, dtypes.Float32, cfg.VocabSize, cfg.TextDim)
	m := InsertAxes(mask, -1)                                // [batch, tokens, 1]
	sum := ReduceSum(Mul(emb, m), 1)                         // [batch, TextDim]
	count := Max(ReduceSum(m, 1), OnesLike(ReduceSum(m, 1))) // [batch, 1], at least 1
	pooled := Div(sum, count)                                // [batch, TextDim]
	return dense.Layer(s.In("proj"), pooled, cfg.TextDim)    // [batch, TextDim]
}

// stateEncoder maps proprio [batch, ProprioDim] to [batch, StateDim] with a
// two-layer MLP: Dense StateDim + ReLU, then Dense StateDim.
func stateEncoder(s *model.Scope, cfg ArchConfig, proprio *Node) *Node {
	h := activation.Relu(dense.Layer(s.In("hidden"), proprio, cfg.StateDim))
	return dense.Layer(s.In("out"), h, cfg.StateDim)
}

// fusion concatenates the three encodings along the feature axis,
// [batch, vision + TextDim + StateDim], and maps them to [batch, FusionDim]
// with Dense + ReLU.
func fusion(s *model.Scope, cfg ArchConfig, vision, language, state *Node) *Node {
	x := Concatenate([]*Node{vision, language, state}, -1)
	return activation.Relu(dense.Layer(s.In("layer"), x, cfg.FusionDim))
}

// policyHead maps the fused feature [batch, FusionDim] to the action
// [batch, ActionDim]: Dense HeadDim + ReLU, then a linear Dense ActionDim.
func policyHead(s *model.Scope, cfg ArchConfig, fused *Node) *Node {
	h := activation.Relu(dense.Layer(s.In("hidden"), fused, cfg.HeadDim))
	return dense.Layer(s.In("action"), h, cfg.ActionDim)
}
