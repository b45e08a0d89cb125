package conv

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/internal/tensortest"
)

// tolerance of the comparisons: |got − want| <= tol·(1 + |want|).
const tol = 1e-4

func testBackend(t testing.TB) compute.Backend {
	t.Helper()
	b, err := backend.New()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// forwardAndGrads builds y = op(x, w) and the gradients of Σ y·r with
// respect to x and w, runs them and returns y, ∂/∂x, ∂/∂w flattened, and y's
// dimensions. r must be shaped as y. If building the graph panics (GoMLX
// cannot differentiate graph.Convolve when the padding reaches past the
// kernel), it returns the panic as err.
func forwardAndGrads(b compute.Backend, op func(x, w *Node) *Node,
	x, w, r *tensors.Tensor) (y, dx, dw []float32, dims []int, err error) {
	exec := MustNewExec(b, func(x, w, r *Node) []*Node {
		y := op(x, w)
		loss := ReduceAllSum(Mul(y, r))
		grads := Gradient(loss, x, w)
		return []*Node{y, grads[0], grads[1]}
	})
	defer exec.Finalize()
	out, err := exec.Exec(x, w, r)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](out[1]),
		tensors.MustCopyFlatData[float32](out[2]), out[0].Shape().Dimensions, nil
}

// forward runs y = op(x, w) alone.
func forward(b compute.Backend, op func(x, w *Node) *Node, x, w *tensors.Tensor) []float32 {
	return tensors.MustCopyFlatData[float32](MustExecOnce(b, op, x, w))
}

// outputDims builds op once to learn its output dimensions.
func outputDims(b compute.Backend, op func(x, w *Node) *Node, x, w *tensors.Tensor) []int {
	g := NewGraph(b, "shape")
	defer g.Finalize()
	y := op(Parameter(g, "x", x.Shape()), Parameter(g, "w", w.Shape()))
	return y.Shape().Dimensions
}

func assertClose(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	worst, at := 0.0, -1
	for i := range got {
		d := math.Abs(float64(got[i]-want[i])) / (1 + math.Abs(float64(want[i])))
		if d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	if worst > tol || math.IsNaN(worst) {
		t.Errorf("%s: element %d is %g, want %g (scaled error %.3g > %g)", what, at, got[at], want[at], worst, tol)
	}
}

func equalDims(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// refConv2D is a bias-free 2-D convolution in plain Go, from the definition:
// y[b, i, j, o] = Σ x[b, i·sh − ph + u, j·sw − pw + v, c]·w[u, v, c, o] over
// the taps that fall inside x, with x [batch, h, wd, in] and w [kh, kw, in,
// out]; and, for the loss Σ y·r, its gradients. A 1-D convolution is the
// case h = kh = 1, ph = 0.
func refConv2D(x []float32, batch, h, wd, in int, w []float32, kh, kw, out int, r []float32,
	sh, sw, ph, pw int) (y, dx, dw []float32) {
	oh, ow := (h+2*ph-kh)/sh+1, (wd+2*pw-kw)/sw+1
	yy := make([]float64, batch*oh*ow*out)
	gx := make([]float64, len(x))
	gw := make([]float64, len(w))
	for b := 0; b < batch; b++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				for u := 0; u < kh; u++ {
					xi := i*sh - ph + u
					if xi < 0 || xi >= h {
						continue
					}
					for v := 0; v < kw; v++ {
						xj := j*sw - pw + v
						if xj < 0 || xj >= wd {
							continue
						}
						for c := 0; c < in; c++ {
							xIdx := ((b*h+xi)*wd+xj)*in + c
							for o := 0; o < out; o++ {
								wIdx := ((u*kw+v)*in+c)*out + o
								yIdx := ((b*oh+i)*ow+j)*out + o
								yy[yIdx] += float64(x[xIdx]) * float64(w[wIdx])
								gx[xIdx] += float64(r[yIdx]) * float64(w[wIdx])
								gw[wIdx] += float64(r[yIdx]) * float64(x[xIdx])
							}
						}
					}
				}
			}
		}
	}
	return toFloat32(yy), toFloat32(gx), toFloat32(gw)
}

