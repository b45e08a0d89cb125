package dense_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/dense"
	"github.com/policylab/policylab/lessons/internal/tensortest"
)

// product is x·w in float64 for x [rows, in] and w [in, out], row-major.
func product(x, w []float32, rows, in, out int) []float64 {
	y := make([]float64, rows*out)
	for r := range rows {
		for k := range in {
			for c := range out {
				y[r*out+c] += float64(x[r*in+k]) * float64(w[k*out+c])
			}
		}
	}
	return y
}

// productRows returns the row counts of the matrix products (DotGeneral or
// FusedDense) in g: what the kernels were given.
func productRows(g *Graph) []int {
	var rows []int
	for _, n := range g.Nodes() {
		if t := n.Type(); t == NodeTypeDotGeneral || t == NodeTypeFusedDense {
			rows = append(rows, n.Inputs()[0].Shape().Size()/n.Inputs()[0].Shape().Dimensions[n.Inputs()[0].Rank()-1])
		}
	}
	return rows
}

func near(got float32, want float64) bool {
	return math.Abs(float64(got)-want) <= 1e-4*(1+math.Abs(want))
}

// TestMatMul checks MatMul against a float64 product, with its gradients,
// for row counts that are and are not multiples of the tile, leading axes
// that are flattened, and a product large enough to skip the padding; and
// that the kernel got PaddedRows rows.
func TestMatMul(t *testing.T) {
	be := backend.MustNew()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		lead        []int
		in, out     int
		wantPadding bool // on a backend whose tile is 4
	}{
		{[]int{1}, 256, 256, true},
		{[]int{3}, 7, 20, true},
		{[]int{2, 3}, 5, 16, true},
		{[]int{5}, 64, 32, true},
		{[]int{4}, 8, 16, false},
		{[]int{2, 2}, 8, 16, false},
		{[]int{1}, 2048, 2048, false}, // rows·in·out = 4 Mi: compute's packed kernel
	} {
		rows := 1
		for _, d := range tc.lead {
			rows *= d
		}
		t.Run(fmt.Sprintf("%vx%dx%d", tc.lead, tc.in, tc.out), func(t *testing.T) {
			xv, xt := tensortest.Random(rng, append(append([]int{}, tc.lead...), tc.in)...)
			wv, wt := tensortest.Random(rng, tc.in, tc.out)
			rv, rt := tensortest.Random(rng, append(append([]int{}, tc.lead...), tc.out)...)
			var kernelRows []int
			out := MustExecOnceN(be, func(x, w, r *Node) []*Node {
				y := dense.MatMul(x, w)
				g := Gradient(ReduceAllSum(Mul(y, r)), x, w)
				kernelRows = productRows(x.Graph())
				return []*Node{y, g[0], g[1]}
			}, xt, wt, rt)
			y, dx, dw := out[0].Value(), out[1].Value(), out[2].Value()
			wantDims := append(append([]int{}, tc.lead...), tc.out)
			if fmt.Sprint(out[0].Shape().Dimensions) != fmt.Sprint(wantDims) {
				t.Fatalf("MatMul gave %s, want dimensions %v", out[0].Shape(), wantDims)
			}
			want := product(xv, wv, rows, tc.in, tc.out)
			for i, v := range flat(y) {
				if !near(v, want[i]) {
					t.Fatalf("y[%d] = %g, want %g", i, v, want[i])
				}
			}
			// ∂/∂x = r·wᵀ and ∂/∂w = xᵀ·r.
			for i, v := range flat(dx) {
				r, k := i/tc.in, i%tc.in
				var s float64
				for c := range tc.out {
					s += float64(rv[r*tc.out+c]) * float64(wv[k*tc.out+c])
				}
				if !near(v, s) {
					t.Fatalf("∂/∂x[%d] = %g, want %g", i, v, s)
				}
			}
			for i, v := range flat(dw) {
				k, c := i/tc.out, i%tc.out
				var s float64
				for r := range rows {
					s += float64(xv[r*tc.in+k]) * float64(rv[r*tc.out+c])
				}
				if !near(v, s) {
					t.Fatalf("∂/∂w[%d] = %g, want %g", i, v, s)
				}
			}
			wantRows := dense.PaddedRows(be, rows, tc.in, tc.out)
			if len(kernelRows) == 0 || kernelRows[0] != wantRows {
				t.Errorf("the forward product got rows %v, want %d first (PaddedRows)", kernelRows, wantRows)
			}
			if tile := backend.MatMulRowTile(be); tile == 4 && (wantRows != rows) != tc.wantPadding {
				t.Errorf("PaddedRows(%d rows, %d·%d) = %d with a tile of 4: padding %v, want %v", rows, tc.in, tc.out, wantRows, wantRows != rows, tc.wantPadding)
			}
		})
	}
}

