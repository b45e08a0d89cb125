// Package msg holds the ROS 2 message types this course uses (joint states,
// images, trajectories, poses) with their CDR encodings, in pure Go.
//
// Each type mirrors its .msg definition in ROS 2's common_interfaces (or
// rcl_interfaces for builtin_interfaces), field for field in the same order,
// which is the CDR order. Marshal produces the bytes a ROS 2 node publishes
// and rosbag2 records (encapsulation header CDR_LE, payload, padding to 4 as
// Cyclone DDS does); Unmarshal reads them back from either Cyclone DDS or
// Fast DDS, in either byte order.
//
// Unmarshal never panics and never allocates more than the input justifies:
// every sequence length is checked against the bytes left (count × smallest
// wire size of an element) before the slice is made. Empty sequences decode
// as nil slices. Errors read "msg: <ROS type>: offset N: <what>", wrapping a
// *cdr.Error.
//
// DDSTypeName gives the type name the ROS 2 middlewares register in DDS
// ("sensor_msgs::msg::dds_::JointState_"), and New makes a zero message from
// a ROS type name, for generic tools such as bag readers.
package msg

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/policylab/policylab/lessons/ros2/cdr"
)

// Message is a ROS 2 message with a CDR encoding.
type Message interface {
	// TypeName is the ROS type name, e.g. "sensor_msgs/msg/JointState".
	TypeName() string
	// MarshalCDR writes the fields to e, nested messages included.
	MarshalCDR(e *cdr.Encoder)
	// UnmarshalCDR overwrites every field from d and returns d.Err().
	UnmarshalCDR(d *cdr.Decoder) error
}

// Marshal serializes m as a ROS 2 node publishes it: the encapsulation
// header (CDR_LE), the payload and zero padding to a multiple of 4, with the
// pad count in the options (see cdr.Encoder.Encapsulated).
func Marshal(m Message) []byte {
	var e cdr.Encoder
	m.MarshalCDR(&e)
	return e.Encapsulated()
}

// Unmarshal overwrites m with the serialized message in data (header
// included). Bytes after the message, such as the padding, are ignored.
func Unmarshal(data []byte, m Message) error {
	h, payload, err := cdr.ParseEncapsulation(data)
	if err != nil {
		return &Error{Type: m.TypeName(), Err: err}
	}
	var d cdr.Decoder
	d.Reset(payload, h.BigEndian())
	if err := m.UnmarshalCDR(&d); err != nil {
		return &Error{Type: m.TypeName(), Err: err}
	}
	return nil
}

// Error is a failure to decode a message of a ROS type.
type Error struct {
	Type string // ROS type name
	Err  error  // usually a *cdr.Error
}

func (e *Error) Error() string {
	return "msg: " + e.Type + ": " + strings.TrimPrefix(e.Err.Error(), "cdr: ")
}

func (e *Error) Unwrap() error { return e.Err }

// constructors maps every supported ROS type name to a fresh zero message.
var constructors = map[string]func() Message{
	"builtin_interfaces/msg/Time":              func() Message { return new(Time) },
	"builtin_interfaces/msg/Duration":          func() Message { return new(Duration) },
	"std_msgs/msg/Header":                      func() Message { return new(Header) },
	"std_msgs/msg/String":                      func() Message { return new(String) },
	"sensor_msgs/msg/JointState":               func() Message { return new(JointState) },
	"sensor_msgs/msg/Image":                    func() Message { return new(Image) },
	"trajectory_msgs/msg/JointTrajectoryPoint": func() Message { return new(JointTrajectoryPoint) },
	"trajectory_msgs/msg/JointTrajectory":      func() Message { return new(JointTrajectory) },
	"geometry_msgs/msg/Point":                  func() Message { return new(Point) },
	"geometry_msgs/msg/Quaternion":             func() Message { return new(Quaternion) },
	"geometry_msgs/msg/Pose":                   func() Message { return new(Pose) },
	"geometry_msgs/msg/PoseArray":              func() Message { return new(PoseArray) },
}

// New returns a fresh zero message of a supported ROS type, e.g.
// New("sensor_msgs/msg/JointState") returns a *JointState.
func New(rosType string) (Message, error) {
	if f, ok := constructors[rosType]; ok {
		return f(), nil
	}
	return nil, fmt.Errorf("msg: unsupported type %q", rosType)
}

// Types lists the supported ROS type names, sorted.
func Types() []string {
	names := make([]string, 0, len(constructors))
	for n := range constructors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ErrTypeName is wrapped by DDSTypeName's errors.
var ErrTypeName = errors.New("malformed ROS type name")

// DDSTypeName returns the DDS type name under which ROS 2's middlewares
// (rmw_fastrtps, rmw_cyclonedds) register a ROS type:
// "sensor_msgs/msg/JointState" becomes "sensor_msgs::msg::dds_::JointState_".
// The name must have exactly three non-empty parts, each a C identifier.
func DDSTypeName(rosType string) (string, error) {
	parts := strings.Split(rosType, "/")
	if len(parts) != 3 {
		return "", fmt.Errorf("msg: %w %q: want package/interface/Name, e.g. sensor_msgs/msg/JointState", ErrTypeName, rosType)
	}
	for _, p := range parts {
		if !isIdentifier(p) {
			return "", fmt.Errorf("msg: %w %q: part %q is not an identifier", ErrTypeName, rosType, p)
		}
	}
	return parts[0] + "::" + parts[1] + "::dds_::" + parts[2] + "_", nil
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c == '_', i > 0 && c >= '0' && c <= '9':
		default:
			return false
		}
	}
	return true
}
