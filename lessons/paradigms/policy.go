package paradigms

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // graph code reads best unqualified.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// initSeed seeds the He initialisation of the policy's weights, so two
// policies built from the same ArchConfig are identical. The lesson never
// trains this network: it is here to be built, measured and run.
const initSeed = 4021

// Policy is the chapter's multimodal policy network built in GoMLX, ready to
// run. Create it with BuildPolicy.
type Policy struct {
	cfg     ArchConfig
	backend compute.Backend
	store   *model.Store
	exec    *model.Exec
}

// BuildPolicy validates cfg, builds the network on backend and initialises
// its weights (He initialisation, fixed seed). It runs one forward pass on a
// zero batch of size 1 so that every GoMLX variable exists when it returns.
func BuildPolicy(backend compute.Backend, cfg ArchConfig) (*Policy, error) {
	if backend == nil {
		return nil, fmt.Errorf("paradigms: BuildPolicy needs a backend, got nil")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.VisionChannels = append([]int(nil), cfg.VisionChannels...) // own the slice
	store := model.NewStore()
	if err := store.SetRNGStateFromSeed(initSeed); err != nil {
		return nil, fmt.Errorf("paradigms: seeding the initialiser: %w", err)
	}
	exec, err := model.NewExec(backend, store,
		func(s *model.Scope, images, tokens, mask, proprio *Node) *Node {
			return policyGraph(s, cfg, images, tokens, mask, proprio)
		})
	if err != nil {
		return nil, fmt.Errorf("paradigms: creating the policy executor: %w", err)
	}
	p := &Policy{cfg: cfg, backend: backend, store: store, exec: exec.WithName("paradigms_policy")}
	images, tokens, mask, proprio := zeroInputs(cfg, 1)
	if _, err := p.Forward(images, tokens, mask, proprio); err != nil {
		return nil, err
	}
	return p, nil
}

// Finalize frees the compiled graphs of the policy; it must not be used
// afterwards. Dropping the policy and letting the garbage collector run
// frees them too, later.
func (p *Policy) Finalize() {
	p.exec.Finalize()
}

// Config returns the configuration the policy was built with.
func (p *Policy) Config() ArchConfig {
	c := p.cfg
	c.VisionChannels = append([]int(nil), c.VisionChannels...)
	return c
}

// Forward runs the policy on a batch and returns one action per row,
// actions[batch][ActionDim]. The inputs are, with cfg the policy's config:
//
//	images:  float32 [batch, ImageSize, ImageSize, ImageChannels] (values in [0, 1])
//	tokens:  int32   [batch, MaxTokens]  (from Tokenize / TokenizeBatch)
//	mask:    float32 [batch, MaxTokens]  (1 for real tokens, 0 for padding)
//	proprio: float32 [batch, ProprioDim]
//
// All four must share the batch size. A wrong dtype, rank or dimension is an
// error naming the input, what was expected and what was given.
func (p *Policy) Forward(images, tokens, mask, proprio *tensors.Tensor) (actions [][]float32, err error) {
	batch, err := p.checkInputs(images, tokens, mask, proprio)
	if err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			actions, err = nil, fmt.Errorf("paradigms: policy forward pass: %v", r)
		}
	}()
	out, err := p.exec.Call1(images, tokens, mask, proprio)
	if err != nil {
		return nil, fmt.Errorf("paradigms: policy forward pass: %w", err)
	}
	flat, err := tensors.CopyFlatData[float32](out)
	_ = out.FinalizeAll()
	if err != nil {
		return nil, fmt.Errorf("paradigms: reading the actions: %w", err)
	}
	actions = make([][]float32, batch)
	for i := range actions {
		actions[i] = flat[i*p.cfg.ActionDim : (i+1)*p.cfg.ActionDim]
	}
	return actions, nil
}

// checkInputs validates the four input tensors and returns the batch size.
func (p *Policy) checkInputs(images, tokens, mask, proprio *tensors.Tensor) (int, error) {
	c := p.cfg
	inputs := []struct {
		name  string
		t     *tensors.Tensor
		dtype dtypes.DType
		dims  []int // -1 is the batch axis
		axes  string
	}{
		{"images", images, dtypes.Float32, []int{-1, c.ImageSize, c.ImageSize, c.ImageChannels}, "[batch, height, width, channels]"},
		{"tokens", tokens, dtypes.Int32, []int{-1, c.MaxTokens}, "[batch, tokens]"},
		{"mask", mask, dtypes.Float32, []int{-1, c.MaxTokens}, "[batch, tokens]"},
		{"proprio", proprio, dtypes.Float32, []int{-1, c.ProprioDim}, "[batch, proprio]"},
	}
	batch := -1
	for _, in := range inputs {
		if in.t == nil {
			return 0, fmt.Errorf("paradigms: Forward: %s is nil, want %s %s", in.name, in.dtype, in.axes)
		}
		sh := in.t.Shape()
		bad := sh.DType != in.dtype || sh.Rank() != len(in.dims)
		if !bad {
			for i, d := range in.dims {
				if d >= 0 && sh.Dimensions[i] != d {
					bad = true
				}
			}
		}
		if bad {
			return 0, fmt.Errorf("paradigms: Forward: %s has shape %s, want %s %v with axes %s",
				in.name, sh, in.dtype, dimsString(in.dims), in.axes)
		}
		b := sh.Dimensions[0]
		if b < 1 {
			return 0, fmt.Errorf("paradigms: Forward: %s has batch size %d, want >= 1", in.name, b)
		}
		if batch >= 0 && b != batch {
			return 0, fmt.Errorf("paradigms: Forward: %s has batch size %d but images has %d", in.name, b, batch)
		}
		batch = b
	}
	return batch, nil
}

// dimsString prints dims with "batch" in place of the placeholder.
func dimsString(dims []int) string {
	s := "["
	for i, d := range dims {
		if i > 0 {
			s += ", "
		}
		if d < 0 {
			s += "batch"
		} else {
			s += fmt.Sprint(d)
		}
	}
	return s + "]"
}

// zeroInputs returns all-zero inputs of the right shapes for a batch.
func zeroInputs(cfg ArchConfig, batch int) (images, tokens, mask, proprio *tensors.Tensor) {
	images = tensors.FromFlatDataAndDimensions(make([]float32, batch*cfg.ImageSize*cfg.ImageSize*cfg.ImageChannels),
		batch, cfg.ImageSize, cfg.ImageSize, cfg.ImageChannels)
	tokens = tensors.FromFlatDataAndDimensions(make([]int32, batch*cfg.MaxTokens), batch, cfg.MaxTokens)
	mask = tensors.FromFlatDataAndDimensions(make([]float32, batch*cfg.MaxTokens), batch, cfg.MaxTokens)
	proprio = tensors.FromFlatDataAndDimensions(make([]float32, batch*cfg.ProprioDim), batch, cfg.ProprioDim)
	return
}
