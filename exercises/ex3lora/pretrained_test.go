package ex3lora

import (
	"os"
	"testing"

	"github.com/policylab/policylab/lessons/backend"
)

// TestWritePretrained regenerates testdata/pretrained (about a minute)
// when EX3LORA_WRITE_PRETRAINED=1; it is not graded.
func TestWritePretrained(t *testing.T) {
	if os.Getenv("EX3LORA_WRITE_PRETRAINED") != "1" {
		t.Skip("set EX3LORA_WRITE_PRETRAINED=1 to pretrain the exercise's VLA again")
	}
	if err := WritePretrained(backend.MustNew(), "testdata/pretrained"); err != nil {
		t.Fatal(err)
	}
}
