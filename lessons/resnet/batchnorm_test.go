package resnet

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// TestBatchNormalizationTraining checks, on x [4, 2] (4 examples, 2
// channels), the training-mode output, the PyTorch running-statistics update
// and that the gradient goes through the batch statistics.
func TestBatchNormalizationTraining(t *testing.T) {
	b := getBackend(t)
	// Channel 0: {1, 3, 5, 7}: mean 4, biased variance 5, unbiased 20/3.
	// Channel 1: {2, 2, 4, 0}: mean 2, biased variance 2, unbiased 8/3.
	x := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3, 2, 5, 4, 7, 0}, 4, 2)
	store := model.NewStore()
	e := model.MustNewExec(b, store, func(scope *model.Scope, x *Node) []*Node {
		scope.SetTraining(x.Graph(), true)
		y := BatchNormalization(scope.In("bn"), x, true)
		// loss = Σ y · r for fixed r: ∂loss/∂x sums to 0 over the batch for
		// every channel, since y does not change when a channel is shifted.
		r := Square(Iota(x.Graph(), x.Shape(), 0))
		grad := Gradient(ReduceAllSum(Mul(y, r)), x)[0]
		return []*Node{y, ReduceSum(grad, 0)}
	})
	outs := e.MustCall(x)
	y := outs[0].Value().([][]float32)
	s0, s1 := 1/math.Sqrt(5+Epsilon), 1/math.Sqrt(2+Epsilon)
	want := [][2]float64{{-3 * s0, 0}, {-1 * s0, 0}, {1 * s0, 2 * s1}, {3 * s0, -2 * s1}}
	for n := range want {
		for c := 0; c < 2; c++ {
			if math.Abs(float64(y[n][c])-want[n][c]) > 1e-5 {
				t.Errorf("y[%d][%d] = %v, want %v", n, c, y[n][c], want[n][c])
			}
		}
	}
	for c, g := range outs[1].Value().([]float32) {
		if math.Abs(float64(g)) > 1e-4 {
			t.Errorf("channel %d: Σ_batch ∂loss/∂x = %v, want 0 (gradient must flow through the batch statistics)", c, g)
		}
	}
	mean := store.GetVariable("/bn/mean").MustValue().Value().([]float32)
	variance := store.GetVariable("/bn/variance").MustValue().Value().([]float32)
	wantMean := []float64{0.1 * 4, 0.1 * 2}
	wantVar := []float64{0.9 + 0.1*20.0/3, 0.9 + 0.1*8.0/3}
	for c := 0; c < 2; c++ {
		if math.Abs(float64(mean[c])-wantMean[c]) > 1e-6 || math.Abs(float64(variance[c])-wantVar[c]) > 1e-6 {
			t.Errorf("running stats channel %d: mean %v var %v, want %v %v", c, mean[c], variance[c], wantMean[c], wantVar[c])
		}
	}

	// training=false (or an evaluation graph): running statistics, unchanged.
	for _, graphTraining := range []bool{true, false} {
		e2 := model.MustNewExec(b, store, func(scope *model.Scope, x *Node) *Node {
			scope.SetTraining(x.Graph(), graphTraining)
			return BatchNormalization(scope.In("bn"), x, !graphTraining)
		})
		y2 := e2.MustCall1(x).Value().([][]float32)
		for n := 0; n < 4; n++ {
			for c := 0; c < 2; c++ {
				xv := float64(x.Value().([][]float32)[n][c])
				w := (xv - wantMean[c]) / math.Sqrt(wantVar[c]+Epsilon)
				if math.Abs(float64(y2[n][c])-w) > 1e-5 {
					t.Errorf("inference y[%d][%d] = %v, want %v", n, c, y2[n][c], w)
				}
			}
		}
	}
	if m := store.GetVariable("/bn/mean").MustValue().Value().([]float32); float64(m[0]) != float64(mean[0]) {
		t.Errorf("inference changed the running mean: %v", m)
	}
}