func toFloat32(v []float64) []float32 {
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	return f
}

// comparePatchesNative checks Patches against Native (graph.Convolve),
// forward and both gradients, and both against the plain-Go reference
// (refConv2D with the layout given by ref).
func comparePatchesNative(t *testing.T, b compute.Backend, rng *rand.Rand, conv func(Impl, *Node, *Node) *Node,
	xDims, wDims, wantDims []int,
	ref func(x, w, r []float32) (y, dx, dw []float32)) {
	t.Helper()
	xData, x := tensortest.Random(rng, xDims...)
	wData, w := tensortest.Random(rng, wDims...)
	native := func(x, w *Node) *Node { return conv(Native, x, w) }
	patches := func(x, w *Node) *Node { return conv(Patches, x, w) }
	dims := outputDims(b, native, x, w)
	if !equalDims(dims, wantDims) {
		t.Fatalf("Native output %v, want %v", dims, wantDims)
	}
	rData, r := tensortest.Random(rng, dims...)
	yRef, dxRef, dwRef := ref(xData, wData, rData)

	// Patches with its taps sliced, then (the default on the Go backend)
	// gathered: both are held to the reference; the gathered ones are kept
	// for the comparison with Native below.
	var yP, dxP, dwP []float32
	for _, gather := range []bool{false, true} {
		GatherTaps = gather
		var pDims []int
		var err error
		yP, dxP, dwP, pDims, err = forwardAndGrads(b, patches, x, w, r)
		GatherTaps = true
		what := fmt.Sprintf("Patches (GatherTaps %v)", gather)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !equalDims(pDims, dims) {
			t.Fatalf("%s output %v, Native %v", what, pDims, dims)
		}
		assertClose(t, what+" forward vs reference", yP, yRef)
		assertClose(t, what+" ∂/∂x vs reference", dxP, dxRef)
		assertClose(t, what+" ∂/∂w vs reference", dwP, dwRef)
	}

	yN, dxN, dwN, _, err := forwardAndGrads(b, native, x, w, r)
	if err != nil {
		// graph.Convolve's gradient cannot be built when the padding is
		// >= the kernel size: compare the forward pass only.
		t.Logf("%s: Native gradient unavailable (%v): forward only", t.Name(), firstLine(err))
		yN = forward(b, native, x, w)
	} else {
		assertClose(t, "Patches ∂/∂x vs Native", dxP, dxN)
		assertClose(t, "Patches ∂/∂w vs Native", dwP, dwN)
	}
	assertClose(t, "Patches forward vs Native", yP, yN)
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	if i := strings.Index(s, "failed to set up"); i >= 0 {
		s = s[i:]
	}
	return s
}

