package cdr

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Error is a decoding failure at a payload offset (counted, like alignment,
// from the first byte after the encapsulation header).
type Error struct {
	Offset int    // where the failing read started
	Reason string // what went wrong, e.g. "sequence length 4294967295 exceeds the 12 bytes left"
}

func (e *Error) Error() string { return fmt.Sprintf("cdr: offset %d: %s", e.Offset, e.Reason) }

// Decoder reads a CDR payload. Its errors are sticky: after the first failed
// read every read returns the zero value and Err returns that first *Error.
// Every read is bounds-checked, so a Decoder never panics on any input.
type Decoder struct {
	buf []byte
	off int
	big bool
	err error
}

// NewDecoder returns a Decoder over a payload (the bytes after the
// encapsulation header) in the given byte order.
func NewDecoder(payload []byte, bigEndian bool) *Decoder {
	return &Decoder{buf: payload, big: bigEndian}
}

// Reset makes d read a new payload from its start, clearing any error.
func (d *Decoder) Reset(payload []byte, bigEndian bool) {
	*d = Decoder{buf: payload, big: bigEndian}
}

// Err returns the first error met, or nil.
func (d *Decoder) Err() error { return d.err }

// Offset is the payload offset of the next read.
func (d *Decoder) Offset() int { return d.off }

// Remaining is the number of unread payload bytes.
func (d *Decoder) Remaining() int { return len(d.buf) - d.off }

// Failf records an error at the current offset unless one is recorded
// already. Message decoders use it for their own checks.
func (d *Decoder) Failf(format string, args ...any) {
	d.failAt(d.off, fmt.Sprintf(format, args...))
}

func (d *Decoder) failAt(off int, reason string) {
	if d.err == nil {
		d.err = &Error{Offset: off, Reason: reason}
	}
}

// take aligns to align (a power of two) and consumes n bytes, or records an
// error and returns nil. what names the value for the error message.
func (d *Decoder) take(align, n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	start := d.off + (-d.off & (align - 1))
	if n < 0 || start > len(d.buf) || n > len(d.buf)-start {
		left := max(len(d.buf)-start, 0)
		d.failAt(d.off, fmt.Sprintf("truncated: %s needs %d bytes, %d left", what, n, left))
		return nil
	}
	d.off = start + n
	return d.buf[start:d.off:d.off]
}

// Align skips the padding up to the next multiple of n (1, 2, 4 or 8).
func (d *Decoder) Align(n int) {
	if n&(n-1) != 0 || n < 1 || n > 8 {
		panic(fmt.Sprintf("cdr: alignment %d is not 1, 2, 4 or 8", n))
	}
	d.take(n, 0, "padding")
}

// Skip consumes n bytes without alignment.
func (d *Decoder) Skip(n int) { d.take(1, n, "skipped bytes") }

// Uint8 reads an octet.
func (d *Decoder) Uint8() uint8 {
	b := d.take(1, 1, "uint8")
	if b == nil {
		return 0
	}
	return b[0]
}

// Int8 reads a signed octet.
func (d *Decoder) Int8() int8 { return int8(d.Uint8()) }

// Bool reads a boolean octet, which must be 0 or 1 (as Fast CDR insists).
func (d *Decoder) Bool() bool {
	off := d.off
	switch v := d.Uint8(); v {
	case 0:
		return false
	case 1:
		return true
	default:
		d.failAt(off, fmt.Sprintf("bool octet 0x%02x is neither 0 nor 1", v))
		return false
	}
}

// Uint16 reads a 2-aligned unsigned short.
func (d *Decoder) Uint16() uint16 {
	b := d.take(2, 2, "uint16")
	switch {
	case b == nil:
		return 0
	case d.big:
		return binary.BigEndian.Uint16(b)
	default:
		return binary.LittleEndian.Uint16(b)
	}
}

// Int16 reads a 2-aligned short.
func (d *Decoder) Int16() int16 { return int16(d.Uint16()) }

func (d *Decoder) uint32(what string) uint32 {
	b := d.take(4, 4, what)
	switch {
	case b == nil:
		return 0
	case d.big:
		return binary.BigEndian.Uint32(b)
	default:
		return binary.LittleEndian.Uint32(b)
	}
}

func (d *Decoder) uint64(what string) uint64 {
	b := d.take(8, 8, what)
	switch {
	case b == nil:
		return 0
	case d.big:
		return binary.BigEndian.Uint64(b)
	default:
		return binary.LittleEndian.Uint64(b)
	}
}

// Uint32 reads a 4-aligned unsigned long.
func (d *Decoder) Uint32() uint32 { return d.uint32("uint32") }

// Int32 reads a 4-aligned long.
func (d *Decoder) Int32() int32 { return int32(d.uint32("int32")) }

// Uint64 reads an 8-aligned unsigned long long.
func (d *Decoder) Uint64() uint64 { return d.uint64("uint64") }

// Int64 reads an 8-aligned long long.
func (d *Decoder) Int64() int64 { return int64(d.uint64("int64")) }

// Float32 reads a 4-aligned IEEE 754 single.
func (d *Decoder) Float32() float32 { return math.Float32frombits(d.uint32("float32")) }

// Float64 reads an 8-aligned IEEE 754 double.
func (d *Decoder) Float64() float64 { return math.Float64frombits(d.uint64("float64")) }

// SequenceLength reads the uint32 element count of a sequence whose elements
// take at least minElemSize bytes each on the wire, and checks that
// count × minElemSize bytes are left before anyone allocates for them. On
// failure it returns 0 and records the error.
func (d *Decoder) SequenceLength(minElemSize int) int {
	n := d.uint32("sequence length")
	off := d.off - 4 // where the length is
	if d.err != nil {
		return 0
	}
	minElemSize = max(minElemSize, 1)
	if left := d.Remaining(); uint64(n)*uint64(minElemSize) > uint64(left) {
		if minElemSize == 1 {
			d.failAt(off, fmt.Sprintf("sequence length %d exceeds the %d bytes left", n, left))
		} else {
			d.failAt(off, fmt.Sprintf("sequence length %d of %d-byte elements exceeds the %d bytes left", n, minElemSize, left))
		}
		return 0
	}
	return int(n)
}

// stringBytes reads a string's length and bytes, NUL excluded, aliasing the payload.
func (d *Decoder) stringBytes() []byte {
	n := d.uint32("string length")
	off := d.off - 4 // where the length is
	if d.err != nil {
		return nil
	}
	if n == 0 {
		d.failAt(off, "string length 0 leaves no room for the terminating NUL")
		return nil
	}
	if left := d.Remaining(); uint64(n) > uint64(left) {
		d.failAt(off, fmt.Sprintf("string length %d exceeds the %d bytes left", n, left))
		return nil
	}
	b := d.take(1, int(n), "string")
	if last := b[n-1]; last != 0 {
		d.failAt(off, fmt.Sprintf("string of length %d is not NUL-terminated (last byte 0x%02x)", n, last))
		return nil
	}
	return b[:n-1]
}

// StringValue reads a string: its uint32 length counting the NUL, the bytes
// and the NUL, which must be there. (It is not called String so that a
// *Decoder is no fmt.Stringer that printing would advance.)
func (d *Decoder) StringValue() string {
	return string(d.stringBytes())
}

// Uint8s reads a sequence<uint8> into a new slice (nil when empty).
func (d *Decoder) Uint8s() []byte {
	n := d.SequenceLength(1)
	b := d.take(1, n, "uint8 sequence")
	if n == 0 || b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// Float32s reads a sequence<float> into a new slice (nil when empty).
func (d *Decoder) Float32s() []float32 {
	n := d.SequenceLength(4)
	if n == 0 {
		return nil
	}
	b := d.take(4, 4*n, "float32 sequence")
	if b == nil {
		return nil
	}
	v := make([]float32, n)
	for i := range v {
		if d.big {
			v[i] = math.Float32frombits(binary.BigEndian.Uint32(b[4*i:]))
		} else {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	}
	return v
}

// Float64s reads a sequence<double> into a new slice (nil when empty). An
// empty sequence has no element alignment after its length.
func (d *Decoder) Float64s() []float64 {
	n := d.SequenceLength(8)
	if n == 0 {
		return nil
	}
	b := d.take(8, 8*n, "float64 sequence")
	if b == nil {
		return nil
	}
	v := make([]float64, n)
	for i := range v {
		if d.big {
			v[i] = math.Float64frombits(binary.BigEndian.Uint64(b[8*i:]))
		} else {
			v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
	}
	return v
}

// Strings reads a sequence<string> into a new slice (nil when empty). Each
// string takes at least 5 bytes (length and NUL), which bounds the count.
func (d *Decoder) Strings() []string {
	n := d.SequenceLength(5)
	if n == 0 {
		return nil
	}
	v := make([]string, n)
	for i := range v {
		v[i] = d.StringValue()
	}
	if d.err != nil {
		return nil
	}
	return v
}
