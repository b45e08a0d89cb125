package cdr

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// unhex decodes hex with spaces, for readable expectations.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// codecCases writes values and reads them back; want is the payload,
// written by hand from the CDR rules (alignment counted from payload start).
var codecCases = []struct {
	name  string
	write func(e *Encoder)
	read  func(d *Decoder) any
	value any
	want  string
}{
	{"uint8 uint16", func(e *Encoder) { e.Uint8(1); e.Uint16(0x0302) },
		func(d *Decoder) any { return []any{d.Uint8(), d.Uint16()} }, []any{uint8(1), uint16(0x0302)},
		"01 00 0203"},
	{"uint8 uint32", func(e *Encoder) { e.Uint8(1); e.Uint32(2) },
		func(d *Decoder) any { return []any{d.Uint8(), d.Uint32()} }, []any{uint8(1), uint32(2)},
		"01 000000 02000000"},
	{"uint8 uint64", func(e *Encoder) { e.Uint8(1); e.Uint64(2) },
		func(d *Decoder) any { return []any{d.Uint8(), d.Uint64()} }, []any{uint8(1), uint64(2)},
		"01 00000000000000 0200000000000000"},
	{"int16 float64", func(e *Encoder) { e.Int16(-2); e.Float64(1) },
		func(d *Decoder) any { return []any{d.Int16(), d.Float64()} }, []any{int16(-2), 1.0},
		"feff 000000000000 000000000000f03f"},
	{"signed", func(e *Encoder) { e.Int8(-1); e.Int32(-2); e.Int64(-3) },
		func(d *Decoder) any { return []any{d.Int8(), d.Int32(), d.Int64()} }, []any{int8(-1), int32(-2), int64(-3)},
		"ff 000000 feffffff fdffffffffffffff"},
	{"bool float32", func(e *Encoder) { e.Bool(true); e.Bool(false); e.Float32(1) },
		func(d *Decoder) any { return []any{d.Bool(), d.Bool(), d.Float32()} }, []any{true, false, float32(1)},
		"01 00 0000 0000803f"},
	{"odd string then uint32", func(e *Encoder) { e.String("ab"); e.Uint32(7) },
		func(d *Decoder) any { return []any{d.StringValue(), d.Uint32()} }, []any{"ab", uint32(7)},
		"03000000 616200 00 07000000"},
	{"empty string then uint64", func(e *Encoder) { e.String(""); e.Uint64(7) },
		func(d *Decoder) any { return []any{d.StringValue(), d.Uint64()} }, []any{"", uint64(7)},
		"01000000 00 000000 0700000000000000"},
	{"4-byte string", func(e *Encoder) { e.String("abc"); e.Uint32(7) },
		func(d *Decoder) any { return []any{d.StringValue(), d.Uint32()} }, []any{"abc", uint32(7)},
		"04000000 61626300 07000000"},
	{"empty float64s: no element alignment", func(e *Encoder) { e.Uint8(9); e.Float64s(nil); e.Uint8(8) },
		func(d *Decoder) any { return []any{d.Uint8(), d.Float64s(), d.Uint8()} }, []any{uint8(9), []float64(nil), uint8(8)},
		"09 000000 00000000 08"},
	{"float64s after 4", func(e *Encoder) { e.Float64s([]float64{1}) },
		func(d *Decoder) any { return d.Float64s() }, []float64{1},
		"01000000 00000000 000000000000f03f"},
	{"float64s after 8", func(e *Encoder) { e.Uint32(5); e.Float64s([]float64{1, -2}) },
		func(d *Decoder) any { return []any{d.Uint32(), d.Float64s()} }, []any{uint32(5), []float64{1, -2}},
		"05000000 02000000 000000000000f03f 00000000000000c0"},
	{"float32s", func(e *Encoder) { e.Uint8(1); e.Float32s([]float32{1, 2}) },
		func(d *Decoder) any { return []any{d.Uint8(), d.Float32s()} }, []any{uint8(1), []float32{1, 2}},
		"01 000000 02000000 0000803f 00000040"},
	{"strings", func(e *Encoder) { e.Strings([]string{"a", "bc"}); e.Uint16(1) },
		func(d *Decoder) any { return []any{d.Strings(), d.Uint16()} }, []any{[]string{"a", "bc"}, uint16(1)},
		"02000000 02000000 6100 0000 03000000 626300 00 0100"},
	{"uint8s", func(e *Encoder) { e.Uint8s([]byte{1, 2, 3}); e.Int16(4) },
		func(d *Decoder) any { return []any{d.Uint8s(), d.Int16()} }, []any{[]byte{1, 2, 3}, int16(4)},
		"03000000 010203 00 0400"},
	{"empty sequences", func(e *Encoder) { e.Uint8s(nil); e.Strings(nil); e.Float32s(nil) },
		func(d *Decoder) any { return []any{d.Uint8s(), d.Strings(), d.Float32s()} }, []any{[]byte(nil), []string(nil), []float32(nil)},
		"00000000 00000000 00000000"},
	{"nan bits kept", func(e *Encoder) { e.Float64(math.Float64frombits(0x7ff8000000000123)) },
		func(d *Decoder) any { return math.Float64bits(d.Float64()) }, uint64(0x7ff8000000000123),
		"2301000000 00f87f"},
}

