package pusht

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkStep measures control steps (10 physics substeps of 0.01 s, each
// split into CollisionSubsteps Chipmunk steps) per second on one core, with
// random targets that keep the agent in and out of contact.
func BenchmarkStep(b *testing.B) {
	e, _ := New(DefaultConfig())
	r := rand.New(rand.NewPCG(1, 2))
	e.Reset(0)
	var a [2]float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%5 == 0 {
			c := e.BlockPose().toWorld(cogLocal)
			a = [2]float64{c.X + 100*(r.Float64()-0.5), c.Y + 100*(r.Float64()-0.5)}
		}
		if _, _, done, _ := e.Step(a); done {
			e.Reset(int64(i))
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
}

// BenchmarkImage96 measures the 96×96 image observation.
func BenchmarkImage96(b *testing.B) {
	e, _ := New(DefaultConfig())
	for i := 0; i < b.N; i++ {
		e.Image96()
	}
}
