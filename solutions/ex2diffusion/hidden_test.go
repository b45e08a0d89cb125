//go:build grading

package ex2diffusion

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/diffusion"
)

// Hidden tests: the student's functions against the course library
// (lessons/diffusion) on random inputs at every timestep, the forward
// process's statistics, purity and determinism, whole DDIM sampling runs,
// and a diffusion policy trained and sampled with them.

func hiddenScheduler(t *testing.T, c diffusion.Config) *diffusion.Scheduler {
	t.Helper()
	s, err := diffusion.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hiddenNormals(rng *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(scale * rng.NormFloat64())
	}
	return v
}

// hiddenConfigs are the schedules the library comparisons run on.
func hiddenConfigs() []struct {
	name string
	c    diffusion.Config
} {
	noClip := diffusion.DefaultConfig()
	noClip.ClipSample = false
	ddpm := diffusion.ChapterConfig()
	ddpm.TrainSteps, ddpm.ClipSample = 1000, true
	return []struct {
		name string
		c    diffusion.Config
	}{
		{"Diffusion Policy's (cosine, T=100, clip ±1)", diffusion.DefaultConfig()},
		{"cosine, T=100, no clipping", noClip},
		{"the chapter's (linear 1e-4…0.02, T=100, no clipping)", diffusion.ChapterConfig()},
		{"Ho et al.'s (linear 1e-4…0.02, T=1000, clip ±1)", ddpm},
	}
}

// every returns the timesteps 0 … T−1, thinned to about 120 for large T
// (always with the first and the last).
func every(T int) []int {
	k := max(1, T/120)
	var ts []int
	for t := 0; t < T; t += k {
		ts = append(ts, t)
	}
	if ts[len(ts)-1] != T-1 {
		ts = append(ts, T-1)
	}
	return ts
}

func clipOf(s *diffusion.Scheduler) float64 {
	if s.ClipSample {
		return s.ClipRange
	}
	return 0
}

func TestHiddenScheduleMatchesLibrary(t *testing.T) {
	for _, c := range []struct {
		T          int
		start, end float64
	}{{100, 1e-4, 0.02}, {1000, 1e-4, 0.02}, {50, 1e-3, 0.05}, {2, 0.1, 0.3}, {1, 0.02, 0.5}, {7, 0.0085, 0.012}} {
		cfg := diffusion.Config{TrainSteps: c.T, Schedule: diffusion.ScheduleLinear, BetaStart: c.start, BetaEnd: c.end}
		want := hiddenScheduler(t, cfg).AlphasCumprod
		what := fmt.Sprintf("LinearAlphasCumprod(T=%d, betaStart=%g, betaEnd=%g)", c.T, c.start, c.end)
		got := call(t, what, func() []float64 { return LinearAlphasCumprod(c.T, c.start, c.end) })
		if len(got) != len(want) {
			t.Fatalf("%s returned %d values, want %d", what, len(got), len(want))
		}
		for i := range want {
			if !(math.Abs(got[i]-want[i]) <= 1e-9*want[i]) {
				t.Fatalf("%s: ᾱ_%d = %.12g, the library's diffusion.New gives %.12g (β_t = linspace(betaStart, betaEnd, T), ᾱ_t = Π(1−β_s) for s ≤ t)", what, i, got[i], want[i])
			}
		}
	}
}

func TestHiddenAddNoiseMatchesLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, c := range hiddenConfigs() {
		s := hiddenScheduler(t, c.c)
		for _, tt := range every(s.TrainSteps) {
			n := 1 + rng.IntN(40)
			x0, noise := hiddenNormals(rng, n, 1.3), hiddenNormals(rng, n, 1)
			want := make([]float32, n)
			s.AddNoise(want, x0, noise, tt)
			what := fmt.Sprintf("AddNoise(%s, t=%d, %d values)", c.name, tt, n)
			got := call(t, what, func() []float32 { return AddNoise(s.AlphasCumprod, x0, noise, tt) })
			expect(t, what, got, want, fmt.Sprintf("the library's Scheduler.AddNoise, ᾱ_t = %.6g", s.AlphasCumprod[tt]))
		}
	}
}

