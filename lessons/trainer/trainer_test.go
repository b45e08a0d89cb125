package trainer_test

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/bc"
	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/sim"
	"github.com/policylab/policylab/lessons/trainer"
)

var armDS *data.Dataset

func dataset(t testing.TB) *data.Dataset {
	t.Helper()
	if armDS == nil {
		ds, err := data.Generate(sim.ArmFactory(arm.DefaultConfig(arm.Reach), false), 30, 1, data.GenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		armDS = ds
	}
	return armDS
}

func newPolicy(t testing.TB) *bc.Policy {
	t.Helper()
	b, err := backend.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg := bc.DefaultConfig()
	cfg.Hidden = 32
	p, err := bc.NewMLP(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Fit(dataset(t), 0.2, 1); err != nil {
		t.Fatal(err)
	}
	return p
}

func smallConfig(dir string) trainer.Config {
	c := trainer.DefaultConfig()
	c.Steps, c.BatchSize, c.WarmupSteps, c.ValEvery, c.CheckpointEvery = 30, 16, 5, 10, 5
	c.Dir = dir
	return c
}

func weights(t *testing.T, p *bc.Policy) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for v := range p.Store().IterVariables() {
		val := v.MustValue()
		if val.DType().IsFloat() && !strings.HasPrefix(v.String(), "/metrics/") {
			out[v.String()] = tensors.MustCopyFlatData[float32](val)
		}
	}
	return out
}

func sameWeights(t *testing.T, a, b map[string][]float32) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d vs %d variables", len(a), len(b))
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || len(va) != len(vb) {
			t.Fatalf("variable %s missing or resized", k)
		}
		for i := range va {
			if va[i] != vb[i] {
				t.Fatalf("variable %s[%d]: %v vs %v", k, i, va[i], vb[i])
			}
		}
	}
}

func TestScheduleInGraphMatchesGo(t *testing.T) {
	p := newPolicy(t)
	c := smallConfig("")
	c.MinLRRatio = 0.1
	h, err := trainer.Train(p, c)
	if err != nil {
		t.Fatal(err)
	}
	lr := p.Store().GetVariable("/optimizers/learning_rate").MustValue().Value().(float32)
	if want := c.LearningRateAt(c.Steps); math.Abs(float64(lr)-want) > 1e-9 {
		t.Errorf("learning rate variable after the last step = %v, schedule says %v", lr, want)
	}
	for _, tc := range []struct {
		step int
		want float64
	}{{1, c.LearningRate / 5}, {5, c.LearningRate}, {30, c.LearningRate * 0.1}} {
		if got := c.LearningRateAt(tc.step); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("LearningRateAt(%d) = %v, want %v", tc.step, got, tc.want)
		}
	}
	if len(h.LR) != c.Steps || h.LR[0] != c.LearningRateAt(1) {
		t.Errorf("history LR = %v", h.LR[:3])
	}
}

// TestResumeIsExact: a run stopped at step 17 and resumed from its
// checkpoint ends with the same weights, bit for bit, as a run never
// stopped.
func TestResumeIsExact(t *testing.T) {
	full := newPolicy(t)
	if _, err := trainer.Train(full, smallConfig(filepath.Join(t.TempDir(), "a"))); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "b")
	first := newPolicy(t)
	c := smallConfig(dir)
	c.StopAfter = 17
	if _, err := trainer.Train(first, c); err != nil {
		t.Fatal(err)
	}
	resumed := newPolicy(t) // a fresh process would start like this
	h, err := trainer.Train(resumed, smallConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	if h.ResumedFrom != 17 || len(h.TrainLoss) != 30 {
		t.Errorf("resumed from %d with %d losses, want 17 and 30", h.ResumedFrom, len(h.TrainLoss))
	}
	sameWeights(t, weights(t, full), weights(t, resumed))
}

