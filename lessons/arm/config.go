package arm

import (
	"fmt"
	"math"
)

// Task selects what an episode asks of the arm.
type Task int

const (
	// Reach: one target (drawn green) at a random position in the
	// workspace; success when the end effector is within SuccessRadius of
	// it for HoldSteps consecutive control steps (1 by default).
	Reach Task = iota
	// ReachColor: a red and a blue target and the instruction "reach the
	// red target" or "reach the blue target"; success when the end effector
	// stays within SuccessRadius of the named target for HoldSteps
	// consecutive control steps (5 by default); failure, ending the
	// episode, as soon as it comes within SuccessRadius of the other one.
	ReachColor
	// ReachBetween: a red and a blue target and the instruction "reach
	// between the red and blue targets"; success when the end effector
	// stays within SuccessRadius of their midpoint for HoldSteps
	// consecutive control steps (5 by default); failure as soon as it
	// comes within SuccessRadius of either target. Section 4.2.4 holds it
	// out of the VLA's pretraining, as the new task to fine-tune on.
	ReachBetween
)

// String returns "REACH" or "REACH-COLOR".
func (t Task) String() string {
	switch t {
	case Reach:
		return "REACH"
	case ReachColor:
		return "REACH-COLOR"
	case ReachBetween:
		return "REACH-BETWEEN"
	}
	return fmt.Sprintf("Task(%d)", int(t))
}

// TwoTargets reports whether the task shows a red and a blue target.
func (t Task) TwoTargets() bool { return t == ReachColor || t == ReachBetween }

// Config describes the simulator and the task. Start from DefaultConfig
// and change fields; New calls Validate. All positions are in metres in the
// base frame (x forward, y left, z up, origin at the foot of the robot).
type Config struct {
	// Task is Reach, ReachColor or ReachBetween.
	Task Task
	// GoalColor (ReachColor) names the target every episode asks for:
	// "red" or "blue"; "" draws it at random with each episode's seed.
	GoalColor string
	// MaxSteps is the episode length limit, in control steps.
	MaxSteps int
	// ControlDt is the control period, in seconds (0.1 s: 10 Hz).
	ControlDt float64
	// Substeps is the number of integration steps per control step; the
	// integration step is ControlDt/Substeps.
	Substeps int
	// Kp is the joint controller's stiffness, in 1/s² (torque per radian
	// on unit inertia); Kd is its damping, in 1/s. Kp = ω², Kd = 2ω gives
	// a critically damped joint with natural frequency ω.
	Kp, Kd float64
	// SuccessRadius is the distance from a target, in metres, within
	// which the end effector counts as at (or touching) it.
	SuccessRadius float64
	// HoldSteps is the number of consecutive control steps the end
	// effector must stay within SuccessRadius of the named target.
	HoldSteps int
	// InitNoise is the half-width, in radians, of the uniform noise added
	// to each joint of Ready to make the start configuration (start
	// velocities are zero).
	InitNoise float64
	// WorkspaceMin and WorkspaceMax bound the box, in metres, in which
	// targets are sampled uniformly.
	WorkspaceMin, WorkspaceMax [3]float64
	// MinStartDistance is the least distance, in metres, between the
	// start position of the end effector and any target.
	MinStartDistance float64
	// MinSeparation (ReachColor, ReachBetween) is the least distance between the two
	// targets, in metres; it must exceed 2·SuccessRadius.
	MinSeparation float64
	// PathClearance (ReachColor, ReachBetween) is the least distance, in metres, from
	// each target to the straight segment between the end effector's start
	// and the other target, so that the direct path to either target does
	// not brush the other one.
	PathClearance float64
}