// flat returns the values of a float32 tensor's Value() of any rank.
func flat(v any) []float32 {
	switch v := v.(type) {
	case []float32:
		return v
	case [][]float32:
		var out []float32
		for _, r := range v {
			out = append(out, r...)
		}
		return out
	case [][][]float32:
		var out []float32
		for _, r := range v {
			out = append(out, flat(r)...)
		}
		return out
	}
	panic(fmt.Sprintf("flat: %T", v))
}

// TestLayer checks that Layer makes layers.DenseWithBias's variables and
// computes what DenseWithBias computes with them, at one row (padded where
// the backend's tile says) and at eight.
func TestLayer(t *testing.T) {
	be := backend.MustNew()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, rows := range []int{1, 8} {
		t.Run(fmt.Sprintf("rows=%d", rows), func(t *testing.T) {
			store := model.NewStore()
			_, xt := tensortest.Random(rng, rows, 40)
			run := func(layer func(*model.Scope, *Node, int) *Node) *tensors.Tensor {
				e, err := model.NewExec(be, store, func(scope *model.Scope, x *Node) *Node { return layer(scope.In("fc"), x, 24) })
				if err != nil {
					t.Fatal(err)
				}
				out, err := e.Exec(xt)
				if err != nil {
					t.Fatal(err)
				}
				return out[0]
			}
			a := run(dense.Layer)
			b := run(func(s *model.Scope, x *Node, n int) *Node { return layers.DenseWithBias(s, x, n) })
			var names []string
			for v := range store.IterVariables() {
				if name := v.String(); !strings.HasPrefix(name, "/#") { // not the RNG's state
					names = append(names, name)
				}
			}
			if got := strings.Join(names, " "); got != "/fc/dense/weights /fc/dense/biases" {
				t.Fatalf("Layer and DenseWithBias made the variables %q between them, want the same weights and biases", got)
			}
			av, bv := flat(a.Value()), flat(b.Value())
			for i := range av {
				if !near(av[i], float64(bv[i])) {
					t.Fatalf("Layer[%d] = %g, DenseWithBias %g", i, av[i], bv[i])
				}
			}
		})
	}
}

// TestPaddedRows checks the rounding rule against the backend's tile.
func TestPaddedRows(t *testing.T) {
	be := backend.MustNew()
	tile := backend.MatMulRowTile(be)
	for _, tc := range []struct{ rows, in, out, want int }{
		{1, 256, 256, (1 + tile - 1) / tile * tile},
		{5, 256, 256, (5 + tile - 1) / tile * tile},
		{8, 256, 256, 8},
		{1, 4096, 1024, 1}, // 4 Mi: packed kernel
		{0, 256, 256, 0},
	} {
		if got := dense.PaddedRows(be, tc.rows, tc.in, tc.out); got != tc.want {
			t.Errorf("PaddedRows(%d, %d, %d) = %d with a tile of %d, want %d", tc.rows, tc.in, tc.out, got, tile, tc.want)
		}
	}
	if got := dense.PaddedRows(nil, 1, 256, 256); got != 1 {
		t.Errorf("PaddedRows(nil backend) = %d, want 1", got)
	}
}
