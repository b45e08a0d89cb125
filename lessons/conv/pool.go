package conv

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
)

// MaxPool2D is PyTorch's nn.MaxPool2d(window, stride, pad) on channels-last
// images (ResNet's stem uses window 3, stride 2, pad 1), using Default:
//
//	x [batch, height, width, channels] →
//	[batch, ⌊(height+2·pad−window)/stride⌋+1, ⌊(width+2·pad−window)/stride⌋+1, channels]
//
// Padding never wins a window: as in PyTorch it is below every value, and
// pad must be at most window/2 (PyTorch's own limit), so every window holds
// at least one pixel of x.
//
// Native is graph.MaxPool: XLA's reduce-window, and on GoMLX's pure-Go
// backend a generic loop (ReduceWindow forward, SelectAndScatter backward)
// that took 24% of a CPU vision BC training step whose convolutions ran as
// Patches (bc.CPUVisionConfig, batch 32, 64×64 images; pprof, 2026-12-07).
// Patches (Auto's choice on the pure-Go backend) is the same max as
// elementwise Max of the strided taps, one axis at a time (see
// maxPoolSlices): 9.6× faster there, forward and backward
// (BenchmarkMaxPool2DStem).
func MaxPool2D(x *Node, window, stride, pad int) *Node {
	return MaxPool2DWith(Default, x, window, stride, pad)
}

// MaxPool2DWith is MaxPool2D with the given implementation.
func MaxPool2DWith(impl Impl, x *Node, window, stride, pad int) *Node {
	if x == nil {
		panic(fmt.Errorf("conv.MaxPool2D: nil input"))
	}
	xs := x.Shape()
	if xs.Rank() != 4 {
		panic(fmt.Errorf("conv.MaxPool2D: x must be shaped [batch, height, width, channels], got %s", xs))
	}
	if !xs.DType.IsFloat() {
		panic(fmt.Errorf("conv.MaxPool2D: x %s must hold floating-point values", xs))
	}
	if window < 1 || stride < 1 || pad < 0 || 2*pad > window {
		panic(fmt.Errorf("conv.MaxPool2D: need window >= 1, stride >= 1 and 0 <= pad <= window/2, got window %d, stride %d, pad %d (x %s)",
			window, stride, pad, xs))
	}
	for a := 1; a <= 2; a++ {
		if xs.Dimensions[a]+2*pad < window {
			panic(fmt.Errorf("conv.MaxPool2D: window %d does not fit in x %s padded by %d on axis %d",
				window, xs, pad, a))
		}
	}
	if Resolve(impl, x.Graph().Backend(), 2) == Native {
		return MaxPool(x).Window(window).Strides(stride).PaddingPerDim([][2]int{{pad, pad}, {pad, pad}}).Done()
	}
	// Width first, then height: the second pass reads an input already
	// narrowed by the stride.
	return maxPoolSlices(maxPoolSlices(x, 2, window, stride, pad), 1, window, stride, pad)
}

// maxPoolSlices is max pooling along one axis of x: x is padded with pad
// copies of the dtype's lowest finite value on both sides of axis, and the
// result is the elementwise Max of the window's taps (strided slices, see
// tap), [..., d, ...] → [..., ⌊(d+2·pad−window)/stride⌋+1, ...].
//
// A 2-D max pool is this along the width and then along the height (a max
// over a rectangle is the max over its rows' maxima). Where we depart from
// PyTorch's reduce-window: the padding is the lowest finite value, not −∞,
// so that the gradient of Max, which compares its operands by subtracting
// them (graph's minMaxVJP), never computes −∞ − (−∞); since every window
// holds a pixel of x (pad <= window/2), the padding never wins anyway.
// Max sends the gradient to its first operand on ties, and the taps are
// combined in order, so ties go to the first tap in row-major window order,
// as XLA's SelectAndScatter (select ">=") does.
func maxPoolSlices(x *Node, axis, window, stride, pad int) *Node {
	if pad > 0 {
		x = padAxisWith(x, axis, pad, pad, Scalar(x.Graph(), x.DType(), lowestFinite(x.DType())))
	}
	n := (x.Shape().Dimensions[axis]-window)/stride + 1
	var y *Node
	for t := 0; t < window; t++ {
		xt := tap(x, axis, t, n, stride)
		if y == nil {
			y = xt
		} else {
			y = Max(y, xt)
		}
	}
	return y
}

// lowestFinite is the most negative finite value of a floating-point dtype.
func lowestFinite(dtype dtypes.DType) float64 {
	switch dtype {
	case dtypes.Float64:
		return -math.MaxFloat64
	case dtypes.Float16:
		return -65504
	case dtypes.BFloat16:
		return -3.3895313892515355e38
	}
	return -math.MaxFloat32
}
