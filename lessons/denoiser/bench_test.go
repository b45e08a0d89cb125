package denoiser

import (
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

// Benchmark sizes: Diffusion Policy's Push-T keypoint task (horizon 16,
// action 2, condition = 2 observation steps × 20 keypoint values = 40, to
// which the U-Net's FiLM adds its 256-dimensional step embedding) and the
// chapter's MLP (its condition is the obs encoder's 256 features).
const (
	benchHorizon   = 16
	benchActionDim = 2
	benchUNetCond  = 40
	benchMLPCond   = 256
)

// smallCPUUNet is Diffusion Policy's U-Net at a quarter of its width:
// DownDims [64, 128, 256], step embedding 64 (= DownDims[0], as DP's 256).
func smallCPUUNet() UNetConfig {
	return UNetConfig{DownDims: []int{64, 128, 256}, KernelSize: 5, Groups: 8, TimeEmbedDim: 64, CondPredictScale: true}
}

type denoiserFn = func(scope *model.Scope, x, t, c *Node) *Node

func unetFn(cfg UNetConfig) denoiserFn {
	return func(scope *model.Scope, x, t, c *Node) *Node { return UNet1D(scope.In("unet"), cfg, x, t, c) }
}

func mlpFn(cfg MLPConfig) denoiserFn {
	return func(scope *model.Scope, x, t, c *Node) *Node { return MLP(scope.In("mlp"), cfg, x, t, c) }
}

// benchInputs is a random batch: x [batch, 16, 2], t [batch], c [batch, cond],
// and a noise target [batch, 16, 2].
func benchInputs(batch, cond int) (inputs []*tensors.Tensor, target *tensors.Tensor) {
	rng := rand.New(rand.NewPCG(1, 2))
	ts := make([]float32, batch)
	for i := range ts {
		ts[i] = float32(rng.IntN(100))
	}
	return []*tensors.Tensor{
		randTensor(rng, batch, benchHorizon, benchActionDim),
		tensors.FromFlatDataAndDimensions(ts, batch),
		randTensor(rng, batch, cond),
	}, randTensor(rng, batch, benchHorizon, benchActionDim)
}

// benchForward times one inference call (model.NewExec, batch 1): what
// each of a sampler's denoising steps costs.
func benchForward(b *testing.B, fn denoiserFn, cond int) {
	be := getBackend(b)
	e, err := model.NewExec(be, model.NewStore(), fn)
	if err != nil {
		b.Fatal(err)
	}
	in, _ := benchInputs(1, cond)
	args := []any{in[0], in[1], in[2]}
	if _, err := e.Call(args...); err != nil { // compile and initialize
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Call(args...); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkForwardUNetDP(b *testing.B) {
	benchForward(b, unetFn(DefaultUNetConfig()), benchUNetCond)
}

func BenchmarkForwardUNetSmall(b *testing.B) {
	benchForward(b, unetFn(smallCPUUNet()), benchUNetCond)
}

func BenchmarkForwardMLP(b *testing.B) {
	benchForward(b, mlpFn(DefaultMLPConfig()), benchMLPCond)
}

// benchTrain times one Adam step (lr 1e-4, MSE on the noise) at batch 64.
func benchTrain(b *testing.B, fn denoiserFn, cond int) {
	be := getBackend(b)
	tr := train.NewTrainer(be, model.NewStore(), fn, loss.MeanSquaredError,
		optimizer.Adam().LearningRate(1e-4).Done(), nil, nil)
	in, target := benchInputs(64, cond)
	batch := train.Batch{Inputs: in, Labels: []*tensors.Tensor{target}}
	if _, err := tr.TrainStep(batch); err != nil { // compile
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tr.TrainStep(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
}

func BenchmarkTrainStepMLP(b *testing.B) {
	benchTrain(b, mlpFn(DefaultMLPConfig()), benchMLPCond)
}

func BenchmarkTrainStepUNetSmall(b *testing.B) {
	benchTrain(b, unetFn(smallCPUUNet()), benchUNetCond)
}
