// Package bc holds the behaviour-cloning policies of section 4.2.2: the
// chapter's BCPolicy (an MLP from observation to action) with an
// action-chunk variant, and its VisionBCPolicy (ResNet-18 image encoder
// plus proprioception), trained by the one training loop (package trainer)
// with a mean-squared-error loss on expert demonstrations.
package bc

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"sync"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/policylab/policylab/lessons/checkpoint"
	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/dense"
	"github.com/policylab/policylab/lessons/policy"
	"github.com/policylab/policylab/lessons/sim"
)

// BC policies satisfy the shared policy interface.
var _ policy.Policy = (*Policy)(nil)

// KindMLP names the MLP policy in checkpoints.
const KindMLP = "bc-mlp"

// Config of a BC policy (the MLP, or with Vision the vision policy).
type Config struct {
	// Hidden is the width of the chapter's encoder (2 layers) and head
	// (1 hidden layer): 256 in the chapter.
	Hidden int `json:"hidden"`
	// Chunk is how many future actions one prediction holds: 1 is the
	// chapter's BCPolicy; k > 1 predicts actions t..t+k-1 at once (the
	// action-chunk variant of the chunking lesson).
	Chunk int `json:"chunk"`
	// Normalizer is "minmax" (to [-1, 1], default) or "meanstd", fitted on
	// the training episodes for observations and actions. Departure: the
	// chapter feeds raw values; normalizing is what every real BC
	// implementation does, and it lets one learning rate fit all tasks.
	Normalizer string `json:"normalizer"`
	// RelativeTo, when set, makes the policy predict each action relative
	// to a state element: action[i] = prediction[i] + state[RelativeTo[i]]
	// (for the arm, joint targets relative to the current joint positions,
	// RelativeTo = [0..6]). Departure: the chapter regresses absolute
	// actions; relative (delta) actions are what makes an MLP generalize off
	// the demonstrated states here: measured on arm REACH with 100 demos,
	// absolute targets reached 0% and relative ones the success rates the
	// notebook reports.
	RelativeTo []int `json:"relative_to,omitempty"`
	// Vision, when set, makes this the chapter's VisionBCPolicy: a ResNet
	// image encoder beside a proprioception encoder (see VisionConfig).
	Vision *VisionConfig `json:"vision,omitempty"`
	// StateDim and ActionDim are set from the dataset by Fit.
	StateDim  int `json:"state_dim"`
	ActionDim int `json:"action_dim"`
}

// DefaultConfig is the chapter's BCPolicy: hidden 256, one action.
func DefaultConfig() Config { return Config{Hidden: 256, Chunk: 1, Normalizer: data.MinMax} }

// Validate checks the configuration (dimensions may still be 0 before Fit).
func (c Config) Validate() error {
	switch {
	case c.Hidden <= 0:
		return fmt.Errorf("bc: Hidden = %d, must be > 0", c.Hidden)
	case c.Chunk <= 0:
		return fmt.Errorf("bc: Chunk = %d, must be > 0", c.Chunk)
	case c.Normalizer != data.MinMax && c.Normalizer != data.MeanStd:
		return fmt.Errorf("bc: Normalizer = %q, must be %q or %q", c.Normalizer, data.MinMax, data.MeanStd)
	case c.StateDim < 0 || c.ActionDim < 0:
		return fmt.Errorf("bc: StateDim = %d, ActionDim = %d, must be >= 0", c.StateDim, c.ActionDim)
	}
	if c.Vision != nil {
		if err := c.Vision.Validate(); err != nil {
			return err
		}
		if c.StateDim > 0 && c.Vision.ProprioDim > c.StateDim {
			return fmt.Errorf("bc: Vision.ProprioDim = %d, more than the %d state elements", c.Vision.ProprioDim, c.StateDim)
		}
	}
	if c.RelativeTo != nil && c.ActionDim > 0 {
		if len(c.RelativeTo) != c.ActionDim {
			return fmt.Errorf("bc: RelativeTo has %d entries, the actions have %d", len(c.RelativeTo), c.ActionDim)
		}
		for i, d := range c.RelativeTo {
			if d < 0 || d >= c.StateDim {
				return fmt.Errorf("bc: RelativeTo[%d] = %d, outside the %d state elements", i, d, c.StateDim)
			}
		}
	}
	return nil
}