func TestHiddenPredictX0MatchesLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	for _, c := range hiddenConfigs() {
		c.c.ClipSample = false // PredictX0 does not clip
		s := hiddenScheduler(t, c.c)
		for _, tt := range every(s.TrainSteps) {
			n := 1 + rng.IntN(40)
			xt, eps := hiddenNormals(rng, n, 1), hiddenNormals(rng, n, 1)
			want := make([]float32, n)
			s.PredictX0(want, eps, xt, tt)
			what := fmt.Sprintf("PredictX0(%s, t=%d, %d values)", c.name, tt, n)
			got := call(t, what, func() []float32 { return PredictX0(s.AlphasCumprod, xt, eps, tt) })
			expect(t, what, got, want, fmt.Sprintf("the library's Scheduler.PredictX0 without clipping, ᾱ_t = %.6g", s.AlphasCumprod[tt]))
		}
	}
}

// TestHiddenForwardStatistics: over many draws of ε, x_t from a fixed x0
// has mean √ᾱ_t·x0 and variance 1−ᾱ_t.
func TestHiddenForwardStatistics(t *testing.T) {
	s := hiddenScheduler(t, diffusion.DefaultConfig())
	rng := rand.New(rand.NewPCG(45, 46))
	const n = 100000
	x0 := make([]float32, n)
	for i := range x0 {
		x0[i] = 0.7
	}
	for _, tt := range []int{0, 10, 50, 90, 99} {
		noise := hiddenNormals(rng, n, 1)
		what := fmt.Sprintf("AddNoise(cosine T=100, x0 = 0.7 everywhere, t=%d, %d standard normals)", tt, n)
		xt := call(t, what, func() []float32 { return AddNoise(s.AlphasCumprod, x0, noise, tt) })
		if len(xt) != n {
			t.Fatalf("%s returned %d values, want %d", what, len(xt), n)
		}
		mean, sq := 0.0, 0.0
		for _, v := range xt {
			mean += float64(v)
		}
		mean /= n
		for _, v := range xt {
			sq += (float64(v) - mean) * (float64(v) - mean)
		}
		variance := sq / n
		ab := s.AlphasCumprod[tt]
		wantMean, wantVar := math.Sqrt(ab)*0.7, 1-ab
		if math.Abs(mean-wantMean) > 5*math.Sqrt(wantVar/n)+1e-6 || math.Abs(variance-wantVar) > 5*wantVar*math.Sqrt(2.0/n)+1e-6 {
			t.Fatalf("%s: mean %.5f and variance %.5f, want √ᾱ_t·0.7 = %.5f and 1−ᾱ_t = %.5f (ᾱ_t = %.6g)", what, mean, variance, wantMean, wantVar, ab)
		}
	}
}

func TestHiddenDDIMStepMatchesLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(47, 48))
	for _, c := range hiddenConfigs() {
		s := hiddenScheduler(t, c.c)
		// Sampling's own pairs (DDIM in 10 and in 3 steps), consecutive
		// steps, and long jumps.
		type pair struct{ t, prev int }
		var pairs []pair
		for _, n := range []int{10, 3} {
			ts := s.DDIMTimesteps(n)
			for k := 0; k+1 < len(ts); k++ {
				pairs = append(pairs, pair{ts[k], ts[k+1]})
			}
		}
		for _, tt := range every(s.TrainSteps)[1:] {
			pairs = append(pairs, pair{tt, tt - 1}, pair{tt, rng.IntN(tt)})
		}
		for _, p := range pairs {
			n := 1 + rng.IntN(40)
			xt, eps := hiddenNormals(rng, n, 1.5), hiddenNormals(rng, n, 1)
			want := make([]float32, n)
			s.StepDDIM(want, eps, xt, nil, p.t, p.prev, 0)
			what := fmt.Sprintf("DDIMStep(%s, t=%d, tPrev=%d, clip=%g, %d values)", c.name, p.t, p.prev, clipOf(s), n)
			got := call(t, what, func() []float32 { return DDIMStep(s.AlphasCumprod, xt, eps, p.t, p.prev, clipOf(s)) })
			expect(t, what, got, want, fmt.Sprintf("the library's Scheduler.StepDDIM with η = 0, ᾱ_t = %.6g, ᾱ_prev = %.6g", s.AlphasCumprod[p.t], s.AlphasCumprod[p.prev]))
		}
	}
}

