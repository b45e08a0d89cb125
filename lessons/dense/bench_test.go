package dense_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/dense"
	"github.com/policylab/policylab/lessons/internal/tensortest"
)

// BenchmarkMatMul times x [rows, in] · W [in, out] through MatMul
// ("dense") and through plain DotGeneral ("plain") at the row counts of
// acting on one observation and of a 50-episode evaluation: the figures
// behind package dense.
func BenchmarkMatMul(b *testing.B) {
	be := backend.MustNew()
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range []struct{ rows, in, out int }{{1, 256, 256}, {50, 256, 256}, {2, 1024, 512}} {
		_, x := tensortest.Random(rng, s.rows, s.in)
		_, w := tensortest.Random(rng, s.in, s.out)
		for _, v := range []struct {
			name string
			f    func(x, w *Node) *Node
		}{
			{"dense", dense.MatMul},
			{"plain", func(x, w *Node) *Node { return DotGeneral(x, []int{1}, nil, w, []int{0}, nil) }},
		} {
			b.Run(fmt.Sprintf("%dx%dx%d/%s", s.rows, s.in, s.out, v.name), func(b *testing.B) {
				e := MustNewExec(be, v.f)
				defer e.Finalize()
				e.MustExec(x, w)[0].FinalizeAll()
				b.ResetTimer()
				for range b.N {
					e.MustExec(x, w)[0].FinalizeAll()
				}
				b.ReportMetric(b.Elapsed().Seconds()*1e6/float64(b.N), "µs/op")
			})
		}
	}
}
