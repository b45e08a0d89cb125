package ex3lora

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/policylab/policylab/lessons/backend"
)

// Graded checks of exercise 3. Each takes the student's function as a
// value and fails t with a message naming the input, the expected and the
// got value.

// Layer is one adapted linear layer's tensors, flat in row-major order:
// X [lead..., In], W [In, Out], Bias [Out], A [R, In], B [Out, R].
type Layer struct {
	Lead        []int // x's leading axes ([batch] or [batch, tokens])
	In, Out, R  int
	X, W, Bias  []float32
	A, B        []float32
	Scale       float64
	description string
}

func (l Layer) String() string {
	if l.description != "" {
		return l.description
	}
	return fmt.Sprintf("x %v, W [%d %d], A [%d %d], B [%d %d], scale %g", l.xDims(), l.In, l.Out, l.R, l.In, l.Out, l.R, l.Scale)
}

func (l Layer) xDims() []int { return append(slices.Clone(l.Lead), l.In) }

// RandomLayer is a layer of random values (uniform in [-1, 1)) from seed;
// zeroB makes B zero, as a fresh adapter's.
func RandomLayer(seed uint64, lead []int, in, out, r int, scale float64, zeroB bool) Layer {
	rows := 1
	for _, d := range lead {
		rows *= d
	}
	l := Layer{Lead: lead, In: in, Out: out, R: r, Scale: scale,
		X: RandomFloats(seed, rows*in), W: RandomFloats(seed+1, in*out), Bias: RandomFloats(seed+2, out),
		A: RandomFloats(seed+3, r*in), B: RandomFloats(seed+4, out*r)}
	if zeroB {
		l.B = make([]float32, out*r)
	}
	return l
}

// Reference is the layer's output computed in float64 by loops:
// y = x·W + bias + scale·(x·Aᵀ)·Bᵀ, flat [lead..., Out].
func (l Layer) Reference() []float64 {
	rows := len(l.X) / l.In
	y := make([]float64, rows*l.Out)
	for n := 0; n < rows; n++ {
		x := l.X[n*l.In : (n+1)*l.In]
		h := make([]float64, l.R) // x·Aᵀ
		for k := range h {
			for i := 0; i < l.In; i++ {
				h[k] += float64(x[i]) * float64(l.A[k*l.In+i])
			}
		}
		for o := 0; o < l.Out; o++ {
			s := float64(l.Bias[o])
			for i := 0; i < l.In; i++ {
				s += float64(x[i]) * float64(l.W[i*l.Out+o])
			}
			u := 0.0
			for k := 0; k < l.R; k++ {
				u += h[k] * float64(l.B[o*l.R+k])
			}
			y[n*l.Out+o] = s + l.Scale*u
		}
	}
	return y
}

// Run runs forward on the layer and returns its output and dimensions. A
// panic of forward fails t.
func (l Layer) Run(t testing.TB, forward ForwardFunc) ([]float32, []int) {
	t.Helper()
	var out *tensors.Tensor
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%v", r)
			}
		}()
		out, err = graph.ExecOnce(Backend(t), func(x, w, bias, a, b *graph.Node) *graph.Node {
			return GuardForward(forward)(x, w, bias, a, b, l.Scale)
		}, tensors.FromFlatDataAndDimensions(l.X, l.xDims()...), tensors.FromFlatDataAndDimensions(l.W, l.In, l.Out),
			tensors.FromFlatDataAndDimensions(l.Bias, l.Out), tensors.FromFlatDataAndDimensions(l.A, l.R, l.In),
			tensors.FromFlatDataAndDimensions(l.B, l.Out, l.R))
		return err
	}()
	if err != nil {
		t.Fatalf("LoRAForward(%v) failed: %s", l, shorten(err))
	}
	return tensors.MustCopyFlatData[float32](out), out.Shape().Dimensions
}

// CheckForward runs forward on l and compares with l.Reference (shape and
// values, to tol relative to max(1, |want|)); what names the property
// checked, for the message.
func CheckForward(t testing.TB, forward ForwardFunc, l Layer, tol float64, what string) {
	t.Helper()
	got, dims := l.Run(t, forward)
	wantDims := append(slices.Clone(l.Lead), l.Out)
	if !slices.Equal(dims, wantDims) {
		t.Fatalf("LoRAForward(%v) has shape %v, want %v ([..., out]: x's leading axes, then out)", l, dims, wantDims)
	}
	want := l.Reference()
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*math.Max(1, math.Abs(want[i])) {
			t.Fatalf("LoRAForward(%v): output %d = %v, want %v (%s)", l, i, got[i], want[i], what)
		}
	}
}

// CheckFreshAdapter: with B = 0 (a fresh adapter), LoRAForward computes
// the base layer x·W + bias exactly, on random values.
func CheckFreshAdapter(t testing.TB, forward ForwardFunc) {
	t.Helper()
	for i, c := range []struct {
		lead       []int
		in, out, r int
	}{{[]int{4}, 6, 5, 2}, {[]int{1}, 3, 3, 1}} {
		l := RandomLayer(uint64(10*i+1), c.lead, c.in, c.out, c.r, 2, true)
		l.description = fmt.Sprintf("random x %v, W [%d %d], bias [%d], A [%d %d], B = 0, scale 2", l.xDims(), c.in, c.out, c.out, c.r, c.in)
		CheckForward(t, forward, l, 1e-5, "with B = 0 the adapter adds nothing: y = x·W + bias")
	}
}

