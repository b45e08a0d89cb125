package sim

import (
	"fmt"
	"image"

	"github.com/policylab/policylab/lessons/arm"
)

// armStateNames is the layout of arm.Obs.Vector (arm.VectorDim = 32).
var armStateNames = func() []string {
	var n []string
	for i := 1; i <= 7; i++ {
		n = append(n, fmt.Sprintf("joint%d.pos", i))
	}
	for i := 1; i <= 7; i++ {
		n = append(n, fmt.Sprintf("joint%d.vel", i))
	}
	for _, p := range []string{"ee", "red", "blue", "red-ee", "blue-ee"} {
		for _, k := range []string{"x", "y", "z"} {
			n = append(n, p+"."+k)
		}
	}
	return append(n, "goal.is_red", "goal.is_blue", "two_targets")
}()

// Arm adapts the 7-DOF arm (package arm) to Env. Observation: the 32-D
// task-state vector of arm.Obs.Vector (joint positions and velocities,
// end-effector and target positions); action: 7 joint-position targets in
// radians. Score is 1 once the task is solved.
type Arm struct {
	env    *arm.Env
	spec   Spec
	images bool
}

// NewArm makes an arm environment; images turns on the 96x96 camera in
// every observation.
func NewArm(cfg arm.Config, images bool) (*Arm, error) {
	e, err := arm.New(cfg)
	if err != nil {
		return nil, err
	}
	if len(armStateNames) != arm.VectorDim {
		return nil, fmt.Errorf("sim: arm state names (%d) disagree with arm.VectorDim (%d)", len(armStateNames), arm.VectorDim)
	}
	name := ArmName(cfg)
	s := Spec{
		Name: name, StateNames: armStateNames, ImageSize: 96,
		ControlHz: 1 / cfg.ControlDt, MaxSteps: cfg.MaxSteps, ScoreName: "success",
	}
	for i := 0; i < 7; i++ {
		s.ActionNames = append(s.ActionNames, fmt.Sprintf("joint%d.target", i+1))
		s.ActionLow = append(s.ActionLow, float32(arm.QMin[i]))
		s.ActionHigh = append(s.ActionHigh, float32(arm.QMax[i]))
	}
	return &Arm{env: e, spec: s, images: images}, nil
}

// Spec implements Env.
func (a *Arm) Spec() Spec { return a.spec }

// Raw is the wrapped arm environment.
func (a *Arm) Raw() *arm.Env { return a.env }

func (a *Arm) obs(o arm.Obs) Obs {
	out := Obs{State: o.Vector(), Instruction: o.Instruction}
	if a.images {
		out.Image = a.env.Image96()
	}
	return out
}

// Reset implements Env.
func (a *Arm) Reset(seed int64) Obs { return a.obs(a.env.Reset(seed)) }

// Step implements Env.
func (a *Arm) Step(action []float32) Step {
	if err := checkAction(a.spec, action); err != nil {
		panic(err)
	}
	var q [7]float64
	for i := range q {
		q[i] = float64(action[i])
	}
	o, r, done, info := a.env.Step(q)
	score := 0.0
	if info.Success {
		score = 1
	}
	return Step{Obs: a.obs(o), Reward: r, Done: done, Success: info.Success, Score: score}
}

// Render implements Env.
func (a *Arm) Render(size int) *image.RGBA { return a.env.Render(size) }

// ArmExpert adapts arm's damped-least-squares expert to Expert.
type ArmExpert struct{ X arm.Expert }

// Reset implements Expert (the arm expert keeps no state).
func (x *ArmExpert) Reset(int64) {}

// Act implements Expert. The arm expert reads the targets and the joint
// state from the observation vector.
func (x *ArmExpert) Act(o Obs) []float32 {
	ao, err := armObsFromVector(o)
	if err != nil {
		panic(err)
	}
	q := x.X.Act(ao)
	out := make([]float32, 7)
	for i := range q {
		out[i] = float32(q[i])
	}
	return out
}

// armObsFromVector rebuilds the arm observation the expert needs from the
// flat vector (the inverse of arm.Obs.Vector for the fields it reads).
func armObsFromVector(o Obs) (arm.Obs, error) {
	v := o.State
	if len(v) != arm.VectorDim {
		return arm.Obs{}, fmt.Errorf("sim: arm observation has %d values, want %d", len(v), arm.VectorDim)
	}
	var ao arm.Obs
	for i := 0; i < 7; i++ {
		ao.JointPos[i] = float64(v[i])
		ao.JointVel[i] = float64(v[7+i])
	}
	for k := 0; k < 3; k++ {
		ao.EEPos[k] = float64(v[14+k])
		ao.Targets[0][k] = float64(v[17+k])
		ao.Targets[1][k] = float64(v[20+k])
	}
	ao.NumTargets = 1 + int(v[31])
	ao.Instruction = o.Instruction
	return ao, nil
}

// ArmName names an arm task: "arm-reach", "arm-reach-color" (with
// GoalColor, "arm-reach-red" or "arm-reach-blue") or "arm-reach-between".
func ArmName(cfg arm.Config) string {
	switch cfg.Task {
	case arm.ReachColor:
		if cfg.GoalColor != "" {
			return "arm-reach-" + cfg.GoalColor
		}
		return "arm-reach-color"
	case arm.ReachBetween:
		return "arm-reach-between"
	}
	return "arm-reach"
}

// ArmFactory makes arm environments with the given task config and the
// default expert.
func ArmFactory(cfg arm.Config, images bool) Factory {
	return Factory{
		Name:      ArmName(cfg),
		NewEnv:    func() (Env, error) { return NewArm(cfg, images) },
		NewExpert: func() Expert { return &ArmExpert{X: arm.DefaultExpert()} },
	}
}

// ArmImage renders the camera view of an arm observation vector (the joint
// positions and targets it holds) at size x size pixels: the image the
// environment would have shown for that observation. Vision policies train
// on images rendered this way from state-only datasets.
func ArmImage(state []float32, task arm.Task, size int) (*image.RGBA, error) {
	ao, err := armObsFromVector(Obs{State: state})
	if err != nil {
		return nil, err
	}
	return arm.RenderScene(arm.DefaultCamera(), ao.JointPos, ao.Targets[:ao.NumTargets], task, size), nil
}