// TestKilledMidSave: a training process killed (SIGKILL, no clean-up)
// while writing a checkpoint leaves the previous checkpoint intact, and
// resuming from it reproduces the uninterrupted run exactly.
func TestKilledMidSave(t *testing.T) {
	if dir := os.Getenv("POLICYLAB_KILL_DIR"); dir != "" {
		// Child: train; the checkpoint package kills us in the middle of the
		// save at step 20 (after the weights file, before the rename).
		os.Setenv("POLICYLAB_CHECKPOINT_CRASH", "ckpt-000000020:weights-written")
		_, _ = trainer.Train(newPolicy(t), smallConfig(dir))
		t.Fatal("the child was not killed")
	}
	dir := filepath.Join(t.TempDir(), "ckpt")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledMidSave$")
	cmd.Env = append(os.Environ(), "POLICYLAB_KILL_DIR="+dir)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	latest, err := os.ReadFile(filepath.Join(dir, "latest"))
	if err != nil || strings.TrimSpace(string(latest)) != "ckpt-000000015" {
		t.Fatalf("after the kill, latest = %q (%v), want ckpt-000000015", latest, err)
	}
	resumed := newPolicy(t)
	h, err := trainer.Train(resumed, smallConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	if h.ResumedFrom != 15 {
		t.Errorf("resumed from %d, want 15", h.ResumedFrom)
	}
	full := newPolicy(t)
	if _, err := trainer.Train(full, smallConfig("")); err != nil {
		t.Fatal(err)
	}
	sameWeights(t, weights(t, full), weights(t, resumed))
}

func TestCorruptCheckpoint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	c := smallConfig(dir)
	c.StopAfter = 10
	if _, err := trainer.Train(newPolicy(t), c); err != nil {
		t.Fatal(err)
	}
	w := filepath.Join(dir, "ckpt-000000010", "weights.safetensors")
	b, err := os.ReadFile(w)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = trainer.Train(newPolicy(t), smallConfig(dir))
	if err == nil || !strings.Contains(err.Error(), "weights.safetensors") || !strings.Contains(err.Error(), "resuming from") {
		t.Errorf("resuming from a truncated checkpoint: %v", err)
	}
}

// nanPolicy feeds NaN observations from step 5 on.
type nanPolicy struct {
	*bc.Policy
	calls int
}

func (n *nanPolicy) Inputs(idx []int, val bool) ([]*tensors.Tensor, error) {
	in, err := n.Policy.Inputs(idx, val)
	if !val {
		n.calls++
		if n.calls >= 5 {
			v := tensors.MustCopyFlatData[float32](in[0])
			v[0] = float32(math.NaN())
			in[0] = tensors.FromFlatDataAndDimensions(v, in[0].Shape().Dimensions...)
		}
	}
	return in, err
}

func TestNaNLossStops(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	c := smallConfig(dir)
	c.CheckpointEvery = 2
	_, err := trainer.Train(&nanPolicy{Policy: newPolicy(t)}, c)
	if err == nil || !strings.Contains(err.Error(), "the loss is NaN at step 5") {
		t.Fatalf("err = %v", err)
	}
	latest, _ := os.ReadFile(filepath.Join(dir, "latest"))
	if strings.TrimSpace(string(latest)) != "ckpt-000000004" {
		t.Errorf("latest = %q, want the last good checkpoint ckpt-000000004", latest)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, mod := range []func(*trainer.Config){
		func(c *trainer.Config) { c.Steps = 0 },
		func(c *trainer.Config) { c.BatchSize = -1 },
		func(c *trainer.Config) { c.LearningRate = math.NaN() },
		func(c *trainer.Config) { c.WarmupSteps = c.Steps + 1 },
		func(c *trainer.Config) { c.MinLRRatio = 2 },
		func(c *trainer.Config) { c.ClipNorm = -1 },
	} {
		c := trainer.DefaultConfig()
		mod(&c)
		if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), "trainer: ") {
			t.Errorf("Validate(%+v) = %v", c, err)
		}
	}
}

