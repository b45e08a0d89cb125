package ex5chunking

import (
	"math/rand/v2"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/sim"
)

// ArmPlanner is a chunk policy for arm REACH that needs no training, so the
// exercise runs in seconds: it plans a chunk by rolling the scripted expert
// forward, assuming the arm reaches each target it is sent, and adds what
// a learned policy adds to its plans, an error. Each chunk is offset by its
// own random joint offset (normal, Noise radians per joint), drawn from a
// generator seeded by the episode's seed. Successive chunks therefore
// disagree, as the samples of a diffusion policy or the predictions of a
// BC policy do: the chapter's executor jumps where it switches chunks, and
// temporal ensembling averages the disagreement out.
//
// It is not safe for concurrent use: make one per worker (NewArmPlanner in
// chunking.Setup.Policy).
type ArmPlanner struct {
	N     int     // actions per chunk
	Noise float64 // standard deviation of a chunk's offset per joint, in radians
	// Speed scales the expert's step (1: the expert's pace). A slower
	// planner makes episodes long enough for several chunks.
	Speed float64
	x     sim.Expert
	rng   *rand.Rand
}

// NewArmPlanner returns a planner of n-action chunks with the given noise.
func NewArmPlanner(n int, noise float64) *ArmPlanner {
	return &ArmPlanner{N: n, Noise: noise, Speed: 0.4, x: sim.ArmFactory(arm.DefaultConfig(arm.Reach), false).NewExpert(), rng: rand.New(rand.NewPCG(0, 7))}
}

// Reset implements eval.ChunkPolicy.
func (p *ArmPlanner) Reset(seed int64) {
	p.x.Reset(seed)
	p.rng = rand.New(rand.NewPCG(uint64(seed), 7))
}

// PredictActionChunk implements eval.ChunkPolicy: [N][7] joint targets.
func (p *ArmPlanner) PredictActionChunk(obs sim.Obs) ([][]float32, error) {
	var off [7]float32
	for j := range off {
		off[j] = float32(p.Noise * p.rng.NormFloat64())
	}
	o := sim.Obs{State: append([]float32(nil), obs.State...), Instruction: obs.Instruction}
	out := make([][]float32, p.N)
	for i := range out {
		a := p.x.Act(o)
		out[i] = make([]float32, len(a))
		for j := range a {
			a[j] = o.State[j] + float32(p.Speed)*(a[j]-o.State[j])
			out[i][j] = a[j] + off[j]
		}
		// The arm at the target it was sent, at rest: what the expert
		// sees next.
		var q [7]float64
		for j := range q {
			q[j] = float64(a[j])
			o.State[j], o.State[7+j] = a[j], 0
		}
		ee := arm.FK(q).EE.Pos
		for k := 0; k < 3; k++ {
			o.State[14+k] = float32(ee[k])
			o.State[23+k] = o.State[17+k] - float32(ee[k])
			if o.State[31] > 0 {
				o.State[26+k] = o.State[20+k] - float32(ee[k])
			}
		}
	}
	return out, nil
}
