package dense_test

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/dense"
)

// One observation (one row) through a weight matrix [2, 3]: on the Go
// backend's SIMD build the row is multiplied in a tile of four, the three
// zero rows dropped again.
func ExampleMatMul() {
	b := backend.MustNew()
	y := MustExecOnce(b, func(x, w *Node) *Node { return dense.MatMul(x, w) },
		[][]float32{{1, 2}}, [][]float32{{1, 0, 1}, {0, 1, 1}})
	fmt.Println(y.Shape(), y.Value())
	// Output: (Float32)[1, 3] [[1 2 3]]
}
