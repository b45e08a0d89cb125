package msg

import (
	"math"
	"time"

	"github.com/policylab/policylab/lessons/ros2/cdr"
)

// Smallest wire sizes of sequence elements, which bound a sequence length
// against the bytes left before anything is allocated.
const (
	minStringSize = 5       // uint32 length + NUL
	minPointSize  = 4*4 + 8 // four empty float64 sequences + Duration
	poseSize      = 7 * 8   // Point + Quaternion
)

// Time is builtin_interfaces/msg/Time: seconds and nanoseconds since the Unix
// epoch (or since the start of simulated time). Sec is an int32, so it ends in
// 2038 as ROS 2's does.
type Time struct {
	Sec     int32
	Nanosec uint32
}

// TimeFrom converts a time.Time, saturating at the int32 range of Sec.
func TimeFrom(t time.Time) Time {
	sec, ns := t.Unix(), t.Nanosecond()
	switch {
	case sec > math.MaxInt32:
		return Time{Sec: math.MaxInt32, Nanosec: 999_999_999}
	case sec < math.MinInt32:
		return Time{Sec: math.MinInt32}
	}
	return Time{Sec: int32(sec), Nanosec: uint32(ns)}
}

// Time converts to a time.Time in UTC.
func (t Time) Time() time.Time { return time.Unix(int64(t.Sec), int64(t.Nanosec)).UTC() }

func (*Time) TypeName() string { return "builtin_interfaces/msg/Time" }

func (t *Time) MarshalCDR(e *cdr.Encoder) {
	e.Int32(t.Sec)
	e.Uint32(t.Nanosec)
}

func (t *Time) UnmarshalCDR(d *cdr.Decoder) error {
	t.Sec = d.Int32()
	t.Nanosec = d.Uint32()
	return d.Err()
}

// Duration is builtin_interfaces/msg/Duration. As in ROS 2, a negative
// duration has a negative Sec and a Nanosec in [0, 1e9): -1.5 s is {-2, 5e8}.
type Duration struct {
	Sec     int32
	Nanosec uint32
}

// DurationFrom converts a time.Duration, saturating at the int32 range of Sec.
func DurationFrom(d time.Duration) Duration {
	sec, ns := d/time.Second, d%time.Second
	if ns < 0 {
		sec--
		ns += time.Second
	}
	switch {
	case sec > math.MaxInt32:
		return Duration{Sec: math.MaxInt32, Nanosec: 999_999_999}
	case sec < math.MinInt32:
		return Duration{Sec: math.MinInt32}
	}
	return Duration{Sec: int32(sec), Nanosec: uint32(ns)}
}

// Duration converts to a time.Duration (every Duration fits).
func (d Duration) Duration() time.Duration {
	return time.Duration(d.Sec)*time.Second + time.Duration(d.Nanosec)
}

func (*Duration) TypeName() string { return "builtin_interfaces/msg/Duration" }

func (t *Duration) MarshalCDR(e *cdr.Encoder) {
	e.Int32(t.Sec)
	e.Uint32(t.Nanosec)
}

func (t *Duration) UnmarshalCDR(d *cdr.Decoder) error {
	t.Sec = d.Int32()
	t.Nanosec = d.Uint32()
	return d.Err()
}

// Header is std_msgs/msg/Header: a time stamp and the coordinate frame the
// data is in.
type Header struct {
	Stamp   Time
	FrameID string
}

func (*Header) TypeName() string { return "std_msgs/msg/Header" }

func (h *Header) MarshalCDR(e *cdr.Encoder) {
	h.Stamp.MarshalCDR(e)
	e.String(h.FrameID)
}

func (h *Header) UnmarshalCDR(d *cdr.Decoder) error {
	h.Stamp.UnmarshalCDR(d)
	h.FrameID = d.StringValue()
	return d.Err()
}

// String is std_msgs/msg/String.
type String struct {
	Data string
}

func (*String) TypeName() string { return "std_msgs/msg/String" }

func (s *String) MarshalCDR(e *cdr.Encoder) { e.String(s.Data) }

func (s *String) UnmarshalCDR(d *cdr.Decoder) error {
	s.Data = d.StringValue()
	return d.Err()
}

// JointState is sensor_msgs/msg/JointState: for each named joint its
// position (rad or m), velocity and effort (N·m or N). Any of the three
// arrays may be empty; otherwise it has one entry per name.
type JointState struct {
	Header   Header
	Name     []string
	Position []float64
	Velocity []float64
	Effort   []float64
}

func (*JointState) TypeName() string { return "sensor_msgs/msg/JointState" }

func (j *JointState) MarshalCDR(e *cdr.Encoder) {
	j.Header.MarshalCDR(e)
	e.Strings(j.Name)
	e.Float64s(j.Position)
	e.Float64s(j.Velocity)
	e.Float64s(j.Effort)
}

func (j *JointState) UnmarshalCDR(d *cdr.Decoder) error {
	j.Header.UnmarshalCDR(d)
	j.Name = d.Strings()
	j.Position = d.Float64s()
	j.Velocity = d.Float64s()
	j.Effort = d.Float64s()
	return d.Err()
}

// Image is sensor_msgs/msg/Image: an uncompressed image of Height rows of
// Step bytes each, pixels in Encoding (e.g. "rgb8", "mono8", "32FC1").
type Image struct {
	Header      Header
	Height      uint32
	Width       uint32
	Encoding    string
	IsBigendian uint8
	Step        uint32 // row length in bytes
	Data        []byte // Step × Height bytes
}

func (*Image) TypeName() string { return "sensor_msgs/msg/Image" }

