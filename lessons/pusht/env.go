// Package pusht is the Push-T benchmark environment of Diffusion Policy
// (Chi et al., "Diffusion Policy: Visuomotor Policy Learning via Action
// Diffusion", RSS 2023), rebuilt on the same 2-D rigid-body engine family:
// the original gym env uses pymunk (Python bindings of Chipmunk2D); we use
// github.com/jakecoffman/cp/v2, a Go port of Chipmunk2D, and copy the
// original's constants so that coverage scores are comparable with the
// paper's tables.
//
// The task: a circular pusher (the "agent", radius 15 px) moves on a
// 512×512 px table and must push a T-shaped block onto a fixed goal pose
// (256, 256, π/4). The score is the fraction of the goal T covered by the
// block; an episode succeeds when coverage > 0.95.
//
// Frames and units: see Vec. Positions are pixels in the world frame (origin
// top-left, x right, y down); angles are radians; time is seconds.
//
// Departures from the original env are marked "Departure:" in the comments.
package pusht

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/jakecoffman/cp/v2"
)

// Workspace geometry (pixels), as in the original env. The agent is a
// kinematic body, as in the original: nothing pushes it back and it does not
// collide with the walls; clipping actions to [0, 512] keeps its centre in
// the workspace.
const (
	WorkspaceSize = 512.0 // actions are clipped to [0, WorkspaceSize]
	AgentRadius   = 15.0
	wallLo        = 5.0 // wall segments run along x or y = 5 and 506
	wallHi        = 506.0
	wallRadius    = 2.0
)

// Config holds the environment's parameters. The zero value is not valid;
// start from DefaultConfig.
type Config struct {
	// MaxSteps is the episode length limit in control steps (300 in the
	// paper's evaluation).
	MaxSteps int
	// SuccessCoverage is the coverage above which an episode succeeds and
	// ends; reward = clip(coverage/SuccessCoverage, 0, 1). 0.95 originally.
	SuccessCoverage float64
	// ControlHz and SimHz: one Step applies the action for SimHz/ControlHz
	// physics substeps of 1/SimHz s each (10 and 100 originally).
	ControlHz, SimHz int
	// Kp (1/s²) and Kv (1/s) are the gains of the agent's PD law, applied
	// before each substep: v += (Kp·(a − p) − Kv·v)·dt. 100 and 20
	// originally (critically damped, natural frequency 10 rad/s).
	Kp, Kv float64
	// Damping is Chipmunk's space damping: the fraction of velocity a body
	// keeps after one second, applied as v·Damping^dt each substep. The
	// original sets 0, which zeroes the block's velocity at every substep:
	// the block moves only while pushed (quasi-static pushing on a table).
	Damping float64
	// Friction is the Coulomb friction coefficient of the agent's and the
	// block's shapes (Chipmunk multiplies the two: 1·1 = 1).
	// Possible departure: the original writes body.friction = 1; friction
	// is a shape property in pymunk, so as far as we can tell its shapes
	// keep pymunk's default 0. The course uses 1 on the shapes; set
	// Friction to 0 for frictionless contacts.
	Friction float64
	// TableFriction, when true, adds planar table friction with constraints
	// to the static body, as in pymunk's top-down "tank" idiom: a pivot
	// joint (max bias 0, max force TableForce) and a gear joint (max bias
	// 0, max torque TableTorque). Off by default: with Damping 0 the block
	// already stops as soon as it is no longer pushed, which is what the
	// original relies on.
	TableFriction           bool
	TableForce, TableTorque float64
	// CollisionSubsteps splits each 1/SimHz physics substep into this many
	// Chipmunk steps with the same agent velocity (the PD law still runs at
	// SimHz, so the agent's free motion is exactly the original's).
	// Departure: the original takes 1; a fast agent (the PD law reaches
	// ~1800 px/s on long moves, 18 px per 0.01 s) then overlaps the block
	// by up to that much on impact. 4 bounds the overlap to a few pixels.
	CollisionSubsteps int
	// NoJamGuard turns off the jam guard (see Env.jamGuard): the kinematic
	// agent can then crush the block into a wall, as in the original.
	NoJamGuard bool
}

