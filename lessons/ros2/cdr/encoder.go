package cdr

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// Encoder writes a little-endian CDR payload. The zero value is ready to use.
//
// The first HeaderSize bytes of its buffer are kept for the encapsulation
// header, so Encapsulated returns the framed message without copying the
// payload. Alignment is counted from the first payload byte.
type Encoder struct {
	buf []byte // header space, then the payload
}

// NewEncoder returns an Encoder whose buffer has room for a payload of
// sizeHint bytes (a hint only: the buffer grows as needed).
func NewEncoder(sizeHint int) *Encoder {
	return &Encoder{buf: make([]byte, HeaderSize, HeaderSize+max(sizeHint, 0)+3)}
}

// Reset empties the encoder, keeping its buffer. Slices returned earlier by
// Bytes or Encapsulated are overwritten by later writes.
func (e *Encoder) Reset() {
	if e.buf != nil {
		e.buf = e.buf[:HeaderSize]
	}
}

// Len is the number of payload bytes written so far, alignment padding included.
func (e *Encoder) Len() int {
	if e.buf == nil {
		return 0
	}
	return len(e.buf) - HeaderSize
}

// Bytes returns the payload written so far, without the encapsulation header
// and without trailing padding. It aliases the encoder's buffer.
func (e *Encoder) Bytes() []byte {
	if e.buf == nil {
		return nil
	}
	return e.buf[HeaderSize:]
}

// Encapsulated returns the whole serialized message, as a DDS middleware
// sends it and rosbag2 stores it: the header 00 01 00 pp (CDR_LE, pp = the
// pad count, Cyclone DDS's convention), the payload, and pp zero bytes that
// pad it to a multiple of 4. The result aliases the encoder's buffer; writing
// more afterwards continues the payload before the padding.
func (e *Encoder) Encapsulated() []byte {
	if e.buf == nil {
		e.buf = make([]byte, HeaderSize, HeaderSize+4)
	}
	n := len(e.buf)
	pad := -(n - HeaderSize) & 3
	out := slices.Grow(e.buf, pad)[:n+pad]
	clear(out[n:])
	out[0], out[1], out[2], out[3] = 0x00, 0x01, 0x00, byte(pad)
	e.buf = out[:n]
	return out
}

// grow aligns the payload to align (a power of two) with zero bytes, appends n
// bytes and returns them for the caller to fill.
func (e *Encoder) grow(align, n int) []byte {
	if e.buf == nil {
		e.buf = make([]byte, HeaderSize, HeaderSize+64)
	}
	off := len(e.buf)
	pad := -(off - HeaderSize) & (align - 1)
	e.buf = slices.Grow(e.buf, pad+n)[:off+pad+n]
	clear(e.buf[off : off+pad])
	return e.buf[off+pad:]
}

// Align pads the payload with zero bytes to a multiple of n (1, 2, 4 or 8).
func (e *Encoder) Align(n int) {
	if n&(n-1) != 0 || n < 1 || n > 8 {
		panic(fmt.Sprintf("cdr: alignment %d is not 1, 2, 4 or 8", n))
	}
	e.grow(n, 0)
}

// Uint8 writes an octet.
func (e *Encoder) Uint8(v uint8) { e.grow(1, 1)[0] = v }

// Int8 writes a signed octet.
func (e *Encoder) Int8(v int8) { e.Uint8(uint8(v)) }

// Bool writes 1 for true and 0 for false.
func (e *Encoder) Bool(v bool) {
	var b uint8
	if v {
		b = 1
	}
	e.Uint8(b)
}

// Uint16 writes a 2-aligned unsigned short.
func (e *Encoder) Uint16(v uint16) { binary.LittleEndian.PutUint16(e.grow(2, 2), v) }

// Int16 writes a 2-aligned short.
func (e *Encoder) Int16(v int16) { e.Uint16(uint16(v)) }

// Uint32 writes a 4-aligned unsigned long.
func (e *Encoder) Uint32(v uint32) { binary.LittleEndian.PutUint32(e.grow(4, 4), v) }

// Int32 writes a 4-aligned long.
func (e *Encoder) Int32(v int32) { e.Uint32(uint32(v)) }

// Uint64 writes an 8-aligned unsigned long long.
func (e *Encoder) Uint64(v uint64) { binary.LittleEndian.PutUint64(e.grow(8, 8), v) }

// Int64 writes an 8-aligned long long.
func (e *Encoder) Int64(v int64) { e.Uint64(uint64(v)) }

// Float32 writes a 4-aligned IEEE 754 single, bit for bit (NaN payloads kept).
func (e *Encoder) Float32(v float32) { e.Uint32(math.Float32bits(v)) }

// Float64 writes an 8-aligned IEEE 754 double, bit for bit (NaN payloads kept).
func (e *Encoder) Float64(v float64) { e.Uint64(math.Float64bits(v)) }

// SequenceLength writes the uint32 element count in front of a sequence.
// It panics if n does not fit in a uint32.
func (e *Encoder) SequenceLength(n int) {
	if n < 0 || uint64(n) > math.MaxUint32 {
		panic(fmt.Sprintf("cdr: sequence of %d elements does not fit a uint32 length", n))
	}
	e.Uint32(uint32(n))
}

// String writes a string: its uint32 length counting the terminating NUL,
// its bytes, then the NUL. It panics if the string is 4 GiB or longer.
func (e *Encoder) String(s string) {
	if uint64(len(s)) >= math.MaxUint32 {
		panic(fmt.Sprintf("cdr: string of %d bytes does not fit a uint32 length", len(s)))
	}
	e.Uint32(uint32(len(s) + 1))
	b := e.grow(1, len(s)+1)
	copy(b, s)
	b[len(s)] = 0
}

// Uint8s writes a sequence<uint8> (ROS uint8[] or byte[]): the length, then
// the bytes.
func (e *Encoder) Uint8s(v []byte) {
	e.SequenceLength(len(v))
	copy(e.grow(1, len(v)), v)
}

// Float32s writes a sequence<float> (ROS float32[]).
func (e *Encoder) Float32s(v []float32) {
	e.SequenceLength(len(v))
	b := e.grow(4, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
}

// Float64s writes a sequence<double> (ROS float64[]). The elements are
// 8-aligned, so 4 zero bytes follow the length when it ends off an 8 boundary.
func (e *Encoder) Float64s(v []float64) {
	e.SequenceLength(len(v))
	if len(v) == 0 {
		return // no element, no alignment
	}
	b := e.grow(8, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
}

// Strings writes a sequence<string> (ROS string[]).
func (e *Encoder) Strings(v []string) {
	e.SequenceLength(len(v))
	for _, s := range v {
		e.String(s)
	}
}
