package diffusion

import (
	"fmt"
	"math"
)

// checkT panics unless 0 ≤ t < T.
func (s *Scheduler) checkT(name string, t int) {
	if t < 0 || t >= s.TrainSteps {
		panic(fmt.Sprintf("diffusion: %s: timestep %d outside [0, %d)", name, t, s.TrainSteps))
	}
}

// checkLen panics unless every slice has the length of out.
func checkLen(name string, out []float32, ins ...[]float32) {
	for _, in := range ins {
		if len(in) != len(out) {
			panic(fmt.Sprintf("diffusion: %s: slices of lengths %d and %d", name, len(out), len(in)))
		}
	}
}

// alphaBarPrev is ᾱ_{t−1}, with ᾱ_{−1} = 1.
func (s *Scheduler) alphaBarPrev(t int) float64 {
	if t <= 0 {
		return 1
	}
	return s.AlphasCumprod[t-1]
}

// clip clips v to ±ClipRange when ClipSample is set.
func (s *Scheduler) clip(v float64) float64 {
	if !s.ClipSample {
		return v
	}
	return math.Max(-s.ClipRange, math.Min(s.ClipRange, v))
}

// AddNoise writes the forward-process sample x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·noise
// (Ho et al. eq. 4) to out, elementwise; out may alias x0 or noise. With
// Hooks.AddNoise set, that computes it instead (after the checks).
func (s *Scheduler) AddNoise(out, x0, noise []float32, t int) {
	s.checkT("AddNoise", t)
	checkLen("AddNoise", out, x0, noise)
	if s.Hooks.AddNoise != nil {
		s.Hooks.AddNoise(out, x0, noise, t)
		return
	}
	ab := s.AlphasCumprod[t]
	a, b := math.Sqrt(ab), math.Sqrt(1-ab)
	for i := range out {
		out[i] = float32(a*float64(x0[i]) + b*float64(noise[i]))
	}
}

// PredictX0 writes x̂_0 = (x_t − √(1−ᾱ_t)·ε̂)/√ᾱ_t to out, clipped to
// ±ClipRange when ClipSample is set; out may alias eps or xt.
func (s *Scheduler) PredictX0(out, eps, xt []float32, t int) {
	s.checkT("PredictX0", t)
	checkLen("PredictX0", out, eps, xt)
	ab := s.AlphasCumprod[t]
	ra, rb := math.Sqrt(ab), math.Sqrt(1-ab)
	for i := range out {
		out[i] = float32(s.clip((float64(xt[i]) - rb*float64(eps[i])) / ra))
	}
}

// StepDDPM writes one ancestral DDPM step x_t → x_{t−1} to out: the
// posterior mean μ̃_t(x_t, x̂_0) of Ho et al. eq. 7 from the (clipped)
// x̂_0 of PredictX0, plus √β̃_t·z with β̃_t = (1−ᾱ_{t−1})/(1−ᾱ_t)·β_t
// ("fixed_small"). z holds standard normals; at t = 0 (β̃_0 = 0, out is
// x̂_0) it is ignored and may be nil. out may alias any input.
func (s *Scheduler) StepDDPM(out, eps, xt, z []float32, t int) {
	s.checkT("StepDDPM", t)
	checkLen("StepDDPM", out, eps, xt)
	ab, abPrev, beta := s.AlphasCumprod[t], s.alphaBarPrev(t), s.Betas[t]
	ra, rb := math.Sqrt(ab), math.Sqrt(1-ab)
	c0 := math.Sqrt(abPrev) * beta / (1 - ab)              // coefficient of x̂_0
	ct := math.Sqrt(s.Alphas[t]) * (1 - abPrev) / (1 - ab) // coefficient of x_t
	sigma := 0.0
	if t > 0 {
		sigma = math.Sqrt(math.Max(0, (1-abPrev)/(1-ab)*beta))
		checkLen("StepDDPM", out, z)
	}
	for i := range out {
		x := float64(xt[i])
		x0 := s.clip((x - rb*float64(eps[i])) / ra)
		v := c0*x0 + ct*x
		if sigma > 0 {
			v += sigma * float64(z[i])
		}
		out[i] = float32(v)
	}
}

