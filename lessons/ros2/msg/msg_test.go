package msg

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/policylab/policylab/lessons/ros2/cdr"
)

// unhex decodes hex digits, ignoring spaces and "//" comments to line ends.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var digits strings.Builder
	for _, line := range strings.Split(s, "\n") {
		line, _, _ = strings.Cut(line, "//")
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Real messages from the shared recordings (../shared/testdata/ros2), so that
// this package's tests and fuzz seeds have them without the bag reader.
const (
	// walker_0.db3, /joint_states, first message (Fast DDS, ROS 2 Humble).
	walkerJointStateHex = "00010000 74050000 8074d21a 01000000 00000000 02000000 11000000" +
		"776865656c5f6c6566745f6a6f696e7400 000000 12000000 776865656c5f72696768745f6a6f696e7400 0000" +
		"02000000 1ee317295497b340 23f12ae3b61bb440 02000000 00000000 ce82bf1368dff4bf 8cb3b8076edff43f 00000000"
	// talker.db3, /topic, first message.
	talkerStringHex = "00010000 10000000 48656c6c6f2c20776f726c6421203000"
)

// samples are messages of every type, with empty sequences, odd-length
// strings and sequences that make the next field realign. The first sample of
// each type is its fullest.
var samples = []Message{
	&Time{Sec: 1700000000, Nanosec: 123456789},
	&Time{Sec: -1, Nanosec: 999999999},
	&Time{},
	&Duration{Sec: 3, Nanosec: 500},
	&Duration{Sec: math.MinInt32},
	&Header{Stamp: Time{Sec: 7, Nanosec: 8}, FrameID: "base_link"},
	&Header{},
	&String{Data: "Hello, world! 0"},
	&String{Data: ""},
	&String{Data: "a"},
	&String{Data: "héllo, wörld"},
	&JointState{
		Header:   Header{Stamp: Time{Sec: 1, Nanosec: 2}, FrameID: "w"},
		Name:     []string{"shoulder", "elbow", "w"},
		Position: []float64{0.1, -0.2, math.Pi},
		Velocity: []float64{1, 2, 3},
		Effort:   []float64{math.Inf(1), math.Copysign(0, -1), 1e-300},
	},
	&JointState{},
	&JointState{Header: Header{FrameID: "ab"}, Name: []string{"x"}, Position: []float64{1}},
	&JointState{Name: []string{"ab", "c"}, Effort: []float64{5}},
	&Image{
		Header: Header{Stamp: Time{Sec: 5}, FrameID: "camera_optical"}, Height: 2, Width: 3,
		Encoding: "rgb8", IsBigendian: 0, Step: 9, Data: []byte("abcdefghijklmnopqr"),
	},
	&Image{},
	&Image{Encoding: "mono16", IsBigendian: 1, Step: 2, Height: 1, Width: 1, Data: []byte{0xff, 0x01}},
	&JointTrajectoryPoint{
		Positions: []float64{1, 2}, Velocities: []float64{3}, Accelerations: []float64{4, 5, 6},
		Effort: []float64{7}, TimeFromStart: Duration{Sec: 1, Nanosec: 5e8},
	},
	&JointTrajectoryPoint{},
	&JointTrajectoryPoint{Effort: []float64{-1}, TimeFromStart: Duration{Nanosec: 1}},
	&JointTrajectory{
		Header:     Header{Stamp: Time{Sec: 10}, FrameID: "base"},
		JointNames: []string{"j1", "j2", "j3"},
		Points: []JointTrajectoryPoint{
			{Positions: []float64{0, 0.5, 1}, TimeFromStart: Duration{Sec: 1}},
			{Positions: []float64{1, 1.5, 2}, Velocities: []float64{0, 0, 0}, TimeFromStart: Duration{Sec: 2}},
			{},
		},
	},
	&JointTrajectory{},
	&JointTrajectory{JointNames: []string{"only"}},
	&Point{X: 1, Y: -2, Z: 3.5},
	&Point{},
	&Quaternion{X: 0, Y: 0, Z: math.Sqrt2 / 2, W: math.Sqrt2 / 2},
	&Quaternion{W: 1},
	&Pose{Position: Point{1, 2, 3}, Orientation: Quaternion{W: 1}},
	&Pose{},
	&PoseArray{
		Header: Header{Stamp: Time{Sec: 9, Nanosec: 9}, FrameID: "map"},
		Poses:  []Pose{{Position: Point{X: 1}}, {Orientation: Quaternion{Y: 1}}},
	},
	&PoseArray{},
	&PoseArray{Header: Header{FrameID: "odd"}, Poses: []Pose{{Position: Point{Z: -1}}}},
}

// fullest returns the first sample of a type.
func fullest(rosType string) Message {
	for _, s := range samples {
		if s.TypeName() == rosType {
			return s
		}
	}
	return nil
}

// payloadLen is the length of m's payload without padding.
func payloadLen(m Message) int {
	var e cdr.Encoder
	m.MarshalCDR(&e)
	return e.Len()
}

// TestRoundTrip marshals every sample, checks the framing, and unmarshals it
// over a message already holding other data. It also cuts the bytes at every
// length: a cut into the payload is an error naming the type; a cut into the
// padding still decodes.
func TestRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for i, m := range samples {
		seen[m.TypeName()] = true
		data := Marshal(m)
		n := payloadLen(m)
		pad := (4 - n%4) % 4
		if len(data) != cdr.HeaderSize+n+pad {
			t.Fatalf("sample %d (%s): %d bytes for a %d-byte payload", i, m.TypeName(), len(data), n)
		}
		if want := []byte{0, 1, 0, byte(pad)}; !bytes.Equal(data[:4], want) {
			t.Errorf("sample %d (%s): header % x, want % x", i, m.TypeName(), data[:4], want)
		}
		for cut := 0; cut <= len(data); cut++ {
			got, err := New(m.TypeName())
			if err != nil {
				t.Fatal(err)
			}
			if err := Unmarshal(Marshal(fullest(m.TypeName())), got); err != nil {
				t.Fatal(err)
			}
			err = Unmarshal(data[:cut], got)
			if cut < cdr.HeaderSize+n {
				if err == nil {
					t.Errorf("sample %d (%s) cut to %d of %d bytes: no error", i, m.TypeName(), cut, len(data))
				} else if !strings.HasPrefix(err.Error(), "msg: "+m.TypeName()+": ") {
					t.Errorf("sample %d: error %q does not name the type", i, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("sample %d (%s) cut to %d of %d bytes: %v", i, m.TypeName(), cut, len(data), err)
			} else if !reflect.DeepEqual(got, m) {
				t.Errorf("sample %d (%s) round trip:\n got %+v\nwant %+v", i, m.TypeName(), got, m)
			}
		}
	}
	for _, typ := range Types() {
		if !seen[typ] {
			t.Errorf("no sample of %s", typ)
		}
	}
}

// TestEmptyIsNil: empty and nil slices encode the same, and decode as nil.
func TestEmptyIsNil(t *testing.T) {
	a := Marshal(&JointState{Name: []string{}, Position: []float64{}, Velocity: nil, Effort: []float64{}})
	b := Marshal(&JointState{})
	if !bytes.Equal(a, b) {
		t.Errorf("empty % x, nil % x", a, b)
	}
}

// TestGoldenJointTrajectory checks the encoder against bytes written by hand
// from the CDR rules, offsets counted from the start of the payload.
func TestGoldenJointTrajectory(t *testing.T) {
	m := &JointTrajectory{
		Header:     Header{Stamp: Time{Sec: 1, Nanosec: 2}, FrameID: "arm"},
		JointNames: []string{"j1", "j2"},
		Points: []JointTrajectoryPoint{{
			Positions:     []float64{0.5, -1},
			Effort:        []float64{2},
			TimeFromStart: Duration{Sec: 3, Nanosec: 4},
		}},
	}
	want := unhex(t, `
		00 01 00 00                   // encapsulation: CDR_LE, options 0 (96-byte payload, no pad)
		01000000 02000000             // 0: stamp sec, nanosec
		04000000 61726d00             // 8: frame_id "arm" + NUL
		02000000                      // 16: joint_names count
		03000000 6a3100 00            // 20: "j1" + NUL, 1 pad byte
		03000000 6a3200 00            // 28: "j2" + NUL, 1 pad byte
		01000000                      // 36: points count
		02000000 00000000             // 40: positions count, 4 pad bytes to reach 8
		000000000000e03f              // 48: 0.5
		000000000000f0bf              // 56: -1
		00000000                      // 64: velocities count (empty: no alignment)
		00000000                      // 68: accelerations count
		01000000 00000000             // 72: effort count, 4 pad bytes
		0000000000000040              // 80: 2
		03000000 04000000             // 88: time_from_start sec, nanosec
	`)
	got := Marshal(m)
	if !bytes.Equal(got, want) {
		t.Errorf("Marshal\n got % x\nwant % x", got, want)
	}
	var back JointTrajectory
	if err := Unmarshal(want, &back); err != nil || !reflect.DeepEqual(&back, m) {
		t.Errorf("Unmarshal = %+v, %v", back, err)
	}
}

// TestGoldenImage: a payload of 47 bytes gets 1 pad byte, counted in the options.
func TestGoldenImage(t *testing.T) {
	m := &Image{
		Header: Header{Stamp: Time{Sec: 5, Nanosec: 6}, FrameID: "cam"},
		Height: 1, Width: 1, Encoding: "rgb8", IsBigendian: 0, Step: 3, Data: []byte{1, 2, 3},
	}
	want := unhex(t, `
		00 01 00 01                   // CDR_LE, 1 pad byte
		05000000 06000000             // 0: stamp
		04000000 63616d00             // 8: frame_id "cam"
		01000000 01000000             // 16: height, width
		05000000 7267623800           // 24: encoding "rgb8"
		00 0000                       // 33: is_bigendian, 2 pad bytes
		03000000                      // 36: step
		03000000 010203               // 40: data
		00                            // 47: pad to a multiple of 4
	`)
	if got := Marshal(m); !bytes.Equal(got, want) {
		t.Errorf("Marshal\n got % x\nwant % x", got, want)
	}
	// Fast DDS frames the same payload with options 0.
	fast := bytes.Clone(want)
	fast[3] = 0
	var back Image
	if err := Unmarshal(fast, &back); err != nil || !reflect.DeepEqual(&back, m) {
		t.Errorf("Unmarshal = %+v, %v", back, err)
	}
}

// TestRecordedMessages decodes messages copied from the shared recordings
// and re-encodes them byte for byte.
func TestRecordedMessages(t *testing.T) {
	tests := []struct {
		hex  string
		want Message
	}{
		{walkerJointStateHex, &JointState{
			Header:   Header{Stamp: Time{Sec: 1396, Nanosec: 450000000}},
			Name:     []string{"wheel_left_joint", "wheel_right_joint"},
			Position: []float64{math.Float64frombits(0x40b397542917e31e), math.Float64frombits(0x40b41bb6e32af123)},
			Velocity: []float64{math.Float64frombits(0xbff4df6813bf82ce), math.Float64frombits(0x3ff4df6e07b8b38c)},
		}},
		{talkerStringHex, &String{Data: "Hello, world! 0"}},
	}
	for _, tt := range tests {
		data := unhex(t, tt.hex)
		got, _ := New(tt.want.TypeName())
		if err := Unmarshal(data, got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("got %+v, want %+v", got, tt.want)
		}
		if re := Marshal(got); !bytes.Equal(re, data) {
			t.Errorf("%s re-encoded\n got % x\nwant % x", tt.want.TypeName(), re, data)
		}
	}
}

func TestBigEndian(t *testing.T) {
	data := unhex(t, `
		0000 0000                 // CDR_BE
		00000001 00000002         // 0: stamp
		00000002 6100 0000        // 8: frame_id "a", 2 pad bytes
		00000001                  // 16: one name
		00000002 6200 0000        // 20: "b", 2 pad bytes
		00000001                  // 28: one position; 32 is 8-aligned, so no pad
		3ff0000000000000          // 32: 1.0
		00000000 00000000         // 40: no velocity, no effort
	`)
	var js JointState
	if err := Unmarshal(data, &js); err != nil {
		t.Fatal(err)
	}
	want := JointState{Header: Header{Stamp: Time{1, 2}, FrameID: "a"}, Name: []string{"b"}, Position: []float64{1}}
	if !reflect.DeepEqual(js, want) {
		t.Errorf("got %+v, want %+v", js, want)
	}
	// Re-encoded little-endian, the payload is the same length.
	if got := Marshal(&js); len(got) != len(data) {
		t.Errorf("re-encoded %d bytes, want %d", len(got), len(data))
	}
}

func TestEncapsulationErrors(t *testing.T) {
	good := Marshal(&String{Data: "x"})
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"PL_CDR_LE", append([]byte{0, 3, 0, 0}, good[4:]...), "msg: std_msgs/msg/String: unsupported encapsulation 0x0003 (PL_CDR_LE); want CDR_BE (0x0000) or CDR_LE (0x0001)"},
		{"CDR2_LE", append([]byte{0, 7, 0, 0}, good[4:]...), "msg: std_msgs/msg/String: unsupported encapsulation 0x0007 (CDR2_LE); want CDR_BE (0x0000) or CDR_LE (0x0001)"},
		{"short", good[:2], "msg: std_msgs/msg/String: message of 2 bytes is shorter than the 4-byte encapsulation header"},
		{"no NUL", []byte{0, 1, 0, 0, 2, 0, 0, 0, 'a', 'b'}, "msg: std_msgs/msg/String: offset 0: string of length 2 is not NUL-terminated (last byte 0x62)"},
	}
	for _, tt := range tests {
		var s String
		err := Unmarshal(tt.data, &s)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: error %v, want %s", tt.name, err, tt.want)
		}
		var me *Error
		if !errors.As(err, &me) || me.Type != "std_msgs/msg/String" {
			t.Errorf("%s: %T is not a *msg.Error", tt.name, err)
		}
	}
}

