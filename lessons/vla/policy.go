package vla

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // graph code reads best unqualified.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/policylab/policylab/lessons/actionbins"
	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/checkpoint"
	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/sim"
	"github.com/policylab/policylab/lessons/tokenizer"
)

// Policy is a VLA policy on the arm: observation (camera image, 32-D
// state vector, instruction) → a chunk of Chunk joint-position targets.
// Actions are predicted relative to the joint positions (as the lesson's
// BC: 4.2.2 measured absolute targets failing on the arm). It implements
// trainer.Trainable and eval.ChunkPolicy, and is safe for concurrent
// prediction.
type Policy struct {
	cfg     Config
	backend compute.Backend
	store   *model.Store
	tok     *tokenizer.Tokenizer
	norm    normalizers

	ds      *data.Dataset
	samples data.Splits

	mu     sync.Mutex
	exec   *model.Exec
	images map[[2]int][]float32 // rendered image of dataset frame (episode, t)
	ids    map[string]encoded   // encoded instructions
}

// encoded is an instruction as model input.
type encoded struct {
	ids  []int32
	mask []float32
}

// normalizers are the policy's data statistics, saved with it.
type normalizers struct {
	Proprio data.Normalizer `json:"proprio"`
	Objects data.Normalizer `json:"objects"` // the position entries of an object token
	Actions data.Normalizer `json:"actions"` // actions relative to the joint positions, [-1, 1]
	// Bins discretize the relative actions (HeadBins).
	Bins      *actionbins.Bins `json:"bins,omitempty"`
	Tokenizer json.RawMessage  `json:"tokenizer"` // Hugging Face tokenizer.json
}

// New makes an untrained policy reading instructions with tok.
func New(b compute.Backend, cfg Config, tok *tokenizer.Tokenizer) (*Policy, error) {
	switch {
	case b == nil:
		return nil, errors.New("vla: nil backend")
	case tok == nil:
		return nil, errors.New("vla: nil tokenizer")
	}
	cfg.VocabSize = tok.Size()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Policy{cfg: cfg, backend: b, store: model.NewStore(), tok: tok}, nil
}

// Config returns the policy's configuration.
func (p *Policy) Config() Config { return p.cfg }

// Tokenizer returns the policy's tokenizer.
func (p *Policy) Tokenizer() *tokenizer.Tokenizer { return p.tok }

// Fit prepares training on ds (arm episodes, each with its instruction as
// Task): it splits the episodes (valFraction held out, by seed), fits
// the normalizers (and the action bins) on the training episodes and
// builds the samplers. A policy that already has statistics (loaded from
// a checkpoint, to fine-tune) keeps them: the pretrained weights expect
// them.
func (p *Policy) Fit(ds *data.Dataset, valFraction float64, seed int64) error {
	if err := ds.Validate(); err != nil {
		return err
	}
	if ds.StateDim() != arm.VectorDim {
		return fmt.Errorf("vla: dataset %s has %d-D states, want the arm's %d", ds.Name, ds.StateDim(), arm.VectorDim)
	}
	train, val := data.SplitEpisodes(len(ds.Episodes), valFraction, seed)
	if len(train) == 0 {
		return fmt.Errorf("vla: dataset %s has no training episodes", ds.Name)
	}
	if p.cfg.ActionDim != 0 && p.cfg.ActionDim != ds.ActionDim() {
		return fmt.Errorf("vla: the policy acts in %d dimensions, dataset %s in %d", p.cfg.ActionDim, ds.Name, ds.ActionDim())
	}
	p.cfg.ActionDim = ds.ActionDim()
	if p.norm.Tokenizer == nil {
		if err := p.fitNormalizers(ds, train); err != nil {
			return err
		}
	}
	var err error
	if p.samples.Train, err = data.NewSampler(ds, train, 1, p.cfg.Chunk); err != nil {
		return err
	}
	p.samples.Val = nil
	if len(val) > 0 {
		if p.samples.Val, err = data.NewSampler(ds, val, 1, p.cfg.Chunk); err != nil {
			return err
		}
	}
	p.mu.Lock()
	p.ds, p.images = ds, map[[2]int][]float32{}
	p.mu.Unlock()
	return nil
}

