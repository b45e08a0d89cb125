// Package conv is channels-last convolution for PolicyLab's models, written so
// that it is fast on GoMLX's pure-Go backend: Conv2D for the ResNet-18 vision
// encoder, Conv1D and ConvTranspose1D for Diffusion Policy's 1-D temporal
// U-Net.
//
// Every function computes exactly what graph.Convolve computes with
// symmetric zero padding (and, for ConvTranspose1D, what PyTorch's
// nn.ConvTranspose1d computes), with two implementations:
//
//   - Native is graph.Convolve (ConvGeneral). XLA compiles it into its fast
//     convolution kernels, but GoMLX's pure-Go backend runs it as nested
//     loops, which dominates a CPU training step of a convolutional network.
//   - Patches is patch extraction ("im2col", Chellapilla, Puri & Simard,
//     "High Performance Convolutional Neural Networks for Document
//     Processing", IWFHR 2006) followed by matrix products: the input is
//     zero-padded, the strided slices that the kernel taps see are
//     concatenated on the channel axis into patches, and those are multiplied
//     by the kernel reshaped to a matrix. For Conv1D that is one product
//     [batch·out_length, k·in] × [k·in, out]; for Conv2D the kw taps of the
//     width are concatenated ([batch, height, out_width, kw·in]) and each of
//     the kh rows of the kernel is one product, summed (measured faster than
//     a single [.., kh·kw·in] product, see patchesConv). The arithmetic then
//     happens in large matrix multiplications, which the Go backend does
//     well, and the gradients flow through Pad, Slice, Concatenate and Dot,
//     which it differentiates with ops it also runs well.
//
// On this project's 2-core CPU (go:parallelism=-1), forward+backward of a
// ResNet 3×3 conv [32, 32, 32, 16] 16→16 took 160 ms Native and 50 ms
// Patches, Diffusion Policy's k-5 Conv1D [64, 16, 256] 886 ms and 116 ms,
// its Upsample1d ConvTranspose1D 990 ms and 50 ms (see bench_test.go).
//
// Native also works around two problems of graph.Convolve's gradient in
// GoMLX v0.28.16, both caught by this package's tests against plain-Go
// loops: the gradient with respect to x is shifted by one position for
// even-sized kernels (native makes them odd with a zero tap), and with input
// dilation it is wrong or missing (ConvTranspose1D inserts the zeros with a
// Pad instead). The gradient still cannot be built when the padding is
// about as large as the kernel (pad >= k), which ResNet and the U-Net never
// use; Patches has no such limit.
//
// On the pure-Go backend the taps of Patches (and of MaxPool2D's Patches)
// are gathered rather than sliced, because that backend slices one element
// at a time (see tap and GatherTaps).
//
// MaxPool2D is max pooling with the same two implementations: Native is
// graph.MaxPool, Patches an elementwise Max of the window's taps.
//
// Impl selects between them; Auto, the default (see Default), picks Patches
// for every convolution when the graph's backend is GoMLX's pure-Go backend
// ("go", see backend.IsGo). On any other backend it picks Patches for the
// 1-D convolutions and Native for the 2-D ones. XLA's GPU backend hands a
// native convolution to cuDNN, which is fast for images but slow for the
// U-Net's short sequences (16, 8 and 4 positions; batch 1 when sampling).
// On an H100 (2026-11-26, xla:cuda), DDIM-10 sampling of one chunk took
// 6.4–6.7 ms with Patches against 10.0–18.2 ms Native (U-Net 32/64/128),
// and 8.3–9.7 ms against 12.7–19.1 ms (the paper's 256/512/1024), while
// U-Net training at batch 64 ran at about the same rate either way (120–128
// against 91–122 steps/s). Not measured on XLA's CPU backend.
//
// Layouts are GoMLX's channels-last ones: inputs [batch, spatial..., in],
// kernels [spatial..., in, out]. PyTorch's weights map to them as
//
//	nn.Conv2d          [out, in, kh, kw] → w.permute(2, 3, 1, 0) = [kh, kw, in, out]
//	nn.Conv1d          [out, in, k]      → w.permute(2, 1, 0)    = [k, in, out]
//	nn.ConvTranspose1d [in, out, k]      → w.permute(2, 0, 1)    = [k, in, out]
//
// and activations from NCHW / NCL by moving the channel axis last.
//
// Like GoMLX's layers, the functions panic (with the offending shapes) on
// inputs that do not fit.
package conv

