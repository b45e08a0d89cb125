package deploy

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"sync"
	"time"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/ros2"
	"github.com/policylab/policylab/lessons/ros2/msg"
)

// RobotConfig configures the simulated robot node.
type RobotConfig struct {
	// Domain is the ROS 2 domain (ROS_DOMAIN_ID).
	Domain int
	// Arm is the task at its control rate (arm.DefaultConfig: 10 Hz,
	// 100 steps). The robot integrates the same physics in real time at
	// PhysicsHz and checks the task at that rate: MaxSteps and HoldSteps
	// are scaled to keep their durations.
	Arm arm.Config
	// PhysicsHz is the integration and /joint_states rate (100 Hz; it
	// must divide into Arm.Substeps/Arm.ControlDt, the training physics).
	PhysicsHz float64
	// CameraHz is the rate of /camera/image and /targets (10 Hz).
	CameraHz float64
	// ImageSize is the camera's square side in pixels (96).
	ImageSize int
	// Episodes is how many episodes to serve; Seed is the first episode's
	// reset seed (episode i uses Seed+i).
	Episodes int
	Seed     int64
	// CommandTimeout: with no trajectory for this long the arm holds its
	// position (a real driver's safety stop). 0.5 s by default.
	CommandTimeout time.Duration
	// WaitForPolicy bounds the wait for a policy node to subscribe to
	// /joint_states and publish trajectories (30 s).
	WaitForPolicy time.Duration
	// Pause is the time between episodes (0.3 s).
	Pause time.Duration
	// Duration, when > 0, stops the robot from starting a new episode once
	// this long has passed since the first one began (Episodes still caps
	// their number).
	Duration time.Duration
}

// DefaultRobotConfig serves arm REACH: 100 Hz physics and joint states,
// a 96-pixel camera at 10 Hz, 10 episodes from seed 1000.
func DefaultRobotConfig() RobotConfig {
	return RobotConfig{
		Arm: arm.DefaultConfig(arm.Reach), PhysicsHz: 100, CameraHz: 10, ImageSize: 96,
		Episodes: 10, Seed: 1000, CommandTimeout: 500 * time.Millisecond,
		WaitForPolicy: 30 * time.Second, Pause: 300 * time.Millisecond,
	}
}

// Validate checks the configuration; errors are prefixed "deploy: ".
func (c RobotConfig) Validate() error {
	if err := c.Arm.Validate(); err != nil {
		return fmt.Errorf("deploy: RobotConfig.Arm: %w", err)
	}
	switch {
	case c.Domain < 0 || c.Domain > ros2.MaxDomain:
		return fmt.Errorf("deploy: RobotConfig.Domain %d outside 0..%d", c.Domain, ros2.MaxDomain)
	case !(c.PhysicsHz > 0) || !(c.CameraHz > 0) || c.CameraHz > c.PhysicsHz:
		return fmt.Errorf("deploy: RobotConfig.PhysicsHz %g and CameraHz %g must be > 0, camera not faster than physics", c.PhysicsHz, c.CameraHz)
	case c.ImageSize < 8 || c.ImageSize > 4096:
		return fmt.Errorf("deploy: RobotConfig.ImageSize %d outside 8..4096", c.ImageSize)
	case c.Episodes < 1:
		return fmt.Errorf("deploy: RobotConfig.Episodes must be >= 1, got %d", c.Episodes)
	case c.CommandTimeout <= 0 || c.WaitForPolicy <= 0 || c.Pause < 0 || c.Duration < 0:
		return fmt.Errorf("deploy: RobotConfig.CommandTimeout %v and WaitForPolicy %v must be > 0, Pause %v >= 0", c.CommandTimeout, c.WaitForPolicy, c.Pause)
	}
	per := c.PhysicsHz * c.Arm.ControlDt
	if math.Abs(per-math.Round(per)) > 1e-9 {
		return fmt.Errorf("deploy: RobotConfig.PhysicsHz %g is not a whole multiple of the control rate %g Hz", c.PhysicsHz, 1/c.Arm.ControlDt)
	}
	return nil
}

