package denoiser

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/internal/tensortest"
	"github.com/policylab/policylab/lessons/resnet"
)

var (
	backendOnce sync.Once
	testBackend compute.Backend
	backendErr  error
)

func getBackend(t testing.TB) compute.Backend {
	t.Helper()
	backendOnce.Do(func() { testBackend, backendErr = backend.New() })
	if backendErr != nil {
		t.Fatal(backendErr)
	}
	return testBackend
}

// randTensor is a [dims...] float32 tensor of standard normal values.
func randTensor(rng *rand.Rand, dims ...int) *tensors.Tensor { return tensortest.Normal(rng, dims...) }

// steps is a [batch] float32 tensor of diffusion steps.
func steps(ts ...float32) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(append([]float32(nil), ts...), len(ts))
}

func TestSinusoidalEmbedding(t *testing.T) {
	b := getBackend(t)
	ts := []float32{0, 1, 7, 50, 99}
	for _, dim := range []int{4, 6, 16, 256} {
		e := model.MustNewExec(b, model.NewStore(), func(_ *model.Scope, x *Node) *Node {
			return SinusoidalEmbedding(x, dim)
		})
		got := tensors.MustCopyFlatData[float32](e.MustCall1(steps(ts...)))
		if len(got) != len(ts)*dim {
			t.Fatalf("dim %d: %d values, want %d", dim, len(got), len(ts)*dim)
		}
		half := dim / 2
		for bi, tv := range ts {
			for i := 0; i < half; i++ {
				// The chapter: emb = exp(arange(half) * -(log(10000) / (half-1))).
				f := math.Exp(float64(i) * -(math.Log(10000) / float64(half-1)))
				wantSin, wantCos := math.Sin(float64(tv)*f), math.Cos(float64(tv)*f)
				if gs := got[bi*dim+i]; math.Abs(float64(gs)-wantSin) > 1e-4 {
					t.Errorf("dim %d, t %g, sin[%d] = %g, want %g", dim, tv, i, gs, wantSin)
				}
				if gc := got[bi*dim+half+i]; math.Abs(float64(gc)-wantCos) > 1e-4 {
					t.Errorf("dim %d, t %g, cos[%d] = %g, want %g", dim, tv, i, gc, wantCos)
				}
			}
		}
	}
}

func TestSinusoidalEmbeddingBadDim(t *testing.T) {
	b := getBackend(t)
	for _, dim := range []int{0, 2, 5} {
		e := model.MustNewExec(b, model.NewStore(), func(_ *model.Scope, x *Node) *Node {
			return SinusoidalEmbedding(x, dim)
		})
		msg := callErr(e, steps(1, 2))
		if !strings.Contains(msg, "even dim >= 4") {
			t.Errorf("dim %d: got %q, want an error about the dim", dim, msg)
		}
	}
}

// mishRef is Mish in float64: x·tanh(ln(1+eˣ)).
func mishRef(x float64) float64 {
	sp := math.Log1p(math.Exp(x))
	if x > 30 {
		sp = x // ln(1+eˣ) = x to float64 precision, and eˣ would overflow at 710
	}
	return x * math.Tanh(sp)
}

