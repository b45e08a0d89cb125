// Package vla is section 4.2.4's vision-language-action policy at a scale
// that trains on a laptop, and its LoRA fine-tuning.
//
// The chapter puts an action head on OpenVLA-7B (a ViT image encoder and
// a Llama-2 language model) and adapts it with LoRA on the attention's
// query and value projections. This package builds the same kind of model
// small: one transformer reads every input as tokens,
//
//	[ACT] readout token                       1
//	image patches (a small ViT's embedding)   (ImageSize/PatchSize)²
//	instruction tokens (WordPiece)            MaxTokens, padding masked
//	proprioception token                      1: joint positions, velocities, hand position
//	object tokens                             2: each target's position and colour, absent ones masked
//
// through pre-norm blocks (GoMLX's attention core, our projections so
// LoRA can reach them), and the readout token's final state feeds one of
// two heads: the chapter's regression head (a chunk of actions, MSE or L1)
// or OpenVLA's discretized head (256 bins per action dimension between
// the 1st and 99th percentile, cross-entropy).
//
// Departure, for CPU budgets: besides the image, the model sees the
// targets as object tokens (their positions and colours, not which one
// the instruction names). Vision alone locates a target in 3-D only with
// far more compute (4.2.2: vision BC on the arm reached 97% on a GPU and
// 26-39% in minutes on 2 CPU cores). What the object tokens leave to the
// model is exactly what section 4.2.4 is about: reading the instruction
// to choose where to go. Config.ObjectTokens = false trains on the image
// alone.
//
// Pretrain trains it on several language-conditioned arm tasks at once
// and scores each (ReachColor's "reach the red target" and "reach the blue
// target" share their scenes, so only the words tell them apart);
// FineTune adapts a pretrained model to a held-out task (ReachBetween)
// with LoRA at any rank, the head alone, or all weights, and Study
// compares them.
package vla

import (
	"fmt"
	"slices"

	"github.com/policylab/policylab/lessons/lora"
)

// Kind names a VLA policy in checkpoints.
const Kind = "vla"

// Heads.
const (
	// HeadRegression is the chapter's: Chunk·ActionDim numbers, trained
	// with Loss on [-1, 1]-normalized actions.
	HeadRegression = "regression"
	// HeadBins is OpenVLA's (Kim et al. 2024): every action dimension of
	// every chunk step is a class among Bins bins, trained with
	// cross-entropy; an action is decoded as its bin's centre.
	HeadBins = "bins"
)

// Config of a VLA policy.
type Config struct {
	// Dim is the transformer's width, Layers its depth, Heads its
	// attention heads (Dim must divide by Heads), MLPRatio the hidden
	// width of each block's MLP in units of Dim.
	Dim      int `json:"dim"`
	Layers   int `json:"layers"`
	Heads    int `json:"heads"`
	MLPRatio int `json:"mlp_ratio"`
	// ImageSize is the side of the camera image the model sees, cut into
	// PatchSize × PatchSize patches (ImageSize must divide by PatchSize);
	// 0 drops the image tokens.
	ImageSize int `json:"image_size"`
	PatchSize int `json:"patch_size"`
	// ObjectTokens gives the model one token per target (position,
	// position relative to the hand, colour); false leaves it the image.
	ObjectTokens bool `json:"object_tokens"`
	// MaxTokens is the instruction's length in tokens, [CLS] and [SEP]
	// included; longer instructions are cut, shorter ones padded.
	MaxTokens int `json:"max_tokens"`
	// IgnoreInstruction masks the instruction tokens out of attention: the
	// same model, blind to language, as the baseline a VLA must beat.
	IgnoreInstruction bool `json:"ignore_instruction,omitempty"`
	// Chunk is the number of future actions predicted per query.
	Chunk int `json:"chunk"`
	// Head is HeadRegression or HeadBins; Loss ("mse" or "l1") is the
	// regression head's; Bins the discretized head's bins per dimension.
	Head string `json:"head"`
	Loss string `json:"loss,omitempty"`
	Bins int    `json:"bins,omitempty"`
	// LoRA, when set, adds adapters to the layers it targets ("q", "v" as
	// the chapter; empty Targets: every linear layer).
	LoRA *lora.Config `json:"lora,omitempty"`
	// VocabSize and ActionDim are set by Fit from the tokenizer and the
	// dataset.
	VocabSize int `json:"vocab_size"`
	ActionDim int `json:"action_dim"`
}