func TestConv2DPatchesMatchesNative(t *testing.T) {
	b := testBackend(t)
	rng := rand.New(rand.NewPCG(1, 2))
	type tc struct{ batch, h, w, in, out, k, stride, pad int }
	var cases []tc
	for _, k := range []int{1, 2, 3, 4, 5, 7} {
		for _, stride := range []int{1, 2} {
			for pad := 0; pad <= 3; pad++ {
				i := len(cases)
				cases = append(cases, tc{
					batch: []int{1, 3}[i%2],
					h:     k + 2 + i%3,       // odd and even sizes, always >= k
					w:     k + 1 + (i/2)%3*2, // another size
					in:    1 + i%3,
					out:   1 + (i/3)%4,
					k:     k, stride: stride, pad: pad,
				})
			}
		}
	}
	// ResNet-18's shapes, small: the stem, a block's 3×3 convs, a downsample.
	cases = append(cases,
		tc{batch: 2, h: 17, w: 15, in: 3, out: 4, k: 7, stride: 2, pad: 3},
		tc{batch: 3, h: 8, w: 8, in: 4, out: 4, k: 3, stride: 1, pad: 1},
		tc{batch: 3, h: 9, w: 7, in: 4, out: 8, k: 3, stride: 2, pad: 1},
		tc{batch: 1, h: 9, w: 7, in: 4, out: 8, k: 1, stride: 2, pad: 0},
		tc{batch: 1, h: 3, w: 3, in: 2, out: 2, k: 5, stride: 2, pad: 1}, // kernel larger than the image
	)
	for _, c := range cases {
		name := fmt.Sprintf("x%dx%dx%dx%d_k%d_s%d_p%d_out%d", c.batch, c.h, c.w, c.in, c.k, c.stride, c.pad, c.out)
		t.Run(name, func(t *testing.T) {
			oh := (c.h+2*c.pad-c.k)/c.stride + 1
			ow := (c.w+2*c.pad-c.k)/c.stride + 1
			comparePatchesNative(t, b, rng, func(impl Impl, x, w *Node) *Node {
				return Conv2DWith(impl, x, w, c.stride, c.pad)
			}, []int{c.batch, c.h, c.w, c.in}, []int{c.k, c.k, c.in, c.out}, []int{c.batch, oh, ow, c.out},
				func(x, w, r []float32) ([]float32, []float32, []float32) {
					return refConv2D(x, c.batch, c.h, c.w, c.in, w, c.k, c.k, c.out, r, c.stride, c.stride, c.pad, c.pad)
				})
		})
	}
}

func TestConv1DPatchesMatchesNative(t *testing.T) {
	b := testBackend(t)
	rng := rand.New(rand.NewPCG(3, 4))
	type tc struct{ batch, length, in, out, k, stride, pad int }
	var cases []tc
	for _, k := range []int{1, 2, 3, 4, 5, 7} {
		for _, stride := range []int{1, 2} {
			for pad := 0; pad <= 3; pad++ {
				i := len(cases)
				cases = append(cases, tc{
					batch: []int{1, 3}[i%2], length: k + 1 + i%4,
					in: 1 + i%5, out: 1 + (i/2)%3, k: k, stride: stride, pad: pad,
				})
			}
		}
	}
	// Diffusion Policy's U-Net: Conv1dBlock (k 5, pad 2) and Downsample1d
	// (k 3, stride 2, pad 1) on a 16-step horizon.
	cases = append(cases,
		tc{batch: 3, length: 16, in: 6, out: 8, k: 5, stride: 1, pad: 2},
		tc{batch: 3, length: 16, in: 8, out: 8, k: 3, stride: 2, pad: 1},
		tc{batch: 2, length: 7, in: 8, out: 8, k: 3, stride: 2, pad: 1},
	)
	for _, c := range cases {
		name := fmt.Sprintf("x%dx%dx%d_k%d_s%d_p%d_out%d", c.batch, c.length, c.in, c.k, c.stride, c.pad, c.out)
		t.Run(name, func(t *testing.T) {
			ol := (c.length+2*c.pad-c.k)/c.stride + 1
			comparePatchesNative(t, b, rng, func(impl Impl, x, w *Node) *Node {
				return Conv1DWith(impl, x, w, c.stride, c.pad)
			}, []int{c.batch, c.length, c.in}, []int{c.k, c.in, c.out}, []int{c.batch, ol, c.out},
				func(x, w, r []float32) ([]float32, []float32, []float32) {
					return refConv2D(x, c.batch, 1, c.length, c.in, w, 1, c.k, c.out, r, 1, c.stride, 0, c.pad)
				})
		})
	}
}

