// Package dense holds the fully connected layer of PolicyLab's networks and
// the matrix product under it, x·W with W shaped [in, out], arranged for
// the fastest kernel of the backend the graph is built for.
//
// Why not plain DotGeneral: GoMLX's Go backend (github.com/gomlx/compute
// v0.1.14, internal/gobackend/dot/matmul, avx512 and avx2
// small_nontransposed.go) multiplies small matrices with kernels that take
// the rows of x four at a time and finish the rows left over in a scalar
// loop that reads W column by column. A policy acting on one observation
// has one row, so every layer ran on that loop. Measured on AMD EPYC (2
// cores, SIMD build), x·W for W [256, 256]: 80 µs for one row, 14.5 µs for
// the same row padded with three zero rows; for W [1024, 512] and two rows,
// 2.0 ms against 51 µs; 50 rows, 238 against 125 µs padded to 52. So the
// functions here pad the rows to backend.MatMulRowTile where compute runs
// those kernels and drop the padding's rows again; elsewhere (XLA, the
// portable build, row counts already a multiple of the tile) the graph is
// exactly DotGeneral or nn.Dense, as before.
package dense

import (
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/nn"

	"github.com/policylab/policylab/lessons/backend"
)

// smallMatMulFlops is compute v0.1.14's matmul.SmallMatMulSizeThreshold:
// products with rows·in·out below it run on the small kernels that leave
// rows over; larger ones are packed first, which handles any row count.
const smallMatMulFlops = 4 << 20

// MatMul returns x·w: x [rows..., in], w [in, out] → [rows..., out].
func MatMul(x, w *graph.Node) *graph.Node {
	return rowwise(x, w.Shape().Dimensions[1], func(x *graph.Node) *graph.Node {
		return graph.DotGeneral(x, []int{x.Rank() - 1}, nil, w, []int{0}, nil)
	})
}

// Layer is a fully connected layer, x·W + b: x [rows..., in] → [rows...,
// out]. Its variables are those of GoMLX's layers.DenseWithBias, which it
// replaces: "weights" [in, out] and "biases" [out] in scope.In("dense"),
// created with scope's initializer, so checkpoints of either load in the
// other.
func Layer(scope *model.Scope, x *graph.Node, out int) *graph.Node {
	scope = scope.In("dense")
	in := x.Shape().Dimensions[x.Rank()-1]
	g := x.Graph()
	w := scope.VariableWithShape("weights", shapes.Make(x.DType(), in, out)).NodeValue(g)
	b := scope.VariableWithShape("biases", shapes.Make(x.DType(), out)).NodeValue(g)
	return rowwise(x, out, func(x *graph.Node) *graph.Node { return nn.Dense(x, w, b, compute.DenseLayoutInputOutputs) })
}

// PaddedRows is the number of rows with which backend b best multiplies x
// [rows, in] by W [in, out]: rows rounded up to backend.MatMulRowTile(b)
// when compute's small kernels take the product, rows otherwise.
func PaddedRows(b compute.Backend, rows, in, out int) int {
	tile := backend.MatMulRowTile(b)
	if tile <= 1 || rows%tile == 0 || rows*in*out >= smallMatMulFlops {
		return rows
	}
	return (rows/tile + 1) * tile
}

// OnRows returns f(x) for a map f from x [rows, in...] to [rows, out...]
// that treats each row (index of the first axis) alone and whose cost is
// that of a product with a weight matrix [in, out], where in and out are
// the sizes of the axes after the first. When PaddedRows says so, f gets x
// with zero rows appended and the rows they give are dropped from its
// result.
func OnRows(x *graph.Node, out int, f func(*graph.Node) *graph.Node) *graph.Node {
	rows := x.Shape().Dimensions[0]
	return padRows(x, PaddedRows(x.Graph().Backend(), rows, x.Shape().Size()/max(rows, 1), out), f)
}

// padRows returns f(x) for x [rows, ...] with zero rows appended up to
// padded rows, and drops their rows from f's result.
func padRows(x *graph.Node, padded int, f func(*graph.Node) *graph.Node) *graph.Node {
	dims := x.Shape().Dimensions
	if padded == dims[0] {
		return f(x)
	}
	pad := graph.Zeros(x.Graph(), shapes.Make(x.DType(), append([]int{padded - dims[0]}, dims[1:]...)...))
	return graph.Slice(f(graph.Concatenate([]*graph.Node{x, pad}, 0)), graph.AxisRange(0, dims[0]))
}

// rowwise applies f, a map of rows [R, in] → [R, out] that treats each row
// alone, to x [rows..., in], padded as OnRows pads. When no padding is due,
// f gets x itself, unflattened.
func rowwise(x *graph.Node, out int, f func(*graph.Node) *graph.Node) *graph.Node {
	dims := x.Shape().Dimensions
	in := dims[len(dims)-1]
	rows := 1
	for _, d := range dims[:len(dims)-1] {
		rows *= d
	}
	padded := PaddedRows(x.Graph().Backend(), rows, in, out)
	if padded == rows {
		return f(x)
	}
	y := padRows(graph.Reshape(x, rows, in), padded, f)
	return graph.Reshape(y, append(slices.Clone(dims[:len(dims)-1]), out)...)
}
