// Command chunking compares section 4.2.6's chunk executors on a trained
// policy, on the same seeded episodes, at simulated inference latencies:
// the 4.2.6 notebook's tables from a terminal, with more episodes than a
// notebook cell affords.
//
//	go run ./lessons/cmd/chunking                        # the diffusion policy of make dp-pusht on Push-T
//	go run ./lessons/cmd/chunking -env arm-reach         # the diffusion policy of make dp-arm on the arm
//	go run ./lessons/cmd/chunking -policy bc -env arm-reach
//	go run ./lessons/cmd/chunking -latency 0,150ms,450ms -executors chapter,async
//
// It prints a progress line per run, a Markdown table (score, jerk, jump at
// chunk seams, periods on time, queries per step) and, for each latency,
// how each executor compares with the first; -json writes the rows.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/chunking"
	"github.com/policylab/policylab/lessons/course"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/sim"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "chunking:", err)
		os.Exit(1)
	}
}

// Output is what -json writes.
type Output struct {
	Backend string             `json:"backend"`
	Policy  string             `json:"policy"`
	Rows    []chunking.RowJSON `json:"rows"`
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chunking", flag.ContinueOnError)
	fs.SetOutput(stderr)
	policy := fs.String("policy", "dp", "dp (a diffusion policy checkpoint) or bc (the lesson's chunked BC, trained on first use)")
	envName := fs.String("env", "pusht", "pusht or arm-reach")
	ckpt := fs.String("ckpt", "", "checkpoint directory (default: out/checkpoints/dp-pusht-cpu or dp-arm-reach for dp, out/checkpoints/bc-chunk16-<env> for bc)")
	episodes := fs.Int("episodes", 50, "seeded episodes per executor and latency")
	maxSteps := fs.Int("max-steps", 0, "episode length limit (0: the environment's)")
	latencies := fs.String("latency", "0,250ms", "comma-separated simulated inference latencies")
	executors := fs.String("executors", strings.Join(chunking.Names, ","), "comma-separated executors: "+strings.Join(chunking.Names, ", "))
	execute := fs.Int("execute", 8, "actions executed per chunk (chapter, async)")
	m := fs.Float64("m", 0.01, "the ensembles' weight exponent (ACT's m)")
	trainSteps := fs.Int("train-steps", 3000, "bc: training steps when the checkpoint directory holds none")
	jsonOut := fs.String("json", "", "write the rows as JSON here (- for stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var f sim.Factory
	switch *envName {
	case "pusht":
		f = sim.PushTFactory(sim.PushTKeypoints, false)
	case "arm-reach":
		f = sim.ArmFactory(arm.DefaultConfig(arm.Reach), false)
	default:
		return fmt.Errorf("-env %q: want pusht or arm-reach", *envName)
	}
	var lats []float64
	for _, l := range strings.Split(*latencies, ",") {
		l = strings.TrimSpace(l)
		if l == "0" {
			lats = append(lats, 0)
			continue
		}
		d, err := time.ParseDuration(l)
		if err != nil || d < 0 {
			return fmt.Errorf("-latency: %q is not a duration like 250ms", l)
		}
		lats = append(lats, d.Seconds())
	}
	var cfgs []chunking.Config
	for _, name := range strings.Split(*executors, ",") {
		c, err := chunking.ByName(strings.TrimSpace(name), *execute, *m)
		if err != nil {
			return err
		}
		cfgs = append(cfgs, c)
	}
	env, err := f.NewEnv()
	if err != nil {
		return err
	}
	spec := env.Spec()
	root, err := course.Root()
	if err != nil {
		return err
	}
	b, err := backend.New()
	if err != nil {
		return err
	}
	ec := eval.Config{Episodes: *episodes, MaxSteps: *maxSteps}
	var setup chunking.Setup
	var what string
	switch *policy {
	case "dp":
		dir := *ckpt
		if dir == "" {
			dir = filepath.Join(root, "out", "checkpoints", "dp-pusht-cpu")
			if *envName == "arm-reach" {
				dir = filepath.Join(root, "out", "checkpoints", "dp-arm-reach")
			}
		}
		p, which, err := chunking.LoadDiffusion(b, dir)
		if err != nil {
			return err
		}
		if p.Config().StateDim != spec.StateDim() || p.Config().ActionDim != spec.ActionDim() {
			return fmt.Errorf("%s: a policy of %d-D observations and %d-D actions; %s has %d and %d", which,
				p.Config().StateDim, p.Config().ActionDim, f.Name, spec.StateDim(), spec.ActionDim())
		}
		setup, what = chunking.DiffusionSetup("DP, "+f.Name, p, f, ec), "diffusion policy "+which
	case "bc":
		dir := *ckpt
		if dir == "" {
			dir = filepath.Join(root, "out", "checkpoints", "bc-chunk16-"+f.Name)
		}
		p, err := chunking.ChunkedBC(b, f, dir, *trainSteps, stderr)
		if err != nil {
			return err
		}
		setup, what = chunking.PolicySetup("BC, "+f.Name, p, f, ec), "chunked BC from "+dir
	default:
		return fmt.Errorf("-policy %q: want dp or bc", *policy)
	}
	fmt.Fprintf(stdout, "%s on %s (%s), %d episodes\n", what, f.Name, backend.Describe(), *episodes)
	rows, err := chunking.Sweep(setup, cfgs, lats, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, chunking.Table(chunking.Units(spec), rows...))
	fmt.Fprintln(stdout, chunking.Verdicts(rows...))
	if *jsonOut == "" {
		return nil
	}
	out := Output{Backend: backend.Describe(), Policy: what}
	for _, r := range rows {
		out.Rows = append(out.Rows, r.JSON())
	}
	return course.WriteJSON(*jsonOut, stdout, out)
}
