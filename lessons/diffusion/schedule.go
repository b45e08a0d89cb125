package diffusion

import (
	"fmt"
	"math"
)

// Schedule names (diffusers' beta_schedule values).
const (
	ScheduleLinear = "linear"
	ScheduleCosine = "squaredcos_cap_v2"
)

// cosineOffset is s in Nichol & Dhariwal's ā(u) = cos²((u+s)/(1+s)·π/2);
// cosineMaxBeta caps β_t so the last step is not singular.
const (
	cosineOffset  = 0.008
	cosineMaxBeta = 0.999
)

// Config is a noise schedule.
type Config struct {
	// TrainSteps is T, the number of diffusion steps (timesteps 0 … T−1).
	TrainSteps int
	// Schedule is ScheduleLinear or ScheduleCosine.
	Schedule string
	// BetaStart and BetaEnd are β_0 and β_{T−1} of the linear schedule
	// (0 < BetaStart < BetaEnd < 1); the cosine schedule ignores them.
	BetaStart, BetaEnd float64
	// ClipSample clips the estimate x̂_0 to [−ClipRange, ClipRange]
	// (ClipRange > 0) in PredictX0, StepDDPM and StepDDIM.
	ClipSample bool
	ClipRange  float64
}

// DefaultConfig is Diffusion Policy's scheduler (Chi et al. 2023): 100
// steps, the cosine schedule, x̂_0 clipped to ±1.
func DefaultConfig() Config {
	return Config{TrainSteps: 100, Schedule: ScheduleCosine, BetaStart: 1e-4, BetaEnd: 0.02, ClipSample: true, ClipRange: 1}
}

// ChapterConfig is the chapter's DiffusionPolicy schedule:
// torch.linspace(1e-4, 0.02, 100), and no clipping (its sample loop has
// none).
func ChapterConfig() Config {
	return Config{TrainSteps: 100, Schedule: ScheduleLinear, BetaStart: 1e-4, BetaEnd: 0.02, ClipSample: false, ClipRange: 1}
}

// Validate reports the first bad field. BetaStart and BetaEnd are checked
// only for the linear schedule and ClipRange only when ClipSample is set.
func (c Config) Validate() error {
	if c.TrainSteps < 1 {
		return fmt.Errorf("diffusion: TrainSteps is %d, want at least 1", c.TrainSteps)
	}
	switch c.Schedule {
	case ScheduleLinear:
		if !(c.BetaStart > 0 && c.BetaStart < 1) {
			return fmt.Errorf("diffusion: BetaStart is %v, want it in (0, 1)", c.BetaStart)
		}
		if !(c.BetaEnd > 0 && c.BetaEnd < 1) {
			return fmt.Errorf("diffusion: BetaEnd is %v, want it in (0, 1)", c.BetaEnd)
		}
		if !(c.BetaEnd > c.BetaStart) {
			return fmt.Errorf("diffusion: BetaEnd is %v, want it above BetaStart %v", c.BetaEnd, c.BetaStart)
		}
	case ScheduleCosine:
	default:
		return fmt.Errorf("diffusion: Schedule is %q, want %q or %q", c.Schedule, ScheduleLinear, ScheduleCosine)
	}
	if c.ClipSample && !(c.ClipRange > 0 && !math.IsInf(c.ClipRange, 1)) {
		return fmt.Errorf("diffusion: ClipRange is %v, want a positive finite number (ClipSample is set)", c.ClipRange)
	}
	return nil
}

// Scheduler is a validated Config with its tables, indexed by timestep
// t = 0 … T−1: Betas[t] = β_t, Alphas[t] = α_t = 1 − β_t and
// AlphasCumprod[t] = ᾱ_t = α_0·…·α_t. The tables must not be modified.
type Scheduler struct {
	Config
	Betas, Alphas, AlphasCumprod []float64
	// Hooks, when set, replace AddNoise's and StepDDIM's arithmetic (and so
	// Sample's DDIM steps) with other code's; the zero value keeps the
	// built-in arithmetic.
	Hooks Hooks
}

