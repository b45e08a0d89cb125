package backend

import (
	"fmt"
	"os"
	"sync"
)

// Why the SIMD build needs a heap guard.
//
// GoMLX's pure-Go backend (github.com/gomlx/compute v0.1.14), built with
// GOEXPERIMENT=simd, handles the tail of every row of its element-wise,
// broadcast and reduction kernels with simd.LoadFloat32sPart. In go1.27.4 that
// load reads a whole vector (64 bytes with AVX-512) and masks it afterwards,
// so it reads up to 60 bytes past the end of the slice (make simd-canary).
// Those bytes are thrown away, and reading them is harmless unless the slice
// ends exactly where mapped memory ends. The Go heap makes that happen: the
// runtime maps its heap in 4 MiB chunks out of larger PROT_NONE reservations
// ((*mheap).grow in runtime/mheap.go), so a buffer that fills the last mapped
// chunk is followed by unreadable memory, and the tail load faults. Measured
// here (2026-11-26, AMD EPYC): 12 to 32 of 400 fresh slices of mixed sizes
// ended exactly at the heap's mapped top, and 4 of 20 runs of 300 subtractions
// [131072, 3] − [1, 3] on the Go backend died with SIGSEGV in
// simdV2V1SubFloat32, the same kernel that crashed the vision policy's
// training.
//
// The guard maps the heap far beyond what the process will use, once, by
// allocating one large block and letting it go. The runtime never unmaps heap
// memory (freed pages go back to the OS with madvise, which leaves them
// mapped and readable as zeros), and its page allocator hands out the lowest
// free addresses first, so buffers then end well below the mapped top. The
// block is never written, nor zeroed (see installHeapGuard), so it costs
// address space, not memory: 12 GiB of guard took 12 ms and 14 MB of
// resident heap metadata here.
//
// The guard covers heaps that stay below its size; a heap that outgrows it
// maps new chunks again. It is sized at half the machine's memory, at most
// MaxHeapGuard, at most half the address space left under RLIMIT_AS, and
// only as much as the kernel agrees to map (probed first, since the runtime
// treats a refused heap mapping as fatal). It is off under strict overcommit
// and off Linux.

// MaxHeapGuard is the most address space GuardHeap maps ahead.
const MaxHeapGuard = 16 << 30

// minHeapGuard: below this the guard is not worth having.
const minHeapGuard = 256 << 20

// HeapGuard says what GuardHeap did.
type HeapGuard struct {
	// Bytes of heap mapped ahead of use; 0 when the guard is off.
	Bytes int64
	// Note says why the guard is off, or how its size was chosen.
	Note string
}

// String is the guard as Describe prints it.
func (g HeapGuard) String() string {
	if g.Bytes == 0 {
		return "heap guard off: " + g.Note
	}
	return fmt.Sprintf("heap guard %s (%s)", gib(g.Bytes), g.Note)
}

func gib(n int64) string {
	if n < 1<<30 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

var (
	guardOnce sync.Once
	guard     HeapGuard
)

// GuardHeap installs the heap guard once per process and returns what it did.
// NewFromChoice calls it for the Go backend in SIMD builds (SIMDBuild); it is
// safe, and a no-op after the first call, anywhere else.
//
// POLICYLAB_HEAP_GUARD=off turns it off, to see the crash it prevents.
func GuardHeap() HeapGuard {
	guardOnce.Do(func() {
		if v := os.Getenv(HeapGuardEnv); v == "off" {
			guard = HeapGuard{Note: HeapGuardEnv + "=off"}
			return
		} else if v != "" {
			fmt.Fprintf(os.Stderr, "backend: %s=%q is not a setting (only \"off\"); the heap guard stays on\n", HeapGuardEnv, v)
		}
		guard = installHeapGuard()
	})
	return guard
}

// HeapGuardEnv, set to "off", turns the heap guard off.
const HeapGuardEnv = "POLICYLAB_HEAP_GUARD"
