package resnet

import (
	"fmt"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// BenchmarkGroupNorm times GroupNormalization alone at the 32/64/128
// U-Net's shapes: one chunk's activations [1, 16, 128] forward (sampling)
// and a training batch's [64, 16, 128] forward and backward, 8 groups.
func BenchmarkGroupNorm(b *testing.B) {
	backend := getBackend(b)
	for _, bc := range []struct {
		dims     []int
		backward bool
	}{{[]int{1, 16, 128}, false}, {[]int{64, 16, 128}, true}} {
		name := fmt.Sprintf("%v", bc.dims)
		if bc.backward {
			name += "/backward"
		}
		b.Run(name, func(b *testing.B) {
			e := model.MustNewExec(backend, model.NewStore(), func(scope *model.Scope, x *Node) *Node {
				y := GroupNormalization(scope.In("gn"), x, 8, Epsilon)
				if !bc.backward {
					return y
				}
				return Gradient(ReduceAllSum(Mul(y, y)), x)[0]
			})
			n := 1
			for _, d := range bc.dims {
				n *= d
			}
			rng := rand.New(rand.NewPCG(1, 2))
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(rng.NormFloat64())
			}
			x := tensors.FromFlatDataAndDimensions(v, bc.dims...)
			e.MustCall1(x) // compile
			b.ResetTimer()
			for range b.N {
				e.MustCall1(x)
			}
		})
	}
}
