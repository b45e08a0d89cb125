// Package ex2diffusion is the chapter's second hands-on exercise, "Train a
// diffusion policy on demonstration data" (section 4.2.3). The student
// writes the arithmetic of a diffusion model in student.go, in plain Go on
// flat []float32 slices:
//
//   - LinearAlphasCumprod: the chapter's linear β schedule and its
//     cumulative products ᾱ_t;
//   - AddNoise: the forward process x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·ε that builds
//     every training example;
//   - PredictX0: the clean-sample estimate from a noisy sample and the
//     predicted noise;
//   - DDIMStep: the deterministic DDIM update (η = 0) from t to tPrev,
//     with Diffusion Policy's clipping of x̂0.
//
// This file plugs those functions into the course library instead of
// copying it: Plug puts them into a diffusion.Scheduler's Hooks, so that a
// real diffusion policy (package dp, Diffusion Policy's temporal U-Net from
// package denoiser) trains on examples noised by the student's AddNoise
// (dp noises on the host when the hook is set) and samples with the
// student's DDIMStep (diffusion.Scheduler.Sample calls the hook). Toy runs
// the whole experiment on notebook 4.2.3's obstacle toy: demonstrations
// pass a round obstacle on the left or on the right, and a working
// diffusion policy samples both sides and few through the middle.
//
// The exercise's functions are passed as values (a Student), so that
// notebook cells can define their own copies and pass those. check.go holds
// the Check functions the visible tests call.
package ex2diffusion

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/gomlx/compute"

	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/diffusion"
	"github.com/policylab/policylab/lessons/dp"
	"github.com/policylab/policylab/lessons/plot"
	"github.com/policylab/policylab/lessons/trainer"
)

// The student's functions, as types (see student.go for what each
// computes). Every []float32 is flat: N values of one or more action
// sequences, in the order [batch, step, action]; alphasCumprod is ᾱ [T].
type (
	// ScheduleFunc is LinearAlphasCumprod: (T, βstart, βend) → ᾱ [T].
	ScheduleFunc func(T int, betaStart, betaEnd float64) []float64
	// NoiseFunc is AddNoise: (ᾱ, x0 [N], noise [N], t) → x_t [N].
	NoiseFunc func(alphasCumprod []float64, x0, noise []float32, t int) []float32
	// X0Func is PredictX0: (ᾱ, xt [N], eps [N], t) → x̂0 [N].
	X0Func func(alphasCumprod []float64, xt, eps []float32, t int) []float32
	// StepFunc is DDIMStep: (ᾱ, xt [N], eps [N], t, tPrev, clip) → x_tPrev [N].
	StepFunc func(alphasCumprod []float64, xt, eps []float32, t, tPrev int, clip float64) []float32
)

// Student holds the functions of student.go. Training and sampling use
// AddNoise and DDIMStep; LinearAlphasCumprod and PredictX0 are graded on
// their own.
type Student struct {
	LinearAlphasCumprod ScheduleFunc
	AddNoise            NoiseFunc
	PredictX0           X0Func
	DDIMStep            StepFunc
}

// Submitted is the Student of this package's student.go.
func Submitted() Student {
	return Student{LinearAlphasCumprod: LinearAlphasCumprod, AddNoise: AddNoise, PredictX0: PredictX0, DDIMStep: DDIMStep}
}

// ToyObstacle is notebook 4.2.3's obstacle (dp.DefaultObstacle) with
// demonstrations of 4 waypoints instead of 20, so that one action sequence
// of Tp = 4 covers a whole path and a small policy learns it in seconds.
func ToyObstacle() dp.Obstacle {
	o := dp.DefaultObstacle()
	o.Steps = 4
	return o
}

// ToyConfig is the diffusion policy the exercise trains on ToyObstacle:
// Diffusion Policy's scheduler (diffusion.DefaultConfig: the cosine
// schedule over 100 steps, x̂0 clipped to ±1), To = 2 observations, Tp = 4
// actions (the whole path), DDIM in 10 steps with η = 0, and a temporal
// U-Net of one level of 16 channels (time embedding 16).
func ToyConfig() dp.Config {
	c := dp.DefaultConfig()
	c.PredHorizon, c.ActionHorizon = 4, 4
	c.UNet.DownDims, c.UNet.TimeEmbedDim = []int{16}, 16
	c.Noise = diffusion.DefaultConfig()
	c.Method, c.InferenceSteps, c.Eta = diffusion.MethodDDIM, 10, 0
	return c
}

