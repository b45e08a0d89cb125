package ros2

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/policylab/policylab/lessons/ros2/msg"
)

// The tests run DDS between two processes: the test binary starts itself
// again with POLICYLAB_ROS2_CHILD set to a role, and the child publishes
// on the domain POLICYLAB_ROS2_DOMAIN until its stdin closes.
const (
	childEnv  = "POLICYLAB_ROS2_CHILD"
	domainEnv = "POLICYLAB_ROS2_DOMAIN"
)

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(child(role))
	}
	os.Exit(m.Run())
}

// testDomain picks a domain for one test so that concurrent test runs
// (and other DDS traffic on the machine) do not mix: this package uses
// 1..60, package deploy 61..100, the Fast DDS peer's self-test 101..232.
func testDomain() int { return 1 + rand.IntN(60) }

// samples is one message of every supported type, with content in every
// field (and a 640x480 RGB image, which DDS must fragment).
func samples() []msg.Message {
	hdr := msg.Header{Stamp: msg.Time{Sec: 1700000000, Nanosec: 123456789}, FrameID: "base_link"}
	small := make([]byte, 96*96*3)
	for i := range small {
		small[i] = byte(i * 7)
	}
	big := make([]byte, 640*480*3)
	for i := range big {
		big[i] = byte(i*13 + i/640)
	}
	return []msg.Message{
		&msg.Time{Sec: -3, Nanosec: 999999999},
		&msg.Duration{Sec: 0, Nanosec: 100000000},
		&msg.Header{Stamp: msg.Time{Sec: 5, Nanosec: 6}, FrameID: "odd"},
		&msg.String{Data: "reach the red target"},
		&msg.JointState{Header: hdr, Name: []string{"joint1", "joint2", "joint3"},
			Position: []float64{0.1, -0.2, 0.3}, Velocity: []float64{1, 2, 3}, Effort: []float64{}},
		&msg.Image{Header: hdr, Height: 96, Width: 96, Encoding: "rgb8", Step: 96 * 3, Data: small},
		&msg.JointTrajectoryPoint{Positions: []float64{1, 2}, Velocities: []float64{}, Accelerations: []float64{3},
			Effort: []float64{}, TimeFromStart: msg.Duration{Sec: 1, Nanosec: 2}},
		&msg.JointTrajectory{Header: hdr, JointNames: []string{"joint1", "joint2"},
			Points: []msg.JointTrajectoryPoint{{Positions: []float64{0.5, 0.6}, Velocities: []float64{}, Accelerations: []float64{},
				Effort: []float64{}, TimeFromStart: msg.Duration{Nanosec: 100000000}}}},
		&msg.Point{X: 1, Y: -2, Z: 3.5},
		&msg.Quaternion{X: 0, Y: 0, Z: 0.7071, W: 0.7071},
		&msg.Pose{Position: msg.Point{X: 0.4, Y: 0.1, Z: 0.3}, Orientation: msg.Quaternion{W: 1}},
		&msg.PoseArray{Header: hdr, Poses: []msg.Pose{{Position: msg.Point{X: 0.4}}, {Position: msg.Point{Y: -0.2}, Orientation: msg.Quaternion{W: 1}}}},
		&msg.Image{Header: hdr, Height: 480, Width: 640, Encoding: "rgb8", Step: 640 * 3, Data: big},
	}
}

// sampleTopic is the topic sample i travels on.
func sampleTopic(i int) string { return fmt.Sprintf("/policylab_test/sample%d", i) }

// child runs a role and returns the exit code.
func child(role string) int {
	domain, err := strconv.Atoi(os.Getenv(domainEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: bad domain:", err)
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // the parent closes our stdin when it is done
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	n, err := NewNode(ctx, "policylab_test_child", domain)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer n.Close()
	type pub struct {
		publish func() error
	}
	var pubs []pub
	add := func(topic string, m msg.Message, qos QoS) {
		p, err := NewRawPublisher(n, topic, m.TypeName(), qos)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		b := msg.Marshal(m)
		pubs = append(pubs, pub{func() error { return p.PublishRaw(b) }})
	}
	switch role {
	case "samples":
		for i, m := range samples() {
			add(sampleTopic(i), m, DefaultQoS())
		}
	case "qos":
		add("/policylab_test/best_effort", &msg.String{Data: "best effort"}, SensorDataQoS())
		add("/policylab_test/reliable", &msg.String{Data: "reliable"}, DefaultQoS())
		add("/policylab_test/volatile", &msg.String{Data: "volatile"}, DefaultQoS())
	default:
		fmt.Fprintln(os.Stderr, "child: unknown role", role)
		return 2
	}
	fmt.Println("ready")
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return 0
		case <-tick.C:
			for _, p := range pubs {
				if err := p.publish(); err != nil && !errors.Is(err, ErrClosed) {
					fmt.Fprintln(os.Stderr, err)
					return 1
				}
			}
		}
	}
}