func TestEncoder(t *testing.T) {
	for _, tt := range codecCases {
		t.Run(tt.name, func(t *testing.T) {
			var e Encoder
			tt.write(&e)
			want := unhex(t, tt.want)
			if !bytes.Equal(e.Bytes(), want) {
				t.Errorf("payload\n got % x\nwant % x", e.Bytes(), want)
			}
			if e.Len() != len(want) {
				t.Errorf("Len() = %d, want %d", e.Len(), len(want))
			}
		})
	}
}

func TestDecoder(t *testing.T) {
	for _, tt := range codecCases {
		t.Run(tt.name, func(t *testing.T) {
			payload := unhex(t, tt.want)
			d := NewDecoder(payload, false)
			got := tt.read(d)
			if err := d.Err(); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.value) {
				t.Errorf("read %#v, want %#v", got, tt.value)
			}
			if d.Offset() != len(payload) || d.Remaining() != 0 {
				t.Errorf("offset %d, remaining %d after reading %d bytes", d.Offset(), d.Remaining(), len(payload))
			}
			// Every shorter payload is an error, never a panic.
			for n := range len(payload) {
				d.Reset(payload[:n], false)
				tt.read(d)
				if d.Err() == nil {
					t.Errorf("payload cut to %d bytes read without error", n)
				}
			}
		})
	}
}