// Plug puts the student's functions into sch's Hooks, with sch's own table
// ᾱ = sch.AlphasCumprod: sch.AddNoise then runs s.AddNoise, and sch's DDIM
// steps (Sample with diffusion.MethodDDIM) run s.DDIMStep with clip =
// ClipRange when ClipSample is set, else 0. The hooks panic, naming the
// function, when a student's function returns a slice of the wrong
// length, and the DDIM hook panics for η ≠ 0 (the student's step is
// deterministic).
func Plug(sch *diffusion.Scheduler, s Student) error {
	if s.AddNoise == nil || s.DDIMStep == nil {
		return errors.New("ex2diffusion: Plug needs the student's AddNoise and DDIMStep (nil)")
	}
	ab := sch.AlphasCumprod
	clip := 0.0
	if sch.ClipSample {
		clip = sch.ClipRange
	}
	sch.Hooks = diffusion.Hooks{
		AddNoise: func(out, x0, noise []float32, t int) {
			got := s.AddNoise(ab, x0, noise, t)
			if len(got) != len(out) {
				panic(fmt.Sprintf("ex2diffusion: AddNoise(t=%d) returned %d values for %d", t, len(got), len(out)))
			}
			copy(out, got)
		},
		StepDDIM: func(out, eps, xt, _ []float32, t, tPrev int, eta float64) {
			if eta != 0 {
				panic(fmt.Sprintf("ex2diffusion: the student's DDIMStep is deterministic (η = 0), asked for η = %v", eta))
			}
			got := s.DDIMStep(ab, xt, eps, t, tPrev, clip)
			if len(got) != len(out) {
				panic(fmt.Sprintf("ex2diffusion: DDIMStep(t=%d, tPrev=%d) returned %d values for %d", t, tPrev, len(got), len(out)))
			}
			copy(out, got)
		},
	}
	return nil
}

// Train makes a diffusion policy of cfg (DDIM with η = 0, as ToyConfig),
// fits it on demos (5% of the episodes held out,
// split by tc.Seed), plugs the student's functions into its scheduler
// (Plug) and trains it with the course's training loop, EMA included:
// every training example is noised by s.AddNoise, and the policy's
// Sample, Denoise and actors then sample with s.DDIMStep.
func Train(b compute.Backend, s Student, cfg dp.Config, demos *data.Dataset, tc trainer.Config) (*dp.Policy, *trainer.History, error) {
	p, err := dp.Prepare(b, cfg, nil, demos, tc.Seed)
	if err != nil {
		return nil, nil, err
	}
	if err := Plug(p.Scheduler(), s); err != nil {
		return nil, nil, err
	}
	if tc.EMA == nil {
		tc.EMA = trainer.DefaultEMA()
	}
	h, err := trainer.Train(p, tc)
	return p, h, err
}

// ToyOptions size a Toy run. Zero fields take the defaults.
type ToyOptions struct {
	Demos   int   // demonstrations (default 100)
	Steps   int   // training steps (default 1000)
	Samples int   // action sequences sampled from the mean start (default 40)
	Seed    int64 // demonstrations, training and sampling (default 1)
	// Progress receives the training progress line (nil: none).
	Progress io.Writer
}

