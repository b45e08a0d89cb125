package deploy

import (
	"bytes"
	"context"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/ros2/msg"
	"github.com/policylab/policylab/lessons/sim"
)

// robotChildEnv makes the test binary act as `deploy robot`, so Demo can
// start the robot as a separate process without building the command.
const robotChildEnv = "POLICYLAB_DEPLOY_ROBOT_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(robotChildEnv) != "" && len(os.Args) > 1 && os.Args[1] == "robot" {
		if err := RobotMain(context.Background(), os.Args[2:], os.Stdout, os.Stderr); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func expert() eval.Policy {
	return eval.ExpertPolicy{X: sim.ArmFactory(arm.DefaultConfig(arm.Reach), false).NewExpert()}
}

// syncBuffer is a log shared by goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDemoAcrossProcesses runs the robot as a child process and the
// policy node (the scripted expert, which needs no training) here: every
// episode must succeed through real DDS, and the node must have measured
// every period.
func TestDemoAcrossProcesses(t *testing.T) {
	t.Setenv(robotChildEnv, "1")
	rcfg := DefaultRobotConfig()
	rcfg.Domain, rcfg.Episodes = RandomDomain(), 3
	ncfg := DefaultNodeConfig()
	ncfg.Domain = rcfg.Domain
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var log syncBuffer
	rrep, nrep, err := Demo(ctx, os.Args[0], rcfg, ncfg, expert(), &log)
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, log.String())
	}
	t.Log(rrep.Summary())
	t.Log(nrep)
	if len(rrep.Episodes) != 3 || rrep.SuccessRate != 1 {
		t.Errorf("robot report %+v: want 3 successful episodes", rrep)
	}
	for _, e := range rrep.Episodes {
		if e.Commands < 3 {
			t.Errorf("episode %+v succeeded on %d commands: the robot must have moved on the policy's trajectories", e, e.Commands)
		}
	}
	if rrep.BadTrajectories != 0 {
		t.Errorf("%d trajectories rejected", rrep.BadTrajectories)
	}
	if nrep.Episodes != 3 || nrep.Published == 0 || len(nrep.Latencies) != nrep.Published || len(nrep.Records) != nrep.Published {
		t.Errorf("node report: %d episodes, %d published, %d latencies, %d records", nrep.Episodes, nrep.Published, len(nrep.Latencies), len(nrep.Records))
	}
	for _, l := range nrep.Latencies {
		if l <= 0 || l > ncfg.StaleAfter+time.Second {
			t.Errorf("implausible latency %v", l)
		}
	}
}

// slowPolicy takes longer than a control period.
type slowPolicy struct{ eval.Policy }

func (s slowPolicy) Act(o sim.Obs) ([]float32, error) {
	time.Sleep(130 * time.Millisecond)
	return s.Policy.Act(o)
}

// runInProcess runs the robot and the policy node in this process (real
// DDS, delivered locally) until the robot's episodes are over, and returns
// the node's report.
func runInProcess(t *testing.T, rcfg RobotConfig, ncfg NodeConfig, pol eval.Policy, log *syncBuffer) *NodeReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	node, err := NewPolicyNode(ncfg, pol, ArmObs, log)
	if err != nil {
		t.Fatal(err)
	}
	nctx, ncancel := context.WithCancel(ctx)
	done := make(chan *NodeReport, 1)
	go func() {
		r, err := node.Run(nctx)
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	if _, err := RunRobot(ctx, rcfg, log); err != nil {
		ncancel()
		<-done
		t.Fatal(err)
	}
	ncancel()
	return <-done
}

// TestDeadlineMissesAreCounted runs the robot in this process (real DDS,
// delivered locally) with a policy slower than the period.
func TestDeadlineMissesAreCounted(t *testing.T) {
	rcfg := DefaultRobotConfig()
	rcfg.Domain, rcfg.Episodes = RandomDomain(), 1
	rcfg.Arm.MaxSteps = 12 // 1.2 s
	ncfg := DefaultNodeConfig()
	ncfg.Domain = rcfg.Domain
	var log syncBuffer
	rep := runInProcess(t, rcfg, ncfg, slowPolicy{expert()}, &log)
	if rep.DeadlineMisses < 3 {
		t.Errorf("%d deadline misses with a 130 ms policy at 10 Hz; log:\n%s", rep.DeadlineMisses, log.String())
	}
	if !strings.Contains(log.String(), "deadline missed") {
		t.Errorf("misses were not logged:\n%s", log.String())
	}
}

