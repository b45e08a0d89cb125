package paradigms

import (
	"fmt"
	"os"
	"testing"

	"github.com/policylab/policylab/lessons/backend"
)

// TestMain creates the shared backend before anything runs: GoMLX's Go
// backend prints a line when it starts, which must not land in an Example's
// output.
func TestMain(m *testing.M) {
	if _, err := backend.New(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// testPolicy builds a policy on the shared backend or fails the test.
func testPolicy(t *testing.T, cfg ArchConfig) *Policy {
	t.Helper()
	b, err := backend.New()
	if err != nil {
		t.Fatal(err)
	}
	p, err := BuildPolicy(b, cfg)
	if err != nil {
		t.Fatalf("BuildPolicy: %v", err)
	}
	return p
}
