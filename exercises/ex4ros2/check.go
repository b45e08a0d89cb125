// Package ex4ros2 is hands-on exercise 4, "Deploy the policy with ROS 2"
// (section 4.2.5): you write the CDR encoding of the trajectory the policy
// node publishes, its encapsulation, and the node's control step, and they
// run in the course's policy node against the simulated robot over real
// DDS.
//
// student.go holds the three functions you write. This file holds the
// glue (Student, Encode, NodeConfig, RunLoop) and the Check functions the
// visible tests and the notebook's %test cell call.
package ex4ros2

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/deploy"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/ros2/cdr"
	"github.com/policylab/policylab/lessons/ros2/msg"
	"github.com/policylab/policylab/lessons/sim"
)

// Student holds the functions of student.go (or a notebook's copies).
type Student struct {
	WriteJointTrajectory func(e *cdr.Encoder, t *msg.JointTrajectory)
	Encapsulate          func(payload []byte) []byte
	Command              func(state *msg.JointState, action []float32, now time.Time, ahead time.Duration) (*msg.JointTrajectory, error)
}

// Mine is the package's own student.go.
func Mine() Student {
	return Student{WriteJointTrajectory: WriteJointTrajectory, Encapsulate: Encapsulate, Command: Command}
}

// Encode serializes t with the student's payload writer and encapsulation:
// the bytes the node puts on the wire.
func (s Student) Encode(t *msg.JointTrajectory) []byte {
	var e cdr.Encoder
	s.WriteJointTrajectory(&e, t)
	return s.Encapsulate(e.Bytes())
}

// NodeConfig is the chapter's node (deploy.DefaultNodeConfig) on domain,
// with the student's control step and encoder plugged in
// (deploy.NodeConfig.Command and Encode).
func (s Student) NodeConfig(domain int) deploy.NodeConfig {
	c := deploy.DefaultNodeConfig()
	c.Domain, c.Command, c.Encode = domain, s.Command, s.Encode
	return c
}

// Expert is the arm REACH task's scripted expert as a policy (needs no
// training): the policy RunLoop deploys by default.
func Expert() eval.Policy {
	return eval.ExpertPolicy{X: sim.ArmFactory(arm.DefaultConfig(arm.Reach), false).NewExpert()}
}

// RunLoop deploys policy (nil: Expert) in the course's policy node with the
// student's control step and encoder, against the simulated robot serving
// episodes REACH episodes, both in this process on a random ROS 2 domain,
// talking over real DDS (as make deploy-demo does across processes). It
// returns what the robot and the node measured.
func RunLoop(ctx context.Context, s Student, policy eval.Policy, episodes int, log io.Writer) (*deploy.RobotReport, *deploy.NodeReport, error) {
	if policy == nil {
		policy = Expert()
	}
	rcfg := deploy.DefaultRobotConfig()
	rcfg.Domain, rcfg.Episodes, rcfg.WaitForPolicy = deploy.RandomDomain(), episodes, 10*time.Second
	node, err := deploy.NewPolicyNode(s.NodeConfig(rcfg.Domain), policy, deploy.ArmObs, log)
	if err != nil {
		return nil, nil, err
	}
	if err := deploy.WarmUp(policy, false); err != nil {
		return nil, nil, err
	}
	nctx, cancel := context.WithCancel(ctx)
	type result struct {
		rep *deploy.NodeReport
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := node.Run(nctx)
		done <- result{r, err}
	}()
	robot, rerr := deploy.RunRobot(ctx, rcfg, log)
	cancel()
	n := <-done
	if rerr != nil {
		return robot, n.rep, rerr
	}
	return robot, n.rep, n.err
}

// Small is the message of CheckWriteJointTrajectory's byte layout, and
// SmallPayload its CDR payload, annotated.
func Small() *msg.JointTrajectory {
	return &msg.JointTrajectory{
		Header:     msg.Header{Stamp: msg.Time{Sec: 1, Nanosec: 2}},
		JointNames: []string{"j1"},
		Points: []msg.JointTrajectoryPoint{{
			Positions: []float64{0.5}, Velocities: []float64{-1},
			TimeFromStart: msg.Duration{Nanosec: 100_000_000},
		}},
	}
}

// SmallPayload is Small's payload, offsets counted from its first byte.
var SmallPayload = []byte{
	0x01, 0x00, 0x00, 0x00, //  0 header.stamp.sec = 1 (int32)
	0x02, 0x00, 0x00, 0x00, //  4 header.stamp.nanosec = 2 (uint32)
	0x01, 0x00, 0x00, 0x00, //  8 header.frame_id: length 1 (the NUL of "")
	0x00,             // 12 its NUL
	0x00, 0x00, 0x00, // 13 padding: the next uint32 aligns to 4
	0x01, 0x00, 0x00, 0x00, // 16 joint_names: 1 string
	0x03, 0x00, 0x00, 0x00, // 20 "j1": length 3
	'j', '1', 0x00, // 24 its bytes and NUL
	0x00,                   // 27 padding
	0x01, 0x00, 0x00, 0x00, // 28 points: 1 point
	0x01, 0x00, 0x00, 0x00, // 32 positions: 1 float64
	0x00, 0x00, 0x00, 0x00, // 36 padding: a float64 aligns to 8
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x3f, // 40 0.5
	0x01, 0x00, 0x00, 0x00, // 48 velocities: 1 float64
	0x00, 0x00, 0x00, 0x00, // 52 padding
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0xbf, // 56 -1
	0x00, 0x00, 0x00, 0x00, // 64 accelerations: 0 (no element, no padding)
	0x00, 0x00, 0x00, 0x00, // 68 effort: 0
	0x00, 0x00, 0x00, 0x00, // 72 time_from_start.sec = 0
	0x00, 0xe1, 0xf5, 0x05, // 76 time_from_start.nanosec = 100000000
}

