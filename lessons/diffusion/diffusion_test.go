package diffusion

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func mustNew(t testing.TB, c Config) *Scheduler {
	t.Helper()
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func normals(rng *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(scale * rng.NormFloat64())
	}
	return v
}

func maxAbsDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

func meanStd(v []float32) (mean, std float64) {
	for _, x := range v {
		mean += float64(x)
	}
	mean /= float64(len(v))
	for _, x := range v {
		d := float64(x) - mean
		std += d * d
	}
	return mean, math.Sqrt(std / float64(len(v)))
}

func noClip(c Config) Config   { c.ClipSample = false; return c }
func withClip(c Config) Config { c.ClipSample = true; c.ClipRange = 1; return c }

// clipVariant is a scheduler of one of the two schedules, with or without
// clipping x̂_0 to ±1.
type clipVariant struct {
	s    *Scheduler
	clip bool
}

// clipVariants are both schedules (Diffusion Policy's and the chapter's),
// each without and with clipping.
func clipVariants(t testing.TB) []clipVariant {
	var vs []clipVariant
	for _, base := range []Config{DefaultConfig(), ChapterConfig()} {
		vs = append(vs, clipVariant{mustNew(t, noClip(base)), false}, clipVariant{mustNew(t, withClip(base)), true})
	}
	return vs
}

func TestLinearSchedule(t *testing.T) {
	for _, T := range []int{100, 1000, 2} {
		c := ChapterConfig()
		c.TrainSteps = T
		s := mustNew(t, c)
		if s.Betas[0] != 1e-4 || s.Betas[T-1] != 0.02 {
			t.Errorf("T=%d: ends %v, %v, want exactly 1e-4, 0.02", T, s.Betas[0], s.Betas[T-1])
		}
		prod := 1.0
		for i, b := range s.Betas {
			want := 1e-4 + (0.02-1e-4)*float64(i)/float64(T-1)
			if math.Abs(b-want) > 1e-15 {
				t.Errorf("T=%d: beta[%d] = %v, want %v", T, i, b, want)
			}
			prod *= 1 - b
			if s.Alphas[i] != 1-b || math.Abs(s.AlphasCumprod[i]-prod) > 1e-15 {
				t.Errorf("T=%d: alpha[%d] = %v, alphabar = %v, want %v, %v", T, i, s.Alphas[i], s.AlphasCumprod[i], 1-b, prod)
			}
		}
	}
	s := mustNew(t, Config{TrainSteps: 1, Schedule: ScheduleLinear, BetaStart: 0.1, BetaEnd: 0.2})
	if len(s.Betas) != 1 || s.Betas[0] != 0.1 {
		t.Errorf("T=1: betas %v, want [0.1] as torch.linspace", s.Betas)
	}
}

// TestCosineSchedule checks the table against Nichol & Dhariwal's closed
// form, computed here independently: ā(u) = cos²((u+0.008)/1.008·π/2),
// ᾱ_t = ā((t+1)/T)/ā(0) while no β is capped, β_t ≤ 0.999.
func TestCosineSchedule(t *testing.T) {
	abar := func(u float64) float64 { return math.Pow(math.Cos((u+0.008)/1.008*math.Pi/2), 2) }
	for _, T := range []int{100, 1000, 10} {
		c := DefaultConfig()
		c.TrainSteps = T
		s := mustNew(t, c)
		if T >= 100 && (s.AlphasCumprod[0] < 0.999 || s.AlphasCumprod[0] >= 1) {
			t.Errorf("T=%d: alphabar_0 = %v, want just below 1", T, s.AlphasCumprod[0])
		}
		capped := 0
		for i, b := range s.Betas {
			if !(b > 0 && b <= 0.999) {
				t.Errorf("T=%d: beta[%d] = %v outside (0, 0.999]", T, i, b)
			}
			if b == 0.999 {
				capped++
				continue
			}
			want := abar(float64(i+1)/float64(T)) / abar(0)
			if got := s.AlphasCumprod[i]; math.Abs(got-want) > 1e-12*want {
				t.Errorf("T=%d: alphabar[%d] = %v, want closed form %v", T, i, got, want)
			}
			if i > 0 && !(s.AlphasCumprod[i] < s.AlphasCumprod[i-1]) {
				t.Errorf("T=%d: alphabar not decreasing at %d", T, i)
			}
		}
		if capped != 1 || s.Betas[T-1] != 0.999 {
			t.Errorf("T=%d: %d capped betas, last %v; want only the last, 0.999", T, capped, s.Betas[T-1])
		}
	}
}

