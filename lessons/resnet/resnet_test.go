package resnet

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/safetensors"
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

func TestValidate(t *testing.T) {
	good := []Config{
		DefaultConfig(), DiffusionPolicyConfig(),
		{Width: 4, Norm: GroupNorm, Groups: 2, Blocks: [4]int{2, 2, 2, 2}},
		{Width: 8, Norm: GroupNorm, GroupSize: 4, Blocks: [4]int{1, 1, 1, 1}},
		{Width: 64, Norm: BatchNorm, Blocks: [4]int{3, 4, 6, 3}},
	}
	for _, c := range good {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	bad := map[string]Config{
		"Width must be > 0":     {Width: 0, Norm: BatchNorm, Blocks: [4]int{2, 2, 2, 2}},
		"Blocks[2] (layer3)":    {Width: 4, Norm: BatchNorm, Blocks: [4]int{2, 2, 0, 2}},
		`Norm must be "batch"`:  {Width: 4, Norm: "layer", Blocks: [4]int{2, 2, 2, 2}},
		"for Norm \"group\"":    {Width: 4, Norm: BatchNorm, Groups: 2, Blocks: [4]int{2, 2, 2, 2}},
		"not both":              {Width: 64, Norm: GroupNorm, Groups: 2, GroupSize: 2, Blocks: [4]int{2, 2, 2, 2}},
		"cannot split 4":        {Width: 4, Norm: GroupNorm, Blocks: [4]int{2, 2, 2, 2}}, // GroupSize 16 by default
		"into 3 groups":         {Width: 4, Norm: GroupNorm, Groups: 3, Blocks: [4]int{2, 2, 2, 2}},
		"must not be negative":  {Width: 4, Norm: GroupNorm, Groups: -1, Blocks: [4]int{2, 2, 2, 2}},
		"groups of 3 channels":  {Width: 4, Norm: GroupNorm, GroupSize: 3, Blocks: [4]int{2, 2, 2, 2}},
		"Blocks[0] (layer1)":    {Width: 4, Norm: BatchNorm},
		"Width must be > 0, go": {Width: -1, Norm: BatchNorm, Blocks: [4]int{2, 2, 2, 2}},
	}
	for want, c := range bad {
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), "resnet: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: got %v, want an error containing %q", c, err, want)
		}
	}
}

func TestNumParamsFormula(t *testing.T) {
	cfg := DefaultConfig()
	if got := NumParams(cfg); got != 11_176_512 {
		t.Errorf("NumParams(DefaultConfig()) = %d, want 11,176,512 (torchvision resnet18 without fc)", got)
	}
	if got := NumParams(cfg) + cfg.FeatureDim()*1000 + 1000; got != 11_689_512 {
		t.Errorf("with fc: %d, want 11,689,512", got)
	}
	// torchvision resnet34 without fc: 21,797,672 − 513,000.
	if got := NumParams(Config{Width: 64, Norm: BatchNorm, Blocks: [4]int{3, 4, 6, 3}}); got != 21_797_672-513_000 {
		t.Errorf("ResNet-34: %d", got)
	}
	if got := NumParams(DiffusionPolicyConfig()); got != 11_176_512 {
		t.Errorf("GroupNorm has as many parameters as BatchNorm, got %d", got)
	}
}

// trainableParams counts the trainable variables' elements under prefix.
func trainableParams(store *model.Store, prefix string) (params, all int) {
	for v := range store.IterVariables() {
		if !strings.HasPrefix(v.Path(), prefix) {
			continue
		}
		all++
		if v.Trainable {
			params += v.Shape().Size()
		}
	}
	return
}

func TestNumParamsMatchesVariables(t *testing.T) {
	b := getBackend(t)
	for _, cfg := range []Config{
		{Width: 4, Norm: BatchNorm, Blocks: [4]int{2, 2, 2, 2}},
		{Width: 4, Norm: GroupNorm, Groups: 2, Blocks: [4]int{1, 2, 1, 3}},
		{Width: 2, Norm: BatchNorm, Blocks: [4]int{3, 1, 1, 1}},
	} {
		store := model.NewStore()
		e := model.MustNewExec(b, store, func(scope *model.Scope, x *Node) *Node {
			return Features(scope.In("resnet"), x, cfg, false)
		})
		out := e.MustCall1(tensors.FromShape(shapeOf(1, 16, 16, 3)))
		if got := out.Shape().Dimensions; len(got) != 2 || got[0] != 1 || got[1] != cfg.FeatureDim() {
			t.Errorf("%+v: features shape %v", cfg, got)
		}
		params, _ := trainableParams(store, "/resnet/")
		if params != NumParams(cfg) {
			t.Errorf("%+v: variables hold %d trainable parameters, NumParams says %d", cfg, params, NumParams(cfg))
		}
	}
}

