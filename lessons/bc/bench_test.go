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
	obs := make([]float32, 64*128)
	act := make([]float32, 64*7)
	for i := range obs {
		obs[i] = float32(rng.NormFloat64())
	}
	for i := range act {
		act[i] = float32(rng.NormFloat64())
	}
	batch := train.Batch{
		Inputs: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(obs, 64, 128)},
		Labels: []*tensors.Tensor{tensors.FromFlatDataAndDimensions(act, 64, 7)},
	}
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
