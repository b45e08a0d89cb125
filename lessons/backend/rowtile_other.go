//go:build !(goexperiment.simd && amd64)

package backend

// simdRowTile is 1 outside SIMD builds for x86-64: no kernel here leaves
// rows to a slow path that padding would avoid (see MatMulRowTile).
func simdRowTile() int { return 1 }
