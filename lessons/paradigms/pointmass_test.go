package paradigms

import (
	"math"
	"strings"
	"testing"
)

func TestZeroForceKeepsRestingMassAtRest(t *testing.T) {
	env := DefaultPointMass()
	for _, pos := range [][2]float64{{0, 0}, {0.7, -0.3}, {-1, 1}} {
		s := State{Pos: pos, Goal: [2]float64{0.5, 0.5}}
		for range env.Horizon {
			s = env.Step(s, [2]float64{})
		}
		if s.Pos != pos || s.Vel != [2]float64{} {
			t.Errorf("start %v: after %d zero-force steps pos %v vel %v", pos, env.Horizon, s.Pos, s.Vel)
		}
	}
}

func TestStepPhysics(t *testing.T) {
	env := DefaultPointMass()
	tests := []struct {
		name       string
		vel, force [2]float64
		wantVel    [2]float64
	}{
		// From rest, one step of force F: v = dt·F/m, x = dt·v (semi-implicit Euler).
		{"push x", [2]float64{}, [2]float64{0.5, 0}, [2]float64{0.05, 0}},
		// Forces beyond MaxForce are clipped per axis.
		{"clipped", [2]float64{}, [2]float64{10, -10}, [2]float64{0.1, -0.1}},
		// Damping alone slows a moving mass: v ← v(1 − dt·damping).
		{"damping", [2]float64{1, -2}, [2]float64{}, [2]float64{0.95, -1.9}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := env.Step(State{Vel: tc.vel}, tc.force)
			for i := range 2 {
				if math.Abs(s.Vel[i]-tc.wantVel[i]) > 1e-12 || math.Abs(s.Pos[i]-env.Dt*tc.wantVel[i]) > 1e-12 {
					t.Errorf("axis %d: vel %g pos %g, want vel %g pos %g", i, s.Vel[i], s.Pos[i], tc.wantVel[i], env.Dt*tc.wantVel[i])
				}
			}
		})
	}
}

func TestSuccess(t *testing.T) {
	env := DefaultPointMass()
	goal := [2]float64{0.2, 0.2}
	tests := []struct {
		name string
		s    State
		want bool
	}{
		{"at goal, still", State{Pos: goal, Goal: goal}, true},
		{"close, slow", State{Pos: [2]float64{0.23, 0.2}, Vel: [2]float64{0.05, 0}, Goal: goal}, true},
		{"too far", State{Pos: [2]float64{0.26, 0.2}, Goal: goal}, false},
		{"too fast", State{Pos: goal, Vel: [2]float64{0.08, 0.08}, Goal: goal}, false},
	}
	for _, tc := range tests {
		if got := env.Success(tc.s); got != tc.want {
			t.Errorf("%s: Success = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestExpertSucceeds(t *testing.T) {
	env := DefaultPointMass()
	ev := env.Evaluate(env.Expert(), env.Starts(100, 42))
	if ev.Success < 0.95 {
		t.Errorf("expert success %.2f over 100 starts, want >= 0.95", ev.Success)
	}
	ep := env.Rollout(env.Starts(1, 7)[0], env.Expert())
	if !ep.Success || ep.Steps != len(ep.Actions) || !env.Success(ep.Final) {
		t.Errorf("rollout: success %v, %d steps, %d actions, final %+v", ep.Success, ep.Steps, len(ep.Actions), ep.Final)
	}
	rec := env.Record(env.Starts(1, 7)[0], env.Expert())
	if rec.Steps != env.Horizon || !rec.Success {
		t.Errorf("record: %d steps (want %d), success %v", rec.Steps, env.Horizon, rec.Success)
	}
}

func TestStartsAreSeeded(t *testing.T) {
	env := DefaultPointMass()
	a, b, c := env.Starts(5, 1), env.Starts(5, 1), env.Starts(5, 2)
	if a[4] != b[4] || a[4] == c[4] {
		t.Errorf("Starts: same seed %v vs %v, other seed %v", a[4], b[4], c[4])
	}
	for _, s := range env.PushedStarts(50, 3, PushSpeed) {
		if math.Abs(s.Vel[0]) > PushSpeed || math.Abs(s.Vel[1]) > PushSpeed || math.Abs(s.Pos[0]) > env.StartRange {
			t.Fatalf("pushed start out of range: %+v", s)
		}
	}
}

func TestPointMassValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*PointMass)
		want string
	}{
		{"default", func(*PointMass) {}, ""},
		{"mass", func(e *PointMass) { e.Mass = 0 }, "Mass"},
		{"dt", func(e *PointMass) { e.Dt = math.NaN() }, "Dt"},
		{"damping", func(e *PointMass) { e.Damping = -1 }, "Damping"},
		{"horizon", func(e *PointMass) { e.Horizon = 0 }, "Horizon"},
	}
	for _, tc := range tests {
		e := DefaultPointMass()
		tc.edit(&e)
		err := e.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && (!strings.HasPrefix(err.Error(), "paradigms: ") || !strings.Contains(err.Error(), tc.want))) {
			t.Errorf("%s: Validate() = %v, want %q", tc.name, err, tc.want)
		}
	}
}