// physicsConfig is the arm task integrated one physics step per Step.
func (c RobotConfig) physicsConfig() arm.Config {
	per := int(math.Round(c.PhysicsHz * c.Arm.ControlDt))
	p := c.Arm
	p.ControlDt = 1 / c.PhysicsHz
	p.Substeps = max(1, c.Arm.Substeps/per)
	p.MaxSteps = c.Arm.MaxSteps * per
	p.HoldSteps = (c.Arm.HoldSteps-1)*per + 1
	return p
}

// Outcome is how one episode ended.
type Outcome struct {
	Seed        int64   `json:"seed"`
	Instruction string  `json:"instruction"`
	Success     bool    `json:"success"`
	Failure     bool    `json:"failure"` // touched the wrong target
	Seconds     float64 `json:"seconds"` // simulated time until done
	Distance    float64 `json:"final_distance_m"`
	Commands    int     `json:"commands"` // trajectories applied
}

// RobotReport is what the robot saw.
type RobotReport struct {
	Episodes        []Outcome `json:"episodes"`
	SuccessRate     float64   `json:"success_rate"`
	BadTrajectories int64     `json:"bad_trajectories"` // rejected (wrong joints, non-finite, no point)
	Timeouts        int       `json:"command_timeouts"` // times the arm held for lack of commands
	// Overruns counts physics periods that started late by more than a
	// period (the simulation fell behind real time).
	Overruns int `json:"physics_overruns"`
}

// Summary is one line per episode and the success rate.
func (r *RobotReport) Summary() string {
	s := ""
	for i, e := range r.Episodes {
		res := "timeout"
		if e.Success {
			res = "success"
		} else if e.Failure {
			res = "failure"
		}
		s += fmt.Sprintf("episode %d (seed %d, %q): %s after %.1f s, %.3f m from the target, %d commands\n",
			i, e.Seed, e.Instruction, res, e.Seconds, e.Distance, e.Commands)
	}
	return s + fmt.Sprintf("success rate %.0f%% over %d episodes; %d bad trajectories, %d command timeouts, %d physics overruns\n",
		100*r.SuccessRate, len(r.Episodes), r.BadTrajectories, r.Timeouts, r.Overruns)
}

// command is the latest trajectory target.
type command struct {
	mu     sync.Mutex
	target [7]float64
	at     time.Time
	count  int
}

