package arm

import (
	"math"
	"math/rand/v2"
)

// Instructions of the tasks.
const (
	InstructionReach = "reach the target"
	InstructionRed   = "reach the red target"
	InstructionBlue  = "reach the blue target"
	// InstructionBetween is ReachBetween's: the goal is the midpoint of
	// the red and the blue target.
	InstructionBetween = "reach between the red and blue targets"
)

// VectorDim is the length of Obs.Vector.
const VectorDim = 32

// Obs is what the environment reports after Reset and each Step. All
// positions are in metres in the base frame.
type Obs struct {
	// Step is the number of control steps taken in the episode.
	Step int
	// JointPos are the joint angles, in radians; JointVel the joint
	// velocities, in rad/s.
	JointPos, JointVel [7]float64
	// EEPos is the end effector (Franka Hand tool centre point) position.
	EEPos [3]float64
	// Targets holds the target positions: for Reach, Targets[0] is the
	// target and Targets[1] is zero; for ReachColor, Targets[0] is the red
	// target and Targets[1] the blue one.
	Targets [2][3]float64
	// NumTargets is 1 for Reach and 2 for ReachColor.
	NumTargets int
	// Instruction is InstructionReach, InstructionRed, InstructionBlue or
	// InstructionBetween.
	Instruction string
}

// Goal returns the point the instruction asks the end effector to reach,
// in metres: the named target, or for InstructionBetween the midpoint of
// the two targets.
func (o Obs) Goal() [3]float64 {
	if o.Instruction == InstructionBetween {
		var m [3]float64
		for k := range m {
			m[k] = (o.Targets[0][k] + o.Targets[1][k]) / 2
		}
		return m
	}
	return o.Targets[o.GoalIndex()]
}

// Proprio returns the chapter's 14-D proprioception: the 7 joint positions
// (rad) followed by the 7 joint velocities (rad/s).
func (o Obs) Proprio() []float32 {
	v := make([]float32, 14)
	for i := 0; i < 7; i++ {
		v[i] = float32(o.JointPos[i])
		v[7+i] = float32(o.JointVel[i])
	}
	return v
}

// GoalIndex returns the index into Targets of the target the instruction
// names: 1 for InstructionBlue, 0 otherwise.
func (o Obs) GoalIndex() int {
	if o.Instruction == InstructionBlue {
		return 1
	}
	return 0
}

// Vector returns the flat task-state vector of length VectorDim:
//
//	[0:7)   joint positions, rad
//	[7:14)  joint velocities, rad/s
//	[14:17) end-effector position, m
//	[17:20) Targets[0] (Reach: the target; ReachColor: red), m
//	[20:23) Targets[1] (Reach: zero; ReachColor: blue), m
//	[23:26) Targets[0] − end effector, m
//	[26:29) Targets[1] − end effector, m (zero for Reach)
//	[29:31) instruction one-hot: (1, 0) for the target or red, (0, 1) for
//	        blue, (0.5, 0.5) for between
//	[31]    NumTargets − 1 (0 for Reach, 1 for ReachColor)
func (o Obs) Vector() []float32 {
	v := make([]float32, VectorDim)
	for i := 0; i < 7; i++ {
		v[i] = float32(o.JointPos[i])
		v[7+i] = float32(o.JointVel[i])
	}
	for k := 0; k < 3; k++ {
		v[14+k] = float32(o.EEPos[k])
		v[17+k] = float32(o.Targets[0][k])
		v[20+k] = float32(o.Targets[1][k])
		v[23+k] = float32(o.Targets[0][k] - o.EEPos[k])
		if o.NumTargets > 1 {
			v[26+k] = float32(o.Targets[1][k] - o.EEPos[k])
		}
	}
	if o.Instruction == InstructionBetween {
		v[29], v[30] = 0.5, 0.5
	} else {
		v[29+o.GoalIndex()] = 1
	}
	v[31] = float32(o.NumTargets - 1)
	return v
}

// Info reports the outcome of a Step.
type Info struct {
	// Success is true on the step the task is completed.
	Success bool
	// Failure is true when the end effector touched a target it was not
	// asked to reach (the two-target tasks only).
	Failure bool
	// Distance is the distance from the end effector to the goal (the
	// named target, or the midpoint for ReachBetween), in metres.
	Distance float64
	// Hold is the number of consecutive steps, up to now, that the end
	// effector has been within SuccessRadius of the named target.
	Hold int
}

