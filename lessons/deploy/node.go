package deploy

import (
	"context"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/ros2"
	"github.com/policylab/policylab/lessons/ros2/msg"
	"github.com/policylab/policylab/lessons/sim"
)

// NodeConfig configures the policy node.
type NodeConfig struct {
	// Domain is the ROS 2 domain (ROS_DOMAIN_ID).
	Domain int
	// RateHz is the control loop's rate (the chapter's 10 Hz timer).
	RateHz float64
	// Ahead is the trajectory point's time_from_start (100 ms: one period).
	Ahead time.Duration
	// StaleAfter: a joint state older than this at a control period is
	// not acted on; the period is counted stale and logged. 25 ms by
	// default: a 100 Hz driver (ours, and ros2_control's usual
	// joint_state_broadcaster rate) has then missed two states in a row.
	// Raise it for slower drivers.
	StaleAfter time.Duration
	// Images turns on decoding /camera/image into Obs.Image (vision
	// policies); the subscription exists either way, as in the chapter.
	Images bool
	// Record keeps every control period's record in the report (for
	// plots); otherwise only the statistics.
	Record bool
	// Command, when set, builds the trajectory a control period publishes
	// from the joint state acted on, the policy's action (for JointNames,
	// in order), the time and Ahead; an error skips the period (counted in
	// Errors). Hands-on exercise 4 plugs a student's control step in here.
	// Nil builds the chapter's message (ChapterCommand).
	Command func(state *msg.JointState, action []float32, now time.Time, ahead time.Duration) (*msg.JointTrajectory, error)
	// Encode, when set, serializes the trajectory in place of msg.Marshal
	// (exercise 4 plugs a student's CDR encoder in here): the bytes go on
	// the wire as they are, and the robot decodes them with package msg.
	Encode func(*msg.JointTrajectory) []byte
}

// ChapterCommand is the chapter's trajectory: stamped now in base_link,
// for JointNames, one point ahead with the action as joint positions.
// The node publishes it unless NodeConfig.Command is set.
func ChapterCommand(_ *msg.JointState, action []float32, now time.Time, ahead time.Duration) (*msg.JointTrajectory, error) {
	if len(action) != len(JointNames) {
		return nil, fmt.Errorf("policy returned %d actions, want %d", len(action), len(JointNames))
	}
	tr := &msg.JointTrajectory{
		Header:     msg.Header{Stamp: msg.TimeFrom(now), FrameID: "base_link"},
		JointNames: JointNames,
		Points:     []msg.JointTrajectoryPoint{{Positions: make([]float64, len(action)), TimeFromStart: msg.DurationFrom(ahead)}},
	}
	for i, a := range action {
		tr.Points[0].Positions[i] = float64(a)
	}
	return tr, nil
}

// DefaultNodeConfig is the chapter's node: 10 Hz, one point 100 ms ahead.
func DefaultNodeConfig() NodeConfig {
	return NodeConfig{RateHz: 10, Ahead: 100 * time.Millisecond, StaleAfter: 25 * time.Millisecond, Record: true}
}

// Validate checks the configuration; errors are prefixed "deploy: ".
func (c NodeConfig) Validate() error {
	switch {
	case c.Domain < 0 || c.Domain > ros2.MaxDomain:
		return fmt.Errorf("deploy: NodeConfig.Domain %d outside 0..%d", c.Domain, ros2.MaxDomain)
	case !(c.RateHz > 0 && c.RateHz <= 1000):
		return fmt.Errorf("deploy: NodeConfig.RateHz %g outside (0, 1000]", c.RateHz)
	case c.Ahead <= 0 || c.StaleAfter <= 0:
		return fmt.Errorf("deploy: NodeConfig.Ahead %v and StaleAfter %v must be > 0", c.Ahead, c.StaleAfter)
	}
	return nil
}

// Inputs are the latest messages the node holds at a control period.
type Inputs struct {
	Joints        *msg.JointState
	JointsArrival time.Time
	Image         *msg.Image
	Instruction   string
	Targets       *msg.PoseArray
}

// ObsBuilder turns the latest messages into the policy's observation.
type ObsBuilder func(in Inputs, images bool) (sim.Obs, error)