func TestDecoderBigEndian(t *testing.T) {
	payload := unhex(t, "01 00 0203 00000004 00000003 6869 00 00 00000000 00000005 00000002 00000000 3ff0000000000000 c000000000000000")
	d := NewDecoder(payload, true)
	got := []any{d.Uint8(), d.Uint16(), d.Uint32(), d.StringValue(), d.Uint64(), d.Float64s()}
	want := []any{uint8(1), uint16(0x0203), uint32(4), "hi", uint64(5), []float64{1, -2}}
	if err := d.Err(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

func TestDecoderErrors(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		read    func(d *Decoder)
		want    string
	}{
		{"short uint32", "010203", func(d *Decoder) { d.Uint32() }, "cdr: offset 0: truncated: uint32 needs 4 bytes, 3 left"},
		{"padding missing", "01", func(d *Decoder) { d.Uint8(); d.Uint32() }, "cdr: offset 1: truncated: uint32 needs 4 bytes, 0 left"},
		{"short float64 after pad", "01 000000 00000000 0000", func(d *Decoder) { d.Uint8(); d.Float64() }, "cdr: offset 1: truncated: float64 needs 8 bytes, 2 left"},
		{"no NUL", "03000000 616263", func(d *Decoder) { d.StringValue() }, "cdr: offset 0: string of length 3 is not NUL-terminated (last byte 0x63)"},
		{"string length 0", "00000000", func(d *Decoder) { d.StringValue() }, "cdr: offset 0: string length 0 leaves no room for the terminating NUL"},
		{"long string", "ff000000 6100", func(d *Decoder) { d.StringValue() }, "cdr: offset 0: string length 255 exceeds the 2 bytes left"},
		{"hostile float64s", "ffffffff 000000000000000000000000", func(d *Decoder) { d.Float64s() }, "cdr: offset 0: sequence length 4294967295 of 8-byte elements exceeds the 12 bytes left"},
		{"hostile uint8s", "00 000000 ffffffff", func(d *Decoder) { d.Uint8(); d.Uint8s() }, "cdr: offset 4: sequence length 4294967295 exceeds the 0 bytes left"},
		{"hostile strings", "02000000 01000000 00", func(d *Decoder) { d.Strings() }, "cdr: offset 0: sequence length 2 of 5-byte elements exceeds the 5 bytes left"},
		{"float64s padding counts", "01000000 0000000000000000", func(d *Decoder) { d.Float64s() }, "cdr: offset 4: truncated: float64 sequence needs 8 bytes, 4 left"},
		{"bool", "02", func(d *Decoder) { d.Bool() }, "cdr: offset 0: bool octet 0x02 is neither 0 nor 1"},
		{"failf", "", func(d *Decoder) { d.Failf("bad %s", "thing") }, "cdr: offset 0: bad thing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(unhex(t, tt.payload), false)
			tt.read(d)
			err := d.Err()
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v, want %s", err, tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("%T is not a *cdr.Error", err)
			}
			// Sticky: later reads return zero values and keep the first error.
			off := d.Offset()
			if d.Uint8() != 0 || d.StringValue() != "" || d.Float64s() != nil || d.Err() != err || d.Offset() != off {
				t.Error("reads after an error are not inert")
			}
		})
	}
}

// TestHostileLengthAllocation: a short payload claiming 2^31 or more elements
// fails without allocating for them.
func TestHostileLengthAllocation(t *testing.T) {
	payload := make([]byte, 20)
	payload[3] = 0x80 // 2^31 elements
	reads := map[string]func(d *Decoder){
		"Float64s":    func(d *Decoder) { d.Float64s() },
		"Float32s":    func(d *Decoder) { d.Float32s() },
		"Strings":     func(d *Decoder) { d.Strings() },
		"Uint8s":      func(d *Decoder) { d.Uint8s() },
		"StringValue": func(d *Decoder) { d.StringValue() },
	}
	for name, read := range reads {
		var d Decoder
		const runs = 100
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs {
			d.Reset(payload, false)
			read(&d)
			if d.Err() == nil {
				t.Fatalf("%s: no error", name)
			}
		}
		runtime.ReadMemStats(&after)
		if perRun := (after.TotalAlloc - before.TotalAlloc) / runs; perRun > 1024 {
			t.Errorf("%s: %d bytes allocated per failed decode, want < 1 KB", name, perRun)
		}
	}
}

func TestEncapsulated(t *testing.T) {
	for n := range 9 {
		var e Encoder
		for i := range n {
			e.Uint8(byte(0xa0 + i))
		}
		got := e.Encapsulated()
		pad := (4 - n%4) % 4
		if len(got) != 4+n+pad || len(got)%4 != 0 {
			t.Fatalf("%d-byte payload: message of %d bytes", n, len(got))
		}
		if want := []byte{0, 1, 0, byte(pad)}; !bytes.Equal(got[:4], want) {
			t.Errorf("%d-byte payload: header % x, want % x", n, got[:4], want)
		}
		if !bytes.Equal(got[4:4+n], e.Bytes()) || !bytes.Equal(got[4+n:], make([]byte, pad)) {
			t.Errorf("%d-byte payload: % x", n, got)
		}
		h, payload, err := ParseEncapsulation(got)
		if err != nil || h.Padding() != pad || h.BigEndian() || len(payload) != n+pad {
			t.Errorf("%d-byte payload: ParseEncapsulation = %+v, %d bytes, %v", n, h, len(payload), err)
		}
	}

	// A reused encoder zeroes the padding it wrote over old bytes.
	e := NewEncoder(16)
	e.Uint64(math.MaxUint64)
	e.Uint64(math.MaxUint64)
	e.Encapsulated()
	e.Reset()
	e.Uint8(1)
	e.Uint32(2)
	if got, want := e.Encapsulated(), unhex(t, "00010000 01000000 02000000"); !bytes.Equal(got, want) {
		t.Errorf("after Reset: % x, want % x", got, want)
	}
	e.Reset()
	e.Uint8(7)
	if got, want := e.Encapsulated(), unhex(t, "00010003 07000000"); !bytes.Equal(got, want) {
		t.Errorf("after Reset: % x, want % x", got, want)
	}
	var zero Encoder
	if got := zero.Encapsulated(); !bytes.Equal(got, []byte{0, 1, 0, 0}) || zero.Len() != 0 {
		t.Errorf("empty: % x", got)
	}
}