// TestHiddenDDIMLastStep: the step to tPrev = −1 (ᾱ_prev = 1) lands on the
// (clipped) estimate x̂0, from any t.
func TestHiddenDDIMLastStep(t *testing.T) {
	rng := rand.New(rand.NewPCG(49, 50))
	for _, c := range hiddenConfigs() {
		s := hiddenScheduler(t, c.c)
		for _, tt := range []int{0, 1, s.TrainSteps / 10, s.TrainSteps / 2, s.TrainSteps - 1} {
			n := 1 + rng.IntN(40)
			xt, eps := hiddenNormals(rng, n, 1.5), hiddenNormals(rng, n, 1)
			want := make([]float32, n)
			s.StepDDIM(want, eps, xt, nil, tt, -1, 0)
			what := fmt.Sprintf("DDIMStep(%s, t=%d, tPrev=-1, clip=%g, %d values)", c.name, tt, clipOf(s), n)
			got := call(t, what, func() []float32 { return DDIMStep(s.AlphasCumprod, xt, eps, tt, -1, clipOf(s)) })
			expect(t, what, got, want, "the last step: ᾱ_prev = 1, so x_prev is the (clipped) x̂0")
		}
	}
}

// TestHiddenPureAndDeterministic: the same inputs give the same outputs,
// inputs are never modified, and results are new slices.
func TestHiddenPureAndDeterministic(t *testing.T) {
	s := hiddenScheduler(t, diffusion.DefaultConfig())
	ab := slices.Clone(s.AlphasCumprod)
	rng := rand.New(rand.NewPCG(51, 52))
	x, e := hiddenNormals(rng, 24, 1.5), hiddenNormals(rng, 24, 1)
	x0, eps := slices.Clone(x), slices.Clone(e)
	for _, f := range []struct {
		name string
		run  func() []float32
	}{
		{"AddNoise(t=40)", func() []float32 { return AddNoise(s.AlphasCumprod, x0, eps, 40) }},
		{"PredictX0(t=40)", func() []float32 { return PredictX0(s.AlphasCumprod, x0, eps, 40) }},
		{"DDIMStep(t=40, tPrev=30, clip=1)", func() []float32 { return DDIMStep(s.AlphasCumprod, x0, eps, 40, 30, 1) }},
		{"DDIMStep(t=5, tPrev=-1, clip=0)", func() []float32 { return DDIMStep(s.AlphasCumprod, x0, eps, 5, -1, 0) }},
	} {
		a := call(t, f.name, f.run)
		b := call(t, f.name, f.run)
		if !slices.Equal(a, b) {
			t.Fatalf("%s gave %v, then %v for the same inputs: it must be deterministic", f.name, a, b)
		}
		unchanged(t, f.name, "its first slice", x0, x)
		unchanged(t, f.name, "its second slice", eps, e)
		if !slices.Equal(ab, s.AlphasCumprod) {
			t.Fatalf("%s modified alphasCumprod", f.name)
		}
		for i := range a {
			a[i] = 99
		}
		unchanged(t, f.name+" (writing to its result)", "its first slice", x0, x)
		unchanged(t, f.name+" (writing to its result)", "its second slice", eps, e)
	}
}

