package vla

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/policylab/policylab/lessons/lora"
	"github.com/policylab/policylab/lessons/safetensors"
)

// HeadFile is where SaveAdapters puts the action head beside adapters
// saved at path: "x.safetensors" → "x.head.safetensors".
func HeadFile(path string) string {
	return strings.TrimSuffix(path, ".safetensors") + ".head.safetensors"
}

// SaveAdapters writes the policy's LoRA adapters to path (lora.Save:
// safetensors, named after the weights they adapt) and the action head,
// which trains with them, to HeadFile(path). Together they are a few
// percent of the model; they load onto any copy of the pretrained base.
func (p *Policy) SaveAdapters(path string) error {
	if p.cfg.LoRA == nil {
		return fmt.Errorf("vla: saving %s: the policy has no adapters", path)
	}
	if err := lora.Save(path, p.store, *p.cfg.LoRA); err != nil {
		return err
	}
	f := &safetensors.File{Tensors: map[string]safetensors.Tensor{}, Metadata: map[string]string{"policylab.part": "vla action head"}}
	for v := range p.store.IterVariables() {
		if !isHead(v.Path()) || lora.IsAdapter(v.Path()) {
			continue
		}
		val, err := v.Value()
		if err != nil {
			return fmt.Errorf("vla: %s: %w", v.Path(), err)
		}
		t, err := safetensors.FromGoMLX(val)
		if err != nil {
			return fmt.Errorf("vla: %s: %w", v.Path(), err)
		}
		f.Tensors[v.Path()] = t
	}
	if err := safetensors.WriteFile(HeadFile(path), f); err != nil {
		return fmt.Errorf("vla: %w", err)
	}
	return nil
}

// LoadAdapters puts adapters saved by SaveAdapters onto the policy, a
// pretrained base without adapters: the LoRA weights from path (shapes
// checked against the layers they adapt, by lora.Load) and the head from
// HeadFile(path) (every tensor must be a head variable of this model, of
// the same shape). A missing or mismatched file is an error naming it,
// and leaves the policy as it was.
func (p *Policy) LoadAdapters(path string) error {
	if p.cfg.LoRA != nil {
		return fmt.Errorf("vla: loading %s: the policy already has adapters", path)
	}
	hp := HeadFile(path)
	head, err := safetensors.ReadFile(hp)
	if err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("vla: %s has no action head beside it (%s): SaveAdapters writes both", path, hp)
		}
		return fmt.Errorf("vla: %w", err)
	}
	for _, name := range head.Names() {
		v := p.store.GetVariable(name)
		if v == nil || !isHead(name) {
			return fmt.Errorf("vla: %s: %q is not a head variable of this model", hp, name)
		}
		if got, want := head.Tensors[name].Shape, v.Shape().Dimensions; !slices.Equal(got, want) {
			return fmt.Errorf("vla: %s: %s has shape %v, the model's is %v", hp, name, got, want)
		}
	}
	cfg, err := lora.Load(path, p.store)
	if err != nil {
		return err
	}
	for _, name := range head.Names() {
		t, err := safetensors.ToGoMLX(head.Tensors[name])
		if err != nil {
			return fmt.Errorf("vla: %s: %s: %w", hp, name, err)
		}
		if err := p.store.GetVariable(name).SetValue(t); err != nil {
			return fmt.Errorf("vla: %s: %s: %w", hp, name, err)
		}
	}
	p.cfg.LoRA = &cfg
	p.Refresh()
	return nil
}

// Merge folds the adapters into the weights they adapt (lora.Merge) and
// drops them from the config: the policy then runs at the base model's
// cost and computes what the adapted one did.
func (p *Policy) Merge() error {
	if p.cfg.LoRA == nil {
		return fmt.Errorf("vla: Merge: the policy has no adapters")
	}
	if _, err := lora.Merge(p.store, *p.cfg.LoRA); err != nil {
		return err
	}
	p.cfg.LoRA = nil
	p.Refresh()
	return nil
}
