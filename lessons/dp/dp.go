// Package dp is the diffusion policy of section 4.2.3: a noise predictor,
// conditioned on the last ObsHorizon observations, learns to denoise action
// sequences of PredHorizon steps; acting samples a sequence by reverse
// diffusion and executes its first ActionHorizon actions.
//
// Two noise predictors plug in (package denoiser): the chapter's MLP
// NoisePredictor behind its observation encoder, and the 1-D temporal U-Net
// with FiLM conditioning of Diffusion Policy (Chi et al., RSS 2023). The
// noise schedules and samplers (DDPM, DDIM) are package diffusion.
//
// Training is the one training loop (package trainer), with Diffusion
// Policy's EMA of the weights (trainer.Config.EMA); acting uses the averaged
// weights when they exist. Evaluation is the one evaluation loop with the
// paper's protocol (see Evaluate and Score).
//
// With Config.Vision the policy is Diffusion Policy's image-based CNN: a
// ResNet encodes the camera image of each observation step, beside the
// proprioception (see Config.Vision and NewVision).
//
// Shapes, with B the batch, To = ObsHorizon, Tp = PredHorizon, S the state
// size, A the action size and size = Vision.ImageSize:
//
//	observations  [B, To·S]                the To most recent states, oldest first, normalized to [-1, 1]
//	images        [B, To, size, size, 3]   their camera images, RGB in [0, 1] (vision policies only)
//	actions       [B, Tp, A]               actions t..t+Tp−1, normalized to [-1, 1]
//	timesteps     [B]                      diffusion steps in [0, Noise.TrainSteps)
package dp

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math/rand/v2"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/policylab/policylab/lessons/bc"
	"github.com/policylab/policylab/lessons/checkpoint"
	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/denoiser"
	"github.com/policylab/policylab/lessons/dense"
	"github.com/policylab/policylab/lessons/diffusion"
	"github.com/policylab/policylab/lessons/sim"
	"github.com/policylab/policylab/lessons/trainer"
)

// Noise predictor networks of Config.Network.
const (
	NetworkMLP  = "mlp"  // the chapter's NoisePredictor behind its observation encoder
	NetworkUNet = "unet" // Diffusion Policy's ConditionalUnet1D
)

// Kind names a diffusion policy in checkpoints.
const Kind = "diffusion"

// Config of a diffusion policy.
type Config struct {
	// Network is NetworkMLP or NetworkUNet.
	Network string `json:"network"`
	// ObsHorizon To (observations the policy conditions on), PredHorizon
	// Tp (actions it denoises) and ActionHorizon Ta (actions it executes
	// before sampling again): 2, 16 and 8 in Diffusion Policy.
	ObsHorizon    int `json:"obs_horizon"`
	PredHorizon   int `json:"pred_horizon"`
	ActionHorizon int `json:"action_horizon"`
	// Hidden is the width of the chapter's observation encoder and MLP
	// noise predictor (256 in the chapter).
	Hidden int `json:"hidden"`
	// UNet configures the U-Net (Network "unet").
	UNet denoiser.UNetConfig `json:"unet"`
	// Noise is the noise schedule (100 training steps).
	Noise diffusion.Config `json:"noise"`
	// Method samples with "ddpm" (all Noise.TrainSteps steps), "ddim"
	// (InferenceSteps steps, stochasticity Eta; 0 is deterministic) or
	// "chapter" (the chapter's update over all steps).
	Method         diffusion.Method `json:"method"`
	InferenceSteps int              `json:"inference_steps"`
	Eta            float64          `json:"eta"`
	// Vision, when set, makes this Diffusion Policy's image-based CNN
	// (Chi et al. 2023, Push-T image): per observation step a ResNet
	// encodes the camera image (bc.VisionConfig: width, normalization,
	// pool, image size, random shifts) and its features sit beside the
	// first Vision.ProprioDim state elements, the proprioception (2 for
	// sim.PushTState: the agent's x, y); the features of the To steps,
	// concatenated, are the noise predictor's global condition. The other
	// state elements never reach the network: the block's pose comes
	// through the image. nil: the state-based policy. A vision policy is
	// made by NewVision (or LoadVision), which take its image renderer.
	Vision *bc.VisionConfig `json:"vision,omitempty"`
	// StateDim and ActionDim are set from the dataset by Fit.
	StateDim  int `json:"state_dim"`
	ActionDim int `json:"action_dim"`
}

// DefaultConfig is Diffusion Policy's state-based CNN (Chi et al. 2023,
// Push-T low-dim): To 2, Tp 16, Ta 8, U-Net 256/512/1024 with kernel 5 and
// 8 groups, squaredcos_cap_v2 over 100 steps with clipping. Departure: it
// samples with DDIM in 10 steps (the paper's CNN uses DDPM's 100); set
// Method "ddpm" for the paper's.
func DefaultConfig() Config {
	return Config{
		Network: NetworkUNet, ObsHorizon: 2, PredHorizon: 16, ActionHorizon: 8, Hidden: 256,
		UNet: denoiser.DefaultUNetConfig(), Noise: diffusion.DefaultConfig(),
		Method: diffusion.MethodDDIM, InferenceSteps: 10,
	}
}

