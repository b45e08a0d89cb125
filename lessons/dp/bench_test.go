package dp

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"
	"time"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/conv"
	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/diffusion"
	"github.com/policylab/policylab/lessons/resnet"
	"github.com/policylab/policylab/lessons/sim"
)

// BenchmarkTrainStepChapter times one training step of the chapter's
// DiffusionPolicy as its PyTorch peer does (../shared/peer): obs 20 (Push-T
// keypoints), action 2, horizon 16, the MLP noise predictor (hidden 256),
// 100 linear-schedule steps, batch 64, Adam 1e-4, MSE on ε, one random
// batch. Timesteps and noise are drawn in the graph, as the peer draws
// them per step. It reports steps/s; `make bench` sets it beside the peer's.
func BenchmarkTrainStepChapter(b *testing.B) {
	benchTrainStep(b, ChapterConfig())
}

// BenchmarkTrainStepUNet times the same step with the U-Net noise
// predictor on two observation steps: CPUConfig's (32/64/128, the one make
// dp-pusht trains) and DefaultConfig's (the paper's 256/512/1024). The
// peer has no U-Net, so these have no ratio.
func BenchmarkTrainStepUNet(b *testing.B) {
	for _, u := range []struct {
		name string
		cfg  func() Config
	}{{"CPU", CPUConfig}, {"DP", DefaultConfig}} {
		b.Run(u.name, func(b *testing.B) { benchTrainStep(b, u.cfg()) })
	}
}

