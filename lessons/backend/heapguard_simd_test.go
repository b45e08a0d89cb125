//go:build linux && goexperiment.simd

package backend

import "simd"

// loadTail loads the last float of s the way GoMLX's SIMD kernels load a
// row's tail (simd.LoadFloat32sPart), which reads a whole vector.
func loadTail(s []float32) float32 {
	v, _ := simd.LoadFloat32sPart(s[len(s)-1:])
	out := make([]float32, v.Len())
	v.Store(out)
	return out[0]
}