import (
	"fmt"
	"slices"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/dense"
)

// Impl selects how a convolution is computed.
type Impl int

const (
	// Auto is Patches on GoMLX's pure-Go backend and for 1-D convolutions
	// everywhere, and Native for 2-D ones on any other backend.
	Auto Impl = iota
	// Native is graph.Convolve.
	Native
	// Patches is patch extraction (im2col) and matrix products.
	Patches
)

// String is the implementation's name: "auto", "native" or "patches".
func (impl Impl) String() string {
	switch impl {
	case Auto:
		return "auto"
	case Native:
		return "native"
	case Patches:
		return "patches"
	}
	return fmt.Sprintf("Impl(%d)", int(impl))
}

// Default is the implementation used by Conv2D, Conv1D and ConvTranspose1D.
// Tests and benchmarks may set it to Native or Patches; it is read when the
// graph is built, so executables already compiled keep the implementation
// they were built with.
var Default = Auto

// Resolve turns Auto into the implementation used for a convolution with
// `spatial` spatial axes in graphs of backend b: Patches if backend.IsGo(b)
// or spatial is 1, else Native. Native and Patches are returned
// unchanged.
func Resolve(impl Impl, b compute.Backend, spatial int) Impl {
	switch impl {
	case Auto:
		if backend.IsGo(b) || spatial == 1 {
			return Patches
		}
		return Native
	case Native, Patches:
		return impl
	}
	panic(fmt.Errorf("conv: unknown Impl %d (want Auto, Native or Patches)", int(impl)))
}

// Conv2D is a bias-free 2-D convolution with the same stride on both spatial
// axes and symmetric zero padding pad on all four sides (PyTorch's
// nn.Conv2d(in, out, k, stride, pad, bias=False)), using Default:
//
//	x [batch, height, width, in], w [kh, kw, in, out] →
//	[batch, ⌊(height+2·pad−kh)/stride⌋+1, ⌊(width+2·pad−kw)/stride⌋+1, out]
//
// It is Convolve(x, w).StridePerAxis(stride, stride).PaddingPerDim(
// [][2]int{{pad, pad}, {pad, pad}}).Done().
func Conv2D(x, w *Node, stride, pad int) *Node { return Conv2DWith(Default, x, w, stride, pad) }

// Conv2DWith is Conv2D with the given implementation.
func Conv2DWith(impl Impl, x, w *Node, stride, pad int) *Node {
	return convolve("Conv2D", impl, x, w, 2, stride, pad)
}

// Conv1D is a bias-free 1-D convolution with symmetric zero padding (PyTorch's
// nn.Conv1d(in, out, k, stride, pad, bias=False) on channels-last sequences),
// using Default:
//
//	x [batch, length, in], w [k, in, out] → [batch, ⌊(length+2·pad−k)/stride⌋+1, out]
//
// Diffusion Policy's U-Net uses k 5, pad 2, stride 1 (same length) in its
// residual blocks and k 3, stride 2, pad 1 (Downsample1d: ⌈length/2⌉).
func Conv1D(x, w *Node, stride, pad int) *Node { return Conv1DWith(Default, x, w, stride, pad) }

// Conv1DWith is Conv1D with the given implementation.
func Conv1DWith(impl Impl, x, w *Node, stride, pad int) *Node {
	return convolve("Conv1D", impl, x, w, 1, stride, pad)
}

// convolve checks the shapes of a convolution with `spatial` spatial axes and
// dispatches it to the implementation.
func convolve(name string, impl Impl, x, w *Node, spatial, stride, pad int) *Node {
	if x == nil || w == nil {
		panic(fmt.Errorf("conv.%s: nil input or kernel", name))
	}
	checkConv(name, x, w, spatial, stride, pad)
	strides, pads := make([]int, spatial), make([]int, spatial)
	for i := range strides {
		strides[i], pads[i] = stride, pad
	}
	if Resolve(impl, x.Graph().Backend(), spatial) == Native {
		return native(x, w, strides, pads)
	}
	return patchesConv(x, w, strides, pads)
}

