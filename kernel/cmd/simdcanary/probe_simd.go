//go:build goexperiment.simd && linux

package main

import (
	"fmt"
	"os"
	"simd"
	"syscall"
	"unsafe"
)

func vectorLanes() int { return simd.BroadcastFloat32s(0).Len() }

// probe places k float32s so that they end exactly where a PROT_NONE page
// begins and loads or stores them with the partial forms.
func probe(op string, k int) error {
	page := os.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return fmt.Errorf("mmap: %w", err)
	}
	defer syscall.Munmap(mem)
	if err := syscall.Mprotect(mem[page:], syscall.PROT_NONE); err != nil {
		return fmt.Errorf("mprotect: %w", err)
	}
	all := unsafe.Slice((*float32)(unsafe.Pointer(&mem[0])), page/4)
	tail := all[len(all)-k : len(all) : len(all)]
	for i := range tail {
		tail[i] = float32(i + 1)
	}
	switch op {
	case "load":
		var v simd.Float32s
		n := k
		if k == vectorLanes() {
			v = simd.LoadFloat32s(tail) // the control: a whole vector
		} else {
			v, n = simd.LoadFloat32sPart(tail)
		}
		out := make([]float32, v.Len())
		v.Store(out)
		for i := range n {
			if out[i] != float32(i+1) {
				return fmt.Errorf("load of %d lanes: lane %d is %v, want %v", k, i, out[i], i+1)
			}
		}
	case "store":
		if n := simd.BroadcastFloat32s(7).StorePart(tail); n != k {
			return fmt.Errorf("store of %d lanes stored %d", k, n)
		}
	default:
		return fmt.Errorf("unknown probe %q", op)
	}
	return nil
}
