package bc

import (
	"os"

	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/sim"
	"github.com/policylab/policylab/lessons/trainer"
)

func armData(t testing.TB, n int) (*data.Dataset, sim.Factory) {
	t.Helper()
	f := sim.ArmFactory(arm.DefaultConfig(arm.Reach), false)
	ds, err := data.Generate(f, n, 1, data.GenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ds, f
}

func mustBackend(t testing.TB) compute.Backend {
	t.Helper()
	b, err := backend.New()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{{Hidden: 0, Chunk: 1, Normalizer: "minmax"}, {Hidden: 8, Chunk: 0, Normalizer: "minmax"}, {Hidden: 8, Chunk: 1, Normalizer: "zscore"}} {
		if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "bc: ") {
			t.Errorf("Validate(%+v) = %v", c, err)
		}
	}
}

// TestTrainSmokeAndChunks: a few steps of the one training loop lower the
// loss, for the chapter's policy and the chunk variant; predictions have
// the promised shapes.
func TestTrainSmokeAndChunks(t *testing.T) {
	b, err := backend.New()
	if err != nil {
		t.Fatal(err)
	}
	ds, _ := armData(t, 20)
	for _, chunk := range []int{1, 4} {
		cfg := DefaultConfig()
		cfg.Hidden, cfg.Chunk = 64, chunk
		p, err := NewMLP(b, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Fit(ds, 0.2, 1); err != nil {
			t.Fatal(err)
		}
		tc := trainer.DefaultConfig()
		tc.Steps, tc.BatchSize, tc.WarmupSteps, tc.ValEvery = 60, 32, 5, 20
		h, err := trainer.Train(p, tc)
		if err != nil {
			t.Fatal(err)
		}
		if !(h.FinalTrainLoss() < h.TrainLoss[0]/3) {
			t.Errorf("chunk %d: loss %v → %v, want a 3x drop", chunk, h.TrainLoss[0], h.FinalTrainLoss())
		}
		if len(h.ValLoss) != 3 {
			t.Errorf("chunk %d: %d validations, want 3", chunk, len(h.ValLoss))
		}
		env, _ := sim.NewArm(arm.DefaultConfig(arm.Reach), false)
		acts, err := p.PredictActionChunk(env.Reset(5))
		if err != nil {
			t.Fatal(err)
		}
		if len(acts) != chunk || len(acts[0]) != 7 {
			t.Errorf("chunk %d: prediction is %dx%d", chunk, len(acts), len(acts[0]))
		}
		if _, err := p.PredictBatch([][]float32{{1, 2}}); err == nil {
			t.Error("a 2-D observation was accepted")
		}
	}
}

// TestStateBCLearnsReach trains the chapter's BCPolicy, with relative
// actions, on 200 noise-injected expert demonstrations of arm REACH and
// scores it on 100 unseen seeds: the bar is 90%.
func TestStateBCLearnsReach(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for a few seconds")
	}
	b := mustBackend(t)
	f := sim.ArmFactory(arm.DefaultConfig(arm.Reach), false)
	ds, err := data.Generate(f, 200, 1, data.GenOptions{ActionNoise: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.RelativeTo = []int{0, 1, 2, 3, 4, 5, 6}
	p, err := NewMLP(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Fit(ds, 0.1, 1); err != nil {
		t.Fatal(err)
	}
	tc := trainer.DefaultConfig()
	tc.Steps = 1500
	dir := t.TempDir()
	tc.Dir = filepath.Join(dir, "ckpt")
	h, err := trainer.Train(p, tc)
	if err != nil {
		t.Fatal(err)
	}
	r, err := eval.Run(f.NewEnv, func() (eval.Policy, error) { return eval.Chunked(p, 1), nil }, eval.Config{Episodes: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loss %.4g → %.4g at %.0f steps/s; %v", h.TrainLoss[0], h.FinalTrainLoss(), h.StepsPerSec, r)
	if r.SuccessRate < 0.9 {
		t.Errorf("state BC on arm REACH: success %.2f over 100 seeds, want >= 0.9", r.SuccessRate)
	}
	// The checkpoint reloads into a policy that acts the same.
	ck, err := os.ReadDir(tc.Dir)
	if err != nil || len(ck) == 0 {
		t.Fatalf("no checkpoint written: %v", err)
	}
	q, err := Load(b, filepath.Join(tc.Dir, "ckpt-000001500"), nil)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := sim.NewArm(arm.DefaultConfig(arm.Reach), false)
	obs := env.Reset(77)
	a1, _ := p.PredictActionChunk(obs)
	a2, err := q.PredictActionChunk(obs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a1[0] {
		if a1[0][i] != a2[0][i] {
			t.Fatalf("reloaded policy acts differently: %v vs %v", a1[0], a2[0])
		}
	}
}

// TestNewMLPWith: a policy made with the chapter's network trains exactly
// as NewMLP's; another network and loss are the ones that run (in
// training, and when acting), and its checkpoint resumes.
func TestNewMLPWith(t *testing.T) {
	b := mustBackend(t)
	ds, _ := armData(t, 10)
	cfg := DefaultConfig()
	cfg.Hidden = 16
	tc := trainer.DefaultConfig()
	tc.Steps, tc.BatchSize, tc.WarmupSteps = 5, 16, 0
	train := func(net *Network, tc trainer.Config) (*Policy, *trainer.History) {
		t.Helper()
		p, err := NewMLP(b, cfg)
		if net != nil {
			p, err = NewMLPWith(b, cfg, *net)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Fit(ds, 0.2, 1); err != nil {
			t.Fatal(err)
		}
		h, err := trainer.Train(p, tc)
		if err != nil {
			t.Fatal(err)
		}
		return p, h
	}
	_, chapter := train(nil, tc)
	chapterNet := ChapterNetwork()
	_, with := train(&chapterNet, tc)
	for i := range chapter.TrainLoss {
		if chapter.TrainLoss[i] != with.TrainLoss[i] {
			t.Fatalf("step %d: loss %v with ChapterNetwork's functions, %v with NewMLP", i+1, with.TrainLoss[i], chapter.TrainLoss[i])
		}
	}

	// Another network (one linear layer) and loss (mean absolute error).
	var forwards, losses int
	net := Network{
		Forward: func(scope *model.Scope, obs *graph.Node, hidden, out int) *graph.Node {
			forwards++
			return layers.DenseWithBias(scope.In("linear"), obs, out)
		},
		Loss: func(pred, target *graph.Node) *graph.Node {
			losses++
			return graph.ReduceAllMean(graph.Abs(graph.Sub(pred, target)))
		},
	}
	tc.Dir = filepath.Join(t.TempDir(), "ckpt")
	p, h := train(&net, tc)
	if forwards == 0 || losses == 0 {
		t.Errorf("training built the network %d times and the loss %d times: the chapter's ran instead", forwards, losses)
	}
	if h.TrainLoss[0] == chapter.TrainLoss[0] {
		t.Error("the other network trained to the chapter's loss")
	}
	for v := range p.Store().IterVariables() {
		if strings.Contains(v.Path(), "/encoder/") {
			t.Errorf("variable %s: the chapter's network was built", v.Path())
		}
	}
	env, _ := sim.NewArm(arm.DefaultConfig(arm.Reach), false)
	built := forwards
	if _, err := p.PredictActionChunk(env.Reset(3)); err != nil || forwards != built+1 {
		t.Errorf("acting: %v; the network was built %d times, want once more than training's %d", err, forwards, built)
	}
	// Resuming from the checkpoint keeps the network.
	tc.Steps = 8
	if _, h := train(&net, tc); h.ResumedFrom != 5 {
		t.Errorf("resumed from step %d, want 5", h.ResumedFrom)
	}
}
