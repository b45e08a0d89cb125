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