// checkConv panics, naming the shapes, unless x is [batch, spatial..., in],
// w is [kernel spatial..., in, out] and the output has at least one position
// on every spatial axis.
func checkConv(name string, x, w *Node, spatial, stride, pad int) {
	xs, ws := x.Shape(), w.Shape()
	axes := "[batch, length, in]"
	kaxes := "[k, in, out]"
	if spatial == 2 {
		axes, kaxes = "[batch, height, width, in]", "[kh, kw, in, out]"
	}
	if xs.Rank() != spatial+2 {
		panic(fmt.Errorf("conv.%s: x must be shaped %s, got %s", name, axes, xs))
	}
	if ws.Rank() != spatial+2 {
		panic(fmt.Errorf("conv.%s: kernel w must be shaped %s, got %s", name, kaxes, ws))
	}
	if xs.DType != ws.DType {
		panic(fmt.Errorf("conv.%s: x %s and kernel w %s have different dtypes", name, xs, ws))
	}
	if in := xs.Dimensions[spatial+1]; ws.Dimensions[spatial] != in {
		panic(fmt.Errorf("conv.%s: kernel w %s (%s) expects %d input channels, x %s (%s) has %d",
			name, ws, kaxes, ws.Dimensions[spatial], xs, axes, in))
	}
	if stride < 1 || pad < 0 {
		panic(fmt.Errorf("conv.%s: stride must be >= 1 and pad >= 0, got stride %d, pad %d (x %s, kernel %s)",
			name, stride, pad, xs, ws))
	}
	for a := 0; a < spatial; a++ {
		k, d := ws.Dimensions[a], xs.Dimensions[a+1]
		if k < 1 || d+2*pad < k {
			panic(fmt.Errorf("conv.%s: kernel w %s does not fit in x %s padded by %d on spatial axis %d (%d+2·%d < %d)",
				name, ws, xs, pad, a, d, pad, k))
		}
	}
}

// native is graph.Convolve with the given per-axis strides and symmetric
// paddings.
//
// GoMLX v0.28.16 builds a wrong gradient with respect to x for kernels of
// even size (graph.Convolve's VJP centers the reversed kernel as if it were
// odd, which shifts the gradient by one position). So an even kernel axis is
// made odd here with a trailing zero tap, and one more zero of padding at the
// end of that axis keeps every output position and value as they were. The
// gradient with respect to w flows back through that Pad (a slice).
func native(x, w *Node, strides, pads []int) *Node {
	spatial := len(strides)
	paddings := make([][2]int, spatial)
	for i, p := range pads {
		paddings[i] = [2]int{p, p}
	}
	wCfg := make([]compute.PadAxis, w.Rank())
	even := false
	for a := 0; a < spatial; a++ {
		if w.Shape().Dimensions[a]%2 == 0 {
			wCfg[a].End = 1
			paddings[a][1]++
			even = true
		}
	}
	if even {
		w = Pad(w, ScalarZero(w.Graph(), w.DType()), wCfg...)
	}
	return Convolve(x, w).StridePerAxis(strides...).PaddingPerDim(paddings).Done()
}