// DDIMSigma is σ of the DDIM step from t to tPrev (tPrev < 0: to x_0,
// ᾱ_prev = 1) with parameter η (Song et al. eq. 16):
// σ = η·√((1−ᾱ_prev)/(1−ᾱ_t))·√(1−ᾱ_t/ᾱ_prev).
func (s *Scheduler) DDIMSigma(t, tPrev int, eta float64) float64 {
	s.checkT("DDIMSigma", t)
	ab, abPrev := s.AlphasCumprod[t], 1.0
	if tPrev >= 0 {
		abPrev = s.AlphasCumprod[tPrev]
	}
	return eta * math.Sqrt(math.Max(0, (1-abPrev)/(1-ab)*(1-ab/abPrev)))
}

// StepDDIM writes the generalised DDIM step x_t → x_tPrev (Song et al.
// eq. 12) to out:
//
//	x_prev = √ᾱ_prev·x̂_0 + √(1−ᾱ_prev−σ²)·ε̂ + σ·z,  σ = DDIMSigma(t, tPrev, eta)
//
// where x̂_0 is PredictX0's (clipped) estimate and ε̂ is eps, or, for an
// element whose x̂_0 clipping changed, the noise (x_t − √ᾱ_t·x̂_0)/√(1−ᾱ_t)
// that the clipped x̂_0 implies. tPrev < 0 is the last step (ᾱ_prev = 1,
// out = x̂_0); otherwise 0 ≤ tPrev < t. eta ≥ 0 (0: deterministic); z holds
// standard normals, ignored (may be nil) when σ = 0. out may alias any
// input. With Hooks.StepDDIM set, that computes the step instead (after
// the checks).
func (s *Scheduler) StepDDIM(out, eps, xt, z []float32, t, tPrev int, eta float64) {
	s.checkT("StepDDIM", t)
	if tPrev >= t {
		panic(fmt.Sprintf("diffusion: StepDDIM: tPrev %d is not before t %d", tPrev, t))
	}
	if !(eta >= 0) {
		panic(fmt.Sprintf("diffusion: StepDDIM: eta is %v, want ≥ 0", eta))
	}
	checkLen("StepDDIM", out, eps, xt)
	if s.Hooks.StepDDIM != nil {
		if s.DDIMSigma(t, tPrev, eta) > 0 {
			checkLen("StepDDIM", out, z)
		}
		s.Hooks.StepDDIM(out, eps, xt, z, t, tPrev, eta)
		return
	}
	ab, abPrev := s.AlphasCumprod[t], 1.0
	if tPrev >= 0 {
		abPrev = s.AlphasCumprod[tPrev]
	}
	ra, rb := math.Sqrt(ab), math.Sqrt(1-ab)
	sigma := s.DDIMSigma(t, tPrev, eta)
	if sigma > 0 {
		checkLen("StepDDIM", out, z)
	}
	cx0 := math.Sqrt(abPrev)
	cEps := math.Sqrt(math.Max(0, 1-abPrev-sigma*sigma))
	for i := range out {
		x, e := float64(xt[i]), float64(eps[i])
		raw := (x - rb*e) / ra
		x0 := s.clip(raw)
		if x0 != raw {
			e = (x - ra*x0) / rb
		}
		v := cx0*x0 + cEps*e
		if sigma > 0 {
			v += sigma * float64(z[i])
		}
		out[i] = float32(v)
	}
}

// StepChapter writes the chapter's own reverse step (DiffusionPolicy.sample
// in section 4.2.3) to out:
//
//	x_{t−1} = (x_t − β_t/√(1−ᾱ_t)·ε̂)/√(1−β_t) + √β_t·z   (no noise at t = 0)
//
// This is Ho et al. eq. 11: the DDPM posterior mean written through ε̂,
// equal to StepDDPM's mean without clipping, but with σ² = β_t
// ("fixed_large") instead of β̃_t; Config.ClipSample is ignored. z is
// ignored (may be nil) at t = 0. out may alias any input.
func (s *Scheduler) StepChapter(out, eps, xt, z []float32, t int) {
	s.checkT("StepChapter", t)
	checkLen("StepChapter", out, eps, xt)
	beta, ab := s.Betas[t], s.AlphasCumprod[t]
	ce := beta / math.Sqrt(1-ab)
	inv := 1 / math.Sqrt(1-beta)
	sigma := 0.0
	if t > 0 {
		sigma = math.Sqrt(beta)
		checkLen("StepChapter", out, z)
	}
	for i := range out {
		v := (float64(xt[i]) - ce*float64(eps[i])) * inv
		if sigma > 0 {
			v += sigma * float64(z[i])
		}
		out[i] = float32(v)
	}
}