func (o ToyOptions) withDefaults() ToyOptions {
	if o.Demos == 0 {
		o.Demos = 100
	}
	if o.Steps == 0 {
		o.Steps = 1000
	}
	if o.Samples == 0 {
		o.Samples = 40
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	return o
}

// ToyResult is a Toy run: the demonstrations, the sampled action sequences
// and how they pass the obstacle.
type ToyResult struct {
	Obstacle dp.Obstacle
	Demos    *data.Dataset
	Policy   *dp.Policy
	History  *trainer.History
	// Samples are the sampled action sequences from the mean start,
	// [Samples][Tp][2] waypoints in the toy's units.
	Samples [][][]float32
	// Left and Right count the samples that follow the demonstrated arc
	// on that side: within ModeTolerance of it (see ArcDistance). Off
	// counts the rest: paths through the middle, or too ragged to count.
	// Hits counts the samples touching the obstacle (dp.Obstacle.Hits).
	Left, Right, Off, Hits int
	// TrainTime is the training's wall time.
	TrainTime time.Duration
}

// ModeTolerance is how far, on average per waypoint, a sample may lie from
// a demonstrated arc and still follow it (toy units; the obstacle's radius
// is 0.3 and the two arcs lie 1.2 apart at its height).
const ModeTolerance = 0.1

// ArcDistance is the mean distance from the waypoints of path [Tp][2] to
// the first Tp waypoints after the start of o's arc on side −1 (left) or
// +1 (right) from o's mean start (dp.Obstacle.Arc).
func ArcDistance(o dp.Obstacle, path [][]float32, side float64) float64 {
	arc := o.Arc(o.Start, side)
	d := 0.0
	for i, w := range path {
		if i+1 >= len(arc) {
			break
		}
		d += math.Hypot(float64(w[0])-arc[i+1][0], float64(w[1])-arc[i+1][1])
	}
	return d / float64(len(path))
}

// Mode is the side whose demonstrated arc path follows: −1 (left) or +1
// (right) when it lies within ModeTolerance of that arc, 0 otherwise.
func Mode(o dp.Obstacle, path [][]float32) int {
	l, r := ArcDistance(o, path, -1), ArcDistance(o, path, 1)
	switch {
	case l <= r && l < ModeTolerance:
		return -1
	case r < l && r < ModeTolerance:
		return 1
	}
	return 0
}

// Toy trains ToyConfig's diffusion policy with the student's functions
// (Train) on ToyObstacle's demonstrations (half passing left and half
// right) and samples opt.Samples action sequences from the mean start with
// the student's DDIM. A correct solution samples both sides and few off
// them: with the defaults (1,000 steps) about 10 s on two CPU cores.
func Toy(b compute.Backend, s Student, opt ToyOptions) (*ToyResult, error) {
	opt = opt.withDefaults()
	o := ToyObstacle()
	demos, err := o.Demos(opt.Demos, opt.Seed)
	if err != nil {
		return nil, err
	}
	tc := trainer.DefaultConfig()
	tc.Steps, tc.WarmupSteps, tc.Seed, tc.Progress = opt.Steps, opt.Steps/10, opt.Seed, opt.Progress
	tc.LearningRate = 3e-3
	t0 := time.Now()
	p, h, err := Train(b, s, ToyConfig(), demos, tc)
	if err != nil {
		return nil, err
	}
	r := &ToyResult{Obstacle: o, Demos: demos, Policy: p, History: h, TrainTime: time.Since(t0)}
	start := []float32{float32(o.Start[0]), float32(o.Start[1])}
	win := make([][]float32, p.Config().ObsHorizon)
	for i := range win {
		win[i] = start
	}
	if r.Samples, err = p.Sample(win, opt.Samples, rand.New(rand.NewPCG(uint64(opt.Seed), 2)), dp.SampleOptions{}); err != nil {
		return nil, err
	}
	for _, path := range r.Samples {
		switch Mode(o, path) {
		case -1:
			r.Left++
		case 1:
			r.Right++
		default:
			r.Off++
		}
		if o.Hits(path) {
			r.Hits++
		}
	}
	return r, nil
}

// Score is the share of samples that follow a demonstrated arc, left or
// right, in [0, 1].
func (r *ToyResult) Score() float64 {
	if len(r.Samples) == 0 {
		return 0
	}
	return float64(r.Left+r.Right) / float64(len(r.Samples))
}

// Table is the run's result as a Markdown table.
func (r *ToyResult) Table() string {
	var sb strings.Builder
	sb.WriteString("| samples | left arc | right arc | neither | touch the obstacle | score | training |\n|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(&sb, "| %d | %d | %d | %d | %d | %.2f | %d steps, %.1f s, final loss %.3f |\n", len(r.Samples), r.Left, r.Right, r.Off, r.Hits,
		r.Score(), len(r.History.Steps), r.TrainTime.Seconds(), r.History.FinalTrainLoss())
	return sb.String()
}

// Chart draws the demonstrations, the obstacle and the sampled sequences
// (from the start, which the chart puts in front of each).
func (r *ToyResult) Chart() plot.Chart {
	start := []float32{float32(r.Obstacle.Start[0]), float32(r.Obstacle.Start[1])}
	paths := make([][][]float32, len(r.Samples))
	for i, p := range r.Samples {
		paths[i] = append([][]float32{start}, p...)
	}
	return r.Obstacle.Chart("Your diffusion policy: demonstrations and sampled action sequences", r.Demos,
		dp.PathSet{Name: "samples (your AddNoise and DDIMStep)", Paths: paths})
}
