// Package sim is the common face of the course's simulators (the 7-DOF arm
// of package arm and Push-T of package pusht) for what works on any of
// them: demonstration generation, datasets, evaluation and rendering.
//
// Observations and actions are flat float32 vectors whose layout each
// adapter documents in its Spec; images are rendered only when asked for,
// since a frame costs more than a physics step.
package sim

import (
	"fmt"
	"image"
	"slices"
	"strings"
)

// Spec describes an environment's vectors and timing.
type Spec struct {
	Name        string   // e.g. "pusht", "arm-reach"
	StateNames  []string // one name per observation.state element
	ActionNames []string // one name per action element
	ActionLow   []float32
	ActionHigh  []float32
	ImageSize   int     // side of the square camera image, pixels
	ControlHz   float64 // control steps per second
	MaxSteps    int     // episode length limit
	// ScoreName says what Score measures ("coverage" for Push-T, where an
	// episode scores its maximum; "success" where it is 0 or 1).
	ScoreName string
}

// StateDim is the length of observation vectors.
func (s Spec) StateDim() int { return len(s.StateNames) }

// ActionDim is the length of action vectors.
func (s Spec) ActionDim() int { return len(s.ActionNames) }

// Obs is one observation.
type Obs struct {
	// State: [StateDim], the layout of Spec.StateNames.
	State []float32
	// Instruction is the task in words ("reach the red target", "push the
	// T onto the target"), for language-conditioned policies.
	Instruction string
	// Image is the camera view, [ImageSize x ImageSize] RGBA, when the Env
	// was made with images on; else nil.
	Image *image.RGBA
}

// Step is what one control step returns.
type Step struct {
	Obs     Obs
	Reward  float64
	Done    bool    // the episode is over (success, failure or time limit)
	Success bool    // the task is solved at this step
	Score   float64 // task score at this step, in [0, 1] (Spec.ScoreName)
}

// Env is a simulator behind flat vectors. Implementations are not safe for
// concurrent use; make one per goroutine.
type Env interface {
	Spec() Spec
	// Reset starts a new episode whose initial state is fixed by seed.
	Reset(seed int64) Obs
	// Step applies one action: [ActionDim], clipped to the action bounds.
	Step(action []float32) Step
	// Render draws the current scene at size x size pixels.
	Render(size int) *image.RGBA
}

// Expert is a scripted demonstrator for an Env.
type Expert interface {
	// Reset prepares for the episode started by Env.Reset(seed).
	Reset(seed int64)
	// Act returns the expert's action: [ActionDim].
	Act(obs Obs) []float32
}

// Factory makes a fresh environment and its expert: one per goroutine when
// episodes run in parallel.
type Factory struct {
	Name      string
	NewEnv    func() (Env, error)
	NewExpert func() Expert
}

func checkAction(spec Spec, a []float32) error {
	if len(a) != spec.ActionDim() {
		return fmt.Errorf("sim: %s: action has %d values, want %d (%v)", spec.Name, len(a), spec.ActionDim(), spec.ActionNames)
	}
	return nil
}

// holdSources names, for an action element, the state element that holds
// the robot still: an action of position targets set to the present
// positions. "joint3.target" is held by "joint3.pos" (the arm); Push-T's
// "target.x" by "agent.x".
func holdSource(action string) []string {
	var out []string
	if p, ok := strings.CutSuffix(action, ".target"); ok {
		out = append(out, p+".pos", p)
	}
	if p, ok := strings.CutPrefix(action, "target."); ok {
		out = append(out, "agent."+p)
	}
	return out
}

// HoldAction returns the action that keeps the robot where it is in obs:
// every position target set to the present position ([ActionDim]). It is
// what a controller does when no fresh action is ready in time. It fails
// for an environment whose actions are not position targets named as the
// course's adapters name them.
func (s Spec) HoldAction(obs Obs) ([]float32, error) {
	if len(obs.State) != s.StateDim() {
		return nil, fmt.Errorf("sim: %s: HoldAction: observation has %d values, want %d", s.Name, len(obs.State), s.StateDim())
	}
	out := make([]float32, s.ActionDim())
	for i, a := range s.ActionNames {
		found := false
		for _, src := range holdSource(a) {
			if j := slices.Index(s.StateNames, src); j >= 0 {
				out[i], found = obs.State[j], true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("sim: %s: HoldAction: no state element holds action %q", s.Name, a)
		}
	}
	return out, nil
}
