package deploy

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/course"
	"github.com/policylab/policylab/lessons/eval"
)

// BenchmarkDeployLoop is section 4.2.5's deployment measured: the BC
// policy (deploy.ArmBC, trained on first use) in the policy node at 10 Hz
// against the simulated robot in a separate process, for
// POLICYLAB_DEPLOY_SECONDS (60 by default). It reports the latency from a
// /joint_states sample's arrival to the publication of the trajectory
// computed from it (p50, p99), the loop period's jitter, deadline misses
// and the task's success rate. Run with -benchtime 1x.
func BenchmarkDeployLoop(b *testing.B) {
	secs := 60.0
	if s := os.Getenv("POLICYLAB_DEPLOY_SECONDS"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v <= 0 {
			b.Fatalf("POLICYLAB_DEPLOY_SECONDS=%q: want seconds > 0", s)
		}
		secs = v
	}
	be, err := backend.New()
	if err != nil {
		b.Fatal(err)
	}
	out, err := course.OutDir("checkpoints")
	if err != nil {
		b.Fatal(err)
	}
	p, err := ArmBC(be, filepath.Join(out, "bc-arm-deploy"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Setenv(robotChildEnv, "1")
	for i := 0; i < b.N; i++ {
		rcfg := DefaultRobotConfig()
		rcfg.Domain = RandomDomain()
		rcfg.Episodes, rcfg.Duration = 100000, time.Duration(secs*float64(time.Second))
		ncfg := DefaultNodeConfig()
		ncfg.Domain, ncfg.Record = rcfg.Domain, true
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs*float64(time.Second))+2*time.Minute)
		rrep, nrep, err := Demo(ctx, os.Args[0], rcfg, ncfg, eval.Chunked(p, 1), nil)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		s := nrep.Stats()
		b.ReportMetric(float64(s.LatencyP50)/1e6, "latency-p50-ms")
		b.ReportMetric(float64(s.LatencyP99)/1e6, "latency-p99-ms")
		b.ReportMetric(float64(s.ComputeP50)/1e6, "policy-p50-ms")
		b.ReportMetric(100*s.JitterP99, "period-jitter-p99-pct")
		b.ReportMetric(s.WithinPct, "periods-within-5pct")
		b.ReportMetric(float64(nrep.DeadlineMisses), "deadline-misses")
		b.ReportMetric(float64(nrep.Periods), "periods")
		b.ReportMetric(100*rrep.SuccessRate, "success-pct")
		b.Logf("%s; success %.0f%% over %d episodes", nrep, 100*rrep.SuccessRate, len(rrep.Episodes))
	}
}