// CPUConfig is DefaultConfig with a U-Net an eighth as wide (32/64/128,
// step embedding 64), for training on a laptop's CPU: the policy make
// dp-pusht trains and scores. Departure from the paper's width, measured
// (Push-T, 2 cores, 28 min of training, seed 1, DDPM-100): a U-Net of
// 64/128/256 learned slower per minute (3.9 steps/s, 0.710 mean of the last
// three checkpoints) than this one (11.5 steps/s, 0.845).
func CPUConfig() Config {
	c := DefaultConfig()
	c.UNet.DownDims = []int{32, 64, 128}
	c.UNet.TimeEmbedDim = 64
	return c
}

// ChapterConfig is the chapter's DiffusionPolicy: the MLP noise predictor
// (hidden 256) on one observation, linear betas 1e-4..0.02 over 100 steps,
// 16 actions, sampled over all 100 steps with the chapter's own update
// (diffusion.MethodChapter: the DDPM mean with variance β_t, no clipping).
func ChapterConfig() Config {
	return Config{
		Network: NetworkMLP, ObsHorizon: 1, PredHorizon: 16, ActionHorizon: 8, Hidden: 256,
		UNet: denoiser.DefaultUNetConfig(), Noise: diffusion.ChapterConfig(),
		Method: diffusion.MethodChapter, InferenceSteps: 100,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	bad := func(field string, v any, want string) error { return fmt.Errorf("dp: %s = %v, %s", field, v, want) }
	switch {
	case c.Network != NetworkMLP && c.Network != NetworkUNet:
		return bad("Network", fmt.Sprintf("%q", c.Network), fmt.Sprintf("want %q or %q", NetworkMLP, NetworkUNet))
	case c.ObsHorizon < 1:
		return bad("ObsHorizon", c.ObsHorizon, "must be >= 1")
	case c.PredHorizon < 1:
		return bad("PredHorizon", c.PredHorizon, "must be >= 1")
	case c.ActionHorizon < 1 || c.ActionHorizon > c.PredHorizon:
		return bad("ActionHorizon", c.ActionHorizon, fmt.Sprintf("must be in [1, PredHorizon=%d]", c.PredHorizon))
	case c.Network == NetworkMLP && c.Hidden < 2:
		return bad("Hidden", c.Hidden, "must be >= 2")
	case c.Method != diffusion.MethodDDPM && c.Method != diffusion.MethodDDIM && c.Method != diffusion.MethodChapter:
		return bad("Method", fmt.Sprintf("%q", c.Method), fmt.Sprintf("want %q, %q or %q", diffusion.MethodDDPM, diffusion.MethodDDIM, diffusion.MethodChapter))
	case c.Method == diffusion.MethodDDIM && (c.InferenceSteps < 1 || c.InferenceSteps > c.Noise.TrainSteps):
		return bad("InferenceSteps", c.InferenceSteps, fmt.Sprintf("must be in [1, Noise.TrainSteps=%d]", c.Noise.TrainSteps))
	case c.Eta < 0:
		return bad("Eta", c.Eta, "must be >= 0")
	case c.StateDim < 0 || c.ActionDim < 0:
		return fmt.Errorf("dp: StateDim %d and ActionDim %d must be >= 0", c.StateDim, c.ActionDim)
	}
	if err := c.Noise.Validate(); err != nil {
		return err
	}
	if c.Network == NetworkUNet {
		if err := c.UNet.Validate(); err != nil {
			return err
		}
		if f := 1 << (len(c.UNet.DownDims) - 1); c.PredHorizon%f != 0 {
			return bad("PredHorizon", c.PredHorizon, fmt.Sprintf("must be divisible by %d for a U-Net of %d levels", f, len(c.UNet.DownDims)))
		}
	}
	if c.Vision != nil {
		if err := c.Vision.Validate(); err != nil {
			return fmt.Errorf("dp: %w", err)
		}
		if c.StateDim > 0 && c.Vision.ProprioDim > c.StateDim {
			return bad("Vision.ProprioDim", c.Vision.ProprioDim, fmt.Sprintf("more than the %d state elements", c.StateDim))
		}
		if m := featureMapSide(c.Vision.ImageSize); c.Vision.Pool == bc.PoolSpatialSoftmax && m < 2 {
			return bad("Vision.ImageSize", c.Vision.ImageSize, fmt.Sprintf("gives ResNet feature maps of %d×%d, on which a spatial softmax is constant: use images over 32 px or Pool %q", m, m, bc.PoolAvg))
		}
	}
	return nil
}

// Policy is a diffusion policy: trainable by package trainer, and an
// eval.ChunkPolicy (and eval.Observer) for one episode at a time. For
// parallel episodes, each takes its own Actor.
type Policy struct {
	cfg              Config
	backend          compute.Backend
	store            *model.Store
	sched            *diffusion.Scheduler
	obsNorm, actNorm data.Normalizer
	samples          data.Splits

	// images renders the camera image of a state (vision policies): the
	// image a dataset frame showed. frames caches the resized image of
	// each distinct training state (see batchImages).
	images   func(state []float32) (*image.RGBA, error)
	framesMu sync.Mutex
	frames   map[string][]uint8

	// UseEMA makes acting use the averaged weights when the store has
	// them (true by default; set false to compare).
	UseEMA bool

	// noiseRNG draws the timesteps and noise of host noising (see
	// Inputs), one stream for training batches and one for validation,
	// seeded by Fit.
	noiseMu  sync.Mutex
	noiseRNG [2]*rand.Rand

	// Sampling picks how a sampling run executes: as one compiled graph
	// or a call per denoising step (see SamplingMode; Auto by default).
	Sampling SamplingMode
	// padFused pads fused runs to eval.Bucket rows on any backend (tests;
	// see runFused).
	padFused bool

	mu       sync.Mutex
	execs    map[bool]*model.Exec     // noise predictor, by "reads the EMA weights"
	fused    map[fusedKey]*model.Exec // whole sampling runs (see fusedExec)
	encoders map[bool]*model.Exec     // vision condition, likewise
	actor    *Actor
}

// New makes an untrained policy; Fit it on a dataset to train it.
func New(b compute.Backend, cfg Config) (*Policy, error) {
	if b == nil {
		return nil, errors.New("dp: nil backend")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Vision != nil {
		return nil, errors.New("dp: a vision config needs NewVision (it needs the image renderer)")
	}
	s, err := diffusion.New(cfg.Noise)
	if err != nil {
		return nil, err
	}
	return &Policy{cfg: cfg, backend: b, store: model.NewStore(), sched: s, UseEMA: true}, nil
}

// Config returns the configuration (StateDim and ActionDim set after Fit).
func (p *Policy) Config() Config { return p.cfg }

// SetSampler changes how the policy samples (Method, InferenceSteps for
// DDIM, Eta) without touching its weights: the paper samples Push-T with
// DDPM-100, our CPU config with DDIM-10. It returns an error naming the
// bad value, and then leaves the policy as it was.
func (p *Policy) SetSampler(method diffusion.Method, steps int, eta float64) error {
	c := p.cfg
	c.Method, c.InferenceSteps, c.Eta = method, steps, eta
	if err := c.Validate(); err != nil {
		return err
	}
	p.cfg = c
	return nil
}

// Scheduler is the policy's noise schedule. Its Hooks, set before
// training or sampling, replace the forward process (training then noises
// on the host, see Inputs) and the DDIM step; Restore keeps them.
func (p *Policy) Scheduler() *diffusion.Scheduler { return p.sched }

// Fit splits ds into training and validation episodes (valFraction, by
// seed), fits min-max normalizers to [-1, 1] on the training episodes and
// builds the windowed samplers (To observations, Tp actions).
func (p *Policy) Fit(ds *data.Dataset, valFraction float64, seed int64) error {
	if err := ds.Validate(); err != nil {
		return err
	}
	train, val := data.SplitEpisodes(len(ds.Episodes), valFraction, seed)
	if len(train) == 0 {
		return fmt.Errorf("dp: dataset %s has no training episodes", ds.Name)
	}
	p.cfg.StateDim, p.cfg.ActionDim = ds.StateDim(), ds.ActionDim()
	if err := p.cfg.Validate(); err != nil {
		return err
	}
	var states, actions [][]float32
	for _, i := range train {
		states = append(states, ds.Episodes[i].States...)
		actions = append(actions, ds.Episodes[i].Actions...)
	}
	var err error
	if p.obsNorm, err = data.FitMinMax(states); err != nil {
		return fmt.Errorf("dp: observation normalizer: %w", err)
	}
	if p.actNorm, err = data.FitMinMax(actions); err != nil {
		return fmt.Errorf("dp: action normalizer: %w", err)
	}
	if p.samples.Train, err = data.NewSampler(ds, train, p.cfg.ObsHorizon, p.cfg.PredHorizon); err != nil {
		return err
	}
	p.samples.Val = nil
	if len(val) > 0 {
		if p.samples.Val, err = data.NewSampler(ds, val, p.cfg.ObsHorizon, p.cfg.PredHorizon); err != nil {
			return err
		}
	}
	p.noiseMu.Lock()
	p.noiseRNG = [2]*rand.Rand{rand.New(rand.NewPCG(uint64(seed), 0x686f7374)), rand.New(rand.NewPCG(uint64(seed), 0x76616c))}
	p.noiseMu.Unlock()
	p.resetExecs()
	p.resetFrames()
	return nil
}

// Kind implements trainer.Trainable.
func (p *Policy) Kind() string { return Kind }

// Backend implements trainer.Trainable.
func (p *Policy) Backend() compute.Backend { return p.backend }

// Store implements trainer.Trainable.
func (p *Policy) Store() *model.Store { return p.store }

// NumSamples implements trainer.Trainable.
func (p *Policy) NumSamples(val bool) int {
	return p.samples.Len(val)
}

// Inputs implements trainer.Trainable: observations [B, To·S] and clean
// actions [B, Tp, A], both normalized, and for a vision policy the images
// [B, To, size, size, 3] of the observations (see batchImages). The noise
// and timesteps are drawn in the graph from the store's random state,
// which checkpoints save, so a resumed run draws what the uninterrupted
// one would.
//
// Host noising: when the scheduler has a forward-process hook
// (Scheduler().Hooks.AddNoise, set before training starts), the noising
// runs in Go instead, through that hook, so that other code's forward
// process trains a real policy (the hands-on exercise ex2diffusion). Then
// Inputs draws t ~ U{0..T−1} and ε ~ N(0, I) per sample from a stream
// seeded by Fit's seed (one for training, one for validation batches),
// and the clean actions are replaced by x_t [B, Tp, A] =
// Scheduler().AddNoise(x₀, ε, t), followed by ε [B, Tp, A] and t [B]
// (float32), then the images. Departure: that stream is not checkpointed,
// so a resumed run draws other noise than an uninterrupted one.
func (p *Policy) Inputs(indices []int, val bool) ([]*tensors.Tensor, error) {
	s := p.samples.Pick(val)
	if s == nil {
		return nil, errors.New("dp: Fit the policy on a dataset before training")
	}
	obs, act := s.Batch(indices)
	var img *tensors.Tensor
	if p.cfg.Vision != nil {
		var err error
		if img, err = p.batchImages(indices, obs, val); err != nil { // from the states in environment units
			return nil, err
		}
	}
	p.obsNorm.Normalize(obs)
	p.actNorm.Normalize(act)
	n := len(indices)
	in := []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(obs, n, p.cfg.ObsHorizon*p.cfg.StateDim),
		tensors.FromFlatDataAndDimensions(act, n, p.cfg.PredHorizon, p.cfg.ActionDim),
	}
	if p.noiseOnHost() {
		xt, noise, ts := p.hostNoise(act, n, val)
		in = append(in[:1],
			tensors.FromFlatDataAndDimensions(xt, n, p.cfg.PredHorizon, p.cfg.ActionDim),
			tensors.FromFlatDataAndDimensions(noise, n, p.cfg.PredHorizon, p.cfg.ActionDim),
			tensors.FromFlatDataAndDimensions(ts, n))
	}
	if img != nil {
		in = append(in, img)
	}
	return in, nil
}

// noiseOnHost reports whether training noises on the host (see Inputs).
func (p *Policy) noiseOnHost() bool { return p.sched != nil && p.sched.Hooks.AddNoise != nil }

// hostNoise draws t and ε for n samples of clean actions x0 [n·Tp·A] from
// the training or validation stream and noises them with the scheduler's
// AddNoise: x_t and ε [n·Tp·A], t [n] as float32.
func (p *Policy) hostNoise(x0 []float32, n int, val bool) (xt, noise, ts []float32) {
	k := len(x0) / n
	xt, noise, ts = make([]float32, len(x0)), make([]float32, len(x0)), make([]float32, n)
	p.noiseMu.Lock()
	rng := p.noiseRNG[0]
	if val {
		rng = p.noiseRNG[1]
	}
	steps := make([]int, n)
	for b := range steps {
		steps[b] = rng.IntN(p.cfg.Noise.TrainSteps)
		for i := b * k; i < (b+1)*k; i++ {
			noise[i] = float32(rng.NormFloat64())
		}
	}
	p.noiseMu.Unlock()
	for b, t := range steps {
		ts[b] = float32(t)
		p.sched.AddNoise(xt[b*k:(b+1)*k], x0[b*k:(b+1)*k], noise[b*k:(b+1)*k], t)
	}
	return xt, noise, ts
}

// LossGraph implements trainer.Trainable: ε-prediction (Ho et al. 2020,
// eq. 14): t ~ U{0..T−1}, ε ~ N(0, I), x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε, and the
// loss is the mean of (ε̂(x_t, t, obs) − ε)². With host noising (see
// Inputs), t, ε and x_t come in as inputs.
func (p *Policy) LossGraph(scope *model.Scope, inputs []*Node) *Node {
	if p.noiseOnHost() {
		var images *Node
		if len(inputs) > 4 {
			images = inputs[4]
		}
		obs, xt, noise, t := inputs[0], inputs[1], inputs[2], inputs[3]
		eps := p.forward(scope, obs, images, xt, t)
		return ReduceAllMean(Square(Sub(eps, noise)))
	}
	obs, x0 := inputs[0], inputs[1]
	var images *Node
	if len(inputs) > 2 {
		images = inputs[2]
	}
	g := x0.Graph()
	B := x0.Shape().Dimensions[0]
	noise := scope.RandomNormal(g, x0.Shape())
	t := scope.RandomIntN(g, int32(p.cfg.Noise.TrainSteps), shapes.Make(dtypes.Int32, B)) // (a plain int N gives nil)
	ab := make([]float32, len(p.sched.AlphasCumprod))
	for i, v := range p.sched.AlphasCumprod {
		ab[i] = float32(v)
	}
	abT := Reshape(Gather(Const(g, ab), Reshape(t, B, 1)), B, 1, 1)
	xt := Add(Mul(Sqrt(abT), x0), Mul(Sqrt(OneMinus(abT)), noise))
	eps := p.forward(scope, obs, images, xt, ConvertDType(t, dtypes.Float32))
	return ReduceAllMean(Square(Sub(eps, noise)))
}

// forward predicts the noise: obs [B, To·S], images [B, To, size, size,
// 3] (vision policies; else nil), x [B, Tp, A], t [B] → [B, Tp, A].
func (p *Policy) forward(scope *model.Scope, obs, images, x, t *Node) *Node {
	return p.denoise(scope, p.condition(scope, obs, images), x, t)
}

// denoise is the noise predictor on its observation condition cond
// [B, C] (see condition): x [B, Tp, A], t [B] → [B, Tp, A].
func (p *Policy) denoise(scope *model.Scope, cond, x, t *Node) *Node {
	if p.cfg.Network == NetworkMLP {
		// The chapter's observation encoder: Linear → ReLU → Linear.
		enc := scope.In("obs_encoder")
		h := activation.Relu(dense.Layer(enc.In("0"), cond, p.cfg.Hidden))
		h = dense.Layer(enc.In("2"), h, p.cfg.Hidden)
		return denoiser.MLP(scope.In("noise_pred"), denoiser.MLPConfig{Hidden: p.cfg.Hidden}, x, t, h)
	}
	// Diffusion Policy: the flattened observations (low-dim) or their
	// features (image) are the global condition, beside the timestep
	// embedding.
	return denoiser.UNet1D(scope.In("noise_pred"), p.cfg.UNet, x, t, cond)
}

// Meta implements trainer.Trainable.
func (p *Policy) Meta() (checkpoint.Meta, error) {
	c, err := json.Marshal(p.cfg)
	if err != nil {
		return checkpoint.Meta{}, err
	}
	n, err := json.Marshal(data.Normalizers{Obs: p.obsNorm, Act: p.actNorm})
	return checkpoint.Meta{Kind: Kind, Config: c, Normalizers: n}, err
}

// Restore implements trainer.Trainable.
func (p *Policy) Restore(m checkpoint.Meta) error {
	c := DefaultConfig()
	if err := json.Unmarshal(m.Config, &c); err != nil {
		return fmt.Errorf("dp: checkpoint config: %w", err)
	}
	if err := c.Validate(); err != nil {
		return err
	}
	var n data.Normalizers
	if err := json.Unmarshal(m.Normalizers, &n); err != nil {
		return fmt.Errorf("dp: checkpoint normalizers: %w", err)
	}
	if err := n.Check(); err != nil {
		return fmt.Errorf("dp: checkpoint %w", err)
	}
	if p.samples.Train != nil && (c.StateDim != p.cfg.StateDim || c.ActionDim != p.cfg.ActionDim) {
		return fmt.Errorf("dp: checkpoint is for state %d / action %d, the dataset has %d / %d", c.StateDim, c.ActionDim, p.cfg.StateDim, p.cfg.ActionDim)
	}
	if p.samples.Train != nil && (c.Vision == nil) != (p.cfg.Vision == nil) {
		return fmt.Errorf("dp: checkpoint is a %s policy, this one is a %s policy", visionName(c), visionName(p.cfg))
	}
	if c.Vision != nil && p.images == nil {
		return errors.New("dp: checkpoint is a vision policy, which needs its image renderer (LoadVision, or NewVision to train)")
	}
	s, err := diffusion.New(c.Noise)
	if err != nil {
		return err
	}
	if p.sched != nil {
		s.Hooks = p.sched.Hooks // a resumed run keeps the hooks set before training
	}
	p.cfg, p.obsNorm, p.actNorm, p.sched = c, n.Obs, n.Act, s
	p.resetExecs()
	p.resetFrames()
	return nil
}

func visionName(c Config) string {
	if c.Vision != nil {
		return "vision"
	}
	return "state-based"
}

// Load makes a policy from a checkpoint directory. It checks that every
// weight has the shape the checkpoint's config builds, so a config edited
// apart from its weights is an error naming both shapes. A vision policy's
// checkpoint needs LoadVision.
func Load(b compute.Backend, dir string) (*Policy, error) { return load(b, dir, nil) }

// LoadVision is Load with the image renderer of a vision policy (as
// NewVision takes it). A state-based checkpoint loads too, and ignores it.
func LoadVision(b compute.Backend, dir string, images func(state []float32) (*image.RGBA, error)) (*Policy, error) {
	if images == nil {
		return nil, errors.New("dp: LoadVision needs an image renderer")
	}
	return load(b, dir, images)
}

func load(b compute.Backend, dir string, images func(state []float32) (*image.RGBA, error)) (*Policy, error) {
	if b == nil {
		return nil, errors.New("dp: nil backend")
	}
	p := &Policy{cfg: DefaultConfig(), backend: b, store: model.NewStore(), images: images, UseEMA: true}
	m, err := checkpoint.Load(dir, p.store)
	if err != nil {
		return nil, err
	}
	if m.Kind != Kind {
		return nil, fmt.Errorf("dp: checkpoint %s holds a %q policy, not a diffusion policy", dir, m.Kind)
	}
	var peek struct {
		Vision *bc.VisionConfig `json:"vision"`
	}
	if err := json.Unmarshal(m.Config, &peek); err == nil && peek.Vision != nil && images == nil {
		return nil, fmt.Errorf("dp: checkpoint %s is a vision policy: load it with LoadVision and its image renderer", dir)
	}
	if err := p.Restore(m); err != nil {
		return nil, fmt.Errorf("dp: checkpoint %s: %w", dir, err)
	}
	if err := p.checkShapes(); err != nil {
		return nil, fmt.Errorf("dp: checkpoint %s: %w", dir, err)
	}
	return p, nil
}

// checkShapes builds the noise predictor (and a vision policy's image
// encoder) once on a throwaway store holding fresh variables and compares
// every shape with the loaded weights.
func (p *Policy) checkShapes() (err error) {
	fresh := model.NewStore()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the config does not build: %v", r)
		}
	}()
	g := NewGraph(p.backend, "shape-check")
	defer g.Finalize()
	B := 1
	obs := Parameter(g, "obs", shapes.Make(dtypes.Float32, B, p.cfg.ObsHorizon*p.cfg.StateDim))
	x := Parameter(g, "x", shapes.Make(dtypes.Float32, B, p.cfg.PredHorizon, p.cfg.ActionDim))
	t := Parameter(g, "t", shapes.Make(dtypes.Float32, B))
	var images *Node
	if v := p.cfg.Vision; v != nil {
		images = Parameter(g, "images", shapes.Make(dtypes.Float32, B, p.cfg.ObsHorizon, v.ImageSize, v.ImageSize, 3))
	}
	p.forward(fresh.RootScope().In(Kind), obs, images, x, t)
	n := 0
	for v := range fresh.IterVariables() {
		lv := p.store.GetVariable(v.Path())
		if lv == nil {
			return fmt.Errorf("the config needs weight %s %s, which the checkpoint lacks", v.Path(), v.Shape())
		}
		if !lv.Shape().Equal(v.Shape()) {
			return fmt.Errorf("weight %s is %s in the checkpoint, but its config builds %s", v.Path(), lv.Shape(), v.Shape())
		}
		n++
	}
	if n == 0 {
		return errors.New("the config builds no weights")
	}
	return nil
}

