// Package fastddspeer builds and describes the Fast DDS peer program in
// lessons/ros2/testdata/fastdds_peer: a small eProsima Fast DDS 2.x
// participant set up like ROS 2's rmw_fastrtps (UDPv4 only, RELIABLE /
// VOLATILE / KEEP_LAST 10, ROS 2 DDS type names, Fast CDR serialization, no
// XTypes type information). Tests use it to check that the Go ROS 2 layer
// interoperates with an independent DDS and CDR implementation.
//
// Peer CLI (all modes accept -domain N, default $ROS_DOMAIN_ID or 0):
//
//	peer pub-jointstate [-count K=50] [-period-ms P=100] [-match-timeout-s T=20]
//	peer pub-trajectory [-count K=1]  [-period-ms P=100] [-match-timeout-s T=20]
//	peer sub-jointstate [-count K=1] [-timeout-s T=20]
//	peer sub-trajectory [-count K=1] [-timeout-s T=20]
//	common: [-loopback] [-initial-peer IP]... [-v] [-hex]
//
// Publishers wait for a matched reader before the first write, print
// "sent <i> stamp=<sec>.<nanosec>" per sample on stdout, and exit 0 (2 if no
// reader matched in time). Subscribers print each received sample as one
// JSON line on stdout (see JointState and JointTrajectory) and exit 0 after
// K samples (2 on timeout). Diagnostics go to stderr.
package fastddspeer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// ErrMissing is returned (wrapped) by Build when the Fast DDS development
// files or a C++ compiler are not installed.
var ErrMissing = errors.New("fastddspeer: Fast DDS toolchain missing")

// Topic and DDS type names used by the peer (ROS 2 naming conventions).
const (
	JointStateTopic      = "rt/joint_states"
	JointStateType       = "sensor_msgs::msg::dds_::JointState_"
	JointTrajectoryTopic = "rt/arm_controller/joint_trajectory"
	JointTrajectoryType  = "trajectory_msgs::msg::dds_::JointTrajectory_"
)

// CompileFlags are the compiler flags Build uses, before the source file.
// -ffp-contract=off keeps a*b+c as two roundings, so the published values
// match the same expressions computed in Go bit for bit.
var CompileFlags = []string{"-std=c++17", "-O1", "-ffp-contract=off"}

// LinkFlags are the libraries Build links against, after the source file.
var LinkFlags = []string{"-lfastrtps", "-lfastcdr"}

// Source returns the path of peer.cpp.
func Source() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("fastddspeer: cannot locate own source file")
	}
	src := filepath.Join(filepath.Dir(file), "..", "..", "testdata", "fastdds_peer", "peer.cpp")
	if _, err := os.Stat(src); err != nil {
		return "", fmt.Errorf("fastddspeer: peer source: %w", err)
	}
	return src, nil
}

func compiler() (string, error) {
	if cxx := os.Getenv("CXX"); cxx != "" {
		p, err := exec.LookPath(cxx)
		if err != nil {
			return "", fmt.Errorf("%w: C++ compiler $CXX=%q not found (install g++)", ErrMissing, cxx)
		}
		return p, nil
	}
	for _, name := range []string{"g++", "c++", "clang++"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: no C++ compiler (g++) in PATH", ErrMissing)
}

// Build compiles peer.cpp into dir and returns the binary path. It returns an
// error wrapping ErrMissing when the Fast DDS headers or libraries
// (Debian: libfastrtps-dev, libfastcdr-dev) or a C++ compiler are absent.
func Build(dir string) (string, error) {
	src, err := Source()
	if err != nil {
		return "", err
	}
	cxx, err := compiler()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "peer")
	tmp, err := os.CreateTemp(dir, "peer-*.tmp")
	if err != nil {
		return "", err
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName)

	args := append(append(append([]string{}, CompileFlags...), "-o", tmpName, src), LinkFlags...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cxx, args...)
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := stderr.String()
		if m := missingPackage(msg); m != "" {
			return "", fmt.Errorf("%w: %s (%s %s)", ErrMissing, m, filepath.Base(cxx), strings.Join(args, " "))
		}
		return "", fmt.Errorf("fastddspeer: %s %s: %v\n%s", cxx, strings.Join(args, " "), err, msg)
	}
	if err := os.Rename(tmpName, out); err != nil {
		return "", err
	}
	return out, nil
}

// missingPackage recognizes compiler output caused by absent Fast DDS
// development files and names the Debian package to install.
func missingPackage(msg string) string {
	for _, line := range strings.Split(msg, "\n") {
		switch {
		case strings.Contains(line, "cannot find -lfastrtps") || strings.Contains(line, "library not found for -lfastrtps"):
			return "libfastrtps not found (install libfastrtps-dev)"
		case strings.Contains(line, "cannot find -lfastcdr") || strings.Contains(line, "library not found for -lfastcdr"):
			return "libfastcdr not found (install libfastrtps-dev libfastcdr-dev)"
		case !strings.Contains(line, "No such file") && !strings.Contains(line, "file not found"):
		case strings.Contains(line, "fastcdr/"):
			return "Fast CDR headers not found (install libfastrtps-dev libfastcdr-dev): " + strings.TrimSpace(line)
		case strings.Contains(line, "fastdds/") || strings.Contains(line, "fastrtps/"):
			return "Fast DDS headers not found (install libfastrtps-dev): " + strings.TrimSpace(line)
		}
	}
	return ""
}

