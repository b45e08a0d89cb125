package paradigms

import (
	"math"
	"slices"
	"testing"
)

func TestSolve(t *testing.T) {
	a := [NumFeatures][NumFeatures]float64{
		{0, 2, 0, 0, 1}, // zero pivot in place: needs a row swap
		{3, 1, 0, 0, 0},
		{0, 0, 4, 1, 0},
		{1, 0, 1, 5, 0},
		{0, 1, 0, 0, 2},
	}
	want := [NumFeatures]float64{1, -2, 0.5, 3, -1}
	var b [NumFeatures]float64
	for i := range NumFeatures {
		for j := range NumFeatures {
			b[i] += a[i][j] * want[j]
		}
	}
	got, err := solve(a, b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Errorf("x[%d] = %g, want %g", i, got[i], want[i])
		}
	}
	if _, err := solve([NumFeatures][NumFeatures]float64{}, b); err == nil {
		t.Error("singular system solved without error")
	}
}

// An expert that never saturates is exactly linear in the features, so
// least squares must recover its gains.
func TestFitBCRecoversUnsaturatedExpert(t *testing.T) {
	env := DefaultPointMass()
	x := Expert{Kp: 2, Kd: 1.5, MaxForce: 1e9}
	var demos []Episode
	for _, s := range env.Starts(3, 5) {
		demos = append(demos, env.Record(s, x))
	}
	p, err := FitBC(demos, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := LinearPolicy{W: [2][NumFeatures]float64{{2, 0, -1.5, 0, 0}, {0, 2, 0, -1.5, 0}}}
	for i := range 2 {
		for j := range NumFeatures {
			if math.Abs(p.W[i][j]-want.W[i][j]) > 1e-6 {
				t.Errorf("W[%d][%d] = %g, want %g", i, j, p.W[i][j], want.W[i][j])
			}
		}
	}
}

func TestBCTenDemosSucceeds(t *testing.T) {
	env := DefaultPointMass()
	for _, seed := range []uint64{1, 2, 3} {
		demos := env.Demos(10, seed)
		p, err := FitBC(demos, DefaultRidge)
		if err != nil {
			t.Fatal(err)
		}
		ev := env.Evaluate(p, env.Starts(100, 1000+seed))
		if ev.Success < 0.9 {
			t.Errorf("seed %d: BC from 10 demos succeeds %.2f, want >= 0.9", seed, ev.Success)
		}
		if got := DemoSteps(demos); got != 10*env.Horizon {
			t.Errorf("DemoSteps = %d, want %d", got, 10*env.Horizon)
		}
	}
}

func TestFitBCErrors(t *testing.T) {
	env := DefaultPointMass()
	one := env.Demos(1, 1)
	// A "demonstration" that sits in one state excites one feature direction
	// only: without a ridge the normal equations are singular.
	s := env.Starts(1, 1)[0]
	still := []Episode{{States: []State{s, s, s}, Actions: [][2]float64{{1, 0}, {1, 0}, {1, 0}}}}
	tests := []struct {
		name  string
		demos []Episode
		ridge float64
	}{
		{"no demos", nil, DefaultRidge},
		{"negative ridge", one, -1},
		{"singular", still, 0},
		{"ragged", []Episode{{States: make([]State, 2), Actions: make([][2]float64, 1)}}, DefaultRidge},
	}
	for _, tc := range tests {
		if _, err := FitBC(tc.demos, tc.ridge); err == nil {
			t.Errorf("%s: FitBC succeeded, want an error", tc.name)
		}
	}
	for name, demos := range map[string][]Episode{"one demo": one, "still demo": still} {
		if _, err := FitBC(demos, DefaultRidge); err != nil {
			t.Errorf("%s with ridge: %v", name, err)
		}
	}
}

func TestLinearPolicyParams(t *testing.T) {
	p := env0Policy()
	q, err := LinearPolicyFromParams(p.Params())
	if err != nil || q != p {
		t.Errorf("round trip: %v, %v", q, err)
	}
	if _, err := LinearPolicyFromParams(make([]float64, 3)); err == nil {
		t.Error("3 parameters accepted")
	}
	if !slices.Equal(p.Params()[:3], []float64{1, 2, 3}) {
		t.Errorf("Params order: %v", p.Params())
	}
}

// env0Policy is a policy with distinct weights, for round trips.
func env0Policy() LinearPolicy {
	var p LinearPolicy
	for i := range 2 {
		for j := range NumFeatures {
			p.W[i][j] = float64(i*NumFeatures + j + 1)
		}
	}
	return p
}