// Refresh implements trainer.Refresher: the next sampling compiles its
// graphs afresh, with the current weights.
func (p *Policy) Refresh() {
	p.mu.Lock()
	p.execs, p.encoders, p.fused = nil, nil, nil
	p.mu.Unlock()
}

func (p *Policy) resetExecs() {
	p.mu.Lock()
	p.execs, p.encoders, p.fused = nil, nil, nil
	p.actor = nil
	p.mu.Unlock()
}

// hasEMA reports whether the store holds averaged weights.
func (p *Policy) hasEMA() bool {
	prefix := trainer.EMAScope + "/" + Kind + "/"
	for v := range p.store.IterVariables() {
		if strings.HasPrefix(v.Path(), prefix) {
			return true
		}
	}
	return false
}

// exec returns the compiled noise predictor for acting: (cond [n, C],
// x [n, Tp, A], t [n]) → ε̂ [n, Tp, A], reading the EMA weights when
// UseEMA and they exist. cond is the observation condition: the
// observations [n, To·S] of a state-based policy, the encoder's output
// (see encoder) for a vision policy, computed once per chunk rather than
// at every denoising step. It compiles one graph per batch size n, with no
// limit on how many: a batched evaluation (Batch, eval.RunScheduled)
// queries whichever of its episodes are due, so 50 episodes under latency
// ask for more than GoMLX's default of 32 sizes.
func (p *Policy) exec() (*model.Exec, error) {
	ema := p.UseEMA && p.hasEMA()
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.execs[ema]; e != nil {
		return e, nil
	}
	e, err := model.NewExec(p.backend, p.store, func(scope *model.Scope, cond, x, t *Node) *Node {
		if ema {
			scope = p.store.Scope(trainer.EMAScope)
		}
		return p.denoise(scope.In(Kind), cond, x, t)
	})
	if err != nil {
		return nil, fmt.Errorf("dp: %w", err)
	}
	e.SetMaxCache(-1) // at most one graph per episode count of a batched evaluation
	if p.execs == nil {
		p.execs = map[bool]*model.Exec{}
	}
	p.execs[ema] = e
	return e, nil
}

