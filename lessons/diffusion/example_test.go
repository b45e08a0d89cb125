package diffusion_test

import (
	"fmt"

	"github.com/policylab/policylab/lessons/diffusion"
)

// Diffusion Policy's scheduler: the cosine schedule over 100 steps and the
// 10 DDIM timesteps used at inference.
func ExampleNew() {
	s, err := diffusion.New(diffusion.DefaultConfig())
	if err != nil {
		panic(err)
	}
	fmt.Println(s.DDIMTimesteps(10))
	fmt.Printf("beta_0 %.6f, beta_99 %.3f, alphabar_99 %.1e\n", s.Betas[0], s.Betas[99], s.AlphasCumprod[99])
	c, _ := diffusion.New(diffusion.ChapterConfig())
	fmt.Printf("chapter: beta_0 %g, beta_99 %g, alphabar_99 %.3f\n", c.Betas[0], c.Betas[99], c.AlphasCumprod[99])
	// Output:
	// [90 80 70 60 50 40 30 20 10 0]
	// beta_0 0.000631, beta_99 0.999, alphabar_99 2.4e-07
	// chapter: beta_0 0.0001, beta_99 0.02, alphabar_99 0.364
}

// The DDIM-10 run of Diffusion Policy's scheduler as Plan writes it, the
// numbers a compiled graph takes the whole run with: the first step starts
// from t = 90, where x̂_0 counts for little, and the last one returns x̂_0.
func ExampleScheduler_Plan() {
	s, err := diffusion.New(diffusion.DefaultConfig())
	if err != nil {
		panic(err)
	}
	plan, err := s.Plan(diffusion.MethodDDIM, 10, 0)
	if err != nil {
		panic(err)
	}
	for _, st := range []diffusion.Step{plan[0], plan[len(plan)-1]} {
		fmt.Printf("t %d -> %d: x_prev = %.3f·x0 + %.3f·x_t + %.1f·z (x0 clipped: %v)\n", st.T, st.TPrev, st.X0, st.Xt, st.Sigma, st.Clip)
	}
	// Output:
	// t 90 -> 80: x_prev = 0.157·x0 + 0.966·x_t + 0.0·z (x0 clipped: true)
	// t 0 -> -1: x_prev = 1.000·x0 + 0.000·x_t + 0.0·z (x0 clipped: true)
}
