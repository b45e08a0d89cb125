package bc

import (
	"errors"
	"fmt"
	"image"
	"math"
	"strings"

	"github.com/gomlx/compute"

	"github.com/policylab/policylab/lessons/checkpoint"
	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/plot"
	"github.com/policylab/policylab/lessons/pusht"
	"github.com/policylab/policylab/lessons/sim"
	"github.com/policylab/policylab/lessons/trainer"
)

// Run is one trained and evaluated policy, for the lesson's tables.
type Run struct {
	Name    string
	Policy  *Policy
	History *trainer.History
	Eval    *eval.Result
	Demos   int
}

// Experiment trains a BC policy (images != nil: the vision policy) on ds
// with the one training loop and scores it with the one evaluation loop on
// f over episodes seeded episodes.
func Experiment(name string, b compute.Backend, ds *data.Dataset, cfg Config, tc trainer.Config,
	f sim.Factory, episodes int, images func([]float32) (*image.RGBA, error)) (*Run, error) {
	var p *Policy
	var err error
	if cfg.Vision != nil {
		p, err = NewVision(b, cfg, images)
	} else {
		p, err = NewMLP(b, cfg)
	}
	if err != nil {
		return nil, err
	}
	if err := p.Fit(ds, 0.1, tc.Seed); err != nil {
		return nil, err
	}
	h, err := trainer.Train(p, tc)
	if err != nil {
		return nil, err
	}
	r, err := eval.Run(f.NewEnv, func() (eval.Policy, error) { return eval.Chunked(p, 1), nil }, eval.Config{Episodes: episodes})
	if err != nil {
		return nil, err
	}
	return &Run{Name: name, Policy: p, History: h, Eval: r, Demos: len(ds.Episodes)}, nil
}

// Table is a Markdown table of runs.
func Table(runs ...*Run) string {
	var sb strings.Builder
	sb.WriteString("| policy | demos | train steps | final train loss | final val loss | steps/s | success | mean max score |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		val := math.NaN()
		if n := len(r.History.ValLoss); n > 0 {
			val = r.History.ValLoss[n-1]
		}
		fmt.Fprintf(&sb, "| %s | %d | %d | %.3g | %.3g | %.0f | %.0f%% | %.3f |\n", r.Name, r.Demos, len(r.History.TrainLoss),
			r.History.FinalTrainLoss(), val, r.History.StepsPerSec, 100*r.Eval.SuccessRate, r.Eval.MeanMaxScore)
	}
	return sb.String()
}

// LossChart plots the training and validation losses of runs (log scale).
func LossChart(runs ...*Run) plot.Chart {
	var s []plot.Series
	for _, r := range runs {
		x := make([]float64, len(r.History.Steps))
		for i, st := range r.History.Steps {
			x[i] = float64(st)
		}
		s = append(s, plot.Series{Name: r.Name + " train", X: x, Y: r.History.TrainLoss})
		if len(r.History.ValLoss) > 0 {
			vx := make([]float64, len(r.History.ValSteps))
			for i, st := range r.History.ValSteps {
				vx[i] = float64(st)
			}
			s = append(s, plot.Series{Name: r.Name + " val", X: vx, Y: r.History.ValLoss})
		}
	}
	return plot.LossCurves("training and validation loss (MSE, normalized actions)", s...)
}

// armDistance reads the end effector's distance to the named target from
// an arm observation vector (sim.Arm: red−ee at 23..25, blue−ee at 26..28).
func armDistance(state []float32) float64 {
	off := 23
	if len(state) > 30 && state[30] == 1 { // goal is blue
		off = 26
	}
	return math.Sqrt(float64(state[off]*state[off] + state[off+1]*state[off+1] + state[off+2]*state[off+2]))
}

// ArmDistanceCurve runs a policy on arm episodes and returns, per step, the
// mean distance (m) of the end effector to its target over the episodes; an
// episode that ended keeps its last distance. It shows compounding error:
// a cloned policy drifts off the states the expert showed and its error
// grows instead of vanishing.
func ArmDistanceCurve(f sim.Factory, pol eval.Policy, seeds []int64, steps int) ([]float64, error) {
	env, err := f.NewEnv()
	if err != nil {
		return nil, err
	}
	curve := make([]float64, steps+1)
	for _, seed := range seeds {
		obs := env.Reset(seed)
		pol.Reset(seed)
		d := armDistance(obs.State)
		curve[0] += d
		done := false
		for t := 1; t <= steps; t++ {
			if !done {
				a, err := pol.Act(obs)
				if err != nil {
					return nil, err
				}
				st := env.Step(a)
				obs, done = st.Obs, st.Done
				d = armDistance(obs.State)
			}
			curve[t] += d
		}
	}
	for i := range curve {
		curve[i] /= float64(len(seeds))
	}
	return curve, nil
}

// PushTPaths rolls a policy out from one Push-T start state once per seed
// (seeds matter only to stochastic policies) and returns the agent's paths
// and final coverages. Starting from pusht.TieStart, where the expert goes
// round the block on either side, it shows what a policy makes of two
// modes.
func PushTPaths(pol eval.Policy, start [5]float64, seeds []int64, steps int) ([][][2]float64, []float64, error) {
	env, err := sim.NewPushT(pusht.DefaultConfig(), sim.PushTKeypoints, false)
	if err != nil {
		return nil, nil, err
	}
	var paths [][][2]float64
	var covs []float64
	for _, seed := range seeds {
		obs := env.ResetTo(start)
		pol.Reset(seed)
		a := env.Raw().AgentPos()
		path := [][2]float64{{a.X, a.Y}}
		for t := 0; t < steps; t++ {
			act, err := pol.Act(obs)
			if err != nil {
				return nil, nil, err
			}
			st := env.Step(act)
			a := env.Raw().AgentPos()
			path = append(path, [2]float64{a.X, a.Y})
			obs = st.Obs
			if st.Done {
				break
			}
		}
		paths = append(paths, path)
		covs = append(covs, env.Raw().Coverage())
	}
	return paths, covs, nil
}

// LoadOrTrain loads the newest checkpoint in tc.Dir, or, when it holds
// none, makes a state policy of cfg, fits it on the dataset demos makes
// (10% of the episodes held out) and trains it there with tc. Errors
// reading the directory are returned, not trained over.
func LoadOrTrain(b compute.Backend, cfg Config, demos func() (*data.Dataset, error), tc trainer.Config) (*Policy, error) {
	if latest, err := checkpoint.Latest(tc.Dir); err == nil {
		return Load(b, latest, nil)
	} else if !errors.Is(err, checkpoint.ErrNone) {
		return nil, fmt.Errorf("bc: %w", err)
	}
	ds, err := demos()
	if err != nil {
		return nil, err
	}
	p, err := NewMLP(b, cfg)
	if err != nil {
		return nil, err
	}
	if err := p.Fit(ds, 0.1, 1); err != nil {
		return nil, err
	}
	if _, err := trainer.Train(p, tc); err != nil {
		return nil, err
	}
	return p, nil
}