// SampleOptions trace a sampling run.
type SampleOptions struct {
	// OnStep, when set, sees the (normalized) samples after each denoising
	// step: t is the step just taken, x is [n, Tp, A] flattened.
	OnStep func(t int, x []float32)
	// Images are the camera images of the observation window, oldest
	// first (vision policies only): none, or one per observation, any
	// size (they are resized to Vision.ImageSize). A missing or nil image
	// is rendered from its observation by the policy's renderer.
	Images []*image.RGBA
}

// Sample draws n action sequences for one observation window obs
// [To][StateDim] (environment units, oldest first): [n][Tp][ActionDim] in
// environment units. rng draws the initial noise and the sampler's noise,
// so a seed fixes the result. A vision policy also sees the window's
// images (opt.Images, or rendered from obs).
func (p *Policy) Sample(obs [][]float32, n int, rng *rand.Rand, opt SampleOptions) ([][][]float32, error) {
	if err := p.checkWindow(obs, n); err != nil {
		return nil, err
	}
	var frames [][]uint8
	if p.cfg.Vision == nil {
		if len(opt.Images) > 0 {
			return nil, errors.New("dp: SampleOptions.Images given to a state-based policy")
		}
	} else {
		if len(opt.Images) != 0 && len(opt.Images) != len(obs) {
			return nil, fmt.Errorf("dp: Sample takes no images or %d (one per observation, ObsHorizon), got %d", len(obs), len(opt.Images))
		}
		frames = make([][]uint8, len(obs))
		for i, o := range obs {
			var img *image.RGBA
			if i < len(opt.Images) {
				img = opt.Images[i]
			}
			var err error
			if frames[i], err = p.frame(o, img); err != nil {
				return nil, fmt.Errorf("dp: observation %d: %w", i, err)
			}
		}
	}
	return p.sample(obs, frames, n, rng, opt.OnStep)
}

