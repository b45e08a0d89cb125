package arm

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	for _, task := range []Task{Reach, ReachColor, ReachBetween} {
		if err := DefaultConfig(task).Validate(); err != nil {
			t.Fatalf("DefaultConfig(%v): %v", task, err)
		}
	}
	tests := []struct {
		name  string
		edit  func(c *Config)
		field string // expected in the error
	}{
		{"unknown task", func(c *Config) { c.Task = 7 }, "Task"},
		{"zero MaxSteps", func(c *Config) { c.MaxSteps = 0 }, "MaxSteps"},
		{"zero Substeps", func(c *Config) { c.Substeps = 0 }, "Substeps"},
		{"zero HoldSteps", func(c *Config) { c.HoldSteps = 0 }, "HoldSteps"},
		{"HoldSteps above MaxSteps", func(c *Config) { c.HoldSteps = 200 }, "HoldSteps"},
		{"negative ControlDt", func(c *Config) { c.ControlDt = -0.1 }, "ControlDt"},
		{"NaN Kp", func(c *Config) { c.Kp = math.NaN() }, "Kp"},
		{"zero Kd", func(c *Config) { c.Kd = 0 }, "Kd"},
		{"zero SuccessRadius", func(c *Config) { c.SuccessRadius = 0 }, "SuccessRadius"},
		{"negative InitNoise", func(c *Config) { c.InitNoise = -1 }, "InitNoise"},
		{"infinite MinStartDistance", func(c *Config) { c.MinStartDistance = math.Inf(1) }, "MinStartDistance"},
		{"unstable controller", func(c *Config) { c.Substeps = 1 }, "Kp/Kd"},
		{"empty workspace", func(c *Config) { c.WorkspaceMax[2] = c.WorkspaceMin[2] }, "WorkspaceMin[2]"},
		{"targets overlapping", func(c *Config) { c.MinSeparation = 0.03 }, "MinSeparation"},
		{"negative clearance", func(c *Config) { c.PathClearance = -0.01 }, "PathClearance"},
		{"unknown goal colour", func(c *Config) { c.GoalColor = "green" }, "GoalColor"},
		{"goal colour on between", func(c *Config) { c.Task, c.GoalColor = ReachBetween, "red" }, "GoalColor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig(ReachColor)
			tc.edit(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("Validate accepted the config")
			}
			if !strings.HasPrefix(err.Error(), "arm: ") || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q: want prefix %q and mention of %q", err, "arm: ", tc.field)
			}
			if _, err := New(c); err == nil {
				t.Error("New accepted the config")
			}
		})
	}
}

// TestLimitsUnderRandomActions drives the arm with wild targets (far
// outside the limits, NaN and ±Inf included) and checks every step.
func TestLimitsUnderRandomActions(t *testing.T) {
	env, err := New(DefaultConfig(Reach))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	specials := []float64{math.NaN(), math.Inf(1), math.Inf(-1)}
	atLimit := 0
	for ep := 0; ep < 20; ep++ {
		env.Reset(int64(ep))
		for s := 0; s < 100; s++ {
			var a [7]float64
			for i := range a {
				a[i] = 10 * (2*rng.Float64() - 1)
				if rng.IntN(20) == 0 {
					a[i] = specials[rng.IntN(3)]
				}
			}
			o, _, done, _ := env.Step(a)
			for i := 0; i < 7; i++ {
				if q := o.JointPos[i]; !(q >= QMin[i] && q <= QMax[i]) {
					t.Fatalf("episode %d step %d: joint %d at %g outside [%g, %g]", ep, s, i, q, QMin[i], QMax[i])
				}
				if o.JointPos[i] == QMin[i] || o.JointPos[i] == QMax[i] {
					atLimit++
				}
				if v := o.JointVel[i]; !(math.Abs(v) <= QdMax[i]) {
					t.Fatalf("episode %d step %d: joint %d speed %g above %g", ep, s, i, v, QdMax[i])
				}
			}
			if done {
				break
			}
		}
	}
	if atLimit == 0 {
		t.Error("no joint ever reached a limit: the test drives too gently")
	}
}