// patchesConv is the im2col convolution (Chellapilla et al. 2006), where we
// depart from graph.Convolve: x [batch, spatial..., in] padded by pads on both
// sides of each spatial axis, w [kernel spatial..., in, out], strides per
// spatial axis → [batch, out spatial..., out].
//
// A 1-D convolution is exactly that: ExtractPatches, then one matrix product
// [batch·out_length, k·in] × [k·in, out]. For 2-D (and more) the taps of
// every spatial axis but the first are concatenated on the channel axis
// ("row patches" [batch, padded height, out_width, kw·in]), and each of the
// kh taps of the first axis is one matrix product of a strided slice of the
// row patches with its kernel row [kw·in, out], summed. That skips the
// concatenation of the kh row slices and its gradient (kh slices of the
// [batch·out positions, kh·kw·in] patches): on GoMLX's Go backend it made a
// ResNet 3×3 conv and the 7×7 stem ~17% faster (forward+backward) than the
// single product, for the same arithmetic.
func patchesConv(x, w *Node, strides, pads []int) *Node {
	spatial := len(strides)
	kdims := w.Shape().Dimensions
	kernel := kdims[:spatial]
	in, out := kdims[spatial], kdims[spatial+1]
	if pointwise(kernel, pads) {
		// 1×1 kernel without padding (ResNet's downsample): the positions
		// the stride keeps, one axis at a time, and one product.
		for a := 0; a < spatial; a++ {
			x = tap(x, a+1, 0, (x.Shape().Dimensions[a+1]-1)/strides[a]+1, strides[a])
		}
		return matmulLast(x, Reshape(w, in, out))
	}
	if spatial == 1 {
		p := ExtractPatches(x, kernel, strides, pads) // [batch, out_length, k·in]
		pd := p.Shape().Dimensions
		if rows := pd[0] * pd[1]; rows <= out {
			// Few rows (inference at batch 1): contract the patches, seen as
			// [rows, k, in], with w [k, in, out] over (k, in). Reshaping w
			// instead would copy the weights at every call on the Go backend
			// (a Reshape of a parameter is a copy there): 21% of a U-Net's
			// sampling time.
			y := dense.OnRows(Reshape(p, rows, kernel[0], in), out, func(p *Node) *Node {
				return Dot(p, w).General([]int{1, 2}, nil, []int{0, 1}, nil)
			})
			return Reshape(y, pd[0], pd[1], out)
		}
		// The kernel's row-major [k, in] flattening matches the tap order of
		// ExtractPatches.
		return matmulLast(p, Reshape(w, kernel[0]*in, out))
	}
	rows := x // → [batch, padded first axis, out spatial 1..., taps·in]
	for a := spatial - 1; a >= 1; a-- {
		rows = axisPatches(rows, a+1, kernel[a], strides[a], pads[a])
	}
	if pads[0] > 0 {
		rows = padAxis(rows, 1, pads[0])
	}
	k0, s0 := kernel[0], strides[0]
	n0 := (rows.Shape().Dimensions[1]-k0)/s0 + 1
	perTap := rows.Shape().Dimensions[spatial+1] // taps of axes 1.. · in
	wRows := Reshape(w, k0, perTap, out)
	var y *Node
	for t := 0; t < k0; t++ {
		yt := matmulLast(tap(rows, 1, t, n0, s0), Reshape(Slice(wRows, AxisElem(t)), perTap, out))
		if y == nil {
			y = yt
		} else {
			y = Add(y, yt)
		}
	}
	return y
}

// pointwise reports whether every kernel size is 1 and every padding 0.
func pointwise(kernel, pads []int) bool {
	for a := range kernel {
		if kernel[a] != 1 || pads[a] != 0 {
			return false
		}
	}
	return true
}

// matmulLast multiplies the last axis of p [..., K] by m [K, out] → [...,
// out]. It is computed as (mᵀ · p_flatᵀ)ᵀ: GoMLX's Go backend multiplies
// matrices whose contracting axis is last on the left and first or last on
// the right, and transposes any other operand first. Written this way, the
// large operand p never needs a transpose — neither in the forward product
// nor in the two products of its gradient — only the small [out, rows]
// results do (with p·m, ∂/∂m would transpose all of p).
//
// When p has no more rows than m has columns (inference at batch 1, where
// the weights are the large operand), p·m is computed directly: no operand
// is transposed at all. Transposing m on every call took 41% of a U-Net's
// sampling time on the Go backend.
func matmulLast(p, m *Node) *Node {
	dims := p.Shape().Dimensions
	k := dims[len(dims)-1]
	rows := p.Shape().Size() / k
	flat := Reshape(p, rows, k)
	outDims := append(append([]int{}, dims[:len(dims)-1]...), m.Shape().Dimensions[1])
	if rows <= m.Shape().Dimensions[1] {
		return dense.MatMul(p, m)
	}
	yt := Dot(Transpose(m, 0, 1), flat).General([]int{1}, nil, []int{1}, nil) // [out, rows]
	return Reshape(Transpose(yt, 0, 1), outDims...)
}

