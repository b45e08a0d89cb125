package lora

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/safetensors"
)

// net is a small model: x [batch, 6] → q (8) → tanh → v (3) → head (2).
// Adapters go where cfg targets ("q", "v"); the head never has one.
func net(scope *model.Scope, x *Node, cfg *Config) *Node {
	h := Tanh(Dense(scope.In("q"), x, 8, cfg))
	h = Dense(scope.In("v"), h, 3, cfg)
	return Dense(scope.In("head"), h, 2, nil)
}

var input = tensors.FromFlatDataAndDimensions([]float32{
	0.1, -0.2, 0.3, 0.5, -1, 2,
	1, 0.5, -0.5, 0, 0.25, -0.75,
	-0.3, 0.9, 0.1, -0.4, 0.6, 0.2,
}, 3, 6)

// forward runs net on input with cfg (nil: no adapters) over store.
func forward(t *testing.T, b compute.Backend, store *model.Store, cfg *Config) []float32 {
	t.Helper()
	e, err := model.NewExec(b, store, func(scope *model.Scope, x *Node) *Node { return net(scope.In("m"), x, cfg) })
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.Call(input)
	if err != nil {
		t.Fatal(err)
	}
	return tensors.MustCopyFlatData[float32](out[0])
}

func newStore(t *testing.T) *model.Store {
	s := model.NewStore()
	if err := s.SetRNGStateFromSeed(7); err != nil {
		t.Fatal(err)
	}
	return s
}

func close(t *testing.T, what string, a, b []float32, tol float64) {
	t.Helper()
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > tol {
			t.Fatalf("%s: element %d: %v vs %v (all: %v vs %v)", what, i, a[i], b[i], a, b)
		}
	}
}

// setRandom fills a variable with values that are not zero.
func setRandom(t *testing.T, v *model.Variable, seed float32) {
	t.Helper()
	n := v.Shape().Size()
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(math.Sin(float64(seed) + float64(i)*0.7))
	}
	if err := v.SetValue(tensors.FromFlatDataAndDimensions(d, v.Shape().Dimensions...)); err != nil {
		t.Fatal(err)
	}
}

func adapterPaths(store *model.Store) []string {
	var p []string
	for v := range store.IterVariables() {
		if IsAdapter(v.Path()) {
			p = append(p, v.Path())
		}
	}
	return p
}

// TestFreshAdapterChangesNothing: with B = 0, the adapted model computes
// exactly what the base model computes; the adapters sit on q and v only.
func TestFreshAdapterChangesNothing(t *testing.T) {
	b := backend.MustNew()
	store := newStore(t)
	base := forward(t, b, store, nil)
	cfg := ChapterConfig()
	adapted := forward(t, b, store, &cfg)
	close(t, "B = 0", base, adapted, 0)
	want := map[string]bool{"/m/q/lora/A": true, "/m/q/lora/B": true, "/m/v/lora/A": true, "/m/v/lora/B": true}
	got := adapterPaths(store)
	if len(got) != len(want) {
		t.Fatalf("adapters %v, want %v", got, want)
	}
	for _, p := range got {
		if !want[p] {
			t.Errorf("unexpected adapter %s", p)
		}
	}
	if a := store.GetVariable("/m/q/lora/A").Shape().Dimensions; a[0] != 8 || a[1] != 6 {
		t.Errorf("A of q is %v, want [8 6] (rank 8, 6 inputs)", a)
	}
	if bb := store.GetVariable("/m/v/lora/B").Shape().Dimensions; bb[0] != 3 || bb[1] != 8 {
		t.Errorf("B of v is %v, want [3 8]", bb)
	}
}

