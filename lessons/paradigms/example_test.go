package paradigms_test

import (
	"fmt"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/paradigms"
)

// Tokenize pads a short instruction with id 0 and masks the padding out.
func ExampleTokenize() {
	ids, mask := paradigms.Tokenize("Pick up the red block", paradigms.DefaultArchConfig())
	fmt.Println(ids)
	fmt.Println(mask)
	// Output:
	// [62 97 103 60 119 0 0 0]
	// [1 1 1 1 1 0 0 0]
}

// The default architecture, module by module.
func ExamplePolicy_Summary() {
	policy, err := paradigms.BuildPolicy(backend.MustNew(), paradigms.DefaultArchConfig())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(policy.Summary())
	// Output:
	// module    input                  output            params  share
	// vision    image [b,64,64,3]      [b,64]            23,584  16.5%
	// language  tokens [b,8]           [b,32]             5,152   3.6%
	// state     proprio [b,14]         [b,64]             5,120   3.6%
	// fusion    concat [b,160]         [b,256]           41,216  28.9%
	// head      fused [b,256]          action [b,7]      67,591  47.4%
	// total                                             142,663 100.0%
}

// The compute OpenVLA-7B spends per action, by the 2 × params × tokens rule.
func ExampleEstimateOpenVLA() {
	e := paradigms.EstimateOpenVLA("put the spoon in the cup")
	fmt.Printf("%d image + %d prompt tokens, then %d action tokens decoded one at a time\n",
		e.ImageTokens, e.PromptTokens, e.ActionTokens)
	fmt.Printf("%d tokens through %.2g parameters ≈ %.2e FLOPs per action (estimate)\n",
		e.TokensPerAction, e.Params, e.FLOPsPerAction)
	// Output:
	// 256 image + 15 prompt tokens, then 7 action tokens decoded one at a time
	// 277 tokens through 7.5e+09 parameters ≈ 4.16e+12 FLOPs per action (estimate)
}

// A notebook cell: run the comparison, print the chapter's table with the
// measurements, then the curves behind it. (Not run as a test: its timings
// differ from run to run.)
func ExampleCompare() {
	c, err := paradigms.Compare(1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(c.Table())
	fmt.Print(c.Details())
	for _, p := range c.RL.Curve {
		_ = p // plot p.EnvSteps against p.Success, beside c.BC.Curve
	}
}

// Running the multimodal policy on a batch of two.
func ExamplePolicy_Forward() {
	cfg := paradigms.DefaultArchConfig()
	policy, err := paradigms.BuildPolicy(backend.MustNew(), cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	actions, err := policy.Forward(paradigms.SampleInputs(cfg, 2, "open the top drawer", 1))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(actions), "actions of", len(actions[0]), "values")
	// Output: 2 actions of 7 values
}