// TestScheduleEnd documents why the chapter's schedule is a poor fit for
// 100 steps: ᾱ_99 stays near 0.36, while the cosine schedule reaches noise.
func TestScheduleEnd(t *testing.T) {
	ch, df := mustNew(t, ChapterConfig()), mustNew(t, DefaultConfig())
	if a := ch.AlphasCumprod[99]; a < 0.3 || a > 0.4 {
		t.Errorf("chapter alphabar_99 = %v, want ≈ 0.36", a)
	}
	if a := df.AlphasCumprod[99]; a > 1e-6 {
		t.Errorf("cosine alphabar_99 = %v, want < 1e-6", a)
	}
}

func TestDDIMTimesteps(t *testing.T) {
	s := mustNew(t, DefaultConfig())
	all := make([]int, 100)
	for i := range all {
		all[i] = 99 - i
	}
	for _, tc := range []struct {
		n    int
		want []int
	}{
		{10, []int{90, 80, 70, 60, 50, 40, 30, 20, 10, 0}},
		{1, []int{0}},
		{3, []int{66, 33, 0}},
		{100, all},
	} {
		if got := s.DDIMTimesteps(tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("DDIMTimesteps(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
	got := s.DDIMTimesteps(30)
	if len(got) != 30 || got[0] != 87 || got[1] != 84 || got[29] != 0 {
		t.Errorf("DDIMTimesteps(30) = %v, want 87, 84, …, 0", got)
	}
	for _, n := range []int{0, -1, 101} {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("DDIMTimesteps(%d) did not panic", n)
				}
			}()
			s.DDIMTimesteps(n)
		}()
	}
}

// TestForwardStatistics: for a fixed x0 and N noise draws, x_t has mean
// √ᾱ_t·x0 and variance 1−ᾱ_t; the tolerances are 5 standard errors.
func TestForwardStatistics(t *testing.T) {
	const N = 200_000
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []Config{DefaultConfig(), ChapterConfig()} {
		s := mustNew(t, c)
		for _, step := range []int{0, 10, 50, 99} {
			const x0 = 0.7
			xs := make([]float32, N)
			for i := range xs {
				xs[i] = x0
			}
			s.AddNoise(xs, xs, normals(rng, N, 1), step) // out aliases x0
			ab := s.AlphasCumprod[step]
			m, sd := meanStd(xs)
			v := sd * sd
			wantM, wantV := math.Sqrt(ab)*x0, 1-ab
			if tol := 5 * math.Sqrt(wantV/N); math.Abs(m-wantM) > tol {
				t.Errorf("%s t=%d: mean %v, want %v ± %v", c.Schedule, step, m, wantM, tol)
			}
			if tol := 5 * wantV * math.Sqrt(2.0/N); math.Abs(v-wantV) > tol {
				t.Errorf("%s t=%d: variance %v, want %v ± %v", c.Schedule, step, v, wantV, tol)
			}
		}
	}
}

func TestPredictX0(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, clip := range []bool{false, true} {
		c := DefaultConfig()
		c.ClipSample = clip
		s := mustNew(t, c)
		for _, step := range []int{0, 40, 90} {
			x0 := normals(rng, 64, 1.5)
			eps := normals(rng, 64, 1)
			xt := make([]float32, 64)
			s.AddNoise(xt, x0, eps, step)
			got := make([]float32, 64)
			s.PredictX0(got, eps, xt, step)
			clipped := 0
			for i := range got {
				want := float64(x0[i])
				if clip && math.Abs(want) > 1 {
					want = math.Copysign(1, want)
					clipped++
				}
				if math.Abs(float64(got[i])-want) > 2e-4 {
					t.Errorf("clip=%v t=%d: x0[%d] = %v, want %v", clip, step, i, got[i], want)
				}
			}
			if clip && clipped == 0 {
				t.Errorf("clip=%v t=%d: nothing to clip; the test is too weak", clip, step)
			}
		}
	}
}