func TestRobotWithoutPolicyNodeFailsClearly(t *testing.T) {
	cfg := DefaultRobotConfig()
	cfg.Domain, cfg.WaitForPolicy = RandomDomain(), 300*time.Millisecond
	_, err := RunRobot(context.Background(), cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "no policy node") {
		t.Fatalf("got %v", err)
	}
}

// TestArmObsMatchesSimulator checks that the observation the node
// rebuilds from messages is the one the simulator gives a policy in
// training, element for element.
func TestArmObsMatchesSimulator(t *testing.T) {
	for _, task := range []arm.Task{arm.Reach, arm.ReachColor} {
		env, err := arm.New(arm.DefaultConfig(task))
		if err != nil {
			t.Fatal(err)
		}
		o := env.Reset(7)
		for i := 0; i < 5; i++ {
			o, _, _, _ = env.Step([7]float64{0.1, 0.2, 0, -1.5, 0, 1.6, 0.7})
		}
		stamp := msg.TimeFrom(time.Unix(1, 0))
		// Joint states in a shuffled order, as a driver may send them.
		js := jointState(o, stamp)
		perm := []int{3, 0, 6, 1, 5, 2, 4}
		shuffled := &msg.JointState{}
		for _, k := range perm {
			shuffled.Name = append(shuffled.Name, js.Name[k])
			shuffled.Position = append(shuffled.Position, js.Position[k])
			shuffled.Velocity = append(shuffled.Velocity, js.Velocity[k])
		}
		img := imageMsg(env.Render(32), stamp)
		got, err := ArmObs(Inputs{Joints: shuffled, Targets: poseArray(o, stamp), Instruction: o.Instruction, Image: img}, true)
		if err != nil {
			t.Fatal(err)
		}
		want := o.Vector()
		for i := range want {
			if math.Abs(float64(got.State[i]-want[i])) > 1e-6 {
				t.Errorf("%v: state[%d] = %g, simulator %g", task, i, got.State[i], want[i])
			}
		}
		if got.Instruction != o.Instruction || got.Image == nil || got.Image.Bounds().Dx() != 32 {
			t.Errorf("%v: instruction %q, image %v", task, got.Instruction, got.Image != nil)
		}
		if !bytes.Equal(got.Image.Pix, env.Render(32).Pix) {
			t.Errorf("%v: the decoded camera frame differs from the render", task)
		}
	}
	if _, err := ArmObs(Inputs{}, false); err == nil {
		t.Error("no joint state accepted")
	}
}

