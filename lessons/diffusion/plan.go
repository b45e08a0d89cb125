package diffusion

import (
	"fmt"
	"math"
)

// Step is one reverse step x_t → x_tPrev of any sampler here, written in
// the one form the three share:
//
//	x̂_0     = (x_t − SqrtOneMinusAlphaBar·ε̂) / SqrtAlphaBar   (clipped to ±ClipRange when Clip)
//	x_tPrev = X0·x̂_0 + Xt·x_t + Sigma·z
//
// so that a compiled graph can take a whole sampling run with these
// numbers as constants (package dp's fused sampler) instead of returning
// to the host after each step. StepDDPM, StepDDIM and StepChapter stay the
// reference; Plan's steps are tested against them.
//
// How each sampler fits the form, with a = √ᾱ_t, b = √(1−ᾱ_t):
//
//   - DDPM: X0 and Xt are the posterior mean's coefficients of x̂_0 and x_t
//     (see the package doc), Sigma = √β̃_t (0 at t = 0).
//   - DDIM: x_prev = √ᾱ_prev·x̂_0 + c·ε′ + σ·z with c = √(1−ᾱ_prev−σ²), where
//     ε′ = (x_t − a·x̂_0)/b is ε̂ itself when x̂_0 was not clipped and the
//     noise the clipped x̂_0 implies otherwise (StepDDIM); so
//     X0 = √ᾱ_prev − c·a/b and Xt = c/b in both cases.
//   - Chapter: x_{t−1} = (x_t − β_t/b·ε̂)/√α_t + √β_t·z never clips, and
//     ε̂ = (x_t − a·x̂_0)/b, so X0 = β_t·a/(b²·√α_t) and
//     Xt = (1 − β_t/b²)/√α_t.
type Step struct {
	// T is the timestep the step starts from; TPrev the one it ends at
	// (−1: the last step, to x_0).
	T, TPrev int
	// SqrtAlphaBar and SqrtOneMinusAlphaBar are √ᾱ_t and √(1−ᾱ_t).
	SqrtAlphaBar, SqrtOneMinusAlphaBar float64
	// Clip clips x̂_0 to [−ClipRange, ClipRange].
	Clip      bool
	ClipRange float64
	// X0, Xt and Sigma weigh x̂_0, x_t and the step's noise z. Sample
	// draws z exactly for the steps whose Sigma > 0.
	X0, Xt, Sigma float64
}

// timesteps are the timesteps Sample steps from, in order (see Sample).
func (s *Scheduler) timesteps(method Method, steps int, eta float64) ([]int, error) {
	switch method {
	case MethodDDPM, MethodChapter:
		ts := make([]int, s.TrainSteps)
		for i := range ts {
			ts[i] = s.TrainSteps - 1 - i
		}
		return ts, nil
	case MethodDDIM:
		if steps < 1 || steps > s.TrainSteps {
			return nil, fmt.Errorf("diffusion: Sample: %d DDIM steps, want 1 … %d", steps, s.TrainSteps)
		}
		if !(eta >= 0) || math.IsInf(eta, 1) {
			return nil, fmt.Errorf("diffusion: Sample: eta is %v, want a finite number ≥ 0", eta)
		}
		return s.DDIMTimesteps(steps), nil
	}
	return nil, fmt.Errorf("diffusion: Sample: method %q, want %q, %q or %q", method, MethodDDPM, MethodDDIM, MethodChapter)
}

// Plan returns the steps Sample takes for method, steps and eta (the same
// arguments and errors as Sample), in order, as Steps. Hooks do not
// apply: a Plan is always the built-in arithmetic.
func (s *Scheduler) Plan(method Method, steps int, eta float64) ([]Step, error) {
	ts, err := s.timesteps(method, steps, eta)
	if err != nil {
		return nil, err
	}
	plan := make([]Step, len(ts))
	for k, t := range ts {
		tPrev := -1
		if k+1 < len(ts) {
			tPrev = ts[k+1]
		}
		ab := s.AlphasCumprod[t]
		a, b := math.Sqrt(ab), math.Sqrt(1-ab)
		st := Step{T: t, TPrev: tPrev, SqrtAlphaBar: a, SqrtOneMinusAlphaBar: b, Clip: s.ClipSample, ClipRange: s.ClipRange}
		switch method {
		case MethodDDPM:
			abPrev, beta := s.alphaBarPrev(t), s.Betas[t]
			st.X0 = math.Sqrt(abPrev) * beta / (1 - ab)
			st.Xt = math.Sqrt(s.Alphas[t]) * (1 - abPrev) / (1 - ab)
			if t > 0 {
				st.Sigma = math.Sqrt(math.Max(0, (1-abPrev)/(1-ab)*beta))
			}
		case MethodDDIM:
			abPrev := 1.0
			if tPrev >= 0 {
				abPrev = s.AlphasCumprod[tPrev]
			}
			st.Sigma = s.DDIMSigma(t, tPrev, eta)
			c := math.Sqrt(math.Max(0, 1-abPrev-st.Sigma*st.Sigma))
			st.X0 = math.Sqrt(abPrev) - c*a/b
			st.Xt = c / b
		case MethodChapter:
			beta := s.Betas[t]
			inv := 1 / math.Sqrt(1-beta)
			st.Clip = false
			st.X0 = beta * a / (1 - ab) * inv
			st.Xt = (1 - beta/(1-ab)) * inv
			if t > 0 {
				st.Sigma = math.Sqrt(beta)
			}
		}
		plan[k] = st
	}
	return plan, nil
}

// Apply writes the step to out (float64 arithmetic, as the Step
// functions): the host's version of what a fused graph computes. z may be
// nil when Sigma is 0; out may alias any input.
func (st Step) Apply(out, eps, xt, z []float32) {
	checkLen("Step.Apply", out, eps, xt)
	if st.Sigma > 0 {
		checkLen("Step.Apply", out, z)
	}
	for i := range out {
		x := float64(xt[i])
		x0 := (x - st.SqrtOneMinusAlphaBar*float64(eps[i])) / st.SqrtAlphaBar
		if st.Clip {
			x0 = math.Max(-st.ClipRange, math.Min(st.ClipRange, x0))
		}
		v := st.X0*x0 + st.Xt*x
		if st.Sigma > 0 {
			v += st.Sigma * float64(z[i])
		}
		out[i] = float32(v)
	}
}
