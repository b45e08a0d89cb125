// Package ex3lora is hands-on exercise 3 of chapter 4.2: fine-tune the VLA
// with LoRA (section 4.2.4).
//
// The student writes LoRA's arithmetic in student.go: the forward pass of
// an adapted linear layer (LoRAForward) and the merge of an adapter into
// the weights it adapts (LoRAMerge). This file plugs them into the
// course's LoRA (lessons/lora, through lora.Config.Arithmetic), so that
// the real fine-tuning path of the course's VLA (vla.Adapt, the one
// training loop, vla.Policy.Merge) runs the student's arithmetic.
// check.go holds the graded checks.
package ex3lora

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/policylab/policylab/lessons/checkpoint"
	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/lora"
	"github.com/policylab/policylab/lessons/plot"
	"github.com/policylab/policylab/lessons/sim"
	"github.com/policylab/policylab/lessons/trainer"
	"github.com/policylab/policylab/lessons/vla"
)

// ForwardFunc is LoRAForward's type.
type ForwardFunc = func(x, w, bias, a, b *graph.Node, scale float64) *graph.Node

// MergeFunc is LoRAMerge's type.
type MergeFunc = func(w, a, b []float32, in, out, r int, scale float64) []float32

// Functions are the student's functions, passed as values (the notebook
// passes its own copies).
type Functions struct {
	Forward ForwardFunc
	Merge   MergeFunc
}

// Arithmetic is the lora.Arithmetic that runs f's functions; their panics
// come back as errors naming them (see GuardForward). The zero Functions
// gives nil: lessons/lora's own arithmetic.
func (f Functions) Arithmetic() *lora.Arithmetic {
	if f.Forward == nil && f.Merge == nil {
		return nil
	}
	a := &lora.Arithmetic{Merge: f.Merge}
	if f.Forward != nil {
		a.Forward = GuardForward(f.Forward)
	}
	return a
}

// Config is the chapter's LoRA configuration (dropout 0.1, on the query
// and value projections) at rank r with α = 2r, computing with f's
// functions.
func (f Functions) Config(r int) lora.Config {
	c := lora.ChapterConfig()
	c.Rank, c.Alpha = r, float64(2*r)
	c.Arithmetic = f.Arithmetic()
	return c
}

// Method is the course's LoRA fine-tuning method at rank r
// (vla.LoRAMethod: adapters alone, on q and v, at its learning rate) with
// Config's adapters, computing with f's functions. Unlike vla.LoRAMethod,
// which trains without dropout as OpenVLA does, the exercise keeps the
// chapter's dropout of 0.1, so that the student's forward also runs the
// dropout path.
func (f Functions) Method(r int) vla.Method {
	m := vla.LoRAMethod(r)
	c := f.Config(r)
	m.LoRA = &c
	return m
}

// GuardForward returns forward, whose panics (a TODO stub's
// "panic(string)") are re-raised as errors naming LoRAForward. GoMLX
// (v0.28.16) turns a graph function's error panic into an error, but a
// panic of another type escapes with a compilation left pending, and the
// Exec's Finalize then waits for it forever: without the guard a stub
// hangs the program.
func GuardForward(forward ForwardFunc) ForwardFunc {
	return func(x, w, bias, a, b *graph.Node, scale float64) *graph.Node {
		defer func() {
			if r := recover(); r != nil {
				if err, ok := r.(error); ok {
					panic(fmt.Errorf("LoRAForward panicked: %w", err))
				}
				panic(fmt.Errorf("LoRAForward panicked: %v", r))
			}
		}()
		return forward(x, w, bias, a, b, scale)
	}
}

// Setup is a small LoRA study: a tiny VLA pretrained on the arm's
// language tasks (vla.PretrainTasks), then fine-tuned with adapters on
// the task pretraining never showed (vla.HeldOutTask, "reach between the
// red and blue targets").
type Setup struct {
	Model         vla.Config // the VLA (a tiny one: see QuickSetup)
	PretrainDemos int        // demonstrations per pretraining task
	PretrainSteps int
	Demos         int // demonstrations of the held-out task (a quarter held out for the loss)
	Steps         int // fine-tuning steps
	BatchSize     int
	Rank          int
	LR            float64 // fine-tuning's peak learning rate (vla.LoRAMethod's: 3e-2)
	Seed          int64
}

// QuickSetup is small enough for a test or a notebook cell: a VLA of
// width 32 with one transformer block, 8×8 images and chunks of 4
// actions (pretrained as PretrainSetup says: Pretrained holds it),
// fine-tuned 100 steps at rank 4 on 20 demonstrations of the held-out
// task.
func QuickSetup() Setup {
	c := vla.DefaultConfig()
	c.Dim, c.Layers, c.Heads, c.MLPRatio = 32, 1, 2, 2
	c.ImageSize, c.PatchSize, c.Chunk = 8, 4, 4
	return Setup{Model: c, PretrainDemos: 50, PretrainSteps: 1500, Demos: 20, Steps: 100, BatchSize: 32, Rank: 4, LR: 3e-2, Seed: 1}
}

