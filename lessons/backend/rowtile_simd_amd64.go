//go:build goexperiment.simd && amd64

package backend

import (
	"simd/archsimd"

	"github.com/gomlx/compute/support/envutil"
)

// simdRowTile mirrors how compute v0.1.14 picks its matrix-product kernels
// (internal/gobackend/simd_x86.go, dot/matmul/matmul.go): the AVX-512 or
// AVX2 ones unless the CPU lacks them or GoMLX's switches turn them off.
func simdRowTile() int {
	on := func(env string) bool { v, err := envutil.ReadBool(env, true); return err == nil && v }
	if !on(envutil.GoBackendDotMatmul) {
		return 1
	}
	if (archsimd.X86.AVX512() && on(envutil.GoBackendSIMD_AVX512)) || (archsimd.X86.AVX2() && on(envutil.GoBackendSIMD_AVX2)) {
		return 4
	}
	return 1
}
