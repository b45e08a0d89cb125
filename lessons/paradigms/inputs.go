package paradigms

import (
	"math/rand/v2"

	"github.com/gomlx/gomlx/core/tensors"
)

// SampleInputs makes a batch of inputs for Policy.Forward: uniform-noise
// images in [0, 1], the instruction tokenized for every row, and a
// proprioceptive vector of joint positions uniform in [-π, π] followed by
// velocities uniform in [-1, 1] (a 7-joint arm for the default ProprioDim of
// 14). The same seed gives the same tensors. Its result can be passed
// straight to Forward:
//
//	actions, err := policy.Forward(paradigms.SampleInputs(cfg, 2, "pick up the red block", 1))
func SampleInputs(cfg ArchConfig, batch int, instruction string, seed uint64) (images, tokens, mask, proprio *tensors.Tensor) {
	batch = max(batch, 0)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	img := make([]float32, batch*cfg.ImageSize*cfg.ImageSize*cfg.ImageChannels)
	for i := range img {
		img[i] = rng.Float32()
	}
	instructions := make([]string, batch)
	for i := range instructions {
		instructions[i] = instruction
	}
	tokens, mask = TokenizeBatch(instructions, cfg)
	prop := make([]float32, batch*cfg.ProprioDim)
	half := cfg.ProprioDim / 2
	for b := range batch {
		for j := range cfg.ProprioDim {
			u := 2*rng.Float32() - 1
			if j < half {
				u *= 3.14159265
			}
			prop[b*cfg.ProprioDim+j] = u
		}
	}
	images = tensors.FromFlatDataAndDimensions(img, batch, cfg.ImageSize, cfg.ImageSize, cfg.ImageChannels)
	proprio = tensors.FromFlatDataAndDimensions(prop, batch, cfg.ProprioDim)
	return images, tokens, mask, proprio
}