// hostile builds a message of 40 bytes (more if prefix needs it): prefix
// writes the fields before a sequence, whose length then claims 2^31
// elements, and zero bytes fill the rest.
func hostile(prefix func(e *cdr.Encoder)) []byte {
	var e cdr.Encoder
	prefix(&e)
	e.Uint32(1 << 31)
	for e.Len() < 36 {
		e.Uint8(0)
	}
	return e.Encapsulated()
}

// TestHostileLengths: 40-byte messages claiming a 2^31-element sequence at
// each sequence field fail with an error and allocate less than 1 KB. (Image
// needs 44 bytes to reach its data, and a point's sequence 52, as the points
// count is checked against 24 bytes a point first.)
func TestHostileLengths(t *testing.T) {
	header := func(e *cdr.Encoder) { (&Header{FrameID: "f"}).MarshalCDR(e) } // 14 bytes
	tests := []struct {
		name string
		m    Message
		data []byte
		want string
	}{
		{"JointState.Name", &JointState{}, hostile(header), "offset 16: sequence length 2147483648 of 5-byte elements exceeds the 16 bytes left"},
		{"JointState.Position", &JointState{}, hostile(func(e *cdr.Encoder) { header(e); e.Strings(nil) }), "offset 20: sequence length 2147483648 of 8-byte elements exceeds the 12 bytes left"},
		{"JointState.Effort", &JointState{}, hostile(func(e *cdr.Encoder) { header(e); e.Strings(nil); e.Float64s(nil); e.Float64s(nil) }), "offset 28: sequence length 2147483648 of 8-byte elements exceeds the 4 bytes left"},
		{"Image.Data", &Image{}, hostile(func(e *cdr.Encoder) {
			(&Image{}).MarshalCDR(e)
			b := e.Bytes()
			e.Reset()
			for _, c := range b[:len(b)-4] { // all but the data length
				e.Uint8(c)
			}
		}), "sequence length 2147483648 exceeds the 0 bytes left"},
		{"JointTrajectory.JointNames", &JointTrajectory{}, hostile(header), "of 5-byte elements"},
		{"JointTrajectory.Points", &JointTrajectory{}, hostile(func(e *cdr.Encoder) { header(e); e.Strings(nil) }), "of 24-byte elements"},
		{"JointTrajectoryPoint.Positions", &JointTrajectoryPoint{}, hostile(func(*cdr.Encoder) {}), "offset 0: sequence length 2147483648 of 8-byte elements exceeds the 32 bytes left"},
		{"JointTrajectory.Points[0].Effort", &JointTrajectory{}, append(hostile(func(e *cdr.Encoder) {
			header(e)
			e.Strings(nil)
			e.Uint32(1)
			e.Float64s(nil)
			e.Float64s(nil)
			e.Float64s(nil)
		}), make([]byte, 8)...), "offset 36: sequence length 2147483648 of 8-byte elements exceeds the 8 bytes left"},
		{"PoseArray.Poses", &PoseArray{}, hostile(header), "offset 16: sequence length 2147483648 of 56-byte elements exceeds the 16 bytes left"},
		{"String.Data", &String{}, hostile(func(*cdr.Encoder) {}), "offset 0: string length 2147483648 exceeds the 32 bytes left"},
		{"Header.FrameID", &Header{}, hostile(func(e *cdr.Encoder) { e.Uint64(0) }), "offset 8: string length 2147483648"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.data) > 52 {
				t.Fatalf("test message of %d bytes", len(tt.data))
			}
			err := Unmarshal(tt.data, tt.m)
			if err == nil || !strings.HasPrefix(err.Error(), "msg: "+tt.m.TypeName()+": ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			const runs = 100
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range runs {
				Unmarshal(tt.data, tt.m)
			}
			runtime.ReadMemStats(&after)
			if perRun := (after.TotalAlloc - before.TotalAlloc) / runs; perRun >= 1024 {
				t.Errorf("%d bytes allocated per Unmarshal, want < 1 KB", perRun)
			}
		})
	}
}