// TestDDIMEta1IsDDPM: with η = 1 and tPrev = t−1, σ² = β̃_t and the DDIM
// update is the posterior mean plus σ·z, so StepDDIM reproduces StepDDPM at
// every t, with clipping off and on (where some x̂_0 are clipped).
func TestDDIMEta1IsDDPM(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, v := range clipVariants(t) {
		s, c, clip := v.s, v.s.Config, v.clip
		clipped := 0
		for step := s.TrainSteps - 1; step >= 0; step-- {
			ab, abPrev := s.AlphasCumprod[step], s.alphaBarPrev(step)
			tilde := (1 - abPrev) / (1 - ab) * s.Betas[step]
			if sg := s.DDIMSigma(step, step-1, 1); math.Abs(sg*sg-tilde) > 1e-12 {
				t.Errorf("%s t=%d: sigma² %v, want beta-tilde %v", c.Schedule, step, sg*sg, tilde)
			}
			x0 := normals(rng, 256, 1.5)
			eps := normals(rng, 256, 1)
			xt := make([]float32, 256)
			s.AddNoise(xt, x0, eps, step)
			epsHat := normals(rng, 256, 1) // any ε̂, not the true one
			for i := range epsHat {
				epsHat[i] = 0.7*eps[i] + 0.3*epsHat[i]
			}
			z := normals(rng, 256, 1)
			p := make([]float32, 256)
			s.PredictX0(p, epsHat, xt, step)
			for _, v := range p {
				if math.Abs(float64(v)) == 1 {
					clipped++
				}
			}
			ddpm, ddim := make([]float32, 256), make([]float32, 256)
			s.StepDDPM(ddpm, epsHat, xt, z, step)
			s.StepDDIM(ddim, epsHat, xt, z, step, step-1, 1)
			if d := maxAbsDiff(ddpm, ddim); d > 1e-5 {
				t.Errorf("%s clip=%v t=%d: DDIM(η=1) differs from DDPM by %v", c.Schedule, clip, step, d)
			}
		}
		if clip && clipped == 0 {
			t.Errorf("%s: clipping never happened; the test is too weak", c.Schedule)
		}
	}
}

// gaussianEps is the exact ε-predictor for 1-D data N(mu, sd²):
// E[ε | x_t] = √(1−ᾱ_t)·(x_t − √ᾱ_t·mu)/(ᾱ_t·sd² + 1 − ᾱ_t).
func gaussianEps(s *Scheduler, mu, sd float64) func([]float32, int) ([]float32, error) {
	return func(x []float32, t int) ([]float32, error) {
		ab := s.AlphasCumprod[t]
		eps := make([]float32, len(x))
		for i, v := range x {
			eps[i] = float32(math.Sqrt(1-ab) * (float64(v) - math.Sqrt(ab)*mu) / (ab*sd*sd + 1 - ab))
		}
		return eps, nil
	}
}

// pointEps is the exact ε-predictor for data that is the single point x0.
func pointEps(s *Scheduler, x0 []float32) func([]float32, int) ([]float32, error) {
	return func(x []float32, t int) ([]float32, error) {
		ab := s.AlphasCumprod[t]
		eps := make([]float32, len(x))
		for i, v := range x {
			eps[i] = float32((float64(v) - math.Sqrt(ab)*float64(x0[i])) / math.Sqrt(1-ab))
		}
		return eps, nil
	}
}

