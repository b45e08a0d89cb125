package vla

import (
	"fmt"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/sim"
)

// What the model reads of an arm observation (sim.Arm's 32-D state
// vector, arm.Obs.Vector). The instruction's one-hot entries [29:31) are
// never read: the model must take the goal from the words.
const (
	// ProprioDim: joint positions (7, rad), joint velocities (7, rad/s)
	// and the hand's position (3, m).
	ProprioDim = 17
	// NumObjects is the number of object tokens: the scene's targets.
	NumObjects = 2
	// ObjectDim: position (3, m), position relative to the hand (3, m),
	// colour one-hot (red, green, blue).
	ObjectDim = 9
	// positions is how many leading ObjectDim entries are normalized.
	positions = 6
)

// Features are one observation as the model's inputs, unnormalized.
type Features struct {
	Proprio []float32 // [ProprioDim]
	Objects []float32 // [NumObjects, ObjectDim], row-major
	Present []float32 // [NumObjects]: 1 for a target in the scene, 0 for an absent one
}

// ArmFeatures reads the model's inputs from an arm state vector. The
// scene's first target is green when it is alone (Reach) and red beside a
// blue one (the two-target tasks).
func ArmFeatures(state []float32) (Features, error) {
	if len(state) != arm.VectorDim {
		return Features{}, fmt.Errorf("vla: arm observation has %d values, want %d", len(state), arm.VectorDim)
	}
	f := Features{
		Proprio: append(append([]float32(nil), state[0:14]...), state[14:17]...),
		Objects: make([]float32, NumObjects*ObjectDim),
		Present: []float32{1, 0},
	}
	two := state[31] > 0.5
	o := f.Objects
	copy(o[0:3], state[17:20])
	copy(o[3:6], state[23:26])
	if two {
		o[6] = 1 // red
		f.Present[1] = 1
		copy(o[ObjectDim:ObjectDim+3], state[20:23])
		copy(o[ObjectDim+3:ObjectDim+6], state[26:29])
		o[ObjectDim+8] = 1 // blue
	} else {
		o[7] = 1 // green
	}
	return f, nil
}

// armTask is the task whose colours an arm state shows, for rendering.
func armTask(state []float32) arm.Task {
	if state[31] > 0.5 {
		return arm.ReachColor
	}
	return arm.Reach
}

// ArmImage renders an arm state's camera image at size × size as floats
// in [0, 1], [size, size, 3] row-major: what the environment's camera
// would show (sim.ArmImage).
func ArmImage(state []float32, size int) ([]float32, error) {
	img, err := sim.ArmImage(state, armTask(state), size)
	if err != nil {
		return nil, fmt.Errorf("vla: %w", err)
	}
	out := make([]float32, size*size*3)
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			i := img.PixOffset(x, y)
			j := (y*size + x) * 3
			out[j] = float32(img.Pix[i]) / 255
			out[j+1] = float32(img.Pix[i+1]) / 255
			out[j+2] = float32(img.Pix[i+2]) / 255
		}
	}
	return out, nil
}
