package deploy

import (
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/policylab/policylab/lessons/ros2/msg"
)

// TestCommandAndEncodeHooks runs the robot and the node in this process
// with NodeConfig.Command and Encode set: the node publishes what they
// build and encode (here the chapter's trajectory with the joints listed
// in reverse, which the robot must match by name), so the expert still
// succeeds; a failing Command is counted as an error and publishes
// nothing.
func TestCommandAndEncodeHooks(t *testing.T) {
	var commands, encodes atomic.Int64
	rcfg := DefaultRobotConfig()
	rcfg.Domain, rcfg.Episodes = RandomDomain(), 1
	ncfg := DefaultNodeConfig()
	ncfg.Domain = rcfg.Domain
	ncfg.Command = func(state *msg.JointState, action []float32, now time.Time, ahead time.Duration) (*msg.JointTrajectory, error) {
		commands.Add(1)
		if state == nil || len(state.Position) != 7 {
			return nil, errors.New("no joint state")
		}
		tr, err := ChapterCommand(state, action, now, ahead)
		if err != nil {
			return nil, err
		}
		tr.JointNames = slices.Clone(tr.JointNames)
		slices.Reverse(tr.JointNames)
		slices.Reverse(tr.Points[0].Positions)
		return tr, nil
	}
	ncfg.Encode = func(tr *msg.JointTrajectory) []byte {
		encodes.Add(1)
		return msg.Marshal(tr)
	}
	var log syncBuffer
	rep := runInProcess(t, rcfg, ncfg, expert(), &log)
	if rep.Published == 0 || commands.Load() != int64(rep.Published) || encodes.Load() != int64(rep.Published) || rep.Errors != 0 {
		t.Errorf("%d published, %d commands built, %d encoded, %d errors; log:\n%s", rep.Published, commands.Load(), encodes.Load(), rep.Errors, log.String())
	}

	rcfg.Domain, rcfg.Arm.MaxSteps = RandomDomain(), 5
	ncfg.Domain = rcfg.Domain
	ncfg.Command = func(*msg.JointState, []float32, time.Time, time.Duration) (*msg.JointTrajectory, error) {
		return nil, errors.New("joint7 is missing")
	}
	var log2 syncBuffer
	rep = runInProcess(t, rcfg, ncfg, expert(), &log2)
	if rep.Published != 0 || rep.Errors == 0 || !strings.Contains(log2.String(), "command: joint7 is missing") {
		t.Errorf("failing Command: %d published, %d errors; log:\n%s", rep.Published, rep.Errors, log2.String())
	}
}
