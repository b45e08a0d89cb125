package bc

import (
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/internal/tensortest"
)

// BenchmarkTrainStepChapter times one training step of the chapter's
// BCPolicy exactly as its PyTorch peer does (../shared/peer): obs 128 →
// 256 → 256 → 256 → 7, batch 64, MSE, Adam 1e-4, the same random batch
// every step. It reports steps/s; `make bench` sets it beside the peer's.
func BenchmarkTrainStepChapter(b *testing.B) {
	be, err := backend.New()
	if err != nil {
		b.Fatal(err)
	}
	p := &Policy{cfg: Config{Hidden: 256, Chunk: 1, StateDim: 128, ActionDim: 7}}
	store := model.NewStore()
	tr := train.NewTrainer(be, store, func(scope *model.Scope, obs *Node) *Node {
		return p.forward(scope, obs, nil)
	}, loss.MeanSquaredError, optimizer.Adam().LearningRate(1e-4).Done(), nil, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	batch := train.Batch{
		Inputs: []*tensors.Tensor{tensortest.Normal(rng, 64, 128)},
		Labels: []*tensors.Tensor{tensortest.Normal(rng, 64, 7)},
	}
	timeSteps(b, tr, batch)
}

// BenchmarkTrainStepVision times one training step of the vision policy
// that notebook 4.2.2 trains on the CPU: bc.CPUVisionConfig (ResNet-18 at
// width 8 with GroupNorm, spatial softmax, 64×64 images), 14 proprioceptive
// inputs, 7 actions, batch 32, MSE, Adam. The batch is random and the same
// every step: it times the network, not the image pipeline.
func BenchmarkTrainStepVision(b *testing.B) {
	be, err := backend.New()
	if err != nil {
		b.Fatal(err)
	}
	v := CPUVisionConfig()
	p := &Policy{cfg: Config{Hidden: 256, Chunk: 1, StateDim: 14, ActionDim: 7, Vision: &v}}
	store := model.NewStore()
	tr := train.NewTrainer(be, store, func(scope *model.Scope, inputs []*Node) *Node {
		return p.forward(scope, inputs[0], inputs[1])
	}, loss.MeanSquaredError, optimizer.Adam().LearningRate(1e-4).Done(), nil, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	images := tensortest.Normal(rng, 32, v.ImageSize, v.ImageSize, 3)
	batch := train.Batch{
		Inputs: []*tensors.Tensor{tensortest.Normal(rng, 32, 14), images},
		Labels: []*tensors.Tensor{tensortest.Normal(rng, 32, 7)},
	}
	timeSteps(b, tr, batch)
}

// timeSteps compiles tr's step on batch, then times b.N steps and reports
// steps/s.
func timeSteps(b *testing.B, tr *train.Trainer, batch train.Batch) {
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
