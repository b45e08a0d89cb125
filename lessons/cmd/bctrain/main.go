// Command bctrain trains a behaviour-cloning policy on arm demonstrations
// from our scripted expert and scores it on seeded episodes: the 4.2.2
// notebook's experiments from a terminal, for runs longer than a notebook
// cell (the full-size vision policy on a GPU, say).
//
//	go run ./lessons/cmd/bctrain                       # state BC, relative actions, DART demos
//	GOMLX_BACKEND=xla:cuda go run ./lessons/cmd/bctrain -vision gpu -steps 3000 -batch 64 -json out/vision-gpu.json
//	go run ./lessons/cmd/bctrain -vision cpu -width 16 -size 96   # a config variant
//
// It prints the backend, a progress line while training, and a Markdown
// table of the result; -json also writes the result as JSON.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"io"
	"os"
	"time"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/bc"
	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/resnet"
	"github.com/policylab/policylab/lessons/sim"
	"github.com/policylab/policylab/lessons/trainer"
)

// Result is what -json writes.
type Result struct {
	Backend      string    `json:"backend"`
	Config       bc.Config `json:"config"`
	Demos        int       `json:"demos"`
	ActionNoise  float64   `json:"action_noise"`
	Steps        int       `json:"steps"`
	BatchSize    int       `json:"batch_size"`
	StepsPerSec  float64   `json:"steps_per_s"`
	TrainSeconds float64   `json:"train_s"`
	EvalSeconds  float64   `json:"eval_s"`
	FinalLoss    float64   `json:"final_train_loss"`
	Episodes     int       `json:"episodes"`
	SuccessRate  float64   `json:"success_rate"`
	MeanMaxScore float64   `json:"mean_max_score"`
	EvalSteps    []int     `json:"eval_steps,omitempty"`
	EvalSuccess  []float64 `json:"eval_success,omitempty"`
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bctrain:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	flag := flag.NewFlagSet("bctrain", flag.ContinueOnError)
	var (
		task     = flag.String("task", "reach", "arm task: reach or reach-color")
		demos    = flag.Int("demos", 200, "expert demonstrations")
		noise    = flag.Float64("dart", 0.01, "DART action noise (std, rad) injected while recording demos; 0: clean")
		vision   = flag.String("vision", "none", "none (state MLP), cpu (bc.CPUVisionConfig), gpu (bc.GPUVisionConfig) or chapter (bc.ChapterVisionConfig)")
		pool     = flag.String("pool", "", "override the vision pool: avg or spatial-softmax")
		shift    = flag.Int("shift", -1, "override the vision random-shift augmentation, pixels")
		norm     = flag.String("norm", "", "override the ResNet normalization: batch or group")
		size     = flag.Int("size", 0, "override the vision image size")
		width    = flag.Int("width", 0, "override the ResNet width (64: torchvision's)")
		relative = flag.Bool("relative", true, "predict joint targets relative to joint positions")
		chunk    = flag.Int("chunk", 1, "actions per prediction (the chunk)")
		execute  = flag.Int("execute", 0, "actions of each chunk executed in evaluation (default: the whole chunk)")
		steps    = flag.Int("steps", 1500, "training steps")
		batch    = flag.Int("batch", 0, "batch size (default: 64 state, 32 vision)")
		lr       = flag.Float64("lr", 0, "peak learning rate (default: the trainer's)")
		evalN    = flag.Int("episodes", 100, "evaluation episodes")
		evalEach = flag.Int("eval-every", 0, "also evaluate (on -episodes/2 episodes) every N steps")
		dir      = flag.String("ckpt", "", "checkpoint directory (resumes from it when it holds one)")
		jsonOut  = flag.String("json", "", "write the result as JSON here")
		seed     = flag.Int64("seed", 1, "seed of demonstrations and training")
	)
	if err := flag.Parse(args); err != nil {
		return err
	}

	b, err := backend.New()
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, backend.Describe())

	var armTask arm.Task
	switch *task {
	case "reach":
		armTask = arm.Reach
	case "reach-color":
		armTask = arm.ReachColor
	default:
		return fmt.Errorf("-task %q: want reach or reach-color", *task)
	}
	cfg := bc.DefaultConfig()
	cfg.Chunk = *chunk
	if *relative {
		cfg.RelativeTo = []int{0, 1, 2, 3, 4, 5, 6}
	}
	bs := 64
	var images func([]float32) (*image.RGBA, error)
	switch *vision {
	case "none":
	case "cpu", "gpu", "chapter":
		v := map[string]func() bc.VisionConfig{"cpu": bc.CPUVisionConfig, "gpu": bc.GPUVisionConfig, "chapter": bc.ChapterVisionConfig}[*vision]()
		if *pool != "" {
			v.Pool = *pool
		}
		if *shift >= 0 {
			v.Shift = *shift
		}
		if *size > 0 {
			v.ImageSize = *size
		}
		if *width > 0 {
			v.ResNet.Width = *width
		}
		switch *norm {
		case "":
		case "batch":
			v.ResNet.Norm, v.ResNet.Groups, v.ResNet.GroupSize = resnet.BatchNorm, 0, 0
		case "group":
			if v.ResNet.Norm != resnet.GroupNorm {
				v.ResNet.Norm, v.ResNet.GroupSize = resnet.GroupNorm, 16
			}
		default:
			return fmt.Errorf("-norm %q: want batch or group", *norm)
		}
		cfg.Vision = &v
		bs = 32
		images = func(state []float32) (*image.RGBA, error) { return sim.ArmImage(state, armTask, 96) }
	default:
		return fmt.Errorf("-vision %q: want none, cpu, gpu or chapter", *vision)
	}
	if *batch > 0 {
		bs = *batch
	}
	if err := cfg.Validate(); err != nil {
		return err
	}

	f := sim.ArmFactory(arm.DefaultConfig(armTask), cfg.Vision != nil)
	t0 := time.Now()
	ds, err := data.Generate(sim.ArmFactory(arm.DefaultConfig(armTask), false), *demos, *seed, data.GenOptions{ActionNoise: *noise})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demos: %s (%.1fs)\n", ds.Summary(), time.Since(t0).Seconds())

	tc := trainer.DefaultConfig()
	tc.Steps, tc.BatchSize, tc.Seed, tc.Dir, tc.Progress = *steps, bs, *seed, *dir, stdout
	if *lr > 0 {
		tc.LearningRate = *lr
	}
	tc.WarmupSteps = min(tc.WarmupSteps, *steps/10)
	res := Result{Backend: backend.Chosen().Config, Demos: *demos, ActionNoise: *noise, Steps: *steps, BatchSize: bs, Episodes: *evalN}
	var p *bc.Policy
	if cfg.Vision != nil {
		p, err = bc.NewVision(b, cfg, images)
	} else {
		p, err = bc.NewMLP(b, cfg)
	}
	if err != nil {
		return err
	}
	if err := p.Fit(ds, 0.1, *seed); err != nil {
		return err
	}
	score := func(episodes int) (*eval.Result, error) {
		return eval.Run(f.NewEnv, func() (eval.Policy, error) { return eval.Chunked(p, *execute), nil }, eval.Config{Episodes: episodes})
	}
	if *evalEach > 0 {
		tc.EvalEvery = *evalEach
		tc.Eval = func(step int) (*eval.Result, error) {
			r, err := score(max(1, *evalN/2))
			if err == nil {
				res.EvalSteps = append(res.EvalSteps, step)
				res.EvalSuccess = append(res.EvalSuccess, r.SuccessRate)
			}
			return r, err
		}
	}
	t0 = time.Now()
	h, err := trainer.Train(p, tc)
	if err != nil {
		return err
	}
	res.TrainSeconds = time.Since(t0).Seconds()
	res.StepsPerSec, res.FinalLoss = h.StepsPerSec, h.FinalTrainLoss()
	res.Config = p.Config()
	t0 = time.Now()
	r, err := score(*evalN)
	if err != nil {
		return err
	}
	res.EvalSeconds = time.Since(t0).Seconds()
	res.SuccessRate, res.MeanMaxScore = r.SuccessRate, r.MeanMaxScore
	fmt.Fprint(stdout, bc.Table(&bc.Run{Name: "bc " + *vision, Policy: p, History: h, Eval: r, Demos: *demos}))
	fmt.Fprintf(stdout, "train %.1fs, eval %.1fs\n", res.TrainSeconds, res.EvalSeconds)
	if *jsonOut != "" {
		buf, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*jsonOut, append(buf, '\n'), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", *jsonOut, err)
		}
	}
	return nil
}
