// Package cdr encodes and decodes classic CDR (XCDR version 1), the wire
// format in which ROS 2 middlewares (Fast DDS, Cyclone DDS, Connext) carry
// every message, and in which rosbag2 stores them.
//
// A serialized message is a 4-byte encapsulation header followed by the
// payload:
//
//	[2 bytes] encapsulation identifier, big-endian: 0x0000 CDR_BE, 0x0001 CDR_LE
//	[2 bytes] options; Cyclone DDS puts the number of trailing pad bytes
//	          (0 to 3) in the low 2 bits, Fast DDS leaves them 0
//	[payload] the fields in declaration order, each primitive aligned to its
//	          own size (1, 2, 4 or 8) counted from the first payload byte
//	[0-3]     zero bytes padding the payload to a multiple of 4
//
// Primitives are fixed-size integers and IEEE 754 floats in the byte order
// the header names. A string is a uint32 length that counts the terminating
// NUL, the bytes, then the NUL. A sequence is a uint32 element count followed
// by the elements; a fixed-size array is just its elements. Nested structures
// add no alignment of their own: their first field aligns itself.
//
// Encoder always writes little-endian (CDR_LE) and Encapsulated frames the
// payload the way Cyclone DDS does. Decoder reads both byte orders, ignores
// the options and any bytes after the message, and checks every length
// against the bytes that are left before it allocates, so a hostile element
// count in a short message fails fast instead of allocating gigabytes.
// Decoder errors are sticky: after the first one every read returns zero and
// Err reports what went wrong and at which payload offset.
package cdr

import (
	"encoding/binary"
	"fmt"
)

// HeaderSize is the size of the encapsulation header in front of every payload.
const HeaderSize = 4

// Encapsulation identifiers of XCDR version 1 plain CDR, the only two this
// package reads.
const (
	CDRBigEndian    uint16 = 0x0000 // CDR_BE
	CDRLittleEndian uint16 = 0x0001 // CDR_LE
)

// Encapsulation is the 4-byte header in front of a CDR payload.
type Encapsulation struct {
	ID      uint16 // CDRBigEndian or CDRLittleEndian
	Options uint16 // as read; Padding interprets the low 2 bits
}

// BigEndian reports whether the payload is big-endian.
func (h Encapsulation) BigEndian() bool { return h.ID == CDRBigEndian }

// Padding is the pad count that Cyclone DDS stores in the low 2 bits of the
// options (0 to 3). Fast DDS pads too but leaves it 0, so this is a hint,
// never a requirement.
func (h Encapsulation) Padding() int { return int(h.Options & 3) }

// encapsulationNames names the identifiers of DDS-XTypes 1.3 (7.6.2.1.2) for
// error messages.
var encapsulationNames = map[uint16]string{
	0x0000: "CDR_BE",
	0x0001: "CDR_LE",
	0x0002: "PL_CDR_BE",
	0x0003: "PL_CDR_LE",
	0x0006: "CDR2_BE",
	0x0007: "CDR2_LE",
	0x0008: "D_CDR2_BE",
	0x0009: "D_CDR2_LE",
	0x000a: "PL_CDR2_BE",
	0x000b: "PL_CDR2_LE",
}

// EncapsulationName returns the XTypes name of an encapsulation identifier,
// e.g. "CDR_LE", or "unknown".
func EncapsulationName(id uint16) string {
	if n, ok := encapsulationNames[id]; ok {
		return n
	}
	return "unknown"
}

// ParseEncapsulation splits a serialized message into its header and payload.
// It accepts CDR_BE and CDR_LE with any options and rejects everything else
// (parameter lists and XCDR2 need a different decoder).
func ParseEncapsulation(data []byte) (Encapsulation, []byte, error) {
	if len(data) < HeaderSize {
		return Encapsulation{}, nil, fmt.Errorf("cdr: message of %d bytes is shorter than the %d-byte encapsulation header", len(data), HeaderSize)
	}
	h := Encapsulation{
		ID:      binary.BigEndian.Uint16(data[0:2]),
		Options: binary.BigEndian.Uint16(data[2:4]),
	}
	if h.ID != CDRBigEndian && h.ID != CDRLittleEndian {
		return h, nil, fmt.Errorf("cdr: unsupported encapsulation 0x%04x (%s); want CDR_BE (0x0000) or CDR_LE (0x0001)", h.ID, EncapsulationName(h.ID))
	}
	return h, data[HeaderSize:], nil
}

// NewMessageDecoder parses the encapsulation header of a serialized message
// and returns a Decoder over its payload in the byte order the header names.
func NewMessageDecoder(data []byte) (*Decoder, error) {
	h, payload, err := ParseEncapsulation(data)
	if err != nil {
		return nil, err
	}
	d := NewDecoder(payload, h.BigEndian())
	return d, nil
}
