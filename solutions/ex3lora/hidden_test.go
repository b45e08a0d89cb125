//go:build grading

package ex3lora

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/policylab/policylab/lessons/lora"
	"github.com/policylab/policylab/lessons/trainer"
	"github.com/policylab/policylab/lessons/vla"
)

// hiddenNet is x [2, 3, 5] → q (4) → tanh → v (6), both lora.Dense.
func hiddenNet(scope *model.Scope, x *graph.Node, cfg *lora.Config) *graph.Node {
	h := graph.Tanh(lora.Dense(scope.In("q"), x, 4, cfg))
	return lora.Dense(scope.In("v"), h, 6, cfg)
}

var hiddenInput = tensors.FromFlatDataAndDimensions(RandomFloats(77, 2*3*5), 2, 3, 5)

func runHiddenNet(t *testing.T, store *model.Store, cfg *lora.Config) []float32 {
	t.Helper()
	out, err := model.ExecOnce(Backend(t), store, func(scope *model.Scope, x *graph.Node) *graph.Node {
		return hiddenNet(scope.In("m"), x, cfg)
	}, hiddenInput)
	if err != nil {
		t.Fatalf("lora.Dense with LoRAForward: %s", shorten(err))
	}
	return tensors.MustCopyFlatData[float32](out)
}

// randomizeAll fills every float variable of store with random values.
func randomizeAll(t *testing.T, store *model.Store, seed uint64) {
	t.Helper()
	for v := range store.IterVariables() {
		if !v.Shape().DType.IsFloat() {
			continue
		}
		if err := v.SetValue(tensors.FromFlatDataAndDimensions(RandomFloats(seed, v.Shape().Size()), v.Shape().Dimensions...)); err != nil {
			t.Fatal(err)
		}
		seed++
	}
}

func newHiddenStore(t *testing.T) *model.Store {
	s := model.NewStore()
	if err := s.SetRNGStateFromSeed(5); err != nil {
		t.Fatal(err)
	}
	return s
}