// ExtractPatches extracts the convolution patches of x [batch, spatial...,
// in] for a kernel of the given spatial size, strides and symmetric zero
// paddings (one per spatial axis): the result is [batch, out spatial...,
// taps·in], where out spatial axis a has ⌊(d_a+2·pad_a−kernel_a)/stride_a⌋+1
// positions and the last axis holds, for each kernel tap in row-major order
// over the kernel's spatial axes, the in channels that the tap multiplies. A
// convolution is then ExtractPatches(x, ...) times w reshaped to [taps·in,
// out].
//
// The taps are gathered one spatial axis at a time, last axis first: for a
// 2-D kernel, kw strided slices of the (padded) width are concatenated on
// the channel axis → [batch, height, out_width, kw·in], then kh strided
// slices of the height of that → [batch, out_height, out_width, kh·kw·in].
// That is kh+kw slices instead of kh·kw, and the second round copies whole
// rows; the backward pass likewise adds kh+kw padded copies instead of kh·kw.
func ExtractPatches(x *Node, kernel, strides, pads []int) *Node {
	spatial := len(kernel)
	xs := x.Shape()
	if xs.Rank() != spatial+2 || len(strides) != spatial || len(pads) != spatial {
		panic(fmt.Errorf("conv.ExtractPatches: x %s must be [batch, spatial..., in] with one kernel size, stride and pad per spatial axis, got kernel %v, strides %v, pads %v",
			xs, kernel, strides, pads))
	}
	for a := 0; a < spatial; a++ {
		if kernel[a] < 1 || strides[a] < 1 || pads[a] < 0 || xs.Dimensions[a+1]+2*pads[a] < kernel[a] {
			panic(fmt.Errorf("conv.ExtractPatches: kernel %v with strides %v does not fit in x %s padded by %v",
				kernel, strides, xs, pads))
		}
	}
	for a := spatial - 1; a >= 0; a-- {
		x = axisPatches(x, a+1, kernel[a], strides[a], pads[a])
	}
	return x
}

// axisPatches pads axis of x [batch, ..., channels] by pad zeros on both
// sides and concatenates, on the channel axis, the k strided slices of that
// axis that the k kernel taps see: [..., d, ..., c] → [..., ⌊(d+2·pad−k)/
// stride⌋+1, ..., k·c], tap-major.
func axisPatches(x *Node, axis, k, stride, pad int) *Node {
	if pad > 0 {
		x = padAxis(x, axis, pad)
	}
	n := (x.Shape().Dimensions[axis]-k)/stride + 1
	if k == 1 && stride == 1 && n == x.Shape().Dimensions[axis] {
		return x
	}
	taps := make([]*Node, k)
	for t := range taps {
		taps[t] = tap(x, axis, t, n, stride)
	}
	return Concatenate(taps, -1)
}

// padAxis pads one axis of x with pad zeros on both sides.
func padAxis(x *Node, axis, pad int) *Node {
	return padAxisWith(x, axis, pad, pad, ScalarZero(x.Graph(), x.DType()))
}

// padAxisWith pads one axis of x with start copies of the scalar fill
// before and end copies after.
func padAxisWith(x *Node, axis, start, end int, fill *Node) *Node {
	// Every axis is configured: Pad's gradient (a strided Slice) reads the
	// configuration of each one.
	cfg := make([]compute.PadAxis, x.Rank())
	cfg[axis] = compute.PadAxis{Start: start, End: end}
	return Pad(x, fill, cfg...)
}

// ConvTranspose1D is PyTorch's nn.ConvTranspose1d(in, out, k, stride, pad,
// outputPadding, bias=False) on channels-last sequences, using Default:
//
//	x [batch, length, in], w [k, in, out] →
//	[batch, (length−1)·stride − 2·pad + k + outputPadding, out]
//	out[b, i·stride − pad + j, o] += x[b, i, c] · w[j, c, o]
//
// It is the gradient of Conv1D with respect to its input, e.g. Diffusion
// Policy's Upsample1d (k 4, stride 2, pad 1) doubles the length. PyTorch's
// weight [in, out, k] is w.permute(2, 0, 1). outputPadding (0 <= outputPadding
// < stride, as PyTorch requires) adds positions at the end, which only the
// last taps reach.
//
// Native inserts stride−1 zeros between the input positions, pads k−1−pad
// zeros on both sides and convolves with the kernel flipped (the usual
// definition of a transposed convolution). Patches does not multiply those
// inserted zeros: it computes every tap's contribution with one matrix
// product [batch·length, in] × [in, k·out] and adds the k shifted,
// stride-spaced copies (the "col2im" half of im2col), which is what Conv1D's
// input gradient does too. For Upsample1d on [64, 8, 256] that took 50 ms
// forward+backward against 90 ms for zero insertion with Conv1D's Patches
// (and 990 ms Native) on the Go backend.
func ConvTranspose1D(x, w *Node, stride, pad, outputPadding int) *Node {
	return ConvTranspose1DWith(Default, x, w, stride, pad, outputPadding)
}