var cached struct {
	sync.Mutex
	path string
}

// BuildCached is Build into a per-user cache directory keyed by the content
// of peer.cpp and the build flags, so repeated test runs (and several test
// packages) compile the peer only once. Errors are as for Build.
func BuildCached() (string, error) {
	cached.Lock()
	defer cached.Unlock()
	if cached.path != "" {
		if _, err := os.Stat(cached.path); err == nil {
			return cached.path, nil
		}
	}
	src, err := Source()
	if err != nil {
		return "", err
	}
	code, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(code)
	fmt.Fprintf(h, "\x00%q\x00%q\x00%s", CompileFlags, LinkFlags, os.Getenv("CXX"))
	key := hex.EncodeToString(h.Sum(nil))[:16]
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "policylab", "fastdds_peer", key)
	bin := filepath.Join(dir, "peer")
	if _, err := os.Stat(bin); err != nil {
		if bin, err = Build(dir); err != nil {
			return "", err
		}
	}
	cached.path = bin
	return bin, nil
}

// JointState is one line printed by "peer sub-jointstate".
type JointState struct {
	StampSec     int32     `json:"stamp_sec"`
	StampNanosec uint32    `json:"stamp_nanosec"`
	FrameID      string    `json:"frame_id"`
	Name         []string  `json:"name"`
	Position     []float64 `json:"position"`
	Velocity     []float64 `json:"velocity"`
	Effort       []float64 `json:"effort"`
}

// JointTrajectoryPoint is one element of JointTrajectory.Points.
type JointTrajectoryPoint struct {
	Positions            []float64 `json:"positions"`
	Velocities           []float64 `json:"velocities"`
	Accelerations        []float64 `json:"accelerations"`
	Effort               []float64 `json:"effort"`
	TimeFromStartSec     int32     `json:"time_from_start_sec"`
	TimeFromStartNanosec uint32    `json:"time_from_start_nanosec"`
}

// JointTrajectory is one line printed by "peer sub-trajectory".
type JointTrajectory struct {
	StampSec     int32                  `json:"stamp_sec"`
	StampNanosec uint32                 `json:"stamp_nanosec"`
	FrameID      string                 `json:"frame_id"`
	JointNames   []string               `json:"joint_names"`
	Points       []JointTrajectoryPoint `json:"points"`
}

// ParseJointStates decodes the JSON lines printed by "peer sub-jointstate".
func ParseJointStates(stdout []byte) ([]JointState, error) {
	return parseLines[JointState](stdout)
}

// ParseJointTrajectories decodes the JSON lines printed by "peer sub-trajectory".
func ParseJointTrajectories(stdout []byte) ([]JointTrajectory, error) {
	return parseLines[JointTrajectory](stdout)
}

func parseLines[T any](stdout []byte) ([]T, error) {
	var out []T
	for _, line := range bytes.Split(stdout, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var v T
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			return out, fmt.Errorf("fastddspeer: bad peer output line %q: %w", line, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// JointNames are the joint names the peer publishes: joint1..joint7.
func JointNames() []string {
	n := make([]string, 7)
	for j := range n {
		n[j] = fmt.Sprintf("joint%d", j+1)
	}
	return n
}

// WantJointState returns sample i as "peer pub-jointstate" publishes it:
// stamp {1700000000+i, 500}, frame "base", joint1..joint7,
// position[j] = 0.1*(j+1) + i, velocity[j] = -0.5*(j+1), no effort.
// The values are bit-identical to the peer's (explicit float64 conversions
// prevent fused multiply-add).
func WantJointState(i int) JointState {
	m := JointState{
		StampSec:     int32(1700000000 + i),
		StampNanosec: 500,
		FrameID:      "base",
		Name:         JointNames(),
		Position:     make([]float64, 7),
		Velocity:     make([]float64, 7),
		Effort:       []float64{},
	}
	for j := 0; j < 7; j++ {
		p := float64(0.1 * float64(j+1))
		m.Position[j] = float64(p + float64(i))
		m.Velocity[j] = float64(-0.5 * float64(j+1))
	}
	return m
}

// WantTrajectory returns the message "peer pub-trajectory" publishes:
// stamp {12, 34}, frame "world", joint1..joint7, one point with positions
// 0.1..0.7, no velocities/accelerations/effort, time_from_start {0, 1e8}.
func WantTrajectory() JointTrajectory {
	return JointTrajectory{
		StampSec:     12,
		StampNanosec: 34,
		FrameID:      "world",
		JointNames:   JointNames(),
		Points: []JointTrajectoryPoint{{
			Positions:            []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7},
			Velocities:           []float64{},
			Accelerations:        []float64{},
			Effort:               []float64{},
			TimeFromStartSec:     0,
			TimeFromStartNanosec: 100000000,
		}},
	}
}
