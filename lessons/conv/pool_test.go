package conv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/internal/tensortest"
)

// refMaxPool2D is max pooling in plain Go, from the definition: y[b, i, j,
// c] = max of x[b, i·stride − pad + u, j·stride − pad + v, c] over the taps
// (u, v) that fall inside x, for x [batch, h, w, ch]; and the gradient of
// Σ y·r, which goes to the first maximum of each window in row-major tap
// order.
func refMaxPool2D(x []float32, batch, h, w, ch int, window, stride, pad int, r []float32) (y, dx []float32) {
	oh, ow := (h+2*pad-window)/stride+1, (w+2*pad-window)/stride+1
	y = make([]float32, batch*oh*ow*ch)
	gx := make([]float64, len(x))
	for b := 0; b < batch; b++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				for c := 0; c < ch; c++ {
					best, at := float32(0), -1
					for u := 0; u < window; u++ {
						xi := i*stride - pad + u
						for v := 0; v < window; v++ {
							xj := j*stride - pad + v
							if xi < 0 || xi >= h || xj < 0 || xj >= w {
								continue
							}
							idx := ((b*h+xi)*w+xj)*ch + c
							if at < 0 || x[idx] > best {
								best, at = x[idx], idx
							}
						}
					}
					yIdx := ((b*oh+i)*ow+j)*ch + c
					y[yIdx] = best
					gx[at] += float64(r[yIdx])
				}
			}
		}
	}
	return y, toFloat32(gx)
}

// maxPoolAndGrad runs y = MaxPool2DWith(impl, x, ...) and ∂(Σ y·r)/∂x.
func maxPoolAndGrad(t *testing.T, impl Impl, x, r *tensors.Tensor, window, stride, pad int) (y, dx []float32, dims []int) {
	t.Helper()
	b := testBackend(t)
	exec := MustNewExec(b, func(x, r *Node) []*Node {
		y := MaxPool2DWith(impl, x, window, stride, pad)
		return []*Node{y, Gradient(ReduceAllSum(Mul(y, r)), x)[0]}
	})
	defer exec.Finalize()
	out, err := exec.Exec(x, r)
	if err != nil {
		t.Fatalf("%s: %v", impl, err)
	}
	return tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1]), out[0].Shape().Dimensions
}

// Patches and Native against the plain-Go reference, forward and gradient,
// on random images (no ties), for ResNet's stem and pooling shapes around it.
func TestMaxPool2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct{ batch, h, w, ch, window, stride, pad int }{
		{2, 9, 7, 3, 3, 2, 1},   // ResNet's stem, odd sizes
		{2, 16, 16, 4, 3, 2, 1}, // ResNet's stem, even sizes
		{1, 8, 6, 2, 2, 2, 0},   // non-overlapping windows
		{2, 6, 5, 1, 3, 1, 1},   // stride 1
		{1, 7, 7, 2, 4, 3, 2},   // two padding taps in a window
		{1, 5, 4, 3, 1, 1, 0},   // identity
		{1, 3, 3, 2, 3, 1, 0},   // one window
	} {
		t.Run(fmt.Sprintf("%dx%dx%d/w%d-s%d-p%d", tc.h, tc.w, tc.ch, tc.window, tc.stride, tc.pad), func(t *testing.T) {
			oh, ow := (tc.h+2*tc.pad-tc.window)/tc.stride+1, (tc.w+2*tc.pad-tc.window)/tc.stride+1
			xData, x := tensortest.Random(rng, tc.batch, tc.h, tc.w, tc.ch)
			rData, r := tensortest.Random(rng, tc.batch, oh, ow, tc.ch)
			yRef, dxRef := refMaxPool2D(xData, tc.batch, tc.h, tc.w, tc.ch, tc.window, tc.stride, tc.pad, rData)
			for _, impl := range []Impl{Patches, Native} {
				y, dx, dims := maxPoolAndGrad(t, impl, x, r, tc.window, tc.stride, tc.pad)
				if want := []int{tc.batch, oh, ow, tc.ch}; !equalDims(dims, want) {
					t.Fatalf("%s: output %v, want %v", impl, dims, want)
				}
				assertClose(t, impl.String()+" forward vs reference", y, yRef)
				assertClose(t, impl.String()+" ∂/∂x vs reference", dx, dxRef)
			}
		})
	}
}

