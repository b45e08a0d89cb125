// Package policy is the interface every policy of the course shares
// (behaviour cloning, diffusion, VLA): what the one training loop trains,
// what the one evaluation loop and the chunking executors run, and what the
// ROS 2 node deploys.
package policy

import (
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/trainer"
)

// Policy is a trainable policy that predicts action chunks.
//
// Training side (trainer.Trainable): Kind, Backend, Store, NumSamples,
// Inputs, LossGraph (the graph of one training step's loss), Meta and
// Restore (config and normalizers travel with the checkpoint).
//
// Acting side (eval.ChunkPolicy): Reset(seed) at the start of an episode and
// PredictActionChunk(obs) → [chunk, ActionDim] actions in the environment's
// units (normalization is the policy's business). eval.Chunked executes
// chunks; package chunking adds smoother executors.
//
// Each policy also has a typed Config with defaults and Validate().
type Policy interface {
	trainer.Trainable
	eval.ChunkPolicy
}
