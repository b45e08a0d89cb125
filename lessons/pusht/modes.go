package pusht

import "fmt"

// ExpertRun is one expert episode from a fixed start: the agent's path and
// how the expert went round the block.
type ExpertRun struct {
	Seed      int64
	Path      []Vec   // agent position after reset and after each step (px)
	Coverage  float64 // final coverage
	MaxCov    float64 // best coverage over the episode
	Success   bool
	FirstSide int // first detour: −1 left (counter-clockwise on screen), +1 right, 0 none
}

// ExpertModes runs the scripted expert from the same start state once per
// seed (the seed only drives the expert's coin), for at most maxSteps
// steps. From a start where going round either side is about as long, the
// runs split between left and right: the multimodality that defeats
// averaging policies (behaviour cloning with a mean-squared-error loss) and
// that diffusion policies capture.
//
// start: [agent x, agent y, block x, block y, block angle] as in Obs.State.
func ExpertModes(cfg Config, start [5]float64, seeds []int64, maxSteps int) ([]ExpertRun, error) {
	env, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if maxSteps <= 0 {
		return nil, fmt.Errorf("pusht: ExpertModes maxSteps = %d, must be > 0", maxSteps)
	}
	x := NewExpert()
	runs := make([]ExpertRun, 0, len(seeds))
	for _, seed := range seeds {
		o := env.ResetTo(start)
		x.Reset(seed)
		r := ExpertRun{Seed: seed, Path: []Vec{env.AgentPos()}}
		for i := 0; i < maxSteps; i++ {
			var done bool
			var info Info
			o, _, done, info = env.Step(x.Act(o))
			r.Path = append(r.Path, env.AgentPos())
			r.MaxCov = max(r.MaxCov, info.Coverage)
			r.Success = r.Success || info.Success
			if done {
				break
			}
		}
		r.Coverage = env.Coverage()
		r.FirstSide = x.FirstSide
		runs = append(runs, r)
	}
	return runs, nil
}

// TieStart is a start state where the expert's two ways round the block are
// about equally long: the agent sits on the far side of the block from the
// face the expert wants to push.
var TieStart = [5]float64{256, 420, 256, 200, 0}

// XY is the agent's path as (x, y) pairs in pixels (y grows downward, as in
// the rendered image).
func (r ExpertRun) XY() [][2]float64 {
	xy := make([][2]float64, len(r.Path))
	for i, p := range r.Path {
		xy[i] = [2]float64{p.X, p.Y}
	}
	return xy
}

// SideName names FirstSide: "left", "right" or "straight".
func (r ExpertRun) SideName() string {
	switch r.FirstSide {
	case -1:
		return "left"
	case 1:
		return "right"
	}
	return "straight"
}
