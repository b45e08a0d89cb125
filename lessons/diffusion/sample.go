package diffusion

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Method is a reverse-process sampler.
type Method string

const (
	// MethodDDPM takes all TrainSteps StepDDPM steps T−1, …, 0.
	MethodDDPM Method = "ddpm"
	// MethodDDIM takes StepDDIM steps over DDIMTimesteps(steps) with η.
	MethodDDIM Method = "ddim"
	// MethodChapter takes all TrainSteps StepChapter steps, the chapter's
	// own loop.
	MethodChapter Method = "chapter"
)

// Sample runs the reverse process on x in place: x holds the starting
// noise x_T (any length: a flat batch of action chunks) and ends as the
// sample x_0. predict(x, t) returns ε̂ for x at timestep t, a slice of
// len(x) that Sample only reads before the next call; it must not modify
// or keep x.
//
// MethodDDPM and MethodChapter take all TrainSteps steps and ignore steps
// and eta; MethodDDIM takes steps (1 ≤ steps ≤ TrainSteps) steps over
// DDIMTimesteps(steps) with eta ≥ 0. The noise z of a step is drawn from
// rng (NormFloat64) only when the step adds noise (σ > 0), so rng may be
// nil for DDIM with eta = 0. onStep, if not nil, is called after each step
// with the timestep t that step started from and the updated x (x_tPrev;
// after the last step, x_0); it must not keep x.
//
// Sample returns an error, naming the step, when predict fails, returns a
// slice of the wrong length, or ε̂ or x becomes NaN or infinite; x is then
// left partly updated.
func (s *Scheduler) Sample(x []float32, predict func(x []float32, t int) ([]float32, error),
	method Method, steps int, eta float64, rng *rand.Rand, onStep func(t int, x []float32)) error {
	ts, err := s.timesteps(method, steps, eta)
	if err != nil {
		return err
	}
	if predict == nil {
		return fmt.Errorf("diffusion: Sample: nil predict")
	}
	z := make([]float32, len(x))
	for k, t := range ts {
		tPrev := -1
		if k+1 < len(ts) {
			tPrev = ts[k+1]
		}
		where := fmt.Sprintf("diffusion: Sample %s step %d of %d (t=%d)", method, k+1, len(ts), t)
		eps, err := predict(x, t)
		if err != nil {
			return fmt.Errorf("%s: predict: %w", where, err)
		}
		if len(eps) != len(x) {
			return fmt.Errorf("%s: predict returned %d values for %d", where, len(eps), len(x))
		}
		if i := firstNonFinite(eps); i >= 0 {
			return fmt.Errorf("%s: predict returned %v at index %d", where, eps[i], i)
		}
		noisy := t > 0
		if method == MethodDDIM {
			noisy = s.DDIMSigma(t, tPrev, eta) > 0
		}
		if noisy {
			if rng == nil {
				return fmt.Errorf("%s: the step adds noise and rng is nil", where)
			}
			for i := range z {
				z[i] = float32(rng.NormFloat64())
			}
		}
		switch method {
		case MethodDDPM:
			s.StepDDPM(x, eps, x, z, t)
		case MethodDDIM:
			s.StepDDIM(x, eps, x, z, t, tPrev, eta)
		case MethodChapter:
			s.StepChapter(x, eps, x, z, t)
		}
		if i := firstNonFinite(x); i >= 0 {
			return fmt.Errorf("%s: sample became %v at index %d", where, x[i], i)
		}
		if onStep != nil {
			onStep(t, x)
		}
	}
	return nil
}

// firstNonFinite is the index of the first NaN or ±Inf in v, or −1.
func firstNonFinite(v []float32) int {
	for i, f := range v {
		if f != f || f > math.MaxFloat32 || f < -math.MaxFloat32 {
			return i
		}
	}
	return -1
}
