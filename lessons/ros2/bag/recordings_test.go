package bag_test

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/policylab/policylab/lessons/ros2/bag"
	"github.com/policylab/policylab/lessons/ros2/cdr"
	"github.com/policylab/policylab/lessons/ros2/msg"
)

// recordings returns the folder of the shared ROS 2 recordings,
// ../shared/testdata/ros2 from the module root, or skips the test.
func recordings(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no go.mod above the test's folder, so no ../shared/testdata/ros2")
		}
		dir = parent
	}
	rec := filepath.Join(dir, "..", "shared", "testdata", "ros2")
	if _, err := os.Stat(filepath.Join(rec, "talker.db3")); err != nil {
		t.Skipf("ROS 2 recordings not found (%v); they live in ../shared/testdata/ros2 from the repository root", err)
	}
	return rec
}

func openBag(t testing.TB, name string) *bag.Bag {
	t.Helper()
	b, err := bag.Open(filepath.Join(recordings(t), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// samePayload compares a recorded message with our re-encoding of what we
// decoded from it: the payloads (after the 4-byte header) must agree byte for
// byte, except that the recording may carry up to 3 more bytes of zero
// padding. It returns "" or a description naming the first differing offset.
func samePayload(recorded, reencoded []byte) string {
	got := recorded[cdr.HeaderSize:]
	want := reencoded
	n := min(len(got), len(want))
	for i := 0; i < n; i++ {
		if got[i] != want[i] {
			return fmt.Sprintf("payloads differ first at offset %d: recorded 0x%02x, re-encoded 0x%02x (recorded %d bytes, re-encoded %d)", i, got[i], want[i], len(got), len(want))
		}
	}
	switch extra := len(got) - len(want); {
	case extra < 0:
		return fmt.Sprintf("re-encoded payload is %d bytes longer than the recorded %d", -extra, len(got))
	case extra > 3:
		return fmt.Sprintf("recorded payload has %d bytes after the message (at most 3 of padding expected)", extra)
	}
	for i, c := range got[len(want):] {
		if c != 0 {
			return fmt.Sprintf("recorded pad byte at offset %d is 0x%02x, not 0", len(want)+i, c)
		}
	}
	return ""
}

// TestRecordingsReencode decodes every message of a supported type in every
// recording and re-encodes it byte-exact.
func TestRecordingsReencode(t *testing.T) {
	dir := recordings(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.db3"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .db3 in %s (%v)", dir, err)
	}
	want := map[string]map[string]int{ // file → topic → messages of a supported type
		"talker.db3": {"/topic": 10},
		"walker_0.db3": {
			"/joint_states":      598,
			"/robot_description": 1,
		},
		"cdr_test_0.db3": {},
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			b, err := bag.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			got := map[string]int{}
			headers := map[string]int{} // "options 0x0000, 1 pad byte" → count, over all messages
			var e cdr.Encoder
			err = b.Messages(func(m bag.Message) error {
				h, payload, err := cdr.ParseEncapsulation(m.Data)
				if err != nil {
					return fmt.Errorf("%s at %d: %w", m.Topic, m.Timestamp, err)
				}
				if h.ID != cdr.CDRLittleEndian {
					t.Errorf("%s: encapsulation %s", m.Topic, cdr.EncapsulationName(h.ID))
				}
				v, err := msg.New(m.Type)
				if err != nil {
					headers[fmt.Sprintf("unsupported type: options 0x%04x, payload %%4 = %d", h.Options, len(payload)%4)]++
					return nil // a type we do not support
				}
				if err := msg.Unmarshal(m.Data, v); err != nil {
					return fmt.Errorf("%s at %d: %w", m.Topic, m.Timestamp, err)
				}
				e.Reset()
				v.MarshalCDR(&e)
				if diff := samePayload(m.Data, e.Bytes()); diff != "" {
					return fmt.Errorf("%s (%s) at %d: %s", m.Topic, m.Type, m.Timestamp, diff)
				}
				pad := len(payload) - e.Len()
				headers[fmt.Sprintf("options 0x%04x, payload %%4 = %d, %d pad bytes", h.Options, len(payload)%4, pad)]++
				if h.Padding() != 0 && h.Padding() != pad {
					t.Errorf("%s: options say %d pad bytes, found %d", m.Topic, h.Padding(), pad)
				}
				got[m.Topic]++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if w, ok := want[name]; ok && !equalCounts(got, w) {
				t.Errorf("re-encoded byte-exact per topic: %v, want %v", got, w)
			}
			t.Logf("re-encoded byte-exact: %v; encapsulation headers seen: %v", got, headers)
		})
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestTalker(t *testing.T) {
	b := openBag(t, "talker.db3")
	var got []string
	last := int64(math.MinInt64)
	err := b.TopicMessages("/topic", func(m bag.Message) error {
		if m.Type != "std_msgs/msg/String" {
			t.Errorf("type %q", m.Type)
		}
		if m.Timestamp < last {
			t.Errorf("timestamp %d after %d", m.Timestamp, last)
		}
		last = m.Timestamp
		var s msg.String
		if err := msg.Unmarshal(m.Data, &s); err != nil {
			return err
		}
		got = append(got, s.Data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 {
		t.Fatalf("%d messages, want 10: %q", len(got), got)
	}
	for i, s := range got {
		if want := fmt.Sprintf("Hello, world! %d", i); s != want {
			t.Errorf("message %d = %q, want %q", i, s, want)
		}
	}
	if y := time0(last); y != 2020 {
		t.Errorf("recorded in %d, want 2020", y)
	}
}

func time0(ns int64) int { return bag.Message{Timestamp: ns}.Time().Year() }

func TestWalkerJointStates(t *testing.T) {
	b := openBag(t, "walker_0.db3")
	n := 0
	names := map[string]bool{}
	var prev msg.Time
	err := b.TopicMessages("/joint_states", func(m bag.Message) error {
		var js msg.JointState
		if err := msg.Unmarshal(m.Data, &js); err != nil {
			return err
		}
		n++
		if len(js.Name) == 0 {
			t.Errorf("message %d: no joint names", n)
		}
		for _, name := range js.Name {
			if name == "" {
				t.Errorf("message %d: empty joint name in %q", n, js.Name)
			}
			names[name] = true
		}
		if len(js.Position) != len(js.Name) {
			t.Errorf("message %d: %d positions for %d names", n, len(js.Position), len(js.Name))
		}
		for _, v := range append(js.Position, js.Velocity...) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("message %d: non-finite value in %v %v", n, js.Position, js.Velocity)
			}
		}
		if js.Header.Stamp.Nanosec >= 1e9 {
			t.Errorf("message %d: stamp %+v", n, js.Header.Stamp)
		}
		if s := js.Header.Stamp; s.Sec < prev.Sec || s.Sec == prev.Sec && s.Nanosec < prev.Nanosec {
			t.Errorf("message %d: stamp %+v before %+v", n, s, prev)
		}
		prev = js.Header.Stamp
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 598 {
		t.Errorf("%d joint states, want 598", n)
	}
	var sorted []string
	for k := range names {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	if strings.Join(sorted, ",") != "wheel_left_joint,wheel_right_joint" {
		t.Errorf("joint names %q", sorted)
	}
}

func TestWalkerRobotDescription(t *testing.T) {
	b := openBag(t, "walker_0.db3")
	var data []byte
	var s msg.String
	err := b.TopicMessages("/robot_description", func(m bag.Message) error {
		data = m.Data
		return msg.Unmarshal(m.Data, &s)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != 6884 {
		t.Errorf("%d bytes, want 6884", len(data))
	}
	if !strings.HasPrefix(s.Data, "<?xml") || !strings.Contains(s.Data, "<robot name=") || !strings.HasSuffix(s.Data, "</robot>\n") {
		t.Errorf("not a URDF: %.60q ... %q", s.Data, s.Data[max(0, len(s.Data)-20):])
	}
	// Fast DDS (ROS 2 Humble's default) pads to 4 but leaves the options 0:
	// string length 4 + 6875 bytes + 1 pad byte after the 4-byte header.
	if !bytes.Equal(data[:4], []byte{0, 1, 0, 0}) || data[len(data)-1] != 0 || data[len(data)-2] != 0 {
		t.Errorf("header % x, tail % x", data[:4], data[len(data)-4:])
	}
	if len(s.Data) != 6874 {
		t.Errorf("URDF of %d bytes, want 6874 (+ NUL = 6875)", len(s.Data))
	}
	re := msg.Marshal(&s)
	if len(re) != len(data) || re[3] != 1 || !bytes.Equal(re[4:], data[4:]) {
		t.Errorf("Marshal: %d bytes, options byte %d; want %d bytes, 1 pad byte", len(re), re[3], len(data))
	}
}