func TestMish(t *testing.T) {
	b := getBackend(t)
	xs := []float32{0, 1e-6, -1e-6, 0.5, -0.5, 1, -1, 2.5, -2.5, 10, -10, 20, -20, 50, -50, 88, -88, 100, -100, 1e4, -1e4, 3e38, -3e38}
	e := model.MustNewExec(b, model.NewStore(), func(_ *model.Scope, x *Node) (*Node, *Node) {
		y := Mish(x)
		return y, Gradient(ReduceAllSum(y), x)[0]
	})
	outs := e.MustCall(tensors.FromFlatDataAndDimensions(xs, len(xs)))
	got := tensors.MustCopyFlatData[float32](outs[0])
	grad := tensors.MustCopyFlatData[float32](outs[1])
	for i, x := range xs {
		want := mishRef(float64(x))
		g := float64(got[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			t.Errorf("Mish(%g) = %g", x, g)
			continue
		}
		if math.Abs(g-want) > 1e-5*math.Max(1, math.Abs(want)) {
			t.Errorf("Mish(%g) = %g, want %g", x, g, want)
		}
		if d := float64(grad[i]); math.IsNaN(d) || math.IsInf(d, 0) || d < -0.31 || d > 1.1 {
			// Mish' lies in about [−0.31, 1.09].
			t.Errorf("Mish'(%g) = %g", x, d)
		}
	}
	// Spot values of the derivative: Mish'(0) = tanh(ln 2) = 0.6, → 1 for
	// large x, → 0 for very negative x.
	for i, x := range xs {
		var want float64
		switch x {
		case 0:
			want = 0.6
		case 100, 1e4:
			want = 1
		case -100, -1e4:
			want = 0
		default:
			continue
		}
		if math.Abs(float64(grad[i])-want) > 1e-5 {
			t.Errorf("Mish'(%g) = %g, want %g", x, grad[i], want)
		}
	}
}

// smallUNet is a CPU-sized U-Net with the given levels.
func smallUNet(downDims ...int) UNetConfig {
	return UNetConfig{DownDims: downDims, KernelSize: 5, Groups: 8, TimeEmbedDim: 16, CondPredictScale: true}
}

// buildUNet makes an Exec of UNet1D (condDim 0: no condition).
func buildUNet(b compute.Backend, store *model.Store, cfg UNetConfig, condDim int) *model.Exec {
	if condDim == 0 {
		return model.MustNewExec(b, store, func(scope *model.Scope, x, t *Node) *Node {
			return UNet1D(scope.In("unet"), cfg, x, t, nil)
		})
	}
	return model.MustNewExec(b, store, func(scope *model.Scope, x, t, c *Node) *Node {
		return UNet1D(scope.In("unet"), cfg, x, t, c)
	})
}

func buildMLP(b compute.Backend, store *model.Store, cfg MLPConfig) *model.Exec {
	return model.MustNewExec(b, store, func(scope *model.Scope, x, t, c *Node) *Node {
		return MLP(scope.In("mlp"), cfg, x, t, c)
	})
}

func TestShapes(t *testing.T) {
	b := getBackend(t)
	rng := rand.New(rand.NewPCG(1, 2))
	type tc struct {
		name                            string
		unet                            *UNetConfig
		mlp                             *MLPConfig
		batch, horizon, actionDim, cond int
	}
	var cases []tc
	for _, dd := range [][]int{{32, 64}, {16, 32, 64}} {
		for _, h := range []int{8, 16} {
			for _, batch := range []int{1, 3} {
				cfg := smallUNet(dd...)
				cases = append(cases, tc{fmt.Sprintf("unet%v/h%d/b%d", dd, h, batch), &cfg, nil, batch, h, 2, 10})
			}
		}
	}
	cfg12 := smallUNet(16, 32, 64) // 12 = 3·2²: 12 → 6 → 3 and back
	cfg12.CondPredictScale = false
	cases = append(cases, tc{"unet[16 32 64]/h12/bias-only", &cfg12, nil, 2, 12, 7, 5})
	cfg1 := smallUNet(16) // one level: no down- or upsampling
	cases = append(cases, tc{"unet[16]/h5", &cfg1, nil, 2, 5, 3, 4})
	for _, h := range []int{8, 16} {
		for _, batch := range []int{1, 3} {
			cases = append(cases, tc{fmt.Sprintf("mlp/h%d/b%d", h, batch), nil, &MLPConfig{Hidden: 32}, batch, h, 2, 10})
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			store := model.NewStore()
			var e *model.Exec
			if c.unet != nil {
				e = buildUNet(b, store, *c.unet, c.cond)
			} else {
				e = buildMLP(b, store, *c.mlp)
			}
			ts := make([]float32, c.batch)
			for i := range ts {
				ts[i] = float32(10 * i)
			}
			out := e.MustCall1(randTensor(rng, c.batch, c.horizon, c.actionDim), steps(ts...), randTensor(rng, c.batch, c.cond))
			want := []int{c.batch, c.horizon, c.actionDim}
			if got := out.Shape().Dimensions; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("output shape %v, want %v", got, want)
			}
			for i, v := range tensors.MustCopyFlatData[float32](out) {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("output[%d] = %g", i, v)
				}
			}
		})
	}
}

// trainableParams counts the elements of the trainable variables under prefix.
func trainableParams(store *model.Store, prefix string) int {
	n := 0
	for v := range store.IterVariables() {
		if v.Trainable && strings.HasPrefix(v.Path(), prefix) {
			n += v.Shape().Size()
		}
	}
	return n
}