// Policy is a behaviour-cloning policy. Without Config.Vision it is the
// chapter's BCPolicy (made by NewMLP):
//
//	encoder: Linear(obs → H), ReLU, Linear(H → H), ReLU
//	head:    Linear(H → H), ReLU, Linear(H → Chunk·action)
//
// observation: [batch, StateDim] (normalized) → actions [batch, Chunk, ActionDim].
// With Config.Vision it is the chapter's VisionBCPolicy (made by
// NewVision; see VisionConfig).
type Policy struct {
	cfg     Config
	backend compute.Backend
	store   *model.Store

	obsNorm, actNorm data.Normalizer
	samples          data.Splits

	// images renders the camera image of a state (vision policies): the
	// image a dataset frame showed, at the environment's resolution.
	images     func(state []float32) (*image.RGBA, error)
	imageCache map[int][]float32 // resized [size, size, 3] image of each dataset frame

	// net is the MLP's network and loss (NewMLPWith); zero fields are
	// the chapter's (MLPForward, MSE).
	net Network

	mu   sync.Mutex
	exec *model.Exec
}

// Network is what an MLP policy computes: its network and its training
// loss. NewMLPWith takes one, so that other code (an exercise's student
// functions) can stand in for the chapter's while everything else (data,
// normalizers, relative actions, the one training loop, checkpoints,
// evaluation) stays the policy's. A nil field means the chapter's.
type Network struct {
	// Forward maps normalized observations obs [batch, StateDim] to
	// predictions [batch, out], out = Chunk·ActionDim (normalized actions,
	// actions t..t+Chunk-1 one after the other), with hidden = Config.Hidden.
	// Its variables live under scope. To keep checkpoints loadable by Load,
	// which rebuilds the policy with MLPForward, name them as MLPForward
	// does.
	Forward func(scope *model.Scope, obs *Node, hidden, out int) *Node
	// Loss is the scalar training loss of pred and target, both
	// [batch, Chunk·ActionDim] (normalized).
	Loss func(pred, target *Node) *Node
}

// ChapterNetwork is the chapter's BCPolicy network (MLPForward) and loss
// (MSE): what NewMLP uses.
func ChapterNetwork() Network { return Network{Forward: MLPForward, Loss: MSE} }

// MLPForward is the chapter's BCPolicy network on obs [batch, in]:
//
//	encoder: Linear(in → hidden), ReLU, Linear(hidden → hidden), ReLU
//	head:    Linear(hidden → hidden), ReLU, Linear(hidden → out)
//
// → [batch, out]. Its linear layers are dense.Layer (GoMLX's layers.DenseWithBias, as fast at one row) in scopes
// "encoder/0", "encoder/1", "head/0" and "head/1" under scope, each with
// variables "dense/weights" [n, m] and "dense/biases" [m].
func MLPForward(scope *model.Scope, obs *Node, hidden, out int) *Node {
	enc, head := scope.In("encoder"), scope.In("head")
	h := activation.Relu(dense.Layer(enc.In("0"), obs, hidden))
	h = activation.Relu(dense.Layer(enc.In("1"), h, hidden))
	h = activation.Relu(dense.Layer(head.In("0"), h, hidden))
	return dense.Layer(head.In("1"), h, out)
}

// MSE is the chapter's loss (PyTorch's nn.MSELoss()): the mean over every
// element of (pred − target)², a scalar.
func MSE(pred, target *Node) *Node { return ReduceAllMean(Square(Sub(pred, target))) }