// RunRobot serves cfg.Episodes episodes of the arm over ROS 2 and returns
// their outcomes. It waits for a policy node first; progress goes to log
// (may be nil).
func RunRobot(ctx context.Context, cfg RobotConfig, log io.Writer) (*RobotReport, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log = logTo(log)
	env, err := arm.New(cfg.physicsConfig())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	node, err := ros2.NewNode(ctx, "policylab_sim_robot", cfg.Domain)
	if err != nil {
		return nil, err
	}
	defer node.Close()
	joints, err := ros2.NewPublisher[msg.JointState](node, TopicJointStates, ros2.DefaultQoS())
	if err != nil {
		return nil, err
	}
	camera, err := ros2.NewPublisher[msg.Image](node, TopicImage, ros2.SensorDataQoS())
	if err != nil {
		return nil, err
	}
	targets, err := ros2.NewPublisher[msg.PoseArray](node, TopicTargets, ros2.DefaultQoS())
	if err != nil {
		return nil, err
	}
	instr, err := ros2.NewPublisher[msg.String](node, TopicInstruction, ros2.DefaultQoS())
	if err != nil {
		return nil, err
	}
	rep := &RobotReport{}
	var cmd command
	var bad int64
	node.Logf = func(f string, a ...any) { fmt.Fprintf(log, f+"\n", a...) }
	traj, err := ros2.Subscribe[msg.JointTrajectory](node, TopicTrajectory, ros2.DefaultQoS(), func(t *msg.JointTrajectory, _ ros2.Info) {
		target, err := trajectoryTarget(t)
		if err != nil {
			cmd.mu.Lock()
			bad++
			n := bad
			cmd.mu.Unlock()
			if n <= 5 || n%100 == 0 {
				fmt.Fprintf(log, "robot: trajectory rejected (%d so far): %v\n", n, err)
			}
			return
		}
		cmd.mu.Lock()
		cmd.target, cmd.at = target, time.Now()
		cmd.count++
		cmd.mu.Unlock()
	})
	if err != nil {
		return nil, err
	}

	// Wait for a policy node: it reads our joint states and instructions
	// and writes trajectories.
	wctx, wcancel := context.WithTimeout(ctx, cfg.WaitForPolicy)
	for _, w := range []func(context.Context, int) error{joints.WaitMatched, instr.WaitMatched, traj.WaitMatched} {
		if err := w(wctx, 1); err != nil {
			wcancel()
			return nil, fmt.Errorf("deploy: robot: no policy node on domain %d within %v: %w", cfg.Domain, cfg.WaitForPolicy, err)
		}
	}
	wcancel()
	fmt.Fprintf(log, "robot: policy node matched on domain %d\n", cfg.Domain)

	period := time.Duration(float64(time.Second) / cfg.PhysicsHz)
	camEvery := max(1, int(math.Round(cfg.PhysicsHz/cfg.CameraHz)))
	tick := 0
	// publish sends what the driver publishes every physics period: the
	// joint states, and every camEvery-th period the camera and targets.
	publish := func(o arm.Obs) error {
		stamp := msg.TimeFrom(time.Now())
		if err := joints.Publish(jointState(o, stamp)); err != nil {
			return err
		}
		if tick%camEvery == 0 {
			if err := camera.Publish(imageMsg(env.Render(cfg.ImageSize), stamp)); err != nil {
				return err
			}
			if err := targets.Publish(poseArray(o, stamp)); err != nil {
				return err
			}
		}
		tick++
		return nil
	}
	next := time.Now()
	begin := next
	// wait sleeps until the next physics period, counting overruns.
	wait := func() error {
		next = next.Add(period)
		d := time.Until(next)
		if d < -period {
			rep.Overruns++
			next = time.Now() // do not try to catch up with a burst
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}
	for ep := 0; ep < cfg.Episodes; ep++ {
		if cfg.Duration > 0 && time.Since(begin) >= cfg.Duration {
			break
		}
		seed := cfg.Seed + int64(ep)
		o := env.Reset(seed)
		cmd.mu.Lock()
		cmd.target, cmd.at, cmd.count = o.JointPos, time.Time{}, 0
		cmd.mu.Unlock()
		if err := instr.Publish(&msg.String{Data: o.Instruction}); err != nil {
			return rep, err
		}
		held := false
		out := Outcome{Seed: seed, Instruction: o.Instruction}
		for {
			if err := publish(o); err != nil {
				return rep, err
			}
			now := time.Now()
			cmd.mu.Lock()
			target, at := cmd.target, cmd.at
			cmd.mu.Unlock()
			if !at.IsZero() && now.Sub(at) > cfg.CommandTimeout {
				if !held {
					rep.Timeouts++
					fmt.Fprintf(log, "robot: no trajectory for %v: holding position\n", now.Sub(at).Round(time.Millisecond))
				}
				held = true
				target = o.JointPos
			} else {
				held = false
			}
			var done bool
			var info arm.Info
			o, _, done, info = env.Step(target)
			if done {
				cmd.mu.Lock()
				out.Commands = cmd.count
				cmd.mu.Unlock()
				out.Success, out.Failure = info.Success, info.Failure
				out.Seconds = float64(o.Step) / cfg.PhysicsHz
				out.Distance = info.Distance
				break
			}
			if err := wait(); err != nil {
				return rep, err
			}
		}
		rep.Episodes = append(rep.Episodes, out)
		fmt.Fprintf(log, "robot: episode %d (seed %d): success=%v in %.1f s\n", ep, seed, out.Success, out.Seconds)
		// Between episodes the driver stays up: the arm holds still and
		// its joint states keep coming (commands are ignored until the
		// next instruction).
		for t := time.Duration(0); t < cfg.Pause; t += period {
			if err := wait(); err != nil {
				return rep, err
			}
			if err := publish(o); err != nil {
				return rep, err
			}
		}
	}
	wins := 0
	for _, e := range rep.Episodes {
		if e.Success {
			wins++
		}
	}
	rep.SuccessRate = float64(wins) / float64(len(rep.Episodes))
	cmd.mu.Lock()
	rep.BadTrajectories = bad
	cmd.mu.Unlock()
	return rep, nil
}

// trajectoryTarget is the joint-position target of a trajectory: the
// positions of its first point, by joint name. A real
// joint_trajectory_controller interpolates between points; our robot's
// joint controller tracks the first point, which is what the policy node
// sends (one point, one control period ahead).
func trajectoryTarget(t *msg.JointTrajectory) ([7]float64, error) {
	var target [7]float64
	idx, err := jointIndex(t.JointNames)
	if err != nil {
		return target, err
	}
	if len(t.Points) == 0 {
		return target, errors.New("trajectory without points")
	}
	p := t.Points[0].Positions
	if len(p) != len(t.JointNames) {
		return target, fmt.Errorf("%d positions for %d joints", len(p), len(t.JointNames))
	}
	for i, v := range p {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return target, fmt.Errorf("joint %s position %v", t.JointNames[i], v)
		}
		target[idx[i]] = v
	}
	return target, nil
}

