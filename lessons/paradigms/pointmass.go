package paradigms

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// PointMass is the small physical task of the comparison: a point mass on a
// plane (a 2-D double integrator with viscous damping) pushed by a bounded
// force towards a goal.
//
// Each step of length Dt applies the force, clipped to [-MaxForce, MaxForce]
// per axis, and integrates with semi-implicit Euler:
//
//	vel ← vel + Dt·(force/Mass − Damping·vel)
//	pos ← pos + Dt·vel
//
// An episode starts at rest at a random position with a random goal, both
// uniform in [-StartRange, StartRange]², and succeeds when, after some step
// t ≤ Horizon, the mass is within GoalTol of the goal with speed below
// SpeedTol; it ends there.
type PointMass struct {
	Mass       float64 // kg
	Dt         float64 // seconds per step
	MaxForce   float64 // newtons, per axis
	Damping    float64 // 1/s, viscous damping rate
	Horizon    int     // steps per episode
	GoalTol    float64 // metres
	SpeedTol   float64 // metres per second
	StartRange float64 // metres: starts and goals lie in [-StartRange, StartRange]²
	// SuccessBonus is the reward added on the step that succeeds; every step
	// also earns minus the distance to the goal.
	SuccessBonus float64
}

// DefaultPointMass returns the task of the lesson: mass 1 kg, dt 0.1 s,
// force at most 1 N per axis, damping 0.5/s, 60 steps, success within 5 cm
// of the goal at under 0.1 m/s, starts and goals in [-1, 1]² m.
func DefaultPointMass() PointMass {
	return PointMass{
		Mass: 1, Dt: 0.1, MaxForce: 1, Damping: 0.5, Horizon: 60,
		GoalTol: 0.05, SpeedTol: 0.1, StartRange: 1, SuccessBonus: 10,
	}
}

// Validate checks the task's parameters; errors are prefixed "paradigms: ".
func (e PointMass) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"Mass", e.Mass}, {"Dt", e.Dt}, {"MaxForce", e.MaxForce}, {"GoalTol", e.GoalTol},
		{"SpeedTol", e.SpeedTol}, {"StartRange", e.StartRange},
	} {
		if !(f.v > 0) || math.IsInf(f.v, 0) {
			return fmt.Errorf("paradigms: PointMass.%s must be positive and finite, got %g", f.name, f.v)
		}
	}
	if e.Damping < 0 {
		return fmt.Errorf("paradigms: PointMass.Damping must be >= 0, got %g", e.Damping)
	}
	if e.Horizon < 1 {
		return fmt.Errorf("paradigms: PointMass.Horizon must be >= 1, got %d", e.Horizon)
	}
	return nil
}

// State is the full state of the task: position, velocity and goal (metres
// and metres per second, x then y).
type State struct {
	Pos, Vel, Goal [2]float64
}

// Controller chooses a force for a state. Step clips it to MaxForce.
type Controller interface {
	Act(s State) [2]float64
}

// ControllerFunc adapts a function to a Controller.
type ControllerFunc func(s State) [2]float64

// Act calls f.
func (f ControllerFunc) Act(s State) [2]float64 { return f(s) }

// Step advances the state by one time step under force (clipped per axis to
// [-MaxForce, MaxForce]).
func (e PointMass) Step(s State, force [2]float64) State {
	for i := range 2 {
		f := clip(force[i], e.MaxForce)
		s.Vel[i] += e.Dt * (f/e.Mass - e.Damping*s.Vel[i])
		s.Pos[i] += e.Dt * s.Vel[i]
	}
	return s
}

// Distance is the distance from the mass to the goal, in metres.
func (s State) Distance() float64 {
	return math.Hypot(s.Goal[0]-s.Pos[0], s.Goal[1]-s.Pos[1])
}

// Speed is the norm of the velocity, in metres per second.
func (s State) Speed() float64 { return math.Hypot(s.Vel[0], s.Vel[1]) }

// Success reports whether s is at the goal: within GoalTol, slower than
// SpeedTol.
func (e PointMass) Success(s State) bool {
	return s.Distance() < e.GoalTol && s.Speed() < e.SpeedTol
}