// ArmObs builds the arm's observation (sim.NewArm's 32-element state)
// from the messages: joint positions and velocities from /joint_states
// (matched by name), the end effector from forward kinematics (as tf2
// would from the robot's URDF), the targets from /targets, the
// instruction from /instruction, and, with images, the camera frame.
func ArmObs(in Inputs, images bool) (sim.Obs, error) {
	var o arm.Obs
	if in.Joints == nil {
		return sim.Obs{}, fmt.Errorf("deploy: no joint state yet")
	}
	idx, err := jointIndex(in.Joints.Name)
	if err != nil {
		return sim.Obs{}, fmt.Errorf("deploy: /joint_states: %w", err)
	}
	if len(in.Joints.Position) != 7 || len(in.Joints.Velocity) != 7 {
		return sim.Obs{}, fmt.Errorf("deploy: /joint_states has %d positions and %d velocities for 7 joints", len(in.Joints.Position), len(in.Joints.Velocity))
	}
	for i, j := range idx {
		o.JointPos[j], o.JointVel[j] = in.Joints.Position[i], in.Joints.Velocity[i]
	}
	o.EEPos = arm.FK(o.JointPos).EE.Pos
	if in.Targets == nil || len(in.Targets.Poses) < 1 || len(in.Targets.Poses) > 2 {
		return sim.Obs{}, fmt.Errorf("deploy: /targets must hold 1 or 2 poses before the policy can act")
	}
	o.NumTargets = len(in.Targets.Poses)
	for i, p := range in.Targets.Poses {
		o.Targets[i] = [3]float64{p.Position.X, p.Position.Y, p.Position.Z}
	}
	o.Instruction = in.Instruction
	obs := sim.Obs{State: o.Vector(), Instruction: in.Instruction}
	if images {
		if in.Image == nil {
			return sim.Obs{}, fmt.Errorf("deploy: no camera image yet")
		}
		if obs.Image, err = DecodeImage(in.Image); err != nil {
			return sim.Obs{}, err
		}
	}
	return obs, nil
}

// Period is one control period of the node.
type Period struct {
	// T is the period's start, since the node's first period.
	T time.Duration
	// Interval is the time since the previous period's start.
	Interval time.Duration
	// Latency is from the arrival of the joint state acted on to the
	// trajectory's publication; Compute is observation to action.
	Latency, Compute time.Duration
	// Action is the published joint-position target; Joints the joint
	// positions acted on.
	Action, Joints [7]float64
	// Missed is true when the period's work overran the period.
	Missed bool
}

// NodeReport is what the policy node measured.
type NodeReport struct {
	Periods   int // control periods run
	Published int // trajectories published
	// Stale counts periods without fresh inputs (no joint state, or one
	// older than StaleAfter, or no targets/instruction yet): nothing was
	// published, and the first few were logged.
	Stale int
	// DeadlineMisses counts periods whose work took longer than the
	// period, plus ticks skipped because the loop fell behind.
	DeadlineMisses int
	Episodes       int // instructions received (each resets the policy)
	Errors         int // policy or observation errors (logged)
	Latencies      []time.Duration
	Intervals      []time.Duration
	Records        []Period // with NodeConfig.Record
	Rate           float64
}

// Stats summarizes latencies and the loop's period.
type Stats struct {
	LatencyP50, LatencyP99, LatencyMax time.Duration
	ComputeP50                         time.Duration
	PeriodP50                          time.Duration
	// JitterP99 is the 99th percentile of |interval − period| / period;
	// WithinPct is the share of intervals within ±5% of the period.
	JitterP99, WithinPct float64
}

// Stats computes the summary.
func (r *NodeReport) Stats() Stats {
	s := Stats{
		LatencyP50: Percentile(r.Latencies, 50), LatencyP99: Percentile(r.Latencies, 99), LatencyMax: Percentile(r.Latencies, 100),
		PeriodP50: Percentile(r.Intervals, 50),
	}
	var comp []time.Duration
	for _, p := range r.Records {
		comp = append(comp, p.Compute)
	}
	s.ComputeP50 = Percentile(comp, 50)
	period := float64(time.Second) / r.Rate
	var dev []time.Duration
	within := 0
	for _, iv := range r.Intervals {
		d := math.Abs(float64(iv)-period) / period
		dev = append(dev, time.Duration(d*1e9))
		if d <= 0.05 {
			within++
		}
	}
	s.JitterP99 = float64(Percentile(dev, 99)) / 1e9
	if len(r.Intervals) > 0 {
		s.WithinPct = 100 * float64(within) / float64(len(r.Intervals))
	}
	return s
}