func TestNumParams(t *testing.T) {
	b := getBackend(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		cfg                         UNetConfig
		horizon, actionDim, condDim int
	}{
		{smallUNet(16, 32), 8, 2, 10},
		{smallUNet(16, 32, 64), 16, 2, 0},
		{UNetConfig{DownDims: []int{8, 16, 24}, KernelSize: 3, Groups: 4, TimeEmbedDim: 12}, 4, 3, 6},
		{smallUNet(16), 3, 1, 2},
	} {
		store := model.NewStore()
		e := buildUNet(b, store, c.cfg, c.condDim)
		args := []any{randTensor(rng, 1, c.horizon, c.actionDim), steps(5)}
		if c.condDim > 0 {
			args = append(args, randTensor(rng, 1, c.condDim))
		}
		e.MustCall1(args...)
		if got, want := trainableParams(store, "/unet/"), UNetNumParams(c.cfg, c.actionDim, c.condDim); got != want {
			t.Errorf("%+v action %d cond %d: store holds %d parameters, UNetNumParams says %d", c.cfg, c.actionDim, c.condDim, got, want)
		}
	}
	if !testing.Short() {
		// Diffusion Policy's U-Net itself (65.8 M parameters, a few seconds).
		cfg := DefaultUNetConfig()
		store := model.NewStore()
		buildUNet(b, store, cfg, 40).MustCall1(randTensor(rng, 1, 16, 2), steps(5), randTensor(rng, 1, 40))
		if got, want := trainableParams(store, "/unet/"), UNetNumParams(cfg, 2, 40); got != want {
			t.Errorf("DefaultUNetConfig: store holds %d parameters, UNetNumParams says %d", got, want)
		}
	}
	for _, hidden := range []int{8, 32} {
		store := model.NewStore()
		e := buildMLP(b, store, MLPConfig{Hidden: hidden})
		e.MustCall1(randTensor(rng, 2, 16, 2), steps(1, 2), randTensor(rng, 2, 7))
		if got, want := trainableParams(store, "/mlp/"), MLPNumParams(MLPConfig{Hidden: hidden}, 16, 2, 7); got != want {
			t.Errorf("MLP hidden %d: store holds %d parameters, MLPNumParams says %d", hidden, got, want)
		}
	}
}

func TestDefaultNumParams(t *testing.T) {
	// Diffusion Policy's CNN on Push-T keypoints: action 2, 2 observation
	// steps × 20 keypoint values.
	if got := UNetNumParams(DefaultUNetConfig(), 2, 40); got != 65_783_298 {
		t.Errorf("UNetNumParams(DefaultUNetConfig(), 2, 40) = %d, want 65,783,298", got)
	}
	// The chapter's NoisePredictor: hidden 256, horizon 16, action 2, cond 256.
	if got := MLPNumParams(DefaultMLPConfig(), 16, 2, 256); got != 410_912 {
		t.Errorf("MLPNumParams(chapter) = %d, want 410,912", got)
	}
}

// TestVariableNames checks that the variables follow the PyTorch modules'
// names (so that weights can be mapped one to one).
func TestVariableNames(t *testing.T) {
	b := getBackend(t)
	rng := rand.New(rand.NewPCG(5, 6))
	store := model.NewStore()
	buildUNet(b, store, smallUNet(16, 32), 4).MustCall1(randTensor(rng, 1, 8, 2), steps(3), randTensor(rng, 1, 4))
	buildMLP(b, store, MLPConfig{Hidden: 8}).MustCall1(randTensor(rng, 1, 4, 2), steps(3), randTensor(rng, 1, 4))
	have := map[string]bool{}
	for v := range store.IterVariables() {
		have[v.Path()] = true
	}
	for _, p := range []string{
		"/unet/diffusion_step_encoder/1/weights", "/unet/diffusion_step_encoder/3/biases",
		"/unet/down_modules/0/0/blocks/0/block/0/weights", "/unet/down_modules/0/0/blocks/1/block/1/scale",
		"/unet/down_modules/0/0/cond_encoder/1/weights", "/unet/down_modules/0/0/residual_conv/weights",
		"/unet/down_modules/0/2/conv/weights", "/unet/down_modules/1/1/blocks/0/block/0/biases",
		"/unet/mid_modules/1/blocks/1/block/1/offset",
		"/unet/up_modules/0/0/residual_conv/weights", "/unet/up_modules/0/2/conv/weights",
		"/unet/final_conv/0/block/0/weights", "/unet/final_conv/1/weights",
		"/mlp/time_embed/1/weights", "/mlp/time_embed/3/biases", "/mlp/net/0/weights", "/mlp/net/6/biases",
	} {
		if !have[p] {
			t.Errorf("no variable %s", p)
		}
	}
	for _, p := range []string{"/unet/down_modules/1/2/conv/weights", "/unet/down_modules/0/1/residual_conv/weights"} {
		if have[p] {
			t.Errorf("unexpected variable %s (no Downsample1d at the last level, no residual_conv when in = out)", p)
		}
	}
}

