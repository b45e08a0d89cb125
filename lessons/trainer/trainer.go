// Package trainer is the one training loop of the course. Every policy (BC,
// diffusion, VLA) plugs in through the Trainable interface and gets the same
// things: Adam or AdamW, linear warm-up then cosine decay of the learning
// rate, clipping of the global gradient norm, a train/validation split by
// episode, a progress line with loss and steps/s, periodic validation and
// simulator evaluation, atomic and resumable checkpoints, and a clear stop
// on a NaN or infinite loss.
//
// Determinism: the batches of step s are a function of (Seed, s) alone (an
// epoch-wise permutation of the training samples seeded by the epoch), and
// the model's random state lives in the store, so a run resumed from a
// checkpoint reproduces the uninterrupted run exactly.
package trainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/policylab/policylab/lessons/checkpoint"
	"github.com/policylab/policylab/lessons/eval"
)

// Trainable is what a policy gives the training loop.
type Trainable interface {
	// Kind names the policy in checkpoints ("bc-mlp", ...).
	Kind() string
	// Backend and Store hold the policy's compute backend and variables.
	Backend() compute.Backend
	Store() *model.Store
	// NumSamples is the number of training (val=false) or validation
	// samples.
	NumSamples(val bool) int
	// Inputs returns the graph inputs for these samples (already
	// normalized): the same count and shapes for every batch of a size.
	Inputs(indices []int, val bool) ([]*tensors.Tensor, error)
	// LossGraph builds the scalar loss from the nodes of Inputs.
	LossGraph(scope *model.Scope, inputs []*Node) *Node
	// Meta is the policy's config and normalizers for checkpoints;
	// Restore takes them back.
	Meta() (checkpoint.Meta, error)
	Restore(m checkpoint.Meta) error
}

// Refresher is a Trainable that keeps compiled graphs reading its weights
// (to act or sample). The trainer calls Refresh after it has changed the
// weights: before each evaluation and when it returns. A GoMLX model.Exec
// (v0.28.16, pure-Go backend) that has run once goes on computing with the
// weights of that run after a train.Trainer has updated them
// (TestExecAfterTraining), so such graphs must be rebuilt.
type Refresher interface {
	Refresh()
}

// Config of a training run.
type Config struct {
	Steps        int     // optimizer steps in all
	BatchSize    int     // samples per step
	LearningRate float64 // peak learning rate
	WeightDecay  float64 // > 0 makes Adam AdamW (decoupled weight decay)
	WarmupSteps  int     // linear warm-up from 0 to LearningRate
	MinLRRatio   float64 // the cosine decays to LearningRate·MinLRRatio at the last step
	ClipNorm     float64 // clip the global gradient norm to this (0: no clipping)
	ValEvery     int     // validation loss every ValEvery steps (0: only at the end)
	ValBatches   int     // validation batches per validation (default: all, at most 20)
	EvalEvery    int     // simulator evaluation every EvalEvery steps (0: only at the end, when Eval is set)
	// Dir keeps checkpoints; "" trains without. A run with a checkpoint in
	// Dir resumes from it.
	Dir             string
	CheckpointEvery int // steps between checkpoints (default: 10 per run)
	KeepCheckpoints int // newest checkpoints kept (default 3)
	Seed            int64
	// Progress receives a progress line (nil: none).
	Progress io.Writer
	// Eval, when set, scores the policy in simulation during and at the
	// end of training.
	Eval func(step int) (*eval.Result, error)
	// StopAfter ends the run early after this step (0: never); it leaves a
	// checkpoint there. Tests use it to stand in for a killed run.
	StopAfter int
	// EMA, when set, keeps an exponential moving average of the policy's
	// weights under EMAScope, updated in the training graph after each
	// optimizer step and saved with the checkpoints. Policies evaluate with
	// it (Diffusion Policy does).
	EMA *EMA
}

// EMAScope is the root scope of the averaged weights: the average of the
// variable "/<kind>/a/b/weights" is "/ema/<kind>/a/b/weights", so a policy
// reads it by building its forward pass under store.Scope(EMAScope).
const EMAScope = "/ema"

// EMA is Diffusion Policy's EMAModel schedule (Chi et al. 2023, after
// @crowsonkb's EMA warm-up): at optimizer step s (from 1),
//
//	decay = clamp(1 − (1 + (s−1)/InvGamma)^−Power, 0, MaxDecay), and 0 at s = 1,
//	ema   = decay·ema + (1 − decay)·weights.
//
// Power 0.75 reaches decay 0.999 around 10k steps and 0.9999 around 215k.
// Non-trainable variables (BatchNorm's running statistics) are copied, as
// EMAModel copies buffers.
type EMA struct {
	Power    float64 `json:"power"`
	InvGamma float64 `json:"inv_gamma"`
	MaxDecay float64 `json:"max_decay"`
}

