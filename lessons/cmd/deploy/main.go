// Command deploy runs section 4.2.5's deployment over ROS 2 (DDS):
//
//	deploy robot   the simulated 7-DOF arm as a ROS 2 robot (joint states,
//	               camera, targets, instruction; consumes trajectories)
//	deploy policy  the policy node, until interrupted
//	deploy demo    both: the robot as a child process, the policy node here;
//	               prints each episode's outcome and the node's latencies
//
// Both sides use ROS_DOMAIN_ID (or -domain). The policy is a BC
// checkpoint (-ckpt, from lessons/cmd/bctrain) or the scripted expert
// (-policy expert), which needs no training.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/bc"
	"github.com/policylab/policylab/lessons/checkpoint"
	"github.com/policylab/policylab/lessons/chunking"
	"github.com/policylab/policylab/lessons/course"
	"github.com/policylab/policylab/lessons/deploy"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/sim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "deploy:", err)
		os.Exit(1)
	}
}

func usage() error {
	return errors.New("usage: deploy robot|policy|demo [flags] (deploy <command> -h lists the flags)")
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usage()
	}
	switch args[0] {
	case "robot":
		return deploy.RobotMain(ctx, args[1:], stdout, stderr)
	case "policy", "demo":
		return policyOrDemo(ctx, args[0], args[1:], stdout, stderr)
	}
	return usage()
}

// executor is how the node executes the BC policy's chunks.
type executor struct {
	name    string        // a chunking executor, or "" for eval.Chunked
	execute int           // actions executed per chunk
	m       float64       // ensembles' weight exponent
	slow    time.Duration // the policy answers no sooner than this
}

// loadPolicy returns the policy to deploy and what it is.
func loadPolicy(kind, dir string, task arm.Task, ex executor) (eval.Policy, string, error) {
	switch kind {
	case "expert":
		return eval.ExpertPolicy{X: sim.ArmFactory(arm.DefaultConfig(task), false).NewExpert()}, "scripted expert", nil
	case "bc":
		if dir == "" {
			return nil, "", errors.New("-policy bc needs -ckpt DIR (train one with: go run ./lessons/cmd/bctrain -ckpt DIR)")
		}
		b, err := backend.New()
		if err != nil {
			return nil, "", err
		}
		if latest, err := checkpoint.Latest(dir); err == nil && latest != "" {
			dir = latest // a training directory: its newest checkpoint
		}
		p, err := bc.Load(b, dir, func(state []float32) (*image.RGBA, error) { return sim.ArmImage(state, task, 96) })
		if err != nil {
			return nil, "", err
		}
		what := fmt.Sprintf("BC %s from %s (%s)", p.Kind(), dir, backend.Describe())
		var chunks eval.ChunkPolicy = p
		if ex.slow > 0 {
			chunks = chunking.Slowed(p, ex.slow)
			what += fmt.Sprintf(", slowed to %v a query", ex.slow)
		}
		if ex.name == "" {
			return eval.Chunked(chunks, ex.execute), fmt.Sprintf("%s, executing %d of each chunk", what, ex.execute), nil
		}
		cfg, err := chunking.ByName(ex.name, ex.execute, ex.m)
		if err != nil {
			return nil, "", err
		}
		live, err := chunking.NewLive(chunks, cfg)
		if err != nil {
			return nil, "", err
		}
		env, err := sim.NewArm(arm.DefaultConfig(task), false)
		if err != nil {
			return nil, "", err
		}
		live.Executor().SetSpec(env.Spec())
		return live, fmt.Sprintf("%s, executor %s", what, cfg.Name), nil
	}
	return nil, "", fmt.Errorf("-policy %q: want bc or expert", kind)
}

