package dp

import (
	"encoding/json"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/bc"
	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/pusht"
	"github.com/policylab/policylab/lessons/resnet"
	"github.com/policylab/policylab/lessons/sim"
	"github.com/policylab/policylab/lessons/trainer"
)

const tinySize = 32

func pushtImages(state []float32) (*image.RGBA, error) { return sim.PushTImage(state, tinySize) }

var pushtDemos = sync.OnceValues(func() (*data.Dataset, error) {
	return data.Generate(sim.PushTFactory(sim.PushTState, false), 3, 1, data.GenOptions{OnlySuccessful: true})
})

// tinyVisionConfig: ResNet-18 at width 4 (GroupNorm), 32×32 images,
// U-Net 16/32. The pool is the average: at 32 px the feature maps are
// 1×1, where a spatial softmax carries nothing.
func tinyVisionConfig() Config {
	cfg := CPUConfig()
	cfg.UNet.DownDims, cfg.UNet.TimeEmbedDim = []int{16, 32}, 16
	cfg.Vision = &bc.VisionConfig{
		ResNet:    resnet.Config{Width: 4, Norm: resnet.GroupNorm, GroupSize: 4, Blocks: [4]int{2, 2, 2, 2}},
		ImageSize: tinySize, ProprioDim: 2, Pool: bc.PoolAvg, Shift: 2,
	}
	return cfg
}

// tinyVision trains a tiny vision policy for steps steps on 3 Push-T
// demonstrations, saving checkpoints in dir when it is not "".
func tinyVision(t *testing.T, steps int, dir string) (*Policy, *trainer.History) {
	t.Helper()
	b, err := backend.New()
	if err != nil {
		t.Fatal(err)
	}
	ds, err := pushtDemos()
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewVision(b, tinyVisionConfig(), pushtImages)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Fit(ds, 0.3, 1); err != nil {
		t.Fatal(err)
	}
	tc := trainer.DefaultConfig()
	tc.Steps, tc.BatchSize, tc.WarmupSteps, tc.Dir, tc.EMA = steps, 8, 1, dir, trainer.DefaultEMA()
	h, err := trainer.Train(p, tc)
	if err != nil {
		t.Fatal(err)
	}
	return p, h
}