func TestTrajectoryTarget(t *testing.T) {
	pt := func(p ...float64) []msg.JointTrajectoryPoint { return []msg.JointTrajectoryPoint{{Positions: p}} }
	names := append([]string(nil), JointNames...)
	for _, c := range []struct {
		name string
		tr   msg.JointTrajectory
		want string // error substring, "" for ok
	}{
		{"ok", msg.JointTrajectory{JointNames: names, Points: pt(1, 2, 3, 4, 5, 6, 7)}, ""},
		{"reordered", msg.JointTrajectory{JointNames: []string{"joint7", "joint1", "joint2", "joint3", "joint4", "joint5", "joint6"}, Points: pt(7, 1, 2, 3, 4, 5, 6)}, ""},
		{"no points", msg.JointTrajectory{JointNames: names}, "without points"},
		{"unknown joint", msg.JointTrajectory{JointNames: []string{"j1", "joint2", "joint3", "joint4", "joint5", "joint6", "joint7"}, Points: pt(1, 2, 3, 4, 5, 6, 7)}, `unknown joint "j1"`},
		{"twice", msg.JointTrajectory{JointNames: []string{"joint1", "joint1", "joint3", "joint4", "joint5", "joint6", "joint7"}, Points: pt(1, 2, 3, 4, 5, 6, 7)}, "named twice"},
		{"six joints", msg.JointTrajectory{JointNames: names[:6], Points: pt(1, 2, 3, 4, 5, 6)}, "6 joint names"},
		{"short point", msg.JointTrajectory{JointNames: names, Points: pt(1, 2)}, "2 positions for 7 joints"},
		{"nan", msg.JointTrajectory{JointNames: names, Points: pt(1, 2, 3, math.NaN(), 5, 6, 7)}, "joint4 position NaN"},
	} {
		got, err := trajectoryTarget(&c.tr)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want == "" && got != [7]float64{1, 2, 3, 4, 5, 6, 7}:
			t.Errorf("%s: target %v", c.name, got)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestDecodeImage(t *testing.T) {
	px := []byte{10, 20, 30, 40, 50, 60}
	for _, c := range []struct {
		enc  string
		data []byte
		w    uint32
		step uint32
		want [3]byte // first pixel
		ok   bool
	}{
		{"rgb8", px, 2, 6, [3]byte{10, 20, 30}, true},
		{"bgr8", px, 2, 6, [3]byte{30, 20, 10}, true},
		{"mono8", px[:2], 2, 2, [3]byte{10, 10, 10}, true},
		{"rgba8", []byte{1, 2, 3, 4, 5, 6, 7, 8}, 2, 8, [3]byte{1, 2, 3}, true},
		{"rgb8", px[:5], 2, 6, [3]byte{}, false},
		{"rgb8", px, 2, 4, [3]byte{}, false},
		{"yuv422", px, 2, 6, [3]byte{}, false},
	} {
		img, err := DecodeImage(&msg.Image{Height: 1, Width: c.w, Encoding: c.enc, Step: c.step, Data: c.data})
		if (err == nil) != c.ok {
			t.Errorf("%s %v: error %v", c.enc, c.data, err)
			continue
		}
		if err == nil && [3]byte(img.Pix[:3]) != c.want {
			t.Errorf("%s: first pixel %v, want %v", c.enc, img.Pix[:3], c.want)
		}
	}
}

func TestConfigs(t *testing.T) {
	r := DefaultRobotConfig()
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	p := r.physicsConfig()
	if p.ControlDt != 0.01 || p.Substeps != 1 || p.MaxSteps != 1000 || p.HoldSteps != 1 {
		t.Errorf("physics config %+v: want 10 ms steps, one substep, 1000 steps, hold 1", p)
	}
	rc := DefaultRobotConfig()
	rc.Arm = arm.DefaultConfig(arm.ReachColor)
	if h := rc.physicsConfig().HoldSteps; h != 41 {
		t.Errorf("REACH-COLOR hold of 5 control steps is %d physics steps, want 41", h)
	}
	bad := []func(*RobotConfig){
		func(c *RobotConfig) { c.PhysicsHz = 33 },
		func(c *RobotConfig) { c.CameraHz = 0 },
		func(c *RobotConfig) { c.Episodes = 0 },
		func(c *RobotConfig) { c.Domain = 300 },
		func(c *RobotConfig) { c.ImageSize = 2 },
	}
	for i, f := range bad {
		c := DefaultRobotConfig()
		f(&c)
		if c.Validate() == nil {
			t.Errorf("bad robot config %d validated", i)
		}
	}
	n := DefaultNodeConfig()
	if err := n.Validate(); err != nil {
		t.Fatal(err)
	}
	n.RateHz = 0
	if n.Validate() == nil {
		t.Error("RateHz 0 validated")
	}
}

func TestPercentileAndStats(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if p := Percentile(d, 50); p != 50*time.Millisecond {
		t.Errorf("p50 %v", p)
	}
	if p := Percentile(d, 99); p != 99*time.Millisecond {
		t.Errorf("p99 %v", p)
	}
	if Percentile(nil, 50) != 0 {
		t.Error("empty")
	}
	r := &NodeReport{Rate: 10, Intervals: []time.Duration{100 * time.Millisecond, 104 * time.Millisecond, 90 * time.Millisecond, 100 * time.Millisecond}}
	s := r.Stats()
	if s.WithinPct != 75 || math.Abs(s.JitterP99-0.1) > 1e-6 {
		t.Errorf("stats %+v: want 75%% within ±5%% and p99 jitter 10%%", s)
	}
}
