package paradigms

import (
	"reflect"
	"strings"
	"testing"
)

func TestCEMNeedsFarMoreStepsThanBC(t *testing.T) {
	env := DefaultPointMass()
	eval := env.Starts(100, 99)
	res, err := RunCEM(env, DefaultCEMConfig(), eval, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Reached || res.Final.Success < 0.9 {
		t.Fatalf("CEM did not reach 90%% within %d steps: final %+v", DefaultCEMConfig().Budget, res.Final)
	}
	if res.StepsToTarget != res.EnvSteps {
		t.Errorf("without KeepImproving the search should stop at the target: %d vs %d", res.StepsToTarget, res.EnvSteps)
	}
	demos := env.Demos(10, 7)
	bc, err := FitBC(demos, DefaultRidge)
	if err != nil {
		t.Fatal(err)
	}
	bcEval := env.Evaluate(bc, eval)
	bcSteps := DemoSteps(demos)
	t.Logf("CEM: %d env steps to %.0f%%; BC: %d demo steps to %.0f%%", res.EnvSteps, 100*res.Final.Success, bcSteps, 100*bcEval.Success)
	if bcEval.Success < 0.9 {
		t.Fatalf("BC reached only %.2f", bcEval.Success)
	}
	if res.EnvSteps < 10*bcSteps {
		t.Errorf("CEM used %d env steps, not even 10× BC's %d demo steps", res.EnvSteps, bcSteps)
	}
	// The curve starts before any interaction and its steps only grow.
	if res.Curve[0].EnvSteps != 0 {
		t.Errorf("curve starts at %d steps", res.Curve[0].EnvSteps)
	}
	for i := 1; i < len(res.Curve); i++ {
		if res.Curve[i].EnvSteps <= res.Curve[i-1].EnvSteps {
			t.Errorf("curve not increasing at %d: %v", i, res.Curve[i-1:i+1])
		}
	}
}

func TestCEMDeterministicAndBudget(t *testing.T) {
	env := DefaultPointMass()
	eval := env.Starts(50, 3)
	cfg := DefaultCEMConfig()
	cfg.Budget = 20_000 // a few iterations only
	a, err := RunCEM(env, cfg, eval, 11)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := RunCEM(env, cfg, eval, 11)
	if !reflect.DeepEqual(a, b) {
		t.Error("same seed, different results")
	}
	if a.EnvSteps > cfg.Budget {
		t.Errorf("used %d env steps, budget %d", a.EnvSteps, cfg.Budget)
	}
}

func TestCEMConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*CEMConfig)
		want string
	}{
		{"population", func(c *CEMConfig) { c.Population = 1 }, "Population"},
		{"elites", func(c *CEMConfig) { c.Elites = 30 }, "Elites"},
		{"episodes", func(c *CEMConfig) { c.EpisodesPerCandidate = 0 }, "EpisodesPerCandidate"},
		{"std", func(c *CEMConfig) { c.InitStd = 0 }, "InitStd"},
		{"target", func(c *CEMConfig) { c.Target = 1.5 }, "Target"},
		{"budget", func(c *CEMConfig) { c.Budget = 0 }, "Budget"},
	}
	env := DefaultPointMass()
	for _, tc := range tests {
		cfg := DefaultCEMConfig()
		tc.edit(&cfg)
		_, err := RunCEM(env, cfg, env.Starts(1, 1), 1)
		if err == nil || !strings.HasPrefix(err.Error(), "paradigms: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := RunCEM(env, DefaultCEMConfig(), nil, 1); err == nil {
		t.Error("no evaluation starts accepted")
	}
}
