package chunking

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/plot"
	"github.com/policylab/policylab/lessons/sim"
)

// Setup is one trained policy on one environment, to run under several
// executors on the same seeds.
type Setup struct {
	// Name says which policy on which environment ("diffusion policy,
	// Push-T").
	Name string
	Env  sim.Factory
	// Batch makes a policy that acts for n episodes at once (a diffusion
	// policy: one network call per denoising step for all). Policy makes
	// one policy per worker, for policies cheap to call one at a time. Set
	// one; Batch wins when both are set.
	Batch  func(n int) (eval.BatchPolicy, error)
	Policy func() (eval.ChunkPolicy, error)
	// Eval sets the episodes and seeds (the same for every executor).
	Eval eval.Config
}

// Row is one executor at one simulated latency.
type Row struct {
	Setup    string
	Executor string
	Latency  float64 // seconds
	Delay    int     // control periods late (DelayFor)
	Result   *eval.Result
	Metrics  Metrics
	Traces   []*Trace
}

// Run evaluates s under an executor of cfg, its queries answered latency
// seconds after they start.
func Run(s Setup, cfg Config, latency float64) (*Row, error) {
	env, err := s.Env.NewEnv()
	if err != nil {
		return nil, fmt.Errorf("chunking: %s: %w", s.Name, err)
	}
	spec := env.Spec()
	cfg.Delay = DelayFor(latency, spec.ControlHz)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rec := NewRecorder()
	newExecutor := func() (*Executor, error) {
		ex, err := New(cfg)
		if err != nil {
			return nil, err
		}
		ex.SetSpec(spec)
		ex.SetRecorder(rec)
		return ex, nil
	}
	var res *eval.Result
	switch {
	case s.Batch != nil:
		res, err = eval.RunScheduled(s.Env.NewEnv, s.Batch, func() (eval.Scheduler, error) { return newExecutor() }, s.Eval)
	case s.Policy != nil:
		res, err = eval.Run(s.Env.NewEnv, func() (eval.Policy, error) {
			p, err := s.Policy()
			if err != nil {
				return nil, err
			}
			ex, err := newExecutor()
			if err != nil {
				return nil, err
			}
			return eval.Scheduled(p, ex), nil
		}, s.Eval)
	default:
		return nil, fmt.Errorf("chunking: setup %q has neither Batch nor Policy", s.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("chunking: %s under %s: %w", s.Name, cfg.Name, err)
	}
	traces := rec.Traces()
	return &Row{Setup: s.Name, Executor: cfg.Name, Latency: latency, Delay: cfg.Delay, Result: res,
		Metrics: Measure(traces, spec.ControlHz), Traces: traces}, nil
}

// Sweep runs s under every executor at every latency, in that order, and
// writes a line per run to progress (nil: none).
func Sweep(s Setup, cfgs []Config, latencies []float64, progress io.Writer) ([]*Row, error) {
	var rows []*Row
	for _, lat := range latencies {
		for _, c := range cfgs {
			t0 := time.Now()
			r, err := Run(s, c, lat)
			if err != nil {
				return rows, err
			}
			if progress != nil {
				fmt.Fprintf(progress, "%s | %s | %.0f ms: score %.3f, on time %.0f%%, jerk %.3g (%v)\n", s.Name, c.Name, 1000*lat,
					r.Result.MeanMaxScore, 100*r.Metrics.DeadlineMet, r.Metrics.Jerk, time.Since(t0).Round(time.Second))
			}
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// Units names the action's units for the tables ("px", "rad").
func Units(spec sim.Spec) string {
	if len(spec.ActionNames) > 0 && strings.HasPrefix(spec.ActionNames[0], "joint") {
		return "rad"
	}
	return "px"
}

// Table is a Markdown table of rows: score against smoothness against the
// latency budget. Jerk and jumps are in the action's units (unit).
func Table(unit string, rows ...*Row) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "| policy | executor | latency | late by | score | success | jerk (%s/s³) | jump at seams (%s) | step within a chunk (%s) | periods on time | queries per step |\n", unit, unit, unit)
	sb.WriteString("|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		m := r.Metrics
		fmt.Fprintf(&sb, "| %s | %s | %.0f ms | %d | %.3f | %.0f%% | %.3g | %.3g | %.3g | %.1f%% | %.2f |\n", r.Setup, r.Executor,
			1000*r.Latency, r.Delay, r.Result.MeanMaxScore, 100*r.Result.SuccessRate, m.Jerk, m.SeamJump, m.StepJump, 100*m.DeadlineMet, m.QueriesPerStep)
	}
	return sb.String()
}

// Verdicts compares each executor with the first one at the same latency
// (the baseline), in sentences: what it gains or loses in score, jerk and
// deadlines, measured on the same seeds.
func Verdicts(rows ...*Row) string {
	var sb strings.Builder
	var base *Row
	for _, r := range rows {
		if base == nil || r.Latency != base.Latency || r.Setup != base.Setup {
			base = r
			fmt.Fprintf(&sb, "\n**%s, latency %.0f ms** (baseline: %s, score %.3f, jerk %.3g, %.0f%% of periods on time)\n\n",
				r.Setup, 1000*r.Latency, r.Executor, r.Result.MeanMaxScore, r.Metrics.Jerk, 100*r.Metrics.DeadlineMet)
			continue
		}
		fmt.Fprintf(&sb, "- %s: score %+.3f, jerk %s, periods on time %+.0f points, %.1fx the queries.\n", r.Executor,
			r.Result.MeanMaxScore-base.Result.MeanMaxScore, ratio(r.Metrics.Jerk, base.Metrics.Jerk),
			100*(r.Metrics.DeadlineMet-base.Metrics.DeadlineMet), r.Metrics.QueriesPerStep/math.Max(base.Metrics.QueriesPerStep, 1e-12))
	}
	return strings.TrimSpace(sb.String())
}

func ratio(a, b float64) string {
	if b == 0 {
		return fmt.Sprintf("%.3g (baseline 0)", a)
	}
	if math.Abs(a/b-1) < 0.005 {
		return "unchanged"
	}
	if a <= b {
		return fmt.Sprintf("%.0f%% lower", 100*(1-a/b))
	}
	return fmt.Sprintf("%.1fx higher", a/b)
}

// SeamChart plots action element dim over control steps from to to of
// the episode with this seed, one line per row, with a dot at each of the
// row's seams: where jerky execution shows.
func SeamChart(title string, seed int64, dim, from, to int, rows ...*Row) (plot.Chart, error) {
	var series []plot.Series
	for _, r := range rows {
		var tr *Trace
		for _, t := range r.Traces {
			if t.Seed == seed {
				tr = t
			}
		}
		if tr == nil {
			return nil, fmt.Errorf("chunking: no episode with seed %d under %s", seed, r.Executor)
		}
		if len(tr.Actions) == 0 || dim < 0 || dim >= len(tr.Actions[0]) {
			return nil, errors.New("chunking: SeamChart: no such action element")
		}
		line := plot.Series{Name: fmt.Sprintf("%s, %.0f ms", r.Executor, 1000*r.Latency)}
		dots := plot.Series{Name: "seams: " + line.Name, Dots: true}
		for k := from; k < min(to, len(tr.Actions)); k++ {
			v := float64(tr.Actions[k][dim])
			line.X, line.Y = append(line.X, float64(k)), append(line.Y, v)
			if tr.Seam[k] {
				dots.X, dots.Y = append(dots.X, float64(k)), append(dots.Y, v)
			}
		}
		series = append(series, line)
		// Dots only where seams are events, not every step (ensembles).
		if len(dots.X) > 0 && 2*len(dots.X) < len(line.X) {
			series = append(series, dots)
		}
	}
	return plot.Lines(title, "control step", "commanded action", series...), nil
}

// Labelled is a chunk policy for seeing executors work: a query with the
// observation of step j (its State[0] = j) returns n one-element actions
// labelled 10·j + i, so an action's label says which query planned it (j)
// and for which step (j + i).
type Labelled struct{ N int }

// Reset implements eval.ChunkPolicy.
func (Labelled) Reset(int64) {}

// PredictActionChunk implements eval.ChunkPolicy: [N][1].
func (l Labelled) PredictActionChunk(obs sim.Obs) ([][]float32, error) {
	if len(obs.State) == 0 {
		return nil, errors.New("chunking: Labelled needs the step in State[0]")
	}
	j := int(obs.State[0])
	out := make([][]float32, l.N)
	for i := range out {
		out[i] = []float32{float32(10*j + i)}
	}
	return out, nil
}

// Walkthrough runs each executor for steps control steps on Labelled
// chunks of chunkLen actions and tabulates the actions sent, in Markdown:
// a label 10·j + i is element i of the chunk planned at step j; "hold"
// marks a period with no fresh action (the robot holds still at first,
// then repeats its last command), and "|" a seam.
func Walkthrough(cfgs []Config, chunkLen, steps int) (string, error) {
	var sb strings.Builder
	sb.WriteString("| executor | late by |")
	for k := 0; k < steps; k++ {
		fmt.Fprintf(&sb, " %d |", k)
	}
	sb.WriteString("\n|---|---|" + strings.Repeat("---|", steps) + "\n")
	for _, c := range cfgs {
		c.Hold = func(sim.Obs) ([]float32, error) { return []float32{float32(math.NaN())}, nil }
		ex, err := New(c)
		if err != nil {
			return "", err
		}
		rec := NewRecorder()
		ex.SetRecorder(rec)
		pol := eval.Scheduled(Labelled{N: chunkLen}, ex)
		pol.Reset(0)
		for k := 0; k < steps; k++ {
			if _, err := pol.Act(sim.Obs{State: []float32{float32(k)}}); err != nil {
				return "", err
			}
		}
		tr := rec.Trace(0)
		fmt.Fprintf(&sb, "| %s | %d |", c.Name, c.Delay)
		for k, a := range tr.Actions {
			cell := strconvLabel(a[0])
			if !tr.Fresh[k] {
				cell = "hold"
			} else if tr.Seam[k] {
				cell = "| " + cell
			}
			fmt.Fprintf(&sb, " %s |", strings.ReplaceAll(cell, "|", `\|`))
		}
		sb.WriteString("\n")
	}
	return sb.String(), nil
}

// strconvLabel prints a label: whole numbers as such, ensembles to one
// decimal.
func strconvLabel(v float32) string {
	if v == float32(math.Round(float64(v))) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}
