package dp

import (
	"errors"
	"fmt"
	"image"

	"github.com/gomlx/compute"

	"github.com/policylab/policylab/lessons/checkpoint"
	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/trainer"
)

// Prepare makes a diffusion policy of cfg (a vision one, with cfg.Vision
// set, renders its images with images; nil for state policies) and fits
// it on ds, 5% of the episodes held out for validation, split by seed.
func Prepare(b compute.Backend, cfg Config, images func(state []float32) (*image.RGBA, error), ds *data.Dataset, seed int64) (*Policy, error) {
	var p *Policy
	var err error
	if cfg.Vision != nil {
		p, err = NewVision(b, cfg, images)
	} else {
		p, err = New(b, cfg)
	}
	if err != nil {
		return nil, err
	}
	if err := p.Fit(ds, 0.05, seed); err != nil {
		return nil, err
	}
	return p, nil
}

// Train prepares a policy as Prepare (split by tc.Seed) and trains it
// with the one training loop. tc.EMA defaults to Diffusion Policy's EMA,
// which acting then uses. The policy is returned with the history even
// when training stops with an error after some steps (a NaN loss, say).
func Train(b compute.Backend, cfg Config, images func(state []float32) (*image.RGBA, error), ds *data.Dataset, tc trainer.Config) (*Policy, *trainer.History, error) {
	p, err := Prepare(b, cfg, images, ds, tc.Seed)
	if err != nil {
		return nil, nil, err
	}
	if tc.EMA == nil {
		tc.EMA = trainer.DefaultEMA()
	}
	h, err := trainer.Train(p, tc)
	return p, h, err
}

// LoadOrTrain loads the newest checkpoint in tc.Dir, or, when it holds
// none, trains there a state-based policy of cfg as Train does, on the
// demonstrations demos returns (called only then), as bc.LoadOrTrain does
// for BC. A checkpoint is loaded whatever its config and steps: delete the
// directory to train afresh.
func LoadOrTrain(b compute.Backend, cfg Config, demos func() (*data.Dataset, error), tc trainer.Config) (*Policy, error) {
	if latest, err := checkpoint.Latest(tc.Dir); err == nil {
		return Load(b, latest)
	} else if !errors.Is(err, checkpoint.ErrNone) {
		return nil, fmt.Errorf("dp: %w", err)
	}
	ds, err := demos()
	if err != nil {
		return nil, err
	}
	p, _, err := Train(b, cfg, nil, ds, tc)
	if err != nil {
		return nil, err
	}
	return p, nil
}
