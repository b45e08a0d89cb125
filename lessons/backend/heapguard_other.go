//go:build !linux

package backend

// installHeapGuard is Linux-only: the reasoning in heapguard.go was checked
// against the Linux runtime and kernel only.
func installHeapGuard() HeapGuard {
	return HeapGuard{Note: "not on Linux"}
}
