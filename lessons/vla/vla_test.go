package vla

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/checkpoint"
	"github.com/policylab/policylab/lessons/lora"
	"github.com/policylab/policylab/lessons/sim"
	"github.com/policylab/policylab/lessons/trainer"
)

func testBackend(t *testing.T) compute.Backend {
	t.Helper()
	b, err := backend.New()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tiny is a model small enough to train in a test.
func tiny(head string) Config {
	c := DefaultConfig()
	c.Dim, c.Layers, c.Heads, c.MLPRatio = 16, 1, 2, 2
	c.ImageSize, c.PatchSize, c.Chunk, c.Head, c.Bins = 8, 4, 4, head, 32
	return c
}

func TestValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := lora.ChapterConfig()
	bad.Targets = []string{"query"}
	tests := []struct {
		name  string
		edit  func(c *Config)
		field string
	}{
		{"zero width", func(c *Config) { c.Dim = 0 }, "Dim"},
		{"heads not dividing", func(c *Config) { c.Heads = 5 }, "Heads"},
		{"zero layers", func(c *Config) { c.Layers = 0 }, "Layers"},
		{"patch not dividing", func(c *Config) { c.PatchSize = 5 }, "PatchSize"},
		{"blind to the scene", func(c *Config) { c.ImageSize, c.ObjectTokens = 0, false }, "ObjectTokens"},
		{"no room for [CLS]", func(c *Config) { c.MaxTokens = 1 }, "MaxTokens"},
		{"zero chunk", func(c *Config) { c.Chunk = 0 }, "Chunk"},
		{"unknown head", func(c *Config) { c.Head = "softmax" }, "Head"},
		{"unknown loss", func(c *Config) { c.Loss = "huber" }, "Loss"},
		{"one bin", func(c *Config) { c.Head, c.Bins = HeadBins, 1 }, "Bins"},
		{"LoRA on no layer", func(c *Config) { c.LoRA = &bad }, "query"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), "vla: ") || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("Validate: %v, want an error naming %s", err, tc.field)
			}
		})
	}
}