// ConvTranspose1DWith is ConvTranspose1D with the given implementation.
func ConvTranspose1DWith(impl Impl, x, w *Node, stride, pad, outputPadding int) *Node {
	if x == nil || w == nil {
		panic(fmt.Errorf("conv.ConvTranspose1D: nil input or kernel"))
	}
	xs, ws := x.Shape(), w.Shape()
	if xs.Rank() != 3 {
		panic(fmt.Errorf("conv.ConvTranspose1D: x must be shaped [batch, length, in], got %s", xs))
	}
	if ws.Rank() != 3 {
		panic(fmt.Errorf("conv.ConvTranspose1D: kernel w must be shaped [k, in, out] (PyTorch's [in, out, k] permuted (2, 0, 1)), got %s", ws))
	}
	if xs.DType != ws.DType {
		panic(fmt.Errorf("conv.ConvTranspose1D: x %s and kernel w %s have different dtypes", xs, ws))
	}
	if ws.Dimensions[1] != xs.Dimensions[2] {
		panic(fmt.Errorf("conv.ConvTranspose1D: kernel w %s ([k, in, out]) expects %d input channels, x %s ([batch, length, in]) has %d",
			ws, ws.Dimensions[1], xs, xs.Dimensions[2]))
	}
	k, length := ws.Dimensions[0], xs.Dimensions[1]
	if stride < 1 || pad < 0 || outputPadding < 0 || outputPadding >= stride {
		panic(fmt.Errorf("conv.ConvTranspose1D: need stride >= 1, pad >= 0 and 0 <= outputPadding < stride, got stride %d, pad %d, outputPadding %d (x %s, kernel %s)",
			stride, pad, outputPadding, xs, ws))
	}
	if k < 1 || length < 1 || TransposeLength(length, k, stride, pad, outputPadding) < 1 {
		panic(fmt.Errorf("conv.ConvTranspose1D: x %s with kernel %s, stride %d, pad %d, outputPadding %d gives an empty output",
			xs, ws, stride, pad, outputPadding))
	}
	if Resolve(impl, x.Graph().Backend(), 1) == Native {
		return transposeNative(x, w, stride, pad, outputPadding)
	}
	return transposePatches(x, w, stride, pad, outputPadding)
}

// TransposeLength is the output length of ConvTranspose1D:
// (length−1)·stride − 2·pad + k + outputPadding.
func TransposeLength(length, k, stride, pad, outputPadding int) int {
	return (length-1)*stride - 2*pad + k + outputPadding
}

// transposeNative is zero insertion between x's positions, padding k−1−pad
// on both sides (plus outputPadding at the end), and a stride-1 graph.Convolve
// (see native) with the kernel flipped along its taps. Zero insertion and
// padding are one graph.Pad: graph.Convolve's own input dilation would do the
// same in the forward pass, but GoMLX v0.28.16 cannot build its gradient with
// respect to x for some shapes. Padding below zero (pad > k−1) becomes a
// crop.
func transposeNative(x, w *Node, stride, pad, outputPadding int) *Node {
	return native(dilate(x, w.Shape().Dimensions[0], stride, pad, outputPadding), Reverse(w, 0), []int{1}, []int{0})
}

// transposeZeroInsertion is transposeNative with Conv1D's Patches
// implementation: it multiplies every inserted zero, (stride−1)/stride of the
// work. Kept to measure against transposePatches (see BenchmarkConvTranspose1D).
func transposeZeroInsertion(x, w *Node, stride, pad, outputPadding int) *Node {
	return patchesConv(dilate(x, w.Shape().Dimensions[0], stride, pad, outputPadding), Reverse(w, 0), []int{1}, []int{0})
}

// dilate inserts stride−1 zeros between the positions of x [batch, length,
// in] and pads k−1−pad zeros before and k−1−pad+outputPadding after (cropping
// where that is negative), so that a stride-1 convolution with the flipped
// kernel is the transposed convolution.
func dilate(x *Node, k, stride, pad, outputPadding int) *Node {
	lo, hi := k-1-pad, k-1-pad+outputPadding
	y := Pad(x, ScalarZero(x.Graph(), x.DType()),
		compute.PadAxis{}, compute.PadAxis{Start: max(lo, 0), End: max(hi, 0), Interior: stride - 1}, compute.PadAxis{})
	return cropLength(y, max(-lo, 0), max(-hi, 0))
}

