package dp_test

import (
	"fmt"

	"github.com/policylab/policylab/lessons/dp"
)

// The paper's summary of periodic evaluations: the best one, and the mean
// of the last few.
func ExampleScore() {
	maxScore, meanLast, err := dp.Score([]float64{0.42, 0.81, 0.77, 0.90}, 3)
	if err != nil {
		panic(err)
	}
	fmt.Printf("max %.2f, mean of the last 3 %.2f\n", maxScore, meanLast)
	// Output: max 0.90, mean of the last 3 0.83
}

// The obstacle toy's demonstrations pass left or right; Sides counts them.
func ExampleObstacle_Sides() {
	o := dp.DefaultObstacle()
	ds, err := o.Demos(10, 1)
	if err != nil {
		panic(err)
	}
	var paths [][][]float32
	for _, ep := range ds.Episodes {
		paths = append(paths, ep.States)
	}
	left, right, through := o.Sides(paths)
	fmt.Printf("%d demonstrations: %d left, %d right, %d through the middle\n", len(paths), left, right, through)
	// Output: 10 demonstrations: 5 left, 5 right, 0 through the middle
}