// String is a one-paragraph summary.
func (r *NodeReport) String() string {
	s := r.Stats()
	return fmt.Sprintf("%d periods at %g Hz, %d trajectories, %d episodes; latency p50 %v p99 %v max %v (policy p50 %v); period p50 %v, p99 jitter %.1f%%, %.1f%% within ±5%%; %d deadline misses, %d stale, %d errors",
		r.Periods, r.Rate, r.Published, r.Episodes, s.LatencyP50.Round(time.Microsecond), s.LatencyP99.Round(time.Microsecond),
		s.LatencyMax.Round(time.Microsecond), s.ComputeP50.Round(time.Microsecond), s.PeriodP50.Round(time.Microsecond),
		100*s.JitterP99, s.WithinPct, r.DeadlineMisses, r.Stale, r.Errors)
}

// PolicyNode is the chapter's PolicyNode.
type PolicyNode struct {
	cfg    NodeConfig
	policy eval.Policy
	build  ObsBuilder
	log    io.Writer

	mu     sync.Mutex
	in     Inputs
	reset  bool // a new instruction arrived: reset the policy
	resets int
}

// NewPolicyNode makes a node that runs policy (any eval.Policy: wrap a
// chunking policy with eval.Chunked or a package chunking executor) on
// observations from build. Logs go to log (may be nil).
func NewPolicyNode(cfg NodeConfig, policy eval.Policy, build ObsBuilder, log io.Writer) (*PolicyNode, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if policy == nil || build == nil {
		return nil, fmt.Errorf("deploy: NewPolicyNode needs a policy and an observation builder")
	}
	return &PolicyNode{cfg: cfg, policy: policy, build: build, log: logTo(log)}, nil
}

// Run joins the domain, subscribes, and runs the control loop until ctx
// is done; it then returns what it measured.
func (p *PolicyNode) Run(ctx context.Context) (*NodeReport, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	node, err := ros2.NewNode(ctx, "policylab_policy_node", p.cfg.Domain)
	if err != nil {
		return nil, err
	}
	defer node.Close()
	node.Logf = func(f string, a ...any) { fmt.Fprintf(p.log, f+"\n", a...) }
	pub, err := ros2.NewPublisher[msg.JointTrajectory](node, TopicTrajectory, ros2.DefaultQoS())
	if err != nil {
		return nil, err
	}
	if _, err := ros2.Subscribe[msg.Image](node, TopicImage, ros2.SensorDataQoS(), func(m *msg.Image, _ ros2.Info) {
		p.mu.Lock()
		p.in.Image = m
		p.mu.Unlock()
	}); err != nil {
		return nil, err
	}
	if _, err := ros2.Subscribe[msg.JointState](node, TopicJointStates, ros2.DefaultQoS(), func(m *msg.JointState, info ros2.Info) {
		p.mu.Lock()
		p.in.Joints, p.in.JointsArrival = m, info.Arrival
		p.mu.Unlock()
	}); err != nil {
		return nil, err
	}
	if _, err := ros2.Subscribe[msg.String](node, TopicInstruction, ros2.DefaultQoS(), func(m *msg.String, _ ros2.Info) {
		p.mu.Lock()
		p.in.Instruction, p.in.Targets, p.reset = m.Data, nil, true
		p.resets++
		p.mu.Unlock()
		fmt.Fprintf(p.log, "policy node: instruction %q\n", m.Data)
	}); err != nil {
		return nil, err
	}
	if _, err := ros2.Subscribe[msg.PoseArray](node, TopicTargets, ros2.DefaultQoS(), func(m *msg.PoseArray, _ ros2.Info) {
		p.mu.Lock()
		p.in.Targets = m
		p.mu.Unlock()
	}); err != nil {
		return nil, err
	}
	return p.loop(ctx, pub)
}