func (p *Policy) fitNormalizers(ds *data.Dataset, train []int) error {
	var proprio, objects, actions [][]float32
	for _, i := range train {
		ep := ds.Episodes[i]
		for t, s := range ep.States {
			f, err := ArmFeatures(s)
			if err != nil {
				return fmt.Errorf("vla: dataset %s, episode %d, frame %d: %w", ds.Name, ep.Index, t, err)
			}
			proprio = append(proprio, f.Proprio)
			for o := 0; o < NumObjects; o++ {
				if f.Present[o] > 0 {
					objects = append(objects, f.Objects[o*ObjectDim:o*ObjectDim+positions])
				}
			}
			for k := 0; k < p.cfg.Chunk && t+k < len(ep.Actions); k++ {
				actions = append(actions, relative(ep.Actions[t+k], s))
			}
		}
	}
	var err error
	if p.norm.Proprio, err = data.FitMeanStd(proprio); err != nil {
		return fmt.Errorf("vla: proprioception normalizer: %w", err)
	}
	if p.norm.Objects, err = data.FitMeanStd(objects); err != nil {
		return fmt.Errorf("vla: object normalizer: %w", err)
	}
	if p.norm.Actions, err = data.FitMinMax(actions); err != nil {
		return fmt.Errorf("vla: action normalizer: %w", err)
	}
	if p.cfg.Head == HeadBins {
		// OpenVLA: 256 bins between the 1st and 99th percentile.
		if p.norm.Bins, err = actionbins.Fit(actions, p.cfg.Bins, 0.01, 0.99); err != nil {
			return fmt.Errorf("vla: %w", err)
		}
	}
	tj, err := p.tok.MarshalJSON()
	if err != nil {
		return err
	}
	p.norm.Tokenizer = tj
	return nil
}

// relative is action − the joint positions (state[0:7]), a copy.
func relative(action, state []float32) []float32 {
	out := append([]float32(nil), action...)
	for i := 0; i < 7 && i < len(out); i++ {
		out[i] -= state[i]
	}
	return out
}

// encode returns an instruction as token ids and mask (cached).
func (p *Policy) encode(text string) (encoded, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ids == nil {
		p.ids = map[string]encoded{}
	}
	if e, ok := p.ids[text]; ok {
		return e, nil
	}
	ids, mask, err := p.tok.EncodeFixed(text, p.cfg.MaxTokens)
	if err != nil {
		return encoded{}, fmt.Errorf("vla: %w", err)
	}
	e := encoded{ids: make([]int32, len(ids)), mask: make([]float32, len(mask))}
	for i, id := range ids {
		e.ids[i] = int32(id)
		if mask[i] {
			e.mask[i] = 1
		}
	}
	p.ids[text] = e
	return e, nil
}

// batch holds the model inputs of B observations, flat.
type batch struct {
	n                       int
	tokens                  []int32
	tmask, proprio, objects []float32
	present, images         []float32
}

// add appends one observation: its state, instruction and image (nil:
// rendered from the state).
func (p *Policy) add(b *batch, state []float32, instruction string, image []float32) error {
	f, err := ArmFeatures(state)
	if err != nil {
		return err
	}
	e, err := p.encode(instruction)
	if err != nil {
		return err
	}
	p.norm.Proprio.Normalize(f.Proprio)
	for o := 0; o < NumObjects; o++ {
		if f.Present[o] > 0 {
			p.norm.Objects.Normalize(f.Objects[o*ObjectDim : o*ObjectDim+positions])
		}
	}
	b.n++
	b.tokens = append(b.tokens, e.ids...)
	b.tmask = append(b.tmask, e.mask...)
	b.proprio = append(b.proprio, f.Proprio...)
	b.objects = append(b.objects, f.Objects...)
	b.present = append(b.present, f.Present...)
	if s := p.cfg.ImageSize; s > 0 {
		if image == nil {
			if image, err = ArmImage(state, s); err != nil {
				return err
			}
		}
		b.images = append(b.images, image...)
	}
	return nil
}

// tensors are the batch's graph inputs, in the order LossGraph and the
// prediction graph take them (images last, when the model has them).
func (p *Policy) tensors(b *batch) []*tensors.Tensor {
	c := p.cfg
	in := []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(b.tokens, b.n, c.MaxTokens),
		tensors.FromFlatDataAndDimensions(b.tmask, b.n, c.MaxTokens),
		tensors.FromFlatDataAndDimensions(b.proprio, b.n, ProprioDim),
		tensors.FromFlatDataAndDimensions(b.objects, b.n, NumObjects, ObjectDim),
		tensors.FromFlatDataAndDimensions(b.present, b.n, NumObjects),
	}
	if c.ImageSize > 0 {
		in = append(in, tensors.FromFlatDataAndDimensions(b.images, b.n, c.ImageSize, c.ImageSize, 3))
	}
	return in
}

// nodes reads graph inputs in the order of tensors.
func (c Config) nodes(in []*Node) inputs {
	x := inputs{tokens: in[0], tmask: in[1], proprio: in[2], objects: in[3], present: in[4]}
	if c.ImageSize > 0 {
		x.images = in[5]
	}
	return x
}

// Kind implements trainer.Trainable.
func (p *Policy) Kind() string { return Kind }

// Backend implements trainer.Trainable.
func (p *Policy) Backend() compute.Backend { return p.backend }