// ExtractPatches times the reshaped kernel is the convolution (the single
// product form, which Conv2D's Patches splits by kernel row).
func TestExtractPatches2D(t *testing.T) {
	b := testBackend(t)
	rng := rand.New(rand.NewPCG(11, 12))
	for _, c := range []struct{ batch, h, w, in, out, k, stride, pad int }{
		{2, 17, 15, 3, 4, 7, 2, 3}, {3, 8, 9, 4, 4, 3, 1, 1}, {1, 9, 7, 2, 3, 4, 2, 1}, {2, 6, 5, 3, 2, 1, 2, 0},
	} {
		t.Run(fmt.Sprintf("x%dx%dx%dx%d_k%d_s%d_p%d", c.batch, c.h, c.w, c.in, c.k, c.stride, c.pad), func(t *testing.T) {
			oh, ow := (c.h+2*c.pad-c.k)/c.stride+1, (c.w+2*c.pad-c.k)/c.stride+1
			comparePatchesNative(t, b, rng, func(impl Impl, x, w *Node) *Node {
				if impl == Native {
					return Conv2DWith(Native, x, w, c.stride, c.pad)
				}
				p := ExtractPatches(x, []int{c.k, c.k}, []int{c.stride, c.stride}, []int{c.pad, c.pad})
				if want := []int{c.batch, oh, ow, c.k * c.k * c.in}; !equalDims(p.Shape().Dimensions, want) {
					t.Fatalf("ExtractPatches: %s, want %v", p.Shape(), want)
				}
				return matmulLast(p, Reshape(w, c.k*c.k*c.in, c.out))
			}, []int{c.batch, c.h, c.w, c.in}, []int{c.k, c.k, c.in, c.out}, []int{c.batch, oh, ow, c.out},
				func(x, w, r []float32) ([]float32, []float32, []float32) {
					return refConv2D(x, c.batch, c.h, c.w, c.in, w, c.k, c.k, c.out, r, c.stride, c.stride, c.pad, c.pad)
				})
		})
	}
}

// refConvTranspose1D is PyTorch's definition of ConvTranspose1d, in plain
// Go: out[b, i·stride − pad + j, o] += x[b, i, c]·w[j, c, o], and, for the
// loss Σ out·r, its gradients with respect to x and w.
func refConvTranspose1D(x []float32, batch, length, in int, w []float32, k, out int, r []float32,
	stride, pad, outputPadding int) (y, dx, dw []float32, outLen int) {
	outLen = (length-1)*stride - 2*pad + k + outputPadding
	y = make([]float32, batch*outLen*out)
	dx = make([]float32, len(x))
	dw = make([]float32, len(w))
	yy := make([]float64, len(y))
	for b := 0; b < batch; b++ {
		for i := 0; i < length; i++ {
			for j := 0; j < k; j++ {
				p := i*stride - pad + j
				if p < 0 || p >= outLen {
					continue
				}
				for c := 0; c < in; c++ {
					xv := float64(x[(b*length+i)*in+c])
					var gx float64
					for o := 0; o < out; o++ {
						wv := float64(w[(j*in+c)*out+o])
						rv := float64(r[(b*outLen+p)*out+o])
						yy[(b*outLen+p)*out+o] += xv * wv
						gx += rv * wv
						dw[(j*in+c)*out+o] += float32(xv * rv)
					}
					dx[(b*length+i)*in+c] += float32(gx)
				}
			}
		}
	}
	for i, v := range yy {
		y[i] = float32(v)
	}
	return
}