// NewMLP makes an untrained policy on a backend.
func NewMLP(b compute.Backend, cfg Config) (*Policy, error) {
	if b == nil {
		return nil, errors.New("bc: nil backend")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Vision != nil {
		return nil, errors.New("bc: a vision config needs NewVision (it needs the image renderer)")
	}
	return &Policy{cfg: cfg, backend: b, store: model.NewStore()}, nil
}

// NewMLPWith is NewMLP with another network or loss in place of the
// chapter's (a nil field of net keeps the chapter's). The policy trains,
// checkpoints, resumes and acts as NewMLP's does; its checkpoints load
// with Load when net.Forward names its variables as MLPForward does.
func NewMLPWith(b compute.Backend, cfg Config, net Network) (*Policy, error) {
	p, err := NewMLP(b, cfg)
	if err != nil {
		return nil, err
	}
	p.net = net
	return p, nil
}

// NewVision makes the chapter's VisionBCPolicy. images renders the camera
// image of a state vector (e.g. sim.ArmImage): datasets hold states only,
// and at run time observations without an image are rendered the same way.
func NewVision(b compute.Backend, cfg Config, images func(state []float32) (*image.RGBA, error)) (*Policy, error) {
	if b == nil {
		return nil, errors.New("bc: nil backend")
	}
	if cfg.Vision == nil {
		return nil, errors.New("bc: NewVision needs Config.Vision")
	}
	if images == nil {
		return nil, errors.New("bc: NewVision needs an image renderer")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Policy{cfg: cfg, backend: b, store: model.NewStore(), images: images}, nil
}

// Config returns the policy's configuration.
func (p *Policy) Config() Config { return p.cfg }

// Fit prepares training on ds: it splits episodes into training and
// validation (valFraction of them, by seed), fits the normalizers on the
// training episodes and builds the samplers (observation horizon 1,
// prediction horizon Chunk).
func (p *Policy) Fit(ds *data.Dataset, valFraction float64, seed int64) error {
	if err := ds.Validate(); err != nil {
		return err
	}
	train, val := data.SplitEpisodes(len(ds.Episodes), valFraction, seed)
	if len(train) == 0 {
		return fmt.Errorf("bc: dataset %s has no training episodes", ds.Name)
	}
	p.cfg.StateDim, p.cfg.ActionDim = ds.StateDim(), ds.ActionDim()
	if err := p.cfg.Validate(); err != nil {
		return err
	}
	var states, actions [][]float32
	for _, i := range train {
		ep := ds.Episodes[i]
		states = append(states, ep.States...)
		for t := range ep.Actions {
			// Chunks hold actions t..t+k-1 relative to the state at t, so
			// fit the normalizer on offsets over the same horizon.
			for k := 0; k < p.cfg.Chunk && t+k < len(ep.Actions); k++ {
				actions = append(actions, p.relative(ep.Actions[t+k], ep.States[t]))
			}
		}
	}
	var err error
	fit := data.FitMinMax
	if p.cfg.Normalizer == data.MeanStd {
		fit = data.FitMeanStd
	}
	if p.obsNorm, err = fit(states); err != nil {
		return fmt.Errorf("bc: observation normalizer: %w", err)
	}
	if p.actNorm, err = fit(actions); err != nil {
		return fmt.Errorf("bc: action normalizer: %w", err)
	}
	if p.samples.Train, err = data.NewSampler(ds, train, 1, p.cfg.Chunk); err != nil {
		return err
	}
	if len(val) > 0 {
		if p.samples.Val, err = data.NewSampler(ds, val, 1, p.cfg.Chunk); err != nil {
			return err
		}
	}
	return nil
}

// relative returns action − state[RelativeTo] (a copy), or a copy of the
// action when actions are absolute.
func (p *Policy) relative(action, state []float32) []float32 {
	out := append([]float32(nil), action...)
	for i, d := range p.cfg.RelativeTo {
		out[i] -= state[d]
	}
	return out
}

// forward is the network: obs [batch, StateDim] (and, for vision,
// images [batch, size, size, 3]) → [batch, Chunk·ActionDim].
func (p *Policy) forward(scope *model.Scope, obs *Node, images *Node) *Node {
	if p.cfg.Vision != nil {
		return p.visionForward(scope, obs, images)
	}
	forward := p.net.Forward
	if forward == nil {
		forward = MLPForward
	}
	return forward(scope, obs, p.cfg.Hidden, p.cfg.Chunk*p.cfg.ActionDim)
}

// Kind implements trainer.Trainable: "bc-mlp" or "bc-vision".
func (p *Policy) Kind() string {
	if p.cfg.Vision != nil {
		return KindVision
	}
	return KindMLP
}

// Backend implements trainer.Trainable.
func (p *Policy) Backend() compute.Backend { return p.backend }

// Store implements trainer.Trainable.
func (p *Policy) Store() *model.Store { return p.store }

// NumSamples implements trainer.Trainable.
func (p *Policy) NumSamples(val bool) int {
	return p.samples.Len(val)
}

// Inputs implements trainer.Trainable: normalized observations
// [batch, StateDim] and target actions [batch, Chunk·ActionDim].
func (p *Policy) Inputs(indices []int, val bool) ([]*tensors.Tensor, error) {
	s := p.samples.Pick(val)
	if s == nil {
		return nil, errors.New("bc: Fit the policy on a dataset before training")
	}
	obs, act := s.Batch(indices)
	n := len(indices)
	if p.cfg.RelativeTo != nil {
		S, A := p.cfg.StateDim, p.cfg.ActionDim
		for b := 0; b < n; b++ {
			for k := 0; k < p.cfg.Chunk; k++ {
				for i, d := range p.cfg.RelativeTo {
					act[(b*p.cfg.Chunk+k)*A+i] -= obs[b*S+d]
				}
			}
		}
	}
	var img *tensors.Tensor
	if p.cfg.Vision != nil {
		var err error
		if img, err = p.batchImages(s, indices, obs, val); err != nil {
			return nil, err
		}
	}
	p.obsNorm.Normalize(obs)
	p.actNorm.Normalize(act)
	in := []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(obs, n, p.cfg.StateDim),
		tensors.FromFlatDataAndDimensions(act, n, p.cfg.Chunk*p.cfg.ActionDim),
	}
	if img != nil {
		in = append(in, img)
	}
	return in, nil
}

// LossGraph implements trainer.Trainable: the chapter's MSE between the
// predicted and the demonstrated (normalized) actions (or the loss of
// NewMLPWith's network).
func (p *Policy) LossGraph(scope *model.Scope, inputs []*Node) *Node {
	var images *Node
	if len(inputs) > 2 {
		images = inputs[2]
	}
	pred := p.forward(scope, inputs[0], images)
	if p.net.Loss != nil {
		return p.net.Loss(pred, inputs[1])
	}
	return MSE(pred, inputs[1])
}

// Meta implements trainer.Trainable.
func (p *Policy) Meta() (checkpoint.Meta, error) {
	c, err := json.Marshal(p.cfg)
	if err != nil {
		return checkpoint.Meta{}, err
	}
	n, err := json.Marshal(data.Normalizers{Obs: p.obsNorm, Act: p.actNorm})
	return checkpoint.Meta{Kind: p.Kind(), Config: c, Normalizers: n}, err
}

// Restore implements trainer.Trainable.
func (p *Policy) Restore(m checkpoint.Meta) error {
	var c Config
	if err := json.Unmarshal(m.Config, &c); err != nil {
		return fmt.Errorf("bc: checkpoint config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return err
	}
	var n data.Normalizers
	if err := json.Unmarshal(m.Normalizers, &n); err != nil {
		return fmt.Errorf("bc: checkpoint normalizers: %w", err)
	}
	if err := n.Check(); err != nil {
		return fmt.Errorf("bc: checkpoint %w", err)
	}
	if p.samples.Train != nil && (c.StateDim != p.cfg.StateDim || c.ActionDim != p.cfg.ActionDim) {
		return fmt.Errorf("bc: checkpoint is for state %d / action %d, the dataset has %d / %d", c.StateDim, c.ActionDim, p.cfg.StateDim, p.cfg.ActionDim)
	}
	p.cfg, p.obsNorm, p.actNorm = c, n.Obs, n.Act
	p.Refresh()
	return nil
}

// Refresh implements trainer.Refresher: the next prediction compiles its
// graph afresh, with the current weights.
func (p *Policy) Refresh() {
	p.mu.Lock()
	p.exec = nil
	p.mu.Unlock()
}

// Load makes a policy from a checkpoint directory (see package checkpoint).
// images is the renderer of a vision policy (nil for the MLP).
func Load(b compute.Backend, dir string, images func(state []float32) (*image.RGBA, error)) (*Policy, error) {
	p := &Policy{cfg: DefaultConfig(), backend: b, store: model.NewStore(), images: images}
	if b == nil {
		return nil, errors.New("bc: nil backend")
	}
	m, err := checkpoint.Load(dir, p.store)
	if err != nil {
		return nil, err
	}
	if m.Kind != KindMLP && m.Kind != KindVision {
		return nil, fmt.Errorf("bc: checkpoint %s holds a %q policy, not a BC policy", dir, m.Kind)
	}
	if err := p.Restore(m); err != nil {
		return nil, err
	}
	if p.cfg.Vision != nil && images == nil {
		return nil, fmt.Errorf("bc: checkpoint %s is a vision policy: Load needs its image renderer", dir)
	}
	return p, nil
}

// Reset implements eval.ChunkPolicy (BC policies keep no state between steps).
func (p *Policy) Reset(int64) {}

// PredictActionChunk returns the next Chunk actions for an observation:
// [Chunk][ActionDim], in the environment's units.
func (p *Policy) PredictActionChunk(obs sim.Obs) ([][]float32, error) {
	var imgs []*image.RGBA
	if p.cfg.Vision != nil {
		imgs = []*image.RGBA{obs.Image}
	}
	out, err := p.predict([][]float32{obs.State}, imgs)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// PredictBatch predicts for several observations at once:
// states [batch][StateDim] → [batch][Chunk][ActionDim]. A vision policy
// renders their images.
func (p *Policy) PredictBatch(states [][]float32) ([][][]float32, error) {
	return p.predict(states, nil)
}

// predict is PredictBatch with camera images (vision; a nil image is
// rendered from its state).
func (p *Policy) predict(states [][]float32, imgs []*image.RGBA) ([][][]float32, error) {
	if p.cfg.StateDim == 0 {
		return nil, errors.New("bc: the policy is not trained (Fit and train it, or Load a checkpoint)")
	}
	flat := make([]float32, 0, len(states)*p.cfg.StateDim)
	for i, s := range states {
		if len(s) != p.cfg.StateDim {
			return nil, fmt.Errorf("bc: observation %d has %d values, the policy takes %d", i, len(s), p.cfg.StateDim)
		}
		flat = append(flat, s...)
	}
	raw := append([]float32(nil), flat...)
	args := []any{nil}
	if p.cfg.Vision != nil {
		imgT, err := p.imagesTensor(states, imgs)
		if err != nil {
			return nil, err
		}
		args = append(args, imgT)
	}
	p.obsNorm.Normalize(flat)
	args[0] = tensors.FromFlatDataAndDimensions(flat, len(states), p.cfg.StateDim)
	p.mu.Lock()
	if p.exec == nil {
		kind := p.Kind()
		var e *model.Exec
		var err error
		if p.cfg.Vision != nil {
			e, err = model.NewExec(p.backend, p.store, func(scope *model.Scope, obs, images *Node) *Node {
				return p.forward(scope.In("%s", kind), obs, images)
			})
		} else {
			e, err = model.NewExec(p.backend, p.store, func(scope *model.Scope, obs *Node) *Node {
				return p.forward(scope.In("%s", kind), obs, nil)
			})
		}
		if err != nil {
			p.mu.Unlock()
			return nil, fmt.Errorf("bc: %w", err)
		}
		p.exec = e
	}
	exec := p.exec
	p.mu.Unlock()
	res, err := exec.Call(args...)
	if err != nil {
		return nil, fmt.Errorf("bc: %w", err)
	}
	out := tensors.MustCopyFlatData[float32](res[0])
	p.actNorm.Unnormalize(out)
	A, K := p.cfg.ActionDim, p.cfg.Chunk
	chunks := make([][][]float32, len(states))
	for b := range chunks {
		chunks[b] = make([][]float32, K)
		for k := 0; k < K; k++ {
			a := out[(b*K+k)*A : (b*K+k+1)*A]
			for i, d := range p.cfg.RelativeTo {
				a[i] += raw[b*p.cfg.StateDim+d]
			}
			chunks[b][k] = a
		}
	}
	return chunks, nil
}