// DefaultEMA is Diffusion Policy's: power 0.75, inv_gamma 1, max 0.9999.
func DefaultEMA() *EMA { return &EMA{Power: 0.75, InvGamma: 1, MaxDecay: 0.9999} }

// Decay is the EMA decay applied after optimizer step s (from 1).
func (e *EMA) Decay(s int) float64 {
	k := float64(s - 1)
	if k <= 0 {
		return 0
	}
	d := 1 - math.Pow(1+k/e.InvGamma, -e.Power)
	return math.Max(0, math.Min(d, e.MaxDecay))
}

// DefaultConfig is Adam at 1e-3 with 5% warm-up, cosine decay to 0, clipping
// at norm 1 and batch 64.
func DefaultConfig() Config {
	return Config{Steps: 2000, BatchSize: 64, LearningRate: 1e-3, WarmupSteps: 100, ClipNorm: 1, KeepCheckpoints: 3, Seed: 1}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("trainer: %s = %v, %s", field, v, want)
	}
	switch {
	case c.Steps <= 0:
		return bad("Steps", c.Steps, "must be > 0")
	case c.BatchSize <= 0:
		return bad("BatchSize", c.BatchSize, "must be > 0")
	case !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 0):
		return bad("LearningRate", c.LearningRate, "must be > 0 and finite")
	case c.WeightDecay < 0:
		return bad("WeightDecay", c.WeightDecay, "must be >= 0")
	case c.WarmupSteps < 0 || c.WarmupSteps > c.Steps:
		return bad("WarmupSteps", c.WarmupSteps, fmt.Sprintf("must be in [0, Steps=%d]", c.Steps))
	case c.MinLRRatio < 0 || c.MinLRRatio > 1:
		return bad("MinLRRatio", c.MinLRRatio, "must be in [0, 1]")
	case c.ClipNorm < 0:
		return bad("ClipNorm", c.ClipNorm, "must be >= 0")
	case c.ValEvery < 0 || c.EvalEvery < 0 || c.CheckpointEvery < 0 || c.ValBatches < 0 || c.StopAfter < 0:
		return errors.New("trainer: ValEvery, EvalEvery, CheckpointEvery, ValBatches and StopAfter must be >= 0")
	case c.EMA != nil && (!(c.EMA.Power > 0) || !(c.EMA.InvGamma > 0) || !(c.EMA.MaxDecay >= 0 && c.EMA.MaxDecay < 1)):
		return fmt.Errorf("trainer: EMA = %+v, want Power > 0, InvGamma > 0 and MaxDecay in [0, 1)", *c.EMA)
	}
	return nil
}

// LearningRateAt is the schedule: linear warm-up over WarmupSteps, then a
// half cosine from LearningRate down to LearningRate·MinLRRatio at Steps.
// step counts from 1.
func (c Config) LearningRateAt(step int) float64 {
	if c.WarmupSteps > 0 && step <= c.WarmupSteps {
		return c.LearningRate * float64(step) / float64(c.WarmupSteps)
	}
	span := c.Steps - c.WarmupSteps
	if span <= 0 {
		return c.LearningRate
	}
	p := math.Min(1, float64(step-c.WarmupSteps)/float64(span))
	lo := c.LearningRate * c.MinLRRatio
	return lo + (c.LearningRate-lo)*0.5*(1+math.Cos(math.Pi*p))
}

// History is the record of a run.
type History struct {
	Kind        string        `json:"kind"`
	Steps       []int         `json:"steps"`
	TrainLoss   []float64     `json:"train_loss"`
	LR          []float64     `json:"lr"`
	ValSteps    []int         `json:"val_steps"`
	ValLoss     []float64     `json:"val_loss"`
	EvalSteps   []int         `json:"eval_steps"`
	EvalSuccess []float64     `json:"eval_success"`
	EvalScore   []float64     `json:"eval_score"`
	ResumedFrom int           `json:"resumed_from"` // step of the checkpoint this run resumed from (0: fresh)
	StepsPerSec float64       `json:"steps_per_sec"`
	Wall        time.Duration `json:"wall_ns"`
}

// FinalTrainLoss is the mean training loss over the last 10% of steps.
func (h *History) FinalTrainLoss() float64 {
	n := len(h.TrainLoss)
	if n == 0 {
		return math.NaN()
	}
	k := max(1, n/10)
	s := 0.0
	for _, l := range h.TrainLoss[n-k:] {
		s += l
	}
	return s / float64(k)
}

