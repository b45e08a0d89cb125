package ex5chunking

import (
	"github.com/policylab/policylab/lessons/chunking"
	"github.com/policylab/policylab/lessons/sim"
)

// Ensemble is ACT's temporal ensembling (Zhao et al. 2023, section 3.3;
// the chapter's section 4.2.6 on smooth execution): the action to send at
// control step step, from every chunk the executor holds.
//
// chunks are in the order they were predicted, oldest first. Chunk c plans
// the steps c.Start … c.Start+len(c.Actions)−1: c.Actions[step−c.Start] is
// its prediction for step, an action of D values (the same D for every
// chunk). A chunk covers step when c.Start <= step < c.Start+len(c.Actions);
// the others (plans that already ran out) take no part.
//
// Number the chunks that cover step i = 0, 1, 2, … from the OLDEST (i
// counts covering chunks only), weigh them w_i = exp(−m·i), and return the
// weighted mean of their predictions for step, value by value:
//
//	action[d] = Σ_i w_i · a_i[d] / Σ_i w_i      (a_i: chunk i's prediction for step)
//
// m = 0 is the plain mean; a larger m trusts older predictions more (ACT
// uses m = 0.01). Compute in float64, return a new []float32 of D values,
// and do not modify the chunks. Return nil when no chunk covers step.
func Ensemble(chunks []chunking.Chunk, step int, m float64) []float32 {
	panic("TODO: average the covering chunks' predictions for step with weights exp(-m*i), i = 0 for the oldest")
}

// ChapterAction is one call of the chapter's ActionChunkingExecutor.get_action
// (section 4.2.6): the action for this control step.
//
// *buffer is the chunk being executed (nil at the start of an episode: a
// reset sets *buffer = nil and *index = 0), and *index is the position of
// the next action in it. If *buffer is nil, or *index has reached
// executionHorizon or the end of *buffer (a chunk may be shorter than
// executionHorizon), re-plan: call predict(obs) once, store the chunk it
// returns in *buffer and set *index = 0. (Return predict's error, if any.)
// Then return (*buffer)[*index] and advance *index by one. Otherwise do
// not call predict.
func ChapterAction(buffer *[][]float32, index *int, executionHorizon int, obs sim.Obs, predict func(obs sim.Obs) ([][]float32, error)) ([]float32, error) {
	panic("TODO: re-plan when the buffer is nil or used up (executionHorizon actions, or the chunk's end), then return the next action")
}