func TestDDSTypeName(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"sensor_msgs/msg/JointState", "sensor_msgs::msg::dds_::JointState_", ""},
		{"std_msgs/msg/String", "std_msgs::msg::dds_::String_", ""},
		{"example_interfaces/srv/AddTwoInts_Request", "example_interfaces::srv::dds_::AddTwoInts_Request_", ""},
		{"geometry_msgs/msg/Pose2D", "geometry_msgs::msg::dds_::Pose2D_", ""},
		{"sensor_msgs/JointState", "", "want package/interface/Name"},
		{"sensor_msgs/msg/JointState/x", "", "want package/interface/Name"},
		{"", "", "want package/interface/Name"},
		{"sensor_msgs//JointState", "", `part "" is not an identifier`},
		{"sensor-msgs/msg/JointState", "", `part "sensor-msgs" is not an identifier`},
		{"sensor_msgs/msg/2D", "", `part "2D" is not an identifier`},
		{"sensor_msgs/msg/Joint State", "", "is not an identifier"},
	}
	for _, tt := range tests {
		got, err := DDSTypeName(tt.in)
		if tt.err == "" {
			if err != nil || got != tt.want {
				t.Errorf("DDSTypeName(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "msg: ") || !errors.Is(err, ErrTypeName) {
			t.Errorf("DDSTypeName(%q) error %v, want one saying %q", tt.in, err, tt.err)
		}
	}
}

func TestNew(t *testing.T) {
	if len(Types()) != 12 {
		t.Errorf("%d types: %v", len(Types()), Types())
	}
	for _, typ := range Types() {
		m, err := New(typ)
		if err != nil {
			t.Fatal(err)
		}
		if m.TypeName() != typ {
			t.Errorf("New(%q).TypeName() = %q", typ, m.TypeName())
		}
		if _, err := DDSTypeName(typ); err != nil {
			t.Error(err)
		}
	}
	if _, err := New("sensor_msgs/msg/LaserScan"); err == nil || err.Error() != `msg: unsupported type "sensor_msgs/msg/LaserScan"` {
		t.Errorf("New(LaserScan): %v", err)
	}
}

func TestTimeConversions(t *testing.T) {
	tests := []struct {
		in   time.Time
		want Time
	}{
		{time.Unix(1700000000, 5).UTC(), Time{1700000000, 5}},
		{time.Unix(0, 0).UTC(), Time{}},
		{time.Unix(-2, 5e8).UTC(), Time{-2, 5e8}},
	}
	for _, tt := range tests {
		got := TimeFrom(tt.in)
		if got != tt.want {
			t.Errorf("TimeFrom(%v) = %+v, want %+v", tt.in, got, tt.want)
		}
		if back := got.Time(); !back.Equal(tt.in) || back.Location() != time.UTC {
			t.Errorf("%+v.Time() = %v, want %v", got, back, tt.in)
		}
	}
	if got := TimeFrom(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)); got != (Time{math.MaxInt32, 999999999}) {
		t.Errorf("year 2200 saturates to %+v", got)
	}
	if got := TimeFrom(time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC)); got != (Time{Sec: math.MinInt32}) {
		t.Errorf("year 1800 saturates to %+v", got)
	}
}

func TestDurationConversions(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want Duration
	}{
		{0, Duration{}},
		{1500 * time.Millisecond, Duration{1, 5e8}},
		{-1500 * time.Millisecond, Duration{-2, 5e8}},
		{-time.Nanosecond, Duration{-1, 999999999}},
		{-time.Second, Duration{-1, 0}},
	}
	for _, tt := range tests {
		got := DurationFrom(tt.in)
		if got != tt.want {
			t.Errorf("DurationFrom(%v) = %+v, want %+v", tt.in, got, tt.want)
		}
		if back := got.Duration(); back != tt.in {
			t.Errorf("%+v.Duration() = %v, want %v", got, back, tt.in)
		}
	}
	if got := DurationFrom(100 * 365 * 24 * time.Hour); got != (Duration{math.MaxInt32, 999999999}) {
		t.Errorf("100 years saturates to %+v", got)
	}
	if got := DurationFrom(math.MinInt64); got != (Duration{Sec: math.MinInt32}) {
		t.Errorf("min duration saturates to %+v", got)
	}
	if got := (Duration{Sec: math.MaxInt32, Nanosec: math.MaxUint32}).Duration(); got <= 0 {
		t.Errorf("largest Duration converts to %v", got)
	}
}
