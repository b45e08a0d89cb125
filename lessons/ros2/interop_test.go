package ros2

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/policylab/policylab/lessons/ros2/internal/fastddspeer"
	"github.com/policylab/policylab/lessons/ros2/msg"
)

// peer builds the Fast DDS peer (testdata/fastdds_peer: Fast DDS 2.9 set
// up as ROS 2's rmw_fastrtps does, messages encoded with Fast CDR).
func peer(t *testing.T) string {
	t.Helper()
	bin, err := fastddspeer.BuildCached()
	if errors.Is(err, fastddspeer.ErrMissing) {
		t.Skipf("Fast DDS interop not tested: %v (Debian: apt-get install libfastrtps-dev)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func peerCmd(ctx context.Context, t *testing.T, bin string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.TempDir() // no stray Fast DDS XML profile changes its QoS
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("peer %v stderr:\n%s", args, errb.String())
		}
	})
	return cmd, &out
}

// TestFastDDSDecodesOurJointTrajectory: we publish, a Fast DDS reader
// decodes with Fast CDR and prints what it got.
func TestFastDDSDecodesOurJointTrajectory(t *testing.T) {
	bin := peer(t)
	domain := testDomain()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd, out := peerCmd(ctx, t, bin, "sub-trajectory", "-domain", strconv.Itoa(domain), "-timeout-s", "40")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	n, err := NewNode(ctx, "policylab_interop", domain)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	pub, err := NewPublisher[msg.JointTrajectory](n, "/arm_controller/joint_trajectory", DefaultQoS())
	if err != nil {
		t.Fatal(err)
	}
	sent := msg.JointTrajectory{
		Header:     msg.Header{Stamp: msg.Time{Sec: 1700000001, Nanosec: 42}, FrameID: "base_link"},
		JointNames: fastddspeer.JointNames(),
		Points: []msg.JointTrajectoryPoint{{
			Positions:     []float64{-0.123456789, 0.5, 1e-300, -2.2, 0, 2.0, 0.785398163397448},
			Velocities:    []float64{0.25, -0.25},
			Accelerations: []float64{},
			Effort:        []float64{},
			TimeFromStart: msg.Duration{Sec: 0, Nanosec: 100000000},
		}},
	}
	if err := pub.WaitMatched(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// Publish until the peer has printed a sample and exited.
	for exited := false; !exited; {
		if err := pub.Publish(&sent); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("peer: %v", err)
			}
			exited = true
		case <-time.After(100 * time.Millisecond):
		}
	}
	got, err := fastddspeer.ParseJointTrajectories(out.Bytes())
	if err != nil || len(got) == 0 {
		t.Fatalf("peer printed %q: %v", out.String(), err)
	}
	p := sent.Points[0]
	want := fastddspeer.JointTrajectory{
		StampSec: sent.Header.Stamp.Sec, StampNanosec: sent.Header.Stamp.Nanosec, FrameID: sent.Header.FrameID,
		JointNames: sent.JointNames,
		Points: []fastddspeer.JointTrajectoryPoint{{Positions: p.Positions, Velocities: p.Velocities,
			Accelerations: []float64{}, Effort: []float64{}, TimeFromStartNanosec: 100000000}},
	}
	if !reflect.DeepEqual(got[0], want) {
		t.Errorf("Fast DDS decoded\n%+v\nwe sent\n%+v", got[0], want)
	}
}

// TestWeDecodeFastDDSJointState: a Fast DDS writer publishes
// sensor_msgs/JointState encoded by Fast CDR; we decode every sample.
func TestWeDecodeFastDDSJointState(t *testing.T) {
	bin := peer(t)
	domain := testDomain()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := NewNode(ctx, "policylab_interop", domain)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	got := make(chan *msg.JointState, 64)
	sub, err := Subscribe[msg.JointState](n, "/joint_states", DefaultQoS(), func(m *msg.JointState, _ Info) { got <- m })
	if err != nil {
		t.Fatal(err)
	}
	const count = 5
	cmd, _ := peerCmd(ctx, t, bin, "pub-jointstate", "-domain", strconv.Itoa(domain), "-count", strconv.Itoa(count), "-period-ms", "20")
	if err := cmd.Run(); err != nil {
		t.Fatalf("peer: %v", err)
	}
	seen := map[int32]bool{}
	deadline := time.After(10 * time.Second)
	for len(seen) < count {
		select {
		case m := <-got:
			i := int(m.Header.Stamp.Sec) - 1700000000
			w := fastddspeer.WantJointState(i)
			ours := fastddspeer.JointState{StampSec: m.Header.Stamp.Sec, StampNanosec: m.Header.Stamp.Nanosec, FrameID: m.Header.FrameID,
				Name: m.Name, Position: m.Position, Velocity: m.Velocity, Effort: append([]float64{}, m.Effort...)}
			if !reflect.DeepEqual(ours, w) {
				t.Errorf("sample %d: decoded\n%+v\nthe peer sent\n%+v", i, ours, w)
			}
			seen[m.Header.Stamp.Sec] = true
		case <-deadline:
			t.Fatalf("received %d of %d samples (%d undecodable)", len(seen), count, sub.Errors())
		}
	}
	if sub.Errors() != 0 {
		t.Errorf("%d samples did not decode", sub.Errors())
	}
}
