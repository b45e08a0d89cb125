package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/chunking"
)

// TestRun trains a small chunked BC for the arm and compares two executors
// at two latencies, writing the table and the JSON rows.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "rows.json")
	var stdout, stderr bytes.Buffer
	err := run([]string{"-policy", "bc", "-env", "arm-reach", "-ckpt", filepath.Join(dir, "ckpt"), "-train-steps", "30",
		"-episodes", "3", "-executors", "chapter,async", "-latency", "0,250ms", "-json", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "| BC, arm-reach | asynchronous (every 8) | 250 ms | 2 |") {
		t.Errorf("no table row for async at 250 ms:\n%s", stdout.String())
	}
	var o Output
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatal(err)
	}
	if len(o.Rows) != 4 || o.Rows[3].LatencyMs != 250 || o.Rows[3].Delay != 2 || o.Rows[3].Episodes != 3 {
		t.Errorf("rows %+v", o.Rows)
	}
	for _, bad := range [][]string{
		{"-executors", "smooth"}, {"-latency", "fast"}, {"-env", "moon"}, {"-policy", "vla"},
		{"-policy", "dp", "-ckpt", dir},
	} {
		if err := run(bad, &stdout, &stderr); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestRunDiffusionArm compares two executors on a diffusion policy of the
// arm (chunking.ArmDiffusion, a few steps) loaded from its checkpoint.
func TestRunDiffusionArm(t *testing.T) {
	dir := t.TempDir()
	if _, err := chunking.ArmDiffusion(backend.MustNew(), dir, 2, nil); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err := run([]string{"-policy", "dp", "-env", "arm-reach", "-ckpt", dir, "-episodes", "2", "-max-steps", "12",
		"-executors", "chapter,ensemble", "-latency", "0"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, want := range []string{"diffusion policy " + dir, "| DP, arm-reach | temporal ensemble (m = 0.01) | 0 ms | 0 |"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("no %q in the output:\n%s", want, stdout.String())
		}
	}
	if err := run([]string{"-policy", "dp", "-env", "pusht", "-ckpt", dir}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "32-D observations") {
		t.Errorf("the arm's policy on Push-T: %v", err)
	}
}
