package deploy

import (
	"strings"
	"testing"
	"time"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/chunking"
	"github.com/policylab/policylab/lessons/sim"
)

// expertChunks turns the arm's scripted expert into a chunk policy: its
// action, repeated n times (the targets move on as the arm moves).
type expertChunks struct {
	x sim.Expert
	n int
}

func (e expertChunks) Reset(seed int64) { e.x.Reset(seed) }
func (e expertChunks) PredictActionChunk(obs sim.Obs) ([][]float32, error) {
	a := e.x.Act(obs)
	out := make([][]float32, e.n)
	for i := range out {
		out[i] = a
	}
	return out, nil
}

// TestChunkingExecutorsInTheLoop drives the policy node with package
// chunking's executors over real DDS, the policy slowed to 250 ms a query
// (2.5 control periods): the blocking chapter executor makes the loop miss
// deadlines at every query, the asynchronous one keeps every period.
func TestChunkingExecutorsInTheLoop(t *testing.T) {
	env, err := sim.NewArm(arm.DefaultConfig(arm.Reach), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg              chunking.Config
		minMiss, maxMiss int
	}{
		{chunking.Chapter(16, 8), 4, 1000},
		{chunking.Asynchronous(8), 0, 1},
	} {
		t.Run(tc.cfg.Name, func(t *testing.T) {
			rcfg := DefaultRobotConfig()
			rcfg.Domain, rcfg.Episodes = RandomDomain(), 1
			rcfg.Arm.MaxSteps = 30 // 3 s
			ncfg := DefaultNodeConfig()
			ncfg.Domain = rcfg.Domain
			live, err := chunking.NewLive(chunking.Slowed(expertChunks{x: sim.ArmFactory(arm.DefaultConfig(arm.Reach), false).NewExpert(), n: 16}, 250*time.Millisecond), tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			live.Executor().SetSpec(env.Spec())
			rec := chunking.NewRecorder()
			live.Executor().SetRecorder(rec)
			var log syncBuffer
			rep := runInProcess(t, rcfg, ncfg, live, &log)
			t.Logf("%s: %d periods, %d published, %d deadline misses, %d errors", tc.cfg.Name, rep.Periods, rep.Published, rep.DeadlineMisses, rep.Errors)
			if rep.Errors != 0 || rep.Published < 10 {
				t.Errorf("%d errors, %d published; log:\n%s", rep.Errors, rep.Published, log.String())
			}
			if rep.DeadlineMisses < tc.minMiss || rep.DeadlineMisses > tc.maxMiss {
				t.Errorf("%d deadline misses, want %d..%d; log:\n%s", rep.DeadlineMisses, tc.minMiss, tc.maxMiss, log.String())
			}
			if tc.cfg.Async {
				// The queries ran beside the loop: it kept sending planned
				// actions, holding only while the first chunk was on its way.
				var fresh, steps int
				for _, tr := range rec.Traces() {
					for _, f := range tr.Fresh {
						steps++
						if f {
							fresh++
						}
					}
				}
				if steps == 0 || float64(fresh) < 0.8*float64(steps) {
					t.Errorf("%d of %d actions on time", fresh, steps)
				}
			} else if !strings.Contains(log.String(), "deadline missed") {
				t.Errorf("blocking misses were not logged")
			}
		})
	}
}
