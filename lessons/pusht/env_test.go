package pusht

import (
	"image/color"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		ok   bool
	}{
		{"default", func(*Config) {}, true},
		{"zero MaxSteps", func(c *Config) { c.MaxSteps = 0 }, false},
		{"coverage 0", func(c *Config) { c.SuccessCoverage = 0 }, false},
		{"coverage > 1", func(c *Config) { c.SuccessCoverage = 1.2 }, false},
		{"coverage NaN", func(c *Config) { c.SuccessCoverage = math.NaN() }, false},
		{"zero ControlHz", func(c *Config) { c.ControlHz = 0 }, false},
		{"SimHz not a multiple", func(c *Config) { c.SimHz = 105 }, false},
		{"negative Kp", func(c *Config) { c.Kp = -1 }, false},
		{"negative Kv", func(c *Config) { c.Kv = -1 }, false},
		{"damping > 1", func(c *Config) { c.Damping = 1.5 }, false},
		{"negative friction", func(c *Config) { c.Friction = -0.1 }, false},
		{"zero collision substeps", func(c *Config) { c.CollisionSubsteps = 0 }, false},
		{"table friction without force", func(c *Config) { c.TableFriction, c.TableForce = true, 0 }, false},
		{"table friction", func(c *Config) { c.TableFriction = true }, true},
		{"frictionless like the original", func(c *Config) { c.Friction = 0 }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			err := c.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "pusht: ") {
				t.Errorf("error %q lacks the pusht: prefix", err)
			}
			if _, nerr := New(c); (nerr == nil) != tc.ok {
				t.Errorf("New error = %v, want ok=%v", nerr, tc.ok)
			}
		})
	}
}

// rollout runs steps random actions (targets redrawn every 5 steps) from
// Reset(seed) and returns the observations.
func rollout(t *testing.T, e *Env, seed int64, steps int) []Obs {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(seed), 1))
	obs := []Obs{e.Reset(seed)}
	var a [2]float64
	for k := range steps {
		if k%5 == 0 {
			a = [2]float64{512 * r.Float64(), 512 * r.Float64()}
		}
		o, _, _, _ := e.Step(a)
		obs = append(obs, o)
	}
	return obs
}

func TestDeterminism(t *testing.T) {
	e1, _ := New(DefaultConfig())
	e2, _ := New(DefaultConfig())
	rollout(t, e2, 99, 50) // a different history must not matter
	a := rollout(t, e1, 7, 120)
	b := rollout(t, e2, 7, 120)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("step %d differs:\n%v\n%v", i, a[i], b[i])
		}
	}
	if c := rollout(t, e1, 8, 5); c[0] == a[0] {
		t.Errorf("seeds 7 and 8 start from the same state")
	}
}

func TestResetDistribution(t *testing.T) {
	e, _ := New(DefaultConfig())
	for seed := range int64(200) {
		o := e.Reset(seed)
		s := o.State
		if s[0] < 50 || s[0] > 450 || s[1] < 50 || s[1] > 450 {
			t.Fatalf("seed %d: agent %v outside [50,450]²", seed, s[:2])
		}
		// The first physics substep may nudge the block only if touched;
		// Reset avoids overlaps, so it stays in its sampled box.
		if s[2] < 100 || s[2] > 400 || s[3] < 100 || s[3] > 400 || s[4] < -math.Pi || s[4] >= math.Pi {
			t.Fatalf("seed %d: block %v outside its sampling box", seed, s[2:])
		}
		if w := wallOverlap(e.BlockPose()); w > -2 {
			t.Fatalf("seed %d: block reaches %v px into the walls", seed, w)
		}
	}
}

func TestObservation(t *testing.T) {
	e, _ := New(DefaultConfig())
	o := e.ResetTo([5]float64{100, 120, 256, 300, 3 * math.Pi / 2})
	if got := o.State[4]; math.Abs(got+math.Pi/2) > 1e-12 {
		t.Errorf("angle %v, want −π/2 after wrapping", got)
	}
	// Keypoint 8 is the block frame origin; the last two numbers the agent.
	if math.Abs(o.Keypoints[16]-256) > 1e-9 || math.Abs(o.Keypoints[17]-300) > 1e-9 {
		t.Errorf("keypoint 8 = %v, want (256,300)", o.Keypoints[16:18])
	}
	if o.Keypoints[18] != o.State[0] || o.Keypoints[19] != o.State[1] {
		t.Errorf("agent in keypoints %v, state %v", o.Keypoints[18:], o.State[:2])
	}
	// Angle −π/2 maps local (60,0) (bar's right end) to world (256, 240).
	if math.Abs(o.Keypoints[2]-256) > 1e-9 || math.Abs(o.Keypoints[3]-240) > 1e-9 {
		t.Errorf("keypoint 1 = %v, want (256,240)", o.Keypoints[2:4])
	}
}