// TestGroupNormalizationByHand checks GroupNorm against numbers computed by hand.
func TestGroupNormalizationByHand(t *testing.T) {
	defer func(m Moments) { GroupNormMoments = m }(GroupNormMoments)
	for _, m := range []Moments{MomentsAuto, MomentsSibling, MomentsStacked, MomentsTwoPass, MomentsProducts} {
		t.Run(m.String(), func(t *testing.T) {
			GroupNormMoments = m
			groupNormByHand(t)
		})
	}
}

// groupNormByHand is TestGroupNormalizationByHand in the form
// GroupNormMoments names.
func groupNormByHand(t *testing.T) {
	b := getBackend(t)
	// x: batch 2, height 2, width 1, 4 channels, 2 groups of 2 channels.
	// Example 0, positions (0,0) = [1 2 3 4], (1,0) = [5 6 7 8]:
	//   group 0 = {1, 2, 5, 6}: mean 3.5, variance (2.5²+1.5²+1.5²+2.5²)/4 = 4.25
	//   group 1 = {3, 4, 7, 8}: mean 5.5, variance 4.25
	// Example 1 = 10 × example 0 + 3: same normalized values (GroupNorm is
	// per example, invariant to affine changes of each group).
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8, 13, 23, 33, 43, 53, 63, 73, 83}
	gamma := []float32{1, -1, 2, 0.5}
	beta := []float32{0, 1, 0, -1}
	s := float32(1 / math.Sqrt(4.25+1e-5))
	norm := []float32{-2.5 * s, -1.5 * s, -2.5 * s, -1.5 * s, 1.5 * s, 2.5 * s, 1.5 * s, 2.5 * s}
	want := make([]float32, 16)
	for i := range want {
		c := i % 4
		want[i] = norm[i%8]*gamma[c] + beta[c]
	}
	store := model.NewStore()
	if _, err := store.CreateVariable("/gn/scale", tensors.FromFlatDataAndDimensions(gamma, 4)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateVariable("/gn/offset", tensors.FromFlatDataAndDimensions(beta, 4)); err != nil {
		t.Fatal(err)
	}
	e := model.MustNewExec(b, store, func(scope *model.Scope, x *Node) *Node {
		return GroupNormalization(scope.In("gn"), x, 2, 1e-5)
	})
	got := e.MustCall1(tensors.FromFlatDataAndDimensions(x, 2, 2, 1, 4)).Value().([][][][]float32)
	for i := range want {
		n, h, c := i/8, (i/4)%2, i%4
		if d := math.Abs(float64(got[n][h][0][c] - want[i])); d > 1e-5 {
			t.Errorf("y[%d,%d,0,%d] = %v, want %v", n, h, c, got[n][h][0][c], want[i])
		}
	}

	// Default initialization: γ = 1, β = 0; [batch, time, channels] inputs work too.
	store2 := model.NewStore()
	e2 := model.MustNewExec(b, store2, func(scope *model.Scope, x *Node) *Node {
		return GroupNormalization(scope.In("gn"), x, 2, 1e-5)
	})
	got2 := e2.MustCall1(tensors.FromFlatDataAndDimensions(x[:8], 1, 2, 4)).Value().([][][]float32)
	for i := 0; i < 8; i++ {
		if d := math.Abs(float64(got2[0][i/4][i%4] - norm[i])); d > 1e-5 {
			t.Errorf("default γ/β: y[%d] = %v, want %v", i, got2[0][i/4][i%4], norm[i])
		}
	}
	if v := store2.GetVariable("/gn/scale"); v == nil || !v.Trainable {
		t.Error("/gn/scale missing or not trainable")
	}
}

func shapeOf(dims ...int) shapes.Shape { return shapes.Make(dtypes.Float32, dims...) }