// Env is the simulated 7-DOF arm with its task. It is not safe for
// concurrent use; run one Env per goroutine.
type Env struct {
	cfg      Config
	q, qd    [7]float64
	chain    Chain
	targets  [2][3]float64
	nTargets int
	goal     int        // index of the named target (ReachColor)
	goalPos  [3]float64 // the point to reach
	instr    string
	step     int
	hold     int
	done     bool
	last     Info
}

// New validates cfg and returns an environment; call Reset before Step.
func New(cfg Config) (*Env, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Env{cfg: cfg}
	e.Reset(0)
	return e, nil
}

// Config returns the environment's configuration.
func (e *Env) Config() Config { return e.cfg }

// Goal returns the point to reach, in metres: the named target, or the
// midpoint of the targets for ReachBetween (privileged information for
// experts and tests; a policy reads Obs instead).
func (e *Env) Goal() [3]float64 { return e.goalPos }

// Chain returns the frames of the arm at its current configuration.
func (e *Env) Chain() Chain { return e.chain }

// seedStream is the PCG stream constant of the environment's generator.
const seedStream = 0x5a17_a2e1_f00d_7e57

// Reset starts a new episode drawn from seed: the start configuration is
// Ready plus uniform noise of ±InitNoise per joint (clipped to the limits)
// at rest, and the targets (and for ReachColor which of them is named) are
// sampled uniformly under the constraints of Config, by rejection (at
// most 1000 tries, after which the last draw is kept). The same seed always
// gives the same episode.
func (e *Env) Reset(seed int64) Obs {
	c := &e.cfg
	rng := rand.New(rand.NewPCG(uint64(seed), seedStream))
	for i := 0; i < 7; i++ {
		e.q[i] = clamp(Ready[i]+c.InitNoise*(2*rng.Float64()-1), QMin[i], QMax[i])
		e.qd[i] = 0
	}
	e.chain = FK(e.q)
	start := e.chain.EE.Pos
	sample := func() [3]float64 {
		var p [3]float64
		for k := 0; k < 3; k++ {
			p[k] = c.WorkspaceMin[k] + (c.WorkspaceMax[k]-c.WorkspaceMin[k])*rng.Float64()
		}
		return p
	}
	e.targets = [2][3]float64{}
	e.goal = 0
	switch c.Task {
	case Reach:
		e.nTargets = 1
		e.instr = InstructionReach
		for try := 0; try < 1000; try++ {
			e.targets[0] = sample()
			if dist(e.targets[0], start) >= c.MinStartDistance {
				break
			}
		}
	case ReachColor, ReachBetween:
		e.nTargets = 2
		// The draw is made even when GoalColor fixes the goal, so the
		// targets of a seed are the same either way.
		e.goal = rng.IntN(2)
		switch c.GoalColor {
		case "red":
			e.goal = 0
		case "blue":
			e.goal = 1
		}
		e.instr = InstructionRed
		if e.goal == 1 {
			e.instr = InstructionBlue
		}
		if c.Task == ReachBetween {
			e.goal, e.instr = 0, InstructionBetween
		}
		for try := 0; try < 1000; try++ {
			a, b := sample(), sample()
			e.targets = [2][3]float64{a, b}
			ok := dist(a, start) >= c.MinStartDistance && dist(b, start) >= c.MinStartDistance &&
				dist(a, b) >= c.MinSeparation
			if c.Task == ReachColor {
				ok = ok && segmentDist(a, start, b) >= c.PathClearance && segmentDist(b, start, a) >= c.PathClearance
			} else {
				// The direct path to the midpoint clears both targets.
				m := mid(a, b)
				ok = ok && dist(m, start) >= c.MinStartDistance &&
					segmentDist(a, start, m) >= c.PathClearance && segmentDist(b, start, m) >= c.PathClearance
			}
			if ok {
				break
			}
		}
	}
	e.goalPos = e.targets[e.goal]
	if c.Task == ReachBetween {
		e.goalPos = mid(e.targets[0], e.targets[1])
	}
	e.step, e.hold, e.done = 0, 0, false
	e.last = Info{Distance: dist(start, e.goalPos)}
	return e.obs()
}

