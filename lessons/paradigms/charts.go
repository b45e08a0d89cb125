package paradigms

import "github.com/policylab/policylab/lessons/plot"

// SampleEfficiencyChart plots success rate against the environment steps
// each approach consumed: behaviour cloning's demonstration steps and the
// cross-entropy method's interaction steps, on a log axis.
func (c *Comparison) SampleEfficiencyChart() plot.Chart {
	bc := plot.Series{Name: "imitation learning (BC from expert demos)"}
	for _, p := range c.BC.Curve {
		bc.X = append(bc.X, float64(p.DemoSteps))
		bc.Y = append(bc.Y, p.Eval.Success)
	}
	rl := plot.Series{Name: "reinforcement learning (CEM from reward)"}
	for _, p := range c.RL.Curve {
		rl.X = append(rl.X, float64(p.EnvSteps))
		rl.Y = append(rl.Y, p.Success)
	}
	return plot.LinesLogX("success rate vs environment steps used", "environment steps (log scale)", "success rate", bc, rl)
}

// ParamChart plots the parameters of each module of the policy.
func (p *Policy) ParamChart() plot.Chart {
	var labels []string
	var values []float64
	for _, m := range p.ParamCounts() {
		if m.Module == "total" {
			continue
		}
		labels = append(labels, m.Module)
		values = append(values, float64(m.Params))
	}
	return plot.BarChart("parameters per module", labels, values)
}