// TestControllerTracks checks the second-order joint model: a step target
// is reached smoothly (moving, then settling) within a second.
func TestControllerTracks(t *testing.T) {
	cfg := DefaultConfig(Reach)
	cfg.InitNoise = 0
	cfg.MaxSteps = 1000
	env, _ := New(cfg)
	o := env.Reset(0)
	target := Ready
	target[0] += 0.3
	target[3] -= 0.2
	o, _, _, _ = env.Step(target)
	if o.JointVel[0] <= 0 || o.JointPos[0] <= Ready[0] || o.JointPos[0] >= target[0] {
		t.Errorf("after one step joint 1 at %g rad, %g rad/s: want moving from %g toward %g", o.JointPos[0], o.JointVel[0], Ready[0], target[0])
	}
	for s := 0; s < 10; s++ {
		o, _, _, _ = env.Step(target)
	}
	for i := range target {
		if math.Abs(o.JointPos[i]-target[i]) > 1e-3 || math.Abs(o.JointVel[i]) > 1e-2 {
			t.Errorf("joint %d: %g rad, %g rad/s after 1.1 s; want at rest at %g", i, o.JointPos[i], o.JointVel[i], target[i])
		}
	}
}

func TestSameSeedSameEpisode(t *testing.T) {
	for _, task := range []Task{Reach, ReachColor} {
		run := func(seed int64) []Obs {
			env, _ := New(DefaultConfig(task))
			rng := rand.New(rand.NewPCG(uint64(seed), 9))
			obs := []Obs{env.Reset(seed)}
			x := DefaultExpert()
			for s := 0; s < 30; s++ {
				a := x.Act(obs[len(obs)-1])
				for i := range a {
					a[i] += 0.3 * (2*rng.Float64() - 1)
				}
				o, _, _, _ := env.Step(a)
				obs = append(obs, o)
			}
			return obs
		}
		a, b, c := run(42), run(42), run(43)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%v: step %d differs between two runs of seed 42:\n%+v\n%+v", task, i, a[i], b[i])
			}
		}
		if a[0] == c[0] {
			t.Errorf("%v: seeds 42 and 43 start identically", task)
		}
	}
}

// runExpert runs one episode with policy and returns the final info and
// observation.
func runExpert(env *Env, seed int64, policy func(Obs) [7]float64) (Info, Obs) {
	o := env.Reset(seed)
	for {
		var info Info
		var done bool
		o, _, done, info = env.Step(policy(o))
		if done {
			return info, o
		}
	}
}

func TestExpertReach(t *testing.T) {
	env, _ := New(DefaultConfig(Reach))
	x := DefaultExpert()
	const n = 100
	ok, steps := 0, 0
	for seed := int64(0); seed < n; seed++ {
		info, o := runExpert(env, seed, x.Act)
		if info.Success {
			ok++
			steps += o.Step
			if info.Distance >= 0.02 {
				t.Errorf("seed %d: success at %g m", seed, info.Distance)
			}
		}
	}
	rate := float64(ok) / n
	t.Logf("REACH expert success %d/%d = %.2f, mean %.1f steps", ok, n, rate, float64(steps)/float64(max(ok, 1)))
	if rate < 0.95 {
		t.Errorf("REACH expert success %.2f, want >= 0.95", rate)
	}
}