// Train runs the loop. On a NaN or infinite loss it stops with an error
// naming the step; the last checkpoint stays as it was.
func Train(t Trainable, cfg Config) (*History, error) {
	if cfg.KeepCheckpoints == 0 {
		cfg.KeepCheckpoints = 3
	}
	if cfg.CheckpointEvery == 0 {
		cfg.CheckpointEvery = max(1, cfg.Steps/10)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	nTrain := t.NumSamples(false)
	if nTrain == 0 {
		return nil, errors.New("trainer: no training samples")
	}
	store := t.Store()
	h := &History{Kind: t.Kind()}
	start := 0
	if cfg.Dir != "" {
		if dir, err := checkpoint.Latest(cfg.Dir); err == nil {
			m, err := checkpoint.Load(dir, store)
			if err != nil {
				return nil, fmt.Errorf("trainer: resuming from %s: %w", dir, err)
			}
			if m.Kind != t.Kind() {
				return nil, fmt.Errorf("trainer: checkpoint %s holds a %q policy, not %q", dir, m.Kind, t.Kind())
			}
			if err := t.Restore(m); err != nil {
				return nil, fmt.Errorf("trainer: resuming from %s: %w", dir, err)
			}
			if len(m.History) > 0 {
				if err := json.Unmarshal(m.History, h); err != nil {
					return nil, fmt.Errorf("trainer: checkpoint %s: history: %w", dir, err)
				}
			}
			start = int(m.Step)
			h.ResumedFrom = start
		} else if !errors.Is(err, checkpoint.ErrNone) {
			return nil, err
		}
	}
	if start == 0 {
		if err := store.SetRNGStateFromSeed(cfg.Seed); err != nil {
			return nil, fmt.Errorf("trainer: %w", err)
		}
	}

	opt := &scheduled{cfg: cfg, kind: t.Kind()}
	lossFn := func(_ []*Node, predictions []*Node) *Node { return predictions[0] }
	modelFn := func(scope *model.Scope, _ any, inputs []*Node) []*Node {
		return []*Node{t.LossGraph(scope.In("%s", t.Kind()), inputs)}
	}
	tr := train.NewTrainer(t.Backend(), store, modelFn, lossFn, opt, nil, nil)
	refresh := func() {
		if r, ok := t.(Refresher); ok {
			r.Refresh()
		}
	}
	defer refresh()

	save := func(step int) error {
		if cfg.Dir == "" {
			return nil
		}
		m, err := t.Meta()
		if err != nil {
			return err
		}
		m.Kind, m.Step = t.Kind(), int64(step)
		if m.History, err = json.Marshal(h); err != nil {
			return fmt.Errorf("trainer: %w", err)
		}
		_, err = checkpoint.Save(cfg.Dir, store, m, cfg.KeepCheckpoints)
		return err
	}
	validate := func(step int) error {
		nVal := t.NumSamples(true)
		if nVal == 0 {
			return nil
		}
		batches := (nVal + cfg.BatchSize - 1) / cfg.BatchSize
		if cfg.ValBatches > 0 {
			batches = min(batches, cfg.ValBatches)
		} else {
			batches = min(batches, 20)
		}
		sum, n := 0.0, 0
		for b := 0; b < batches; b++ {
			idx := make([]int, 0, cfg.BatchSize)
			for i := b * cfg.BatchSize; i < min(nVal, (b+1)*cfg.BatchSize); i++ {
				idx = append(idx, i)
			}
			for len(idx) < cfg.BatchSize { // keep one graph shape: pad the last batch with its first sample
				idx = append(idx, idx[0])
			}
			in, err := t.Inputs(idx, true)
			if err != nil {
				return err
			}
			m, err := tr.EvalStep(train.Batch{Inputs: in})
			if err != nil {
				return fmt.Errorf("trainer: validation at step %d: %w", step, err)
			}
			sum += scalar(m[0])
			n++
		}
		h.ValSteps = append(h.ValSteps, step)
		h.ValLoss = append(h.ValLoss, sum/float64(n))
		return nil
	}
	evaluate := func(step int) error {
		if cfg.Eval == nil {
			return nil
		}
		refresh()
		r, err := cfg.Eval(step)
		if err != nil {
			return fmt.Errorf("trainer: evaluation at step %d: %w", step, err)
		}
		h.EvalSteps = append(h.EvalSteps, step)
		h.EvalSuccess = append(h.EvalSuccess, r.SuccessRate)
		h.EvalScore = append(h.EvalScore, r.MeanMaxScore)
		return nil
	}

	bar := newProgress(cfg.Progress, t.Kind(), cfg.Steps, start)
	t0 := time.Now()
	done := 0
	for step := start + 1; step <= cfg.Steps; step++ {
		in, err := t.Inputs(batchIndices(cfg.Seed, step, cfg.BatchSize, nTrain), false)
		if err != nil {
			return h, err
		}
		m, err := tr.TrainStep(train.Batch{Inputs: in})
		if err != nil {
			return h, fmt.Errorf("trainer: step %d: %w", step, err)
		}
		loss := scalar(m[0])
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			bar.finish()
			return h, fmt.Errorf("trainer: the loss is %v at step %d (learning rate %.3g); stopped before saving it: "+
				"lower LearningRate, set ClipNorm, or check the data for NaN", loss, step, cfg.LearningRateAt(step))
		}
		done++
		h.Steps = append(h.Steps, step)
		h.TrainLoss = append(h.TrainLoss, loss)
		h.LR = append(h.LR, cfg.LearningRateAt(step))
		if (cfg.ValEvery > 0 && step%cfg.ValEvery == 0) || step == cfg.Steps {
			if err := validate(step); err != nil {
				return h, err
			}
		}
		if (cfg.EvalEvery > 0 && step%cfg.EvalEvery == 0) || step == cfg.Steps {
			if err := evaluate(step); err != nil {
				return h, err
			}
		}
		bar.update(step, loss, h)
		if step%cfg.CheckpointEvery == 0 || step == cfg.Steps || step == cfg.StopAfter {
			if err := save(step); err != nil {
				return h, err
			}
		}
		if step == cfg.StopAfter {
			break
		}
	}
	bar.finish()
	el := time.Since(t0)
	h.Wall += el
	if done > 0 {
		h.StepsPerSec = float64(done) / el.Seconds()
	}
	return h, nil
}

