package ex4ros2

import "testing"

func TestWriteJointTrajectory(t *testing.T) { CheckWriteJointTrajectory(t, WriteJointTrajectory) }

func TestEncapsulate(t *testing.T) { CheckEncapsulate(t, Encapsulate) }

func TestRoundTrip(t *testing.T) { CheckRoundTrip(t, WriteJointTrajectory, Encapsulate) }

func TestCommand(t *testing.T) { CheckCommand(t, Command) }