// DiffBytes describes how got differs from want ("" when equal): the
// first differing offset and the bytes around it.
func DiffBytes(got, want []byte) string {
	if bytes.Equal(got, want) {
		return ""
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := max(0, i-8)
	around := func(b []byte) string {
		if lo >= len(b) {
			return "(ends before)"
		}
		return fmt.Sprintf("% x", b[lo:min(len(b), i+8)])
	}
	return fmt.Sprintf("%d bytes, want %d; first difference at offset %d: from offset %d got %s, want %s",
		len(got), len(want), i, lo, around(got), around(want))
}

// CheckWriteJointTrajectory checks the payload of Small byte for byte
// against SmallPayload, and then two more messages against msg.Marshal's.
func CheckWriteJointTrajectory(t testing.TB, write func(e *cdr.Encoder, t *msg.JointTrajectory)) {
	t.Helper()
	var e cdr.Encoder
	write(&e, Small())
	if d := DiffBytes(e.Bytes(), SmallPayload); d != "" {
		t.Fatalf("WriteJointTrajectory(%+v): payload %s\n(see SmallPayload in check.go for the layout, field by field)", *Small(), d)
	}
	for _, m := range []*msg.JointTrajectory{
		{Header: msg.Header{Stamp: msg.Time{Sec: -3, Nanosec: 999_999_999}, FrameID: "base_link"}, JointNames: []string{"joint1", "joint2"},
			Points: []msg.JointTrajectoryPoint{
				{Positions: []float64{1, 2}, Effort: []float64{3, 4}, TimeFromStart: msg.Duration{Sec: 1}},
				{Positions: []float64{5, 6}, Velocities: []float64{7, 8}, Accelerations: []float64{9, 10}, TimeFromStart: msg.Duration{Sec: 2, Nanosec: 5}},
			}},
		{Header: msg.Header{FrameID: "odd"}},
	} {
		var e cdr.Encoder
		write(&e, m)
		var want cdr.Encoder
		m.MarshalCDR(&want)
		if d := DiffBytes(e.Bytes(), want.Bytes()); d != "" {
			t.Fatalf("WriteJointTrajectory(%+v): payload %s", *m, d)
		}
	}
}

// CheckEncapsulate checks the framing of payloads of 0 to 7 bytes.
func CheckEncapsulate(t testing.TB, encapsulate func(payload []byte) []byte) {
	t.Helper()
	for n := 0; n <= 7; n++ {
		payload := make([]byte, n, n+8)
		for i := range payload {
			payload[i] = byte(0xa0 + i)
		}
		orig := bytes.Clone(payload)
		pad := (4 - n%4) % 4
		want := append([]byte{0x00, 0x01, 0x00, byte(pad)}, orig...)
		want = append(want, make([]byte, pad)...)
		got := encapsulate(payload)
		if d := DiffBytes(got, want); d != "" {
			t.Fatalf("Encapsulate(% x): %s\n(header 00 01 00 p: CDR_LE and p padding bytes; then the payload and p zero bytes)", orig, d)
		}
		if !bytes.Equal(payload, orig) {
			t.Fatalf("Encapsulate(% x) changed its payload to % x", orig, payload)
		}
	}
}

// CheckRoundTrip checks that messages encoded with the student's two
// functions decode, with package msg's decoder, to what went in.
func CheckRoundTrip(t testing.TB, write func(e *cdr.Encoder, t *msg.JointTrajectory), encapsulate func(payload []byte) []byte) {
	t.Helper()
	s := Student{WriteJointTrajectory: write, Encapsulate: encapsulate}
	ms := []*msg.JointTrajectory{Small(), {
		Header:     msg.Header{Stamp: msg.Time{Sec: 1_700_000_000, Nanosec: 123_456_789}, FrameID: "base_link"},
		JointNames: append([]string(nil), deploy.JointNames...),
		Points: []msg.JointTrajectoryPoint{{
			Positions:     []float64{0.1, -0.2, 0.3, -2.1, 0.5, 1.6, 0.7},
			Velocities:    []float64{1, 2, 3, 4, 5, 6, 7},
			TimeFromStart: msg.DurationFrom(100 * time.Millisecond),
		}},
	}}
	for _, m := range ms {
		b := s.Encode(m)
		var got msg.JointTrajectory
		if err := msg.Unmarshal(b, &got); err != nil {
			t.Fatalf("msg.Unmarshal of your encoding of %+v (% x): %v", *m, b, err)
		}
		if !reflect.DeepEqual(&got, m) {
			t.Fatalf("round trip of %+v decoded as %+v", *m, got)
		}
		if len(b)%4 != 0 {
			t.Fatalf("encoding of %+v has %d bytes, not a multiple of 4", *m, len(b))
		}
	}
}

// SameTrajectory describes how got differs from want ("" when equal),
// float64s compared within 1e-9 relative (nil and empty are the same).
func SameTrajectory(got, want *msg.JointTrajectory) string {
	if got == nil {
		return "no message"
	}
	if got.Header != want.Header {
		return fmt.Sprintf("Header %+v, want %+v", got.Header, want.Header)
	}
	if fmt.Sprint(got.JointNames) != fmt.Sprint(want.JointNames) || len(got.JointNames) != len(want.JointNames) {
		return fmt.Sprintf("JointNames %q, want %q", got.JointNames, want.JointNames)
	}
	if len(got.Points) != len(want.Points) {
		return fmt.Sprintf("%d points, want %d", len(got.Points), len(want.Points))
	}
	for i := range want.Points {
		g, w := got.Points[i], want.Points[i]
		for _, f := range []struct {
			name      string
			got, want []float64
		}{{"Positions", g.Positions, w.Positions}, {"Velocities", g.Velocities, w.Velocities},
			{"Accelerations", g.Accelerations, w.Accelerations}, {"Effort", g.Effort, w.Effort}} {
			if len(f.got) != len(f.want) {
				return fmt.Sprintf("point %d: %s %v, want %v", i, f.name, f.got, f.want)
			}
			for j := range f.want {
				if math.Abs(f.got[j]-f.want[j]) > 1e-9*max(1, math.Abs(f.want[j])) {
					return fmt.Sprintf("point %d: %s[%d] = %v, want %v (all: %v, want %v)", i, f.name, j, f.got[j], f.want[j], f.got, f.want)
				}
			}
		}
		if g.TimeFromStart != w.TimeFromStart {
			return fmt.Sprintf("point %d: TimeFromStart %+v, want %+v", i, g.TimeFromStart, w.TimeFromStart)
		}
	}
	return ""
}

// CheckCommand checks the control step on a joint state that lists the
// joints out of order with a gripper, with one target past a joint limit,
// and on three inputs it must refuse.
func CheckCommand(t testing.TB, command func(state *msg.JointState, action []float32, now time.Time, ahead time.Duration) (*msg.JointTrajectory, error)) {
	t.Helper()
	state := &msg.JointState{
		Name:     []string{"joint3", "gripper", "joint1", "joint2", "joint7", "joint6", "joint5", "joint4"},
		Position: []float64{0.3, 0.04, 0.1, 0.2, 0.7, 0.6, 0.5, -0.4},
	}
	action := []float32{0.5, 0.25, 0.25, -0.5, 0.5, 0.5, 4}
	now := time.Unix(1_700_000_000, 250_000_000)
	ahead := 100 * time.Millisecond
	q := []float64{0.1, 0.2, 0.3, -0.4, 0.5, 0.6, 0.7}
	want := &msg.JointTrajectory{
		Header:     msg.Header{Stamp: msg.Time{Sec: 1_700_000_000, Nanosec: 250_000_000}, FrameID: "base_link"},
		JointNames: []string{"joint1", "joint2", "joint3", "joint4", "joint5", "joint6", "joint7"},
		Points:     []msg.JointTrajectoryPoint{{TimeFromStart: msg.Duration{Nanosec: 100_000_000}}},
	}
	for i, a := range action {
		target := min(float64(a), arm.QMax[i]) // joint7's 4 rad is past its limit of 2.8973
		want.Points[0].Positions = append(want.Points[0].Positions, target)
		want.Points[0].Velocities = append(want.Points[0].Velocities, (target-q[i])/0.1)
	}
	got, err := command(state, action, now, ahead)
	if err != nil {
		t.Fatalf("Command(state %+v, action %v, ahead %v): error %v", *state, action, ahead, err)
	}
	if d := SameTrajectory(got, want); d != "" {
		t.Fatalf("Command(state %+v, action %v, now %v, ahead %v): %s\ngot  %+v\nwant %+v", *state, action, now, ahead, d, *got, *want)
	}
	for _, bad := range []struct {
		why    string
		state  *msg.JointState
		action []float32
	}{
		{"6 actions", state, action[:6]},
		{"a NaN action", state, []float32{0, 0, 0, float32(math.NaN()), 0, 0, 0}},
		{"joint4 missing from the state", &msg.JointState{Name: state.Name[:7], Position: state.Position[:7]}, action},
	} {
		if m, err := command(bad.state, bad.action, now, ahead); err == nil {
			t.Fatalf("Command with %s (state %+v, action %v) returned %+v and no error", bad.why, *bad.state, bad.action, m)
		}
	}
}
