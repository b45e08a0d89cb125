package data_test

import (
	"fmt"

	"github.com/policylab/policylab/lessons/data"
)

// A window at the start of an episode repeats the first observation, and
// one near the end repeats the last action: the padding of Diffusion
// Policy's SequenceSampler.
func ExampleSampler_Window() {
	ep := data.Episode{Task: "reach"}
	for t := 0; t < 4; t++ {
		ep.States = append(ep.States, []float32{float32(t)})
		ep.Actions = append(ep.Actions, []float32{float32(10 + t)})
	}
	ds := &data.Dataset{Name: "tiny", FPS: 10, Tasks: []string{"reach"}, Episodes: []data.Episode{ep}}
	s, err := data.NewSampler(ds, nil, 2, 4) // To = 2 observations, Tp = 4 actions
	if err != nil {
		panic(err)
	}
	for i := 0; i < s.Len(); i++ {
		obs, act := s.Window(i)
		fmt.Println("t =", i, "obs", obs, "act", act)
	}
	// Output:
	// t = 0 obs [[0] [0]] act [[10] [11] [12] [13]]
	// t = 1 obs [[0] [1]] act [[11] [12] [13] [13]]
	// t = 2 obs [[1] [2]] act [[12] [13] [13] [13]]
	// t = 3 obs [[2] [3]] act [[13] [13] [13] [13]]
}

// A min-max normalizer maps each dimension's range to [-1, 1]; a constant
// dimension maps to 0 and back to its constant.
func ExampleFitMinMax() {
	rows := [][]float32{{0, 5, 7}, {2, 15, 7}, {4, 10, 7}}
	n, err := data.FitMinMax(rows)
	if err != nil {
		panic(err)
	}
	y := n.Normalized([]float32{3, 5, 7})
	fmt.Println(y, n.Unnormalized(y))
	// Output: [0.5 -1 0] [3 5 7]
}