// Report is what `deploy demo -json` writes.
type Report struct {
	Policy       string              `json:"policy"`
	Robot        *deploy.RobotReport `json:"robot"`
	Node         string              `json:"node"`
	LatencyP50Ms float64             `json:"latency_p50_ms"`
	LatencyP99Ms float64             `json:"latency_p99_ms"`
	LatencyMaxMs float64             `json:"latency_max_ms"`
	ComputeP50Ms float64             `json:"policy_p50_ms"`
	PeriodP50Ms  float64             `json:"period_p50_ms"`
	JitterP99Pct float64             `json:"period_jitter_p99_pct"`
	WithinPct    float64             `json:"periods_within_5pct"`
	Periods      int                 `json:"periods"`
	Misses       int                 `json:"deadline_misses"`
	Stale        int                 `json:"stale_periods"`
	Seconds      float64             `json:"seconds"`
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func policyOrDemo(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("deploy "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	domainOf := deploy.DomainFlag(fs)
	kind := fs.String("policy", "bc", "bc (a checkpoint, -ckpt) or expert (the scripted expert)")
	dir := fs.String("ckpt", "", "BC checkpoint directory (lessons/cmd/bctrain -ckpt)")
	train := fs.Bool("train", false, "with -ckpt: train the BC policy there first when it holds no checkpoint (deploy.ArmBC, about 15 s)")
	execute := fs.Int("execute", 1, "actions of each predicted chunk executed before re-planning")
	exName := fs.String("executor", "", "execute chunks with a package chunking executor: "+strings.Join(chunking.Names, ", ")+" (default: the first -execute actions of each chunk)")
	m := fs.Float64("m", 0.01, "the ensembles' weight exponent (ACT's m)")
	slow := fs.Duration("slow", 0, "make the policy answer no sooner than this after each query (stands for a slower model)")
	task := fs.String("task", "reach", "reach or reach-color")
	episodes := fs.Int("episodes", 10, "demo: episodes the robot serves")
	seed := fs.Int64("seed", 1000, "demo: reset seed of the first episode")
	duration := fs.Duration("duration", 0, "policy: stop after this long (0: until interrupted); demo: start episodes for this long (instead of -episodes)")
	jsonOut := fs.String("json", "", "demo: write the report as JSON here")
	verbose := fs.Bool("v", false, "demo: show the robot's and the node's log")
	if err := fs.Parse(args); err != nil {
		return err
	}
	domain, err := domainOf()
	if err != nil {
		return err
	}
	t, err := deploy.ParseTask(*task)
	if err != nil {
		return err
	}
	if *train && *kind == "bc" && *dir != "" {
		if _, err := checkpoint.Latest(*dir); errors.Is(err, checkpoint.ErrNone) {
			if t != arm.Reach {
				return errors.New("-train trains for -task reach only")
			}
			b, err := backend.New()
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "training the BC policy into %s (deploy.ArmBC)\n", *dir)
			if _, err := deploy.ArmBC(b, *dir, stdout); err != nil {
				return err
			}
			fmt.Fprintln(stdout)
		}
	}
	pol, what, err := loadPolicy(*kind, *dir, t, executor{name: *exName, execute: *execute, m: *m, slow: *slow})
	if err != nil {
		return err
	}
	ncfg := deploy.DefaultNodeConfig()
	ncfg.Domain = domain
	fmt.Fprintf(stdout, "policy: %s\n", what)
	if cmd == "policy" {
		if *duration > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, *duration)
			defer cancel()
		}
		n, err := deploy.NewPolicyNode(ncfg, pol, deploy.ArmObs, stderr)
		if err != nil {
			return err
		}
		if err := deploy.WarmUp(pol, ncfg.Images); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "policy node on domain %d: %s -> %s at %g Hz\n", ncfg.Domain, deploy.TopicJointStates, deploy.TopicTrajectory, ncfg.RateHz)
		rep, err := n.Run(ctx)
		if rep != nil {
			fmt.Fprintln(stdout, rep)
		}
		return err
	}

	rcfg := deploy.DefaultRobotConfig()
	rcfg.Domain, rcfg.Episodes, rcfg.Seed, rcfg.Arm = domain, *episodes, *seed, arm.DefaultConfig(t)
	if *duration > 0 {
		// Serve episodes until the duration has passed.
		rcfg.Episodes, rcfg.Duration = 1000000, *duration
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	log := io.Discard
	if *verbose {
		log = stderr
	}
	fmt.Fprintf(stdout, "robot: %d episodes of %s from seed %d, domain %d (a separate process)\n", rcfg.Episodes, rcfg.Arm.Task, rcfg.Seed, rcfg.Domain)
	t0 := time.Now()
	rrep, nrep, err := deploy.Demo(ctx, bin, rcfg, ncfg, pol, log)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, rrep.Summary())
	fmt.Fprintln(stdout, "policy node:", nrep)
	s := nrep.Stats()
	rep := Report{Policy: what, Robot: rrep, Node: nrep.String(),
		LatencyP50Ms: ms(s.LatencyP50), LatencyP99Ms: ms(s.LatencyP99), LatencyMaxMs: ms(s.LatencyMax), ComputeP50Ms: ms(s.ComputeP50),
		PeriodP50Ms: ms(s.PeriodP50), JitterP99Pct: 100 * s.JitterP99, WithinPct: s.WithinPct,
		Periods: nrep.Periods, Misses: nrep.DeadlineMisses, Stale: nrep.Stale, Seconds: time.Since(t0).Seconds()}
	if *jsonOut != "" {
		return course.WriteJSON(*jsonOut, stdout, rep)
	}
	return nil
}