// Hooks replace parts of a Scheduler's arithmetic with functions of the
// same contract: the hands-on exercise ex2diffusion plugs a student's
// forward process and DDIM step in here, so that real training
// (dp.Policy noises through AddNoise when Hooks.AddNoise is set) and real
// sampling run the student's code. The Scheduler still validates its
// arguments (timesteps, lengths, tPrev < t, eta ≥ 0) before calling a hook,
// and Sample still checks every step's result for NaN and infinities. A
// nil field keeps the built-in arithmetic.
type Hooks struct {
	// AddNoise writes x_t = √ᾱ_t·x0 + √(1−ᾱ_t)·noise to out, as
	// (*Scheduler).AddNoise; out may alias x0 or noise.
	AddNoise func(out, x0, noise []float32, t int)
	// StepDDIM writes the DDIM step from t to tPrev (tPrev < 0: to x_0) to
	// out, as (*Scheduler).StepDDIM, clipping included when the hook is to
	// agree with a Config whose ClipSample is set; out may alias any input.
	StepDDIM func(out, eps, xt, z []float32, t, tPrev int, eta float64)
}

// New validates c and builds its tables.
func New(c Config) (*Scheduler, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	T := c.TrainSteps
	s := &Scheduler{Config: c, Betas: make([]float64, T), Alphas: make([]float64, T), AlphasCumprod: make([]float64, T)}
	switch c.Schedule {
	case ScheduleLinear:
		// linspace: exact at both ends (torch.linspace with one step is
		// [start]).
		for t := range T {
			if T == 1 {
				s.Betas[t] = c.BetaStart
				break
			}
			s.Betas[t] = c.BetaStart + (c.BetaEnd-c.BetaStart)*float64(t)/float64(T-1)
		}
		if T > 1 {
			s.Betas[T-1] = c.BetaEnd
		}
	case ScheduleCosine:
		for t := range T {
			b := 1 - cosineAlphaBar(float64(t+1)/float64(T))/cosineAlphaBar(float64(t)/float64(T))
			s.Betas[t] = math.Min(b, cosineMaxBeta)
		}
	}
	prod := 1.0
	for t, b := range s.Betas {
		s.Alphas[t] = 1 - b
		prod *= 1 - b
		s.AlphasCumprod[t] = prod
	}
	return s, nil
}

// cosineAlphaBar is Nichol & Dhariwal's ā(u) = cos²((u+s)/(1+s)·π/2) for
// u = t/T in [0, 1] (unnormalised: ᾱ_t = ā((t+1)/T)/ā(0)).
func cosineAlphaBar(u float64) float64 {
	c := math.Cos((u + cosineOffset) / (1 + cosineOffset) * math.Pi / 2)
	return c * c
}

// DDIMTimesteps returns n inference timesteps in descending order with
// diffusers' "leading" spacing (steps_offset 0): stride k = ⌊T/n⌋ and
// timesteps (n−1)·k, …, k, 0. For T = 100, n = 10 that is 90, 80, …, 0;
// n = T is every timestep T−1, …, 0. When n does not divide T the stride
// is rounded down, so the first timestep lies further below T−1 (T = 100,
// n = 30: 87, 84, …, 0); with n = 1 the single step is at t = 0. Sample
// steps from each timestep to the next and from 0 to x_0.
// It panics unless 1 ≤ n ≤ T.
func (s *Scheduler) DDIMTimesteps(n int) []int {
	T := s.TrainSteps
	if n < 1 || n > T {
		panic(fmt.Sprintf("diffusion: DDIMTimesteps(%d) with TrainSteps %d, want 1 ≤ n ≤ %d", n, T, T))
	}
	k := T / n
	ts := make([]int, n)
	for i := range n {
		ts[i] = (n - 1 - i) * k
	}
	return ts
}