func (m *Image) MarshalCDR(e *cdr.Encoder) {
	m.Header.MarshalCDR(e)
	e.Uint32(m.Height)
	e.Uint32(m.Width)
	e.String(m.Encoding)
	e.Uint8(m.IsBigendian)
	e.Uint32(m.Step)
	e.Uint8s(m.Data)
}

func (m *Image) UnmarshalCDR(d *cdr.Decoder) error {
	m.Header.UnmarshalCDR(d)
	m.Height = d.Uint32()
	m.Width = d.Uint32()
	m.Encoding = d.StringValue()
	m.IsBigendian = d.Uint8()
	m.Step = d.Uint32()
	m.Data = d.Uint8s()
	return d.Err()
}

// JointTrajectoryPoint is trajectory_msgs/msg/JointTrajectoryPoint: the
// joint targets to reach TimeFromStart after the trajectory's stamp.
type JointTrajectoryPoint struct {
	Positions     []float64
	Velocities    []float64
	Accelerations []float64
	Effort        []float64
	TimeFromStart Duration
}

func (*JointTrajectoryPoint) TypeName() string { return "trajectory_msgs/msg/JointTrajectoryPoint" }

func (p *JointTrajectoryPoint) MarshalCDR(e *cdr.Encoder) {
	e.Float64s(p.Positions)
	e.Float64s(p.Velocities)
	e.Float64s(p.Accelerations)
	e.Float64s(p.Effort)
	p.TimeFromStart.MarshalCDR(e)
}

func (p *JointTrajectoryPoint) UnmarshalCDR(d *cdr.Decoder) error {
	p.Positions = d.Float64s()
	p.Velocities = d.Float64s()
	p.Accelerations = d.Float64s()
	p.Effort = d.Float64s()
	p.TimeFromStart.UnmarshalCDR(d)
	return d.Err()
}

// JointTrajectory is trajectory_msgs/msg/JointTrajectory: a sequence of
// points for the named joints, each point's arrays ordered as JointNames.
type JointTrajectory struct {
	Header     Header
	JointNames []string
	Points     []JointTrajectoryPoint
}

func (*JointTrajectory) TypeName() string { return "trajectory_msgs/msg/JointTrajectory" }

func (t *JointTrajectory) MarshalCDR(e *cdr.Encoder) {
	t.Header.MarshalCDR(e)
	e.Strings(t.JointNames)
	e.SequenceLength(len(t.Points))
	for i := range t.Points {
		t.Points[i].MarshalCDR(e)
	}
}

func (t *JointTrajectory) UnmarshalCDR(d *cdr.Decoder) error {
	t.Header.UnmarshalCDR(d)
	t.JointNames = d.Strings()
	t.Points = nil
	if n := d.SequenceLength(minPointSize); n > 0 {
		t.Points = make([]JointTrajectoryPoint, n)
		for i := range t.Points {
			if t.Points[i].UnmarshalCDR(d) != nil {
				t.Points = nil
				break
			}
		}
	}
	return d.Err()
}

// Point is geometry_msgs/msg/Point, in metres.
type Point struct {
	X, Y, Z float64
}

func (*Point) TypeName() string { return "geometry_msgs/msg/Point" }

func (p *Point) MarshalCDR(e *cdr.Encoder) {
	e.Float64(p.X)
	e.Float64(p.Y)
	e.Float64(p.Z)
}

func (p *Point) UnmarshalCDR(d *cdr.Decoder) error {
	p.X = d.Float64()
	p.Y = d.Float64()
	p.Z = d.Float64()
	return d.Err()
}

// Quaternion is geometry_msgs/msg/Quaternion. Its .msg default is the
// identity (W = 1), but the zero Go value has W = 0, as a decoded all-zero
// message would.
type Quaternion struct {
	X, Y, Z, W float64
}

func (*Quaternion) TypeName() string { return "geometry_msgs/msg/Quaternion" }

func (q *Quaternion) MarshalCDR(e *cdr.Encoder) {
	e.Float64(q.X)
	e.Float64(q.Y)
	e.Float64(q.Z)
	e.Float64(q.W)
}

func (q *Quaternion) UnmarshalCDR(d *cdr.Decoder) error {
	q.X = d.Float64()
	q.Y = d.Float64()
	q.Z = d.Float64()
	q.W = d.Float64()
	return d.Err()
}

// Pose is geometry_msgs/msg/Pose: a position and an orientation.
type Pose struct {
	Position    Point
	Orientation Quaternion
}

func (*Pose) TypeName() string { return "geometry_msgs/msg/Pose" }

func (p *Pose) MarshalCDR(e *cdr.Encoder) {
	p.Position.MarshalCDR(e)
	p.Orientation.MarshalCDR(e)
}

func (p *Pose) UnmarshalCDR(d *cdr.Decoder) error {
	p.Position.UnmarshalCDR(d)
	p.Orientation.UnmarshalCDR(d)
	return d.Err()
}

// PoseArray is geometry_msgs/msg/PoseArray.
type PoseArray struct {
	Header Header
	Poses  []Pose
}

func (*PoseArray) TypeName() string { return "geometry_msgs/msg/PoseArray" }

func (a *PoseArray) MarshalCDR(e *cdr.Encoder) {
	a.Header.MarshalCDR(e)
	e.SequenceLength(len(a.Poses))
	for i := range a.Poses {
		a.Poses[i].MarshalCDR(e)
	}
}

func (a *PoseArray) UnmarshalCDR(d *cdr.Decoder) error {
	a.Header.UnmarshalCDR(d)
	a.Poses = nil
	if n := d.SequenceLength(poseSize); n > 0 {
		a.Poses = make([]Pose, n)
		for i := range a.Poses {
			if a.Poses[i].UnmarshalCDR(d) != nil {
				a.Poses = nil
				break
			}
		}
	}
	return d.Err()
}
