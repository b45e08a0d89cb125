package chunking

import (
	"strings"
	"testing"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/sim"
)

// TestChunkedBCTrainsThenLoads: a short run trains a 16-action BC into an
// empty directory; the second call loads it, predicting the same chunks.
func TestChunkedBCTrainsThenLoads(t *testing.T) {
	b := backend.MustNew()
	f := sim.ArmFactory(arm.DefaultConfig(arm.Reach), false)
	dir := t.TempDir()
	p, err := ChunkedBC(b, f, dir, 20, nil)
	if err != nil {
		t.Fatal(err)
	}
	q, err := ChunkedBC(b, f, dir, 20, nil)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := f.NewEnv()
	obs := env.Reset(5)
	a, err := p.PredictActionChunk(obs)
	if err != nil {
		t.Fatal(err)
	}
	c, err := q.PredictActionChunk(obs)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != BCChunk || len(c) != BCChunk || len(a[0]) != 7 {
		t.Fatalf("chunks of %d and %d actions of %d, want %d of 7", len(a), len(c), len(a[0]), BCChunk)
	}
	for i := range a {
		for d := range a[i] {
			if a[i][d] != c[i][d] {
				t.Fatalf("the loaded policy predicts %v, the trained one %v", c[i], a[i])
			}
		}
	}
	if _, _, err := LoadDiffusion(b, t.TempDir(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "make dp-pusht") {
		t.Errorf("LoadDiffusion of empty directories: %v", err)
	}
}