// benchTrainStep times training steps of a policy of cfg on Push-T's
// shapes (state 20, action 2) at batch 64 on one fixed random batch: obs
// [64, ObsHorizon·20], actions [64, PredHorizon, 2].
func benchTrainStep(b *testing.B, cfg Config) {
	type setup struct {
		tr      *train.Trainer
		batch   train.Batch
		compile time.Duration
	}
	st := benchSetup(b, func() *setup {
		be, err := backend.New()
		if err != nil {
			b.Fatal(err)
		}
		const batchSize, stateDim, actionDim = 64, 20, 2
		cfg.StateDim, cfg.ActionDim = stateDim, actionDim
		p, err := New(be, cfg)
		if err != nil {
			b.Fatal(err)
		}
		tr := train.NewTrainer(be, p.Store(), func(scope *model.Scope, _ any, in []*Node) []*Node {
			return []*Node{p.LossGraph(scope.In(Kind), in)}
		}, func(_, pred []*Node) *Node { return pred[0] }, optimizer.Adam().LearningRate(1e-4).Done(), nil, nil)
		rng := rand.New(rand.NewPCG(1, 2))
		obs := make([]float32, batchSize*cfg.ObsHorizon*stateDim)
		act := make([]float32, batchSize*cfg.PredHorizon*actionDim)
		for i := range obs {
			obs[i] = float32(rng.NormFloat64())
		}
		for i := range act {
			act[i] = float32(rng.NormFloat64())
		}
		batch := train.Batch{Inputs: []*tensors.Tensor{
			tensors.FromFlatDataAndDimensions(obs, batchSize, cfg.ObsHorizon*stateDim),
			tensors.FromFlatDataAndDimensions(act, batchSize, cfg.PredHorizon, actionDim)}}
		start := time.Now()
		if _, err := tr.TrainStep(batch); err != nil { // compile
			b.Fatal(err)
		}
		return &setup{tr, batch, time.Since(start)}
	})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := st.tr.TrainStep(st.batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
	b.ReportMetric(st.compile.Seconds(), "s/compile")
}

// benchCache holds what each benchmark built and compiled, by name and
// GOMAXPROCS, for the later calls of the same benchmark in this process:
// `go test` calls a benchmark once with N = 1, again with the timed N, and
// so for every -count. On XLA a U-Net's graphs take seconds to compile,
// which would otherwise be paid on every call.
var benchCache = map[string]any{}

// benchSetup returns the value build made for this benchmark, calling build
// on the benchmark's first call in the process only.
//
// For A/B runs of the U-Net's GPU kernels (kernel/gpu-run.sh run census):
// POLICYLAB_BENCH_CONV=native or patches times the convolutions as that
// (conv.Default) instead of conv.Auto's choice for the backend;
// POLICYLAB_BENCH_GN=sibling, stacked, two-pass, products or auto picks GroupNorm's
// moments (resnet.GroupNormMoments); POLICYLAB_BENCH_FILM=per-step builds
// a whole U-Net per fused step instead of its conditioning once
// (conditionOnce).
func benchSetup[T any](b *testing.B, build func() *T) *T {
	key := fmt.Sprintf("%s-%d", b.Name(), runtime.GOMAXPROCS(0))
	if v, ok := benchCache[key].(*T); ok {
		return v
	}
	resnet.GroupNormMoments = resnet.MomentsAuto
	if s := os.Getenv("POLICYLAB_BENCH_GN"); s != "" {
		m, err := resnet.ParseMoments(s)
		if err != nil {
			b.Fatalf("POLICYLAB_BENCH_GN: %v", err)
		}
		resnet.GroupNormMoments = m
	}
	switch film := os.Getenv("POLICYLAB_BENCH_FILM"); film {
	case "", "once":
		conditionOnce = true
	case "per-step":
		conditionOnce = false
	default:
		b.Fatalf("POLICYLAB_BENCH_FILM=%q: want once or per-step", film)
	}
	switch impl := os.Getenv("POLICYLAB_BENCH_CONV"); impl {
	case "", "auto":
		conv.Default = conv.Auto
	case "native":
		conv.Default = conv.Native
	case "patches":
		conv.Default = conv.Patches
	default:
		b.Fatalf("POLICYLAB_BENCH_CONV=%q: want auto, native or patches", impl)
	}
	v := build()
	benchCache[key] = v
	return v
}

// benchSample times sampling one action chunk (batch 1) for a Push-T
// keypoint observation window with an untrained policy of cfg, executed as
// mode says (Policy.Sampling).
func benchSample(b *testing.B, cfg Config, mode SamplingMode) {
	type setup struct {
		p       *Policy
		win     [][]float32
		rng     *rand.Rand
		compile time.Duration
	}
	st := benchSetup(b, func() *setup {
		be, err := backend.New()
		if err != nil {
			b.Fatal(err)
		}
		ds, err := data.Generate(sim.PushTFactory(sim.PushTKeypoints, false), 2, 1, data.GenOptions{})
		if err != nil {
			b.Fatal(err)
		}
		p, err := New(be, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Fit(ds, 0, 1); err != nil {
			b.Fatal(err)
		}
		p.Sampling = mode
		if err := p.Store().InitializeVariables(be, nil); err != nil {
			b.Fatal(err)
		}
		win := make([][]float32, cfg.ObsHorizon)
		for i := range win {
			win[i] = ds.Episodes[0].States[0]
		}
		rng := rand.New(rand.NewPCG(1, 1))
		start := time.Now()
		if _, err := p.Sample(win, 1, rng, SampleOptions{}); err != nil { // compile
			b.Fatal(err)
		}
		return &setup{p, win, rng, time.Since(start)}
	})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := st.p.Sample(st.win, 1, st.rng, SampleOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/chunk")
	b.ReportMetric(st.compile.Seconds(), "s/compile")
}

func BenchmarkSampleMLP(b *testing.B) {
	for _, m := range benchSamplers {
		b.Run(m.name, func(b *testing.B) {
			c := ChapterConfig()
			c.ObsHorizon, c.Noise, c.Method, c.InferenceSteps = 2, diffusion.DefaultConfig(), m.method, m.steps
			benchSample(b, c, m.mode)
		})
	}
}

// benchSamplers are the sampling runs the Sample benchmarks time: DDPM-100
// (the paper's; always a call per step) and DDIM-10 (our configs') as the
// backend runs it by default (SampleAuto), fused into one graph and
// stepping on the host.
var benchSamplers = []struct {
	name   string
	method diffusion.Method
	steps  int
	mode   SamplingMode
}{
	{"DDPM100", diffusion.MethodDDPM, 100, SampleAuto},
	{"DDIM10", diffusion.MethodDDIM, 10, SampleAuto},
	{"DDIM10Fused", diffusion.MethodDDIM, 10, SampleFused},
	{"DDIM10Host", diffusion.MethodDDIM, 10, SampleOnHost},
}

// wideCPUConfig is CPUConfig with a U-Net twice as wide (64/128/256): the
// CPU config until 2026-11-26, timed beside it.
func wideCPUConfig() Config {
	c := CPUConfig()
	c.UNet.DownDims = []int{64, 128, 256}
	return c
}

func BenchmarkSampleUNet(b *testing.B) {
	for _, u := range []struct {
		name string
		cfg  func() Config
	}{{"CPU", CPUConfig}, {"CPUWide", wideCPUConfig}, {"DP", DefaultConfig}} {
		for _, m := range benchSamplers {
			b.Run(u.name+"/"+m.name, func(b *testing.B) {
				c := u.cfg()
				c.Method, c.InferenceSteps = m.method, m.steps
				benchSample(b, c, m.mode)
			})
		}
	}
}