// Pretrain trains s's VLA on the pretraining tasks, checkpointing in dir,
// or loads it from dir when it holds a checkpoint (vla.LoadOrTrain).
func Pretrain(b compute.Backend, s Setup, dir string) (*vla.Policy, error) {
	tc := trainer.DefaultConfig()
	tc.Steps, tc.BatchSize, tc.WarmupSteps, tc.Seed, tc.Dir = s.PretrainSteps, s.BatchSize, s.PretrainSteps/10, s.Seed, dir
	tc.LearningRate = 3e-3
	return vla.LoadOrTrain(b, s.Model, func() (*data.Dataset, error) { return vla.Demos(vla.PretrainTasks(), s.PretrainDemos, s.Seed) }, tc)
}

// pretrained is QuickSetup's VLA pretrained (testdata/pretrained, written
// by WritePretrained): the exercise starts from it as one starts from
// OpenVLA's released weights, instead of pretraining for a minute.
//
//go:embed testdata/pretrained
var pretrained embed.FS

// Pretrained writes the embedded pretrained VLA (QuickSetup's model,
// pretrained by WritePretrained) to a new temporary directory and returns
// it, for vla.Adapt and FineTune. Remove it when done.
func Pretrained() (string, error) {
	dir, err := os.MkdirTemp("", "ex3lora-pretrained-")
	if err != nil {
		return "", fmt.Errorf("ex3lora: %w", err)
	}
	err = fs.WalkDir(pretrained, "testdata/pretrained", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := pretrained.ReadFile(path)
		if err != nil {
			return err
		}
		to := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(path, "testdata/pretrained/")))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o644)
	})
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("ex3lora: the embedded pretrained VLA: %w", err)
	}
	return dir, nil
}