// compareFeatures checks GoMLX features against the reference.
func compareFeatures(t *testing.T, got [][]float32, want [][]float64, tol float64) {
	t.Helper()
	var maxAbs, maxDiff float64
	for n := range want {
		if len(got[n]) != len(want[n]) {
			t.Fatalf("example %d: %d features, want %d", n, len(got[n]), len(want[n]))
		}
		for c := range want[n] {
			maxAbs = math.Max(maxAbs, math.Abs(want[n][c]))
			maxDiff = math.Max(maxDiff, math.Abs(float64(got[n][c])-want[n][c]))
		}
	}
	if maxAbs == 0 {
		t.Fatal("reference features are all zero: the test would prove nothing")
	}
	if maxDiff > tol*math.Max(1, maxAbs) {
		t.Errorf("max |GoMLX − reference| = %.3g (features up to %.3g), tolerance %.3g", maxDiff, maxAbs, tol)
	} else {
		t.Logf("max |GoMLX − reference| = %.3g (features up to %.3g)", maxDiff, maxAbs)
	}
}

func writeStateDict(t *testing.T, sd map[string][]float32, tvShapes map[string][]int, extra bool) *safetensors.File {
	t.Helper()
	f := &safetensors.File{Tensors: map[string]safetensors.Tensor{}, Metadata: map[string]string{"format": "pt"}}
	for name, v := range sd {
		f.Tensors[name] = safetensors.FromFloat32(tvShapes[name], v)
	}
	if extra {
		f.Tensors["bn1.num_batches_tracked"] = safetensors.FromInt64(nil, []int64{1000})
		f.Tensors["layer1.0.bn1.num_batches_tracked"] = safetensors.FromInt64(nil, []int64{1000})
		f.Tensors["fc.weight"] = safetensors.FromFloat32([]int{3, 2}, make([]float32, 6))
		f.Tensors["fc.bias"] = safetensors.FromFloat32([]int{3}, make([]float32, 3))
	}
	// Through the bytes of a real file.
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	g, err := safetensors.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestForwardMatchesReference loads random torchvision-named weights at a
// small width and compares the whole encoder with the plain-Go reference.
func TestForwardMatchesReference(t *testing.T) {
	b := getBackend(t)
	cases := []struct {
		name     string
		cfg      Config
		mode     string // reference normalization mode
		training bool   // Features' training argument; the graph is marked training too
	}{
		{"batchnorm-eval", Config{Width: 4, Norm: BatchNorm, Blocks: [4]int{2, 2, 2, 2}}, "eval", false},
		{"batchnorm-train", Config{Width: 4, Norm: BatchNorm, Blocks: [4]int{2, 2, 2, 2}}, "train", true},
		{"groupnorm", Config{Width: 4, Norm: GroupNorm, Groups: 2, Blocks: [4]int{2, 2, 2, 2}}, "group", false},
		{"groupnorm-size2-blocks", Config{Width: 4, Norm: GroupNorm, GroupSize: 2, Blocks: [4]int{1, 2, 1, 3}}, "group", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			sd, tvShapes := randomStateDict(c.cfg, rng)
			f := writeStateDict(t, sd, tvShapes, true)
			store := model.NewStore()
			if err := LoadTorchvision(store, "resnet", f, c.cfg); err != nil {
				t.Fatal(err)
			}
			// Odd sizes exercise PyTorch's rounding of strided outputs; the
			// batch statistics need more than one example.
			const n, h, w = 3, 35, 30
			flat, maps := randomImages(n, h, w, rng)
			want := refForward(maps, sd, c.cfg, c.mode)
			e := model.MustNewExec(b, store, func(scope *model.Scope, x *Node) *Node {
				scope.SetTraining(x.Graph(), true) // as in train.Trainer's training graphs
				return Features(scope.In("resnet"), x, c.cfg, c.training)
			})
			got := e.MustCall1(tensors.FromFlatDataAndDimensions(flat, n, h, w, 3)).Value().([][]float32)
			compareFeatures(t, got, want, 1e-4)
		})
	}
}

