//go:build grading

package ex4ros2

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/deploy"
	"github.com/policylab/policylab/lessons/ros2/cdr"
	"github.com/policylab/policylab/lessons/ros2/msg"
)

// noLibraryEncoder fails if student.go (the submission) calls package
// msg's Marshal or a MarshalCDR method: the encoding is the exercise.
func noLibraryEncoder(t *testing.T) {
	t.Helper()
	src, err := os.ReadFile("student.go")
	if err != nil {
		return // not run from the package folder: nothing to inspect
	}
	f, err := parser.ParseFile(token.NewFileSet(), "student.go", src, 0)
	if err != nil {
		t.Fatalf("student.go: %v", err)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && (sel.Sel.Name == "MarshalCDR" || sel.Sel.Name == "Marshal") {
			t.Errorf("student.go calls %s: write the fields with the cdr.Encoder yourself", sel.Sel.Name)
		}
		return true
	})
}

func randString(rng *rand.Rand) string {
	const chars = "abcxyz_019/äé"
	n := rng.IntN(12)
	if rng.IntN(5) == 0 {
		n = 0
	}
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(string([]rune(chars)[rng.IntN(len([]rune(chars)))]))
	}
	return b.String()
}

func randFloats(rng *rand.Rand) []float64 {
	switch rng.IntN(4) {
	case 0:
		return nil
	case 1:
		return []float64{}
	}
	v := make([]float64, rng.IntN(9))
	for i := range v {
		switch rng.IntN(12) {
		case 0:
			v[i] = math.NaN()
		case 1:
			v[i] = math.Inf(-1)
		case 2:
			v[i] = math.Copysign(0, -1)
		default:
			v[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(12)-6))
		}
	}
	return v
}

func randTrajectory(rng *rand.Rand) *msg.JointTrajectory {
	m := &msg.JointTrajectory{Header: msg.Header{
		Stamp:   msg.Time{Sec: rng.Int32() - math.MaxInt32/2, Nanosec: rng.Uint32N(1_000_000_000)},
		FrameID: randString(rng),
	}}
	for range rng.IntN(9) {
		m.JointNames = append(m.JointNames, randString(rng))
	}
	for range rng.IntN(5) {
		m.Points = append(m.Points, msg.JointTrajectoryPoint{
			Positions: randFloats(rng), Velocities: randFloats(rng), Accelerations: randFloats(rng), Effort: randFloats(rng),
			TimeFromStart: msg.Duration{Sec: rng.Int32N(100) - 50, Nanosec: rng.Uint32N(1_000_000_000)},
		})
	}
	return m
}

// TestHiddenEncodeRandom: 500 random trajectories (empty and nil
// sequences, strings of every length mod 4, NaN and -0 values, many
// points) encode byte for byte as msg.Marshal does.
func TestHiddenEncodeRandom(t *testing.T) {
	noLibraryEncoder(t)
	s := Mine()
	rng := rand.New(rand.NewPCG(2026, 4))
	for i := 0; i < 500; i++ {
		m := randTrajectory(rng)
		if d := DiffBytes(s.Encode(m), msg.Marshal(m)); d != "" {
			t.Fatalf("message %d, %+v: your encoding %s", i, *m, d)
		}
	}
}

