// Package deploy is section 4.2.5: a policy deployed as a ROS 2 node, and
// the simulated robot it drives, talking over real DDS (package ros2).
//
// The robot (RunRobot) serves the 7-DOF arm of package arm the way a
// ros2_control driver serves a real one:
//
//	/joint_states                     sensor_msgs/JointState   100 Hz, reliable
//	/camera/image                     sensor_msgs/Image        10 Hz, rgb8, sensor-data QoS
//	/targets                          geometry_msgs/PoseArray  10 Hz, the perceived target positions
//	/instruction                      std_msgs/String          at the start of each episode
//	/arm_controller/joint_trajectory  trajectory_msgs/JointTrajectory  consumed: joint-position targets
//
// The policy node (PolicyNode) is the chapter's PolicyNode in Go: it
// subscribes to the camera, the joint states and the instruction (and the
// targets, which the state-based policies need where a vision policy
// would read them off the image), and a 10 Hz control loop runs any
// policy through an action-chunking executor and publishes one trajectory
// point 100 ms ahead for joints joint1..joint7. Every control period is
// timed; deadline misses and stale inputs are counted and logged.
package deploy

import (
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// Topics of the deployment, as the chapter names them.
const (
	TopicImage       = "/camera/image"
	TopicJointStates = "/joint_states"
	TopicInstruction = "/instruction"
	TopicTargets     = "/targets"
	TopicTrajectory  = "/arm_controller/joint_trajectory"
)

// JointNames are the arm's joints, as the chapter's node names them.
var JointNames = []string{"joint1", "joint2", "joint3", "joint4", "joint5", "joint6", "joint7"}

// jointIndex maps names to indices into JointNames, and checks that
// every joint is named exactly once.
func jointIndex(names []string) ([7]int, error) {
	var idx [7]int
	var seen [7]bool
	if len(names) != 7 {
		return idx, fmt.Errorf("%d joint names %q, want the 7 of %q", len(names), names, JointNames)
	}
	for i, n := range names {
		j := -1
		for k, want := range JointNames {
			if n == want {
				j = k
			}
		}
		if j < 0 {
			return idx, fmt.Errorf("unknown joint %q (want %q)", n, JointNames)
		}
		if seen[j] {
			return idx, fmt.Errorf("joint %q named twice", n)
		}
		seen[j] = true
		idx[i] = j
	}
	return idx, nil
}

// Percentile returns the p-th percentile (0..100) of d by the
// nearest-rank method, or 0 for no data.
func Percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	k := int(p/100*float64(len(s))+0.999999) - 1
	k = max(0, min(len(s)-1, k))
	return s[k]
}

// lockedWriter serializes writes: the robot's and the node's logs are
// written from their loops and from subscription goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// logTo returns w made safe for concurrent writes (io.Discard for nil).
func logTo(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return &lockedWriter{w: w}
}
