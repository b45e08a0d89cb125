package actionbins_test

import (
	"fmt"

	"github.com/policylab/policylab/lessons/actionbins"
)

// Four bins over a joint's range: a value maps to its bin, and the bin
// back to its centre.
func ExampleBins() {
	b, err := actionbins.Fit([][]float32{{-1}, {-0.5}, {0}, {0.5}, {1}}, 4, 0, 1)
	if err != nil {
		panic(err)
	}
	k, _ := b.Encode([]float32{0.3})
	a, _ := b.Decode(k)
	fmt.Println(k, a)
	// Output:
	// [2] [0.25]
}
