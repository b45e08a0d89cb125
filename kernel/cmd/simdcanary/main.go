// Command simdcanary checks whether this Go toolchain's partial SIMD loads
// and stores (simd.LoadFloat32sPart, Float32s.StorePart) stay inside their
// slice on this CPU. GoMLX's pure-Go backend (github.com/gomlx/compute)
// handles the tail of every row of its element-wise, broadcast and
// reduction kernels with them when built with GOEXPERIMENT=simd, so a load
// that reads past the slice is what crashes a SIMD build with SIGSEGV when
// a buffer happens to end where mapped memory ends.
//
// Each probe runs in a child process: k floats (k up to the vector length) are
// placed so that they end exactly at a PROT_NONE guard page, then loaded
// (or stored) with the partial form. A probe that faults kills only its
// child. The command prints one line per probe and exits with status 1 if
// any faulted.
//
// A fault here does not make the SIMD build unsafe by itself: GoMLX's
// buffers live in the Go heap, and lessons/backend's heap guard (installed
// when the backend starts) keeps every one of them clear of unmapped memory.
// go test -run HeapGuard ./lessons/backend checks that guard.
//
// Usage: GOEXPERIMENT=simd go run ./kernel/cmd/simdcanary   (make simd-canary)
package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
)

func main() {
	if len(os.Args) == 4 && os.Args[1] == "-probe" {
		k, err := strconv.Atoi(os.Args[3])
		if err != nil {
			fmt.Fprintln(os.Stderr, "simdcanary: bad probe length:", os.Args[3])
			os.Exit(2)
		}
		if err := probe(os.Args[2], k); err != nil {
			fmt.Fprintln(os.Stderr, "simdcanary:", err)
			os.Exit(2)
		}
		return
	}
	lanes := vectorLanes()
	if lanes == 0 {
		fmt.Println("simdcanary: built without GOEXPERIMENT=simd; nothing to check (run: GOEXPERIMENT=simd go run ./kernel/cmd/simdcanary)")
		return
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "simdcanary:", err)
		os.Exit(2)
	}
	// The control: a whole vector ending at the guard page touches no byte
	// past it, so it must pass; if it faults, the probe itself is broken.
	if out, err := exec.Command(self, "-probe", "load", strconv.Itoa(lanes)).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "simdcanary: the control (a full %d-lane load) failed, so the probes prove nothing: %s\n", lanes, firstLine(out))
		os.Exit(2)
	}
	fmt.Printf("load  %2d of %2d float32 lanes ending at a guard page: ok (control: a whole vector)\n", lanes, lanes)
	faults, probes := 0, 0
	for _, op := range []string{"load", "store"} {
		for _, k := range []int{1, lanes / 2, lanes - 1} {
			probes++
			out, err := exec.Command(self, "-probe", op, strconv.Itoa(k)).CombinedOutput()
			verdict := "ok"
			if err != nil {
				faults++
				verdict = "FAULT (reads or writes past the slice)"
				if line := firstLine(out); line != "" {
					verdict += ": " + line
				}
			}
			fmt.Printf("%-5s %2d of %2d float32 lanes ending at a guard page: %s\n", op, k, lanes, verdict)
		}
	}
	if faults > 0 {
		fmt.Printf("simdcanary: %d of %d probes faulted: partial loads read past their slices with this toolchain. "+
			"GoMLX's SIMD kernels stay safe only through lessons/backend's heap guard (go test -run HeapGuard ./lessons/backend)\n", faults, probes)
		os.Exit(1)
	}
	fmt.Println("simdcanary: partial loads and stores stay inside their slices on this machine")
}

// firstLine is the first line of a child's output: the runtime's
// "unexpected fault address" line when a probe faulted.
func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return string(line)
}
