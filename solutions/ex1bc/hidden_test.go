//go:build grading

package ex1bc

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/policylab/policylab/lessons/bc"
	"github.com/policylab/policylab/lessons/checkpoint"
	"github.com/policylab/policylab/lessons/trainer"
)

// TestHiddenLossReference: MSELoss on random tensors of several shapes
// (rank 2 and 3, one element) against the course's MSE, value and
// gradient with respect to the prediction (2(pred − target)/N).
func TestHiddenLossReference(t *testing.T) {
	for i, dims := range [][]int{{64, 7}, {8, 4, 7}, {1, 1}, {3, 5}} {
		n := 1
		for _, d := range dims {
			n *= d
		}
		pred, target := RandomFloats(uint64(10+i), n), RandomFloats(uint64(20+i), n)
		for j := range pred {
			pred[j] *= 3
		}
		got, gdims := LossValue(t, MSELoss, dims, pred, target)
		if len(gdims) != 0 {
			t.Fatalf("MSELoss(random pred, target of shape %v) has shape %v, want a scalar: the mean over every axis", dims, gdims)
		}
		want := 0.0
		for j := range pred {
			d := float64(pred[j] - target[j])
			want += d * d
		}
		want /= float64(n)
		if math.Abs(got-want) > 1e-5*math.Max(1, want) {
			t.Fatalf("MSELoss(random pred, target of shape %v) = %v, want %v (mean over all %d elements of (pred − target)²)", dims, got, want, n)
		}
		grads := exec(t, "MSELoss", func() ([]*tensors.Tensor, error) {
			return graph.ExecOnceN(Backend(t), func(p, q *graph.Node) []*graph.Node {
				return graph.Gradient(GuardLoss(MSELoss)(p, q), p)
			}, tensors.FromFlatDataAndDimensions(pred, dims...), tensors.FromFlatDataAndDimensions(target, dims...))
		})
		g := tensors.MustCopyFlatData[float32](grads[0])
		for j := range g {
			w := 2 * float64(pred[j]-target[j]) / float64(n)
			if math.Abs(float64(g[j])-w) > 1e-5 {
				t.Fatalf("d MSELoss / d pred[%d] (shape %v) = %v, want 2(pred − target)/N = %v", j, dims, g[j], w)
			}
		}
	}
}

// TestHiddenNetworkMatchesChapter: with the same (random, non-zero)
// weights, PolicyNetwork computes what the course's bc.MLPForward computes,
// on inputs where every ReLU cuts somewhere and outputs are negative too.
func TestHiddenNetworkMatchesChapter(t *testing.T) {
	const batch, in, hidden, out = 6, 14, 24, 21
	store := NewStore(t, 9)
	obs := RandomFloats(30, batch*in)
	for i := range obs {
		obs[i] *= 2
	}
	RunNetwork(t, PolicyNetwork, store, batch, in, hidden, out, obs) // creates the variables
	if got, want := Variables(store, "/net/"), ChapterVariables(in, hidden, out); len(got) != len(want) {
		t.Fatalf("PolicyNetwork made %v, want %v", got, want)
	}
	k := uint64(40)
	for v := range store.IterVariables() {
		if !v.Shape().DType.IsFloat() {
			continue
		}
		vals := RandomFloats(k, v.Shape().Size())
		k++
		for i := range vals {
			vals[i] *= 0.6
		}
		if err := v.SetValue(tensors.FromFlatDataAndDimensions(vals, v.Shape().Dimensions...)); err != nil {
			t.Fatal(err)
		}
	}
	got := RunNetwork(t, PolicyNetwork, store, batch, in, hidden, out, obs)
	ref := RunNetwork(t, bc.MLPForward, store, batch, in, hidden, out, obs)
	neg := 0
	for i := range ref.Values {
		if ref.Values[i] < 0 {
			neg++
		}
		if d := math.Abs(float64(got.Values[i] - ref.Values[i])); d > 1e-4*math.Max(1, math.Abs(float64(ref.Values[i]))) {
			t.Fatalf("PolicyNetwork(random obs [%d, %d], random weights): output %d (row %d) = %v, want %v (the chapter's encoder 2×(Linear, ReLU), head Linear, ReLU, Linear)", batch, in, i, i/out, got.Values[i], ref.Values[i])
		}
	}
	if neg == 0 {
		t.Fatal("the reference has no negative output: this test proves nothing")
	}
}

// TestHiddenChunkCheckpoint: the course's policy with the student's
// functions trains on action chunks (4 actions), writes a checkpoint, and
// bc.Load (the chapter's network) reads it back into a policy that acts
// the same.
func TestHiddenChunkCheckpoint(t *testing.T) {
	b := Backend(t)
	s := QuickSetup()
	s.Demos, s.Hidden, s.Chunk, s.Steps, s.BatchSize = 10, 32, 4, 20, 16
	ds, err := Demos(s)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPolicy(b, Functions{PolicyNetwork, MSELoss}, s)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Fit(ds, 0.2, 1); err != nil {
		t.Fatal(err)
	}
	tc := TrainConfig(s)
	tc.Dir = filepath.Join(t.TempDir(), "ckpt")
	h, err := trainer.Train(p, tc)
	if err != nil {
		t.Fatalf("training the course's BC policy with PolicyNetwork and MSELoss (chunks of 4): %v", err)
	}
	if !(h.FinalTrainLoss() < h.TrainLoss[0]) {
		t.Errorf("loss %v → %v in %d steps: it did not fall", h.TrainLoss[0], h.FinalTrainLoss(), s.Steps)
	}
	dir, err := checkpoint.Latest(tc.Dir)
	if err != nil {
		t.Fatal(err)
	}
	q, err := bc.Load(b, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	states := [][]float32{ds.Episodes[0].States[0], ds.Episodes[1].States[2]}
	a, err := p.PredictBatch(states)
	if err != nil {
		t.Fatal(err)
	}
	c, err := q.PredictBatch(states)
	if err != nil {
		t.Fatalf("bc.Load of the trained checkpoint: %v (variables named as the chapter's network's?)", err)
	}
	if len(a[0]) != 4 || len(a[0][0]) != 7 {
		t.Fatalf("chunk %d×%d, want 4×7", len(a[0]), len(a[0][0]))
	}
	for i := range a {
		for k := range a[i] {
			for j := range a[i][k] {
				if math.Abs(float64(a[i][k][j]-c[i][k][j])) > 1e-4 {
					t.Fatalf("the checkpoint loaded with the chapter's network acts differently: action %d of chunk %d: %v, trained policy %v", k, i, c[i][k], a[i][k])
				}
			}
		}
	}
}

// TestHiddenTrainReach: the course's BC policy with the student's
// functions, trained on 100 noise-injected demonstrations (QuickSetup),
// reaches the target in at least 90% of 50 unseen seeded episodes of arm
// REACH (the reference: 100%).
func TestHiddenTrainReach(t *testing.T) {
	r, err := Train(Backend(t), Functions{PolicyNetwork, MSELoss}, QuickSetup(), nil, "student")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", Table(r))
	if r.Eval.SuccessRate < 0.9 {
		t.Errorf("BC with PolicyNetwork and MSELoss on arm REACH (%d demos, %d steps): success %.0f%% over %d episodes, want >= 90%%",
			r.Demos, len(r.History.TrainLoss), 100*r.Eval.SuccessRate, len(r.Eval.Episodes))
	}
}
