package ex4ros2

import (
	"fmt"
	"math"
	"time"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/deploy"
	"github.com/policylab/policylab/lessons/ros2/cdr"
	"github.com/policylab/policylab/lessons/ros2/msg"
)

// WriteJointTrajectory writes the CDR payload of a
// trajectory_msgs/msg/JointTrajectory (section 4.2.5: the message the
// policy node publishes on /arm_controller/joint_trajectory) with e, field
// by field, in the order of the .msg definitions:
//
//	JointTrajectory:      std_msgs/Header header
//	                      string[] joint_names
//	                      JointTrajectoryPoint[] points
//	Header:               builtin_interfaces/Time stamp, string frame_id
//	Time:                 int32 sec, uint32 nanosec
//	JointTrajectoryPoint: float64[] positions, float64[] velocities,
//	                      float64[] accelerations, float64[] effort,
//	                      builtin_interfaces/Duration time_from_start
//	Duration:             int32 sec, uint32 nanosec
//
// A nested message adds nothing of its own: its fields follow in order. A
// sequence (T[]) is its uint32 element count, then the elements; a
// sequence of messages (points) is the count, then each message's fields.
// Use e.Int32, e.Uint32, e.String, e.Strings, e.Float64s and
// e.SequenceLength: they write little-endian and insert the alignment
// padding themselves (a float64 aligns to 8 counted from the first payload
// byte, so e.Float64s may put 4 zero bytes after the count). Write the
// payload only: no encapsulation header (that is Encapsulate's job).
// Empty and nil sequences are both a count of 0. Do not call package msg's
// Marshal or MarshalCDR: the point is to write the fields yourself; the
// tests compare your bytes with msg.Marshal's.
func WriteJointTrajectory(e *cdr.Encoder, t *msg.JointTrajectory) {
	e.Int32(t.Header.Stamp.Sec)
	e.Uint32(t.Header.Stamp.Nanosec)
	e.String(t.Header.FrameID)
	e.Strings(t.JointNames)
	e.SequenceLength(len(t.Points))
	for _, p := range t.Points {
		e.Float64s(p.Positions)
		e.Float64s(p.Velocities)
		e.Float64s(p.Accelerations)
		e.Float64s(p.Effort)
		e.Int32(p.TimeFromStart.Sec)
		e.Uint32(p.TimeFromStart.Nanosec)
	}
}

// Encapsulate frames a CDR payload as a DDS middleware sends it and rosbag2
// stores it (XCDR1, the way Cyclone DDS writes it), in a new slice:
//
//	byte 0-1:  the encapsulation identifier 0x0001 (CDR_LE), big-endian: 00 01
//	byte 2-3:  the options, big-endian, with the number of padding bytes p
//	           (0 to 3) in the low 2 bits: 00 p
//	then:      the payload, then p zero bytes, p making the payload's
//	           length a multiple of 4
//
// e.g. a 5-byte payload aa bb cc dd ee becomes
// 00 01 00 03 aa bb cc dd ee 00 00 00. It must not modify payload.
func Encapsulate(payload []byte) []byte {
	pad := (4 - len(payload)%4) % 4
	out := make([]byte, 0, 4+len(payload)+pad)
	out = append(out, 0x00, 0x01, 0x00, byte(pad))
	out = append(out, payload...)
	return append(out, make([]byte, pad)...)
}

// Command is the body of the policy node's control step (the chapter's
// control_loop, section 4.2.5): from the latest /joint_states message and
// the policy's action it builds the trajectory command to publish.
//
// action holds 7 joint-position targets in radians for the joints
// deploy.JointNames (joint1 … joint7), in that order. state may list its
// joints in any order, and more than these 7 (a gripper, say). Return an
// error, and no message, if len(action) != 7, if an action is NaN or ±Inf,
// if ahead <= 0, if len(state.Position) != len(state.Name), or if one of
// joint1 … joint7 is not in state.Name.
//
// Otherwise return a *msg.JointTrajectory with:
//
//	Header.Stamp   msg.TimeFrom(now)
//	Header.FrameID "base_link"
//	JointNames     joint1 … joint7 (deploy.JointNames, in that order)
//	Points         exactly one point:
//	  Positions[i]   target_i = float64(action[i]) clipped to the joint's
//	                 limits [arm.QMin[i], arm.QMax[i]]
//	  Velocities[i]  (target_i − q_i) / ahead in seconds, q_i the position
//	                 of joint i+1 in state (found by name): the mean
//	                 velocity that reaches the target on time
//	  Accelerations, Effort  empty (nil)
//	  TimeFromStart  msg.DurationFrom(ahead)
//
// (Imports you will need: lessons/arm for the limits, lessons/deploy for
// JointNames, and math.)
func Command(state *msg.JointState, action []float32, now time.Time, ahead time.Duration) (*msg.JointTrajectory, error) {
	if len(action) != len(deploy.JointNames) {
		return nil, fmt.Errorf("%d actions, want %d", len(action), len(deploy.JointNames))
	}
	for i, a := range action {
		if math.IsNaN(float64(a)) || math.IsInf(float64(a), 0) {
			return nil, fmt.Errorf("action %d (%s) is %v", i, deploy.JointNames[i], a)
		}
	}
	if ahead <= 0 {
		return nil, fmt.Errorf("ahead %v must be > 0", ahead)
	}
	if state == nil || len(state.Position) != len(state.Name) {
		return nil, fmt.Errorf("joint state without one position per name")
	}
	pos := make([]float64, len(action))
	vel := make([]float64, len(action))
	for i, name := range deploy.JointNames {
		k := -1
		for j, n := range state.Name {
			if n == name {
				k = j
			}
		}
		if k < 0 {
			return nil, fmt.Errorf("joint %s is not in the joint state %q", name, state.Name)
		}
		pos[i] = min(max(float64(action[i]), arm.QMin[i]), arm.QMax[i])
		vel[i] = (pos[i] - state.Position[k]) / ahead.Seconds()
	}
	return msg.JointTrajectory{
		Header:     msg.Header{Stamp: msg.TimeFrom(now), FrameID: "base_link"},
		JointNames: append([]string(nil), deploy.JointNames...),
		Points:     []msg.JointTrajectoryPoint{{Positions: pos, Velocities: vel, TimeFromStart: msg.DurationFrom(ahead)}},
	}, nil
}
