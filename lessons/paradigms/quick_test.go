package paradigms

import (
	"testing"

	"github.com/policylab/policylab/lessons/backend"
)

func TestQuick(t *testing.T) {
	b, err := backend.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultArchConfig()
	p, err := BuildPolicy(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + p.Summary())
	for v := range p.store.IterVariables() {
		t.Log(v.Path(), v.Shape())
	}
	a, err := p.Forward(SampleInputs(cfg, 3, "pick up the red block", 1))
	t.Log(a, err)
}
