package msg

import (
	"bytes"
	"math"
	"runtime"
	"testing"
)

// fuzzUnmarshal is the body of every FuzzUnmarshal<Type>: Unmarshal must not
// panic, must allocate at most a small multiple of the input plus a constant,
// and whatever decodes must survive Marshal → Unmarshal → Marshal unchanged.
func fuzzUnmarshal(f *testing.F, rosType string) {
	fresh := func(t testing.TB) Message {
		m, err := New(rosType)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, s := range samples {
		if s.TypeName() == rosType {
			data := Marshal(s)
			f.Add(data)
			big := bytes.Clone(data) // the same payload declared big-endian
			big[1] = 0
			f.Add(big)
		}
	}
	for _, h := range []string{walkerJointStateHex, talkerStringHex} {
		f.Add(unhex(f, h)) // recorded messages, whatever their type
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := fresh(t)
		err := Unmarshal(data, m)
		// The largest blow-up is a point of empty sequences: 24 bytes on the
		// wire, 104 in Go. Strings are at most 5 wire bytes per 16-byte header.
		limit := uint64(8*len(data) + 4096)
		if alloc := allocated(limit, func() { Unmarshal(data, fresh(t)) }); alloc > limit {
			t.Fatalf("Unmarshal of %d bytes allocated %d bytes (limit %d)", len(data), alloc, limit)
		}
		if err != nil {
			return
		}
		once := Marshal(m)
		back := fresh(t)
		if err := Unmarshal(once, back); err != nil {
			t.Fatalf("re-encoding of a decoded message does not decode: %v\n% x", err, once)
		}
		// Comparing encodings compares every field, NaN payloads included.
		if twice := Marshal(back); !bytes.Equal(once, twice) {
			t.Fatalf("round trip changed the message:\n% x\n% x", once, twice)
		}
		// Our encoding is never longer than the input (the input may have
		// more padding, or trailing bytes we ignore).
		if len(once) > len(data)+3 {
			t.Fatalf("%d-byte input re-encoded in %d bytes", len(data), len(once))
		}
	})
}

// allocated returns the bytes that f allocates. TotalAlloc counts the whole
// process, and while fuzzing other goroutines allocate too, so a reading over
// limit is taken again, up to 5 times, keeping the least.
func allocated(limit uint64, f func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 5 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
		if least <= limit {
			break
		}
	}
	return least
}

func FuzzUnmarshalTime(f *testing.F)       { fuzzUnmarshal(f, "builtin_interfaces/msg/Time") }
func FuzzUnmarshalDuration(f *testing.F)   { fuzzUnmarshal(f, "builtin_interfaces/msg/Duration") }
func FuzzUnmarshalHeader(f *testing.F)     { fuzzUnmarshal(f, "std_msgs/msg/Header") }
func FuzzUnmarshalString(f *testing.F)     { fuzzUnmarshal(f, "std_msgs/msg/String") }
func FuzzUnmarshalJointState(f *testing.F) { fuzzUnmarshal(f, "sensor_msgs/msg/JointState") }
func FuzzUnmarshalImage(f *testing.F)      { fuzzUnmarshal(f, "sensor_msgs/msg/Image") }
func FuzzUnmarshalJointTrajectoryPoint(f *testing.F) {
	fuzzUnmarshal(f, "trajectory_msgs/msg/JointTrajectoryPoint")
}
func FuzzUnmarshalJointTrajectory(f *testing.F) {
	fuzzUnmarshal(f, "trajectory_msgs/msg/JointTrajectory")
}
func FuzzUnmarshalPoint(f *testing.F)      { fuzzUnmarshal(f, "geometry_msgs/msg/Point") }
func FuzzUnmarshalQuaternion(f *testing.F) { fuzzUnmarshal(f, "geometry_msgs/msg/Quaternion") }
func FuzzUnmarshalPose(f *testing.F)       { fuzzUnmarshal(f, "geometry_msgs/msg/Pose") }
func FuzzUnmarshalPoseArray(f *testing.F)  { fuzzUnmarshal(f, "geometry_msgs/msg/PoseArray") }

// TestFuzzersCoverEveryType keeps the list of fuzzers in step with Types.
func TestFuzzersCoverEveryType(t *testing.T) {
	if n := len(Types()); n != 12 {
		t.Errorf("%d types but 12 FuzzUnmarshal functions: add one for the new type", n)
	}
}