// TestInitialization checks PyTorch's default ranges: |w| < 1/√fan_in, with
// values reaching close to the bound; GroupNorm scale 1 and offset 0.
func TestInitialization(t *testing.T) {
	b := getBackend(t)
	rng := rand.New(rand.NewPCG(7, 8))
	store := model.NewStore()
	buildUNet(b, store, smallUNet(16, 32), 4).MustCall1(randTensor(rng, 1, 8, 2), steps(3), randTensor(rng, 1, 4))
	for _, c := range []struct {
		path  string
		bound float64
	}{
		{"/unet/down_modules/1/0/blocks/0/block/0/weights", 1 / math.Sqrt(5*16)}, // Conv1d k 5, in 16
		{"/unet/down_modules/1/0/blocks/0/block/0/biases", 1 / math.Sqrt(5*16)},  // its bias
		{"/unet/up_modules/0/2/conv/weights", 1 / math.Sqrt(4*16)},               // ConvTranspose1d k 4, out 16
		{"/unet/diffusion_step_encoder/3/weights", 1 / math.Sqrt(64)},            // Linear(64 → 16)
		{"/unet/down_modules/1/1/cond_encoder/1/weights", 1 / math.Sqrt(16+4)},   // Linear(cond 20 → 64)
		{"/unet/final_conv/1/weights", 1 / math.Sqrt(16)},                        // 1×1 Conv1d in 16
	} {
		v := store.GetVariable(c.path)
		if v == nil {
			t.Errorf("no variable %s", c.path)
			continue
		}
		vals := tensors.MustCopyFlatData[float32](v.MustValue())
		maxAbs := 0.0
		for _, x := range vals {
			maxAbs = math.Max(maxAbs, math.Abs(float64(x)))
		}
		if maxAbs > c.bound || (len(vals) >= 500 && maxAbs < 0.9*c.bound) {
			t.Errorf("%s: max |value| %g, want in U(−%g, %g) and near the bound", c.path, maxAbs, c.bound, c.bound)
		}
	}
	scale := tensors.MustCopyFlatData[float32](store.GetVariable("/unet/mid_modules/0/blocks/0/block/1/scale").MustValue())
	offset := tensors.MustCopyFlatData[float32](store.GetVariable("/unet/mid_modules/0/blocks/0/block/1/offset").MustValue())
	for i := range scale {
		if scale[i] != 1 || offset[i] != 0 {
			t.Fatalf("GroupNorm starts at scale %g offset %g, want 1 and 0", scale[i], offset[i])
		}
	}
}

// TestConditioning checks that the outputs depend on c and on t (FiLM and
// the step embedding reach the output).
func TestConditioning(t *testing.T) {
	b := getBackend(t)
	rng := rand.New(rand.NewPCG(9, 10))
	for _, c := range []struct {
		name  string
		build func(*model.Store) *model.Exec
	}{
		{"unet-film", func(s *model.Store) *model.Exec { return buildUNet(b, s, smallUNet(16, 32), 6) }},
		{"unet-bias", func(s *model.Store) *model.Exec {
			cfg := smallUNet(16, 32)
			cfg.CondPredictScale = false
			return buildUNet(b, s, cfg, 6)
		}},
		{"mlp", func(s *model.Store) *model.Exec { return buildMLP(b, s, MLPConfig{Hidden: 16}) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := c.build(model.NewStore())
			x := randTensor(rng, 2, 8, 2)
			c1, c2 := randTensor(rng, 2, 6), randTensor(rng, 2, 6)
			base := tensors.MustCopyFlatData[float32](e.MustCall1(x, steps(3, 3), c1))
			again := tensors.MustCopyFlatData[float32](e.MustCall1(x, steps(3, 3), c1))
			otherC := tensors.MustCopyFlatData[float32](e.MustCall1(x, steps(3, 3), c2))
			otherT := tensors.MustCopyFlatData[float32](e.MustCall1(x, steps(60, 60), c1))
			if d := maxDiff(base, again); d != 0 {
				t.Errorf("same inputs give different outputs (max diff %g)", d)
			}
			if d := maxDiff(base, otherC); d < 1e-3 {
				t.Errorf("changing c changes the output by at most %g", d)
			}
			if d := maxDiff(base, otherT); d < 1e-3 {
				t.Errorf("changing t changes the output by at most %g", d)
			}
		})
	}
}