// TestSampleDDPMIsDDIMAllSteps: Sample draws z only for noisy steps, so
// DDPM and DDIM with η = 1 over all T steps give the same samples.
func TestSampleDDPMIsDDIMAllSteps(t *testing.T) {
	for _, clip := range []bool{false, true} {
		c := DefaultConfig()
		c.ClipSample = clip
		s := mustNew(t, c)
		start := normals(rand.New(rand.NewPCG(7, 8)), 1000, 1)
		a, b := slices.Clone(start), slices.Clone(start)
		pred := gaussianEps(s, 0.8, 0.5) // some mass beyond ±1 so clipping acts
		if err := s.Sample(a, pred, MethodDDPM, 0, 0, rand.New(rand.NewPCG(9, 9)), nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Sample(b, pred, MethodDDIM, 100, 1, rand.New(rand.NewPCG(9, 9)), nil); err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(a, b); d > 1e-5 {
			t.Errorf("clip=%v: DDPM and DDIM(100, η=1) samples differ by %v", clip, d)
		}
	}
}

func TestDDIMEta0Deterministic(t *testing.T) {
	s := mustNew(t, DefaultConfig())
	rng := rand.New(rand.NewPCG(10, 11))
	eps, xt := normals(rng, 32, 1), normals(rng, 32, 1)
	a, b, c := make([]float32, 32), make([]float32, 32), make([]float32, 32)
	s.StepDDIM(a, eps, xt, normals(rng, 32, 1), 50, 40, 0)
	s.StepDDIM(b, eps, xt, normals(rng, 32, 1), 50, 40, 0)
	s.StepDDIM(c, eps, xt, nil, 50, 40, 0)
	if !slices.Equal(a, b) || !slices.Equal(a, c) {
		t.Errorf("η=0 step depends on z: %v / %v / %v", a[:3], b[:3], c[:3])
	}
	if s.DDIMSigma(50, 40, 0) != 0 || s.DDIMSigma(50, 40, 0.5) <= 0 {
		t.Errorf("DDIMSigma(η=0) = %v, DDIMSigma(η=0.5) = %v", s.DDIMSigma(50, 40, 0), s.DDIMSigma(50, 40, 0.5))
	}
	// A whole η=0 run needs no rng and ends the same from the same start.
	start := normals(rng, 32, 1)
	x1, x2 := slices.Clone(start), slices.Clone(start)
	pred := gaussianEps(s, 0.3, 0.2)
	if err := s.Sample(x1, pred, MethodDDIM, 10, 0, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Sample(x2, pred, MethodDDIM, 10, 0, rand.New(rand.NewPCG(1, 1)), nil); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x1, x2) {
		t.Error("η=0 DDIM sampling depends on rng")
	}
}

// TestPerfectPredictorRecoversX0: when the data is one point x0 and ε̂ is
// exact, every sampler ends exactly at x0 from any noise.
func TestPerfectPredictorRecoversX0(t *testing.T) {
	for _, tc := range []struct {
		name   string
		c      Config
		method Method
		steps  int
		eta    float64
	}{
		{"default ddpm", DefaultConfig(), MethodDDPM, 0, 0},
		{"default ddim10", DefaultConfig(), MethodDDIM, 10, 0},
		{"default ddim10 eta1", DefaultConfig(), MethodDDIM, 10, 1},
		{"default ddim3", DefaultConfig(), MethodDDIM, 3, 0},
		{"chapter ddpm", ChapterConfig(), MethodDDPM, 0, 0},
		{"chapter ddim10", ChapterConfig(), MethodDDIM, 10, 0},
		{"noclip ddpm", noClip(DefaultConfig()), MethodDDPM, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustNew(t, tc.c)
			rng := rand.New(rand.NewPCG(12, 13))
			x0 := make([]float32, 32)
			for i := range x0 {
				x0[i] = float32(rng.Float64()*1.8 - 0.9)
			}
			x := normals(rng, 32, 1)
			if err := s.Sample(x, pointEps(s, x0), tc.method, tc.steps, tc.eta, rng, nil); err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(x, x0); d > 1e-4 {
				t.Errorf("sample is %v from x0", d)
			}
		})
	}
}

func TestSampleSeeds(t *testing.T) {
	s := mustNew(t, DefaultConfig())
	start := normals(rand.New(rand.NewPCG(14, 15)), 32, 1)
	run := func(method Method, seed uint64) []float32 {
		x := slices.Clone(start)
		if err := s.Sample(x, gaussianEps(s, 0.3, 0.2), method, 10, 0.5, rand.New(rand.NewPCG(seed, 0)), nil); err != nil {
			t.Fatal(err)
		}
		return x
	}
	for _, m := range []Method{MethodDDPM, MethodDDIM, MethodChapter} {
		a, b, c := run(m, 1), run(m, 1), run(m, 2)
		if !slices.Equal(a, b) {
			t.Errorf("%s: same seed, different samples", m)
		}
		if slices.Equal(a, c) {
			t.Errorf("%s: different seeds, same samples", m)
		}
	}
}