func TestExpertReachColor(t *testing.T) {
	cfg := DefaultConfig(ReachColor)
	env, _ := New(cfg)
	x := DefaultExpert()
	const n = 100
	ok, wrongOK, steps := 0, 0, 0
	instr := map[string]int{}
	for seed := int64(0); seed < n; seed++ {
		info, o := runExpert(env, seed, x.Act)
		instr[o.Instruction]++
		goal := o.Targets[o.GoalIndex()]
		if goal != env.Goal() {
			t.Fatalf("seed %d: instruction %q names %v, env goal %v", seed, o.Instruction, goal, env.Goal())
		}
		if info.Success {
			ok++
			steps += o.Step
			if dist(o.EEPos, goal) >= cfg.SuccessRadius || info.Hold != cfg.HoldSteps {
				t.Errorf("seed %d: success %g m from the named target after holding %d steps", seed, dist(o.EEPos, goal), info.Hold)
			}
		}
		// A policy heading for the other target touches it and fails.
		other := o.Targets[1-o.GoalIndex()]
		winfo, _ := runExpert(env, seed, func(o Obs) [7]float64 { return x.ActToward(o, other) })
		if winfo.Failure && !winfo.Success {
			wrongOK++
		}
	}
	rate := float64(ok) / n
	t.Logf("REACH-COLOR expert success %d/%d = %.2f, mean %.1f steps; wrong-target policy failed %d/%d; instructions %v",
		ok, n, rate, float64(steps)/float64(max(ok, 1)), wrongOK, n, instr)
	if rate < 0.9 {
		t.Errorf("REACH-COLOR expert success %.2f, want >= 0.9", rate)
	}
	if wrongOK != n {
		t.Errorf("wrong-target policy failed only %d/%d episodes", wrongOK, n)
	}
	if instr[InstructionRed] < 30 || instr[InstructionBlue] < 30 {
		t.Errorf("instructions unbalanced: %v", instr)
	}
}

func TestExpertReachBetween(t *testing.T) {
	cfg := DefaultConfig(ReachBetween)
	env, _ := New(cfg)
	x := DefaultExpert()
	const n = 100
	ok, redFail := 0, 0
	for seed := int64(0); seed < n; seed++ {
		info, o := runExpert(env, seed, x.Act)
		if o.Instruction != InstructionBetween || o.NumTargets != 2 {
			t.Fatalf("seed %d: instruction %q, %d targets", seed, o.Instruction, o.NumTargets)
		}
		m := o.Goal()
		for k := 0; k < 3; k++ {
			if math.Abs(m[k]-(o.Targets[0][k]+o.Targets[1][k])/2) > 1e-12 || m != env.Goal() {
				t.Fatalf("seed %d: goal %v is not the midpoint of %v (env %v)", seed, m, o.Targets, env.Goal())
			}
		}
		if info.Success {
			ok++
			if dist(o.EEPos, m) >= cfg.SuccessRadius || info.Hold != cfg.HoldSteps {
				t.Errorf("seed %d: success %g m from the midpoint after holding %d steps", seed, dist(o.EEPos, m), info.Hold)
			}
		}
		// Reaching for the red target, as a REACH-COLOR policy would, fails.
		red := o.Targets[0]
		if winfo, _ := runExpert(env, seed, func(o Obs) [7]float64 { return x.ActToward(o, red) }); winfo.Failure && !winfo.Success {
			redFail++
		}
	}
	t.Logf("REACH-BETWEEN expert success %d/%d; red-target policy failed %d/%d", ok, n, redFail, n)
	if ok < 90 {
		t.Errorf("REACH-BETWEEN expert success %d/%d, want >= 90", ok, n)
	}
	if redFail != n {
		t.Errorf("red-target policy failed only %d/%d episodes", redFail, n)
	}
}

// TestGoalColor checks that GoalColor fixes the instruction and leaves
// the targets of each seed as they were.
func TestGoalColor(t *testing.T) {
	free, _ := New(DefaultConfig(ReachColor))
	for _, color := range []string{"red", "blue"} {
		cfg := DefaultConfig(ReachColor)
		cfg.GoalColor = color
		env, _ := New(cfg)
		want := map[string]string{"red": InstructionRed, "blue": InstructionBlue}[color]
		for seed := int64(0); seed < 20; seed++ {
			o, f := env.Reset(seed), free.Reset(seed)
			if o.Instruction != want || o.Targets != f.Targets {
				t.Fatalf("%s, seed %d: instruction %q (want %q), targets %v (free draw %v)", color, seed, o.Instruction, want, o.Targets, f.Targets)
			}
		}
	}
}

