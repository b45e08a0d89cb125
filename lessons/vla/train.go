package vla

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gomlx/compute"

	"github.com/policylab/policylab/lessons/checkpoint"
	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/trainer"
)

// Train makes a policy of cfg reading with the lesson's tokenizer, fits
// it on ds (5% of the episodes held out for validation, split by
// tc.Seed) and trains it with the one training loop. With tc.Dir set, a
// run resumes from the checkpoint there.
func Train(b compute.Backend, cfg Config, ds *data.Dataset, tc trainer.Config) (*Policy, *trainer.History, error) {
	tok, err := NewTokenizer()
	if err != nil {
		return nil, nil, err
	}
	p, err := New(b, cfg, tok)
	if err != nil {
		return nil, nil, err
	}
	if err := p.Fit(ds, 0.05, tc.Seed); err != nil {
		return nil, nil, err
	}
	h, err := trainer.Train(p, tc)
	return p, h, err
}

// LoadOrTrain loads the newest checkpoint in tc.Dir, or, when it holds
// none, trains there on the demonstrations demos makes (called only
// then).
func LoadOrTrain(b compute.Backend, cfg Config, demos func() (*data.Dataset, error), tc trainer.Config) (*Policy, error) {
	latest, err := checkpoint.Latest(tc.Dir)
	if err == nil {
		return Load(b, latest)
	} else if !errors.Is(err, checkpoint.ErrNone) {
		return nil, fmt.Errorf("vla: %w", err)
	}
	ds, err := demos()
	if err != nil {
		return nil, err
	}
	p, _, err := Train(b, cfg, ds, tc)
	return p, err
}

// pretrainedOnly deletes from p's store everything but the policy's own
// weights (optimizer moments, step counter, averages), so training it
// again starts afresh from those weights.
func (p *Policy) pretrainedOnly() error {
	var drop []string
	for v := range p.store.IterVariables() {
		if !strings.HasPrefix(v.Path(), "/"+Kind+"/") {
			drop = append(drop, v.Path())
		}
	}
	for _, path := range drop {
		if err := p.store.DeleteVariable(path); err != nil {
			return fmt.Errorf("vla: %w", err)
		}
	}
	return nil
}