// TestHiddenSampleMatchesLibrary: whole DDIM sampling runs of the library's
// sampler with the student's step plugged in (Plug) against the library's
// own, with a fixed noise predictor; with the exact noise of a single
// point x0 both end at x0.
func TestHiddenSampleMatchesLibrary(t *testing.T) {
	rng := rand.New(rand.NewPCG(53, 54))
	for _, c := range hiddenConfigs() {
		ref := hiddenScheduler(t, c.c)
		mine := hiddenScheduler(t, c.c)
		if err := Plug(mine, Submitted()); err != nil {
			t.Fatal(err)
		}
		target := make([]float32, 32) // inside the clipping range ±1
		for i := range target {
			target[i] = float32(1.8*rng.Float64() - 0.9)
		}
		point := func(x []float32, tt int) ([]float32, error) { // the exact ε for data = {target}
			ab := ref.AlphasCumprod[tt]
			e := make([]float32, len(x))
			for i := range x {
				e[i] = float32((float64(x[i]) - math.Sqrt(ab)*float64(target[i])) / math.Sqrt(1-ab))
			}
			return e, nil
		}
		smooth := func(x []float32, tt int) ([]float32, error) { // some nonlinear predictor
			e := make([]float32, len(x))
			for i := range x {
				e[i] = float32(math.Tanh(float64(x[i])*1.3) + 0.1*math.Sin(float64(tt+i)))
			}
			return e, nil
		}
		for _, run := range []struct {
			name    string
			predict func([]float32, int) ([]float32, error)
			steps   int
		}{{"exact noise of one point", point, 10}, {"a fixed nonlinear predictor", smooth, 10}, {"a fixed nonlinear predictor", smooth, 4}} {
			start := hiddenNormals(rng, 32, 1)
			a, b := slices.Clone(start), slices.Clone(start)
			what := fmt.Sprintf("DDIM sampling in %d steps (%s) with %s through your DDIMStep", run.steps, c.name, run.name)
			if err := call(t, what, func() error { return mine.Sample(a, run.predict, diffusion.MethodDDIM, run.steps, 0, nil, nil) }); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if err := ref.Sample(b, run.predict, diffusion.MethodDDIM, run.steps, 0, nil, nil); err != nil {
				t.Fatal(err)
			}
			if i := close32(a, b); i >= 0 || len(a) != len(b) {
				t.Fatalf("%s ends at %v, the library's sampler at %v (element %d)", what, a, b, i)
			}
			if run.steps == 10 && run.name == "exact noise of one point" {
				if i := close32(a, target); i >= 0 {
					t.Fatalf("%s ends at %v, want the point %v (element %d)", what, a, target, i)
				}
			}
		}
	}
}

// TestHiddenToyPolicy trains a diffusion policy (a one-level temporal U-Net
// from lessons/denoiser in lessons/dp) on the obstacle toy's
// demonstrations with the student's AddNoise, samples 40 action sequences
// from the start with the student's DDIMStep, and asks for both
// demonstrated ways round the obstacle.
func TestHiddenToyPolicy(t *testing.T) {
	b, err := backend.New()
	if err != nil {
		t.Fatal(err)
	}
	r := call(t, "Toy (training with your AddNoise, sampling with your DDIMStep)", func() *ToyResult {
		r, err := Toy(b, Submitted(), ToyOptions{Steps: 1000})
		if err != nil {
			t.Fatalf("Toy: %v", err)
		}
		return r
	})
	t.Logf("\n%s", r.Table())
	if r.Left < 8 || r.Right < 8 || r.Score() < 0.65 {
		t.Fatalf("a diffusion policy trained with your AddNoise and sampled with your DDIMStep: of %d samples, %d follow the left arc and %d the right (want at least 8 each), score %.2f (want at least 0.65):\n%s",
			len(r.Samples), r.Left, r.Right, r.Score(), r.Table())
	}
}