func TestLoadTorchvisionFullSize(t *testing.T) {
	b := getBackend(t)
	cfg := DefaultConfig()
	rng := rand.New(rand.NewPCG(3, 4))
	sd, tvShapes := randomStateDict(cfg, rng)
	if len(tvShapes) != 100 {
		t.Errorf("TorchvisionShapes has %d entries, want 100 (torchvision's 122 minus fc.* and 20 num_batches_tracked)", len(tvShapes))
	}
	for name, want := range map[string][]int{
		"conv1.weight": {64, 3, 7, 7}, "bn1.running_var": {64}, "layer1.1.conv2.weight": {64, 64, 3, 3},
		"layer2.0.conv1.weight": {128, 64, 3, 3}, "layer2.0.downsample.0.weight": {128, 64, 1, 1},
		"layer4.1.bn2.bias": {512}, "layer4.0.downsample.1.running_mean": {512},
	} {
		if got := tvShapes[name]; !equalInts(got, want) {
			t.Errorf("%s: shape %v, want %v", name, got, want)
		}
	}
	if _, ok := tvShapes["layer1.0.downsample.0.weight"]; ok {
		t.Error("layer1 has no downsample in ResNet-18")
	}
	f := writeStateDict(t, sd, tvShapes, true)
	store := model.NewStore()
	if err := LoadTorchvision(store, "/encoder/resnet", f, cfg); err != nil {
		t.Fatal(err)
	}
	// Transposition OIHW → HWIO, spot-checked on conv1 and a downsample.
	conv1 := store.GetVariable("/encoder/resnet/conv1/weights").MustValue().Value().([][][][]float32)
	for _, idx := range [][4]int{{5, 2, 3, 1}, {63, 0, 6, 0}, {0, 1, 0, 6}} { // [o, i, y, x]
		o, i, y, x := idx[0], idx[1], idx[2], idx[3]
		if got, want := conv1[y][x][i][o], sd["conv1.weight"][((o*3+i)*7+y)*7+x]; got != want {
			t.Errorf("conv1 [o=%d,i=%d,y=%d,x=%d]: %v, want %v", o, i, y, x, got, want)
		}
	}
	ds := store.GetVariable("/encoder/resnet/layer3/0/downsample/0/weights")
	if ds == nil || !equalInts(ds.Shape().Dimensions, []int{1, 1, 128, 256}) {
		t.Fatalf("downsample variable %v", ds)
	}
	if got, want := ds.MustValue().Value().([][][][]float32)[0][0][100][7], sd["layer3.0.downsample.0.weight"][7*128+100]; got != want {
		t.Errorf("downsample [7,100]: %v, want %v", got, want)
	}
	rv := store.GetVariable("/encoder/resnet/layer4/1/bn2/batch_normalization/variance")
	if rv == nil || rv.Trainable || rv.MustValue().Value().([]float32)[9] != sd["layer4.1.bn2.running_var"][9] {
		t.Errorf("running_var variable %v", rv)
	}
	if params, _ := trainableParams(store, "/encoder/resnet/"); params != 11_176_512 {
		t.Errorf("loaded %d trainable parameters, want 11,176,512", params)
	}

	// The whole pretrained-size network on one 32×32 image against the reference.
	flat, maps := randomImages(1, 32, 32, rng)
	want := refForward(maps, sd, cfg, "eval")
	before := store.NumVariables()
	e := model.MustNewExec(b, store, func(scope *model.Scope, x *Node) *Node {
		return Features(scope.In("encoder").In("resnet"), x, cfg, false)
	})
	got := e.MustCall1(tensors.FromFlatDataAndDimensions(flat, 1, 32, 32, 3)).Value().([][]float32)
	if store.NumVariables() != before {
		t.Errorf("Features created %d variables beyond the loaded ones", store.NumVariables()-before)
	}
	compareFeatures(t, got, want, 1e-4)
}