func TestParseEncapsulation(t *testing.T) {
	tests := []struct {
		data string
		want string // error, or "" for success
	}{
		{"00010000", ""},
		{"00000000", ""},
		{"00010003 00000000", ""},
		{"000100", "cdr: message of 3 bytes is shorter than the 4-byte encapsulation header"},
		{"", "cdr: message of 0 bytes is shorter than the 4-byte encapsulation header"},
		{"00030000", "cdr: unsupported encapsulation 0x0003 (PL_CDR_LE); want CDR_BE (0x0000) or CDR_LE (0x0001)"},
		{"00070000", "cdr: unsupported encapsulation 0x0007 (CDR2_LE); want CDR_BE (0x0000) or CDR_LE (0x0001)"},
		{"01000000", "cdr: unsupported encapsulation 0x0100 (unknown); want CDR_BE (0x0000) or CDR_LE (0x0001)"},
	}
	for _, tt := range tests {
		_, _, err := ParseEncapsulation(unhex(t, tt.data))
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || err.Error() != tt.want) {
			t.Errorf("ParseEncapsulation(%s) error %v, want %q", tt.data, err, tt.want)
		}
	}
	d, err := NewMessageDecoder(unhex(t, "00000000 00000005"))
	if err != nil || d.Uint32() != 5 {
		t.Errorf("big-endian message: %v", err)
	}
}

// FuzzDecoder reads every kind of value from arbitrary bytes, in an order the
// input picks: never a panic, never reading past the end.
func FuzzDecoder(f *testing.F) {
	for _, tt := range codecCases {
		f.Add(append([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, unhex(f, tt.want)...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 16 {
			return
		}
		ops, payload := data[:16], data[16:]
		d := NewDecoder(payload, ops[0]&0x80 != 0)
		for i := 0; d.Err() == nil && i < 64; i++ {
			switch ops[i%16] % 16 {
			case 0:
				d.Uint8()
			case 1:
				d.Bool()
			case 2:
				d.Int16()
			case 3:
				d.Uint32()
			case 4:
				d.Int64()
			case 5:
				d.Float32()
			case 6:
				d.Float64()
			case 7:
				d.StringValue()
			case 8:
				if v := d.Uint8s(); len(v) > len(payload) {
					t.Fatalf("%d bytes from a %d-byte payload", len(v), len(payload))
				}
			case 9:
				if v := d.Float64s(); 8*len(v) > len(payload) {
					t.Fatalf("%d float64s from a %d-byte payload", len(v), len(payload))
				}
			case 10:
				if v := d.Strings(); 5*len(v) > len(payload) {
					t.Fatalf("%d strings from a %d-byte payload", len(v), len(payload))
				}
			case 11:
				d.Float32s()
			case 12:
				d.Align(8)
			case 13:
				d.SequenceLength(3)
			case 14:
				d.Skip(int(ops[(i+1)%16] % 5))
			default:
				d.Int8()
			}
			if d.Offset() > len(payload) || d.Remaining() < 0 {
				t.Fatalf("offset %d past a %d-byte payload", d.Offset(), len(payload))
			}
		}
	})
}
