package backend_test

import (
	"fmt"

	"github.com/policylab/policylab/lessons/backend"
)

// Resolve applies the selection rule to any environment; here a map stands
// in for the process environment.
func ExampleResolve() {
	env := map[string]string{"GOMLX_BACKEND": "go:parallelism=2"}
	c, err := backend.Resolve(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	fmt.Println(c.Config, c.Name(), err)

	env = map[string]string{"GOMLX_BACKEND": "tpu"}
	_, err = backend.Resolve(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	fmt.Println(err != nil)
	// Output:
	// go:parallelism=2 go <nil>
	// true
}

// A HeapGuard prints as the tail of Describe's line in SIMD builds.
func ExampleHeapGuard_String() {
	fmt.Println(backend.HeapGuard{Bytes: 12 << 30, Note: "half the machine's memory"})
	fmt.Println(backend.HeapGuard{Bytes: 512 << 20, Note: "half the address space left under the process's limit"})
	fmt.Println(backend.HeapGuard{Note: "POLICYLAB_HEAP_GUARD=off"})
	// Output:
	// heap guard 12.0 GiB (half the machine's memory)
	// heap guard 512 MiB (half the address space left under the process's limit)
	// heap guard off: POLICYLAB_HEAP_GUARD=off
}