// transposePatches computes ConvTranspose1D without multiplying inserted
// zeros: taps[b, i, j, o] = Σ_c x[b, i, c]·w[j, c, o] in one matrix product,
// then tap j of input position i is placed at output position i·stride + j
// (before cropping pad) by a Pad with interior stride−1, and the k placed
// copies are summed.
func transposePatches(x, w *Node, stride, pad, outputPadding int) *Node {
	xd, wd := x.Shape().Dimensions, w.Shape().Dimensions
	batch, length, in := xd[0], xd[1], xd[2]
	k, out := wd[0], wd[2]
	full := (length-1)*stride + k + outputPadding // before cropping pad on both sides
	// [batch·length, in] × [in, k·out]: w [k, in, out] → [in, k, out].
	wt := Reshape(TransposeAllAxes(w, 1, 0, 2), in, k*out)
	taps := Reshape(matmulLast(x, wt), batch, length, k, out)
	zero := ScalarZero(x.Graph(), x.DType())
	var sum *Node
	for j := 0; j < k; j++ {
		tj := Reshape(Slice(taps, AxisRange(), AxisRange(), AxisElem(j), AxisRange()), batch, length, out)
		end := full - (j + (length-1)*stride + 1)
		placed := Pad(tj, zero,
			compute.PadAxis{}, compute.PadAxis{Start: j, End: end, Interior: stride - 1}, compute.PadAxis{})
		if sum == nil {
			sum = placed
		} else {
			sum = Add(sum, placed)
		}
	}
	return cropLength(sum, pad, pad)
}

// cropLength removes start and end positions from axis 1 of [batch, length,
// channels].
func cropLength(y *Node, start, end int) *Node {
	if start == 0 && end == 0 {
		return y
	}
	n := y.Shape().Dimensions[1]
	return Slice(y, AxisRange(), AxisRange(start, n-end), AxisRange())
}

// GatherTaps says whether a kernel tap's slice of the input (see tap) is
// taken with graph.GatherSlices on GoMLX's pure-Go backend. It is read when
// a graph is built; false slices on every backend (for A/B runs and
// tests).
var GatherTaps = true

// tap is the strided slice x[..., start : start+(n−1)·stride+1 : stride,
// ...] along axis: the n positions one kernel tap sees.
//
// On GoMLX's pure-Go backend a tap is a GatherSlices of one slice, where we
// depart from the plain Slice for speed only: compute v0.1.14 runs Slice
// one element at a time with an index odometer (execSliceGeneric), while
// Gather copies each contiguous run with copy(), and its gradient, a
// ScatterSum, adds whole runs too. A strided tap is gathered from x with
// the axis split into [⌈d/stride⌉, stride] (padded at the end to a
// multiple of the stride): positions start/stride, start/stride+1, ... of
// the first and start%stride of the second. Slices of the patch extraction
// took 28% of a CPU vision BC training step (pprof, 2026-12-07), 8% once
// gathered. XLA fuses slices into their consumers, so other backends slice
// (their graphs are unchanged). A tap that is all of x is x itself:
// GatherSlices' gradient cannot be built for a slice the size of its input
// in GoMLX v0.28.16.
func tap(x *Node, axis, start, n, stride int) *Node {
	dims := x.Shape().Dimensions
	if start == 0 && stride == 1 && n == dims[axis] {
		return x
	}
	if !GatherTaps || !backend.IsGo(x.Graph().Backend()) {
		return SliceAxis(x, axis, AxisRange(start, start+(n-1)*stride+1).Stride(stride))
	}
	out := slices.Clone(dims)
	out[axis] = n
	if stride == 1 {
		starts := Const(x.Graph(), [][]int32{{int32(start)}}) // one slice: [1, 1]
		return Reshape(GatherSlices(x, []int{axis}, starts, []int{n}, true), out...)
	}
	// Strided: pad axis to a multiple of the stride, split it into
	// [d/stride, stride] and gather positions start/stride ... of the
	// first and start%stride of the second.
	if extra := (stride - dims[axis]%stride) % stride; extra > 0 {
		x = padAxisWith(x, axis, 0, extra, ScalarZero(x.Graph(), x.DType()))
	}
	split := slices.Concat(dims[:axis], []int{(dims[axis] + stride - 1) / stride, stride}, dims[axis+1:])
	starts := Const(x.Graph(), [][]int32{{int32(start / stride), int32(start % stride)}})
	return Reshape(GatherSlices(Reshape(x, split...), []int{axis, axis + 1}, starts, []int{n, 1}, true), out...)
}
