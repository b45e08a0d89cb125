package paradigms

import (
	"errors"
	"fmt"
)

// ArchConfig sizes the policy network of the chapter's architecture diagram.
// Start from DefaultArchConfig and change fields; BuildPolicy calls Validate.
type ArchConfig struct {
	// ImageSize is the height and width of the square RGB image, in pixels.
	ImageSize int
	// ImageChannels is the number of image channels (3 for RGB).
	ImageChannels int
	// VisionChannels lists the output channels of the vision encoder's
	// convolutions: each is a 3x3 convolution with stride 2 and "same"
	// padding followed by ReLU, so every layer halves height and width.
	VisionChannels []int
	// VocabSize is the number of token ids; id 0 is padding.
	VocabSize int
	// MaxTokens is the fixed instruction length after padding or truncation.
	MaxTokens int
	// TextDim is the width of the token embeddings and of the language
	// encoder's output.
	TextDim int
	// ProprioDim is the size of the proprioceptive vector (for a 7-joint arm:
	// 7 joint positions and 7 joint velocities).
	ProprioDim int
	// StateDim is the width of the state encoder's hidden layer and output.
	StateDim int
	// FusionDim is the width of the fused multimodal feature.
	FusionDim int
	// HeadDim is the width of the policy head's hidden layer.
	HeadDim int
	// ActionDim is the size of the action vector (e.g. 6-DoF end-effector
	// delta and a gripper command).
	ActionDim int
}

// DefaultArchConfig returns the configuration used throughout the lesson:
// a 64x64 RGB image, three convolutions of 16, 32 and 64 channels, 8-token
// instructions over a 128-id vocabulary, a 14-dim proprioceptive state and a
// 7-dim action.
func DefaultArchConfig() ArchConfig {
	return ArchConfig{
		ImageSize:      64,
		ImageChannels:  3,
		VisionChannels: []int{16, 32, 64},
		VocabSize:      128,
		MaxTokens:      8,
		TextDim:        32,
		ProprioDim:     14,
		StateDim:       64,
		FusionDim:      256,
		HeadDim:        256,
		ActionDim:      7,
	}
}

// Validate checks that every size is usable. Its error names the first bad
// field and its value, prefixed "paradigms: ".
func (c ArchConfig) Validate() error {
	positive := []struct {
		name  string
		value int
	}{
		{"ImageSize", c.ImageSize},
		{"ImageChannels", c.ImageChannels},
		{"MaxTokens", c.MaxTokens},
		{"TextDim", c.TextDim},
		{"ProprioDim", c.ProprioDim},
		{"StateDim", c.StateDim},
		{"FusionDim", c.FusionDim},
		{"HeadDim", c.HeadDim},
		{"ActionDim", c.ActionDim},
	}
	for _, f := range positive {
		if f.value <= 0 {
			return fmt.Errorf("paradigms: ArchConfig.%s must be > 0, got %d", f.name, f.value)
		}
	}
	if c.VocabSize < 2 {
		return fmt.Errorf("paradigms: ArchConfig.VocabSize must be >= 2 (id 0 is padding), got %d", c.VocabSize)
	}
	if len(c.VisionChannels) == 0 {
		return errors.New("paradigms: ArchConfig.VisionChannels must list at least one convolution, got []")
	}
	for i, ch := range c.VisionChannels {
		if ch <= 0 {
			return fmt.Errorf("paradigms: ArchConfig.VisionChannels[%d] must be > 0, got %d", i, ch)
		}
	}
	return nil
}

// visionOutSize is the height (and width) of the feature map after the
// vision encoder's strided convolutions: each one maps s to ceil(s/2).
func (c ArchConfig) visionOutSize() int {
	s := c.ImageSize
	for range c.VisionChannels {
		s = (s + 1) / 2
	}
	return s
}
