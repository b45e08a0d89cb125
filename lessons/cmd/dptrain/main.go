// Command dptrain trains a diffusion policy (or, for contrast, the BC MLP)
// on Push-T demonstrations from our scripted expert and scores it with
// Diffusion Policy's protocol: the 4.2.3 notebook's Push-T experiment from
// a terminal, for runs longer than a notebook cell. With -env arm-reach it
// trains on the arm's REACH demonstrations instead (the policy of section
// 4.2.6's comparison, make dp-arm).
//
//	go run ./lessons/cmd/dptrain                                   # dp.CPUConfig, 50 seeded episodes
//	go run ./lessons/cmd/dptrain -policy bc                        # the BC MLP on the same demos and seeds
//	go run ./lessons/cmd/dptrain -env arm-reach -config arm        # chunking.ArmDiffusionConfig on arm REACH
//	GOMLX_BACKEND=xla:cuda go run ./lessons/cmd/dptrain -config default -steps 20000 -batch 256
//	GOMLX_BACKEND=xla:cuda go run ./lessons/cmd/dptrain -vision gpu   # the image-based policy (dp.VisionGPUConfig)
//
// On the arm, BC predicts joint targets relative to the joint positions
// (bc.Config.RelativeTo = [0..6]) and the diffusion policy absolute ones
// (see chunking.ArmDiffusionConfig); an episode scores 1 when it reaches
// its target, so the score is the success rate.
//
// With -vision the policy sees, per observation step, a camera image and
// the agent's position (the first two elements of the 5-D state, so it
// needs -obs state, its default then); the block's pose reaches it only
// through the image. Images are rendered from the states by
// sim.PushTImage at the config's image size, in training and, from each
// observation's state, in evaluation, so the policy sees the same pictures
// in both.
//
// Scoring follows the paper: every -eval-every steps the EMA weights play
// -episodes seeded episodes, an episode scores its maximum coverage, and
// the run reports the maximum and the mean of the last -last evaluations.
// It prints the backend, a progress line while training and a Markdown
// table; -json also writes the result as JSON.
//
// -score trains nothing: it scores the checkpoints a run kept, optionally
// with another sampler (the paper samples Push-T with DDPM-100). Given the
// directories of several runs that differ only in -seed, it also averages
// them as the paper's Table 1 does over 3 training seeds:
//
//	go run ./lessons/cmd/dptrain -score run1,run2,run3 -method ddpm -json seeds.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/compute"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/bc"
	"github.com/policylab/policylab/lessons/chunking"
	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/diffusion"
	"github.com/policylab/policylab/lessons/dp"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/sim"
	"github.com/policylab/policylab/lessons/trainer"
)