// gaussianMoments is the exact mean and variance of a sampler's output
// when the data is N(mu, sd²), ε̂ is gaussianEps and the start is N(0, 1):
// with that ε̂ every step is affine in x plus independent noise,
// x' = A·x + B + σ·z, so M' = A·M + B and V' = A²·V + σ². The
// coefficients are written here from the papers' equations, apart from the
// code under test.
func gaussianMoments(s *Scheduler, mu, sd float64, method Method, steps int, eta float64) (mean, variance float64) {
	var ts []int
	if method == MethodDDIM {
		ts = s.DDIMTimesteps(steps)
	} else {
		for t := s.TrainSteps - 1; t >= 0; t-- {
			ts = append(ts, t)
		}
	}
	M, V := 0.0, 1.0
	for k, t := range ts {
		a, beta := s.AlphasCumprod[t], s.Betas[t]
		aPrev := 1.0
		if method == MethodDDIM && k+1 < len(ts) {
			aPrev = s.AlphasCumprod[ts[k+1]]
		} else if method != MethodDDIM && t > 0 {
			aPrev = s.AlphasCumprod[t-1]
		}
		// ε̂ = p·x + q, x̂0 = gx·x + g0.
		p := math.Sqrt(1-a) / (a*sd*sd + 1 - a)
		q := -p * math.Sqrt(a) * mu
		gx, g0 := (1-math.Sqrt(1-a)*p)/math.Sqrt(a), -math.Sqrt(1-a)*q/math.Sqrt(a)
		var A, B, sigma float64
		switch method {
		case MethodDDPM: // Ho et al. eq. 7
			c0 := math.Sqrt(aPrev) * beta / (1 - a)
			ct := math.Sqrt(1-beta) * (1 - aPrev) / (1 - a)
			A, B = c0*gx+ct, c0*g0
			if t > 0 {
				sigma = math.Sqrt((1 - aPrev) / (1 - a) * beta)
			}
		case MethodDDIM: // Song et al. eq. 12
			sigma = eta * math.Sqrt((1-aPrev)/(1-a)*(1-a/aPrev))
			ce := math.Sqrt(1 - aPrev - sigma*sigma)
			A, B = math.Sqrt(aPrev)*gx+ce*p, math.Sqrt(aPrev)*g0+ce*q
		case MethodChapter: // Ho et al. eq. 11 with σ² = β_t
			A, B = (1-beta/math.Sqrt(1-a)*p)/math.Sqrt(1-beta), -beta/math.Sqrt(1-a)*q/math.Sqrt(1-beta)
			if t > 0 {
				sigma = math.Sqrt(beta)
			}
		}
		M, V = A*M+B, A*A*V+sigma*sigma
	}
	return M, V
}

// TestGaussianData: with the exact ε-predictor of N(0.3, 0.2²) and
// unclipped samplers started from N(0, 1), 20k samples have the exact
// moments of gaussianMoments (to 5 standard errors). DDPM and DDIM over
// all 100 steps land within 0.03 of (0.3, 0.2); DDIM with 10 steps keeps
// the mean but shrinks the std (each coarse step multiplies the spread by
// (√(ᾱ_t ᾱ')·s² + √((1−ᾱ_t)(1−ᾱ')))/v_t ≤ √(v'/v_t), Cauchy–Schwarz, with
// v_t = ᾱ_t·s² + 1 − ᾱ_t), to about 0.15 (η=0) and 0.13 (η=1): a real
// property of few-step sampling with the posterior-mean ε̂, not a bug.
// The chapter's sampler and schedule are checked against their exact
// moments only.
func TestGaussianData(t *testing.T) {
	const N, mu, sd = 20_000, 0.3, 0.2
	cosine, chapter := mustNew(t, noClip(DefaultConfig())), mustNew(t, ChapterConfig())
	for _, tc := range []struct {
		s        *Scheduler
		method   Method
		steps    int
		eta      float64
		near     bool    // mean and std within 0.03 of (mu, sd)
		stdBelow float64 // if > 0: std below this
	}{
		{cosine, MethodDDPM, 0, 0, true, 0},
		{cosine, MethodDDIM, 100, 0, true, 0},
		{cosine, MethodDDIM, 100, 1, true, 0},
		{cosine, MethodDDIM, 10, 0, false, 0.17},
		{cosine, MethodDDIM, 10, 1, false, 0.15},
		{chapter, MethodChapter, 0, 0, false, 0},
		{chapter, MethodDDPM, 0, 0, false, 0},
	} {
		name := fmt.Sprintf("%s/%s steps=%d eta=%v", tc.s.Schedule, tc.method, tc.steps, tc.eta)
		rng := rand.New(rand.NewPCG(16, 17))
		x := normals(rng, N, 1)
		if err := tc.s.Sample(x, gaussianEps(tc.s, mu, sd), tc.method, tc.steps, tc.eta, rng, nil); err != nil {
			t.Fatal(err)
		}
		m, d := meanStd(x)
		wm, wv := gaussianMoments(tc.s, mu, sd, tc.method, tc.steps, tc.eta)
		wd := math.Sqrt(wv)
		t.Logf("%s: mean %.4f std %.4f (exact %.4f, %.4f)", name, m, d, wm, wd)
		if math.Abs(m-wm) > 5*wd/math.Sqrt(N) || math.Abs(d-wd) > 5*wd/math.Sqrt(2*N) {
			t.Errorf("%s: mean %.4f std %.4f, want the exact %.4f, %.4f", name, m, d, wm, wd)
		}
		if tc.near && (math.Abs(m-mu) > 0.03 || math.Abs(d-sd) > 0.03) {
			t.Errorf("%s: mean %.4f std %.4f, want %v, %v ± 0.03", name, m, d, mu, sd)
		}
		if tc.stdBelow > 0 && !(d < tc.stdBelow) {
			t.Errorf("%s: std %.4f, want below %v", name, d, tc.stdBelow)
		}
		if tc.s == cosine && math.Abs(m-mu) > 0.03 {
			t.Errorf("%s: mean %.4f, want %v ± 0.03", name, m, mu)
		}
	}
}