func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// callErr calls e and returns the error (or recovered panic) message, "" if
// it succeeded.
func callErr(e *model.Exec, args ...any) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	if _, err := e.Call(args...); err != nil {
		return err.Error()
	}
	return ""
}

func TestUNetHorizonPanics(t *testing.T) {
	b := getBackend(t)
	rng := rand.New(rand.NewPCG(11, 12))
	for _, c := range []struct {
		dims    []int
		horizon int
		want    string // "" for no error
	}{
		{[]int{16, 32, 64}, 10, "horizon divisible by 2^(levels−1) = 4 (3 DownDims levels halve it 2 times), got horizon 10"},
		{[]int{16, 32, 64}, 6, "= 4"},
		{[]int{16, 32, 64}, 12, ""}, // 12 → 6 → 3 halves exactly
		{[]int{16, 32}, 7, "= 2"},
		{[]int{16, 32, 64, 128}, 12, "= 8"},
	} {
		e := buildUNet(b, model.NewStore(), smallUNet(c.dims...), 3)
		msg := callErr(e, randTensor(rng, 1, c.horizon, 2), steps(1), randTensor(rng, 1, 3))
		switch {
		case c.want == "" && msg != "":
			t.Errorf("%v horizon %d: unexpected error %q", c.dims, c.horizon, msg)
		case c.want != "" && !strings.Contains(msg, c.want):
			t.Errorf("%v horizon %d: got %q, want an error containing %q", c.dims, c.horizon, msg, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	if err := DefaultUNetConfig().Validate(); err != nil {
		t.Errorf("DefaultUNetConfig: %v", err)
	}
	if err := DefaultMLPConfig().Validate(); err != nil {
		t.Errorf("DefaultMLPConfig: %v", err)
	}
	mod := func(f func(*UNetConfig)) UNetConfig {
		c := DefaultUNetConfig()
		f(&c)
		return c
	}
	for _, c := range []struct {
		cfg  UNetConfig
		want string
	}{
		{mod(func(c *UNetConfig) { c.DownDims = nil }), "DownDims must list at least one level"},
		{mod(func(c *UNetConfig) { c.DownDims = []int{256, 0} }), "DownDims[1] must be > 0"},
		{mod(func(c *UNetConfig) { c.DownDims = []int{256, 500} }), "DownDims[1] = 500 channels cannot be split into Groups = 8"},
		{mod(func(c *UNetConfig) { c.Groups = 0 }), "Groups must be > 0, got 0"},
		{mod(func(c *UNetConfig) { c.KernelSize = 4 }), "KernelSize must be odd and > 0"},
		{mod(func(c *UNetConfig) { c.KernelSize = 0 }), "KernelSize"},
		{mod(func(c *UNetConfig) { c.TimeEmbedDim = 2 }), "TimeEmbedDim must be even and >= 4, got 2"},
		{mod(func(c *UNetConfig) { c.TimeEmbedDim = 15 }), "got 15"},
	} {
		err := c.cfg.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), "denoiser: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want an error containing %q", c.cfg, err, c.want)
		}
	}
	if err := (MLPConfig{Hidden: 7}).Validate(); err == nil || !strings.Contains(err.Error(), "denoiser: MLPConfig.Hidden") {
		t.Errorf("MLPConfig{7}: got %v", err)
	}
}

