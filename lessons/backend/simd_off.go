//go:build !goexperiment.simd

package backend

// SIMDBuild is true in GOEXPERIMENT=simd builds, where GoMLX's Go backend runs
// its SIMD kernels and GuardHeap is installed with it.
const SIMDBuild = false
