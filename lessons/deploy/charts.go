package deploy

import (
	"fmt"
	"strings"
	"time"

	"github.com/policylab/policylab/lessons/plot"
)

// JointChart plots, for the given joints (0-based), the joint position
// the node acted on and the target it published, over the run's control
// periods (needs NodeConfig.Record). Radians against seconds.
func (r *NodeReport) JointChart(joints ...int) plot.Chart {
	var series []plot.Series
	for _, j := range joints {
		if j < 0 || j >= 7 {
			continue
		}
		var t, q, a []float64
		for _, p := range r.Records {
			t = append(t, p.T.Seconds())
			q = append(q, p.Joints[j])
			a = append(a, p.Action[j])
		}
		series = append(series,
			plot.Series{Name: JointNames[j] + " measured", X: t, Y: q},
			plot.Series{Name: JointNames[j] + " commanded", X: t, Y: a})
	}
	return plot.Lines("Joint positions over ROS 2: measured (/joint_states) and commanded (/arm_controller/joint_trajectory)", "time (s)", "rad", series...)
}

// LatencyChart plots each control period's latency (joint state arrival
// to trajectory publication) and the policy's share of it, in ms.
func (r *NodeReport) LatencyChart() plot.Chart {
	var t, lat, comp, iv []float64
	for _, p := range r.Records {
		t = append(t, p.T.Seconds())
		lat = append(lat, float64(p.Latency)/1e6)
		comp = append(comp, float64(p.Compute)/1e6)
		iv = append(iv, float64(p.Interval)/1e6-1000/r.Rate)
	}
	return plot.Lines("Per control period: latency, policy time, and period error (interval − 100 ms)", "time (s)", "ms",
		plot.Series{Name: "latency: /joint_states arrival → trajectory published", X: t, Y: lat},
		plot.Series{Name: "policy (observation → action)", X: t, Y: comp},
		plot.Series{Name: "period error", X: t, Y: iv})
}

// Table is a Markdown summary of a deployment run.
func Table(robot *RobotReport, node *NodeReport) string {
	s := node.Stats()
	var b strings.Builder
	b.WriteString("| measure | value |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, v) }
	if robot != nil {
		row("episodes (robot)", fmt.Sprint(len(robot.Episodes)))
		row("success rate", fmt.Sprintf("%.0f%%", 100*robot.SuccessRate))
		row("rejected trajectories", fmt.Sprint(robot.BadTrajectories))
	}
	row("control periods", fmt.Sprint(node.Periods))
	row("trajectories published", fmt.Sprint(node.Published))
	row("latency p50 / p99 / max", fmt.Sprintf("%.2f / %.2f / %.2f ms", ms(s.LatencyP50), ms(s.LatencyP99), ms(s.LatencyMax)))
	row("policy time p50", fmt.Sprintf("%.3f ms", ms(s.ComputeP50)))
	row("period p50", fmt.Sprintf("%.2f ms", ms(s.PeriodP50)))
	row("period jitter p99", fmt.Sprintf("%.1f%%", 100*s.JitterP99))
	row("periods within ±5%", fmt.Sprintf("%.1f%%", s.WithinPct))
	row("deadline misses", fmt.Sprint(node.DeadlineMisses))
	row("stale periods (not acted on)", fmt.Sprint(node.Stale))
	return b.String()
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