func (p *PolicyNode) loop(ctx context.Context, pub *ros2.Publisher[msg.JointTrajectory, *msg.JointTrajectory]) (*NodeReport, error) {
	rep := &NodeReport{Rate: p.cfg.RateHz}
	period := time.Duration(float64(time.Second) / p.cfg.RateHz)
	tick := time.NewTicker(period)
	defer tick.Stop()
	var first, last time.Time
	logged := 0
	note := func(f string, a ...any) {
		// The first 20 notes in full, then one in 100: counted, never
		// silent, and never a flood.
		if logged++; logged <= 20 || logged%100 == 0 {
			fmt.Fprintf(p.log, "policy node: "+f+"\n", a...)
		}
	}
	for {
		select {
		case <-ctx.Done():
			p.mu.Lock()
			rep.Episodes = p.resets
			p.mu.Unlock()
			return rep, nil
		case <-tick.C:
		}
		start := time.Now()
		if first.IsZero() {
			first = start
		} else {
			iv := start.Sub(last)
			rep.Intervals = append(rep.Intervals, iv)
			// time.Ticker drops ticks a slow loop cannot take: count them.
			if skipped := int(math.Round(float64(iv)/float64(period))) - 1; skipped > 0 {
				rep.DeadlineMisses += skipped
				note("%d control period(s) skipped: %v since the last one", skipped, iv.Round(time.Millisecond))
			}
		}
		last = start
		rep.Periods++

		p.mu.Lock()
		in, reset := p.in, p.reset
		p.reset = false
		p.mu.Unlock()
		if reset {
			p.policy.Reset(0)
		}
		if in.Joints == nil || in.Instruction == "" || in.Targets == nil || start.Sub(in.JointsArrival) > p.cfg.StaleAfter {
			rep.Stale++
			age := "none yet"
			if in.Joints != nil {
				age = start.Sub(in.JointsArrival).Round(time.Millisecond).String()
			}
			note("stale inputs (joint state age %s, instruction %q, targets %v): nothing published", age, in.Instruction, in.Targets != nil)
			continue
		}
		obs, err := p.build(in, p.cfg.Images)
		if err != nil {
			rep.Errors++
			note("observation: %v", err)
			continue
		}
		t0 := time.Now()
		act, err := p.policy.Act(obs)
		compute := time.Since(t0)
		if err == nil && len(act) != 7 {
			err = fmt.Errorf("policy returned %d actions, want 7", len(act))
		}
		if err != nil {
			rep.Errors++
			note("policy: %v", err)
			continue
		}
		command := ChapterCommand
		if p.cfg.Command != nil {
			command = p.cfg.Command
		}
		tr, err := command(in.Joints, act, time.Now(), p.cfg.Ahead)
		if err == nil && (tr == nil || len(tr.Points) == 0 || len(tr.Points[0].Positions) != 7) {
			err = fmt.Errorf("the trajectory %+v has no point of 7 positions", tr)
		}
		if err != nil {
			rep.Errors++
			note("command: %v", err)
			continue
		}
		if p.cfg.Encode != nil {
			err = pub.PublishRaw(p.cfg.Encode(tr))
		} else {
			err = pub.Publish(tr)
		}
		if err != nil {
			rep.Errors++
			note("publish: %v", err)
			continue
		}
		done := time.Now()
		rep.Published++
		lat := done.Sub(in.JointsArrival)
		rep.Latencies = append(rep.Latencies, lat)
		work := done.Sub(start)
		missed := work > period
		if missed {
			rep.DeadlineMisses++
			note("deadline missed: the period's work took %v of %v", work.Round(time.Microsecond), period)
		}
		if p.cfg.Record {
			r := Period{T: start.Sub(first), Latency: lat, Compute: compute, Missed: missed}
			if n := len(rep.Intervals); n > 0 {
				r.Interval = rep.Intervals[n-1]
			}
			copy(r.Action[:], tr.Points[0].Positions)
			var o arm.Obs
			if idx, err := jointIndex(in.Joints.Name); err == nil {
				for i, j := range idx {
					o.JointPos[j] = in.Joints.Position[i]
				}
			}
			r.Joints = o.JointPos
			rep.Records = append(rep.Records, r)
		}
	}
}