// Store implements trainer.Trainable.
func (p *Policy) Store() *model.Store { return p.store }

// NumSamples implements trainer.Trainable.
func (p *Policy) NumSamples(val bool) int { return p.samples.Len(val) }

// Inputs implements trainer.Trainable: the model inputs of the samples,
// then the targets [B, Chunk·ActionDim] (normalized relative actions, or
// int32 bins).
func (p *Policy) Inputs(indices []int, val bool) ([]*tensors.Tensor, error) {
	s := p.samples.Pick(val)
	if s == nil {
		return nil, errors.New("vla: Fit the policy on a dataset before training")
	}
	var b batch
	n, K, A := len(indices), p.cfg.Chunk, p.cfg.ActionDim
	target := make([]float32, 0, n*K*A)
	var bins []int32
	for _, i := range indices {
		epi, t := s.Anchor(i)
		ep := &p.ds.Episodes[epi]
		state := ep.States[t]
		img, err := p.frameImage(epi, t, state)
		if err != nil {
			return nil, err
		}
		if err := p.add(&b, state, ep.Task, img); err != nil {
			return nil, fmt.Errorf("vla: dataset %s, episode %d, frame %d: %w", p.ds.Name, ep.Index, t, err)
		}
		_, act := s.Window(i)
		for _, a := range act {
			r := relative(a, state)
			if p.cfg.Head == HeadBins {
				idx, err := p.norm.Bins.Encode(r)
				if err != nil {
					return nil, fmt.Errorf("vla: %w", err)
				}
				for _, v := range idx {
					bins = append(bins, int32(v))
				}
				continue
			}
			target = append(target, p.norm.Actions.Normalize(r)...)
		}
	}
	in := p.tensors(&b)
	if p.cfg.Head == HeadBins {
		return append(in, tensors.FromFlatDataAndDimensions(bins, n, K*A)), nil
	}
	return append(in, tensors.FromFlatDataAndDimensions(target, n, K*A)), nil
}

// frameImage is the rendered image of dataset frame (episode, t), cached.
func (p *Policy) frameImage(ep, t int, state []float32) ([]float32, error) {
	if p.cfg.ImageSize == 0 {
		return nil, nil
	}
	key := [2]int{ep, t}
	p.mu.Lock()
	img, ok := p.images[key]
	p.mu.Unlock()
	if ok {
		return img, nil
	}
	img, err := ArmImage(state, p.cfg.ImageSize)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.images[key] = img
	p.mu.Unlock()
	return img, nil
}

// LossGraph implements trainer.Trainable.
func (p *Policy) LossGraph(scope *model.Scope, in []*Node) *Node {
	c := p.cfg
	n := len(in)
	out := c.head(scope, c.network(scope, c.nodes(in[:n-1])))
	return c.loss(out, in[n-1])
}

// Meta implements trainer.Trainable.
func (p *Policy) Meta() (checkpoint.Meta, error) {
	c, err := json.Marshal(p.cfg)
	if err != nil {
		return checkpoint.Meta{}, err
	}
	n, err := json.Marshal(p.norm)
	return checkpoint.Meta{Kind: Kind, Config: c, Normalizers: n}, err
}

