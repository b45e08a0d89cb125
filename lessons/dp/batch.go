package dp

import (
	"fmt"
	"math/rand/v2"

	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/sim"
)

// Batch acts for n episodes at once (an eval.BatchPolicy): each episode
// keeps its own Actor (observation window, random stream seeded by its
// reset seed), and the episodes queried at a step are denoised as one
// batch, one network call per denoising step for all of them.
//
// Each episode's initial noise comes from its own stream, so with a
// deterministic sampler (DDIM with η = 0, the default) an episode's chunk
// does not depend on which others share its batch. The noise of
// stochastic samplers (DDPM, η > 0) is drawn for the whole batch from the
// first queried episode's stream: deterministic for a run, but not the
// same draws as sampling that episode alone.
type Batch struct {
	p      *Policy
	actors []*Actor
}

// NewBatch returns a Batch of n fresh actors.
func (p *Policy) NewBatch(n int) *Batch {
	b := &Batch{p: p, actors: make([]*Actor, n)}
	for i := range b.actors {
		b.actors[i] = p.NewActor()
	}
	return b
}

// Reset implements eval.BatchPolicy.
func (b *Batch) Reset(i int, seed int64) { b.actors[i].Reset(seed) }

// Observe implements eval.BatchPolicy.
func (b *Batch) Observe(i int, obs sim.Obs) { b.actors[i].Observe(obs) }

// PredictChunks implements eval.BatchPolicy: a chunk of Tp actions for each
// queried episode, [len(episodes)][Tp][A] (see Actor.PredictActionChunk).
func (b *Batch) PredictChunks(episodes []int, obs []sim.Obs) ([][][]float32, error) {
	if len(episodes) != len(obs) || len(episodes) == 0 {
		return nil, fmt.Errorf("dp: PredictChunks got %d episodes and %d observations", len(episodes), len(obs))
	}
	c := b.p.cfg
	n := len(episodes)
	var cond []float32
	x := make([]float32, 0, n*c.PredHorizon*c.ActionDim)
	for k, i := range episodes {
		if i < 0 || i >= len(b.actors) {
			return nil, fmt.Errorf("dp: PredictChunks: episode %d of a batch of %d", i, len(b.actors))
		}
		a := b.actors[i]
		a.Observe(obs[k])
		win, frames, err := a.window()
		if err != nil {
			return nil, fmt.Errorf("dp: episode %d: %w", i, err)
		}
		row, err := b.p.condition1(win, frames)
		if err != nil {
			return nil, fmt.Errorf("dp: episode %d: %w", i, err)
		}
		cond = append(cond, row...)
		for j := 0; j < c.PredHorizon*c.ActionDim; j++ {
			x = append(x, float32(a.rng.NormFloat64()))
		}
	}
	rng := rand.New(rand.NewPCG(b.actors[episodes[0]].rng.Uint64(), uint64(n)))
	return b.p.run(cond, n, x, rng, nil)
}

var _ eval.BatchPolicy = (*Batch)(nil)
