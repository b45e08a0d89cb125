package main

import "testing"

// The probes that must never fault run in process: a store of any length
// up to a whole vector, and the control (a whole-vector load). Partial
// loads are the ones that may fault, so only the command's child
// processes run them.
func TestSafeProbes(t *testing.T) {
	lanes := vectorLanes()
	if lanes == 0 {
		if err := probe("store", 1); err == nil {
			t.Fatal("probe without GOEXPERIMENT=simd returned no error")
		}
		t.Log("built without GOEXPERIMENT=simd: only the refusal is checked")
		return
	}
	tests := []struct {
		op      string
		k       int
		wantErr bool
	}{
		{"store", 1, false},
		{"store", lanes / 2, false},
		{"store", lanes - 1, false},
		{"store", lanes, false},
		{"load", lanes, false},
		{"add", 1, true},
	}
	for _, tc := range tests {
		err := probe(tc.op, tc.k)
		if (err != nil) != tc.wantErr {
			t.Errorf("probe(%q, %d) = %v, want error %v", tc.op, tc.k, err, tc.wantErr)
		}
	}
}

func TestFirstLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"one", "one"},
		{"unexpected fault address 0x1\nfatal error: fault\n", "unexpected fault address 0x1"},
	} {
		if got := firstLine([]byte(tc.in)); got != tc.want {
			t.Errorf("firstLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
