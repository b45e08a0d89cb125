package bag_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/policylab/policylab/lessons/ros2/bag"
	"github.com/policylab/policylab/lessons/ros2/cdr"
)

// Test-only codecs for ROS 2's test_msgs/msg/BasicTypes and Arrays, whose
// recordings in cdr_test_0.db3 put every primitive at every alignment.

// basicTypes is test_msgs/msg/BasicTypes (and Defaults, which has the same
// fields with default values).
type basicTypes struct {
	Bool    bool
	Byte    uint8
	Char    uint8 // ROS 2 maps the .msg char to an 8-bit unsigned integer
	Float32 float32
	Float64 float64
	Int8    int8
	Uint8   uint8
	Int16   int16
	Uint16  uint16
	Int32   int32
	Uint32  uint32
	Int64   int64
	Uint64  uint64
}

func (b *basicTypes) encode(e *cdr.Encoder) {
	e.Bool(b.Bool)
	e.Uint8(b.Byte)
	e.Uint8(b.Char)
	e.Float32(b.Float32)
	e.Float64(b.Float64)
	e.Int8(b.Int8)
	e.Uint8(b.Uint8)
	e.Int16(b.Int16)
	e.Uint16(b.Uint16)
	e.Int32(b.Int32)
	e.Uint32(b.Uint32)
	e.Int64(b.Int64)
	e.Uint64(b.Uint64)
}

func (b *basicTypes) decode(d *cdr.Decoder) {
	b.Bool = d.Bool()
	b.Byte = d.Uint8()
	b.Char = d.Uint8()
	b.Float32 = d.Float32()
	b.Float64 = d.Float64()
	b.Int8 = d.Int8()
	b.Uint8 = d.Uint8()
	b.Int16 = d.Int16()
	b.Uint16 = d.Uint16()
	b.Int32 = d.Int32()
	b.Uint32 = d.Uint32()
	b.Int64 = d.Int64()
	b.Uint64 = d.Uint64()
}

// primArrays is the run of fixed-size arrays that test_msgs/msg/Arrays has
// twice (the _values and the _values_default fields). A fixed-size array has
// no length on the wire: just its elements, each aligned to its size.
type primArrays struct {
	Bool    [3]bool
	Byte    [3]uint8
	Char    [3]uint8
	Float32 [3]float32
	Float64 [3]float64
	Int8    [3]int8
	Uint8   [3]uint8
	Int16   [3]int16
	Uint16  [3]uint16
	Int32   [3]int32
	Uint32  [3]uint32
	Int64   [3]int64
	Uint64  [3]uint64
	String  [3]string
}

func (a *primArrays) encode(e *cdr.Encoder) {
	for _, v := range a.Bool {
		e.Bool(v)
	}
	for _, v := range a.Byte {
		e.Uint8(v)
	}
	for _, v := range a.Char {
		e.Uint8(v)
	}
	for _, v := range a.Float32 {
		e.Float32(v)
	}
	for _, v := range a.Float64 {
		e.Float64(v)
	}
	for _, v := range a.Int8 {
		e.Int8(v)
	}
	for _, v := range a.Uint8 {
		e.Uint8(v)
	}
	for _, v := range a.Int16 {
		e.Int16(v)
	}
	for _, v := range a.Uint16 {
		e.Uint16(v)
	}
	for _, v := range a.Int32 {
		e.Int32(v)
	}
	for _, v := range a.Uint32 {
		e.Uint32(v)
	}
	for _, v := range a.Int64 {
		e.Int64(v)
	}
	for _, v := range a.Uint64 {
		e.Uint64(v)
	}
	for _, v := range a.String {
		e.String(v)
	}
}

func (a *primArrays) decode(d *cdr.Decoder) {
	for i := range a.Bool {
		a.Bool[i] = d.Bool()
	}
	for i := range a.Byte {
		a.Byte[i] = d.Uint8()
	}
	for i := range a.Char {
		a.Char[i] = d.Uint8()
	}
	for i := range a.Float32 {
		a.Float32[i] = d.Float32()
	}
	for i := range a.Float64 {
		a.Float64[i] = d.Float64()
	}
	for i := range a.Int8 {
		a.Int8[i] = d.Int8()
	}
	for i := range a.Uint8 {
		a.Uint8[i] = d.Uint8()
	}
	for i := range a.Int16 {
		a.Int16[i] = d.Int16()
	}
	for i := range a.Uint16 {
		a.Uint16[i] = d.Uint16()
	}
	for i := range a.Int32 {
		a.Int32[i] = d.Int32()
	}
	for i := range a.Uint32 {
		a.Uint32[i] = d.Uint32()
	}
	for i := range a.Int64 {
		a.Int64[i] = d.Int64()
	}
	for i := range a.Uint64 {
		a.Uint64[i] = d.Uint64()
	}
	for i := range a.String {
		a.String[i] = d.StringValue()
	}
}