// WritePretrained pretrains QuickSetup's VLA (Pretrain, about a minute on
// 2 cores) and writes it to dir as one checkpoint of its weights alone
// (no optimizer state): what testdata/pretrained holds. Regenerate it
// with EX3LORA_WRITE_PRETRAINED=1 go test -run TestWritePretrained
// ./exercises/ex3lora/.
func WritePretrained(b compute.Backend, dir string) error {
	tmp, err := os.MkdirTemp("", "ex3lora-pretrain-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	p, err := Pretrain(b, QuickSetup(), tmp)
	if err != nil {
		return err
	}
	var drop []string
	for v := range p.Store().IterVariables() {
		if !strings.HasPrefix(v.Path(), "/"+vla.Kind+"/") {
			drop = append(drop, v.Path())
		}
	}
	for _, path := range drop {
		if err := p.Store().DeleteVariable(path); err != nil {
			return err
		}
	}
	m, err := p.Meta()
	if err != nil {
		return err
	}
	m.Step = int64(QuickSetup().PretrainSteps)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	_, err = checkpoint.Save(dir, p.Store(), m, 1)
	return err
}

// Result of a fine-tuning run.
type Result struct {
	Name             string
	Policy           *vla.Policy
	Trainable, Total int              // parameters
	Before, After    float64          // loss on held-out demonstrations of the task, before and after
	History          *trainer.History // of the fine-tuning
}

// Share is the trainable share of the parameters.
func (r *Result) Share() float64 { return float64(r.Trainable) / float64(r.Total) }

// String is a one-line summary.
func (r *Result) String() string {
	return fmt.Sprintf("%s: %d of %d parameters trained (%.2f%%); loss on held-out demonstrations of the new task %.4g → %.4g",
		r.Name, r.Trainable, r.Total, 100*r.Share(), r.Before, r.After)
}

// Table is results as a Markdown table: trainable parameters and their
// share, the held-out loss before and after, and the training time.
func Table(rs ...*Result) string {
	var sb strings.Builder
	sb.WriteString("| adapter arithmetic | trainable parameters | share | held-out loss before | after | change | training |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rs {
		fmt.Fprintf(&sb, "| %s | %d of %d | %.2f%% | %.4g | %.4g | %+.0f%% | %d steps, %.1f s |\n", r.Name, r.Trainable, r.Total,
			100*r.Share(), r.Before, r.After, 100*(r.After/r.Before-1), len(r.History.TrainLoss), r.History.Wall.Seconds())
	}
	return sb.String()
}

// LossChart plots the runs' training losses.
func LossChart(rs ...*Result) plot.Chart {
	var s []plot.Series
	for _, r := range rs {
		x := make([]float64, len(r.History.Steps))
		for i, st := range r.History.Steps {
			x[i] = float64(st)
		}
		s = append(s, plot.Series{Name: r.Name, X: x, Y: r.History.TrainLoss})
	}
	return plot.LossCurves("LoRA fine-tuning on the held-out task: training loss", s...)
}

// MergeChange merges the policy's adapters into its weights
// (vla.Policy.Merge: lora.Merge with the run's arithmetic) and returns the
// largest change this makes to the actions it predicts for the held-out
// task's first observations of n seeded episodes (float rounding only,
// when the merge is right).
func (r *Result) MergeChange(n int) (float64, error) {
	env, err := vla.HeldOutTask().Factory().NewEnv()
	if err != nil {
		return 0, err
	}
	var obs []sim.Obs
	for i := 0; i < n; i++ {
		obs = append(obs, env.Reset(int64(900+i)))
	}
	before, err := r.Policy.PredictBatch(obs)
	if err != nil {
		return 0, err
	}
	if err := r.Policy.Merge(); err != nil {
		return 0, err
	}
	after, err := r.Policy.PredictBatch(obs)
	if err != nil {
		return 0, err
	}
	d := 0.0
	for i := range before {
		for k := range before[i] {
			for j := range before[i][k] {
				d = math.Max(d, math.Abs(float64(after[i][k][j]-before[i][k][j])))
			}
		}
	}
	return d, nil
}

// FineTune adapts the VLA pretrained in dir to the held-out task with
// LoRA at s.Rank computing with f's functions (vla.Adapt: the adapters
// alone train; the zero Functions: lessons/lora's arithmetic), for
// s.Steps of the one training loop, and measures the loss on a quarter of
// the task's demonstrations that training never sees, before and after.
// The run is named name.
func FineTune(b compute.Backend, f Functions, s Setup, dir, name string) (*Result, error) {
	p, trainable, total, err := vla.Adapt(b, dir, f.Method(s.Rank))
	if err != nil {
		return nil, err
	}
	if err := Reseed(p.Store(), s.Seed); err != nil {
		return nil, err
	}
	ds, err := vla.Demos([]vla.Task{vla.HeldOutTask()}, s.Demos, s.Seed+100)
	if err != nil {
		return nil, err
	}
	if err := p.Fit(ds, 0.25, s.Seed); err != nil {
		return nil, err
	}
	r := &Result{Name: name, Policy: p, Trainable: trainable, Total: total}
	if r.Before, err = HeldOutLoss(p); err != nil {
		return nil, err
	}
	tc := trainer.DefaultConfig()
	tc.Steps, tc.BatchSize, tc.LearningRate, tc.Seed = s.Steps, s.BatchSize, s.LR, s.Seed
	tc.WarmupSteps = s.Steps / 10
	if r.History, err = trainer.Train(p, tc); err != nil {
		return nil, fmt.Errorf("ex3lora: fine-tuning: %w", err)
	}
	if r.After, err = HeldOutLoss(p); err != nil {
		return nil, err
	}
	return r, nil
}

// Reseed makes a fine-tuning run repeatable: it seeds store's random
// state (LoRA dropout draws from it) and draws every adapter's A afresh
// from seed, U(−1/√in, 1/√in) as lora.Dense does (vla.Adapt starts from a
// store without a random state, which GoMLX then seeds at random).
func Reseed(store *model.Store, seed int64) error {
	if err := store.SetRNGStateFromSeed(seed); err != nil {
		return fmt.Errorf("ex3lora: %w", err)
	}
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	for v := range store.IterVariables() {
		if !lora.IsAdapter(v.Path()) || !strings.HasSuffix(v.Path(), "/A") {
			continue
		}
		dims := v.Shape().Dimensions // [r, in]
		bound := 1 / math.Sqrt(float64(dims[1]))
		vals := make([]float32, v.Shape().Size())
		for i := range vals {
			vals[i] = float32((2*r.Float64() - 1) * bound)
		}
		if err := v.SetValue(tensors.FromFlatDataAndDimensions(vals, dims...)); err != nil {
			return fmt.Errorf("ex3lora: %s: %w", v.Path(), err)
		}
	}
	return nil
}

// HeldOutLoss is a policy's training loss (its LossGraph, not training:
// no dropout) over all its validation samples.
func HeldOutLoss(p trainer.Trainable) (float64, error) {
	n := p.NumSamples(true)
	if n == 0 {
		return 0, errors.New("ex3lora: the policy has no validation samples")
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	in, err := p.Inputs(idx, true)
	if err != nil {
		return 0, err
	}
	args := make([]any, len(in))
	for i, t := range in {
		args[i] = t
	}
	out, err := model.ExecOnce(p.Backend(), p.Store(), func(scope *model.Scope, nodes []*graph.Node) *graph.Node {
		return p.LossGraph(scope.In("%s", p.Kind()), nodes)
	}, args...)
	if err != nil {
		return 0, fmt.Errorf("ex3lora: %w", err)
	}
	v := float64(tensors.MustCopyFlatData[float32](out)[0])
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return v, fmt.Errorf("ex3lora: the held-out loss is %v", v)
	}
	return v, nil
}
