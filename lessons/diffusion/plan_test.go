package diffusion

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// planCases are the samplers Plan is held to, on both schedules, with and
// without clipping.
var planCases = []struct {
	method Method
	steps  int
	eta    float64
}{
	{MethodDDPM, 0, 0},
	{MethodChapter, 0, 0},
	{MethodDDIM, 10, 0},
	{MethodDDIM, 10, 1},
	{MethodDDIM, 30, 0.5},
	{MethodDDIM, 100, 0},
	{MethodDDIM, 1, 0},
}

// TestPlanMatchesSteps: every step of a Plan, applied, is the sampler's own
// step (StepDDPM, StepDDIM, StepChapter) on the same x_t, ε̂ and z, with
// x̂_0 clipped in some elements.
func TestPlanMatchesSteps(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, v := range clipVariants(t) {
		s, c, clip := v.s, v.s.Config, v.clip
		for _, pc := range planCases {
			name := fmt.Sprintf("%s clip=%v %s-%d eta %g", c.Schedule, clip, pc.method, pc.steps, pc.eta)
			plan, err := s.Plan(pc.method, pc.steps, pc.eta)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			clipped := 0
			for _, st := range plan {
				xt, eps, z := normals(rng, 256, 1.5), normals(rng, 256, 1), normals(rng, 256, 1)
				want, got := make([]float32, 256), make([]float32, 256)
				switch pc.method {
				case MethodDDPM:
					s.StepDDPM(want, eps, xt, z, st.T)
				case MethodDDIM:
					s.StepDDIM(want, eps, xt, z, st.T, st.TPrev, pc.eta)
				case MethodChapter:
					s.StepChapter(want, eps, xt, z, st.T)
				}
				st.Apply(got, eps, xt, z)
				for i := range got {
					if d := math.Abs(float64(got[i] - want[i])); d > 2e-4*(1+math.Abs(float64(want[i]))) {
						t.Fatalf("%s t=%d: element %d is %v, the sampler's step gives %v", name, st.T, i, got[i], want[i])
					}
				}
				x0 := make([]float32, 256)
				s.PredictX0(x0, eps, xt, st.T)
				for _, v := range x0 {
					if math.Abs(float64(v)) == 1 {
						clipped++
					}
				}
			}
			if clip && pc.method != MethodChapter && clipped == 0 {
				t.Errorf("%s: clipping never happened; the test is too weak", name)
			}
		}
	}
}

// TestPlanMatchesSample: sampling step by step with a Plan, drawing z from
// the same stream exactly for the steps whose Sigma > 0, gives Sample's
// result; the timesteps are Sample's.
func TestPlanMatchesSample(t *testing.T) {
	for _, pc := range planCases {
		s := mustNew(t, DefaultConfig())
		pred := gaussianEps(s, 0.8, 0.5) // some mass beyond ±1 so clipping acts
		start := normals(rand.New(rand.NewPCG(7, 8)), 500, 1)
		want := slices.Clone(start)
		var ts []int
		if err := s.Sample(want, pred, pc.method, pc.steps, pc.eta, rand.New(rand.NewPCG(9, 9)), func(t int, _ []float32) { ts = append(ts, t) }); err != nil {
			t.Fatal(err)
		}
		plan, err := s.Plan(pc.method, pc.steps, pc.eta)
		if err != nil {
			t.Fatal(err)
		}
		got, z, rng := slices.Clone(start), make([]float32, len(start)), rand.New(rand.NewPCG(9, 9))
		for k, st := range plan {
			if st.T != ts[k] {
				t.Fatalf("%s-%d: step %d starts at t=%d, Sample's at %d", pc.method, pc.steps, k, st.T, ts[k])
			}
			eps, _ := pred(got, st.T)
			if st.Sigma > 0 {
				for i := range z {
					z[i] = float32(rng.NormFloat64())
				}
			}
			st.Apply(got, eps, got, z)
		}
		if len(plan) != len(ts) {
			t.Fatalf("%s-%d: %d steps, Sample took %d", pc.method, pc.steps, len(plan), len(ts))
		}
		if d := maxAbsDiff(got, want); d > 1e-4 {
			t.Errorf("%s-%d eta %g: the plan's sample differs from Sample's by %v", pc.method, pc.steps, pc.eta, d)
		}
	}
	s := mustNew(t, DefaultConfig())
	for _, bad := range []struct {
		method Method
		steps  int
		eta    float64
		want   string
	}{
		{MethodDDIM, 0, 0, "0 DDIM steps"},
		{MethodDDIM, 101, 0, "101 DDIM steps"},
		{MethodDDIM, 10, -1, "eta is -1"},
		{"euler", 10, 0, `method "euler"`},
	} {
		if _, err := s.Plan(bad.method, bad.steps, bad.eta); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Plan(%s, %d, %g): %v, want an error with %q", bad.method, bad.steps, bad.eta, err, bad.want)
		}
	}
}
