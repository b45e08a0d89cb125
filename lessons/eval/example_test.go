package eval_test

import (
	"fmt"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/sim"
)

// Evaluate the arm's scripted expert on 20 seeded REACH episodes.
func ExampleRun() {
	f := sim.ArmFactory(arm.DefaultConfig(arm.Reach), false)
	r, err := eval.Run(f.NewEnv, eval.Expert(f), eval.Config{Episodes: 20, Seed: 1})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s: success %.0f%% over %d episodes\n", r.Env, 100*r.SuccessRate, len(r.Episodes))
	// Output:
	// arm-reach: success 100% over 20 episodes
}
