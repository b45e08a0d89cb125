package deploy

import (
	"fmt"
	"io"

	"github.com/gomlx/compute"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/bc"
	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/sim"
	"github.com/policylab/policylab/lessons/trainer"
)

// ArmBCSteps is how long ArmBC trains (about 15 s on 2 cores).
const ArmBCSteps = 1500

// ArmBC loads the BC policy for arm REACH kept in dir, or, when dir holds
// no checkpoint, trains it there first: the state MLP of 4.2.2 with joint
// targets relative to the joint positions, on 200 demonstrations recorded
// with DART noise (0.01 rad), ArmBCSteps steps at batch 64. 4.2.2
// measured 99–100% success for this recipe. Training progress goes to
// progress (may be nil).
func ArmBC(b compute.Backend, dir string, progress io.Writer) (*bc.Policy, error) {
	cfg := bc.DefaultConfig()
	cfg.RelativeTo = []int{0, 1, 2, 3, 4, 5, 6}
	tc := trainer.DefaultConfig()
	tc.Steps, tc.Dir, tc.Progress = ArmBCSteps, dir, progress
	tc.WarmupSteps = min(tc.WarmupSteps, tc.Steps/10)
	return bc.LoadOrTrain(b, cfg, func() (*data.Dataset, error) {
		return data.Generate(sim.ArmFactory(arm.DefaultConfig(arm.Reach), false), 200, 1, data.GenOptions{ActionNoise: 0.01})
	}, tc)
}

// WarmUp runs the policy once on a simulated arm observation, then
// resets it, so that the first control period does not pay for building
// and compiling the policy's graph (tens of milliseconds on the first
// call of a GoMLX executable).
func WarmUp(p eval.Policy, images bool) error {
	env, err := sim.NewArm(arm.DefaultConfig(arm.Reach), images)
	if err != nil {
		return err
	}
	p.Reset(0)
	if _, err := p.Act(env.Reset(0)); err != nil {
		return fmt.Errorf("deploy: warm-up: %w", err)
	}
	p.Reset(0)
	return nil
}