// Step applies one control step. action holds the 7 joint-position
// targets, in radians; each is clipped to [QMin, QMax], and a NaN or
// infinite target holds the joint at its current angle. The joints then
// follow the targets for ControlDt seconds (see Integrate). The reward is
// minus the distance from the end effector to the named target, in metres,
// plus 1 on the step that succeeds and minus 1 on the step that fails.
// done is true when the task succeeded, failed, or MaxSteps were taken;
// stepping a finished episode changes nothing and returns reward 0.
func (e *Env) Step(action [7]float64) (Obs, float64, bool, Info) {
	if e.done {
		return e.obs(), 0, true, e.last
	}
	c := &e.cfg
	Integrate(&e.q, &e.qd, action, c.Kp, c.Kd, c.ControlDt/float64(c.Substeps), c.Substeps)
	e.chain = FK(e.q)
	e.step++
	ee := e.chain.EE.Pos
	d := dist(ee, e.goalPos)
	info := Info{Distance: d}
	if d < c.SuccessRadius {
		e.hold++
	} else {
		e.hold = 0
	}
	info.Hold = e.hold
	reward := -d
	if e.touchesOther(ee) {
		info.Failure = true
		reward--
	} else if e.hold >= c.HoldSteps {
		info.Success = true
		reward++
	}
	e.done = info.Success || info.Failure || e.step >= c.MaxSteps
	e.last = info
	return e.obs(), reward, e.done, info
}

// Integrate advances the joint state (q in rad, qd in rad/s) by n steps of
// h seconds under the joint-position controller tracking target (rad).
// Targets are clipped to [QMin, QMax]; a NaN or infinite one is replaced by
// the joint's current angle. Each joint is a unit inertia driven by
// the PD torque
//
//	q̈ = Kp·(target − q) − Kd·q̇,
//
// clipped to ±QddMax, integrated by semi-implicit Euler (q̇ first, clipped
// to ±QdMax, then q); a joint that would pass a position limit stops at it
// with its velocity into the limit zeroed.
func Integrate(q, qd *[7]float64, target [7]float64, kp, kd, h float64, n int) {
	for i := 0; i < 7; i++ {
		if !finite(target[i]) {
			target[i] = q[i]
		}
		target[i] = clamp(target[i], QMin[i], QMax[i])
	}
	for s := 0; s < n; s++ {
		for i := 0; i < 7; i++ {
			acc := clamp(kp*(target[i]-q[i])-kd*qd[i], -QddMax[i], QddMax[i])
			v := clamp(qd[i]+h*acc, -QdMax[i], QdMax[i])
			p := q[i] + h*v
			if p > QMax[i] {
				p = QMax[i]
				v = min(v, 0)
			} else if p < QMin[i] {
				p = QMin[i]
				v = max(v, 0)
			}
			q[i], qd[i] = p, v
		}
	}
}

func (e *Env) obs() Obs {
	return Obs{
		Step:        e.step,
		JointPos:    e.q,
		JointVel:    e.qd,
		EEPos:       e.chain.EE.Pos,
		Targets:     e.targets,
		NumTargets:  e.nTargets,
		Instruction: e.instr,
	}
}

// touchesOther reports whether the end effector at ee is within
// SuccessRadius of a target it was not asked to reach.
func (e *Env) touchesOther(ee [3]float64) bool {
	r := e.cfg.SuccessRadius
	switch e.cfg.Task {
	case ReachColor:
		return dist(ee, e.targets[1-e.goal]) < r
	case ReachBetween:
		return dist(ee, e.targets[0]) < r || dist(ee, e.targets[1]) < r
	}
	return false
}

// mid is the midpoint of a and b.
func mid(a, b [3]float64) [3]float64 {
	return [3]float64{(a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2}
}

func clamp(v, lo, hi float64) float64 { return max(lo, min(hi, v)) }

func dist(a, b [3]float64) float64 {
	return math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
}

// segmentDist is the distance from p to the segment a–b.
func segmentDist(p, a, b [3]float64) float64 {
	var ab, ap [3]float64
	var l2, t float64
	for k := 0; k < 3; k++ {
		ab[k], ap[k] = b[k]-a[k], p[k]-a[k]
		l2 += ab[k] * ab[k]
		t += ab[k] * ap[k]
	}
	if l2 > 0 {
		t = clamp(t/l2, 0, 1)
	} else {
		t = 0
	}
	return dist(p, [3]float64{a[0] + t*ab[0], a[1] + t*ab[1], a[2] + t*ab[2]})
}