// batchIndices draws the training samples of step (from 1): step s takes
// the next BatchSize entries of the permutation of epoch e, seeded by
// (seed, e), wrapping into the next epoch.
func batchIndices(seed int64, step, batch, n int) []int {
	out := make([]int, 0, batch)
	pos := (step - 1) * batch
	for len(out) < batch {
		epoch, off := pos/n, pos%n
		perm := rand.New(rand.NewPCG(uint64(seed), uint64(epoch))).Perm(n)
		for ; off < n && len(out) < batch; off++ {
			out = append(out, perm[off])
			pos++
		}
	}
	return out
}

func scalar(t *tensors.Tensor) float64 {
	switch v := t.Value().(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	}
	return math.NaN()
}

// scheduled is Adam/AdamW with our learning-rate schedule and global-norm
// gradient clipping, computed inside the training graph from the global
// step variable (so it is saved and resumed with the checkpoint).
//
// Departure from GoMLX's own Adam configuration: GoMLX clips updates by
// value; we clip the global gradient norm, as PyTorch's clip_grad_norm_ that
// Diffusion Policy and LeRobot use.
type scheduled struct {
	cfg   Config
	kind  string
	inner optimizer.Interface
}

// withGradients is the part of GoMLX's Adam that takes gradients computed
// (and clipped) by us.
type withGradients interface {
	UpdateGraphWithGradients(scope *model.Scope, grads []*Node, lossDType dtypes.DType)
}

func (o *scheduled) UpdateGraph(scope *model.Scope, g *Graph, loss *Node) {
	if o.inner == nil {
		a := optimizer.Adam().LearningRate(o.cfg.LearningRate)
		if o.cfg.WeightDecay > 0 {
			a = a.WeightDecay(o.cfg.WeightDecay)
		}
		o.inner = a.Done()
	}
	grads := scope.BuildTrainableVariablesGradientsGraph(loss)
	if o.cfg.ClipNorm > 0 && len(grads) > 0 {
		var sq *Node
		for _, gr := range grads {
			s := ReduceAllSum(Square(ConvertDType(gr, loss.DType())))
			if sq == nil {
				sq = s
			} else {
				sq = Add(sq, s)
			}
		}
		norm := Sqrt(sq)
		scale := Min(ScalarOne(g, loss.DType()), Div(Scalar(g, loss.DType(), o.cfg.ClipNorm), Add(norm, Scalar(g, loss.DType(), 1e-6))))
		for i := range grads {
			grads[i] = Mul(grads[i], ConvertDType(scale, grads[i].DType()))
		}
	}
	// The learning rate of this step, from the global step (incremented by
	// Adam after this point, so +1 makes it count from 1).
	stepVar := optimizer.GetGlobalStepVar(scope)
	step := AddScalar(ConvertDType(stepVar.NodeValue(g), loss.DType()), 1)
	lr := o.lrGraph(step)
	optimizer.LearningRateVar(scope, loss.DType(), o.cfg.LearningRate).SetNodeValue(lr)
	wg, ok := o.inner.(withGradients)
	if !ok {
		panic(fmt.Sprintf("trainer: the optimizer %T cannot take precomputed gradients", o.inner))
	}
	wg.UpdateGraphWithGradients(scope, grads, loss.DType())
	if o.cfg.EMA != nil {
		o.emaGraph(scope.Store(), g, step)
	}
}