func TestConvTranspose1D(t *testing.T) {
	b := testBackend(t)
	rng := rand.New(rand.NewPCG(5, 6))
	type tc struct{ batch, length, in, out, k, stride, pad, outputPadding int }
	var cases []tc
	for _, k := range []int{1, 2, 3, 4, 5} {
		for _, stride := range []int{1, 2, 3} {
			for pad := 0; pad <= 2; pad++ {
				for op := 0; op < stride; op++ {
					i := len(cases)
					c := tc{batch: []int{1, 3}[i%2], length: 2 + i%5, in: 1 + i%3, out: 1 + (i/3)%3,
						k: k, stride: stride, pad: pad, outputPadding: op}
					if TransposeLength(c.length, k, stride, pad, op) >= 1 {
						cases = append(cases, c)
					}
				}
			}
		}
	}
	// Diffusion Policy's Upsample1d: ConvTranspose1d(dim, dim, 4, 2, 1).
	cases = append(cases, tc{batch: 3, length: 8, in: 8, out: 8, k: 4, stride: 2, pad: 1})
	for _, c := range cases {
		name := fmt.Sprintf("x%dx%dx%d_k%d_s%d_p%d_op%d_out%d", c.batch, c.length, c.in, c.k, c.stride, c.pad, c.outputPadding, c.out)
		t.Run(name, func(t *testing.T) {
			xData, x := tensortest.Random(rng, c.batch, c.length, c.in)
			wData, w := tensortest.Random(rng, c.k, c.in, c.out)
			outLen := TransposeLength(c.length, c.k, c.stride, c.pad, c.outputPadding)
			rData, r := tensortest.Random(rng, c.batch, outLen, c.out)
			yRef, dxRef, dwRef, _ := refConvTranspose1D(xData, c.batch, c.length, c.in, wData, c.k, c.out, rData,
				c.stride, c.pad, c.outputPadding)
			for _, impl := range []Impl{Native, Patches} {
				op := func(x, w *Node) *Node { return ConvTranspose1DWith(impl, x, w, c.stride, c.pad, c.outputPadding) }
				y, dx, dw, dims, err := forwardAndGrads(b, op, x, w, r)
				if err != nil {
					t.Errorf("%s: %v", impl, err)
					continue
				}
				if want := []int{c.batch, outLen, c.out}; !equalDims(dims, want) {
					t.Fatalf("%s: output %v, want %v", impl, dims, want)
				}
				assertClose(t, impl.String()+" forward", y, yRef)
				assertClose(t, impl.String()+" ∂/∂x", dx, dxRef)
				assertClose(t, impl.String()+" ∂/∂w", dw, dwRef)
			}
		})
	}
}

// ConvTranspose1D with stride s undoes Conv1D's shape: Upsample1d doubles.
func TestConvTranspose1DDoublesLength(t *testing.T) {
	for _, l := range []int{1, 4, 7, 16} {
		if got := TransposeLength(l, 4, 2, 1, 0); got != 2*l {
			t.Errorf("TransposeLength(%d, k 4, stride 2, pad 1) = %d, want %d", l, got, 2*l)
		}
	}
}

func TestResolve(t *testing.T) {
	b := testBackend(t)
	choice, err := backend.Resolve(os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	want2D := Native
	if choice.Name() == gobackend.BackendName { // from the configuration, not from IsGo
		want2D = Patches
	}
	for _, tc := range []struct {
		spatial int
		want    Impl
	}{{1, Patches}, {2, want2D}} {
		if got := Resolve(Auto, b, tc.spatial); got != tc.want {
			t.Errorf("Resolve(Auto, backend %q (Name %q), %d-D) = %s, want %s", choice.Config, b.Name(), tc.spatial, got, tc.want)
		}
		for _, impl := range []Impl{Native, Patches} {
			if got := Resolve(impl, b, tc.spatial); got != impl {
				t.Errorf("Resolve(%s, %d-D) = %s", impl, tc.spatial, got)
			}
		}
	}
	if got := Resolve(Auto, nil, 2); got != Native {
		t.Errorf("Resolve(Auto, nil, 2-D) = %s, want native", got)
	}
	if got := Resolve(Auto, nil, 1); got != Patches {
		t.Errorf("Resolve(Auto, nil, 1-D) = %s, want patches", got)
	}
	if Default != Auto {
		t.Errorf("Default = %s, want auto", Default)
	}
	if s := Impl(7).String(); s != "Impl(7)" {
		t.Errorf("Impl(7).String() = %q", s)
	}
}

// Bad shapes panic with a message naming them.
func TestPanics(t *testing.T) {
	b := testBackend(t)
	tests := []struct {
		name   string
		xDims  []int
		wDims  []int
		build  func(x, w *Node)
		substr string
	}{
		{"rank", []int{2, 8, 3}, []int{3, 3, 3, 4}, func(x, w *Node) { Conv2D(x, w, 1, 1) }, "[2, 8, 3]"},
		{"channels", []int{2, 8, 8, 3}, []int{3, 3, 5, 4}, func(x, w *Node) { Conv2D(x, w, 1, 1) }, "expects 5 input channels"},
		{"too big", []int{2, 4, 4, 3}, []int{7, 7, 3, 4}, func(x, w *Node) { Conv2D(x, w, 1, 0) }, "does not fit"},
		{"stride", []int{2, 8, 3}, []int{3, 3, 4}, func(x, w *Node) { Conv1D(x, w, 0, 1) }, "stride must be >= 1"},
		{"1d kernel", []int{2, 8, 3}, []int{3, 3, 3, 4}, func(x, w *Node) { Conv1D(x, w, 1, 1) }, "[k, in, out]"},
		{"outputPadding", []int{2, 8, 3}, []int{4, 3, 3}, func(x, w *Node) { ConvTranspose1D(x, w, 2, 1, 2) }, "outputPadding < stride"},
		{"transpose channels", []int{2, 8, 3}, []int{4, 2, 3}, func(x, w *Node) { ConvTranspose1D(x, w, 2, 1, 0) }, "expects 2 input channels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGraph(b, tt.name)
			defer g.Finalize()
			_, x := tensortest.Random(rand.New(rand.NewPCG(0, 0)), tt.xDims...)
			_, w := tensortest.Random(rand.New(rand.NewPCG(0, 0)), tt.wDims...)
			wantPanic(t, tt.substr, func() { tt.build(Parameter(g, "x", x.Shape()), Parameter(g, "w", w.Shape())) })
		})
	}
}