// DefaultConfig returns the original env's settings, plus the course's
// robustness fixes (CollisionSubsteps 4, jam guard on; see Config).
func DefaultConfig() Config {
	return Config{
		MaxSteps:          300,
		SuccessCoverage:   0.95,
		ControlHz:         10,
		SimHz:             100,
		Kp:                100,
		Kv:                20,
		Damping:           0,
		Friction:          1,
		CollisionSubsteps: 4,
		TableForce:        1000,
		TableTorque:       5000,
	}
}

// Validate reports the first invalid field; errors start with "pusht: ".
func (c Config) Validate() error {
	switch {
	case c.MaxSteps <= 0:
		return fmt.Errorf("pusht: MaxSteps must be positive, got %d", c.MaxSteps)
	case !(c.SuccessCoverage > 0 && c.SuccessCoverage <= 1):
		return fmt.Errorf("pusht: SuccessCoverage must be in (0,1], got %v", c.SuccessCoverage)
	case c.ControlHz <= 0 || c.SimHz <= 0:
		return fmt.Errorf("pusht: ControlHz and SimHz must be positive, got %d and %d", c.ControlHz, c.SimHz)
	case c.SimHz%c.ControlHz != 0:
		return fmt.Errorf("pusht: SimHz (%d) must be a multiple of ControlHz (%d)", c.SimHz, c.ControlHz)
	case !(c.Kp > 0) || math.IsInf(c.Kp, 0):
		return fmt.Errorf("pusht: Kp must be positive and finite, got %v", c.Kp)
	case !(c.Kv >= 0) || math.IsInf(c.Kv, 0):
		return fmt.Errorf("pusht: Kv must be non-negative and finite, got %v", c.Kv)
	case c.CollisionSubsteps < 1:
		return fmt.Errorf("pusht: CollisionSubsteps must be at least 1, got %d", c.CollisionSubsteps)
	case !(c.Damping >= 0 && c.Damping <= 1):
		return fmt.Errorf("pusht: Damping must be in [0,1], got %v", c.Damping)
	case !(c.Friction >= 0) || math.IsInf(c.Friction, 0):
		return fmt.Errorf("pusht: Friction must be non-negative and finite, got %v", c.Friction)
	case c.TableFriction && (!(c.TableForce > 0) || !(c.TableTorque > 0)):
		return errors.New("pusht: TableForce and TableTorque must be positive when TableFriction is set")
	}
	return nil
}

// Obs is one observation.
type Obs struct {
	// State is [agent x, agent y, block x, block y, block angle]: pixels in
	// the world frame; the block position is its frame origin (middle of the
	// top edge of the bar, see barLocal) and the angle is wrapped to [−π, π).
	// Departure: the original reports the angle modulo 2π, in [0, 2π).
	State [5]float64
	// Keypoints is the 20-D low-dimensional observation of the paper's
	// keypoint variant: 9 block keypoints (x, y pairs, world frame, pixels)
	// followed by the agent's x, y. Departure: the original draws its 9
	// keypoints by farthest-point sampling of the rendered block mask; ours
	// are deterministic and fixed, see KeypointsLocal.
	Keypoints [20]float64
}

// KeypointsLocal are the 9 block keypoints in the block frame (pixels): the
// 8 corners of the T outline clockwise on screen from the top-left corner of
// the bar — (−60,0) (60,0) (60,30) (15,30) (15,120) (−15,120) (−15,30)
// (−60,30) — then the frame origin (0,0), the middle of the bar's top edge.
var KeypointsLocal = [9]Vec{
	{-60, 0}, {60, 0}, {60, 30}, {15, 30},
	{15, 120}, {-15, 120}, {-15, 30}, {-60, 30}, {0, 0},
}

// Info is the per-step diagnostics.
type Info struct {
	Coverage float64 // area(block ∩ goal)/area(goal), in [0,1]
	Success  bool    // Coverage > SuccessCoverage
	Steps    int     // control steps taken in this episode
	// Penetration is how deep (px) the agent's disc overlaps the block
	// after the step: max(0, AgentRadius − distance from agent centre to
	// the block).
	Penetration float64
}

