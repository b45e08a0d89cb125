package backend

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
)

// goBackendNames are the names GoMLX's pure-Go backend answers to: in
// github.com/gomlx/compute v0.1.14 its String() is gobackend.BackendName
// ("go") but its Name() is "Go Backend".
var goBackendNames = []string{gobackend.BackendName, "Go Backend"}

// IsGo reports whether b is GoMLX's pure-Go backend.
func IsGo(b compute.Backend) bool {
	if b == nil {
		return false
	}
	for _, n := range goBackendNames {
		if b.String() == n || b.Name() == n {
			return true
		}
	}
	return false
}

// MatMulRowTile is how many rows of x the small matrix-product kernels of
// backend b multiply at once in x·W, where rows left over take a path slow
// enough that padding x with zero rows to a multiple of the tile pays (see
// package dense): 4 for GoMLX's Go backend in a SIMD build on a CPU whose
// AVX2 or AVX-512 kernels it runs, 1 (no padding) everywhere else.
//
// Source: github.com/gomlx/compute v0.1.14, internal/gobackend/dot/matmul,
// avx512/small_nontransposed.go and avx2 likewise: tiles of 4 rows, then a
// scalar loop over the leftover rows that reads W column by column. The
// portable kernel (nosimd_small.go) tiles by 3 and measured slower padded,
// so it gets 1.
func MatMulRowTile(b compute.Backend) int {
	if !IsGo(b) {
		return 1
	}
	return simdRowTile()
}
