//go:build goexperiment.simd && amd64

package backend

import "simd/archsimd"

// simdKernelsHere reports whether compute runs AVX2 or AVX-512 matrix
// kernels in this build on this CPU.
func simdKernelsHere() bool { return archsimd.X86.AVX2() || archsimd.X86.AVX512() }