// Env is one Push-T environment. It is not safe for concurrent use; distinct
// Envs may run in parallel goroutines.
type Env struct {
	cfg   Config
	space *cp.Space
	agent *cp.Body
	block *cp.Body
	steps int
	done  bool
}

// cpMu serialises body construction: cp.NewBody increments an unguarded
// package-level id counter.
var cpMu sync.Mutex

// New returns an environment reset with seed 0.
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

// build makes a fresh space, as the original's _setup does on every reset.
func (e *Env) build() {
	cpMu.Lock()
	defer cpMu.Unlock()
	sp := cp.NewSpace()
	sp.SetGravity(cp.Vector{})
	sp.SetDamping(e.cfg.Damping)
	static := sp.StaticBody
	// Walls: the original's four segments of radius 2 along x, y = 5 and
	// 506 present inner faces at 7 and 504. Departure: we build them as
	// 100 px thick static boxes with the same inner faces, so that a block
	// pressed into a wall is always pushed back inside (a thin segment
	// pushes a block that crossed its centre line out of the arena).
	const in0, in1, t = wallLo + wallRadius, wallHi - wallRadius, 100.0
	for _, bb := range [4]cp.BB{
		{L: in0 - t, B: in0 - t, R: in0, T: in1 + t}, // left
		{L: in1, B: in0 - t, R: in1 + t, T: in1 + t}, // right
		{L: in0 - t, B: in0 - t, R: in1 + t, T: in0}, // top (y small)
		{L: in0 - t, B: in1, R: in1 + t, T: in1 + t}, // bottom
	} {
		sp.AddShape(cp.NewBox2(static, bb, 0))
	}

	agent := sp.AddBody(cp.NewKinematicBody())
	agent.SetPosition(cp.Vector{X: 256, Y: 400})
	as := sp.AddShape(cp.NewCircle(agent, AgentRadius, cp.Vector{}))
	as.SetFriction(e.cfg.Friction)

	block := sp.AddBody(cp.NewBody(1, blockMoment))
	for _, box := range [2][4]Vec{barLocal, stemLocal} {
		vs := make([]cp.Vector, 4)
		for i, v := range box {
			vs[i] = cp.Vector{X: v.X, Y: v.Y}
		}
		s := sp.AddShape(cp.NewPolyShape(block, 4, vs, cp.NewTransformIdentity(), 0))
		s.SetFriction(e.cfg.Friction)
		// Equal shape masses put Chipmunk's centre of gravity at the mean
		// of the two centroids, (0,45), as the original sets it.
		s.SetMass(0.5)
	}
	block.SetMass(1)
	block.SetMoment(blockMoment)
	if e.cfg.TableFriction {
		pj := sp.AddConstraint(cp.NewPivotJoint2(static, block, cp.Vector{}, cp.Vector{X: cogLocal.X, Y: cogLocal.Y}))
		pj.SetMaxBias(0)
		pj.SetMaxForce(e.cfg.TableForce)
		gj := sp.AddConstraint(cp.NewGearJoint(static, block, 0, 1))
		gj.SetMaxBias(0)
		gj.SetMaxForce(e.cfg.TableTorque)
	}
	e.space, e.agent, e.block = sp, agent, block
}