// TestHiddenEncodeRecording: trajectories built from joint states a real
// ROS 2 system recorded (walker_0.db3, Fast DDS; copied into testdata)
// start with the very bytes Fast DDS wrote for the same header and joint
// names, and encode as msg.Marshal does.
func TestHiddenEncodeRecording(t *testing.T) {
	raw, err := os.ReadFile("testdata/walker_joint_states.json")
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Messages []struct {
			Type string `json:"type"`
			CDR  string `json:"cdr_hex"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.Messages) < 10 {
		t.Fatalf("%d recorded messages", len(rec.Messages))
	}
	s := Mine()
	for i, r := range rec.Messages {
		data, err := hex.DecodeString(r.CDR)
		if err != nil {
			t.Fatal(err)
		}
		var js msg.JointState
		if err := msg.Unmarshal(data, &js); err != nil {
			t.Fatal(err)
		}
		// Where the header and the names end in the recorded payload.
		d, err := cdr.NewMessageDecoder(data)
		if err != nil {
			t.Fatal(err)
		}
		var h msg.Header
		h.UnmarshalCDR(d)
		d.Strings()
		prefix := data[cdr.HeaderSize : cdr.HeaderSize+d.Offset()]

		tr := &msg.JointTrajectory{Header: js.Header, JointNames: js.Name, Points: []msg.JointTrajectoryPoint{
			{Positions: js.Position, Velocities: js.Velocity, Effort: js.Effort, TimeFromStart: msg.Duration{Nanosec: 10_000_000}},
		}}
		got := s.Encode(tr)
		if len(got) < 4+len(prefix) || got[0] != data[0] || got[1] != data[1] {
			t.Fatalf("recorded message %d: encapsulation % x, recorded % x (CDR_LE)", i, got[:min(4, len(got))], data[:4])
		}
		if diff := DiffBytes(got[4:4+len(prefix)], prefix); diff != "" {
			t.Fatalf("recorded message %d (%+v): your header and joint_names differ from what Fast DDS wrote: %s", i, js.Header, diff)
		}
		if diff := DiffBytes(got, msg.Marshal(tr)); diff != "" {
			t.Fatalf("trajectory from recorded message %d (%+v): %s", i, *tr, diff)
		}
	}
}

// TestHiddenCommandCases: the control step at both joint limits, with a
// 250 ms horizon, a state with 9 joints in reverse order, and the inputs
// it must refuse.
func TestHiddenCommandCases(t *testing.T) {
	names := []string{"finger_b", "joint7", "joint6", "joint5", "joint4", "joint3", "joint2", "joint1", "finger_a"}
	pos := []float64{0.01, -0.7, 1.6, 0.5, -1.4, -0.3, 0.2, -0.1, 0.02}
	q := []float64{-0.1, 0.2, -0.3, -1.4, 0.5, 1.6, -0.7}
	state := &msg.JointState{Name: names, Position: pos, Velocity: make([]float64, 9)}
	action := []float32{-3, 1.75, 3, -3.1, 0, -0.5, -2.8}
	now := time.Unix(12, 999_999_999)
	ahead := 250 * time.Millisecond
	want := &msg.JointTrajectory{
		Header:     msg.Header{Stamp: msg.Time{Sec: 12, Nanosec: 999_999_999}, FrameID: "base_link"},
		JointNames: deploy.JointNames,
		Points:     []msg.JointTrajectoryPoint{{TimeFromStart: msg.Duration{Nanosec: 250_000_000}}},
	}
	for i, a := range action {
		target := min(max(float64(a), arm.QMin[i]), arm.QMax[i])
		want.Points[0].Positions = append(want.Points[0].Positions, target)
		want.Points[0].Velocities = append(want.Points[0].Velocities, (target-q[i])/0.25)
	}
	got, err := Command(state, action, now, ahead)
	if err != nil {
		t.Fatalf("Command(%+v, %v, %v): %v", *state, action, ahead, err)
	}
	if d := SameTrajectory(got, want); d != "" {
		t.Fatalf("Command(state %+v, action %v, now %v, ahead %v): %s", *state, action, now, ahead, d)
	}
	// One second and a half ahead: a Duration of {1, 5e8}.
	got, err = Command(state, action, now, 1500*time.Millisecond)
	if err != nil || got.Points[0].TimeFromStart != (msg.Duration{Sec: 1, Nanosec: 500_000_000}) {
		t.Fatalf("Command(ahead 1.5 s): %+v, %v; want TimeFromStart {1 500000000}", got, err)
	}
	inf := float32(math.Inf(1))
	for _, bad := range []struct {
		why    string
		state  *msg.JointState
		action []float32
		ahead  time.Duration
	}{
		{"8 actions", state, append(action[:7:7], 0), ahead},
		{"+Inf action", state, []float32{0, 0, 0, 0, 0, 0, inf}, ahead},
		{"ahead 0", state, action, 0},
		{"fewer positions than names", &msg.JointState{Name: names, Position: pos[:8]}, action, ahead},
		{"joint1 missing", &msg.JointState{Name: names[:7], Position: pos[:7]}, action, ahead},
	} {
		if m, err := Command(bad.state, bad.action, now, bad.ahead); err == nil {
			t.Errorf("Command with %s returned %+v and no error", bad.why, m)
		}
	}
}

// TestHiddenLoop deploys the arm's expert in the course's policy node with
// your control step and encoder, against the simulated robot over real
// DDS: the robot decodes every trajectory (none rejected) and every REACH
// episode succeeds on them.
func TestHiddenLoop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 18*time.Second)
	defer cancel()
	var log strings.Builder
	lw := &lockedLog{b: &log}
	robot, node, err := RunLoop(ctx, Mine(), nil, 2, lw)
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, lw.String())
	}
	t.Log(robot.Summary())
	t.Log(node)
	if len(robot.Episodes) != 2 || robot.SuccessRate != 1 || robot.BadTrajectories != 0 || node.Errors != 0 || node.Published < 5 {
		t.Fatalf("robot: %d episodes, success %.0f%%, %d trajectories rejected; node: %d published, %d errors\nlog:\n%s",
			len(robot.Episodes), 100*robot.SuccessRate, robot.BadTrajectories, node.Published, node.Errors, lw.String())
	}
	for _, e := range robot.Episodes {
		if e.Commands < 3 {
			t.Errorf("episode %+v: the robot moved on %d trajectories", e, e.Commands)
		}
	}
}