// TestHoldAndStop checks that ReachColor needs HoldSteps consecutive steps
// at the target, and that stepping a finished episode changes nothing.
func TestHoldAndStop(t *testing.T) {
	env, _ := New(DefaultConfig(ReachColor))
	x := DefaultExpert()
	o := env.Reset(7)
	first := -1
	var info Info
	var done bool
	for !done {
		o, _, done, info = env.Step(x.Act(o))
		if first < 0 && info.Distance < 0.02 {
			first = o.Step
		}
	}
	if !info.Success || o.Step < first+4 {
		t.Fatalf("success %v at step %d; first within 2 cm at step %d", info.Success, o.Step, first)
	}
	o2, r, done2, info2 := env.Step(Ready)
	if o2 != o || r != 0 || !done2 || info2 != info {
		t.Errorf("step after done changed the episode: %+v %g %v %+v", o2, r, done2, info2)
	}
}

func TestObsVectors(t *testing.T) {
	for _, task := range []Task{Reach, ReachColor, ReachBetween} {
		env, _ := New(DefaultConfig(task))
		o := env.Reset(3)
		o, _, _, _ = env.Step(DefaultExpert().Act(o))
		p, v := o.Proprio(), o.Vector()
		if len(p) != 14 || len(v) != VectorDim {
			t.Fatalf("%v: Proprio %d, Vector %d values", task, len(p), len(v))
		}
		for i := 0; i < 7; i++ {
			if p[i] != float32(o.JointPos[i]) || p[7+i] != float32(o.JointVel[i]) || v[i] != p[i] || v[7+i] != p[7+i] {
				t.Fatalf("%v: joint %d misplaced", task, i)
			}
		}
		for k := 0; k < 3; k++ {
			if v[14+k] != float32(o.EEPos[k]) || v[17+k] != float32(o.Targets[0][k]) ||
				v[23+k] != float32(o.Targets[0][k]-o.EEPos[k]) {
				t.Fatalf("%v: coordinate %d misplaced", task, k)
			}
		}
		g := o.GoalIndex()
		if task == ReachBetween {
			if v[29] != 0.5 || v[30] != 0.5 || v[31] != 1 {
				t.Errorf("%v: instruction/task entries %v for %q", task, v[29:], o.Instruction)
			}
		} else if v[29+g] != 1 || v[30-g] != 0 || v[31] != float32(o.NumTargets-1) {
			t.Errorf("%v: instruction/task entries %v for %q", task, v[29:], o.Instruction)
		}
		if task == Reach && (o.Instruction != InstructionReach || o.NumTargets != 1) {
			t.Errorf("Reach: instruction %q, %d targets", o.Instruction, o.NumTargets)
		}
	}
}

// BenchmarkStep measures environment control steps (10 substeps and
// forward kinematics each) per second on one core.
func BenchmarkStep(b *testing.B) {
	env, _ := New(DefaultConfig(Reach))
	env.Reset(1)
	a1, a2 := Ready, Ready
	a1[0], a2[0] = 0.5, -0.5
	steps := 0
	for i := 0; b.Loop(); i++ {
		a := a1
		if i%20 >= 10 {
			a = a2
		}
		if _, _, done, _ := env.Step(a); done {
			env.Reset(int64(i))
		}
		steps++
	}
	b.ReportMetric(float64(steps)/b.Elapsed().Seconds(), "steps/s")
}

// BenchmarkImage96 measures rendering the 96×96 camera image.
func BenchmarkImage96(b *testing.B) {
	env, _ := New(DefaultConfig(ReachColor))
	env.Reset(1)
	for b.Loop() {
		env.Image96()
	}
}
