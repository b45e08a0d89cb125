package chunking

import (
	"math"
	"strings"
	"testing"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/sim"
)

// TestArmPoliciesTrainThenLoad: a short run trains each of the lesson's
// arm policies (the chunked BC, the diffusion policy) into an empty
// directory; the second call loads it and predicts the same chunk from the
// same observation and seed: 16 joint targets, each within the
// demonstrations' range. That range is of offsets from the joint positions
// for BC, whose targets are relative (a BC that forgot to add the joints
// back would send targets near zero), and of the targets themselves for
// the diffusion policy, whose samples are clipped to its normalizer's
// range (a policy that lost its normalizer would not stay within it).
func TestArmPoliciesTrainThenLoad(t *testing.T) {
	b := backend.MustNew()
	f := sim.ArmFactory(arm.DefaultConfig(arm.Reach), false)
	for _, tc := range []struct {
		name     string
		relative bool
		make     func(dir string) (eval.ChunkPolicy, error)
	}{
		{"chunked BC", true, func(dir string) (eval.ChunkPolicy, error) { return ChunkedBC(b, f, dir, 20, nil) }},
		{"diffusion", false, func(dir string) (eval.ChunkPolicy, error) { return ArmDiffusion(b, dir, 4, nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p, err := tc.make(dir)
			if err != nil {
				t.Fatal(err)
			}
			q, err := tc.make(dir)
			if err != nil {
				t.Fatal(err)
			}
			env, _ := f.NewEnv()
			obs := env.Reset(5)
			var chunks [2][][]float32
			for i, pol := range []eval.ChunkPolicy{p, q} {
				pol.Reset(5)
				if chunks[i], err = pol.PredictActionChunk(obs); err != nil {
					t.Fatal(err)
				}
				if len(chunks[i]) != BCChunk || len(chunks[i][0]) != 7 {
					t.Fatalf("a chunk of %d actions of %d, want %d of 7", len(chunks[i]), len(chunks[i][0]), BCChunk)
				}
			}
			lo, hi := targetRange(t, f, tc.relative)
			for k := range chunks[0] {
				for d := range chunks[0][k] {
					if chunks[0][k][d] != chunks[1][k][d] {
						t.Fatalf("the loaded policy predicts %v, the trained one %v", chunks[1][k], chunks[0][k])
					}
					v := float64(chunks[0][k][d])
					if tc.relative {
						v -= float64(obs.State[d])
					}
					if v < lo[d]-1e-3 || v > hi[d]+1e-3 {
						t.Fatalf("action %d, joint %d: target %.3f (%.3f, relative: %v) outside the demonstrations' [%.3f, %.3f]",
							k, d, chunks[0][k][d], v, tc.relative, lo[d], hi[d])
					}
				}
			}
		})
	}
	if _, _, err := LoadDiffusion(b, t.TempDir(), t.TempDir()); err == nil || !strings.Contains(err.Error(), "make dp-pusht") {
		t.Errorf("LoadDiffusion of empty directories: %v", err)
	}
}

// targetRange is the least and greatest of the demonstrations' joint
// targets, or, when relative, of their offsets from the joint positions
// over chunks of BCChunk actions.
func targetRange(t *testing.T, f sim.Factory, relative bool) (lo, hi [7]float64) {
	t.Helper()
	ds, err := data.Generate(f, 200, 1, data.GenOptions{OnlySuccessful: true})
	if err != nil {
		t.Fatal(err)
	}
	for d := range lo {
		lo[d], hi[d] = math.Inf(1), math.Inf(-1)
	}
	for _, ep := range ds.Episodes {
		for s := range ep.States {
			for k := 0; k < BCChunk && s+k < len(ep.Actions); k++ {
				for d := range lo {
					v := float64(ep.Actions[s+k][d])
					if relative {
						v -= float64(ep.States[s][d])
					}
					lo[d], hi[d] = math.Min(lo[d], v), math.Max(hi[d], v)
				}
			}
		}
	}
	return lo, hi
}
