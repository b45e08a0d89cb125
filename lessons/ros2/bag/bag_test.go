package bag_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/policylab/policylab/lessons/ros2/bag"
)

func TestTopics(t *testing.T) {
	tests := []struct {
		file string
		want []bag.Topic
	}{
		{"talker.db3", []bag.Topic{
			{1, "/rosout", "rcl_interfaces/msg/Log", "cdr"},
			{2, "/parameter_events", "rcl_interfaces/msg/ParameterEvent", "cdr"},
			{3, "/topic", "std_msgs/msg/String", "cdr"},
		}},
		{"cdr_test_0.db3", []bag.Topic{
			{1, "/test_topic", "test_msgs/msg/BasicTypes", "cdr"},
			{2, "/array_topic", "test_msgs/msg/Arrays", "cdr"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b := openBag(t, tt.file)
			if got := b.Topics(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Topics() = %+v, want %+v", got, tt.want)
			}
		})
	}
	// walker_0.db3's topics table (Humble) has no type_description_hash column.
	b := openBag(t, "walker_0.db3")
	if js, ok := b.Topic("/joint_states"); !ok || js.Type != "sensor_msgs/msg/JointState" || js.Format != "cdr" {
		t.Errorf("walker /joint_states: %+v, %v", js, ok)
	}
	if len(b.Topics()) != 13 {
		t.Errorf("walker: %d topics, want 13", len(b.Topics()))
	}
}

func TestCounts(t *testing.T) {
	tests := []struct {
		file string
		want map[string]int64
	}{
		{"talker.db3", map[string]int64{"/rosout": 10, "/topic": 10}},
		{"cdr_test_0.db3", map[string]int64{"/test_topic": 3, "/array_topic": 4}},
		{"walker_0.db3", map[string]int64{
			"/scan": 102, "/performance_metrics": 131, "/rosout": 21, "/odom": 599,
			"/imu": 3869, "/tf": 958, "/clock": 261, "/cmd_vel": 101,
			"/joint_states": 598, "/robot_description": 1, "/tf_static": 1,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b := openBag(t, tt.file)
			got, err := b.Counts()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Counts() = %v, want %v", got, tt.want)
			}
			n := int64(0)
			last := int64(-1 << 63)
			err = b.Messages(func(m bag.Message) error {
				if m.Timestamp < last {
					t.Errorf("%s: timestamp %d after %d", m.Topic, m.Timestamp, last)
				}
				last = m.Timestamp
				n++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var sum int64
			for _, c := range tt.want {
				sum += c
			}
			if n != sum {
				t.Errorf("Messages visited %d, want %d", n, sum)
			}
		})
	}
}

func TestCallbackErrorStops(t *testing.T) {
	b := openBag(t, "talker.db3")
	stop := errors.New("enough")
	n := 0
	err := b.Messages(func(bag.Message) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Errorf("err %v after %d messages, want %v after 3", err, n, stop)
	}
	if err := b.TopicMessages("/nope", func(bag.Message) error { return nil }); err == nil || !strings.Contains(err.Error(), `no topic "/nope"`) {
		t.Errorf("unknown topic: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := b.Messages(func(bag.Message) error { return nil }); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Messages after Close: %v", err)
	}
}

// TestConcurrentAndNested: two goroutines read at once, a callback calls
// back into the bag, and Close in the middle of Messages lets it finish.
func TestConcurrentAndNested(t *testing.T) {
	b := openBag(t, "walker_0.db3")
	want, wantN, err := digest(b)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			got, n, err := digest(b)
			if err == nil && (got != want || n != wantN) {
				err = errors.New("concurrent read differs")
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}

	n := 0
	err = b.TopicMessages("/joint_states", func(m bag.Message) error {
		n++
		if n == 1 {
			counts, err := b.Counts() // nested query
			if err != nil || counts["/joint_states"] != 598 {
				t.Errorf("nested Counts = %v, %v", counts, err)
			}
			if err := b.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
		return nil
	})
	if err != nil || n != 598 {
		t.Errorf("Messages closed midway: %d messages, %v", n, err)
	}
	if _, err := b.Counts(); err == nil || !strings.Contains(err.Error(), "bag is closed") {
		t.Errorf("Counts after Close: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		want    string
		corrupt bool
	}{
		{"missing", filepath.Join(dir, "missing.db3"), "no such file", false},
		{"directory", dir, "is a directory", false},
		{"empty file", write("empty.db3", nil), "no table topics", false},
		{"text file", write("text.db3", bytes.Repeat([]byte("not a database\n"), 300)), "not an SQLite database", true},
		{"short file", write("short.db3", []byte("SQLite format 3\x00")), "too short", true},
		{"odd characters", write("a%20b?c#d.db3", nil), "no table topics", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bag.Open(tt.path)
			if err == nil {
				b.Close()
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "bag: ") || !strings.Contains(msg, tt.path) || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q, want it to name %s and say %q", msg, tt.path, tt.want)
			}
			if errors.Is(err, bag.ErrCorrupt) != tt.corrupt {
				t.Errorf("errors.Is(%v, ErrCorrupt) = %v", err, !tt.corrupt)
			}
		})
	}
}

// digest reads every message of a bag into one hash.
func digest(b *bag.Bag) ([32]byte, int, error) {
	h := sha256.New()
	n := 0
	err := b.Messages(func(m bag.Message) error {
		h.Write([]byte(m.Topic + "\x00" + m.Type + "\x00"))
		h.Write(m.Data)
		n++
		return nil
	})
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum, n, err
}

// TestDamagedFiles reads truncated and overwritten copies of a recording:
// each must give an error naming the file, never a panic, and never messages
// that differ from the original. (SQLite alone reads a file cut short by a
// byte without complaint, zero-filling its last page: Open checks the size.)
func TestDamagedFiles(t *testing.T) {
	src := filepath.Join(recordings(t), "walker_0.db3")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	orig := openBag(t, "walker_0.db3")
	want, wantN, err := digest(orig)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	cases := map[string][]byte{}
	for _, n := range []int{1, 16, 99, 100, 512, page, page + 1, 2 * page, len(data) / 3, len(data) / 2, len(data) - page, len(data) - 1} {
		cases["truncated to "+strconv.Itoa(n)] = data[:n]
	}
	garbage := bytes.Clone(data)
	for i := page; i < len(garbage); i++ {
		garbage[i] = byte(i*7 + 0xa5)
	}
	cases["pages after the first overwritten"] = garbage
	zeroed := bytes.Clone(data)
	clear(zeroed[page : 8*page])
	cases["pages 2 to 8 zeroed"] = zeroed

	dir := t.TempDir()
	errs := 0
	for name, d := range cases {
		p := filepath.Join(dir, "damaged.db3")
		if err := os.WriteFile(p, d, 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := bag.Open(p)
		if err == nil {
			var got [32]byte
			var n int
			got, n, err = digest(b)
			b.Close()
			if err == nil && (got != want || n != wantN) {
				t.Errorf("%s: read %d messages without error, but not the original %d", name, n, wantN)
			}
		}
		if err != nil {
			errs++
			if !strings.HasPrefix(err.Error(), "bag: "+p+": ") {
				t.Errorf("%s: error %q does not name the file", name, err)
			}
		}
		t.Logf("%s: %v", name, err)
	}
	if errs != len(cases) {
		t.Errorf("only %d of %d damaged files gave an error", errs, len(cases))
	}
}

// TestSchemaErrors builds small broken bags with the sqlite3 command-line
// tool, when there is one.
func TestSchemaErrors(t *testing.T) {
	cli, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Skip("no sqlite3 command to build test databases with")
	}
	dir := t.TempDir()
	build := func(name, sql string) string {
		p := filepath.Join(dir, name)
		if out, err := exec.Command(cli, p, sql).CombinedOutput(); err != nil {
			t.Fatalf("sqlite3: %v: %s", err, out)
		}
		return p
	}
	const topics = "CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL, serialization_format TEXT NOT NULL);"
	const messages = "CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL, timestamp INTEGER NOT NULL, data BLOB NOT NULL);"
	tests := []struct {
		name, sql, want string
	}{
		{"no messages", topics, "no table messages"},
		{"no topics", messages, "no table topics"},
		{"old topics table", "CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT);" + messages, "reading topics: no such column: type"},
		{"unknown topic", topics + messages + "INSERT INTO topics VALUES(1, '/a', 'std_msgs/msg/String', 'cdr'); INSERT INTO messages VALUES(1, 7, 5, x'00010000');", "message 1 is on unknown topic id 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := build(strings.ReplaceAll(tt.name, " ", "_")+".db3", tt.sql)
			b, err := bag.Open(p)
			if err == nil {
				err = b.Messages(func(bag.Message) error { return nil })
				b.Close()
			}
			if err == nil || !strings.HasPrefix(err.Error(), "bag: "+p+": ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one naming %s and saying %q", err, p, tt.want)
			}
		})
	}

	// A minimal valid bag: a message with empty data reads back as empty.
	p := build("minimal.db3", topics+messages+"INSERT INTO topics VALUES(1, '/a', 'std_msgs/msg/String', 'cdr'); INSERT INTO messages VALUES(1, 1, 5, x'');")
	b, err := bag.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var got []bag.Message
	if err := b.Messages(func(m bag.Message) error { got = append(got, m); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Topic != "/a" || got[0].Timestamp != 5 || len(got[0].Data) != 0 {
		t.Errorf("got %+v", got)
	}
}