func equalInts(a, b []int) bool {
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

func TestLoadTorchvisionErrors(t *testing.T) {
	cfg := Config{Width: 4, Norm: BatchNorm, Blocks: [4]int{2, 2, 2, 2}}
	rng := rand.New(rand.NewPCG(5, 6))
	sd, tvShapes := randomStateDict(cfg, rng)
	base := writeStateDict(t, sd, tvShapes, true)
	edit := func(fn func(f *safetensors.File)) *safetensors.File {
		f := &safetensors.File{Tensors: map[string]safetensors.Tensor{}}
		for k, v := range base.Tensors {
			f.Tensors[k] = v
		}
		fn(f)
		return f
	}
	cases := map[string]struct {
		f    *safetensors.File
		cfg  Config
		want []string
	}{
		"missing": {edit(func(f *safetensors.File) { delete(f.Tensors, "layer2.0.downsample.1.running_var") }), cfg,
			[]string{`tensor "layer2.0.downsample.1.running_var"`, "missing"}},
		"shape": {edit(func(f *safetensors.File) {
			f.Tensors["layer3.1.conv2.weight"] = safetensors.FromFloat32([]int{16, 16, 1, 9}, make([]float32, 16*16*9))
		}), cfg, []string{`tensor "layer3.1.conv2.weight"`, "[16 16 1 9]", "[16 16 3 3]"}},
		"width": {base, Config{Width: 8, Norm: BatchNorm, Blocks: [4]int{2, 2, 2, 2}},
			[]string{`tensor "conv1.weight"`, "shape [4 3 7 7] in the file", "want [8 3 7 7]"}},
		"resnet34 file": {edit(func(f *safetensors.File) {
			f.Tensors["layer1.2.conv1.weight"] = safetensors.FromFloat32([]int{4, 4, 3, 3}, make([]float32, 144))
		}), cfg, []string{`tensor "layer1.2.conv1.weight"`, "not part of a ResNet"}},
		"int dtype": {edit(func(f *safetensors.File) {
			f.Tensors["bn1.weight"] = safetensors.FromInt64([]int{4}, []int64{1, 1, 1, 1})
		}), cfg, []string{`tensor "bn1.weight"`, "not a floating-point"}},
		"config": {base, Config{Width: 4, Norm: "instance", Blocks: [4]int{2, 2, 2, 2}}, []string{"Norm must be"}},
	}
	for name, c := range cases {
		store := model.NewStore()
		err := LoadTorchvision(store, "resnet", c.f, c.cfg)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		for _, w := range append([]string{"resnet: "}, c.want...) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", name, err, w)
			}
		}
		if store.NumVariables() != 0 {
			t.Errorf("%s: failed load created %d variables", name, store.NumVariables())
		}
	}

	// GroupNorm: running stats are not required, and ignored if present.
	gcfg := Config{Width: 4, Norm: GroupNorm, Groups: 2, Blocks: [4]int{2, 2, 2, 2}}
	for _, f := range []*safetensors.File{base, edit(func(f *safetensors.File) {
		for k := range f.Tensors {
			if strings.HasSuffix(k, "running_mean") || strings.HasSuffix(k, "running_var") {
				delete(f.Tensors, k)
			}
		}
	})} {
		store := model.NewStore()
		if err := LoadTorchvision(store, "", f, gcfg); err != nil {
			t.Fatal(err)
		}
		v := store.GetVariable("/layer1/0/bn2/group_normalization/scale")
		if v == nil || v.MustValue().Value().([]float32)[3] != sd["layer1.0.bn2.weight"][3] {
			t.Errorf("GroupNorm γ not loaded from bn weight: %v", v)
		}
		if params, _ := trainableParams(store, "/"); params != NumParams(gcfg) {
			t.Errorf("GroupNorm load: %d trainable parameters, want %d", params, NumParams(gcfg))
		}
	}
}