// CheckShapes: LoRAForward keeps x's leading axes, for a batch
// [batch, in] and a sequence [batch, tokens, in], and its values are
// right there too.
func CheckShapes(t testing.TB, forward ForwardFunc) {
	t.Helper()
	for i, lead := range [][]int{{5}, {2, 3}} {
		l := RandomLayer(uint64(20+i), lead, 4, 6, 2, 1, false)
		CheckForward(t, forward, l, 1e-5, "y = x·W + bias + scale·(x·Aᵀ)·Bᵀ")
	}
}

// CheckScale: on small hand-made layers, the update is scaled by scale
// (and only the update: the base is not).
func CheckScale(t testing.TB, forward ForwardFunc) {
	t.Helper()
	// x = [3 4], A = [[1 0]] (rank 1: x·Aᵀ = 3), B = [[1] [2]]: (x·Aᵀ)·Bᵀ = [3 6].
	x, a, b := []float32{3, 4}, []float32{1, 0}, []float32{1, 2}
	zero, eye, bias := []float32{0, 0, 0, 0}, []float32{1, 0, 0, 1}, []float32{1, -1}
	for _, tc := range []struct {
		w, bias []float32
		scale   float64
		want    []float32
		desc    string
	}{
		{zero, []float32{0, 0}, 1, []float32{3, 6}, "W = 0, bias = 0, scale 1: y = (x·Aᵀ)·Bᵀ = [3 6]"},
		{zero, []float32{0, 0}, 2, []float32{6, 12}, "W = 0, bias = 0, scale 2: y = 2·[3 6]"},
		{zero, []float32{0, 0}, 0.5, []float32{1.5, 3}, "W = 0, bias = 0, scale 0.5: y = 0.5·[3 6]"},
		{eye, bias, 2, []float32{3 + 1 + 6, 4 - 1 + 12}, "W = I, bias = [1 -1], scale 2: y = x + bias + 2·[3 6] (the base is not scaled)"},
	} {
		l := Layer{Lead: []int{1}, In: 2, Out: 2, R: 1, X: x, W: tc.w, Bias: tc.bias, A: a, B: b, Scale: tc.scale,
			description: fmt.Sprintf("x = [[3 4]], W = %v, bias = %v, A = [[1 0]], B = [[1] [2]], scale %g", tc.w, tc.bias, tc.scale)}
		got, dims := l.Run(t, forward)
		if !slices.Equal(dims, []int{1, 2}) {
			t.Fatalf("LoRAForward(%v) has shape %v, want [1 2]", l, dims)
		}
		for i := range got {
			if math.Abs(float64(got[i]-tc.want[i])) > 1e-5 {
				t.Fatalf("LoRAForward(%v) = %v, want %v (%s)", l, got, tc.want, tc.desc)
			}
		}
	}
}

// CheckMerge: LoRAMerge on a small hand-made adapter of a non-square
// layer (in 2, out 3, rank 1), worked out by hand in lessons/lora's
// layout.
func CheckMerge(t testing.TB, merge MergeFunc) {
	t.Helper()
	// A = [[1 2]] (r 1, in 2), B = [[1] [0] [-1]] (out 3, r 1):
	// B·A = [[1 2] [0 0] [-1 -2]] (out × in), (B·A)ᵀ = [[1 0 -1] [2 0 -2]] (in × out).
	a, b := []float32{1, 2}, []float32{1, 0, -1}
	for _, tc := range []struct {
		w     []float32
		scale float64
		want  []float32
	}{
		{[]float32{0, 0, 0, 0, 0, 0}, 1, []float32{1, 0, -1, 2, 0, -2}},
		{[]float32{0, 0, 0, 0, 0, 0}, 3, []float32{3, 0, -3, 6, 0, -6}},
		{[]float32{1, 2, 3, 4, 5, 6}, 0.5, []float32{1.5, 2, 2.5, 5, 5, 5}},
	} {
		in := fmt.Sprintf("w = %v (W [2 3]), a = %v (A [1 2]), b = %v (B [3 1]), in 2, out 3, r 1, scale %g", tc.w, a, b, tc.scale)
		got := RunMerge(t, merge, slices.Clone(tc.w), a, b, 2, 3, 1, tc.scale)
		if len(got) != len(tc.want) {
			t.Fatalf("LoRAMerge(%s) returned %d values, want %d (W' [in, out] flat)", in, len(got), len(tc.want))
		}
		for i := range got {
			if math.Abs(float64(got[i]-tc.want[i])) > 1e-6 {
				t.Fatalf("LoRAMerge(%s) = %v, want %v (W + scale·(B·A)ᵀ, flat row-major [in, out])", in, got, tc.want)
			}
		}
	}
}

// RunMerge calls merge, failing t on a panic.
func RunMerge(t testing.TB, merge MergeFunc, w, a, b []float32, in, out, r int, scale float64) []float32 {
	t.Helper()
	var got []float32
	var panicked any
	func() {
		defer func() { panicked = recover() }()
		got = merge(w, a, b, in, out, r, scale)
	}()
	if panicked != nil {
		t.Fatalf("LoRAMerge(in %d, out %d, r %d, scale %g) panicked: %v", in, out, r, scale, panicked)
	}
	return got
}

// RandomFloats are n values uniform in [-1, 1), from seed.
func RandomFloats(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 42))
	v := make([]float32, n)
	for i := range v {
		v[i] = 2*r.Float32() - 1
	}
	return v
}

// Backend is the course's compute backend (lessons/backend).
func Backend(t testing.TB) compute.Backend {
	t.Helper()
	b, err := backend.New()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// shorten cuts an error to the student's panic, or to its first line
// (GoMLX adds stack traces and graph names).
func shorten(err error) string {
	s := err.Error()
	if i := strings.Index(s, "LoRAForward panicked: "); i >= 0 {
		s = s[i:]
	}
	if i := strings.Index(s, "\n"); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
