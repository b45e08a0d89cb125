package ex1bc

import (
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// PolicyNetwork is the chapter's BCPolicy network (section 4.2.2, "Behavior
// Cloning"): an MLP from a batch of normalized observations
// obs [batch, obsDim] to a batch of predictions [batch, out], where out is
// the number of action values the policy predicts (7 joint targets per
// action, times the actions per prediction).
//
//	encoder: Linear(obsDim → hidden), ReLU, Linear(hidden → hidden), ReLU
//	head:    Linear(hidden → hidden), ReLU, Linear(hidden → out)
//
// Linear(n → m) is x·W + b with weights W [n, m] and biases b [m]. The
// last layer has no ReLU: normalized actions are negative too.
//
// Build each linear layer with layers.DenseWithBias(s, x, m) (package
// "github.com/gomlx/gomlx/ml/layers"), in its own sub-scope s of scope
// named as the course's policy names them, so that checkpoints load with
// bc.Load: scope.In("encoder").In("0") and .In("1"), then
// scope.In("head").In("0") and .In("1"). (DenseWithBias keeps its
// variables "dense/weights" [n, m] and "dense/biases" [m] in s.) ReLU is
// activation.Relu (package "github.com/gomlx/gomlx/ml/layers/activation").
// Scope.In may be called once per name on a given scope: keep the encoder
// and head scopes in variables.
func PolicyNetwork(scope *model.Scope, obs *graph.Node, hidden, out int) *graph.Node {
	panic("TODO: write the chapter's MLP: encoder (2 × Linear+ReLU), head (Linear+ReLU, Linear)")
}

// MSELoss is the chapter's loss, PyTorch's nn.MSELoss(): the mean over
// every element of the squared difference between the predicted and the
// demonstrated actions,
//
//	loss = (1/N) Σ (pred − target)²,  N = the number of elements,
//
// for pred and target of the same shape ([batch, out], or any other). It
// returns a scalar (a node of rank 0). Useful: graph.Sub, graph.Square,
// graph.ReduceAllMean.
func MSELoss(pred, target *graph.Node) *graph.Node {
	panic("TODO: return the mean over all elements of (pred - target)²")
}