// TestUNetTrainSmoke fits a fixed random target from fixed inputs with Adam:
// the loss must drop more than tenfold in 100 steps.
func TestUNetTrainSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("training smoke test")
	}
	b := getBackend(t)
	rng := rand.New(rand.NewPCG(13, 14))
	const batch, horizon, actionDim, condDim = 4, 8, 2, 6
	cfg := smallUNet(16, 32)
	store := model.NewStore()
	tr := train.NewTrainer(b, store, func(scope *model.Scope, x, ts, c *Node) *Node {
		return UNet1D(scope.In("unet"), cfg, x, ts, c)
	}, loss.MeanSquaredError, optimizer.Adam().LearningRate(1e-3).Done(), nil, nil)
	data := train.Batch{
		Inputs: []*tensors.Tensor{randTensor(rng, batch, horizon, actionDim), steps(0, 17, 42, 99), randTensor(rng, batch, condDim)},
		Labels: []*tensors.Tensor{randTensor(rng, batch, horizon, actionDim)},
	}
	var first, last float64
	for i := 0; i < 100; i++ {
		m, err := tr.TrainStep(data)
		if err != nil {
			t.Fatal(err)
		}
		l := tensors.ToScalar[float32](m[0])
		if i == 0 {
			first = float64(l)
		}
		last = float64(l)
	}
	t.Logf("loss %.4f → %.4f in 100 steps", first, last)
	if math.IsNaN(last) || last*10 > first {
		t.Errorf("loss %g → %g: did not drop tenfold", first, last)
	}
}

// TestUNetSteps: UNetSteps.Step(k, x) is UNet1D(x, ts[k], c) with the same
// weights, and the parts that do not read x (the step encoder and the
// FiLM Linears) are in the graph once however many steps it unrolls; the
// only reductions are the GroupNorms' moments.
func TestUNetSteps(t *testing.T) {
	b := getBackend(t)
	// The census below is of the graph XLA compiles, whose GroupNorms take
	// sibling moments (resnet.MomentsAuto resolves to them there; on the
	// pure-Go backend it takes them as matrix products from batch 2 on).
	defer func(m resnet.Moments) { resnet.GroupNormMoments = m }(resnet.GroupNormMoments)
	resnet.GroupNormMoments = resnet.MomentsSibling
	rng := rand.New(rand.NewPCG(9, 10))
	// Two groups, so each GroupNorm group holds several channels. With
	// smallUNet's one channel per group, a group is 4 to 8 values whose
	// variance can come out near zero from random weights, and GroupNorm's
	// 1/σ then amplifies float32 rounding, which differs between batch n
	// and batch K·n (different matmul kernels), to 1e-4 (measured over 40
	// runs of each build). This test is about the wiring, not the rounding.
	twoGroups := func(c UNetConfig) UNetConfig { c.Groups = 2; return c }
	noScale := twoGroups(smallUNet(8, 16))
	noScale.CondPredictScale = false
	for _, c := range []struct {
		name                  string
		cfg                   UNetConfig
		steps, batch, condDim int
		horizon, actionDim    int
	}{
		{"2 levels, cond", twoGroups(smallUNet(8, 16)), 3, 2, 4, 8, 2},
		{"3 levels, no cond", twoGroups(smallUNet(8, 16, 16)), 4, 1, 0, 8, 3},
		{"bias-only FiLM", noScale, 2, 3, 5, 4, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			store := model.NewStore()
			one := buildUNet(b, store, c.cfg, c.condDim)
			x := randTensor(rng, c.steps, c.batch, c.horizon, c.actionDim)
			ts := make([]float32, c.steps*c.batch)
			for i := range ts {
				ts[i] = float32(rng.IntN(100))
			}
			cond := randTensor(rng, c.batch, max(c.condDim, 1))
			all := model.MustNewExec(b, store, func(scope *model.Scope, x, ts, cond *Node) *Node {
				if c.condDim == 0 {
					cond = nil
				}
				u := NewUNetSteps(c.cfg, ts, cond)
				outs := make([]*Node, c.steps)
				for k := range outs {
					outs[k] = u.Step(scope.At("unet"), k, Squeeze(Slice(x, AxisElem(k)), 0))
				}
				return Stack(outs, 0)
			})
			xs := tensors.MustCopyFlatData[float32](x)
			row := c.batch * c.horizon * c.actionDim
			var wantAll []float32
			for k := 0; k < c.steps; k++ {
				args := []any{tensors.FromFlatDataAndDimensions(xs[k*row:(k+1)*row], c.batch, c.horizon, c.actionDim),
					tensors.FromFlatDataAndDimensions(ts[k*c.batch:(k+1)*c.batch], c.batch)}
				if c.condDim > 0 {
					args = append(args, cond)
				}
				wantAll = append(wantAll, tensors.MustCopyFlatData[float32](one.MustCall1(args...))...)
			}
			got := tensors.MustCopyFlatData[float32](all.MustCall1(x, tensors.FromFlatDataAndDimensions(ts, c.steps, c.batch), cond))
			if d := maxDiff(got, wantAll); d > 1e-5 {
				t.Errorf("Step(k) and UNet1D differ by up to %g", d)
			}

			// Census: every DotGeneral outside the trunk (2 step encoder
			// Linears, one FiLM Linear per residual block: 4 per level)
			// appears once; the trunk's once per step.
			count := func(e *model.Exec, in ...shapes.Shape) (dots, reductions int) {
				g, err := e.Compile(in...)
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range g.Nodes() {
					switch s := n.Type().String(); {
					case s == "DotGeneral":
						dots++
					case strings.HasPrefix(s, "Reduce"):
						reductions++
					}
				}
				return
			}
			f32 := func(dims ...int) shapes.Shape { return shapes.Make(dtypes.Float32, dims...) }
			oneIn := []shapes.Shape{f32(c.batch, c.horizon, c.actionDim), f32(c.batch)}
			if c.condDim > 0 {
				oneIn = append(oneIn, f32(c.batch, c.condDim))
			}
			dots1, red1 := count(one, oneIn...)
			dotsK, redK := count(all, f32(c.steps, c.batch, c.horizon, c.actionDim), f32(c.steps, c.batch), f32(c.batch, max(c.condDim, 1)))
			linears := 2 + 4*len(c.cfg.DownDims)
			if want := linears + c.steps*(dots1-linears); dotsK != want {
				t.Errorf("%d steps hold %d DotGenerals, want %d (%d in one UNet1D, %d of them outside the trunk)", c.steps, dotsK, want, dots1, linears)
			}
			norms := 2*4*len(c.cfg.DownDims) + 1 // two Conv1dBlocks per residual block, and the final one
			if red1 != 2*norms || redK != 2*c.steps*norms {
				t.Errorf("reductions: %d in UNet1D, %d in %d steps; want two per GroupNorm (its sibling moments): %d and %d",
					red1, redK, c.steps, 2*norms, 2*c.steps*norms)
			}
		})
	}
}