// TestTrainingSmoke trains a tiny ResNet (Width 4) + linear head for 30 Adam
// steps on a fixed regression batch (2 images, targets ±1), for both
// normalizations.
func TestTrainingSmoke(t *testing.T) {
	b := getBackend(t)
	for _, cfg := range []Config{
		{Width: 4, Norm: BatchNorm, Blocks: [4]int{2, 2, 2, 2}},
		{Width: 4, Norm: GroupNorm, Groups: 2, Blocks: [4]int{2, 2, 2, 2}},
	} {
		t.Run(cfg.Norm, func(t *testing.T) {
			start := time.Now()
			rng := rand.New(rand.NewPCG(7, 8))
			// 64×64 rather than 32×32 images: with 32×32, layer4 is 1×1 and
			// BatchNorm over a batch of 2 reduces every channel to ±1 (a sign),
			// making the loss jump from step to step, as it would in PyTorch.
			const batch, size = 2, 64
			flat, _ := randomImages(batch, size, size, rng)
			x := tensors.FromFlatDataAndDimensions(flat, batch, size, size, 3)
			targets := make([]float32, batch)
			for i := range targets {
				targets[i] = float32(1 - 2*(i%2))
			}
			y := tensors.FromFlatDataAndDimensions(targets, batch, 1)
			store := model.NewStore()
			if err := store.SetRNGStateFromSeed(42); err != nil {
				t.Fatal(err)
			}
			modelFn := func(scope *model.Scope, images *Node) *Node {
				feats := Features(scope.In("resnet"), images, cfg, true)
				return layers.DenseWithBias(scope.In("head"), feats, 1)
			}
			tr := train.NewTrainer(b, store, modelFn, loss.MeanSquaredError,
				optimizer.Adam().LearningRate(0.001).Done(), nil, nil)
			var losses []float64
			for i := 0; i < 30; i++ {
				m, err := tr.TrainStep(train.Batch{Inputs: []*tensors.Tensor{x}, Labels: []*tensors.Tensor{y}})
				if err != nil {
					t.Fatal(err)
				}
				l := float64(m[0].Value().(float32))
				if math.IsNaN(l) || math.IsInf(l, 0) {
					t.Fatalf("loss %v at step %d", l, i)
				}
				losses = append(losses, l)
			}
			t.Logf("losses %.4f (%v)", losses, time.Since(start).Round(time.Millisecond))
			var last float64
			for _, l := range losses[len(losses)-5:] {
				last += l / 5
			}
			if last >= 0.1*losses[0] {
				t.Errorf("loss did not decrease tenfold: first %.4f, mean of the last 5 %.4f", losses[0], last)
			}
			if cfg.Norm == BatchNorm {
				// Running statistics were updated by the training steps.
				v := store.GetVariable("/resnet/bn1/batch_normalization/mean").MustValue().Value().([]float32)
				moved := false
				for _, m := range v {
					moved = moved || m != 0
				}
				if !moved {
					t.Error("BatchNorm running mean never updated")
				}
			}
		})
	}
}