// arrays is test_msgs/msg/Arrays. Constants has only constants, so ROS 2
// gives its structure the dummy field "uint8 structure_needs_at_least_one_member":
// one byte per element.
type arrays struct {
	Values         primArrays
	BasicTypes     [3]basicTypes
	Constants      [3]uint8
	Defaults       [3]basicTypes
	ValuesDefault  primArrays
	AlignmentCheck int32
}

func (a *arrays) encode(e *cdr.Encoder) {
	a.Values.encode(e)
	for i := range a.BasicTypes {
		a.BasicTypes[i].encode(e)
	}
	for _, v := range a.Constants {
		e.Uint8(v)
	}
	for i := range a.Defaults {
		a.Defaults[i].encode(e)
	}
	a.ValuesDefault.encode(e)
	e.Int32(a.AlignmentCheck)
}

func (a *arrays) decode(d *cdr.Decoder) {
	a.Values.decode(d)
	for i := range a.BasicTypes {
		a.BasicTypes[i].decode(d)
	}
	for i := range a.Constants {
		a.Constants[i] = d.Uint8()
	}
	for i := range a.Defaults {
		a.Defaults[i].decode(d)
	}
	a.ValuesDefault.decode(d)
	a.AlignmentCheck = d.Int32()
}

// The default values of test_msgs/msg/Defaults and of the _default arrays,
// from their .msg files (also stored in the bag's message_definitions).
var (
	defaults = basicTypes{true, 50, 100, 1.125, 1.125, -50, 200, -1000, 2000, -30000, 60000, -40000000, 50000000}

	defaultArrays = primArrays{
		Bool:    [3]bool{false, true, false},
		Byte:    [3]uint8{0, 1, 255},
		Char:    [3]uint8{0, 1, 127},
		Float32: [3]float32{1.125, 0, -1.125},
		Float64: [3]float64{3.1415, 0, -3.1415},
		Int8:    [3]int8{0, 127, -128},
		Uint8:   [3]uint8{0, 1, 255},
		Int16:   [3]int16{0, 32767, -32768},
		Uint16:  [3]uint16{0, 1, 65535},
		Int32:   [3]int32{0, 2147483647, -2147483648},
		Uint32:  [3]uint32{0, 1, 4294967295},
		Int64:   [3]int64{0, 9223372036854775807, -9223372036854775808},
		Uint64:  [3]uint64{0, 1, 18446744073709551615},
		String:  [3]string{"", "max value", "min value"},
	}
)

// TestCDRTestBag decodes test_msgs BasicTypes and Arrays with the test-only
// codecs above, checks the values that rosbag2's test wrote, and re-encodes
// every message byte-exact.
func TestCDRTestBag(t *testing.T) {
	b := openBag(t, "cdr_test_0.db3")
	wantBasic := basicTypes{Int32: 123}
	wantArrays := arrays{
		Values: primArrays{
			Bool:   [3]bool{true, false, true},
			String: [3]string{"Complex Hello1", "Complex Hello2", "Complex Hello3"},
		},
		Constants:     [3]uint8{0, 0, 0},
		Defaults:      [3]basicTypes{defaults, defaults, defaults},
		ValuesDefault: defaultArrays,
	}
	counts := map[string]int{}
	var e cdr.Encoder
	err := b.Messages(func(m bag.Message) error {
		d, err := cdr.NewMessageDecoder(m.Data)
		if err != nil {
			return err
		}
		var got, want any
		e.Reset()
		switch m.Type {
		case "test_msgs/msg/BasicTypes":
			var v basicTypes
			v.decode(d)
			v.encode(&e)
			got, want = v, wantBasic
		case "test_msgs/msg/Arrays":
			var v arrays
			v.decode(d)
			v.encode(&e)
			got, want = v, wantArrays
		default:
			return fmt.Errorf("unexpected type %s on %s", m.Type, m.Topic)
		}
		if err := d.Err(); err != nil {
			return fmt.Errorf("%s: %w", m.Type, err)
		}
		if d.Remaining() > 3 {
			t.Errorf("%s: %d bytes left after decoding", m.Type, d.Remaining())
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\ngot  %+v\nwant %+v", m.Type, got, want)
		}
		if diff := samePayload(m.Data, e.Bytes()); diff != "" {
			return fmt.Errorf("%s at %d: %s", m.Type, m.Timestamp, diff)
		}
		counts[m.Type]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if counts["test_msgs/msg/BasicTypes"] != 3 || counts["test_msgs/msg/Arrays"] != 4 {
		t.Errorf("re-encoded byte-exact: %v, want 3 BasicTypes and 4 Arrays", counts)
	}
	t.Logf("re-encoded byte-exact: %v", counts)
}