// TestStepChapter: the chapter's update has StepDDPM's unclipped mean and
// noise scale √β_t instead of √β̃_t.
func TestStepChapter(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 19))
	for _, c := range []Config{ChapterConfig(), DefaultConfig()} {
		s := mustNew(t, c)
		sNo := mustNew(t, noClip(c))
		for _, step := range []int{99, 50, 1, 0} {
			eps, xt, z := normals(rng, 32, 1), normals(rng, 32, 1), normals(rng, 32, 1)
			zero := make([]float32, 32)
			ch, dd := make([]float32, 32), make([]float32, 32)
			s.StepChapter(ch, eps, xt, zero, step)
			sNo.StepDDPM(dd, eps, xt, zero, step)
			tol := 1e-5 * (1 + maxAbs(dd))
			if d := maxAbsDiff(ch, dd); d > tol {
				t.Errorf("%s t=%d: chapter mean differs from DDPM mean by %v", c.Schedule, step, d)
			}
			chz, ddz := make([]float32, 32), make([]float32, 32)
			s.StepChapter(chz, eps, xt, z, step)
			sNo.StepDDPM(ddz, eps, xt, z, step)
			gap := 0.0
			if step > 0 {
				ab, abPrev := s.AlphasCumprod[step], s.AlphasCumprod[step-1]
				beta := s.Betas[step]
				gap = math.Sqrt(beta) - math.Sqrt((1-abPrev)/(1-ab)*beta)
			}
			for i := range z {
				want := float64(ddz[i]) + gap*float64(z[i])
				if math.Abs(float64(chz[i])-want) > tol {
					t.Errorf("%s t=%d: chapter[%d] = %v, want DDPM + (√β−√β̃)·z = %v", c.Schedule, step, i, chz[i], want)
					break
				}
			}
		}
	}
}

func maxAbs(v []float32) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(float64(x)))
	}
	return m
}

func TestStepsAlias(t *testing.T) {
	s := mustNew(t, DefaultConfig())
	rng := rand.New(rand.NewPCG(20, 21))
	eps, xt, z := normals(rng, 32, 1), normals(rng, 32, 1), normals(rng, 32, 1)
	for name, step := range map[string]func(out, xt []float32){
		"ddpm":    func(out, xt []float32) { s.StepDDPM(out, eps, xt, z, 30) },
		"ddim":    func(out, xt []float32) { s.StepDDIM(out, eps, xt, z, 30, 20, 0.5) },
		"chapter": func(out, xt []float32) { s.StepChapter(out, eps, xt, z, 30) },
		"x0":      func(out, xt []float32) { s.PredictX0(out, eps, xt, 30) },
	} {
		want := make([]float32, 32)
		step(want, xt)
		got := slices.Clone(xt)
		step(got, got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: in-place result differs", name)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string // "" = valid
	}{
		{"default", func(*Config) {}, ""},
		{"chapter", func(c *Config) { *c = ChapterConfig() }, ""},
		{"cosine ignores betas", func(c *Config) { c.BetaStart, c.BetaEnd = 0, 0 }, ""},
		{"no clip ignores range", func(c *Config) { c.ClipSample, c.ClipRange = false, 0 }, ""},
		{"zero steps", func(c *Config) { c.TrainSteps = 0 }, "TrainSteps is 0"},
		{"unknown schedule", func(c *Config) { c.Schedule = "cosine" }, `Schedule is "cosine"`},
		{"end below start", func(c *Config) { *c = ChapterConfig(); c.BetaEnd = 1e-5 }, "BetaEnd is 1e-05"},
		{"end equals start", func(c *Config) { *c = ChapterConfig(); c.BetaEnd = c.BetaStart }, "BetaEnd is 0.0001"},
		{"start zero", func(c *Config) { *c = ChapterConfig(); c.BetaStart = 0 }, "BetaStart is 0"},
		{"end one", func(c *Config) { *c = ChapterConfig(); c.BetaEnd = 1 }, "BetaEnd is 1"},
		{"clip range zero", func(c *Config) { c.ClipRange = 0 }, "ClipRange is 0"},
		{"clip range negative", func(c *Config) { c.ClipRange = -1 }, "ClipRange is -1"},
		{"clip range NaN", func(c *Config) { c.ClipRange = math.NaN() }, "ClipRange is NaN"},
	} {
		c := DefaultConfig()
		tc.edit(&c)
		err := c.Validate()
		_, nerr := New(c)
		switch {
		case tc.want == "" && (err != nil || nerr != nil):
			t.Errorf("%s: %v / %v, want valid", tc.name, err, nerr)
		case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), "diffusion: ") || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		case tc.want != "" && nerr == nil:
			t.Errorf("%s: New accepted it", tc.name)
		}
	}
}

