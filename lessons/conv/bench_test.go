package conv

// Forward + backward time of the convolutions of PolicyLab's vision encoder
// (ResNet-18) and of Diffusion Policy's 1-D U-Net, Native against Patches:
//
//	go test -run '^$' -bench . -cpu 2 ./lessons/conv/

import (
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"

	"github.com/policylab/policylab/lessons/internal/tensortest"
)

// benchForwardBackward times one execution of y = op(x, w) with the
// gradients of Σ y·r with respect to x and w (the graph is compiled before
// the timer starts).
func benchForwardBackward(b *testing.B, op func(x, w *Node) *Node, xDims, wDims []int) {
	backend := testBackend(b)
	rng := rand.New(rand.NewPCG(7, 8))
	_, x := tensortest.Random(rng, xDims...)
	_, w := tensortest.Random(rng, wDims...)
	_, r := tensortest.Random(rng, outputDims(backend, op, x, w)...)
	exec := MustNewExec(backend, func(x, w, r *Node) []*Node {
		loss := ReduceAllSum(Mul(op(x, w), r))
		return Gradient(loss, x, w)
	})
	defer exec.Finalize()
	run := func() {
		for _, t := range exec.MustExec(x, w, r) {
			_ = t.FinalizeAll()
		}
	}
	run() // compile
	b.ResetTimer()
	for b.Loop() {
		run()
	}
}

var benchImpls = []Impl{Native, Patches}

// BenchmarkConv2D3x3 is a ResNet BasicBlock conv: [32, 32, 32, 16], 3×3,
// 16 → 16, stride 1, pad 1.
func BenchmarkConv2D3x3(b *testing.B) {
	for _, impl := range benchImpls {
		b.Run(impl.String(), func(b *testing.B) {
			benchForwardBackward(b, func(x, w *Node) *Node { return Conv2DWith(impl, x, w, 1, 1) },
				[]int{32, 32, 32, 16}, []int{3, 3, 16, 16})
		})
	}
}

// BenchmarkConv2DStem is ResNet's conv1 at width 8: [32, 64, 64, 3], 7×7,
// 3 → 8, stride 2, pad 3.
func BenchmarkConv2DStem(b *testing.B) {
	for _, impl := range benchImpls {
		b.Run(impl.String(), func(b *testing.B) {
			benchForwardBackward(b, func(x, w *Node) *Node { return Conv2DWith(impl, x, w, 2, 3) },
				[]int{32, 64, 64, 3}, []int{7, 7, 3, 8})
		})
	}
}

// BenchmarkConv1DUNet is a Conv1dBlock of Diffusion Policy's U-Net:
// [64, 16, 256] (batch, horizon, channels), kernel 5, 256 → 256, pad 2.
func BenchmarkConv1DUNet(b *testing.B) {
	for _, impl := range benchImpls {
		b.Run(impl.String(), func(b *testing.B) {
			benchForwardBackward(b, func(x, w *Node) *Node { return Conv1DWith(impl, x, w, 1, 2) },
				[]int{64, 16, 256}, []int{5, 256, 256})
		})
	}
}

// BenchmarkConvTranspose1D is Upsample1d: [64, 8, 256] → [64, 16, 256],
// kernel 4, stride 2, pad 1; "zeros" is zero insertion + Conv1D Patches.
func BenchmarkConvTranspose1D(b *testing.B) {
	ops := []struct {
		name string
		op   func(x, w *Node) *Node
	}{
		{"native", func(x, w *Node) *Node { return ConvTranspose1DWith(Native, x, w, 2, 1, 0) }},
		{"patches", func(x, w *Node) *Node { return ConvTranspose1DWith(Patches, x, w, 2, 1, 0) }},
		{"zeros", func(x, w *Node) *Node { return transposeZeroInsertion(x, w, 2, 1, 0) }},
	}
	for _, o := range ops {
		b.Run(o.name, func(b *testing.B) {
			benchForwardBackward(b, o.op, []int{64, 8, 256}, []int{4, 256, 256})
		})
	}
}

// BenchmarkMaxPool2DStem is ResNet's stem max pool at width 8 on 64×64
// images, batch 32: [32, 32, 32, 8] → [32, 16, 16, 8], window 3, stride 2,
// pad 1, forward and the gradient of Σ y·r.
func BenchmarkMaxPool2DStem(b *testing.B) {
	for _, impl := range benchImpls {
		b.Run(impl.String(), func(b *testing.B) {
			backend := testBackend(b)
			rng := rand.New(rand.NewPCG(7, 8))
			_, x := tensortest.Random(rng, 32, 32, 32, 8)
			_, r := tensortest.Random(rng, 32, 16, 16, 8)
			exec := MustNewExec(backend, func(x, r *Node) *Node {
				return Gradient(ReduceAllSum(Mul(MaxPool2DWith(impl, x, 3, 2, 1), r)), x)[0]
			})
			defer exec.Finalize()
			exec.MustExec1(x, r).FinalizeAll() // compile
			b.ResetTimer()
			for b.Loop() {
				exec.MustExec1(x, r).FinalizeAll()
			}
		})
	}
}

// The zero-insertion variant is only benchmarked; check it is right too.
func TestTransposeZeroInsertion(t *testing.T) {
	b := testBackend(t)
	rng := rand.New(rand.NewPCG(9, 10))
	for _, c := range [][4]int{{4, 2, 1, 0}, {3, 2, 1, 1}, {5, 3, 2, 2}, {1, 2, 1, 0}} {
		k, stride, pad, op := c[0], c[1], c[2], c[3]
		_, x := tensortest.Random(rng, 2, 5, 3)
		_, w := tensortest.Random(rng, k, 3, 4)
		_, r := tensortest.Random(rng, 2, TransposeLength(5, k, stride, pad, op), 4)
		y1, dx1, dw1, _, err1 := forwardAndGrads(b, func(x, w *Node) *Node { return transposeZeroInsertion(x, w, stride, pad, op) }, x, w, r)
		y2, dx2, dw2, _, err2 := forwardAndGrads(b, func(x, w *Node) *Node { return transposePatches(x, w, stride, pad, op) }, x, w, r)
		if err1 != nil || err2 != nil {
			t.Fatalf("%v: %v, %v", c, err1, err2)
		}
		assertClose(t, "forward", y1, y2)
		assertClose(t, "∂/∂x", dx1, dx2)
		assertClose(t, "∂/∂w", dw1, dw2)
	}
}
