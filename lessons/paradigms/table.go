package paradigms

import (
	"fmt"
	"strings"
	"time"
)

// Row is one row of the chapter's comparison table with the measurements
// that back each claim.
type Row struct {
	// Approach, Data, Pros and Cons are the chapter's words.
	Approach, Data, Pros, Cons string
	// DataMeasured, ProsMeasured and ConsMeasured are this run's evidence.
	DataMeasured, ProsMeasured, ConsMeasured string
}

// BCStepsToTarget is the demonstration steps of the fewest demonstrations
// whose cloned policy reached the RL target success rate, or -1 if none did.
func (c *Comparison) BCStepsToTarget() int {
	for _, p := range c.BC.Curve {
		if p.Eval.Success >= c.RLConfig.Target {
			return p.DemoSteps
		}
	}
	return -1
}

// SampleRatio is RL's environment steps to its target over BC's
// demonstration steps to the same success, or 0 when either never got there.
func (c *Comparison) SampleRatio() float64 {
	bc := c.BCStepsToTarget()
	if bc <= 0 || c.RL.StepsToTarget < 0 {
		return 0
	}
	return float64(c.RL.StepsToTarget) / float64(bc)
}

// Rows returns the chapter's three rows filled with this run's measurements.
// It returns nil for a Comparison that Compare did not fill.
func (c *Comparison) Rows() []Row {
	if len(c.BC.Curve) == 0 {
		return nil
	}
	last := c.BC.Curve[len(c.BC.Curve)-1]
	var curve []string
	for _, p := range c.BC.Curve {
		curve = append(curve, pct(p.Eval.Success))
	}
	counts := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(CompareDemoCounts)), "/"), "[]")

	rlData := fmt.Sprintf("never reached %s within %s env steps", pct(c.RLConfig.Target), thousands(c.RLConfig.Budget))
	rlCon := "did not reach the target within the budget"
	if c.RL.Reached {
		rlData = fmt.Sprintf("%s env steps to reach %s success (%s in all)",
			thousands(c.RL.StepsToTarget), pct(c.RLConfig.Target), thousands(c.RL.EnvSteps))
		if r := c.SampleRatio(); r > 0 {
			rlCon = fmt.Sprintf("%.0f× the %s demo steps BC needed for %s", r, thousands(c.BCStepsToTarget()), pct(c.RLConfig.Target))
		} else {
			rlCon = fmt.Sprintf("%s env steps; BC never reached %s", thousands(c.RL.StepsToTarget), pct(c.RLConfig.Target))
		}
	}
	v := c.VLA
	return []Row{
		{
			Approach: "Imitation Learning", Data: "Demonstrations", Pros: "Sample efficient", Cons: "Distribution shift",
			DataMeasured: fmt.Sprintf("%d expert demos = %s env steps", last.Demos, thousands(last.DemoSteps)),
			ProsMeasured: fmt.Sprintf("%s success (%s demos: %s)", pct(last.Eval.Success), counts, strings.Join(curve, "/")),
			ConsMeasured: fmt.Sprintf("%s from pushed starts (expert %s)", pct(c.BC.Pushed.Success), pct(c.ExpertPushed.Success)),
		},
		{
			Approach: "Reinforcement Learning", Data: "Sim interaction", Pros: "Optimal policies", Cons: "Sample inefficient",
			DataMeasured: rlData,
			ProsMeasured: fmt.Sprintf("%s success, %.1f steps to goal (expert %.1f, BC %.1f)",
				pct(c.RL.Final.Success), c.RL.Final.MeanStepsToGoal, c.Expert.MeanStepsToGoal, last.Eval.MeanStepsToGoal),
			ConsMeasured: rlCon,
		},
		{
			Approach: "VLA Models", Data: "Large-scale data", Pros: "Generalization", Cons: "Compute intensive",
			DataMeasured: fmt.Sprintf("OpenVLA: %s robot episodes (published)", thousands(OpenVLATrainEpisodes)),
			ProsMeasured: "not measured here",
			ConsMeasured: fmt.Sprintf("OpenVLA-7B ≈ %.1e FLOPs/action (estimate) vs %.1e for our %s-param policy (%s per action measured); ≈ %s per action on this backend (extrapolated)",
				v.OpenVLA.FLOPsPerAction, v.FLOPsPerAction, thousands(v.TotalParams), fmtDur(v.Latency), fmtDur(v.OpenVLALatencyHere)),
		},
	}
}