// TestPDTracking: the agent's PD law (critically damped, ω = 10 rad/s)
// brings it to a fixed target without overshoot.
func TestPDTracking(t *testing.T) {
	e, _ := New(DefaultConfig())
	e.ResetTo([5]float64{100, 100, 400, 400, 0})
	target := [2]float64{200, 150}
	d0 := math.Hypot(100, 50)
	var prev = d0
	for k := range 20 {
		e.Step(target)
		p := e.AgentPos()
		d := math.Hypot(p.X-target[0], p.Y-target[1])
		if d > prev+1e-9 {
			t.Fatalf("step %d: distance grew %v → %v", k, prev, d)
		}
		// Progress along the line, never past the target.
		if along := ((p.X-100)*100 + (p.Y-100)*50) / d0; along > d0+1e-6 {
			t.Fatalf("step %d: overshoot %v px", k, along-d0)
		}
		prev = d
	}
	if prev > 0.1 {
		t.Errorf("after 2 s the agent is %v px from its target", prev)
	}
	// After one control step the continuous-time response is
	// 1 − (1+ωt)e^{−ωt} = 1 − 2/e ≈ 0.264 of the way (Euler steps: close).
	e.ResetTo([5]float64{100, 100, 400, 400, 0})
	e.Step([2]float64{200, 100})
	if frac := (e.AgentPos().X - 100) / 100; math.Abs(frac-(1-2/math.E)) > 0.05 {
		t.Errorf("first-step fraction %v, want ≈ %v", frac, 1-2/math.E)
	}
}

// TestNoTunnelling: long random-action rollouts, half of the time aiming
// through the block (which drives it into the walls), keep the block inside
// the walls, the agent inside the workspace and never deep in the block.
func TestNoTunnelling(t *testing.T) {
	e, _ := New(DefaultConfig())
	var worstPen, worstOut float64
	var early, late float64 // summed penetration, first and last 100 steps
	for ep := range int64(20) {
		e.Reset(ep)
		r := rand.New(rand.NewPCG(uint64(ep), 2))
		var a [2]float64
		for k := range 300 {
			if k%5 == 0 {
				if r.IntN(2) == 0 { // aim through the block, as far again
					c, p := e.BlockPose().toWorld(cogLocal), e.AgentPos()
					a = [2]float64{2*c.X - p.X, 2*c.Y - p.Y}
				} else {
					a = [2]float64{512 * r.Float64(), 512 * r.Float64()}
				}
			}
			_, _, _, info := e.Step(a)
			worstPen = math.Max(worstPen, info.Penetration)
			worstOut = math.Max(worstOut, wallOverlap(e.BlockPose()))
			switch {
			case k < 100:
				early += info.Penetration
			case k >= 200:
				late += info.Penetration
			}
			if p := e.AgentPos(); p.X < -2 || p.X > 514 || p.Y < -2 || p.Y > 514 {
				t.Fatalf("episode %d step %d: agent at %v left the workspace", ep, k, p)
			}
		}
	}
	t.Logf("worst penetration %.2f px, worst wall overlap %.2f px, mean penetration early %.3f late %.3f px",
		worstPen, worstOut, early/2000, late/2000)
	if worstPen > 5 {
		t.Errorf("agent sank %.2f px into the block, want < 5", worstPen)
	}
	if worstOut > 4 {
		t.Errorf("block went %.2f px into a wall, want < 4", worstOut)
	}
	if late > early+0.5*2000 {
		t.Errorf("penetration grows: mean %.3f px early, %.3f late", early/2000, late/2000)
	}
}

func TestTableFrictionOption(t *testing.T) {
	cfg := DefaultConfig()
	cfg.TableFriction, cfg.Damping = true, 1 // no velocity reset: joints alone
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.ResetTo([5]float64{256, 420, 256, 200, 0})
	for range 15 {
		e.Step([2]float64{256, 300}) // push the stem up
	}
	moved := e.BlockPose()
	for range 10 {
		e.Step([2]float64{256, 480}) // withdraw
	}
	if after := e.BlockPose(); moved.Y > 195 || math.Abs(after.Y-moved.Y) > 3 {
		t.Errorf("block at %v after push and %v after withdrawing: want pushed and then stopped", moved, after)
	}
}

func TestRender(t *testing.T) {
	e, _ := New(DefaultConfig())
	e.ResetTo([5]float64{100, 100, 400, 420, 0})
	for _, size := range []int{96, 256} {
		img := e.Render(size)
		if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
			t.Fatalf("size %d: bounds %v", size, b)
		}
		k := float64(size) / 512
		at := func(x, y float64) color.RGBA { return img.RGBAAt(int(x*k), int(y*k)) }
		if c := at(100, 100); c != ColorAgent {
			t.Errorf("size %d: agent centre %v, want %v", size, c, ColorAgent)
		}
		if g := GoalPose.toWorld(Vec{0, 75}); at(g.X, g.Y) != ColorGoal { // middle of the stem
			c := at(g.X, g.Y)
			t.Errorf("size %d: goal stem %v, want %v", size, c, ColorGoal)
		}
		if c := at(400, 430); c != ColorBlock {
			t.Errorf("size %d: block %v, want %v", size, c, ColorBlock)
		}
		if c := at(60, 300); c != ColorBackground {
			t.Errorf("size %d: table %v, want %v", size, c, ColorBackground)
		}
	}
	if b := e.Image96().Bounds(); b.Dx() != 96 {
		t.Errorf("Image96 bounds %v", b)
	}
}