// TestMergeMatches: with trained (non-zero) adapters, the merged base
// model computes what the adapted one does, to float tolerance, and the
// adapters are gone.
func TestMergeMatches(t *testing.T) {
	b := backend.MustNew()
	store := newStore(t)
	cfg := Config{Rank: 4, Alpha: 8}
	forward(t, b, store, &cfg)
	for i, p := range adapterPaths(store) {
		setRandom(t, store.GetVariable(p), float32(i))
	}
	adapted := forward(t, b, store, &cfg)
	base := forward(t, b, store, nil)
	if math.Abs(float64(adapted[0]-base[0])) < 1e-4 {
		t.Fatal("the adapters change nothing: the test would prove nothing")
	}
	layers, err := Merge(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 2 || layers[0] != "/m/q" || layers[1] != "/m/v" {
		t.Errorf("merged %v", layers)
	}
	if len(adapterPaths(store)) != 0 {
		t.Error("adapters left after Merge")
	}
	merged := forward(t, b, store, nil)
	close(t, "merged vs adapted", adapted, merged, 1e-5)
}

// TestOnlyAdaptersAndHeadTrain: after Freeze, gradient steps change the
// adapters and the head, and leave every base weight bit for bit.
func TestOnlyAdaptersAndHeadTrain(t *testing.T) {
	b := backend.MustNew()
	store := newStore(t)
	cfg := Config{Rank: 2, Alpha: 4, Dropout: 0.1}
	forward(t, b, store, &cfg)
	before := map[string][]float32{}
	for v := range store.IterVariables() {
		if v.Shape().DType.IsFloat() {
			before[v.Path()] = tensors.MustCopyFlatData[float32](v.MustValue())
		}
	}
	trainable, total := Freeze(store, func(p string) bool { return strings.HasPrefix(p, "/m/head/") })
	// q: 6·8+8, v: 8·3+3, head: 3·2+2; adapters: 2·(6+8) + 2·(8+3).
	if wantTr, wantAll := 3*2+2+2*(6+8)+2*(8+3), 6*8+8+8*3+3+3*2+2+2*(6+8)+2*(8+3); trainable != wantTr || total != wantAll {
		t.Errorf("Freeze: %d of %d parameters trainable, want %d of %d", trainable, total, wantTr, wantAll)
	}
	target := tensors.FromFlatDataAndDimensions([]float32{1, -1, 0.5, 0.5, -1, 1}, 3, 2)
	step, err := model.NewExec(b, store, func(scope *model.Scope, x, y *Node) *Node {
		scope.SetTraining(x.Graph(), true)
		pred := net(scope.In("m"), x, &cfg)
		loss := ReduceAllMean(Square(Sub(pred, y)))
		grads := scope.BuildTrainableVariablesGradientsGraph(loss)
		i := 0
		for v := range store.IterVariables() {
			if v.Trainable && v.InUseByGraph(x.Graph()) {
				v.SetNodeValue(Sub(v.NodeValue(x.Graph()), MulScalar(grads[i], 0.1)))
				i++
			}
		}
		return loss
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if _, err := step.Call(input, target); err != nil {
			t.Fatal(err)
		}
	}
	for v := range store.IterVariables() {
		if !v.Shape().DType.IsFloat() {
			continue // the random state
		}
		after := tensors.MustCopyFlatData[float32](v.MustValue())
		changed := false
		for i := range after {
			if after[i] != before[v.Path()][i] {
				changed = true
			}
		}
		shouldTrain := IsAdapter(v.Path()) || strings.HasPrefix(v.Path(), "/m/head/")
		if _, known := before[v.Path()]; known && changed != shouldTrain {
			t.Errorf("%s: changed %v, want %v", v.Path(), changed, shouldTrain)
		}
	}
}

// TestSaveLoad: adapters saved apart load onto another copy of the base
// model, which then computes what the adapted model did; mismatches are
// errors naming the tensor and the shapes.
func TestSaveLoad(t *testing.T) {
	b := backend.MustNew()
	store := newStore(t)
	cfg := Config{Rank: 4, Alpha: 8, Targets: []string{"q", "v"}}
	forward(t, b, store, &cfg)
	for i, p := range adapterPaths(store) {
		setRandom(t, store.GetVariable(p), float32(i+3))
	}
	want := forward(t, b, store, &cfg)
	path := filepath.Join(t.TempDir(), "adapter.safetensors")
	if err := Save(path, store, cfg); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != 4 {
		t.Errorf("the adapter file holds %v, want the 4 adapter tensors only", f.Names())
	}

	// Another copy of the base: the same base weights, no adapters.
	other := newStore(t)
	forward(t, b, other, nil)
	for v := range store.IterVariables() {
		if IsAdapter(v.Path()) {
			continue
		}
		if o := other.GetVariable(v.Path()); o != nil {
			if err := o.SetValue(v.MustValue()); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := Load(path, other)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rank != 4 || got.Alpha != 8 {
		t.Errorf("loaded config %+v", got)
	}
	close(t, "loaded adapters", want, forward(t, b, other, &got), 0)

	// A base model of another width: the shapes do not fit.
	wide := newStore(t)
	e, _ := model.NewExec(b, wide, func(scope *model.Scope, x *Node) *Node {
		return Dense(scope.In("m").In("q"), x, 9, nil)
	})
	if _, err := e.Call(input); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, wide); err == nil || !strings.Contains(err.Error(), "/m/q/lora/B has shape [8 4], want [9 4]") {
		t.Errorf("loading onto a wider base: %v", err)
	}
	if _, err := Load(path, newStore(t)); err == nil || !strings.Contains(err.Error(), "the model has no /m/q/weights") {
		t.Errorf("loading onto an empty model: %v", err)
	}
	if err := Save(filepath.Join(t.TempDir(), "x"), newStore(t), cfg); err == nil {
		t.Error("saved a store without adapters")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{Rank: 0, Alpha: 1}, {Rank: 1, Alpha: 0}, {Rank: 1, Alpha: 1, Dropout: 1}, {Rank: 1, Alpha: math.Inf(1)}} {
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if c := ChapterConfig(); c.Validate() != nil || c.Scale() != 2 {
		t.Errorf("chapter config %+v, scale %v", c, c.Scale())
	}
}

// TestArithmetic: Config.Arithmetic computes the adapted layers and the
// merge. Functions doing LoRA's arithmetic give the package's results, in
// inference and in training with dropout (the same masks); a wrong
// function shows; the arithmetic is not saved with the adapters.
func TestArithmetic(t *testing.T) {
	b := backend.MustNew()
	var forwards, merges int
	arith := &Arithmetic{
		Forward: func(x, w, bias, a, bm *Node, scale float64) *Node {
			forwards++
			// x·M over x's last axis and M's axis k.
			dot := func(x, m *Node, k int) *Node { return DotGeneral(x, []int{x.Rank() - 1}, nil, m, []int{k}, nil) }
			y := Add(dot(x, w, 0), ExpandLeftToRank(bias, x.Rank()))
			return Add(y, MulScalar(dot(dot(x, a, 1), bm, 1), scale))
		},
		Merge: func(w, a, bm []float32, in, out, r int, scale float64) []float32 {
			merges++
			for i := 0; i < in; i++ {
				for o := 0; o < out; o++ {
					var s float64
					for k := 0; k < r; k++ {
						s += float64(bm[o*r+k]) * float64(a[k*in+i])
					}
					w[i*out+o] += float32(scale * s)
				}
			}
			return w
		},
	}
	store := newStore(t)
	cfg := Config{Rank: 4, Alpha: 8, Dropout: 0.5, Targets: []string{"q", "v"}}
	base := forward(t, b, store, nil)
	custom := cfg
	custom.Arithmetic = arith
	close(t, "fresh adapters through Arithmetic", base, forward(t, b, store, &custom), 1e-6)
	if forwards != 2 {
		t.Errorf("Arithmetic.Forward ran %d times, want 2 (q and v)", forwards)
	}
	for i, p := range adapterPaths(store) {
		setRandom(t, store.GetVariable(p), float32(i))
	}
	want := forward(t, b, store, &cfg)
	close(t, "trained adapters through Arithmetic", want, forward(t, b, store, &custom), 1e-5)

	// Training, with dropout: the same random state gives the same masks.
	train := func(c *Config) []float32 {
		if err := store.SetRNGStateFromSeed(11); err != nil {
			t.Fatal(err)
		}
		e, err := model.NewExec(b, store, func(scope *model.Scope, x *Node) *Node {
			scope.SetTraining(x.Graph(), true)
			return net(scope.In("m"), x, c)
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.Call(input)
		if err != nil {
			t.Fatal(err)
		}
		return tensors.MustCopyFlatData[float32](out[0])
	}
	dropped := train(&cfg)
	close(t, "with dropout, through Arithmetic", dropped, train(&custom), 1e-5)
	if d := math.Abs(float64(dropped[0] - want[0])); d < 1e-6 {
		t.Error("dropout changed nothing: the test would prove nothing")
	}

	// A wrong forward (no scale) shows.
	wrong := cfg
	wrong.Arithmetic = &Arithmetic{Forward: func(x, w, bias, a, bm *Node, scale float64) *Node {
		return arith.Forward(x, w, bias, a, bm, 1)
	}}
	if got := forward(t, b, store, &wrong); math.Abs(float64(got[0]-want[0])) < 1e-4 {
		t.Error("a forward without the scale computed the package's result")
	}

	// Save keeps no arithmetic; Merge runs Arithmetic.Merge.
	path := filepath.Join(t.TempDir(), "a.safetensors")
	if err := Save(path, store, custom); err != nil {
		t.Fatal(err)
	}
	if loaded, err := Load(path, store); err != nil || loaded.Arithmetic != nil {
		t.Errorf("Load: %v, arithmetic %v", err, loaded.Arithmetic)
	}
	if _, err := Merge(store, custom); err != nil {
		t.Fatal(err)
	}
	if merges != 2 {
		t.Errorf("Arithmetic.Merge ran %d times, want 2", merges)
	}
	close(t, "merged through Arithmetic", want, forward(t, b, store, nil), 1e-5)

	short := Arithmetic{Merge: func(w, a, bm []float32, in, out, r int, scale float64) []float32 { return w[:1] }}
	store2 := newStore(t)
	forward(t, b, store2, &cfg)
	bad := cfg
	bad.Arithmetic = &short
	if _, err := Merge(store2, bad); err == nil || !strings.Contains(err.Error(), "returned 1 values, want 48") {
		t.Errorf("Merge with a short result: %v", err)
	}
}