// Result is what -json writes.
type Result struct {
	Backend      string          `json:"backend"`
	Policy       string          `json:"policy"`
	Env          string          `json:"env"`
	Vision       string          `json:"vision,omitempty"`
	Config       json.RawMessage `json:"config"`
	Obs          string          `json:"obs"`
	Demos        int             `json:"demos"`
	Steps        int             `json:"steps"`
	BatchSize    int             `json:"batch_size"`
	LearningRate float64         `json:"learning_rate"`
	StepsPerSec  float64         `json:"steps_per_s"`
	TrainSeconds float64         `json:"train_s"`
	EvalSeconds  float64         `json:"eval_s"`
	FinalLoss    float64         `json:"final_train_loss"`
	Episodes     int             `json:"episodes"`
	EvalSteps    []int           `json:"eval_steps"`
	EvalScore    []float64       `json:"eval_score"`
	EvalSuccess  []float64       `json:"eval_success"`
	MaxScore     float64         `json:"max_score"`
	MeanLast     float64         `json:"mean_last_score"`
	Last         int             `json:"last"`
	FinalSuccess float64         `json:"final_success"`
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "dptrain:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	flag := flag.NewFlagSet("dptrain", flag.ContinueOnError)
	var (
		policy    = flag.String("policy", "dp", "dp (diffusion policy) or bc (the chapter's BC MLP, one action per step)")
		envName   = flag.String("env", "pusht", "pusht or arm-reach")
		config    = flag.String("config", "cpu", "dp config: cpu (dp.CPUConfig), default (dp.DefaultConfig, the paper's), chapter (dp.ChapterConfig) or arm (chunking.ArmDiffusionConfig)")
		network   = flag.String("network", "", "override the noise predictor: mlp or unet")
		down      = flag.String("down", "", "override the U-Net widths, e.g. 64,128,256")
		hidden    = flag.Int("hidden", 0, "override the MLP width")
		method    = flag.String("method", "", "override the sampler: ddpm, ddim or chapter")
		infSteps  = flag.Int("inference-steps", 0, "override the DDIM steps")
		eta       = flag.Float64("eta", 0, "override DDIM's eta (0: deterministic, 1: DDPM's noise)")
		obsKind   = flag.String("obs", "keypoints", "Push-T observation: keypoints (20-D, the paper's) or state (5-D); state with -vision")
		vision    = flag.String("vision", "none", "none (state-based), cpu (dp.VisionCPUConfig) or gpu (dp.VisionGPUConfig): the image-based policy, with the vision config's U-Net unless -config is given")
		width     = flag.Int("width", 0, "override the ResNet width of -vision")
		size      = flag.Int("size", 0, "override the image size of -vision")
		shift     = flag.Int("shift", -1, "override the random-shift augmentation of -vision, pixels")
		pool      = flag.String("pool", "", "override the pool of -vision: avg or spatial-softmax")
		demos     = flag.Int("demos", 200, "expert demonstrations (the paper has about 200)")
		steps     = flag.Int("steps", 6000, "training steps")
		batch     = flag.Int("batch", 64, "batch size")
		lr        = flag.Float64("lr", 1e-3, "peak learning rate")
		wd        = flag.Float64("wd", 1e-6, "AdamW weight decay (the paper's 1e-6)")
		evalN     = flag.Int("episodes", 50, "evaluation episodes (the paper's 50)")
		evalEach  = flag.Int("eval-every", 0, "evaluate every N steps (0: steps/5)")
		last      = flag.Int("last", 3, "report the mean of the last N evaluations (the paper: 10 checkpoints)")
		dir       = flag.String("ckpt", "", "checkpoint directory (resumes from it when it holds one)")
		jsonOut   = flag.String("json", "", "write the result as JSON here")
		seed      = flag.Int64("seed", 1, "seed of demonstrations and training")
		scoreDirs = flag.String("score", "", "train nothing: score every checkpoint in this directory (fresh from disk) and summarize as the paper; several directories, comma-separated (one per training seed), are averaged as the paper averages 3 seeds")
	)
	if err := flag.Parse(args); err != nil {
		return err
	}
	set := given(flag)
	isArm := false
	switch *envName {
	case "pusht":
	case "arm-reach":
		isArm = true
		for _, name := range []string{"obs", "vision"} {
			if set[name] {
				return fmt.Errorf("-%s is for -env pusht", name)
			}
		}
	default:
		return fmt.Errorf("-env %q: want pusht or arm-reach", *envName)
	}
	var visionCfg dp.Config
	switch *vision {
	case "none":
	case "cpu":
		visionCfg = dp.VisionCPUConfig()
	case "gpu":
		visionCfg = dp.VisionGPUConfig()
	default:
		return fmt.Errorf("-vision %q: want none, cpu or gpu", *vision)
	}
	if visionCfg.Vision == nil {
		for _, name := range []string{"width", "size", "shift", "pool"} {
			if set[name] {
				return fmt.Errorf("-%s is for -vision cpu or gpu", name)
			}
		}
	} else {
		if *policy != "dp" {
			return fmt.Errorf("-vision %s is for -policy dp", *vision)
		}
		if set["obs"] && *obsKind != "state" {
			return fmt.Errorf("-vision %s needs -obs state (its proprioception is the agent's x, y at the head of the 5-D state), not -obs %s", *vision, *obsKind)
		}
		*obsKind = "state"
	}
	kind := sim.PushTKeypoints
	switch *obsKind {
	case "keypoints":
	case "state":
		kind = sim.PushTState
	default:
		return fmt.Errorf("-obs %q: want keypoints or state", *obsKind)
	}
	if *evalEach <= 0 {
		*evalEach = max(1, *steps/5)
	}

	var cfg dp.Config
	switch *config {
	case "cpu":
		cfg = dp.CPUConfig()
	case "default":
		cfg = dp.DefaultConfig()
	case "chapter":
		cfg = dp.ChapterConfig()
	case "arm":
		cfg = chunking.ArmDiffusionConfig()
	default:
		return fmt.Errorf("-config %q: want cpu, default, chapter or arm", *config)
	}
	if v := visionCfg.Vision; v != nil {
		if !set["config"] {
			cfg = visionCfg
		}
		if *width > 0 {
			v.ResNet.Width = *width
		}
		if *size > 0 {
			v.ImageSize = *size
		}
		if *shift >= 0 {
			v.Shift = *shift
		}
		if *pool != "" {
			v.Pool = *pool
		}
		cfg.Vision = v
	}
	if *network != "" {
		cfg.Network = *network
	}
	if *down != "" {
		var dims []int
		for _, f := range strings.Split(*down, ",") {
			d, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				return fmt.Errorf("-down %q: %v", *down, err)
			}
			dims = append(dims, d)
		}
		cfg.UNet.DownDims = dims
	}
	if *hidden > 0 {
		cfg.Hidden = *hidden
	}
	// setSampler applies the sampler flags given to c: the config to
	// train, or with -score each checkpoint's. Validate rejects bad values.
	setSampler := func(c *dp.Config) {
		if set["method"] {
			c.Method = diffusion.Method(*method)
		}
		if set["inference-steps"] {
			c.InferenceSteps = *infSteps
		}
		if set["eta"] {
			c.Eta = *eta
		}
	}
	setSampler(&cfg)
	if *policy != "dp" && *policy != "bc" {
		return fmt.Errorf("-policy %q: want dp or bc", *policy)
	}
	if *policy == "dp" && *scoreDirs == "" { // -score validates each checkpoint's config
		if err := cfg.Validate(); err != nil {
			return err
		}
	}

	b, err := backend.New()
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, backend.Describe())
	if *scoreDirs != "" {
		// The sampler flags apply to the loaded policies; the rest of
		// their config is the checkpoint's.
		var sampler func(*dp.Config)
		if set["method"] || set["inference-steps"] || set["eta"] {
			sampler = setSampler
		}
		return scoreCheckpoints(b, *scoreDirs, isArm, *evalN, *last, sampler, *jsonOut, stdout)
	}

	// Evaluation environments give no images: a vision policy renders
	// each observation from its state, as its training frames were.
	f := sim.PushTFactory(kind, false)
	if isArm {
		f, *obsKind = armFactory(), "state"
	}
	t0 := time.Now()
	ds, err := data.Generate(f, *demos, *seed, data.GenOptions{OnlySuccessful: true})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demos: %s (%.1fs)\n", ds.Summary(), time.Since(t0).Seconds())

	tc := trainer.DefaultConfig()
	tc.Steps, tc.BatchSize, tc.Seed, tc.Dir, tc.Progress = *steps, *batch, *seed, *dir, stdout
	tc.LearningRate, tc.WeightDecay = *lr, *wd
	tc.WarmupSteps = min(500, *steps/10)
	tc.EvalEvery = *evalEach
	res := Result{Backend: backend.Chosen().Config, Policy: *policy, Env: f.Name, Obs: *obsKind, Demos: *demos, Steps: *steps, BatchSize: *batch,
		LearningRate: *lr, Episodes: *evalN, Last: *last}
	if cfg.Vision != nil {
		res.Vision = *vision
	}

	var (
		t         trainer.Trainable
		evaluate  func() (*eval.Result, error)
		getConfig func() any
	)
	if *policy == "dp" {
		var images func(state []float32) (*image.RGBA, error)
		if v := cfg.Vision; v != nil {
			images = func(state []float32) (*image.RGBA, error) { return sim.PushTImage(state, v.ImageSize) }
		}
		p, err := dp.Prepare(b, cfg, images, ds, *seed)
		if err != nil {
			return err
		}
		tc.EMA = trainer.DefaultEMA()
		t = p
		evaluate = func() (*eval.Result, error) { return dp.Evaluate(p, f, *evalN) }
		getConfig = func() any { return p.Config() }
	} else {
		// As notebook 4.2.2: targets relative to the agent's position.
		bcfg := bc.DefaultConfig()
		bcfg.RelativeTo = []int{18, 19}
		if isArm {
			bcfg.RelativeTo = armJoints
		} else if kind == sim.PushTState {
			bcfg.RelativeTo = []int{0, 1}
		}
		p, err := bc.NewMLP(b, bcfg)
		if err != nil {
			return err
		}
		if err := p.Fit(ds, 0.05, *seed); err != nil {
			return err
		}
		t = p
		evaluate = func() (*eval.Result, error) {
			return eval.Run(f.NewEnv, func() (eval.Policy, error) { return eval.Chunked(p, 1), nil }, eval.Config{Episodes: *evalN})
		}
		getConfig = func() any { return p.Config() }
	}
	var evalWall time.Duration
	tc.Eval = func(step int) (*eval.Result, error) {
		e0 := time.Now()
		r, err := evaluate()
		evalWall += time.Since(e0)
		if err == nil {
			res.EvalSteps = append(res.EvalSteps, step)
			res.EvalScore = append(res.EvalScore, r.MeanMaxScore)
			res.EvalSuccess = append(res.EvalSuccess, r.SuccessRate)
			fmt.Fprintf(stdout, "\nstep %d: %s\n", step, r)
		}
		return r, err
	}
	t0 = time.Now()
	h, err := trainer.Train(t, tc)
	if err != nil {
		return err
	}
	res.EvalSeconds = evalWall.Seconds()
	res.TrainSeconds = time.Since(t0).Seconds() - res.EvalSeconds
	res.StepsPerSec, res.FinalLoss = h.StepsPerSec, h.FinalTrainLoss()
	res.Config, _ = json.Marshal(getConfig())
	if res.MaxScore, res.MeanLast, err = dp.Score(res.EvalScore, *last); err != nil {
		return err
	}
	res.FinalSuccess = res.EvalSuccess[len(res.EvalSuccess)-1]
	if isArm {
		fmt.Fprint(stdout, dp.Table(res.Row()))
	} else {
		fmt.Fprint(stdout, dp.PushTTable(res.Row()))
	}
	if *jsonOut != "" {
		return writeJSON(*jsonOut, res)
	}
	return nil
}

