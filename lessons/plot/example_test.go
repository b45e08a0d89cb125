package plot_test

import (
	"fmt"

	"github.com/policylab/policylab/lessons/plot"
)

// Histograms count values into equal-width bins; the top edge belongs to
// the last bin.
func ExampleMakeBins() {
	b := plot.MakeBins([]float64{0, 0.5, 1, 1.5, 2, 4}, 4)
	for i, c := range b.Counts {
		fmt.Printf("[%.1f, %.1f): %d\n", b.Edges[i], b.Edges[i+1], c)
	}
	// Output:
	// [0.0, 1.0): 2
	// [1.0, 2.0): 2
	// [2.0, 3.0): 1
	// [3.0, 4.0): 1
}