func jointState(o arm.Obs, stamp msg.Time) *msg.JointState {
	return &msg.JointState{
		Header:   msg.Header{Stamp: stamp, FrameID: "base_link"},
		Name:     JointNames,
		Position: o.JointPos[:],
		Velocity: o.JointVel[:],
	}
}

func poseArray(o arm.Obs, stamp msg.Time) *msg.PoseArray {
	pa := &msg.PoseArray{Header: msg.Header{Stamp: stamp, FrameID: "base_link"}}
	for i := 0; i < o.NumTargets; i++ {
		t := o.Targets[i]
		pa.Poses = append(pa.Poses, msg.Pose{Position: msg.Point{X: t[0], Y: t[1], Z: t[2]}, Orientation: msg.Quaternion{W: 1}})
	}
	return pa
}

// imageMsg encodes an RGBA frame as sensor_msgs/Image rgb8.
func imageMsg(img *image.RGBA, stamp msg.Time) *msg.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	data := make([]byte, 0, w*h*3)
	for y := 0; y < h; y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+4*w]
		for x := 0; x < w; x++ {
			data = append(data, row[4*x], row[4*x+1], row[4*x+2])
		}
	}
	return &msg.Image{Header: msg.Header{Stamp: stamp, FrameID: "camera"}, Height: uint32(h), Width: uint32(w),
		Encoding: "rgb8", Step: uint32(3 * w), Data: data}
}

// DecodeImage turns an rgb8, bgr8, rgba8 or mono8 sensor_msgs/Image into
// an RGBA image, checking its geometry against its data.
func DecodeImage(m *msg.Image) (*image.RGBA, error) {
	ch := map[string]int{"rgb8": 3, "bgr8": 3, "rgba8": 4, "mono8": 1}[m.Encoding]
	if ch == 0 {
		return nil, fmt.Errorf("deploy: image encoding %q not supported (rgb8, bgr8, rgba8, mono8)", m.Encoding)
	}
	w, h, step := int(m.Width), int(m.Height), int(m.Step)
	if w == 0 || h == 0 || w > 1<<14 || h > 1<<14 || step < w*ch || len(m.Data) < step*(h-1)+w*ch {
		return nil, fmt.Errorf("deploy: image %dx%d %s with step %d has %d data bytes", w, h, m.Encoding, step, len(m.Data))
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		row := m.Data[y*step:]
		for x := 0; x < w; x++ {
			o := img.PixOffset(x, y)
			switch m.Encoding {
			case "rgb8":
				copy(img.Pix[o:o+3], row[3*x:3*x+3])
			case "bgr8":
				img.Pix[o], img.Pix[o+1], img.Pix[o+2] = row[3*x+2], row[3*x+1], row[3*x]
			case "rgba8":
				copy(img.Pix[o:o+3], row[4*x:4*x+3])
			case "mono8":
				img.Pix[o], img.Pix[o+1], img.Pix[o+2] = row[x], row[x], row[x]
			}
			img.Pix[o+3] = 255
		}
	}
	return img, nil
}