func TestSampleErrors(t *testing.T) {
	s := mustNew(t, DefaultConfig())
	boom := errors.New("boom")
	good := gaussianEps(s, 0, 1)
	failAt := func(at int, f func(x []float32) ([]float32, error)) func([]float32, int) ([]float32, error) {
		return func(x []float32, t int) ([]float32, error) {
			if t == at {
				return f(x)
			}
			return good(x, t)
		}
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct {
		name    string
		predict func([]float32, int) ([]float32, error)
		method  Method
		steps   int
		eta     float64
		rng     *rand.Rand
		want    string
	}{
		{"predict error", failAt(42, func([]float32) ([]float32, error) { return nil, boom }), MethodDDPM, 0, 0, rng, "step 58 of 100 (t=42): predict: boom"},
		{"wrong length", failAt(30, func(x []float32) ([]float32, error) { return make([]float32, len(x)-1), nil }), MethodDDIM, 10, 0, rng, "step 7 of 10 (t=30): predict returned 7 values for 8"},
		{"NaN", failAt(0, func(x []float32) ([]float32, error) {
			e := make([]float32, len(x))
			e[3] = float32(math.NaN())
			return e, nil
		}), MethodChapter, 0, 0, rng, "(t=0): predict returned NaN at index 3"},
		{"unknown method", good, "ddim2", 10, 0, rng, `method "ddim2"`},
		{"zero steps", good, MethodDDIM, 0, 0, rng, "0 DDIM steps"},
		{"too many steps", good, MethodDDIM, 101, 0, rng, "101 DDIM steps"},
		{"negative eta", good, MethodDDIM, 10, -1, rng, "eta is -1"},
		{"nil rng", good, MethodDDPM, 0, 0, nil, "rng is nil"},
		{"nil predict", nil, MethodDDPM, 0, 0, rng, "nil predict"},
	} {
		x := make([]float32, 8)
		err := s.Sample(x, tc.predict, tc.method, tc.steps, tc.eta, tc.rng, nil)
		if err == nil || !strings.HasPrefix(err.Error(), "diffusion: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
		if tc.name == "predict error" && !errors.Is(err, boom) {
			t.Errorf("%s: %v does not wrap the predict error", tc.name, err)
		}
	}
	// A step that overflows is caught too.
	huge := func(x []float32, t int) ([]float32, error) {
		e := make([]float32, len(x))
		for i := range e {
			e[i] = math.MaxFloat32
		}
		return e, nil
	}
	if err := mustNew(t, noClip(DefaultConfig())).Sample(make([]float32, 4), huge, MethodDDIM, 10, 0, nil, nil); err == nil || !strings.Contains(err.Error(), "sample became") {
		t.Errorf("overflow: %v, want a 'sample became' error", err)
	}
}

func TestSampleOnStep(t *testing.T) {
	s := mustNew(t, DefaultConfig())
	var seen []int
	x := make([]float32, 4)
	err := s.Sample(x, gaussianEps(s, 0.3, 0.2), MethodDDIM, 5, 0, nil, func(t int, v []float32) {
		seen = append(seen, t)
		if &v[0] != &x[0] {
			panic("onStep got a copy")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, []int{80, 60, 40, 20, 0}) {
		t.Errorf("onStep saw %v", seen)
	}
}

func TestStepPanics(t *testing.T) {
	s := mustNew(t, DefaultConfig())
	v := make([]float32, 4)
	for name, f := range map[string]func(){
		"t too big":       func() { s.StepDDPM(v, v, v, v, 100) },
		"t negative":      func() { s.AddNoise(v, v, v, -1) },
		"short eps":       func() { s.StepDDPM(v, v[:3], v, v, 5) },
		"short z":         func() { s.StepDDIM(v, v, v, v[:3], 5, 4, 1) },
		"tPrev not below": func() { s.StepDDIM(v, v, v, v, 5, 5, 0) },
		"negative eta":    func() { s.StepDDIM(v, v, v, v, 5, 4, -0.5) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func benchStep(b *testing.B, step func(s *Scheduler, out, eps, xt, z []float32)) {
	s := mustNew(b, DefaultConfig())
	rng := rand.New(rand.NewPCG(1, 2))
	eps, xt, z := normals(rng, 32, 1), normals(rng, 32, 1), normals(rng, 32, 1)
	out := make([]float32, 32) // a 16×2 action chunk
	for b.Loop() {
		step(s, out, eps, xt, z)
	}
}

func BenchmarkStepDDPM(b *testing.B) {
	benchStep(b, func(s *Scheduler, out, eps, xt, z []float32) { s.StepDDPM(out, eps, xt, z, 50) })
}

func BenchmarkStepDDIM(b *testing.B) {
	benchStep(b, func(s *Scheduler, out, eps, xt, z []float32) { s.StepDDIM(out, eps, xt, z, 50, 40, 0) })
}

// TestHooks: a Scheduler with Hooks runs them, after its own checks, from
// AddNoise, StepDDIM and Sample's DDIM steps; hooks that compute what the
// built-in does give the same samples, and other samplers ignore them.
func TestHooks(t *testing.T) {
	s := mustNew(t, DefaultConfig())
	ref := mustNew(t, DefaultConfig())
	var noised, stepped []int
	s.Hooks = Hooks{
		AddNoise: func(out, x0, noise []float32, tt int) {
			noised = append(noised, tt)
			ref.AddNoise(out, x0, noise, tt)
		},
		StepDDIM: func(out, eps, xt, z []float32, tt, tPrev int, eta float64) {
			stepped = append(stepped, tt, tPrev)
			ref.StepDDIM(out, eps, xt, z, tt, tPrev, eta)
		},
	}
	rng := rand.New(rand.NewPCG(21, 22))
	x0, noise := normals(rng, 16, 1), normals(rng, 16, 1)
	a, b := make([]float32, 16), make([]float32, 16)
	s.AddNoise(a, x0, noise, 37)
	ref.AddNoise(b, x0, noise, 37)
	if !slices.Equal(a, b) || !slices.Equal(noised, []int{37}) {
		t.Errorf("AddNoise hook: calls %v (want [37]), result equal: %v", noised, slices.Equal(a, b))
	}
	start := normals(rng, 16, 1)
	x1, x2 := slices.Clone(start), slices.Clone(start)
	pred := gaussianEps(s, 0.3, 0.2)
	if err := s.Sample(x1, pred, MethodDDIM, 4, 0, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := ref.Sample(x2, pred, MethodDDIM, 4, 0, nil, nil); err != nil {
		t.Fatal(err)
	}
	if want := []int{75, 50, 50, 25, 25, 0, 0, -1}; !slices.Equal(stepped, want) || !slices.Equal(x1, x2) {
		t.Errorf("Sample with a StepDDIM hook: steps (t, tPrev) %v, want %v; samples equal: %v", stepped, want, slices.Equal(x1, x2))
	}
	stepped = nil
	if err := s.Sample(x1, pred, MethodDDPM, 0, 0, rand.New(rand.NewPCG(1, 1)), nil); err != nil || len(stepped) != 0 {
		t.Errorf("DDPM sampling called the DDIM hook %d times (err %v)", len(stepped)/2, err)
	}
	// The checks come first: a bad timestep panics before the hook runs.
	func() {
		defer func() { _ = recover() }()
		s.AddNoise(a, x0, noise, 100)
	}()
	if len(noised) != 1 {
		t.Errorf("AddNoise(t=100) reached the hook")
	}
	// A hook that returns NaN is caught by Sample, naming the step.
	s.Hooks.StepDDIM = func(out, _, _, _ []float32, _, _ int, _ float64) { out[3] = float32(math.NaN()) }
	err := s.Sample(slices.Clone(start), pred, MethodDDIM, 4, 0, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "t=75") {
		t.Errorf("NaN from the hook: error %v, want one naming step t=75", err)
	}
}