func closeTo(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*math.Max(1, math.Abs(float64(want[i]))) {
			t.Fatalf("%s: value %d = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// TestHiddenMatchesLoraDense: a two-layer model of lora.Dense layers
// (inputs [2, 3, 5]: a sequence), random weights and adapters, rank 3 and
// α 4.5 (scale 1.5): the student's LoRAForward in lora.Dense computes what
// lessons/lora computes; and on random layers of other sizes LoRAForward
// matches the float64 reference.
func TestHiddenMatchesLoraDense(t *testing.T) {
	store := newHiddenStore(t)
	cfg := lora.Config{Rank: 3, Alpha: 4.5}
	runHiddenNet(t, store, &cfg) // creates the variables
	randomizeAll(t, store, 100)
	want := runHiddenNet(t, store, &cfg)
	student := cfg
	student.Arithmetic = Functions{Forward: LoRAForward}.Arithmetic()
	closeTo(t, "lora.Dense with LoRAForward against lessons/lora (random weights, x [2 3 5], rank 3, scale 1.5)", runHiddenNet(t, store, &student), want, 1e-5)
	for i, c := range []struct {
		lead       []int
		in, out, r int
		scale      float64
	}{{[]int{7}, 9, 3, 5, 0.25}, {[]int{2, 2, 2}, 3, 8, 1, 16}, {[]int{1}, 1, 1, 1, 2}} {
		CheckForward(t, LoRAForward, RandomLayer(uint64(200+10*i), c.lead, c.in, c.out, c.r, c.scale, false), 1e-5,
			"y = x·W + bias + scale·(x·Aᵀ)·Bᵀ")
	}
}

// TestHiddenMergeMatchesUnmerged: after lora.Merge with the student's
// LoRAMerge, the model without adapters computes what the adapted model
// (the student's LoRAForward) computed; and LoRAMerge matches lessons/lora's
// merge on random non-square layers.
func TestHiddenMergeMatchesUnmerged(t *testing.T) {
	store := newHiddenStore(t)
	f := Functions{LoRAForward, LoRAMerge}
	cfg := f.Config(3)
	cfg.Dropout = 0
	runHiddenNet(t, store, &cfg)
	randomizeAll(t, store, 300)
	adapted := runHiddenNet(t, store, &cfg)
	if _, err := lora.Merge(store, cfg); err != nil {
		t.Fatalf("lora.Merge with LoRAMerge: %v", err)
	}
	closeTo(t, "the merged model (LoRAMerge) against the adapted one (LoRAForward)", runHiddenNet(t, store, nil), adapted, 1e-4)

	for i, c := range []struct{ in, out, r int }{{5, 3, 2}, {3, 7, 4}, {1, 4, 1}} {
		w, a, b := RandomFloats(uint64(400+i), c.in*c.out), RandomFloats(uint64(410+i), c.r*c.in), RandomFloats(uint64(420+i), c.out*c.r)
		want := slices.Clone(w)
		for x := 0; x < c.in; x++ {
			for o := 0; o < c.out; o++ {
				s := 0.0
				for k := 0; k < c.r; k++ {
					s += float64(b[o*c.r+k]) * float64(a[k*c.in+x])
				}
				want[x*c.out+o] += float32(1.75 * s)
			}
		}
		got := RunMerge(t, LoRAMerge, slices.Clone(w), a, b, c.in, c.out, c.r, 1.75)
		closeTo(t, fmt.Sprintf("LoRAMerge(random W, A, B, in %d, out %d, r %d, scale 1.75) against W + scale·(B·A)ᵀ", c.in, c.out, c.r), got, want, 1e-5)
	}
}

// TestHiddenOnlyAdaptersTrain: the course's VLA adapted with the
// student's functions (vla.Adapt: base frozen): the loss has gradients
// with respect to the adapters alone, not zero, and 20 training steps
// change every adapter and no other weight of the model.
func TestHiddenOnlyAdaptersTrain(t *testing.T) {
	b := Backend(t)
	dir, err := Pretrained()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s := QuickSetup()
	p, trainable, total, err := vla.Adapt(b, dir, Functions{LoRAForward, LoRAMerge}.Method(s.Rank))
	if err != nil {
		t.Fatalf("vla.Adapt with LoRAForward: %v", err)
	}
	if want := 2 * s.Rank * (32 + 32); trainable != want || total <= trainable {
		t.Errorf("vla.Adapt: %d of %d parameters trainable, want %d (rank %d on q and v of one block of width 32)", trainable, total, want, s.Rank)
	}
	if err := Reseed(p.Store(), 1); err != nil {
		t.Fatal(err)
	}
	ds, err := vla.Demos([]vla.Task{vla.HeldOutTask()}, 6, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Fit(ds, 0.2, 1); err != nil {
		t.Fatal(err)
	}
	before := map[string][]float32{}
	for v := range p.Store().IterVariables() {
		if strings.HasPrefix(v.Path(), "/vla/") {
			before[v.Path()] = tensors.MustCopyFlatData[float32](v.MustValue())
		}
	}
	tc := trainer.DefaultConfig()
	tc.Steps, tc.BatchSize, tc.WarmupSteps, tc.LearningRate = 20, 16, 0, 1e-2
	if _, err := trainer.Train(p, tc); err != nil {
		t.Fatalf("training the adapters with LoRAForward: %v", err)
	}
	changed := 0
	for v := range p.Store().IterVariables() {
		old, ok := before[v.Path()]
		if !ok {
			continue
		}
		now := tensors.MustCopyFlatData[float32](v.MustValue())
		same := slices.Equal(old, now)
		if lora.IsAdapter(v.Path()) && same {
			t.Errorf("adapter %s did not change in 20 training steps: no gradient reaches it", v.Path())
		}
		if !lora.IsAdapter(v.Path()) && !same {
			t.Errorf("frozen base weight %s changed", v.Path())
		}
		if !same {
			changed++
		}
	}
	if changed != 4 {
		t.Errorf("%d variables changed, want the 4 adapter matrices (A and B of q and v)", changed)
	}
	// The gradients over the frozen model, now that B is no longer 0:
	// adapters only, none zero.
	idx := []int{0, 1, 2, 3}
	in, err := p.Inputs(idx, false)
	if err != nil {
		t.Fatal(err)
	}
	args := make([]any, len(in))
	for i := range in {
		args[i] = in[i]
	}
	var paths []string
	grads, err := model.ExecOnceN(b, p.Store(), func(scope *model.Scope, nodes []*graph.Node) []*graph.Node {
		loss := p.LossGraph(scope.In("vla"), nodes)
		g := scope.BuildTrainableVariablesGradientsGraph(loss)
		for v := range scope.IterVariables() {
			if v.Trainable && v.InUseByGraph(loss.Graph()) {
				paths = append(paths, v.Path())
			}
		}
		return g
	}, args...)
	if err != nil {
		t.Fatalf("gradients: %s", shorten(err))
	}
	for i, path := range paths {
		if !lora.IsAdapter(path) {
			t.Errorf("%s is trainable in the frozen model", path)
		}
		norm := 0.0
		for _, x := range tensors.MustCopyFlatData[float32](grads[i]) {
			norm += float64(x) * float64(x)
		}
		if norm == 0 || math.IsNaN(norm) {
			t.Errorf("d loss / d %s: norm² %v, want finite and not 0", path, norm)
		}
	}
}

// TestHiddenFineTuneImproves: LoRA fine-tuning of the course's pretrained
// VLA with the student's functions (QuickSetup: rank 4, 100 steps, 3.4%
// of the parameters) on the held-out task "reach between the red and
// blue targets" cuts the loss on demonstrations it never trained on by at
// least 40% (the reference: 62%); merging the adapters (LoRAMerge, via
// vla.Policy.Merge) leaves the policy's actions as they were.
func TestHiddenFineTuneImproves(t *testing.T) {
	b := Backend(t)
	dir, err := Pretrained()
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	r, err := FineTune(b, Functions{LoRAForward, LoRAMerge}, QuickSetup(), dir, "student")
	if err != nil {
		t.Fatalf("LoRA fine-tuning with LoRAForward: %v", err)
	}
	t.Log(r)
	if !(r.After <= 0.6*r.Before) {
		t.Errorf("LoRA fine-tuning (rank 4, 100 steps) took the held-out loss from %.4g to %.4g, want at most 60%% of it (%.4g)", r.Before, r.After, 0.6*r.Before)
	}
	d, err := r.MergeChange(5)
	if err != nil {
		t.Fatalf("merging with LoRAMerge: %v", err)
	}
	if d > 1e-3 {
		t.Errorf("merging the adapters (LoRAMerge) changed the policy's actions by up to %g, want float rounding (1e-3 at most)", d)
	}
}