// Restore implements trainer.Trainable.
func (p *Policy) Restore(m checkpoint.Meta) error {
	var c Config
	if err := json.Unmarshal(m.Config, &c); err != nil {
		return fmt.Errorf("vla: checkpoint config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return err
	}
	var n normalizers
	if err := json.Unmarshal(m.Normalizers, &n); err != nil {
		return fmt.Errorf("vla: checkpoint statistics: %w", err)
	}
	for name, nm := range map[string]*data.Normalizer{"proprio": &n.Proprio, "objects": &n.Objects, "actions": &n.Actions} {
		if err := nm.Check(); err != nil {
			return fmt.Errorf("vla: checkpoint %s normalizer: %w", name, err)
		}
	}
	if c.Head == HeadBins && n.Bins == nil {
		return errors.New("vla: checkpoint has a bins head but no bins")
	}
	tok, err := tokenizer.Parse(n.Tokenizer, "the checkpoint's tokenizer")
	if err != nil {
		return fmt.Errorf("vla: %w", err)
	}
	if tok.Size() != c.VocabSize {
		return fmt.Errorf("vla: checkpoint tokenizer has %d tokens, its config says %d", tok.Size(), c.VocabSize)
	}
	p.cfg, p.norm, p.tok = c, n, tok
	p.Refresh()
	return nil
}

// Refresh implements trainer.Refresher: the next prediction compiles its
// graph afresh, with the current weights.
func (p *Policy) Refresh() {
	p.mu.Lock()
	p.exec = nil
	p.ids = nil
	p.mu.Unlock()
}

// Load makes a policy from a checkpoint, or from the newest checkpoint of
// a training run's directory.
func Load(b compute.Backend, dir string) (*Policy, error) {
	if b == nil {
		return nil, errors.New("vla: nil backend")
	}
	if latest, err := checkpoint.Latest(dir); err == nil {
		dir = latest
	}
	p := &Policy{backend: b, store: model.NewStore()}
	m, err := checkpoint.Load(dir, p.store)
	if err != nil {
		return nil, err
	}
	if m.Kind != Kind {
		return nil, fmt.Errorf("vla: checkpoint %s holds a %q policy, not a VLA", dir, m.Kind)
	}
	if err := p.Restore(m); err != nil {
		return nil, fmt.Errorf("vla: %s: %w", dir, err)
	}
	if err := p.checkShapes(); err != nil {
		return nil, fmt.Errorf("vla: checkpoint %s: %w", dir, err)
	}
	return p, nil
}

// Reset implements eval.ChunkPolicy (the policy keeps no state).
func (p *Policy) Reset(int64) {}

// PredictActionChunk implements eval.ChunkPolicy: [Chunk][ActionDim]
// joint-position targets for an arm observation with its instruction.
func (p *Policy) PredictActionChunk(obs sim.Obs) ([][]float32, error) {
	out, err := p.PredictBatch([]sim.Obs{obs})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// PredictBatch predicts for several observations at once:
// [B][Chunk][ActionDim]. Images are rendered from the states (the
// environment's own image is ignored: the model's camera is ImageSize).
func (p *Policy) PredictBatch(obs []sim.Obs) ([][][]float32, error) {
	if p.cfg.ActionDim == 0 || p.norm.Tokenizer == nil {
		return nil, errors.New("vla: the policy is not trained (Fit and train it, or Load a checkpoint)")
	}
	var b batch
	for i, o := range obs {
		if err := p.add(&b, o.State, o.Instruction, nil); err != nil {
			return nil, fmt.Errorf("vla: observation %d: %w", i, err)
		}
	}
	// Pad to the next power of two with copies of the last observation, so
	// that a batched evaluation, whose batch shrinks as episodes end,
	// compiles a graph per bucket (8 up to 128 episodes) and not one per
	// size: GoMLX keeps at most 32 per Exec.
	for i := len(obs); i < eval.Bucket(len(obs)); i++ {
		o := obs[len(obs)-1]
		if err := p.add(&b, o.State, o.Instruction, nil); err != nil {
			return nil, fmt.Errorf("vla: observation %d: %w", len(obs)-1, err)
		}
	}
	exec, err := p.predictor()
	if err != nil {
		return nil, err
	}
	args := make([]any, 0, 6)
	for _, t := range p.tensors(&b) {
		args = append(args, t)
	}
	res, err := exec.Call(args...)
	if err != nil {
		return nil, fmt.Errorf("vla: %w", err)
	}
	flat := tensors.MustCopyFlatData[float32](res[0])
	K, A := p.cfg.Chunk, p.cfg.ActionDim
	chunks := make([][][]float32, len(obs))
	for i := range chunks {
		chunks[i] = make([][]float32, K)
		for k := 0; k < K; k++ {
			v := flat[(i*K+k)*A : (i*K+k+1)*A]
			var a []float32
			if p.cfg.Head == HeadBins {
				idx := make([]int, A)
				for d := range idx {
					idx[d] = int(v[d])
				}
				if a, err = p.norm.Bins.Decode(idx); err != nil {
					return nil, fmt.Errorf("vla: %w", err)
				}
			} else {
				a = p.norm.Actions.Unnormalized(v)
			}
			for d := 0; d < 7 && d < A; d++ {
				a[d] += obs[i].State[d]
			}
			chunks[i][k] = a
		}
	}
	return chunks, nil
}

// predictor is the compiled prediction graph (rebuilt after Refresh).
func (p *Policy) predictor() (*model.Exec, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exec != nil {
		return p.exec, nil
	}
	c := p.cfg
	fn := func(scope *model.Scope, in []*Node) *Node {
		s := scope.In(Kind)
		return c.predict(c.head(s, c.network(s, c.nodes(in))))
	}
	e, err := model.NewExec(p.backend, p.store, fn)
	if err != nil {
		return nil, fmt.Errorf("vla: %w", err)
	}
	p.exec = e
	return e, nil
}

// checkShapes builds the prediction graph once on a blank observation, so
// a checkpoint whose weights disagree with its config fails to load with
// the variable and both shapes named, not at the first action.
func (p *Policy) checkShapes() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("weights do not match the config: %v", r)
		}
	}()
	_, err = p.PredictBatch([]sim.Obs{{State: make([]float32, arm.VectorDim)}})
	return err
}
