// Package diffusion holds the noise schedulers of the chapter's Diffusion
// Policy (section 4.2.3): the forward (noising) process that training uses
// and the DDPM and DDIM reverse (denoising) steps that sampling uses, in
// plain Go on flat float32 slices. The noise-predictor network ε_θ lives
// elsewhere (it is a GoMLX graph); here it is only a function
// predict(x, t) → ε̂.
//
// # The forward process (Ho et al. 2020, eq. 4)
//
// A schedule of T = TrainSteps variances β_0 … β_{T−1} defines
//
//	α_t = 1 − β_t,   ᾱ_t = α_0·α_1·…·α_t
//	x_t = √ᾱ_t·x_0 + √(1−ᾱ_t)·ε,   ε ~ N(0, I)          (AddNoise)
//
// and training regresses ε_θ(x_t, t) on ε. Two schedules are built:
//
//   - "linear": β_t = linspace(BetaStart, BetaEnd, T), the chapter's
//     torch.linspace(1e-4, 0.02, 100) (ChapterConfig).
//   - "squaredcos_cap_v2" (Nichol & Dhariwal 2021, eq. 17), Diffusion
//     Policy's default (DefaultConfig): with ā(u) = cos²((u+0.008)/1.008·π/2),
//     β_t = min(1 − ā((t+1)/T)/ā(t/T), 0.999), so that ᾱ_t = ā((t+1)/T)/ā(0)
//     for every t whose β is not capped (in practice all but t = T−1).
//
// # DDPM (Ho et al. 2020, eqs. 6, 7, 11)
//
// From ε̂ = ε_θ(x_t, t) the clean sample is estimated and, with ClipSample,
// clipped to ±ClipRange (PredictX0):
//
//	x̂_0 = (x_t − √(1−ᾱ_t)·ε̂) / √ᾱ_t
//
// and one ancestral step draws from the posterior q(x_{t−1} | x_t, x̂_0)
// (StepDDPM), with ᾱ_{−1} = 1:
//
//	μ̃_t = √ᾱ_{t−1}·β_t/(1−ᾱ_t)·x̂_0 + √α_t·(1−ᾱ_{t−1})/(1−ᾱ_t)·x_t
//	β̃_t = (1−ᾱ_{t−1})/(1−ᾱ_t)·β_t                   ("fixed_small")
//	x_{t−1} = μ̃_t + √β̃_t·z,   z ~ N(0, I), no noise at t = 0
//
// Unclipped, μ̃_t is eq. 11's (x_t − β_t/√(1−ᾱ_t)·ε̂)/√α_t. The chapter's
// sampler (StepChapter) uses exactly that mean but σ² = β_t ("fixed_large",
// the other choice Ho et al. discuss) and never clips.
//
// # DDIM (Song et al. 2021, eqs. 12 and 16)
//
// DDIM jumps from t to any earlier tPrev (ᾱ_prev = 1 past the end):
//
//	σ = η·√((1−ᾱ_prev)/(1−ᾱ_t))·√(1 − ᾱ_t/ᾱ_prev)
//	x_prev = √ᾱ_prev·x̂_0 + √(1−ᾱ_prev−σ²)·ε̂ + σ·z
//
// η = 0 is the deterministic DDIM sampler; η = 1 with tPrev = t−1 is DDPM
// again: σ² = β̃_t, and substituting ε̂ = (x_t − √ᾱ_t·x̂_0)/√(1−ᾱ_t) (the
// noise that the clipped x̂_0 implies) gives 1−ᾱ_{t−1}−β̃_t =
// α_t·(1−ᾱ_{t−1})²/(1−ᾱ_t), so the coefficients of x_t and x̂_0 are
// exactly those of μ̃_t. DDIMTimesteps gives diffusers' "leading" spacing
// (T=100, n=10: 90, 80, …, 0).
//
// # Shapes
//
// Everything is elementwise on flat []float32 slices: a Diffusion Policy
// action chunk of 16 steps × 2 actions is 32 floats, a batch of B chunks is
// B·32 floats; the scheduler never needs the shape. Step functions write
// out, which may alias any input; they panic on mismatched lengths or a
// timestep outside [0, T).
//
// # Departures from diffusers
//
//   - Tables (Betas, Alphas, AlphasCumprod) are float64, and each element
//     is updated in float64 and rounded to float32 once; diffusers keeps
//     float32 tensors.
//   - DDPM uses β_t from the table where diffusers recomputes
//     1 − ᾱ_t/ᾱ_{t−1} (equal in exact arithmetic), and takes √β̃_t
//     directly instead of clamping β̃_t at 1e-20 before a log.
//   - Only prediction_type "epsilon", variance "fixed_small" (DDPM) and
//     σ(η) (DDIM), static clipping (no dynamic thresholding), and "leading"
//     timestep spacing with steps_offset 0 and ᾱ = 1 past the last step
//     (set_alpha_to_one) are implemented.
//   - DDIM's ε̂ is recomputed from x̂_0 only for elements that clipping
//     changed (elsewhere it equals the network's ε̂ exactly); for η > 1
//     1−ᾱ_prev−σ² can go negative and is clamped to 0.
//   - The caller supplies the noise z; Sample draws it from its *rand.Rand
//     only for steps whose σ > 0, so DDPM and DDIM with η = 1 over all
//     T steps consume the same draws and give the same samples.
//
// A caution the lessons make: the chapter's linear 1e-4…0.02 schedule was
// designed for T = 1000; over T = 100 it ends at ᾱ_99 ≈ 0.36, so x_99 is
// still far from the N(0, I) noise that sampling starts from. The cosine
// schedule ends at ᾱ_99 ≈ 2.4e-7.
package diffusion