// TestEMA checks the averaged weights against the average computed in Go
// from the weights after each step: ema_1 = w_1, ema_s = d_s·ema_{s−1} +
// (1−d_s)·w_s with Diffusion Policy's decay schedule.
func TestEMA(t *testing.T) {
	dir := t.TempDir()
	p := newPolicy(t)
	var want map[string][]float32
	e := trainer.DefaultEMA()
	if d := e.Decay(1); d != 0 {
		t.Fatalf("decay at step 1 = %v, want 0", d)
	}
	if d, w := e.Decay(3), 1-math.Pow(3, -0.75); math.Abs(d-w) > 1e-12 {
		t.Fatalf("decay at step 3 = %v, want %v", d, w)
	}
	for s := 1; s <= 4; s++ {
		c := smallConfig(dir)
		c.CheckpointEvery, c.StopAfter, c.EMA = 1, s, e
		if _, err := trainer.Train(p, c); err != nil {
			t.Fatal(err)
		}
		all := weights(t, p)
		d := float32(e.Decay(s))
		if want == nil {
			want = map[string][]float32{}
		}
		n := 0
		for k, w := range all {
			if strings.HasPrefix(k, trainer.EMAScope+"/") || !strings.HasPrefix(k, "/"+p.Kind()+"/") {
				continue
			}
			prev := want[k]
			cur := make([]float32, len(w))
			for i := range w {
				if prev == nil {
					cur[i] = w[i]
				} else {
					cur[i] = d*prev[i] + (1-d)*w[i]
				}
			}
			want[k] = cur
			got, ok := all[trainer.EMAScope+k]
			if !ok {
				t.Fatalf("step %d: no average of %s", s, k)
			}
			for i := range got {
				if math.Abs(float64(got[i]-cur[i])) > 1e-5 {
					t.Fatalf("step %d: %s[%d]: EMA %v, want %v", s, k, i, got[i], cur[i])
				}
			}
			n++
		}
		if n == 0 {
			t.Fatal("no policy variables found")
		}
	}
	bad := trainer.DefaultConfig()
	bad.EMA = &trainer.EMA{Power: 0.75, InvGamma: 1, MaxDecay: 1}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "MaxDecay") {
		t.Fatalf("MaxDecay 1 accepted: %v", err)
	}
}

// TestExecAfterTraining: an evaluation during training acts with the
// weights of that step. A policy's compiled graph that ran at the first
// evaluation would otherwise go on computing with that step's weights
// (GoMLX v0.28.16 model.Exec on the pure-Go backend), so the trainer
// calls Refresh before each evaluation and when it returns. Checked
// against a fresh policy loaded from the checkpoint of the same step.
func TestExecAfterTraining(t *testing.T) {
	dir := t.TempDir()
	p := newPolicy(t)
	probe := [][]float32{dataset(t).Episodes[0].States[0]}
	var during [][]float32
	cfg := smallConfig(dir)
	cfg.EvalEvery = 10
	cfg.Eval = func(step int) (*eval.Result, error) {
		out, err := p.PredictBatch(probe)
		if err != nil {
			return nil, err
		}
		during = append(during, out[0][0])
		return &eval.Result{}, nil
	}
	if _, err := trainer.Train(p, cfg); err != nil {
		t.Fatal(err)
	}
	if len(during) != 3 {
		t.Fatalf("%d evaluations, want 3", len(during))
	}
	b, _ := backend.New()
	for i, step := range []int{10, 20, 30} {
		q, err := bc.Load(b, filepath.Join(dir, fmt.Sprintf("ckpt-%09d", step)), nil)
		if err != nil {
			if step == 10 { // not kept (KeepCheckpoints 3 of every 5 steps)
				continue
			}
			t.Fatal(err)
		}
		want, err := q.PredictBatch(probe)
		if err != nil {
			t.Fatal(err)
		}
		for d := range want[0][0] {
			if math.Abs(float64(want[0][0][d]-during[i][d])) > 1e-5 {
				t.Fatalf("step %d: the evaluation predicted %v, the step's checkpoint predicts %v", step, during[i], want[0][0])
			}
		}
	}
	after, _ := p.PredictBatch(probe)
	if fmt.Sprint(after[0][0]) != fmt.Sprint(during[2]) {
		t.Errorf("after training the policy predicts %v, at the last step it predicted %v", after[0][0], during[2])
	}
}
