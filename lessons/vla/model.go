package vla

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // graph code reads best unqualified.
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/layers/attention"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"

	"github.com/policylab/policylab/lessons/lora"
)

// inputs are the network's inputs for a batch of B observations.
type inputs struct {
	images  *Node // float32 [B, ImageSize, ImageSize, 3] in [0, 1]; nil without image
	tokens  *Node // int32 [B, MaxTokens]
	tmask   *Node // float32 [B, MaxTokens]: 1 for real tokens, 0 for padding
	proprio *Node // float32 [B, ProprioDim], normalized
	objects *Node // float32 [B, NumObjects, ObjectDim], normalized
	present *Node // float32 [B, NumObjects]: 1 for objects in the scene
}

// Segments of the sequence, for the segment embedding.
const (
	segReadout = iota
	segImage
	segText
	segProprio
	segObject
	numSegments
)

// param is a variable initialised N(0, 0.02²) (BERT's and ViT's).
func param(s *model.Scope, name string, dims ...int) *model.Variable {
	return s.WithInitializer(initializer.RandomNormalFn(s, 0.02)).
		VariableWithShape(name, shapes.Make(dtypes.Float32, dims...))
}

// network maps a batch to the readout token's final state [B, Dim].
func (c Config) network(s *model.Scope, in inputs) *Node {
	g := in.tokens.Graph()
	B := in.tokens.Shape().Dimensions[0]
	D := c.Dim
	seg := param(s, "segment", numSegments, D).NodeValue(g) // [segments, D]
	segment := func(i int) *Node { return Reshape(Slice(seg, AxisElem(i)), 1, 1, D) }

	var parts, masks []*Node
	// [ACT]: the readout token.
	readout := Reshape(param(s, "readout", D).NodeValue(g), 1, 1, D)
	parts = append(parts, Add(BroadcastToDims(readout, B, 1, D), segment(segReadout)))
	masks = append(masks, Ones(g, shapes.Make(dtypes.Float32, B, 1)))

	if c.ImageSize > 0 {
		// A ViT's patch embedding (Dosovitskiy et al. 2021): cut the
		// image into P×P patches, flatten each, project it linearly.
		n, P := c.ImageSize/c.PatchSize, c.PatchSize
		x := Reshape(in.images, B, n, P, n, P, 3)
		x = TransposeAllDims(x, 0, 1, 3, 2, 4, 5)              // [B, n, n, P, P, 3]
		x = Reshape(x, B, n*n, P*P*3)                          // [B, patches, P·P·3]
		x = lora.Dense(s.In("patch"), x, D, c.LoRA)            // [B, patches, D]
		pos := param(s, "patch_position", n*n, D).NodeValue(g) // [patches, D]
		parts = append(parts, Add(Add(x, InsertAxes(pos, 0)), segment(segImage)))
		masks = append(masks, Ones(g, shapes.Make(dtypes.Float32, B, n*n)))
	}

	// Instruction tokens: an embedding table, learned positions.
	table := param(s, "token_embedding", c.VocabSize, D).NodeValue(g)                                       // [vocab, D]
	text := DotGeneral(OneHot(in.tokens, c.VocabSize, dtypes.Float32), []int{2}, nil, table, []int{0}, nil) // [B, T, D]
	tpos := param(s, "token_position", c.MaxTokens, D).NodeValue(g)                                         // [T, D]
	parts = append(parts, Add(Add(text, InsertAxes(tpos, 0)), segment(segText)))
	tmask := in.tmask
	if c.IgnoreInstruction {
		tmask = ZerosLike(tmask)
	}
	masks = append(masks, tmask)

	// Proprioception: one token.
	p := lora.Dense(s.In("proprio"), in.proprio, D, c.LoRA) // [B, D]
	parts = append(parts, Add(InsertAxes(p, 1), segment(segProprio)))
	masks = append(masks, Ones(g, shapes.Make(dtypes.Float32, B, 1)))

	if c.ObjectTokens {
		o := lora.Dense(s.In("object"), in.objects, D, c.LoRA) // [B, objects, D]
		parts = append(parts, Add(o, segment(segObject)))
		masks = append(masks, in.present)
	}

	x := Concatenate(parts, 1)                                                // [B, L, D]
	mask := GreaterThan(Concatenate(masks, 1), ScalarZero(g, dtypes.Float32)) // [B, L] bool
	mask = Reshape(mask, B, 1, 1, -1)                                         // [B, q=1, heads=1, L]: keys to attend
	for i := 0; i < c.Layers; i++ {
		x = c.block(s.In("block%d", i), x, mask)
	}
	x = layerNorm(s.In("final_norm"), x)
	return Reshape(Slice(x, AxisRange(), AxisElem(0)), B, D) // the readout token [B, D]
}