// emaGraph updates the average of every variable of the policy (under
// "/<kind>/") used by this graph, after the optimizer has set its new value.
func (o *scheduled) emaGraph(store *model.Store, g *Graph, step *Node) {
	e := o.cfg.EMA
	dt := step.DType()
	k := AddScalar(step, -1) // s − 1
	decay := OneMinus(Pow(AddScalar(DivScalar(k, e.InvGamma), 1), Scalar(g, dt, -e.Power)))
	decay = Where(LessOrEqual(k, ScalarZero(g, dt)), ScalarZero(g, dt), ClipScalar(decay, 0, e.MaxDecay))
	prefix := "/" + o.kind + "/"
	var vars []*model.Variable
	for v := range store.IterVariables() {
		if strings.HasPrefix(v.Path(), prefix) && v.InUseByGraph(g) && v.Shape().DType.IsFloat() {
			vars = append(vars, v)
		}
	}
	for _, v := range vars {
		cur := v.NodeValue(g)
		ema := store.VariableWithShape(EMAScope+v.Path(), v.Shape(), initializer.Zero).SetTrainable(false)
		if !v.Trainable {
			ema.SetNodeValue(cur)
			continue
		}
		d := ConvertDType(decay, cur.DType())
		ema.SetNodeValue(Add(Mul(d, ema.NodeValue(g)), Mul(OneMinus(d), cur)))
	}
}

func (o *scheduled) lrGraph(step *Node) *Node {
	g, dt := step.Graph(), step.DType()
	c := o.cfg
	base := Scalar(g, dt, c.LearningRate)
	lo := Scalar(g, dt, c.LearningRate*c.MinLRRatio)
	span := float64(max(1, c.Steps-c.WarmupSteps))
	p := ClipScalar(DivScalar(AddScalar(step, -float64(c.WarmupSteps)), span), 0, 1)
	cosine := Add(lo, Mul(Sub(base, lo), MulScalar(OnePlus(Cos(MulScalar(p, math.Pi))), 0.5)))
	if c.WarmupSteps == 0 {
		return cosine
	}
	warm := MulScalar(step, c.LearningRate/float64(c.WarmupSteps))
	return Where(LessOrEqual(step, Scalar(g, dt, float64(c.WarmupSteps))), warm, cosine)
}

func (o *scheduled) Clear(scope *model.Scope) error {
	if o.inner == nil {
		return nil
	}
	return o.inner.Clear(scope)
}

// progress prints "bc-mlp  [=====>    ] 1200/2000  loss 0.0123  val 0.0150  45.1 steps/s  ETA 18s".
type progress struct {
	w         io.Writer
	kind      string
	total     int
	start     int
	t0, last  time.Time
	lastSteps int
}

func newProgress(w io.Writer, kind string, total, start int) *progress {
	now := time.Now()
	return &progress{w: w, kind: kind, total: total, start: start, t0: now, last: now.Add(-time.Hour)}
}

func (p *progress) update(step int, loss float64, h *History) {
	if p.w == nil {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < time.Second && step != p.total {
		return
	}
	p.last = now
	rate := float64(step-p.start) / now.Sub(p.t0).Seconds()
	const width = 24
	filled := width * step / p.total
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	val := ""
	if n := len(h.ValLoss); n > 0 {
		val = fmt.Sprintf("  val %.4g", h.ValLoss[n-1])
	}
	ev := ""
	if n := len(h.EvalSuccess); n > 0 {
		ev = fmt.Sprintf("  success %.0f%%", 100*h.EvalSuccess[n-1])
	}
	eta := time.Duration(float64(p.total-step)/math.Max(rate, 1e-9)) * time.Second
	fmt.Fprintf(p.w, "\r%s [%s] %d/%d  loss %.4g%s%s  %.1f steps/s  ETA %v   ",
		p.kind, bar, step, p.total, loss, val, ev, rate, eta.Round(time.Second))
}

func (p *progress) finish() {
	if p.w != nil && !p.last.Before(p.t0) {
		fmt.Fprintln(p.w)
	}
}
