package bc

import (
	"image"

	"github.com/gomlx/gomlx/core/graph"
	"image/color"
	"testing"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/resnet"
	"github.com/policylab/policylab/lessons/sim"
	"github.com/policylab/policylab/lessons/trainer"
)

func armImages(state []float32) (*image.RGBA, error) { return sim.ArmImage(state, arm.Reach, 96) }

// TestVisionSmoke: a few training steps of a tiny VisionBCPolicy lower the
// loss, and it acts on an environment observation with a camera image.
func TestVisionSmoke(t *testing.T) {
	b, _ := backend.New()
	ds, _ := armData(t, 10)
	cfg := DefaultConfig()
	cfg.RelativeTo = []int{0, 1, 2, 3, 4, 5, 6}
	v := VisionConfig{ResNet: resnet.Config{Width: 4, Norm: resnet.GroupNorm, GroupSize: 4, Blocks: [4]int{1, 1, 1, 1}}, ImageSize: 32, ProprioDim: 14, Pool: PoolSpatialSoftmax, Shift: 2}
	cfg.Vision = &v
	p, err := NewVision(b, cfg, armImages)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Fit(ds, 0.2, 1); err != nil {
		t.Fatal(err)
	}
	tc := trainer.DefaultConfig()
	tc.Steps, tc.BatchSize, tc.WarmupSteps = 40, 8, 4
	h, err := trainer.Train(p, tc)
	if err != nil {
		t.Fatal(err)
	}
	if !(h.FinalTrainLoss() < h.TrainLoss[0]) {
		t.Errorf("loss %v → %v", h.TrainLoss[0], h.FinalTrainLoss())
	}
	env, _ := sim.NewArm(arm.DefaultConfig(arm.Reach), true)
	obs := env.Reset(3)
	a, err := p.PredictActionChunk(obs)
	if err != nil || len(a) != 1 || len(a[0]) != 7 {
		t.Fatalf("PredictActionChunk = %v, %v", a, err)
	}
	if p.Kind() != KindVision {
		t.Errorf("Kind = %q", p.Kind())
	}
	if _, err := NewVision(b, DefaultConfig(), armImages); err == nil {
		t.Error("NewVision without Config.Vision accepted")
	}
}

func TestResizeRGB(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	for y := 0; y < 4; y++ {
		for x := 0; x < 4; x++ {
			img.Set(x, y, color.RGBA{uint8(255 * (x / 2)), 0, 0, 255}) // left half black, right half red
		}
	}
	got := ResizeRGB(img, 2)
	want := []float32{0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ResizeRGB 4→2 = %v, want %v", got, want)
		}
	}
	got = ResizeRGB(img, 3) // 4/3 px per output pixel: the middle column mixes
	if got[3] <= 0 || got[3] >= 1 {
		t.Errorf("middle pixel red = %v, want a mix in (0, 1)", got[3])
	}
}

func TestSpatialSoftmax(t *testing.T) {
	b := mustBackend(t)
	// One image, 2x2 map, 2 channels: channel 0 fires only at the top-left
	// (x=-1, y=-1), channel 1 equally everywhere (expected x = y = 0).
	maps := [][][][]float32{{{{50, 1}, {0, 1}}, {{0, 1}, {0, 1}}}}
	got := graph.MustExecOnce(b, func(m *graph.Node) *graph.Node { return SpatialSoftmax(m) }, maps).Value().([][]float32)
	want := []float32{-1, 0, -1, 0} // x0, x1, y0, y1
	for i := range want {
		if d := got[0][i] - want[i]; d > 1e-4 || d < -1e-4 {
			t.Fatalf("SpatialSoftmax = %v, want %v", got[0], want)
		}
	}
}

func TestShiftImage(t *testing.T) {
	const size = 3
	src := make([]float32, size*size*3)
	for i := range src {
		src[i] = float32(i / 3) // pixel index in every channel
	}
	dst := make([]float32, len(src))
	ShiftImage(dst, src, size, 1, 0) // right by one: column 0 repeats
	want := []float32{0, 0, 1, 3, 3, 4, 6, 6, 7}
	for p, w := range want {
		if dst[p*3] != w {
			t.Fatalf("shifted pixel %d = %v, want %v", p, dst[p*3], w)
		}
	}
}