// block is a pre-norm transformer block (Xiong et al. 2020; GPT-2, ViT):
//
//	x = x + o(attention(q(LN x), k(LN x), v(LN x)))
//	x = x + fc2(GELU(fc1(LN x)))
//
// x: [B, L, Dim]; mask: bool [B, 1, 1, L], the keys each query may read.
func (c Config) block(s *model.Scope, x, mask *Node) *Node {
	dims := x.Shape().Dimensions
	B, L, D := dims[0], dims[1], dims[2]
	H := c.Heads
	h := layerNorm(s.In("norm1"), x)
	q := Reshape(lora.Dense(s.In("q"), h, D, c.LoRA), B, L, H, D/H) // [B, L, heads, head dim]
	k := Reshape(lora.Dense(s.In("k"), h, D, c.LoRA), B, L, H, D/H)
	v := Reshape(lora.Dense(s.In("v"), h, D, c.LoRA), B, L, H, D/H)
	att, _ := attention.Core(q, k, v, attention.LayoutBSHD, attention.CoreOptions{AttentionMask: mask})
	x = Add(x, lora.Dense(s.In("o"), Reshape(att, B, L, D), D, c.LoRA))
	h = layerNorm(s.In("norm2"), x)
	h = activation.Gelu(lora.Dense(s.In("fc1"), h, D*c.MLPRatio, c.LoRA))
	return Add(x, lora.Dense(s.In("fc2"), h, D, c.LoRA))
}

// layerNorm normalizes the last axis to zero mean and unit variance, then
// scales and shifts it (Ba et al. 2016), eps 1e-5 as PyTorch.
func layerNorm(s *model.Scope, x *Node) *Node {
	g := x.Graph()
	D := x.Shape().Dimensions[x.Rank()-1]
	gain := s.WithInitializer(initializer.One).VariableWithShape("gain", shapes.Make(x.DType(), D)).NodeValue(g)
	bias := s.WithInitializer(initializer.Zero).VariableWithShape("bias", shapes.Make(x.DType(), D)).NodeValue(g)
	mean := ReduceAndKeep(x, ReduceMean, -1)
	d := Sub(x, mean)
	variance := ReduceAndKeep(Square(d), ReduceMean, -1)
	y := Div(d, Sqrt(AddScalar(variance, 1e-5))) // (Rsqrt has no gradient in GoMLX v0.28.16)
	return Add(Mul(y, ExpandLeftToRank(gain, x.Rank())), ExpandLeftToRank(bias, x.Rank()))
}

// head maps the readout [B, Dim] to the action outputs: regression
// [B, Chunk·ActionDim]; bins: logits [B, Chunk·ActionDim, Bins].
//
// Departure from the chapter, whose action head is Linear(hidden, 256),
// ReLU, Linear(256, action): there it is 0.02% of OpenVLA-7B; at our
// width a 256-wide head would be a fifth of the model, and fine-tuning
// "adapters and head" would no longer train a small share. The regression
// head is one linear layer.
//
// Departure from OpenVLA, whose action tokens come out of the language
// model's vocabulary head one at a time: here each of the Chunk·ActionDim
// slots adds its own learned query to the readout, and one shared layer
// maps that to the slot's bin logits, all at once.
func (c Config) head(s *model.Scope, readout *Node) *Node {
	n := c.Chunk * c.ActionDim
	if c.Head == HeadRegression {
		return lora.Dense(s.In("head"), readout, n, c.LoRA)
	}
	g := readout.Graph()
	hs := s.In("head")
	queries := param(hs, "slot_query", n, c.Dim).NodeValue(g) // [slots, Dim]
	h := Add(InsertAxes(readout, 1), InsertAxes(queries, 0))  // [B, slots, Dim]
	h = activation.Gelu(layerNorm(hs.In("norm"), h))
	logits := lora.Dense(hs, h, c.Bins, c.LoRA) // [B, slots, Bins]
	return logits
}

// loss is the head's training loss: target is [B, Chunk·ActionDim],
// normalized actions (regression) or int32 bin indices (bins).
func (c Config) loss(out, target *Node) *Node {
	if c.Head == HeadRegression {
		d := Sub(out, target)
		if c.Loss == "l1" {
			return ReduceAllMean(Abs(d))
		}
		return ReduceAllMean(Square(d))
	}
	logp := LogSoftmax(out, -1)                                 // [B, slots, Bins]
	onehot := OneHot(target, c.Bins, dtypes.Float32)            // [B, slots, Bins]
	return Neg(ReduceAllMean(ReduceSum(Mul(onehot, logp), -1))) // mean cross-entropy per slot
}

// predict turns head outputs into normalized regression values or bin
// indices as float32: [B, Chunk·ActionDim].
func (c Config) predict(out *Node) *Node {
	if c.Head == HeadRegression {
		return out
	}
	return ConvertDType(ArgMax(out, -1, dtypes.Int32), dtypes.Float32)
}
