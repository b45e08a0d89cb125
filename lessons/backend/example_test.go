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