func TestArmFeatures(t *testing.T) {
	tests := []struct {
		task    Task
		colours [2]int // index of the one-hot colour of each object; -1 absent
	}{
		{PretrainTasks()[0], [2]int{1, -1}},
		{PretrainTasks()[1], [2]int{0, 2}},
		{HeldOutTask(), [2]int{0, 2}},
	}
	for _, tc := range tests {
		env, err := tc.task.Factory().NewEnv()
		if err != nil {
			t.Fatal(err)
		}
		obs := env.Reset(3)
		if obs.Instruction != tc.task.Instruction {
			t.Fatalf("%s: instruction %q", tc.task.Name, obs.Instruction)
		}
		f, err := ArmFeatures(obs.State)
		if err != nil {
			t.Fatal(err)
		}
		for o, c := range tc.colours {
			row := f.Objects[o*ObjectDim : (o+1)*ObjectDim]
			if c < 0 {
				if f.Present[o] != 0 {
					t.Errorf("%s: object %d present", tc.task.Name, o)
				}
				continue
			}
			if f.Present[o] != 1 || row[6+c] != 1 {
				t.Errorf("%s: object %d: present %v, colour %v, want colour %d", tc.task.Name, o, f.Present[o], row[6:], c)
			}
			for k := 0; k < 3; k++ {
				if row[k] != obs.State[17+3*o+k] || row[3+k] != obs.State[23+3*o+k] {
					t.Errorf("%s: object %d coordinate %d misplaced", tc.task.Name, o, k)
				}
			}
		}
		// The instruction's one-hot entries never reach the model.
		other := append([]float32(nil), obs.State...)
		other[29], other[30] = other[30], other[29]
		g, _ := ArmFeatures(other)
		if !equal(f.Proprio, g.Proprio) || !equal(f.Objects, g.Objects) {
			t.Errorf("%s: features depend on the state's instruction entries", tc.task.Name)
		}
	}
	if _, err := ArmFeatures(make([]float32, 5)); err == nil || !strings.Contains(err.Error(), "5 values") {
		t.Errorf("short state: %v", err)
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func maxDiff(a, b [][][]float32) float64 {
	d := 0.0
	for i := range a {
		for k := range a[i] {
			for j := range a[i][k] {
				d = max(d, math.Abs(float64(a[i][k][j]-b[i][k][j])))
			}
		}
	}
	return d
}

// observations of each task, for comparing predictions.
func observations(t *testing.T, tasks []Task) []sim.Obs {
	t.Helper()
	var out []sim.Obs
	for _, task := range tasks {
		env, err := task.Factory().NewEnv()
		if err != nil {
			t.Fatal(err)
		}
		for s := int64(0); s < 3; s++ {
			out = append(out, env.Reset(500+s))
		}
	}
	return out
}

// trainTiny trains a tiny policy for steps on a few demonstrations of
// every pretraining task, checkpointing in dir.
func trainTiny(t *testing.T, b compute.Backend, cfg Config, steps int, dir string) *Policy {
	t.Helper()
	ds, err := Demos(PretrainTasks(), 8, 1)
	if err != nil {
		t.Fatal(err)
	}
	tc := trainer.DefaultConfig()
	tc.Steps, tc.BatchSize, tc.Seed, tc.Dir, tc.WarmupSteps = steps, 16, 1, dir, 0
	p, h, err := Train(b, cfg, ds, tc)
	if err != nil {
		t.Fatal(err)
	}
	if l := h.FinalTrainLoss(); math.IsNaN(l) || l <= 0 {
		t.Fatalf("final loss %v", l)
	}
	return p
}

// TestTrainSaveLoad trains each head a little, checks that the loss fell,
// and that the checkpoint loads into a policy predicting the same chunks.
func TestTrainSaveLoad(t *testing.T) {
	b := testBackend(t)
	for _, head := range []string{HeadRegression, HeadBins} {
		t.Run(head, func(t *testing.T) {
			dir := t.TempDir()
			p := trainTiny(t, b, tiny(head), 60, dir)
			obs := observations(t, PretrainTasks())
			want, err := p.PredictBatch(obs)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) != len(obs) || len(want[0]) != 4 || len(want[0][0]) != 7 {
				t.Fatalf("chunks %d×%d×%d, want %d×4×7", len(want), len(want[0]), len(want[0][0]), len(obs))
			}
			latest, err := checkpoint.Latest(dir)
			if err != nil {
				t.Fatal(err)
			}
			q, err := Load(b, latest)
			if err != nil {
				t.Fatal(err)
			}
			got, err := q.PredictBatch(obs)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(want, got); d > 1e-5 {
				t.Errorf("loaded policy differs by %g", d)
			}
			one, err := q.PredictActionChunk(obs[4])
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff([][][]float32{one}, want[4:5]); d > 1e-5 {
				t.Errorf("one observation alone differs from the batch by %g", d)
			}
		})
	}
}

// TestLoadRejectsMismatch edits a checkpoint's config so it no longer fits
// its weights: Load must say so and name the variable.
func TestLoadRejectsMismatch(t *testing.T) {
	b := testBackend(t)
	dir := t.TempDir()
	trainTiny(t, b, tiny(HeadRegression), 2, dir)
	latest, _ := checkpoint.Latest(dir)
	path := filepath.Join(latest, "policy.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var c Config
	if err := json.Unmarshal(m["config"], &c); err != nil {
		t.Fatal(err)
	}
	c.Dim = 32
	m["config"], _ = json.Marshal(c)
	raw, _ = json.Marshal(m)
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(b, latest)
	if err == nil || !strings.Contains(err.Error(), "vla: ") || !strings.Contains(err.Error(), latest) {
		t.Fatalf("Load of a mismatched checkpoint: %v", err)
	}
	t.Log(err)
}

// TestAdaptAndMerge: fresh adapters change nothing; LoRA training changes
// only adapters and the head; saved adapters load back onto the base;
// merging them gives the adapted model's outputs.
func TestAdaptAndMerge(t *testing.T) {
	b := testBackend(t)
	dir := t.TempDir()
	base := trainTiny(t, b, tiny(HeadRegression), 30, dir)
	obs := observations(t, append(PretrainTasks(), HeldOutTask()))
	before, err := base.PredictBatch(obs)
	if err != nil {
		t.Fatal(err)
	}
	m := LoRAMethod(4)
	p, trainable, total, err := Adapt(b, dir, m)
	if err != nil {
		t.Fatal(err)
	}
	// Adapters on q and v of the one block.
	D := 16
	want := 2 * 4 * (D + D)
	if trainable != want || total <= trainable {
		t.Errorf("trainable %d of %d, want %d", trainable, total, want)
	}
	fresh, err := p.PredictBatch(obs)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(before, fresh); d > 1e-5 {
		t.Errorf("fresh adapters (B = 0) changed the outputs by %g", d)
	}
	values := snapshot(t, p)

	// The adapters' A is drawn from Method.Seed: the same seed gives the
	// same adapters, another seed others.
	adapters := func(seed int64) map[string][]float32 {
		m := LoRAMethod(4)
		m.Seed = seed
		q, _, _, err := Adapt(b, dir, m)
		if err != nil {
			t.Fatal(err)
		}
		a := map[string][]float32{}
		for path, v := range snapshot(t, q) {
			if lora.IsAdapter(path) {
				a[path] = v
			}
		}
		return a
	}
	first, again, other := adapters(0), adapters(1), adapters(2)
	if len(first) != 4 {
		t.Errorf("%d adapter variables, want 4 (A and B of q and v)", len(first))
	}
	for path, v := range first {
		if !equal(v, again[path]) {
			t.Errorf("%s: seed 0 (= 1) and seed 1 give different adapters", path)
		}
		if strings.HasSuffix(path, "/A") && equal(v, other[path]) {
			t.Errorf("%s: seeds 1 and 2 give the same A", path)
		}
	}
	ds, err := Demos([]Task{HeldOutTask()}, 8, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Fit(ds, 0.05, 1); err != nil {
		t.Fatal(err)
	}
	tc := trainer.DefaultConfig()
	tc.Steps, tc.BatchSize, tc.Seed, tc.WarmupSteps = 20, 16, 1, 0
	if _, err := trainer.Train(p, tc); err != nil {
		t.Fatal(err)
	}
	changed := 0
	for path, v := range snapshot(t, p) {
		old, ok := values[path]
		if !ok {
			continue
		}
		if !equal(old, v) {
			changed++
			if !lora.IsAdapter(path) {
				t.Errorf("frozen %s changed", path)
			}
		}
	}
	if changed == 0 {
		t.Error("training changed nothing")
	}
	tuned, err := p.PredictBatch(obs)
	if err != nil {
		t.Fatal(err)
	}
	if maxDiff(tuned, before) < 1e-4 {
		t.Error("fine-tuning left the outputs as they were")
	}

	// Adapters alone on disk, loaded onto a fresh copy of the base.
	path := filepath.Join(t.TempDir(), "adapters.safetensors")
	if err := p.SaveAdapters(path); err != nil {
		t.Fatal(err)
	}
	q, _, _, err := Adapt(b, dir, Method{Name: "base", Trains: TrainHead})
	if err != nil {
		t.Fatal(err)
	}
	// The head trains with the adapters and is saved beside them: without
	// it, loading fails and names the missing file.
	head, _ := os.ReadFile(HeadFile(path))
	os.Remove(HeadFile(path))
	if err := q.LoadAdapters(path); err == nil || !strings.Contains(err.Error(), HeadFile(path)) {
		t.Errorf("adapters without their head: %v", err)
	}
	os.WriteFile(HeadFile(path), head, 0o644)
	if err := q.LoadAdapters(path); err != nil {
		t.Fatal(err)
	}
	loaded, err := q.PredictBatch(obs)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(tuned, loaded); d > 1e-5 {
		t.Errorf("base + loaded adapters differ from the fine-tuned policy by %g", d)
	}
	if err := q.Merge(); err != nil {
		t.Fatal(err)
	}
	merged, err := q.PredictBatch(obs)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(tuned, merged); d > 1e-4 {
		t.Errorf("merged differs from adapted by %g", d)
	}
	for v := range q.Store().IterVariables() {
		if lora.IsAdapter(v.Path()) {
			t.Errorf("adapter %s left after Merge", v.Path())
		}
	}
}

// snapshot copies every float variable of the policy.
func snapshot(t *testing.T, p *Policy) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for v := range p.Store().IterVariables() {
		if !strings.HasPrefix(v.Path(), "/"+Kind+"/") {
			continue
		}
		val, err := v.Value()
		if err != nil {
			t.Fatal(err)
		}
		out[v.Path()] = tensors.MustCopyFlatData[float32](val)
	}
	return out
}

// TestIgnoreInstruction: the blind model's actions do not depend on the
// words; the VLA's do.
func TestIgnoreInstruction(t *testing.T) {
	b := testBackend(t)
	for _, blind := range []bool{false, true} {
		cfg := tiny(HeadRegression)
		cfg.IgnoreInstruction = blind
		p := trainTiny(t, b, cfg, 2, "")
		obs := observations(t, PretrainTasks()[1:2])
		swapped := append([]sim.Obs(nil), obs...)
		for i := range swapped {
			swapped[i].Instruction = arm.InstructionBlue
		}
		a, err := p.PredictBatch(obs)
		if err != nil {
			t.Fatal(err)
		}
		c, err := p.PredictBatch(swapped)
		if err != nil {
			t.Fatal(err)
		}
		d := maxDiff(a, c)
		if blind && d > 1e-6 {
			t.Errorf("blind policy: the instruction changed the actions by %g", d)
		}
		if !blind && d < 1e-6 {
			t.Errorf("VLA: red and blue gave the same actions")
		}
	}
}

func TestDemos(t *testing.T) {
	ds, err := Demos(append(PretrainTasks(), HeldOutTask()), 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Episodes) != 12 || len(ds.Tasks) != 4 {
		t.Fatalf("%s", ds.Summary())
	}
	for i, ep := range ds.Episodes {
		if ep.Index != i || ep.Task != append(PretrainTasks(), HeldOutTask())[i/3].Instruction || !ep.Success {
			t.Errorf("episode %d: index %d, task %q, success %v", i, ep.Index, ep.Task, ep.Success)
		}
	}
}

// TestDeafExpert: the expert deaf to the words solves the red task and
// fails the blue one, which share their scenes.
func TestDeafExpert(t *testing.T) {
	r, err := DeafExpert(PretrainTasks(), 20)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, x := range r {
		got[x.Task] = x.Result.SuccessRate
	}
	if got["reach"] < 0.9 || got["red"] < 0.9 || got["blue"] > 0.1 {
		t.Errorf("deaf expert success %v: want reach and red solved, blue failed", got)
	}
}

// TestStudy runs a two-method study on a tiny model: the table has a row
// per run, LoRA trains a smaller share than full fine-tuning, and the
// chart renders.
func TestStudy(t *testing.T) {
	b := testBackend(t)
	dir := t.TempDir()
	trainTiny(t, b, tiny(HeadRegression), 10, dir)
	runs, err := Study(b, StudyConfig{Pretrained: dir, Methods: []Method{LoRAMethod(2), {Name: "full", Trains: TrainAll}},
		Demos: 6, Steps: 5, BatchSize: 8, Episodes: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 || runs[0].Method != "zero-shot" || runs[0].Trainable != 0 {
		t.Fatalf("runs %v", runs)
	}
	lo, fu := runs[1], runs[2]
	if !(lo.Trainable > 0 && lo.Trainable < fu.Trainable && fu.Trainable == fu.Total) || lo.Wall <= 0 || lo.PeakHeap == 0 {
		t.Errorf("LoRA trains %d of %d (%v, heap %d), full %d of %d", lo.Trainable, lo.Total, lo.Wall, lo.PeakHeap, fu.Trainable, fu.Total)
	}
	table := StudyTable(runs)
	if strings.Count(table, "\n") != 5 || !strings.Contains(table, "LoRA r=2") {
		t.Errorf("table:\n%s", table)
	}
	if StudyChart("study", runs) == nil {
		t.Error("no chart")
	}
	if _, _, _, err := Adapt(b, dir, Method{Name: "bad", Trains: "everything"}); err == nil {
		t.Error("Adapt accepted an unknown method")
	}
}

func TestSeedTable(t *testing.T) {
	recs := []SeedRecord{
		{Seed: 7, Method: "LoRA r=8", Episodes: 100, Success: 0.85},
		{Seed: 7, Method: "full", Episodes: 100, Success: 0.90},
		{Seed: 8, Method: "LoRA r=8", Episodes: 100, Success: 0.80},
		{Seed: 8, Method: "full", Episodes: 100, Success: 0.86},
	}
	tests := []struct {
		name string
		recs []SeedRecord
		want []string
	}{
		{"two seeds", recs, []string{
			"| method | seed 7 | seed 8 | mean | of full's mean |",
			"| LoRA r=8 | 85% | 80% | 82.5% | 94% |",
			"| full | 90% | 86% | 88.0% | 100% |"}},
		{"no full", recs[:1], []string{"| LoRA r=8 | 85% | 85.0% | – |"}},
		{"a seed missing", append(recs[:3:3], SeedRecord{Seed: 9, Method: "full", Success: 1}), []string{
			"| LoRA r=8 | 85% | 80% | – | 82.5% | 87% |"}},
	}
	for _, tc := range tests {
		got := SeedTable(tc.recs)
		for _, w := range tc.want {
			if !strings.Contains(got, w+"\n") {
				t.Errorf("%s: table lacks %q:\n%s", tc.name, w, got)
			}
		}
	}
}
