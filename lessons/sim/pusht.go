package sim

import (
	"fmt"
	"image"
	"math"

	"github.com/policylab/policylab/lessons/pusht"
)

// PushTObs picks Push-T's observation vector.
type PushTObs int

const (
	// PushTKeypoints is the 20-D keypoint observation of Diffusion Policy's
	// low-dimensional Push-T (9 block keypoints then the agent's x, y, in
	// pixels): the one its state-based scores use.
	PushTKeypoints PushTObs = iota
	// PushTState is [agent x, agent y, block x, block y, block angle].
	PushTState
)

// PushTInstruction is Push-T's task, for language-conditioned datasets.
const PushTInstruction = "push the T onto the target"

var (
	pushtKeypointNames = func() []string {
		var n []string
		for i := range pusht.KeypointsLocal {
			n = append(n, fmt.Sprintf("kp%d.x", i), fmt.Sprintf("kp%d.y", i))
		}
		return append(n, "agent.x", "agent.y")
	}()
	pushtStateNames = []string{"agent.x", "agent.y", "block.x", "block.y", "block.angle"}
)

// PushT adapts Push-T (package pusht) to Env. Action: the agent's target
// position (x, y) in pixels, in [0, 512]. Score is the coverage of the goal
// (an episode scores its maximum, as in Diffusion Policy's evaluation).
type PushT struct {
	env    *pusht.Env
	spec   Spec
	kind   PushTObs
	images bool
}

// NewPushT makes a Push-T environment with the given observation vector;
// images turns on the 96x96 image in every observation.
func NewPushT(cfg pusht.Config, kind PushTObs, images bool) (*PushT, error) {
	e, err := pusht.New(cfg)
	if err != nil {
		return nil, err
	}
	s := Spec{
		Name: "pusht", ImageSize: 96, ControlHz: float64(cfg.ControlHz), MaxSteps: cfg.MaxSteps, ScoreName: "coverage",
		ActionNames: []string{"target.x", "target.y"},
		ActionLow:   []float32{0, 0},
		ActionHigh:  []float32{pusht.WorkspaceSize, pusht.WorkspaceSize},
	}
	switch kind {
	case PushTKeypoints:
		s.StateNames = pushtKeypointNames
	case PushTState:
		s.StateNames = pushtStateNames
		s.Name = "pusht-state"
	default:
		return nil, fmt.Errorf("sim: unknown Push-T observation kind %d", kind)
	}
	return &PushT{env: e, spec: s, kind: kind, images: images}, nil
}

// Spec implements Env.
func (p *PushT) Spec() Spec { return p.spec }

// Raw is the wrapped Push-T environment.
func (p *PushT) Raw() *pusht.Env { return p.env }

func (p *PushT) obs(o pusht.Obs) Obs {
	var v []float32
	if p.kind == PushTKeypoints {
		v = make([]float32, len(o.Keypoints))
		for i, x := range o.Keypoints {
			v[i] = float32(x)
		}
	} else {
		v = make([]float32, len(o.State))
		for i, x := range o.State {
			v[i] = float32(x)
		}
	}
	out := Obs{State: v, Instruction: PushTInstruction}
	if p.images {
		out.Image = p.env.Image96()
	}
	return out
}

// Reset implements Env.
func (p *PushT) Reset(seed int64) Obs { return p.obs(p.env.Reset(seed)) }

// Step implements Env.
func (p *PushT) Step(action []float32) Step {
	if err := checkAction(p.spec, action); err != nil {
		panic(err)
	}
	o, r, done, info := p.env.Step([2]float64{float64(action[0]), float64(action[1])})
	return Step{Obs: p.obs(o), Reward: r, Done: done, Success: info.Success, Score: info.Coverage}
}

// Render implements Env.
func (p *PushT) Render(size int) *image.RGBA { return p.env.Render(size) }

// PushTExpert adapts Push-T's scripted expert to Expert. It rebuilds the
// full Push-T observation from either observation vector.
type PushTExpert struct{ X *pusht.Expert }

// Reset implements Expert: the seed drives the expert's coin (which way
// round the block it goes on near ties).
func (x *PushTExpert) Reset(seed int64) { x.X.Reset(seed) }

// Act implements Expert.
func (x *PushTExpert) Act(o Obs) []float32 {
	po, err := pushtObsFromVector(o.State)
	if err != nil {
		panic(err)
	}
	a := x.X.Act(po)
	return []float32{float32(a[0]), float32(a[1])}
}

// pushtObsFromVector rebuilds pusht.Obs from a keypoint or state vector.
// From keypoints: the block origin is keypoint 8 (block-frame (0, 0)) and
// its angle is the direction from keypoint 0 (-60, 0) to keypoint 1 (60, 0).
func pushtObsFromVector(v []float32) (pusht.Obs, error) {
	var o pusht.Obs
	switch len(v) {
	case len(pushtKeypointNames):
		for i := range o.Keypoints {
			o.Keypoints[i] = float64(v[i])
		}
		theta := math.Atan2(o.Keypoints[3]-o.Keypoints[1], o.Keypoints[2]-o.Keypoints[0])
		o.State = [5]float64{o.Keypoints[18], o.Keypoints[19], o.Keypoints[16], o.Keypoints[17], theta}
	case len(pushtStateNames):
		for i := range o.State {
			o.State[i] = float64(v[i])
		}
		pose := pusht.Pose{X: o.State[2], Y: o.State[3], Theta: o.State[4]}
		c, s := math.Cos(pose.Theta), math.Sin(pose.Theta)
		for i, k := range pusht.KeypointsLocal {
			o.Keypoints[2*i] = pose.X + c*k.X - s*k.Y
			o.Keypoints[2*i+1] = pose.Y + s*k.X + c*k.Y
		}
		o.Keypoints[18], o.Keypoints[19] = o.State[0], o.State[1]
	default:
		return o, fmt.Errorf("sim: Push-T observation has %d values, want %d (keypoints) or %d (state)",
			len(v), len(pushtKeypointNames), len(pushtStateNames))
	}
	return o, nil
}

// PushTFactory makes Push-T environments with the default config, the
// chosen observation vector and the scripted expert.
func PushTFactory(kind PushTObs, images bool) Factory {
	name := "pusht"
	if kind == PushTState {
		name = "pusht-state"
	}
	return Factory{
		Name:      name,
		NewEnv:    func() (Env, error) { return NewPushT(pusht.DefaultConfig(), kind, images) },
		NewExpert: func() Expert { return &PushTExpert{X: pusht.NewExpert()} },
	}
}

// ResetTo starts an episode from a given state [agent x, agent y, block x,
// block y, block angle] instead of a seeded one.
func (p *PushT) ResetTo(state [5]float64) Obs { return p.obs(p.env.ResetTo(state)) }

// PushTImage renders the camera view of a Push-T observation vector (the
// 5-D PushTState or the 20-D keypoints) at size x size pixels: the image
// the environment shows for that state (Render(size) after ResetTo).
// Vision policies train on images rendered this way from state-only
// datasets.
func PushTImage(state []float32, size int) (*image.RGBA, error) {
	if size <= 0 {
		return nil, fmt.Errorf("sim: PushTImage size = %d, must be > 0", size)
	}
	o, err := pushtObsFromVector(state)
	if err != nil {
		return nil, err
	}
	return pusht.RenderState(o.State, size), nil
}