// writeJSON writes v to path as indented JSON (-json).
func writeJSON(path string, v any) error {
	buf, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(buf, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// given returns the names of the flags set on the command line.
func given(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// armJoints are the arm state's joint positions, to which BC's joint
// targets are relative.
var armJoints = []int{0, 1, 2, 3, 4, 5, 6}

// armFactory is arm REACH, as section 4.2.6 runs it.
func armFactory() sim.Factory { return sim.ArmFactory(arm.DefaultConfig(arm.Reach), false) }

// Row is the result as a row of dp.PushTTable.
func (r *Result) Row() dp.PushTRow {
	name := r.Policy
	if r.Vision != "" {
		name += " (vision " + r.Vision + ")"
	}
	return dp.PushTRow{Name: name, Steps: r.Steps, TrainSeconds: r.TrainSeconds, MaxScore: r.MaxScore, MeanLast: r.MeanLast,
		Last: r.Last, Success: r.FinalSuccess}
}

// samplerName is how c samples, e.g. "DDIM-10, eta 0" or "DDPM-100".
func samplerName(c dp.Config) string {
	if c.Method == diffusion.MethodDDIM {
		return fmt.Sprintf("DDIM-%d, eta %g", c.InferenceSteps, c.Eta)
	}
	return fmt.Sprintf("%s-%d", strings.ToUpper(string(c.Method)), c.Noise.TrainSteps)
}

// ScoreResult is -score's -json output for one directory: every
// checkpoint of the directory, fresh from disk, scored by the paper's
// protocol.
type ScoreResult struct {
	Backend     string    `json:"backend"`
	Dir         string    `json:"dir"`
	Checkpoints []string  `json:"checkpoints"`
	Sampler     []string  `json:"sampler"` // per checkpoint, e.g. "DDPM-100"
	Episodes    int       `json:"episodes"`
	Score       []float64 `json:"score"` // mean of the episodes' max coverage
	Success     []float64 `json:"success"`
	EvalSeconds []float64 `json:"eval_s"`
	MaxScore    float64   `json:"max_score"`
	MeanLast    float64   `json:"mean_last_score"`
	Last        int       `json:"last"`
}

// SeedsScore is -score's -json output for several directories, one per
// training seed: each run scored as ScoreResult, and the paper's summary,
// its Table 1 protocol ("each averaged across 3 training seeds"): the mean
// over the runs of their max, and of their mean of the last checkpoints.
type SeedsScore struct {
	Runs     []ScoreResult `json:"runs"`
	MaxScore float64       `json:"max_score"`       // mean over runs of each run's MaxScore
	MeanLast float64       `json:"mean_last_score"` // mean over runs of each run's MeanLast
	// MaxRange and MeanLastRange are the lowest and highest run.
	MaxRange      [2]float64 `json:"max_score_range"`
	MeanLastRange [2]float64 `json:"mean_last_score_range"`
}

// scoreCheckpoints scores every directory of dirs (a comma-separated list;
// see scoreDir) and prints the paper's summary of each. With one
// directory it writes its ScoreResult to jsonOut (when not empty); with
// several it also prints, and writes, their SeedsScore.
func scoreCheckpoints(b compute.Backend, dirs string, isArm bool, episodes, last int, sampler func(*dp.Config), jsonOut string, stdout io.Writer) error {
	var list []string
	for _, d := range strings.Split(dirs, ",") {
		if d = strings.TrimSpace(d); d != "" {
			list = append(list, d)
		}
	}
	if len(list) == 0 {
		return fmt.Errorf("-score %q: no directory", dirs)
	}
	var out any
	seeds := SeedsScore{MaxRange: [2]float64{math.Inf(1), math.Inf(-1)}, MeanLastRange: [2]float64{math.Inf(1), math.Inf(-1)}}
	for _, dir := range list {
		if len(list) > 1 {
			fmt.Fprintf(stdout, "%s:\n", dir)
		}
		r, err := scoreDir(b, dir, isArm, episodes, last, sampler, stdout)
		if err != nil {
			return err
		}
		out = r
		seeds.Runs = append(seeds.Runs, *r)
		seeds.MaxScore += r.MaxScore / float64(len(list))
		seeds.MeanLast += r.MeanLast / float64(len(list))
		seeds.MaxRange = [2]float64{math.Min(seeds.MaxRange[0], r.MaxScore), math.Max(seeds.MaxRange[1], r.MaxScore)}
		seeds.MeanLastRange = [2]float64{math.Min(seeds.MeanLastRange[0], r.MeanLast), math.Max(seeds.MeanLastRange[1], r.MeanLast)}
	}
	if len(list) > 1 {
		fmt.Fprintf(stdout, "%d runs, averaged as the paper: max %.3f (runs %.3f..%.3f), mean of the last checkpoints %.3f (runs %.3f..%.3f)\n",
			len(list), seeds.MaxScore, seeds.MaxRange[0], seeds.MaxRange[1], seeds.MeanLast, seeds.MeanLastRange[0], seeds.MeanLastRange[1])
		out = seeds
	}
	if jsonOut == "" {
		return nil
	}
	return writeJSON(jsonOut, out)
}

// scoreDir loads every ckpt-* of dir (a state or vision diffusion policy,
// of arm REACH when isArm), applies sampler when not nil, scores it with
// dp.Evaluate on episodes seeded episodes, and prints the paper's summary
// over them (max, mean of the last `last`).
func scoreDir(b compute.Backend, dir string, isArm bool, episodes, last int, sampler func(*dp.Config), stdout io.Writer) (*ScoreResult, error) {
	cks, err := filepath.Glob(filepath.Join(dir, "ckpt-*"))
	if err != nil || len(cks) == 0 {
		return nil, fmt.Errorf("-score %s: no ckpt-* checkpoints there", dir)
	}
	sort.Strings(cks)
	res := ScoreResult{Backend: backend.Chosen().Config, Dir: dir, Episodes: episodes, Last: min(last, len(cks))}
	for _, ck := range cks {
		var p *dp.Policy
		p, err := dp.LoadVision(b, ck, func(state []float32) (*image.RGBA, error) {
			return sim.PushTImage(state, p.Config().Vision.ImageSize)
		})
		if err != nil {
			return nil, err
		}
		if sampler != nil {
			c := p.Config()
			sampler(&c)
			if err := p.SetSampler(c.Method, c.InferenceSteps, c.Eta); err != nil {
				return nil, fmt.Errorf("%s: %w", ck, err)
			}
		}
		f := sim.PushTFactory(sim.PushTKeypoints, false)
		if isArm {
			f = armFactory()
		} else if p.Config().StateDim == 5 {
			f = sim.PushTFactory(sim.PushTState, false)
		}
		r, err := dp.Evaluate(p, f, episodes)
		if err != nil {
			return nil, err
		}
		name := samplerName(p.Config())
		fmt.Fprintf(stdout, "%s (%s): %s\n", filepath.Base(ck), name, r)
		res.Checkpoints = append(res.Checkpoints, filepath.Base(ck))
		res.Sampler = append(res.Sampler, name)
		res.Score = append(res.Score, r.MeanMaxScore)
		res.Success = append(res.Success, r.SuccessRate)
		res.EvalSeconds = append(res.EvalSeconds, r.Wall.Seconds())
	}
	if res.MaxScore, res.MeanLast, err = dp.Score(res.Score, last); err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "%d checkpoints: max %.3f, mean of the last %d %.3f\n", len(res.Score), res.MaxScore, res.Last, res.MeanLast)
	return &res, nil
}