// TestUNetStepsPanics: wrong shapes and a step that would read other
// weights than the first fail with a message naming the problem.
func TestUNetStepsPanics(t *testing.T) {
	b := getBackend(t)
	cfg := smallUNet(8, 16)
	for _, tc := range []struct {
		name, want string
		build      func(scope *model.Scope, x, ts, c *Node) *Node
	}{
		{"timesteps rank", "timesteps shaped [steps, batch]", func(scope *model.Scope, x, ts, c *Node) *Node {
			return NewUNetSteps(cfg, Reshape(ts, -1), c).Step(scope, 0, x)
		}},
		{"condition batch", "condition shaped [batch, condDim]", func(scope *model.Scope, x, ts, c *Node) *Node {
			return NewUNetSteps(cfg, ts, Concatenate([]*Node{c, c}, 0)).Step(scope, 0, x)
		}},
		{"step range", "Step(2) of a run of 2 steps", func(scope *model.Scope, x, ts, c *Node) *Node {
			return NewUNetSteps(cfg, ts, c).Step(scope, 2, x)
		}},
		{"x batch", "x shaped [batch=2", func(scope *model.Scope, x, ts, c *Node) *Node {
			return NewUNetSteps(cfg, ts, c).Step(scope, 0, Concatenate([]*Node{x, x}, 0))
		}},
		{"other weights", `the run's first step used "/a"`, func(scope *model.Scope, x, ts, c *Node) *Node {
			u := NewUNetSteps(cfg, ts, c)
			u.Step(scope.At("a"), 0, x)
			return u.Step(scope.At("b"), 1, x)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := model.MustNewExec(b, model.NewStore(), tc.build)
			rng := rand.New(rand.NewPCG(1, 1))
			msg := callErr(e, randTensor(rng, 2, 8, 2), randTensor(rng, 2, 2), randTensor(rng, 2, 3))
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q, want it to contain %q", msg, tc.want)
			}
		})
	}
}
