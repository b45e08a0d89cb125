// Package tensortest holds helpers for tests of graph code.
package tensortest

import (
	"math/rand/v2"

	"github.com/gomlx/gomlx/core/tensors"
)

// Random returns n = ∏dims float32 values uniform in [−1, 1) from rng, and
// a tensor of the given dimensions holding a copy of them.
func Random(rng *rand.Rand, dims ...int) ([]float32, *tensors.Tensor) {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = 2*rng.Float32() - 1
	}
	return data, tensors.FromFlatDataAndDimensions(append([]float32(nil), data...), dims...)
}

// Normal returns a tensor of the given dimensions holding float32 values
// drawn from a standard normal distribution by rng.
func Normal(rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}