// startChild starts the test binary in a role on domain and waits for it
// to say it is ready. Closing the returned function's result stops it.
func startChild(t *testing.T, role string, domain int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role, domainEnv+"="+strconv.Itoa(domain))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("child %s: %v", role, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("child %s did not stop within 10 s of its stdin closing", role)
			cancel()
		}
		cancel()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("child %s: got %q, %v before ready", role, line, err)
	}
}

func TestPublishSubscribeEveryTypeAcrossProcesses(t *testing.T) {
	domain := testDomain()
	startChild(t, "samples", domain)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := NewNode(ctx, "policylab_test_parent", domain)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	want := samples()
	var mu sync.Mutex
	got := make([]msg.Message, len(want))
	var infos []Info
	done := make(chan int, len(want))
	for i, w := range want {
		i, w := i, w
		_, err := SubscribeRaw(n, sampleTopic(i), w.TypeName(), DefaultQoS(), func(b []byte, info Info) error {
			m, err := msg.New(w.TypeName())
			if err != nil {
				return err
			}
			if err := msg.Unmarshal(b, m); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if got[i] == nil {
				got[i] = m
				infos = append(infos, info)
				done <- i
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for range want {
		select {
		case <-done:
		case <-ctx.Done():
			mu.Lock()
			for i := range want {
				if got[i] == nil {
					t.Errorf("nothing received on %s (%s)", sampleTopic(i), want[i].TypeName())
				}
			}
			mu.Unlock()
			t.Fatal("timed out")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range want {
		// Compared as encodings: a decoded empty sequence is nil.
		if !bytes.Equal(msg.Marshal(got[i]), msg.Marshal(want[i])) {
			t.Errorf("%s: received %+v, sent %+v", want[i].TypeName(), abbreviate(got[i]), abbreviate(want[i]))
		}
	}
	for _, in := range infos {
		if in.Arrival.IsZero() || in.Size < 4 || in.Source.Before(time.Now().Add(-time.Minute)) {
			t.Errorf("implausible sample info %+v", in)
		}
	}
}

// abbreviate keeps image data out of failure messages.
func abbreviate(m msg.Message) any {
	if im, ok := m.(*msg.Image); ok {
		c := *im
		c.Data = nil
		return fmt.Sprintf("%+v with %d data bytes", c, len(im.Data))
	}
	return m
}

// TestQoSMatching checks ROS 2's QoS compatibility rules across two
// processes: a reliable reader does not match a best-effort writer, a
// best-effort reader does match a reliable one, and a transient-local
// reader does not match a volatile writer.
func TestQoSMatching(t *testing.T) {
	domain := testDomain()
	startChild(t, "qos", domain)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := NewNode(ctx, "policylab_test_qos", domain)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	type result struct {
		sub *Subscription
		got chan string
	}
	sub := func(topic string, qos QoS) result {
		r := result{got: make(chan string, 100)}
		r.sub, err = Subscribe[msg.String](n, topic, qos, func(m *msg.String, _ Info) {
			select {
			case r.got <- m.Data:
			default:
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	reliableOnBE := sub("/policylab_test/best_effort", DefaultQoS())
	beOnReliable := sub("/policylab_test/reliable", SensorDataQoS())
	latchedOnVolatile := sub("/policylab_test/volatile", QoS{Reliability: Reliable, Durability: TransientLocal, Depth: 1})

	// The compatible pair matches and delivers; by then discovery is done,
	// so the incompatible ones have had their chance too.
	if err := beOnReliable.sub.WaitMatched(ctx, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-beOnReliable.got:
		if s != "reliable" {
			t.Errorf("best-effort reader of a reliable writer got %q", s)
		}
	case <-ctx.Done():
		t.Fatal("best-effort reader of a reliable writer received nothing")
	}
	time.Sleep(500 * time.Millisecond)
	for name, r := range map[string]result{"reliable reader, best-effort writer": reliableOnBE, "transient-local reader, volatile writer": latchedOnVolatile} {
		m, err := r.sub.Matched()
		if err != nil {
			t.Fatal(err)
		}
		if m != 0 || len(r.got) != 0 {
			t.Errorf("%s: matched %d writers and received %d samples; ROS 2 QoS rules say they must not match", name, m, len(r.got))
		}
	}
}

func TestContextCancellationClosesNode(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n, err := NewNode(ctx, "policylab_test_cancel", testDomain())
	if err != nil {
		t.Fatal(err)
	}
	pub, err := NewPublisher[msg.String](n, "/policylab_test/cancel", DefaultQoS())
	if err != nil {
		t.Fatal(err)
	}
	calls := make(chan struct{}, 10)
	sub, err := Subscribe[msg.String](n, "/policylab_test/cancel", DefaultQoS(), func(*msg.String, Info) { calls <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(&msg.String{Data: "before"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-calls:
	case <-time.After(10 * time.Second):
		t.Fatal("a node's own subscription did not receive its publisher's sample")
	}
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := pub.Publish(&msg.String{Data: "after"})
		if errors.Is(err, ErrClosed) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Publish after cancel: %v, want ErrClosed", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := sub.Matched(); !errors.Is(err, ErrClosed) {
		t.Errorf("Matched after close: %v, want ErrClosed", err)
	}
	if _, err := NewPublisher[msg.String](n, "/x", DefaultQoS()); !errors.Is(err, ErrClosed) {
		t.Errorf("NewPublisher after close: %v, want ErrClosed", err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestUndecodableSampleIsCountedNotDelivered(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := NewNode(ctx, "policylab_test_bad", testDomain())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	var logs []string
	var mu sync.Mutex
	n.Logf = func(f string, a ...any) { mu.Lock(); logs = append(logs, fmt.Sprintf(f, a...)); mu.Unlock() }
	got := make(chan *msg.JointState, 4)
	sub, err := Subscribe[msg.JointState](n, "/joint_states", DefaultQoS(), func(m *msg.JointState, _ Info) { got <- m })
	if err != nil {
		t.Fatal(err)
	}
	pub, err := NewPublisher[msg.JointState](n, "/joint_states", DefaultQoS())
	if err != nil {
		t.Fatal(err)
	}
	good := msg.Marshal(&msg.JointState{Name: []string{"joint1"}, Position: []float64{1}})
	// A hostile sequence length: the name count (after the header, the
	// stamp, and frame_id's length, NUL and padding) claims 2^31 strings.
	bad := append([]byte(nil), good...)
	copy(bad[4+8+4+4:], []byte{0, 0, 0, 0x80})
	for _, b := range [][]byte{bad, good} {
		if err := pub.PublishRaw(b); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case m := <-got:
		if len(m.Name) != 1 || m.Position[0] != 1 {
			t.Errorf("delivered %+v", m)
		}
	case <-ctx.Done():
		t.Fatal("the good sample after a bad one was not delivered")
	}
	if sub.Errors() != 1 || sub.Samples() != 1 {
		t.Errorf("errors %d, samples %d; want 1 and 1", sub.Errors(), sub.Samples())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logs) != 1 {
		t.Errorf("logged %q, want one line about the dropped sample", logs)
	}
	if err := pub.PublishRaw([]byte{0, 1}); err == nil {
		t.Error("a 2-byte payload was published")
	}
}

func TestNamesAndValidation(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"/joint_states", "rt/joint_states", true},
		{"camera/image", "rt/camera/image", true},
		{"/arm_controller/joint_trajectory", "rt/arm_controller/joint_trajectory", true},
		{"", "", false},
		{"/a//b", "", false},
		{"/a/", "", false},
		{"/1abc", "", false},
		{"/a-b", "", false},
	} {
		got, err := TopicName(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("TopicName(%q) = %q, %v", c.in, got, err)
		}
	}
	for _, q := range []QoS{{Depth: 0}, {Reliability: 7, Depth: 1}, {Durability: 9, Depth: 1}} {
		if q.Validate() == nil {
			t.Errorf("QoS %+v validated", q)
		}
	}
	if _, err := NewNode(context.Background(), "x", MaxDomain+1); err == nil {
		t.Error("domain 233 accepted")
	}
	t.Setenv("ROS_DOMAIN_ID", "abc")
	if _, err := DomainFromEnv(); err == nil {
		t.Error("ROS_DOMAIN_ID=abc accepted")
	}
	t.Setenv("ROS_DOMAIN_ID", "42")
	if d, err := DomainFromEnv(); d != 42 || err != nil {
		t.Errorf("ROS_DOMAIN_ID=42 gave %d, %v", d, err)
	}
}