// DefaultConfig returns the task's defaults: 100 control steps at 10 Hz
// with 10 substeps of 10 ms, a critically damped controller with ω = 30
// rad/s (Kp = 900, Kd = 60), success radius 2 cm, hold 1 step for Reach
// and 5 for the two-target tasks, start within ±0.1 rad of Ready, targets in the box
// x ∈ [0.30, 0.60], y ∈ [−0.30, 0.30], z ∈ [0.10, 0.50] m at least 10 cm
// from the start, and for the two-target tasks at least 15 cm apart with 6 cm of
// clearance from each direct path.
func DefaultConfig(task Task) Config {
	hold := 1
	if task.TwoTargets() {
		hold = 5
	}
	return Config{
		Task:             task,
		MaxSteps:         100,
		ControlDt:        0.1,
		Substeps:         10,
		Kp:               900,
		Kd:               60,
		SuccessRadius:    0.02,
		HoldSteps:        hold,
		InitNoise:        0.1,
		WorkspaceMin:     [3]float64{0.30, -0.30, 0.10},
		WorkspaceMax:     [3]float64{0.60, 0.30, 0.50},
		MinStartDistance: 0.10,
		MinSeparation:    0.15,
		PathClearance:    0.06,
	}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Validate checks the configuration. Its error names the first bad field
// and is prefixed "arm: ". Besides signs and ranges it rejects a
// controller whose semi-implicit Euler integration would be unstable:
// with h = ControlDt/Substeps it needs Kd·h < 2 and 2·Kd·h + Kp·h² < 4.
func (c Config) Validate() error {
	if c.Task != Reach && c.Task != ReachColor && c.Task != ReachBetween {
		return fmt.Errorf("arm: Config.Task must be Reach, ReachColor or ReachBetween, got %d", int(c.Task))
	}
	switch {
	case c.GoalColor != "" && c.Task != ReachColor:
		return fmt.Errorf("arm: Config.GoalColor %q is for ReachColor, not %s", c.GoalColor, c.Task)
	case c.GoalColor != "" && c.GoalColor != "red" && c.GoalColor != "blue":
		return fmt.Errorf("arm: Config.GoalColor must be \"red\", \"blue\" or empty, got %q", c.GoalColor)
	}
	ints := []struct {
		name string
		v    int
	}{{"MaxSteps", c.MaxSteps}, {"Substeps", c.Substeps}, {"HoldSteps", c.HoldSteps}}
	for _, f := range ints {
		if f.v < 1 {
			return fmt.Errorf("arm: Config.%s must be >= 1, got %d", f.name, f.v)
		}
	}
	pos := []struct {
		name string
		v    float64
	}{{"ControlDt", c.ControlDt}, {"Kp", c.Kp}, {"Kd", c.Kd}, {"SuccessRadius", c.SuccessRadius}}
	for _, f := range pos {
		if !(f.v > 0) || !finite(f.v) {
			return fmt.Errorf("arm: Config.%s must be positive and finite, got %g", f.name, f.v)
		}
	}
	nonneg := []struct {
		name string
		v    float64
	}{{"InitNoise", c.InitNoise}, {"MinStartDistance", c.MinStartDistance},
		{"MinSeparation", c.MinSeparation}, {"PathClearance", c.PathClearance}}
	for _, f := range nonneg {
		if !(f.v >= 0) || !finite(f.v) {
			return fmt.Errorf("arm: Config.%s must be non-negative and finite, got %g", f.name, f.v)
		}
	}
	if c.HoldSteps > c.MaxSteps {
		return fmt.Errorf("arm: Config.HoldSteps (%d) must not exceed MaxSteps (%d)", c.HoldSteps, c.MaxSteps)
	}
	h := c.ControlDt / float64(c.Substeps)
	if a, b := c.Kd*h, c.Kp*h*h; !(a < 2 && 2*a+b < 4) {
		return fmt.Errorf("arm: Config.Kp/Kd too stiff for step %g s (need Kd·h < 2 and 2·Kd·h + Kp·h² < 4, got %g and %g)", h, a, 2*a+b)
	}
	for i := 0; i < 3; i++ {
		lo, hi := c.WorkspaceMin[i], c.WorkspaceMax[i]
		if !finite(lo) || !finite(hi) || !(lo < hi) {
			return fmt.Errorf("arm: Config.WorkspaceMin[%d] (%g) must be finite and below WorkspaceMax[%d] (%g)", i, lo, i, hi)
		}
	}
	if c.Task.TwoTargets() && !(c.MinSeparation > 2*c.SuccessRadius) {
		return fmt.Errorf("arm: Config.MinSeparation (%g) must exceed 2·SuccessRadius (%g)", c.MinSeparation, 2*c.SuccessRadius)
	}
	return nil
}