// wantPanic runs f and fails t unless f panics with a message holding
// substr.
func wantPanic(t *testing.T, substr string, f func()) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Fatalf("no panic")
		}
		if msg := fmt.Sprint(r); !strings.Contains(msg, substr) {
			t.Errorf("panic %q does not mention %q", msg, substr)
		}
	}()
	f()
}

// A 2×2 kernel of ones sums each 2×2 window of a 3×3 image; with pad 1 and
// stride 2 the windows are the corners.
func Example() {
	b, err := backend.New()
	if err != nil {
		panic(err)
	}
	image := tensors.FromFlatDataAndDimensions([]float32{
		1, 2, 3,
		4, 5, 6,
		7, 8, 9,
	}, 1, 3, 3, 1) // [batch, height, width, in]
	ones := tensors.FromFlatDataAndDimensions([]float32{1, 1, 1, 1}, 2, 2, 1, 1) // [kh, kw, in, out]
	for _, impl := range []Impl{Native, Patches} {
		valid := MustExecOnce(b, func(x, w *Node) *Node { return Conv2DWith(impl, x, w, 1, 0) }, image, ones)
		corners := MustExecOnce(b, func(x, w *Node) *Node { return Conv2DWith(impl, x, w, 2, 1) }, image, ones)
		fmt.Printf("%-7s stride 1 pad 0: %v %v\n", impl, valid.Shape(), tensors.MustCopyFlatData[float32](valid))
		fmt.Printf("%-7s stride 2 pad 1: %v %v\n", impl, corners.Shape(), tensors.MustCopyFlatData[float32](corners))
	}
	// Upsample1d-like: each input step lands on two output steps.
	seq := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3}, 1, 3, 1)  // [batch, length, in]
	k := tensors.FromFlatDataAndDimensions([]float32{1, 1, 1, 1}, 4, 1, 1) // [k, in, out]
	up := MustExecOnce(b, func(x, w *Node) *Node { return ConvTranspose1D(x, w, 2, 1, 0) }, seq, k)
	fmt.Printf("ConvTranspose1D k 4 stride 2 pad 1: %v %v\n", up.Shape(), tensors.MustCopyFlatData[float32](up))
	// Output:
	// native  stride 1 pad 0: (Float32)[1, 2, 2, 1] [12 16 24 28]
	// native  stride 2 pad 1: (Float32)[1, 2, 2, 1] [1 5 11 28]
	// patches stride 1 pad 0: (Float32)[1, 2, 2, 1] [12 16 24 28]
	// patches stride 2 pad 1: (Float32)[1, 2, 2, 1] [1 5 11 28]
	// ConvTranspose1D k 4 stride 2 pad 1: (Float32)[1, 6, 1] [1 3 3 5 5 3]
}