// Starts draws n episode starts (at rest, random position and goal) from the
// seeded generator; the same seed gives the same starts.
func (e PointMass) Starts(n int, seed uint64) []State {
	rng := rand.New(rand.NewPCG(seed, 0x90a1))
	out := make([]State, max(n, 0))
	for i := range out {
		out[i] = e.randomStart(rng)
	}
	return out
}

// randomStart draws one start at rest.
func (e PointMass) randomStart(rng *rand.Rand) State {
	u := func() float64 { return e.StartRange * (2*rng.Float64() - 1) }
	return State{Pos: [2]float64{u(), u()}, Goal: [2]float64{u(), u()}}
}

// Episode is one rollout: the visited states and the forces applied (before
// clipping), the reward earned and whether it reached the goal.
type Episode struct {
	// States[t] is the state in which Actions[t] was chosen; the final state
	// reached is Final.
	States  []State
	Actions [][2]float64
	Final   State
	// Steps is the number of environment steps taken (len(Actions)).
	Steps   int
	Return  float64
	Success bool
}

// Rollout runs c from start until success or Horizon steps. Each step earns
// minus the distance to the goal after it, plus SuccessBonus on success.
func (e PointMass) Rollout(start State, c Controller) Episode {
	ep := Episode{States: make([]State, 0, e.Horizon), Actions: make([][2]float64, 0, e.Horizon)}
	ep.Return, ep.Steps, ep.Success, ep.Final = e.run(start, c, &ep, true)
	return ep
}

// Record runs c from start for the full Horizon, not stopping at success,
// the way a demonstration is recorded: the controller reaches the goal and
// then holds it. Success says whether the goal was reached at some step;
// Return sums the rewards of the whole recording.
func (e PointMass) Record(start State, c Controller) Episode {
	ep := Episode{States: make([]State, 0, e.Horizon), Actions: make([][2]float64, 0, e.Horizon)}
	ep.Return, ep.Steps, ep.Success, ep.Final = e.run(start, c, &ep, false)
	return ep
}

// run is the rollout loop; it records states and actions into rec when rec
// is not nil (RL scoring does not need them). With stop it ends at the first
// success; without, it runs Horizon steps and pays the bonus once.
func (e PointMass) run(s State, c Controller, rec *Episode, stop bool) (ret float64, steps int, success bool, final State) {
	for steps < e.Horizon {
		a := c.Act(s)
		if rec != nil {
			rec.States = append(rec.States, s)
			rec.Actions = append(rec.Actions, a)
		}
		s = e.Step(s, a)
		steps++
		ret -= s.Distance()
		if !success && e.Success(s) {
			ret += e.SuccessBonus
			success = true
			if stop {
				break
			}
		}
	}
	return ret, steps, success, s
}

// Evaluation summarises a controller over a set of starts.
type Evaluation struct {
	// Success is the fraction of starts that reached the goal.
	Success float64
	// MeanStepsToGoal is the mean episode length of the successful episodes
	// (0 when none succeeded).
	MeanStepsToGoal float64
	// Episodes is the number of starts evaluated.
	Episodes int
}

// Evaluate runs c once from each start.
func (e PointMass) Evaluate(c Controller, starts []State) Evaluation {
	var ok, okSteps int
	for _, s := range starts {
		_, steps, success, _ := e.run(s, c, nil, true)
		if success {
			ok++
			okSteps += steps
		}
	}
	ev := Evaluation{Episodes: len(starts)}
	if len(starts) > 0 {
		ev.Success = float64(ok) / float64(len(starts))
	}
	if ok > 0 {
		ev.MeanStepsToGoal = float64(okSteps) / float64(ok)
	}
	return ev
}

// clip limits x to [-limit, limit].
func clip(x, limit float64) float64 {
	return math.Max(-limit, math.Min(limit, x))
}

// PushedStarts draws n starts like Starts but already moving: each velocity
// component is uniform in [-speed, speed] m/s, as if the mass had just been
// pushed. Demonstrations always start at rest, so these states lie off the
// demonstrated distribution.
func (e PointMass) PushedStarts(n int, seed uint64, speed float64) []State {
	rng := rand.New(rand.NewPCG(seed, 0x9005))
	out := make([]State, max(n, 0))
	for i := range out {
		out[i] = e.randomStart(rng)
		out[i].Vel = [2]float64{speed * (2*rng.Float64() - 1), speed * (2*rng.Float64() - 1)}
	}
	return out
}
