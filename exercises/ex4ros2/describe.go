package ex4ros2

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/policylab/policylab/lessons/ros2/cdr"
	"github.com/policylab/policylab/lessons/ros2/msg"
)

// Describe is a Markdown account of a serialized JointTrajectory: its
// encapsulation header, its bytes 16 to a row, what package msg's decoder
// reads back from them, and whether they are the bytes msg.Marshal
// produces for that message.
func Describe(data []byte) string {
	var b strings.Builder
	if len(data) < cdr.HeaderSize {
		return fmt.Sprintf("%d bytes: too short for the 4-byte encapsulation header", len(data))
	}
	h, payload, err := cdr.ParseEncapsulation(data)
	fmt.Fprintf(&b, "**%d bytes**: encapsulation header `% x` (%s, options 0x%04x: %d padding bytes), then a %d-byte payload.\n\n",
		len(data), data[:4], cdr.EncapsulationName(h.ID), h.Options, h.Padding(), len(payload))
	b.WriteString("| offset | bytes |\n|---:|---|\n")
	for off := 0; off < len(data); off += 16 {
		fmt.Fprintf(&b, "| %d | `% x` |\n", off, data[off:min(off+16, len(data))])
	}
	if err != nil {
		fmt.Fprintf(&b, "\nThe header does not parse: %v\n", err)
		return b.String()
	}
	var m msg.JointTrajectory
	if err := msg.Unmarshal(data, &m); err != nil {
		fmt.Fprintf(&b, "\npackage msg cannot decode it: %v\n", err)
		return b.String()
	}
	fmt.Fprintf(&b, "\nDecoded by package msg: stamp %d.%09d s, frame %q, joints %q, %d point(s).\n", m.Header.Stamp.Sec, m.Header.Stamp.Nanosec, m.Header.FrameID, m.JointNames, len(m.Points))
	for i, p := range m.Points {
		fmt.Fprintf(&b, "\n- point %d, %v ahead: positions %.3f, velocities %.3f, %d accelerations, %d efforts", i, p.TimeFromStart.Duration(), p.Positions, p.Velocities, len(p.Accelerations), len(p.Effort))
	}
	if bytes.Equal(data, msg.Marshal(&m)) {
		b.WriteString("\n\nByte for byte what `msg.Marshal` writes for this message.\n")
	} else {
		fmt.Fprintf(&b, "\n\nNot what `msg.Marshal` writes for this message: %s\n", DiffBytes(data, msg.Marshal(&m)))
	}
	return b.String()
}
