package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestVisionSmoke trains a tiny image-based policy (ResNet width 4 on
// 32×32 images, average pool, U-Net 16/32) for a few steps on 3 demos and
// scores it on 2 episodes.
func TestVisionSmoke(t *testing.T) {
	out := filepath.Join(t.TempDir(), "r.json")
	var buf bytes.Buffer
	args := []string{"-vision", "cpu", "-width", "4", "-size", "32", "-pool", "avg", "-shift", "2", "-down", "16,32",
		"-demos", "3", "-steps", "3", "-batch", "8", "-eval-every", "3", "-episodes", "2", "-json", out}
	if err := run(args, &buf); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	r := readResult(t, out)
	var cfg struct {
		Vision *struct {
			ImageSize int `json:"image_size"`
		} `json:"vision"`
	}
	if err := json.Unmarshal(r.Config, &cfg); err != nil {
		t.Fatal(err)
	}
	if r.Vision != "cpu" || r.Obs != "state" || cfg.Vision == nil || cfg.Vision.ImageSize != 32 || len(r.EvalScore) != 1 ||
		!strings.Contains(buf.String(), "dp (vision cpu)") {
		t.Fatalf("result %+v, config %s, output:\n%s", r, r.Config, buf.String())
	}
}

func TestVisionBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-vision", "cpu", "-obs", "keypoints"}, "-obs state"},
		{[]string{"-vision", "tpu"}, "tpu"},
		{[]string{"-vision", "cpu", "-policy", "bc"}, "-policy dp"},
		{[]string{"-width", "4"}, "-vision"},
		{[]string{"-vision", "cpu", "-size", "32"}, "spatial softmax"},
	} {
		var buf bytes.Buffer
		if err := run(tc.args, &buf); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

// TestStateSmoke runs the state-based diffusion policy and the BC contrast
// at toy sizes through the whole command: demos, training with periodic
// evaluation, the paper's score summary and the JSON result.
func TestStateSmoke(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"dp", []string{"-down", "16,32", "-demos", "4", "-steps", "6", "-batch", "8", "-eval-every", "3", "-episodes", "2", "-last", "2"}},
		{"bc", []string{"-policy", "bc", "-demos", "4", "-steps", "20", "-eval-every", "10", "-episodes", "2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "r.json")
			var buf bytes.Buffer
			if err := run(append(tc.args, "-json", out), &buf); err != nil {
				t.Fatalf("%v\n%s", err, buf.String())
			}
			r := readResult(t, out)
			if r.Policy != tc.name || len(r.EvalScore) != 2 || r.MaxScore < r.MeanLast || r.MaxScore <= 0 ||
				!strings.Contains(buf.String(), "| ours: "+tc.name+" |") || !strings.Contains(buf.String(), "paper: DP-CNN") {
				t.Fatalf("result %+v, output:\n%s", r, buf.String())
			}
		})
	}
}

// TestArmSmoke runs both policies on arm REACH at toy sizes: BC's joint
// targets relative to the joint positions, the diffusion policy's
// absolute, our rows without the paper's Push-T figures.
func TestArmSmoke(t *testing.T) {
	for _, tc := range []struct {
		name     string
		relative int // joint targets relative to this many state elements
		args     []string
	}{
		{"dp", 0, []string{"-config", "arm", "-down", "16,32", "-demos", "4", "-steps", "4", "-batch", "8", "-eval-every", "2", "-episodes", "2", "-last", "2"}},
		{"bc", 7, []string{"-policy", "bc", "-demos", "4", "-steps", "20", "-eval-every", "10", "-episodes", "2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "r.json")
			var buf bytes.Buffer
			if err := run(append(tc.args, "-env", "arm-reach", "-json", out), &buf); err != nil {
				t.Fatalf("%v\n%s", err, buf.String())
			}
			r := readResult(t, out)
			var cfg struct {
				RelativeTo []int `json:"relative_to"`
				StateDim   int   `json:"state_dim"`
			}
			if err := json.Unmarshal(r.Config, &cfg); err != nil {
				t.Fatal(err)
			}
			if r.Env != "arm-reach" || r.Policy != tc.name || len(r.EvalScore) != 2 || len(cfg.RelativeTo) != tc.relative ||
				cfg.StateDim != 32 || !strings.Contains(buf.String(), "| ours: "+tc.name+" |") || strings.Contains(buf.String(), "paper:") {
				t.Fatalf("result %+v, config %s, output:\n%s", r, r.Config, buf.String())
			}
		})
	}
}

func TestStateBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-config", "huge"}, "huge"},
		{[]string{"-policy", "lstm"}, "lstm"},
		{[]string{"-obs", "pixels"}, "pixels"},
		{[]string{"-down", "64,x"}, "64,x"},
		{[]string{"-network", "rnn"}, "rnn"},
		{[]string{"-eta", "-0.5"}, "Eta = -0.5"},
		{[]string{"-env", "moon"}, "moon"},
		{[]string{"-env", "arm-reach", "-obs", "state"}, "-obs is for -env pusht"},
		{[]string{"-env", "arm-reach", "-vision", "cpu"}, "-vision is for -env pusht"},
	} {
		var buf bytes.Buffer
		if err := run(tc.args, &buf); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

// TestScoreCheckpoints scores the checkpoints a run left, fresh from disk.
func TestScoreCheckpoints(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	if err := run([]string{"-down", "16,32", "-demos", "4", "-steps", "4", "-batch", "8", "-episodes", "2", "-ckpt", dir}, &buf); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	buf.Reset()
	if err := run([]string{"-score", dir, "-episodes", "2", "-last", "2"}, &buf); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if !strings.Contains(buf.String(), "ckpt-000000004 (DDIM-10, eta 0): pusht: 2 episodes") || !strings.Contains(buf.String(), "checkpoints: max") {
		t.Fatalf("output:\n%s", buf.String())
	}
	// The sampler flags replace the checkpoint's sampler, as the paper
	// scores with DDPM-100; a bad one names the value and the checkpoint.
	js := filepath.Join(t.TempDir(), "score.json")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-method", "ddpm", "-json", js}, "ckpt-000000004 (DDPM-100): pusht: 2 episodes"},
		{[]string{"-inference-steps", "4", "-eta", "1"}, "ckpt-000000004 (DDIM-4, eta 1): pusht: 2 episodes"},
	} {
		buf.Reset()
		if err := run(append([]string{"-score", dir, "-episodes", "2"}, tc.args...), &buf); err != nil || !strings.Contains(buf.String(), tc.want) {
			t.Errorf("%v: error %v, want output with %q:\n%s", tc.args, err, tc.want, buf.String())
		}
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var sr ScoreResult
	if err := json.Unmarshal(b, &sr); err != nil {
		t.Fatal(err)
	}
	if n := len(sr.Checkpoints); n < 2 || sr.Checkpoints[n-1] != "ckpt-000000004" || len(sr.Score) != n || len(sr.Success) != n ||
		sr.Sampler[n-1] != "DDPM-100" || sr.Episodes != 2 || sr.MaxScore <= 0 || sr.MaxScore < sr.MeanLast {
		t.Errorf("-score -json wrote %s", b)
	}
	// Two runs (here the same directory twice) average as the paper's seeds.
	buf.Reset()
	if err := run([]string{"-score", dir + "," + dir, "-method", "ddpm", "-episodes", "2", "-json", js}, &buf); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if b, err = os.ReadFile(js); err != nil {
		t.Fatal(err)
	}
	var ss SeedsScore
	if err := json.Unmarshal(b, &ss); err != nil {
		t.Fatal(err)
	}
	if len(ss.Runs) != 2 || ss.Runs[1].Dir != dir || math.Abs(ss.MaxScore-sr.MaxScore) > 1e-9 || math.Abs(ss.MeanLast-sr.MeanLast) > 1e-9 ||
		ss.MaxRange != [2]float64{sr.MaxScore, sr.MaxScore} || !strings.Contains(buf.String(), "2 runs, averaged as the paper") {
		t.Errorf("two runs of the same checkpoints: want their one-run figures, got %s\noutput:\n%s", b, buf.String())
	}
	if err := run([]string{"-score", ","}, &buf); err == nil || !strings.Contains(err.Error(), "no directory") {
		t.Errorf("-score ',': %v", err)
	}
	if err := run([]string{"-score", dir, "-method", "ddim", "-inference-steps", "1000"}, &buf); err == nil ||
		!strings.Contains(err.Error(), "InferenceSteps = 1000") || !strings.Contains(err.Error(), filepath.Join(dir, "ckpt-")) {
		t.Errorf("1000 DDIM steps of 100: %v", err)
	}
	if err := run([]string{"-score", t.TempDir()}, &buf); err == nil || !strings.Contains(err.Error(), "no ckpt-*") {
		t.Errorf("scoring an empty directory: %v", err)
	}
}

// readResult reads the -json output.
func readResult(t *testing.T, path string) Result {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}