// TestGroupNormLargeOffset: every form of GroupNorm's moments
// (GroupNormMoments) stays accurate when a group's mean is thousands of
// times its spread, where the unshifted one-pass E[x²] − μ² in float32
// would cancel every digit; and each builds the reductions it says: the
// default (sibling) two that neither reads the other's result (XLA fuses
// such siblings into one kernel), stacked one, two-pass two in a chain.
func TestGroupNormLargeOffset(t *testing.T) {
	b := getBackend(t)
	defer func(m Moments) { GroupNormMoments = m }(GroupNormMoments)
	const n, length, c, groups = 2, 16, 8, 2
	// tol: float32 inputs at |x| = 3e4 are themselves rounded to 2e-3,
	// 4e-3 of the spread of 0.5; the shifted forms add no more than that.
	// The two-pass form is less accurate there: its float32 sum of 64
	// values near 3e4 is off by about 0.5, which shifts the mean by about
	// 1e-2 σ, and every centred value carries that (1.4e-2 measured).
	for _, form := range []struct {
		m          Moments
		reductions int
		chained    bool
		tol        float64
	}{{MomentsSibling, 2, false, 5e-3}, {MomentsStacked, 1, false, 5e-3}, {MomentsTwoPass, 2, true, 3e-2}, {MomentsProducts, 0, false, 5e-3}} {
		GroupNormMoments = form.m
		rng := rand.New(rand.NewPCG(3, 4))
		for _, tc := range []struct {
			offset, spread float64
		}{{0, 1}, {1e3, 1}, {-3e4, 0.5}, {5, 1e-3}} {
			x := make([]float32, n*length*c)
			for i := range x {
				x[i] = float32(tc.offset + tc.spread*rng.NormFloat64())
			}
			e := model.MustNewExec(b, model.NewStore(), func(scope *model.Scope, x *Node) *Node {
				return GroupNormalization(scope.In("gn"), x, groups, 1e-5)
			})
			got := tensors.MustCopyFlatData[float32](e.MustCall1(tensors.FromFlatDataAndDimensions(x, n, length, c)))
			// Two-pass moments in float64 on the float32 inputs.
			worst := 0.0
			for ex := 0; ex < n; ex++ {
				for g := 0; g < groups; g++ {
					var idx []int
					for l := 0; l < length; l++ {
						for ch := g * c / groups; ch < (g+1)*c/groups; ch++ {
							idx = append(idx, (ex*length+l)*c+ch)
						}
					}
					mean, variance := 0.0, 0.0
					for _, i := range idx {
						mean += float64(x[i])
					}
					mean /= float64(len(idx))
					for _, i := range idx {
						variance += (float64(x[i]) - mean) * (float64(x[i]) - mean)
					}
					variance /= float64(len(idx))
					for _, i := range idx {
						want := (float64(x[i]) - mean) / math.Sqrt(variance+1e-5)
						worst = math.Max(worst, math.Abs(float64(got[i])-want))
					}
				}
			}
			if worst > form.tol {
				t.Errorf("%s, offset %g, spread %g: normalized values off by up to %.3g", form.m, tc.offset, tc.spread, worst)
			}
			t.Logf("%s, offset %g, spread %g: normalized values off by up to %.2g", form.m, tc.offset, tc.spread, worst)

			g, err := e.Compile(shapeOf(n, length, c))
			if err != nil {
				t.Fatal(err)
			}
			var reductions []*Node
			chained := false
			for _, node := range g.Nodes() {
				if strings.HasPrefix(node.Type().String(), "Reduce") {
					reductions = append(reductions, node)
					chained = chained || dependsOnReduction(node)
				}
			}
			if len(reductions) != form.reductions || chained != form.chained {
				t.Errorf("%s: GroupNormalization's graph holds %d reductions (one reading another: %v), want %d (%v)",
					form.m, len(reductions), chained, form.reductions, form.chained)
			}
		}
	}
	for _, m := range []Moments{MomentsSibling, MomentsStacked, MomentsTwoPass, MomentsProducts, MomentsAuto} {
		if got, err := ParseMoments(m.String()); got != m || err != nil {
			t.Errorf("ParseMoments(%q) = %v, %v", m, got, err)
		}
	}
	if m, err := ParseMoments("two-pass"); m != MomentsTwoPass || err != nil {
		t.Errorf("ParseMoments(two-pass) = %v, %v", m, err)
	}
	if _, err := ParseMoments("welford"); err == nil || !strings.Contains(err.Error(), `"welford"`) {
		t.Errorf("ParseMoments(welford): error %v, want one naming the value", err)
	}
}

// dependsOnReduction reports whether a reduction is among n's inputs,
// directly or through other nodes.
func dependsOnReduction(n *Node) bool {
	seen := map[*Node]bool{}
	var walk func(*Node) bool
	walk = func(m *Node) bool {
		for _, in := range m.Inputs() {
			if seen[in] {
				continue
			}
			seen[in] = true
			if strings.HasPrefix(in.Type().String(), "Reduce") || walk(in) {
				return true
			}
		}
		return false
	}
	return walk(n)
}

// MomentsAuto is the products form on the pure-Go backend from two
// examples on, and sibling reductions for one example or on other
// backends; explicit forms stay as they are.
func TestMomentsResolve(t *testing.T) {
	goBackend := getBackend(t)
	if !backend.IsGo(goBackend) {
		t.Skipf("backend %s is not GoMLX's pure-Go backend", goBackend.Name())
	}
	for _, tc := range []struct {
		m     Moments
		b     compute.Backend
		batch int
		want  Moments
	}{
		{MomentsAuto, goBackend, 1, MomentsSibling},
		{MomentsAuto, goBackend, 2, MomentsProducts},
		{MomentsAuto, goBackend, 64, MomentsProducts},
		{MomentsAuto, nil, 64, MomentsSibling}, // not the Go backend
		{MomentsSibling, goBackend, 64, MomentsSibling},
		{MomentsTwoPass, goBackend, 64, MomentsTwoPass},
		{MomentsProducts, goBackend, 1, MomentsProducts},
		{MomentsProducts, nil, 1, MomentsProducts},
	} {
		if got := tc.m.Resolve(tc.b, tc.batch); got != tc.want {
			t.Errorf("%s.Resolve(%v, batch %d) = %s, want %s", tc.m, tc.b, tc.batch, got, tc.want)
		}
	}
	if GroupNormMoments != MomentsAuto {
		t.Errorf("GroupNormMoments = %s, want auto", GroupNormMoments)
	}
}
