package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStateAndVisionSmoke(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"state", []string{"-demos", "20", "-steps", "200", "-episodes", "10"}},
		{"vision", []string{"-vision", "cpu", "-width", "4", "-size", "32", "-shift", "2", "-demos", "4", "-steps", "3", "-episodes", "2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "r.json")
			var buf bytes.Buffer
			if err := run(append(tc.args, "-json", out), &buf); err != nil {
				t.Fatalf("%v\n%s", err, buf.String())
			}
			var r Result
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			if r.Episodes == 0 || r.StepsPerSec <= 0 || !strings.Contains(buf.String(), "| policy |") {
				t.Fatalf("result %+v, output:\n%s", r, buf.String())
			}
			if tc.name == "state" && r.SuccessRate < 0.5 {
				t.Errorf("state BC on 20 DART demos, 200 steps: success %.0f%%, want >= 50%%", 100*r.SuccessRate)
			}
		})
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-vision", "nonsense"}, {"-task", "fly"}, {"-vision", "cpu", "-norm", "layer"}} {
		var buf bytes.Buffer
		if err := run(args, &buf); err == nil || !strings.Contains(err.Error(), args[len(args)-1]) {
			t.Errorf("%v: error %v, want one naming %q", args, err, args[len(args)-1])
		}
	}
}
