// Tests of the headless notebook runner (kernel/runnb.py) through the real
// GoNB kernel: failures are reported with the notebook and the cell, a bad
// GOMLX_BACKEND is a clear error, and notebooks with outputs are refused.
package kernel_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func root(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// needJupyter skips (or, under `make test`, fails) when Jupyter and GoNB are
// not installed.
func needJupyter(t *testing.T) {
	t.Helper()
	var missing []string
	for _, bin := range []string{"/usr/bin/python3", "gonb", "jupyter"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import nbclient, nbconvert").Run(); err != nil {
		missing = append(missing, "python3-nbclient/jupyter-nbconvert")
	}
	if len(missing) == 0 {
		return
	}
	msg := "not installed: " + strings.Join(missing, ", ") + " (run make setup)"
	if os.Getenv("POLICYLAB_REQUIRE_JUPYTER") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func runnb(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	r := root(t)
	cmd := exec.Command("/usr/bin/python3", append([]string{filepath.Join(r, "kernel", "runnb.py"), "--out", t.TempDir()}, args...)...)
	cmd.Dir = r
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestRunnerReportsLocatedErrors(t *testing.T) {
	needJupyter(t)
	tests := []struct {
		name     string
		notebook string
		env      []string
		want     []string // all must appear in the output
		notWant  []string
	}{
		{
			name:     "compile error",
			notebook: "kernel/testdata/fail.ipynb",
			want:     []string{"FAILED: kernel/testdata/fail.ipynb: cell 4 (code cell 3: 'fmt.Println(undefinedThing)')", "undefined: undefinedThing", "notebooks: 0 passed, 1 failed"},
			notWant:  []string{"never reached"},
		},
		{
			name:     "panic",
			notebook: "kernel/testdata/panic.ipynb",
			want:     []string{"FAILED: kernel/testdata/panic.ipynb: cell 3 (code cell 2", "panic: assignment to entry in nil map", "notebooks: 0 passed, 1 failed"},
		},
		{
			name:     "bad backend",
			notebook: "kernel/testdata/start.ipynb",
			env:      []string{"GOMLX_BACKEND=nonsense"},
			want: []string{"FAILED: kernel/testdata/start.ipynb: cell 3 (code cell 2", `GOMLX_BACKEND="nonsense"`,
				`unknown backend "nonsense"`, "available backends: go", "notebooks: 0 passed, 1 failed"},
		},
		{
			name:     "good backend",
			notebook: "kernel/testdata/start.ipynb",
			env:      []string{"GOMLX_BACKEND=go"},
			want:     []string{"notebooks: 1 passed, 0 failed"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runnb(t, tc.env, tc.notebook)
			wantFail := !strings.Contains(strings.Join(tc.want, ""), "1 passed")
			if wantFail && err == nil {
				t.Errorf("runner exited 0 on a failing notebook:\n%s", out)
			}
			if !wantFail && err != nil {
				t.Errorf("runner failed: %v\n%s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestRunnerRefusesNotebooksWithOutputs(t *testing.T) {
	needJupyter(t)
	out, err := runnb(t, nil, "--check-clean-only", "kernel/testdata/dirty.ipynb", "kernel/testdata/fail.ipynb")
	if err == nil {
		t.Fatalf("a notebook with outputs passed the check:\n%s", out)
	}
	if !strings.Contains(out, "DIRTY: kernel/testdata/dirty.ipynb: cells [2]") || strings.Contains(out, "DIRTY: kernel/testdata/fail.ipynb") {
		t.Errorf("wrong report:\n%s", out)
	}
}

// TestCommittedNotebooksAreClean checks every notebook in the repository
// (course, exercises, solutions) carries no outputs.
func TestCommittedNotebooksAreClean(t *testing.T) {
	needJupyter(t)
	r := root(t)
	var nbs []string
	for _, dir := range []string{"notebooks", "exercises", "solutions"} {
		_ = filepath.Walk(filepath.Join(r, dir), func(p string, info os.FileInfo, err error) error {
			if err == nil && strings.HasSuffix(p, ".ipynb") && !strings.Contains(p, ".ipynb_checkpoints") {
				nbs = append(nbs, p)
			}
			return nil
		})
	}
	if len(nbs) < 2 {
		t.Fatalf("found only %d notebooks", len(nbs))
	}
	out, err := runnb(t, nil, append([]string{"--check-clean-only"}, nbs...)...)
	if err != nil {
		t.Errorf("%v\n%s", err, out)
	}
}