// checkWindow checks Sample's observation window and sample count.
func (p *Policy) checkWindow(obs [][]float32, n int) error {
	c := p.cfg
	if c.StateDim == 0 {
		return errors.New("dp: the policy is not trained (Fit and train it, or Load a checkpoint)")
	}
	if len(obs) != c.ObsHorizon {
		return fmt.Errorf("dp: Sample takes %d observations (ObsHorizon), got %d", c.ObsHorizon, len(obs))
	}
	if n < 1 {
		return fmt.Errorf("dp: Sample n = %d, must be >= 1", n)
	}
	for i, o := range obs {
		if len(o) != c.StateDim {
			return fmt.Errorf("dp: observation %d has %d values, the policy takes %d", i, len(o), c.StateDim)
		}
	}
	return nil
}

// sample is Sample on a checked window; frames are the resized images of
// its observations (vision policies; see frame).
func (p *Policy) sample(obs [][]float32, frames [][]uint8, n int, rng *rand.Rand, onStep func(int, []float32)) ([][][]float32, error) {
	row, err := p.condition1(obs, frames)
	if err != nil {
		return nil, err
	}
	cond := make([]float32, 0, n*len(row))
	for i := 0; i < n; i++ {
		cond = append(cond, row...)
	}
	x := make([]float32, n*p.cfg.PredHorizon*p.cfg.ActionDim)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return p.run(cond, n, x, rng, onStep)
}

