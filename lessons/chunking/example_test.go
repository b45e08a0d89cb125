package chunking_test

import (
	"fmt"

	"github.com/policylab/policylab/lessons/chunking"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/sim"
)

// The chapter's executor on chunks of 4 actions labelled 10·(query step)
// + index: it executes 2 of each chunk, then re-plans.
func ExampleChapter() {
	ex, err := chunking.New(chunking.Chapter(4, 2))
	if err != nil {
		panic(err)
	}
	pol := eval.Scheduled(chunking.Labelled{N: 4}, ex)
	pol.Reset(0)
	for k := 0; k < 6; k++ {
		a, _ := pol.Act(sim.Obs{State: []float32{float32(k)}})
		fmt.Print(a[0], " ")
	}
	fmt.Println()
	// Output:
	// 0 1 20 21 40 41
}

// Asynchronous execution with queries answered two periods late: the
// first chunk arrives at step 2 and starts at its element 2; afterwards a
// query starts every 4 steps while the current chunk runs on.
func ExampleWalkthrough() {
	md, err := chunking.Walkthrough([]chunking.Config{
		chunking.Chapter(6, 4).WithDelay(2),
		chunking.Asynchronous(4).WithDelay(2),
	}, 6, 10)
	if err != nil {
		panic(err)
	}
	fmt.Print(md)
	// Output:
	// | executor | late by | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 |
	// |---|---|---|---|---|---|---|---|---|---|---|---|
	// | chapter (execute 4 of 6) | 2 | hold | hold | \| 0 | 1 | 2 | 3 | hold | hold | \| 60 | 61 |
	// | asynchronous (every 4) | 2 | hold | hold | \| 2 | 3 | 4 | 5 | \| 42 | 43 | 44 | 45 |
}
