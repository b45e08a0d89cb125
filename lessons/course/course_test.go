package course

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestCheckSetup(t *testing.T) {
	s, err := CheckSetup()
	if err != nil {
		t.Fatalf("CheckSetup: %v\n%v", err, s)
	}
	if s.MatMul != [2]float32{17, 39} {
		t.Errorf("MatMul = %v", s.MatMul)
	}
	if len(s.FitLosses) != s.FitSteps || s.FitLosses[len(s.FitLosses)-1] > s.FitLosses[0]/100 {
		t.Errorf("loss did not fall 100x: first %v last %v", s.FitLosses[0], s.FitLosses[len(s.FitLosses)-1])
	}
	out := s.String()
	for _, want := range []string{"PolicyLab backend:", "matrix product", "training"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// TestStartRejectsBadBackend runs Start in a child process (the backend is
// created once per process) with GOMLX_BACKEND=nonsense.
func TestStartRejectsBadBackend(t *testing.T) {
	if os.Getenv("POLICYLAB_CHILD_START") == "1" {
		Start()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStartRejectsBadBackend$")
	cmd.Env = append(os.Environ(), "POLICYLAB_CHILD_START=1", "GOMLX_BACKEND=nonsense")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("Start with GOMLX_BACKEND=nonsense succeeded:\n%s", out)
	}
	for _, want := range []string{`GOMLX_BACKEND="nonsense"`, "available backends: go", "xla"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestOutDir(t *testing.T) {
	d, err := OutDir("test-outdir")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(d)
	if fi, err := os.Stat(d); err != nil || !fi.IsDir() || !strings.HasSuffix(d, "/out/test-outdir") {
		t.Errorf("OutDir = %q, %v", d, err)
	}
	t.Setenv("GONB_DIR", "/")
	t.Chdir("/")
	if _, err := OutDir("x"); err == nil {
		t.Error("OutDir outside the repository succeeded")
	}
}