// condition1 is the observation condition of one checked window: its
// normalized states [To·S], or for a vision policy the encoder's output
// (the encoder runs once per window, not at each denoising step).
func (p *Policy) condition1(obs [][]float32, frames [][]uint8) ([]float32, error) {
	row := make([]float32, 0, p.cfg.ObsHorizon*p.cfg.StateDim)
	for _, o := range obs {
		row = append(row, p.obsNorm.Normalized(o)...)
	}
	if p.cfg.Vision != nil {
		return p.encode(row, frames)
	}
	return row, nil
}

// run denoises n samples from their initial noise x [n·Tp·A] under the
// conditions cond [n·C] (one row per sample), drawing the sampler's noise
// (DDPM, DDIM with η > 0) from rng: → [n][Tp][ActionDim] in environment
// units. As Policy.Sampling picks (see fusedPlan), a run of at most
// MaxFusedSteps steps is one call of a compiled graph (runFused);
// otherwise the host's diffusion.Sample calls the noise predictor once per
// step.
func (p *Policy) run(cond []float32, n int, x []float32, rng *rand.Rand, onStep func(int, []float32)) ([][][]float32, error) {
	c := p.cfg
	if plan := p.fusedPlan(onStep); plan != nil {
		if err := p.runFused(plan, cond, n, x, rng); err != nil {
			return nil, err
		}
		return p.unnormalize(x, n), nil
	}
	e, err := p.exec()
	if err != nil {
		return nil, err
	}
	condT := tensors.FromFlatDataAndDimensions(cond, n, len(cond)/n)
	ts := make([]float32, n)
	predict := func(xt []float32, t int) ([]float32, error) {
		for i := range ts {
			ts[i] = float32(t)
		}
		res, err := e.Call(condT, tensors.FromFlatDataAndDimensions(xt, n, c.PredHorizon, c.ActionDim), tensors.FromFlatDataAndDimensions(ts, n))
		if err != nil {
			return nil, fmt.Errorf("dp: %w", err)
		}
		return tensors.MustCopyFlatData[float32](res[0]), nil
	}
	steps := c.InferenceSteps
	if c.Method != diffusion.MethodDDIM {
		steps = c.Noise.TrainSteps
	}
	if err := p.sched.Sample(x, predict, c.Method, steps, c.Eta, rng, onStep); err != nil {
		return nil, err
	}
	return p.unnormalize(x, n), nil
}

