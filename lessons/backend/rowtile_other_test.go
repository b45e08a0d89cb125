//go:build !(goexperiment.simd && amd64)

package backend

// simdKernelsHere is false: this build has no SIMD matrix kernels.
func simdKernelsHere() bool { return false }