// After a ReLU, whole windows are zero. Patches must still send each
// output's gradient to exactly one pixel, the window's first in row-major
// order, and must never let the padding win, even where every pixel is
// negative.
func TestMaxPool2DTies(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const batch, h, w, ch = 1, 6, 6, 2
	xData := make([]float32, batch*h*w*ch)
	for i := range xData {
		switch {
		case i%5 == 0:
			xData[i] = 0.5 // ties between positive values too
		case i%3 == 0:
			xData[i] = -1e30 // far below zero, still above the padding
		}
	}
	x := tensors.FromFlatDataAndDimensions(append([]float32(nil), xData...), batch, h, w, ch)
	rData, r := tensortest.Random(rng, batch, 3, 3, ch)
	y, dx, _ := maxPoolAndGrad(t, Patches, x, r, 3, 2, 1)
	yRef, dxRef := refMaxPool2D(xData, batch, h, w, ch, 3, 2, 1, rData)
	assertClose(t, "forward vs reference", y, yRef)
	assertClose(t, "∂/∂x vs reference (first maximum)", dx, dxRef)
	var sumR, sumDx float64
	for _, v := range rData {
		sumR += float64(v)
	}
	for _, v := range dx {
		sumDx += float64(v)
	}
	if math.Abs(sumR-sumDx) > 1e-4 {
		t.Errorf("Σ∂/∂x = %g, want Σr = %g: a tie sent the gradient to more or fewer than one pixel", sumDx, sumR)
	}

	allNeg := tensors.FromFlatDataAndDimensions([]float32{-3e38, -2e38, -1e38, -3e38}, 1, 2, 2, 1)
	got := tensors.MustCopyFlatData[float32](MustExecOnce(testBackend(t), func(x *Node) *Node {
		return MaxPool2DWith(Patches, x, 3, 2, 1)
	}, allNeg))
	if len(got) != 1 || got[0] != -1e38 {
		t.Errorf("max pool of %v = %v, want [-1e38]", tensors.MustCopyFlatData[float32](allNeg), got)
	}
}

// Bad arguments panic with a message naming them.
func TestMaxPool2DPanics(t *testing.T) {
	b := testBackend(t)
	for _, tt := range []struct {
		name                string
		dims                []int
		dtype               dtypes.DType
		window, stride, pad int
		substr              string
	}{
		{"rank", []int{2, 8, 3}, dtypes.Float32, 3, 2, 1, "[2, 8, 3]"},
		{"pad", []int{1, 8, 8, 3}, dtypes.Float32, 3, 2, 2, "pad <= window/2"},
		{"stride", []int{1, 8, 8, 3}, dtypes.Float32, 3, 0, 1, "stride 0"},
		{"too big", []int{1, 2, 8, 3}, dtypes.Float32, 5, 1, 1, "does not fit"},
		{"integers", []int{1, 8, 8, 3}, dtypes.Int32, 3, 2, 1, "floating-point"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGraph(b, tt.name)
			defer g.Finalize()
			x := Parameter(g, "x", shapes.Make(tt.dtype, tt.dims...))
			wantPanic(t, tt.substr, func() { MaxPool2D(x, tt.window, tt.stride, tt.pad) })
		})
	}
}

// ResNet's stem pools a 4×4 feature map to 2×2.
func ExampleMaxPool2D() {
	b, err := backend.New()
	if err != nil {
		panic(err)
	}
	x := tensors.FromFlatDataAndDimensions([]float32{
		1, 2, 0, 4,
		5, 0, 7, 1,
		0, 9, 3, 2,
		6, 1, 8, 0,
	}, 1, 4, 4, 1) // [batch, height, width, channels]
	for _, impl := range []Impl{Native, Patches} {
		y := MustExecOnce(b, func(x *Node) *Node { return MaxPool2DWith(impl, x, 3, 2, 1) }, x)
		fmt.Printf("%-7s %v %v\n", impl, y.Shape(), tensors.MustCopyFlatData[float32](y))
	}
	// Output:
	// native  (Float32)[1, 2, 2, 1] [5 7 9 9]
	// patches (Float32)[1, 2, 2, 1] [5 7 9 9]
}