// Reset starts a new episode from a state drawn with the given seed and
// returns the first observation. Agent x, y ~ U[50, 450]; block x, y ~
// U[100, 400]; block angle ~ U[−π, π); redrawn (from the same stream) until
// the block lies inside the walls with a 2 px margin and the agent's disc
// does not overlap it.
//
// Departures: the original draws integer positions (rs.randint) and the
// angle as rs.randn()·2π − π, a wide normal whose mean −π is the same
// orientation as 0; we draw continuous positions and a uniform angle (every
// orientation equally likely), from math/rand/v2's PCG seeded with seed.
// The original does not redraw: with the stem towards a wall a T can start
// straddling it (its stem tip reaches 121 px from its origin) and be pushed
// out of the arena by the first step, and an overlapping agent shoves the
// block on that step.
func (e *Env) Reset(seed int64) Obs {
	r := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	for {
		ax, ay := 50+400*r.Float64(), 50+400*r.Float64()
		bx, by := 100+300*r.Float64(), 100+300*r.Float64()
		th := -math.Pi + 2*math.Pi*r.Float64()
		blk := Pose{bx, by, th}
		if wallOverlap(blk) < -2 && tSDF(blk, Vec{ax, ay}) > AgentRadius+1 {
			return e.ResetTo([5]float64{ax, ay, bx, by, th})
		}
	}
}

// wallOverlap returns how far (px) the T at pose p reaches past the inner
// faces of the walls; negative when it is inside, by that margin.
func wallOverlap(p Pose) float64 {
	const in = wallLo + wallRadius
	m := math.Inf(-1)
	for _, w := range outlineLocal {
		q := p.toWorld(w)
		m = max(m, in-q.X, q.X-(wallHi-wallRadius), in-q.Y, q.Y-(wallHi-wallRadius))
	}
	return m
}

// ResetTo starts a new episode from state [agent x, agent y, block x, block
// y, block angle] (the layout of Obs.State). As in the original _set_state,
// the block angle is set before its position (Chipmunk rotates about the
// centre of gravity) and one physics substep is run so that an initial
// overlap is resolved.
func (e *Env) ResetTo(state [5]float64) Obs {
	e.build()
	e.agent.SetPosition(cp.Vector{X: state[0], Y: state[1]})
	e.block.SetAngle(state[4])
	e.block.SetPosition(cp.Vector{X: state[2], Y: state[3]})
	e.space.Step(1 / float64(e.cfg.SimHz))
	e.steps, e.done = 0, false
	return e.Observe()
}

// Step applies the action — a target position (x, y) for the agent, pixels,
// clipped to [0, 512] — for one control period, and returns the new
// observation, the reward clip(coverage/SuccessCoverage, 0, 1), whether the
// episode is over (success or MaxSteps reached) and diagnostics. Stepping
// past the end is allowed and keeps simulating.
func (e *Env) Step(action [2]float64) (Obs, float64, bool, Info) {
	a := cp.Vector{X: clip(action[0], 0, WorkspaceSize), Y: clip(action[1], 0, WorkspaceSize)}
	dt := 1 / float64(e.cfg.SimHz)
	for range e.cfg.SimHz / e.cfg.ControlHz {
		// PD law of the original: acceleration = k_p(a − p) + k_v(0 − v).
		p, v := e.agent.Position(), e.agent.Velocity()
		acc := a.Sub(p).Mult(e.cfg.Kp).Add(v.Mult(-e.cfg.Kv))
		v = v.Add(acc.Mult(dt))
		if !e.cfg.NoJamGuard {
			v = e.jamGuard(v, dt)
		}
		e.agent.SetVelocityVector(v)
		for range e.cfg.CollisionSubsteps {
			e.space.Step(dt / float64(e.cfg.CollisionSubsteps))
		}
	}
	e.steps++
	cov := e.Coverage()
	info := Info{
		Coverage:    cov,
		Success:     cov > e.cfg.SuccessCoverage,
		Steps:       e.steps,
		Penetration: e.Penetration(),
	}
	e.done = e.done || info.Success || e.steps >= e.cfg.MaxSteps
	reward := clip(cov/e.cfg.SuccessCoverage, 0, 1)
	return e.Observe(), reward, e.done, info
}

