package lora_test

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/lora"
)

// The chapter's adapter (rank 8) on a 256 × 256 query projection: after
// Freeze, only the adapter trains.
func ExampleFreeze() {
	store := model.NewStore()
	cfg := lora.ChapterConfig()
	e, err := model.NewExec(backend.MustNew(), store, func(scope *model.Scope, x *Node) *Node {
		return lora.Dense(scope.In("q"), x, 256, &cfg)
	})
	if err != nil {
		panic(err)
	}
	if _, err := e.Call(tensors.FromShape(shapes.Make(dtypes.Float32, 1, 256))); err != nil {
		panic(err)
	}
	trainable, total := lora.Freeze(store, nil)
	fmt.Printf("%d of %d parameters train (%.1f%%)\n", trainable, total, 100*float64(trainable)/float64(total))
	// Output:
	// 4096 of 69888 parameters train (5.9%)
}