// unnormalize splits the samples x [n·Tp·A] (normalized) into
// [n][Tp][ActionDim] actions in environment units.
func (p *Policy) unnormalize(x []float32, n int) [][][]float32 {
	c := p.cfg
	out := make([][][]float32, n)
	A := c.ActionDim
	for b := range out {
		out[b] = make([][]float32, c.PredHorizon)
		for k := range out[b] {
			a := append([]float32(nil), x[(b*c.PredHorizon+k)*A:(b*c.PredHorizon+k+1)*A]...)
			out[b][k] = p.actNorm.Unnormalize(a)
		}
	}
	return out
}

// Actor acts for one episode at a time: it keeps the last ObsHorizon
// observations (and, for a vision policy, their images) and a random
// stream seeded by Reset. Actors of one policy may run in parallel.
type Actor struct {
	p    *Policy
	hist [][]float32
	// imgs are the camera images of hist (vision policies; nil where the
	// observation had none, to render from its state), frames their
	// resized images, made when a window first needs them.
	imgs   []*image.RGBA
	frames [][]uint8
	rng    *rand.Rand
}

// NewActor returns a fresh actor of the policy.
func (p *Policy) NewActor() *Actor { return &Actor{p: p, rng: rand.New(rand.NewPCG(0, 0))} }