// Linear layers of a block and the heads, by scope name: the names LoRA's
// Targets choose from.
var Layers = []string{"q", "k", "v", "o", "fc1", "fc2", "patch", "proprio", "object", "head"}

// DefaultConfig is the CPU-sized model of the lesson: width 64, 3 blocks
// of 4 heads, a 24×24 image in 8×8 patches (9 tokens), object tokens,
// instructions of up to 12 tokens, and the regression head predicting 8
// actions with MSE.
func DefaultConfig() Config {
	return Config{
		Dim: 64, Layers: 3, Heads: 4, MLPRatio: 4,
		ImageSize: 24, PatchSize: 8, ObjectTokens: true, MaxTokens: 12,
		Chunk: 8, Head: HeadRegression, Loss: "mse", Bins: 256,
	}
}

// Validate checks the configuration; errors name the field.
func (c Config) Validate() error {
	bad := func(field string, v any, want string) error { return fmt.Errorf("vla: %s = %v, %s", field, v, want) }
	switch {
	case c.Dim < 1:
		return bad("Dim", c.Dim, "must be >= 1")
	case c.Layers < 1:
		return bad("Layers", c.Layers, "must be >= 1")
	case c.Heads < 1 || c.Dim%c.Heads != 0:
		return bad("Heads", c.Heads, fmt.Sprintf("must be >= 1 and divide Dim = %d", c.Dim))
	case c.MLPRatio < 1:
		return bad("MLPRatio", c.MLPRatio, "must be >= 1")
	case c.ImageSize < 0:
		return bad("ImageSize", c.ImageSize, "must be >= 0 (0: no image)")
	case c.ImageSize > 0 && (c.PatchSize < 1 || c.ImageSize%c.PatchSize != 0):
		return bad("PatchSize", c.PatchSize, fmt.Sprintf("must be >= 1 and divide ImageSize = %d", c.ImageSize))
	case c.ImageSize == 0 && !c.ObjectTokens:
		return fmt.Errorf("vla: ImageSize = 0 and ObjectTokens = false: the model would not see the scene")
	case c.MaxTokens < 2:
		return bad("MaxTokens", c.MaxTokens, "must be >= 2 ([CLS] and [SEP])")
	case c.Chunk < 1:
		return bad("Chunk", c.Chunk, "must be >= 1")
	case c.Head != HeadRegression && c.Head != HeadBins:
		return bad("Head", fmt.Sprintf("%q", c.Head), fmt.Sprintf("want %q or %q", HeadRegression, HeadBins))
	case c.Head == HeadRegression && c.Loss != "mse" && c.Loss != "l1":
		return bad("Loss", fmt.Sprintf("%q", c.Loss), `want "mse" or "l1"`)
	case c.Head == HeadBins && c.Bins < 2:
		return bad("Bins", c.Bins, "must be >= 2")
	case c.VocabSize < 0 || c.ActionDim < 0:
		return fmt.Errorf("vla: VocabSize %d and ActionDim %d must be >= 0", c.VocabSize, c.ActionDim)
	}
	if c.LoRA != nil {
		if err := c.LoRA.Validate(); err != nil {
			return fmt.Errorf("vla: LoRA: %w", err)
		}
		for _, t := range c.LoRA.Targets {
			if !slices.Contains(Layers, t) {
				return fmt.Errorf("vla: LoRA target %q is not a layer of the model (%v)", t, Layers)
			}
		}
	}
	return nil
}

// Patches is the number of image tokens.
func (c Config) Patches() int {
	if c.ImageSize == 0 {
		return 0
	}
	n := c.ImageSize / c.PatchSize
	return n * n
}

// SeqLen is the length of the transformer's input sequence.
func (c Config) SeqLen() int {
	n := 1 + c.Patches() + c.MaxTokens + 1
	if c.ObjectTokens {
		n += NumObjects
	}
	return n
}