func TestVisionTrain(t *testing.T) {
	p, h := tinyVision(t, 5, "")
	for _, l := range h.TrainLoss {
		if math.IsNaN(l) || math.IsInf(l, 0) {
			t.Fatalf("training losses %v", h.TrainLoss)
		}
	}
	if len(h.TrainLoss) != 5 || len(h.ValLoss) == 0 {
		t.Fatalf("history: %d training losses, validation %v", len(h.TrainLoss), h.ValLoss)
	}
	t.Logf("losses %v, validation %v", h.TrainLoss, h.ValLoss)

	idx := []int{0, 3, 0, 7}
	in, err := p.Inputs(idx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(in) != 3 || !slices.Equal(in[2].Shape().Dimensions, []int{4, 2, tinySize, tinySize, 3}) {
		t.Fatalf("inputs %v, want obs, actions and images [4, 2, %d, %d, 3]", in, tinySize, tinySize)
	}
	again, _ := p.Inputs(idx, false)
	img, img2 := tensors.MustCopyFlatData[float32](in[2]), tensors.MustCopyFlatData[float32](again[2])
	if !slices.Equal(img, img2) {
		t.Error("the same training batch got different images (shifts must be a function of the batch)")
	}
	per := 2 * tinySize * tinySize * 3
	if slices.Equal(img[:per], img[2*per:3*per]) {
		t.Error("sample 0 at batch positions 0 and 2 got the same shifts")
	}
	for _, v := range img {
		if v < 0 || v > 1 {
			t.Fatalf("image value %v outside [0, 1]", v)
		}
	}
	// Validation images are not shifted: the window of frame 0 repeats its
	// first frame, so both steps' images are the same.
	val, err := p.Inputs([]int{0}, true)
	if err != nil {
		t.Fatal(err)
	}
	v := tensors.MustCopyFlatData[float32](val[2])
	if !slices.Equal(v[:per/2], v[per/2:]) {
		t.Error("the padded window at an episode start has two different validation images")
	}
}

func TestVisionSampleDeterministic(t *testing.T) {
	p, _ := tinyVision(t, 3, "")
	env, err := sim.NewPushT(pusht.DefaultConfig(), sim.PushTState, true)
	if err != nil {
		t.Fatal(err)
	}
	o0 := env.Reset(4)
	o1 := env.Step([]float32{200, 200}).Obs
	obs := [][]float32{o0.State, o1.State}
	sample := func(seed uint64, imgs []*image.RGBA) [][][]float32 {
		t.Helper()
		s, err := p.Sample(obs, 3, rand.New(rand.NewPCG(seed, 5)), SampleOptions{Images: imgs})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b, c := sample(5, nil), sample(5, nil), sample(6, nil)
	if !equal3(a, b) || equal3(a, c) {
		t.Errorf("same seed equal: %v (want true), other seed equal: %v (want false)", equal3(a, b), equal3(a, c))
	}
	if len(a) != 3 || len(a[0]) != p.Config().PredHorizon || len(a[0][0]) != 2 {
		t.Fatalf("samples are %d×%d×%d", len(a), len(a[0]), len(a[0][0]))
	}
	// The block's pose reaches the network through the image only: moving
	// it in the state changes nothing when the images stay, and changes
	// the samples when they are rendered from the moved state.
	imgs := []*image.RGBA{o0.Image, o1.Image}
	withImages := sample(5, imgs)
	moved := [][]float32{slices.Clone(o0.State), slices.Clone(o1.State)}
	for _, m := range moved {
		m[2], m[3], m[4] = 150, 350, 1
	}
	obs = moved
	if !equal3(sample(5, imgs), withImages) {
		t.Error("moving the block in the state, with the same images, changed the samples")
	}
	if equal3(sample(5, nil), a) {
		t.Error("images of another block pose gave the same samples")
	}
	obs = [][]float32{o0.State, o1.State}

	act := p.NewActor()
	act.Reset(2)
	chunk, err := act.PredictActionChunk(o0)
	if err != nil || len(chunk) != p.Config().PredHorizon {
		t.Fatalf("PredictActionChunk = %v, %v", chunk, err)
	}
	plain, _ := sim.NewPushT(pusht.DefaultConfig(), sim.PushTState, false)
	act.Reset(2)
	again, err := act.PredictActionChunk(plain.Reset(4))
	if err != nil || len(again) != len(chunk) {
		t.Fatalf("PredictActionChunk on an observation without an image = %v, %v", again, err)
	}
}

func equal3(a, b [][][]float32) bool {
	return slices.EqualFunc(a, b, func(x, y [][]float32) bool {
		return slices.EqualFunc(x, y, func(u, v []float32) bool { return slices.Equal(u, v) })
	})
}

func TestVisionCheckpoint(t *testing.T) {
	dir := t.TempDir()
	p, _ := tinyVision(t, 4, dir)
	ck, err := filepath.Glob(filepath.Join(dir, "ckpt-*"))
	if err != nil || len(ck) == 0 {
		t.Fatalf("no checkpoint in %s", dir)
	}
	latest := ck[len(ck)-1]
	b, _ := backend.New()
	q, err := LoadVision(b, latest, pushtImages)
	if err != nil {
		t.Fatal(err)
	}
	if q.Config().Vision == nil || *q.Config().Vision != *p.Config().Vision {
		t.Fatalf("loaded vision config %+v, want %+v", q.Config().Vision, p.Config().Vision)
	}
	ds, _ := pushtDemos()
	obs := [][]float32{ds.Episodes[0].States[5], ds.Episodes[0].States[6]}
	want, err := p.Sample(obs, 2, rand.New(rand.NewPCG(1, 1)), SampleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := q.Sample(obs, 2, rand.New(rand.NewPCG(1, 1)), SampleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !equal3(got, want) {
		t.Errorf("the loaded policy samples %v, the trained one %v", got[0][0], want[0][0])
	}

	if _, err := Load(b, latest); err == nil || !strings.Contains(err.Error(), "LoadVision") {
		t.Errorf("Load of a vision checkpoint without a renderer: %v, want an error pointing to LoadVision", err)
	} else {
		t.Log(err)
	}
	if _, err := LoadVision(b, latest, nil); err == nil {
		t.Error("LoadVision with a nil renderer accepted")
	}

	// The shape check covers the image encoder: a config claiming a wider
	// ResNet than its weights is an error naming an encoder weight.
	meta := filepath.Join(latest, "policy.json")
	doc, buf := readPolicyJSON(t, meta)
	rn, ok := doc["config"].(map[string]any)["vision"].(map[string]any)["resnet"].(map[string]any)
	if !ok || rn["Width"] != 4.0 {
		t.Fatalf("policy.json has no config.vision.resnet.Width 4 to edit:\n%s", buf)
	}
	rn["Width"] = 8
	out, _ := json.Marshal(doc)
	if err := os.WriteFile(meta, out, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadVision(b, latest, pushtImages); err == nil || !strings.Contains(err.Error(), "vision_encoder") {
		t.Errorf("encoder width 8 against weights of width 4: %v, want an error naming a vision_encoder weight", err)
	} else {
		t.Log(err)
	}
}

func TestVisionErrors(t *testing.T) {
	p, _ := tinyVision(t, 1, "")
	ds, _ := pushtDemos()
	obs := [][]float32{ds.Episodes[0].States[0], ds.Episodes[0].States[1]}
	img, _ := pushtImages(obs[0])
	rng := rand.New(rand.NewPCG(1, 1))
	if _, err := p.Sample(obs, 1, rng, SampleOptions{Images: []*image.RGBA{img}}); err == nil || !strings.Contains(err.Error(), "ObsHorizon") {
		t.Errorf("one image for two observations: %v", err)
	}
	if _, err := p.Sample(obs, 1, rng, SampleOptions{Images: []*image.RGBA{img, image.NewRGBA(image.Rect(0, 0, 0, 0))}}); err == nil || !strings.Contains(err.Error(), "empty image") {
		t.Errorf("an empty image: %v", err)
	}
	// The encoder takes images of Vision.ImageSize only.
	norm := make([]float32, 2*5)
	small := make([]float32, 2*16*16*3)
	_, err := p.encodeTensors(tensors.FromFlatDataAndDimensions(norm, 1, 10), tensors.FromFlatDataAndDimensions(small, 1, 2, 16, 16, 3))
	if err == nil || !strings.Contains(err.Error(), "images are") {
		t.Errorf("16×16 images for a 32×32 policy: %v", err)
	} else {
		t.Log(err)
	}

	b, _ := backend.New()
	if _, err := New(b, tinyVisionConfig()); err == nil || !strings.Contains(err.Error(), "NewVision") {
		t.Errorf("New with a vision config: %v", err)
	}
	if _, err := NewVision(b, tinyVisionConfig(), nil); err == nil {
		t.Error("NewVision without a renderer accepted")
	}
	if _, err := NewVision(b, CPUConfig(), pushtImages); err == nil {
		t.Error("NewVision without Config.Vision accepted")
	}
	state, err := New(b, CPUConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := state.Fit(ds, 0.3, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := state.Sample(obs, 1, rng, SampleOptions{Images: []*image.RGBA{img, img}}); err == nil || !strings.Contains(err.Error(), "state-based") {
		t.Errorf("images for a state-based policy: %v", err)
	}
}

func TestVisionConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"proprio over state", func(c *Config) { c.StateDim = 1 }, "ProprioDim"},
		{"no proprio", func(c *Config) { c.Vision.ProprioDim = 0 }, "ProprioDim"},
		{"image size", func(c *Config) { c.Vision.ImageSize = 8 }, "ImageSize"},
		{"pool", func(c *Config) { c.Vision.Pool = "max" }, "Pool"},
		{"shift", func(c *Config) { c.Vision.Shift = 40 }, "Shift"},
		{"groups", func(c *Config) { c.Vision.ResNet.Width = 6 }, "GroupNorm"},
		{"1×1 maps", func(c *Config) { c.Vision.ImageSize = 32 }, "spatial softmax is constant"},
	} {
		c := VisionCPUConfig()
		v := *c.Vision
		c.Vision = &v
		tc.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
	for _, c := range []Config{VisionCPUConfig(), VisionGPUConfig(), tinyVisionConfig()} {
		c.StateDim = 5
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	if VisionCPUConfig().Vision.ProprioDim != 2 || VisionGPUConfig().Vision.ImageSize != 96 {
		t.Error("the vision configs are not Push-T's (ProprioDim 2) or the GPU's images not 96×96")
	}
}