// Table renders the chapter's comparison table as Markdown, each cell the
// chapter's claim followed by this run's measurement.
func (c *Comparison) Table() string {
	var sb strings.Builder
	sb.WriteString("| Approach | Data | Pros | Cons |\n|---|---|---|---|\n")
	for _, r := range c.Rows() {
		fmt.Fprintf(&sb, "| %s | %s: %s | %s: %s | %s: %s |\n", r.Approach,
			r.Data, r.DataMeasured, r.Pros, r.ProsMeasured, r.Cons, r.ConsMeasured)
	}
	return sb.String()
}

// Details lists the measurements behind the table: the task, both learning
// curves and the compute comparison.
func (c *Comparison) Details() string {
	var sb strings.Builder
	e := c.Env
	fmt.Fprintf(&sb, "Task: 2-D point mass, m=%g kg, dt=%g s, |F|≤%g N per axis, damping %g/s; success within %g m at < %g m/s by step %d; seed %d.\n",
		e.Mass, e.Dt, e.MaxForce, e.Damping, e.GoalTol, e.SpeedTol, e.Horizon, c.Seed)
	fmt.Fprintf(&sb, "Expert (saturated PD): %s success, %.1f steps to goal; pushed starts: %s.\n\n",
		pct(c.Expert.Success), c.Expert.MeanStepsToGoal, pct(c.ExpertPushed.Success))

	sb.WriteString("Imitation learning (behaviour cloning, least squares):\n  demos  env steps  success  steps to goal\n")
	for _, p := range c.BC.Curve {
		fmt.Fprintf(&sb, "  %5d  %9s  %7s  %13.1f\n", p.Demos, thousands(p.DemoSteps), pct(p.Eval.Success), p.Eval.MeanStepsToGoal)
	}
	fmt.Fprintf(&sb, "  pushed starts: %s; policy:\n%s\n\n", pct(c.BC.Pushed.Success), indent(c.BC.Policy.String(), "    "))

	sb.WriteString("Reinforcement learning (cross-entropy method, reward only):\n  iter  env steps  success\n")
	for i, p := range c.RL.Curve {
		// Every iteration up to the target, then every tenth and the last.
		if p.EnvSteps <= max(c.RL.StepsToTarget, 0) || p.Iteration%10 == 0 || i == len(c.RL.Curve)-1 {
			fmt.Fprintf(&sb, "  %4d  %9s  %7s\n", p.Iteration, thousands(p.EnvSteps), pct(p.Success))
		}
	}
	fmt.Fprintf(&sb, "  first ≥ %s after %s env steps; final: %s, %.1f steps to goal; pushed starts: %s; policy:\n%s\n\n",
		pct(c.RLConfig.Target), thousands(c.RL.StepsToTarget), pct(c.RL.Final.Success), c.RL.Final.MeanStepsToGoal,
		pct(c.RLPushed.Success), indent(c.RL.Policy.String(), "    "))

	v := c.VLA
	fmt.Fprintf(&sb, "Compute (%s):\n", v.Backend)
	fmt.Fprintf(&sb, "  our policy:  %s params, %.3g FLOPs/action (counted), %s per action (median of %d, batch 1), %.3g FLOP/s achieved\n",
		thousands(v.TotalParams), v.FLOPsPerAction, fmtDur(v.Latency), v.Runs, v.AchievedFLOPS)
	o := v.OpenVLA
	fmt.Fprintf(&sb, "  OpenVLA-7B:  %.2g params (published), %d image + %d prompt + %d-1 action tokens = %d tokens/action,\n",
		o.Params, o.ImageTokens, o.PromptTokens, o.ActionTokens, o.TokensPerAction)
	fmt.Fprintf(&sb, "               ≈ 2 × params × tokens = %.3g FLOPs/action (ESTIMATE)\n", o.FLOPsPerAction)
	fmt.Fprintf(&sb, "  ratios:      %.3g× the parameters, %.3g× the FLOPs; ≈ %s per action here at our achieved FLOP/s (extrapolated)\n",
		v.ParamRatio, v.FLOPRatio, fmtDur(v.OpenVLALatencyHere))
	return sb.String()
}

// pct formats a fraction as a whole percentage.
func pct(x float64) string { return fmt.Sprintf("%.0f%%", 100*x) }

// fmtDur prints a duration with three significant digits: "1.74ms",
// "12.3 s", "1260 s (21 min)".
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Second:
		for r := time.Duration(1); ; r *= 10 {
			if d < 1000*r {
				return d.Round(r).String()
			}
		}
	case d < time.Minute:
		return fmt.Sprintf("%.3g s", d.Seconds())
	}
	return fmt.Sprintf("%.0f s (%.0f min)", d.Seconds(), d.Minutes())
}

// indent prefixes every line of s.
func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