// jamGuard returns the agent's velocity v (px/s) for the next 1/SimHz s,
// changed only while the agent touches the block (or will within this
// substep) and the block touches a wall (or may within this substep): then
// the agent stops pushing along the contact normal n (agent → block) if n
// points into that wall (n·n_wall < −0.1, n_wall pointing into the
// workspace), and stops moving into the wall, which would drag the block
// in by friction.
//
// Departure: the original agent is a kinematic body, which has infinite mass
// and does not collide with the static walls, so pushing the block against
// a wall crushes it through the wall or lets the agent sink into it (we
// measured blocks 160 px out of the arena and 30 px penetrations in 20
// adversarial random episodes, with thin walls and one Chipmunk step per
// substep; with thick walls, 4 collision substeps and this guard: under 2
// and 3 px in 200). A pusher that yields when the block is jammed keeps the free
// pushing dynamics of the original and removes that artefact.
func (e *Env) jamGuard(v cp.Vector, dt float64) cp.Vector {
	blk, a := e.BlockPose(), e.AgentPos()
	reach := math.Hypot(v.X, v.Y) * dt // how far the agent may go this substep
	q, d := closestOnT(blk, a)
	if d > AgentRadius+1+reach {
		return v
	}
	var n Vec
	if tSDF(blk, a) < 0 || d < 1e-9 { // centre inside: push towards the middle
		c := blk.toWorld(cogLocal).sub(a)
		n = c.scale(1 / math.Max(c.norm(), 1e-9))
	} else {
		n = q.sub(a).scale(1 / d)
	}
	// Inward normals of the walls the block touches, or may this substep.
	touch := wallLo + wallRadius + 1.5 + reach
	var walls []Vec
	for _, w := range outlineLocal {
		p := blk.toWorld(w)
		for _, c := range [4]struct {
			hit bool
			n   Vec
		}{
			{p.X < touch, Vec{1, 0}}, {p.X > WorkspaceSize-touch, Vec{-1, 0}},
			{p.Y < touch, Vec{0, 1}}, {p.Y > WorkspaceSize-touch, Vec{0, -1}},
		} {
			if c.hit && !slices.Contains(walls, c.n) {
				walls = append(walls, c.n)
			}
		}
	}
	u := Vec{v.X, v.Y}
	for range 2 {
		for _, nw := range walls {
			// Pushing the block into the wall: stop pushing.
			if k := u.dot(n); k > 0 && n.dot(nw) < -0.1 {
				u = u.sub(n.scale(k))
			}
			// Dragging it (by friction) into the wall: stop that too.
			if k := u.dot(nw); k < 0 {
				u = u.sub(nw.scale(k))
			}
		}
	}
	return cp.Vector{X: u.X, Y: u.Y}
}

func clip(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

// AgentPos returns the agent's centre (pixels, world frame).
func (e *Env) AgentPos() Vec {
	p := e.agent.Position()
	return Vec{p.X, p.Y}
}

// AgentVel returns the agent's velocity (px/s, world frame).
func (e *Env) AgentVel() Vec {
	v := e.agent.Velocity()
	return Vec{v.X, v.Y}
}

// BlockPose returns the block's pose: its frame origin (pixels) and angle
// (radians, unwrapped as integrated by the engine).
func (e *Env) BlockPose() Pose {
	p := e.block.Position()
	return Pose{p.X, p.Y, e.block.Angle()}
}

// Coverage returns area(block ∩ goal block)/area(goal block), in [0, 1].
func (e *Env) Coverage() float64 { return CoverageOf(e.BlockPose(), GoalPose) }

// Penetration returns how deep (px) the agent's disc overlaps the block.
func (e *Env) Penetration() float64 {
	return math.Max(0, AgentRadius-tSDF(e.BlockPose(), e.AgentPos()))
}

// Steps returns the number of control steps taken in this episode.
func (e *Env) Steps() int { return e.steps }

// Done reports whether the episode is over.
func (e *Env) Done() bool { return e.done }

// Observe returns the current observation.
func (e *Env) Observe() Obs {
	a, b := e.AgentPos(), e.BlockPose()
	var o Obs
	o.State = [5]float64{a.X, a.Y, b.X, b.Y, wrapAngle(b.Theta)}
	for i, k := range KeypointsLocal {
		w := b.toWorld(k)
		o.Keypoints[2*i], o.Keypoints[2*i+1] = w.X, w.Y
	}
	o.Keypoints[18], o.Keypoints[19] = a.X, a.Y
	return o
}