// Reset implements eval.ChunkPolicy: it forgets the observations and seeds
// the sampler's randomness with the episode's seed, so an episode replays
// exactly.
func (a *Actor) Reset(seed int64) {
	a.hist, a.imgs, a.frames = a.hist[:0], a.imgs[:0], a.frames[:0]
	a.rng = rand.New(rand.NewPCG(uint64(seed), 0x5eed))
}

// Observe implements eval.Observer. A vision policy keeps obs.Image too
// (or renders the observation from its state when the environment gives
// no image).
func (a *Actor) Observe(obs sim.Obs) {
	a.hist = append(a.hist, append([]float32(nil), obs.State...))
	if a.p.cfg.Vision != nil {
		a.imgs, a.frames = append(a.imgs, obs.Image), append(a.frames, nil)
	}
	if n := a.p.cfg.ObsHorizon; len(a.hist) > n {
		a.hist = a.hist[len(a.hist)-n:]
		if a.p.cfg.Vision != nil {
			a.imgs, a.frames = a.imgs[len(a.imgs)-n:], a.frames[len(a.frames)-n:]
		}
	}
}

// PredictActionChunk implements eval.ChunkPolicy: it samples Tp actions
// conditioned on the last To observations (the first one repeated at the
// start of an episode, as Diffusion Policy pads) and returns all of them,
// for steps t..t+Tp-1: [Tp][ActionDim]. How many to execute is the
// executor's choice: Diffusion Policy executes ActionHorizon (Ta), as
// eval.Chunked(actor, Ta) does; package chunking's temporal ensembling and
// asynchronous execution use the whole chunk.
func (a *Actor) PredictActionChunk(obs sim.Obs) ([][]float32, error) {
	a.Observe(obs)
	win, frames, err := a.window()
	if err != nil {
		return nil, err
	}
	s, err := a.p.sample(win, frames, 1, a.rng, nil)
	if err != nil {
		return nil, err
	}
	return s[0], nil
}

// window is the conditioning window of the observations so far (the first
// repeated at the start of an episode) and, for a vision policy, its
// resized images, checked.
func (a *Actor) window() ([][]float32, [][]uint8, error) {
	if len(a.hist) == 0 {
		return nil, nil, errors.New("dp: the actor has observed nothing")
	}
	win := make([][]float32, a.p.cfg.ObsHorizon)
	pad := len(win) - len(a.hist)
	for i := range win {
		win[i] = a.hist[max(0, i-pad)]
	}
	if err := a.p.checkWindow(win, 1); err != nil {
		return nil, nil, err
	}
	var frames [][]uint8
	if a.p.cfg.Vision != nil {
		frames = make([][]uint8, len(win))
		for i := range frames {
			h := max(0, i-pad)
			if a.frames[h] == nil {
				f, err := a.p.frame(a.hist[h], a.imgs[h])
				if err != nil {
					return nil, nil, err
				}
				a.frames[h], a.imgs[h] = f, nil
			}
			frames[i] = a.frames[h]
		}
	}
	return win, frames, nil
}

func (p *Policy) defaultActor() *Actor {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.actor == nil {
		p.actor = p.NewActor()
	}
	return p.actor
}

// Reset implements eval.ChunkPolicy with the policy's own actor (one
// episode at a time; use NewActor for parallel episodes).
func (p *Policy) Reset(seed int64) { p.defaultActor().Reset(seed) }

// Observe implements eval.Observer with the policy's own actor.
func (p *Policy) Observe(obs sim.Obs) { p.defaultActor().Observe(obs) }

// PredictActionChunk implements eval.ChunkPolicy with the policy's own actor.
func (p *Policy) PredictActionChunk(obs sim.Obs) ([][]float32, error) {
	return p.defaultActor().PredictActionChunk(obs)
}
