// Command vla runs section 4.2.4 from a terminal: it pretrains the
// lesson's vision-language-action policy on the arm's language-conditioned
// tasks (and, as the baseline, the same model blind to the instruction),
// scores both per task, then fine-tunes the pretrained policy on the
// held-out task with LoRA at ranks 4, 8 and 16, the head alone and all
// weights, and prints the study's table. LoRA r=8 and full fine-tuning
// then run again at the other study seeds (-seeds), and a table gives
// their success per seed and on average.
//
//	go run ./lessons/cmd/vla                       # CPU sizes, checkpoints under out/checkpoints/vla-*
//	go run ./lessons/cmd/vla -steps 6000 -ft-steps 2000
//	go run ./lessons/cmd/vla -head bins            # OpenVLA's 256-bin head instead of regression
//
// Pretraining resumes from (or reuses) the checkpoints in -dir; delete them
// to train afresh. -json writes every figure.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/course"
	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/trainer"
	"github.com/policylab/policylab/lessons/vla"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "vla:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vla", flag.ContinueOnError)
	fs.SetOutput(stderr)
	steps := fs.Int("steps", 3000, "pretraining steps (each policy)")
	ftSteps := fs.Int("ft-steps", 1000, "fine-tuning steps per method")
	demos := fs.Int("demos", 200, "expert demonstrations per pretraining task")
	ftDemos := fs.Int("ft-demos", 100, "expert demonstrations of the held-out task")
	episodes := fs.Int("episodes", 100, "evaluation episodes per task")
	seedList := fs.String("seeds", "7,8,9", "study seeds: the whole study at the first, LoRA r=8 and full fine-tuning again at the others")
	head := fs.String("head", vla.HeadRegression, "action head: regression (the chapter's) or bins (OpenVLA's)")
	dir := fs.String("dir", "", "checkpoint root (default out/checkpoints); pretraining uses vla-<head> and vla-<head>-blind there")
	jsonOut := fs.String("json", "", "write every figure as JSON here (- for stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		root, err := course.Root()
		if err != nil {
			return err
		}
		*dir = filepath.Join(root, "out", "checkpoints")
	}
	cfg := vla.DefaultConfig()
	cfg.Head = *head
	if err := cfg.Validate(); err != nil {
		return err
	}
	b, err := backend.New()
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, backend.Describe())
	out := vla.MakeOutput{Backend: backend.Chosen().Config, Config: cfg, Steps: *steps, FineSteps: *ftSteps, Demos: *demos}

	var results [][]vla.TaskResult
	var names []string
	for _, blind := range []bool{false, true} {
		c, name, sub := cfg, "VLA", "vla-"+*head
		if blind {
			c.IgnoreInstruction, name, sub = true, "blind to the instruction", sub+"-blind"
		}
		tc := trainer.DefaultConfig()
		tc.Steps, tc.WarmupSteps, tc.Seed, tc.Progress = *steps, *steps/10, 1, stdout
		tc.Dir = filepath.Join(*dir, sub)
		fmt.Fprintf(stdout, "pretraining %s in %s\n", name, tc.Dir)
		p, err := vla.LoadOrTrain(b, c, func() (*data.Dataset, error) {
			return vla.Demos(vla.PretrainTasks(), *demos, 1)
		}, tc)
		if err != nil {
			return err
		}
		r, err := vla.Evaluate(p, vla.PretrainTasks(), *episodes, 4)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout)
		for _, t := range r {
			fmt.Fprintf(stdout, "%s, %s\n", name, t.Result)
			out.Pretraining = append(out.Pretraining, vla.TaskRecord{Policy: name, Task: t.Task, Episodes: len(t.Result.Episodes), Success: t.Result.SuccessRate})
		}
		results, names = append(results, r), append(names, name)
	}
	fmt.Fprint(stdout, vla.TaskTable(names, results...))

	var seeds []int64
	for _, f := range strings.Split(*seedList, ",") {
		s, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil || s <= 0 {
			return fmt.Errorf("-seeds %q: %q is not a positive integer", *seedList, f)
		}
		seeds = append(seeds, s)
	}
	sc := vla.StudyConfig{Pretrained: filepath.Join(*dir, "vla-"+*head),
		Steps: *ftSteps, Demos: *ftDemos, Episodes: *episodes, Seed: seeds[0], Progress: stdout}
	runs, err := vla.Study(b, sc)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, vla.StudyTable(runs))
	// The methods repeated at the other seeds, and their records at the
	// first.
	repeated := []vla.Method{vla.LoRAMethod(8), {Name: "full", Trains: vla.TrainAll}}
	for _, r := range runs {
		out.Study = append(out.Study, r.Record())
		if slices.ContainsFunc(repeated, func(m vla.Method) bool { return m.Name == r.Method }) {
			out.Seeds = append(out.Seeds, r.SeedRecord(seeds[0]))
		}
	}
	if len(seeds) > 1 {
		sc.Methods = repeated
		more, err := vla.Repeat(b, sc, seeds[1:])
		if err != nil {
			return err
		}
		out.Seeds = append(out.Seeds, more...)
		fmt.Fprint(stdout, vla.SeedTable(out.Seeds))
	}
	if *jsonOut != "" {
		return course.WriteJSON(*jsonOut, stdout, out)
	}
	return nil
}
