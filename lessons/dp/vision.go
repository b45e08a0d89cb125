package dp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"math"
	"slices"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/policylab/policylab/lessons/bc"
	"github.com/policylab/policylab/lessons/resnet"
	"github.com/policylab/policylab/lessons/trainer"
)

// VisionCPUConfig is Diffusion Policy's image-based CNN sized for a CPU:
// CPUConfig's U-Net (32/64/128) conditioned, per observation step, on
// bc.CPUVisionConfig's encoder (ResNet-18's structure at width 8 with
// GroupNorm, a spatial-softmax pool, 64×64 images shifted by up to ±4 px
// in training) beside the agent's position (ProprioDim 2 of
// sim.PushTState).
func VisionCPUConfig() Config {
	c := CPUConfig()
	v := bc.CPUVisionConfig()
	v.ProprioDim = 2
	c.Vision = &v
	return c
}

// VisionGPUConfig is Diffusion Policy's image-based CNN at the paper's
// size: DefaultConfig's U-Net (256/512/1024) conditioned, per observation
// step, on ResNet-18 with GroupNorm (resnet.DiffusionPolicyConfig, width
// 64) on 96×96 images with a spatial-softmax pool and ±6 px random shifts
// (as bc.GPUVisionConfig), beside the agent's position (ProprioDim 2 of
// sim.PushTState). Meant for a GPU.
func VisionGPUConfig() Config {
	c := DefaultConfig()
	c.Vision = &bc.VisionConfig{
		ResNet: resnet.DiffusionPolicyConfig(), ImageSize: 96, ProprioDim: 2,
		Pool: bc.PoolSpatialSoftmax, Shift: 6,
	}
	return c
}

// NewVision makes an untrained vision policy (cfg.Vision set). images
// renders the camera image of a state vector (e.g. sim.PushTImage):
// datasets hold states only, so training renders every frame from its
// state, and at run time observations without an image are rendered the
// same way.
func NewVision(b compute.Backend, cfg Config, images func(state []float32) (*image.RGBA, error)) (*Policy, error) {
	if b == nil {
		return nil, errors.New("dp: nil backend")
	}
	if cfg.Vision == nil {
		return nil, errors.New("dp: NewVision needs Config.Vision")
	}
	if images == nil {
		return nil, errors.New("dp: NewVision needs an image renderer")
	}
	v := *cfg.Vision // the policy's own copy
	cfg.Vision = nil
	p, err := New(b, cfg)
	if err != nil {
		return nil, err
	}
	p.cfg.Vision, p.images = &v, images
	if err := p.cfg.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

// condition is the noise predictor's global condition: for a state-based
// policy the observations obs [B, To·S] themselves; for a vision policy,
// per observation step, the features of its image (images [B, To, size,
// size, 3], RGB in [0, 1]) beside its first ProprioDim (normalized) state
// elements: [B, To·(F+P)], oldest step first, with F = 2·8·Width for a
// spatial softmax (8·Width for an average pool) and P = ProprioDim. The
// encoder runs on the B·To images at once, as Diffusion Policy's does.
//
// Departures from Diffusion Policy's encoder (robomimic's VisualCore, Chi
// et al. 2023): its spatial softmax first projects the feature maps to 32
// keypoint maps by a 1×1 convolution, and a Linear layer maps the 64
// coordinates to 64 features; here, as in package bc, the expected
// coordinates of every channel are the features. Its augmentation is a
// random crop (84 of 96 px, the centre crop at evaluation); here it is
// bc's random shift with edge padding (Vision.Shift), and acting sees the
// whole image. Images are normalized with ImageNet's mean and std, as bc's.
func (p *Policy) condition(scope *model.Scope, obs, images *Node) *Node {
	v := p.cfg.Vision
	if v == nil {
		return obs
	}
	To, S, size := p.cfg.ObsHorizon, p.cfg.StateDim, v.ImageSize
	B := obs.Shape().Dimensions[0]
	if images == nil {
		panic(errors.New("dp: a vision policy needs images"))
	}
	if want := []int{B, To, size, size, 3}; !slices.Equal(images.Shape().Dimensions, want) {
		panic(fmt.Errorf("dp: images are %s, the policy takes [B=%d, To=%d, %d, %d, 3]", images.Shape(), B, To, size, size))
	}
	g := images.Graph()
	mean := Reshape(Const(g, resnet.ImageNetMean[:]), 1, 1, 1, 3)
	std := Reshape(Const(g, resnet.ImageNetStd[:]), 1, 1, 1, 3)
	x := Div(Sub(Reshape(images, B*To, size, size, 3), mean), std)
	maps := resnet.FeatureMaps(scope.In("vision_encoder"), x, v.ResNet, true)
	var feat *Node
	if v.Pool == bc.PoolSpatialSoftmax {
		feat = bc.SpatialSoftmax(maps)
	} else {
		feat = ReduceMean(maps, 1, 2)
	}
	F := feat.Shape().Dimensions[1]
	feat = Reshape(feat, B, To, F)
	proprio := Slice(Reshape(obs, B, To, S), AxisRange(), AxisRange(), AxisRange(0, v.ProprioDim))
	return Reshape(Concatenate([]*Node{feat, proprio}, -1), B, To*(F+v.ProprioDim))
}

// featureMapSide is the side of ResNet's last feature maps for images of
// side size: five stride-2 steps (conv1, max pool, layers 2-4), each
// taking d to ⌊(d−1)/2⌋+1. 1 up to 32 px, 2 at 64, 3 at 96.
func featureMapSide(size int) int {
	for range 5 {
		size = (size-1)/2 + 1
	}
	return size
}

// encoder returns the compiled vision condition for acting: (obs [n, To·S],
// images [n, To, size, size, 3]) → cond [n, To·(F+P)], reading the EMA
// weights when UseEMA and they exist.
func (p *Policy) encoder() (*model.Exec, error) {
	ema := p.UseEMA && p.hasEMA()
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.encoders[ema]; e != nil {
		return e, nil
	}
	e, err := model.NewExec(p.backend, p.store, func(scope *model.Scope, obs, images *Node) *Node {
		if ema {
			scope = p.store.Scope(trainer.EMAScope)
		}
		return p.condition(scope.In(Kind), obs, images)
	})
	if err != nil {
		return nil, fmt.Errorf("dp: %w", err)
	}
	if p.encoders == nil {
		p.encoders = map[bool]*model.Exec{}
	}
	p.encoders[ema] = e
	return e, nil
}

// encode runs the vision condition on one window: obs [To·S] normalized,
// frames [To] resized images (see frame) → cond [To·(F+P)].
func (p *Policy) encode(obs []float32, frames [][]uint8) ([]float32, error) {
	size := p.cfg.Vision.ImageSize
	per := size * size * 3
	img := make([]float32, len(frames)*per)
	for k, f := range frames {
		if len(f) != per {
			return nil, fmt.Errorf("dp: image %d has %d values, want %d×%d×3", k, len(f), size, size)
		}
		toFloat(img[k*per:(k+1)*per], f)
	}
	return p.encodeTensors(
		tensors.FromFlatDataAndDimensions(obs, 1, len(obs)),
		tensors.FromFlatDataAndDimensions(img, 1, len(frames), size, size, 3))
}

// encodeTensors calls the encoder on obs [1, To·S] and images [1, To,
// size, size, 3]; a wrong shape is an error.
func (p *Policy) encodeTensors(obs, images *tensors.Tensor) ([]float32, error) {
	e, err := p.encoder()
	if err != nil {
		return nil, err
	}
	res, err := e.Call(obs, images)
	if err != nil {
		return nil, fmt.Errorf("dp: vision encoder: %w", err)
	}
	return tensors.MustCopyFlatData[float32](res[0]), nil
}

// frame is the image of an observation as the network sees it: img (or,
// when nil, the renderer's image of state) resized to Vision.ImageSize,
// [size, size, 3] RGB bytes.
func (p *Policy) frame(state []float32, img *image.RGBA) ([]uint8, error) {
	if img == nil {
		if p.images == nil {
			return nil, errors.New("dp: the observation has no image and the policy has no renderer")
		}
		var err error
		if img, err = p.images(state); err != nil {
			return nil, fmt.Errorf("dp: rendering an observation: %w", err)
		}
		if img == nil {
			return nil, errors.New("dp: the renderer returned no image")
		}
	}
	if img.Bounds().Empty() {
		return nil, fmt.Errorf("dp: empty image %v", img.Bounds())
	}
	return quantize(bc.ResizeRGB(img, p.cfg.Vision.ImageSize)), nil
}

// batchImages returns the images of the training windows at indices:
// [B, To, size, size, 3] in [0, 1], from obs [B, To, S] (the windows'
// states in environment units, as Sampler.Batch gives them). Each window
// row is rendered from its state: the sampler repeats the edge state where
// a window starts before its episode, and so repeats the edge image.
// Every distinct state is rendered and resized once (the cache is keyed
// by its bytes). Training batches (not val) are shifted by up to
// ±Vision.Shift pixels, each image by its own offset, which is a function
// of (sample, place in the batch, observation step): a batch, and a
// resumed run, gets the same shifts every time.
func (p *Policy) batchImages(indices []int, obs []float32, val bool) (*tensors.Tensor, error) {
	v := p.cfg.Vision
	To, S, size := p.cfg.ObsHorizon, p.cfg.StateDim, v.ImageSize
	per := size * size * 3
	B := len(indices)
	out := make([]float32, B*To*per)
	var scratch []float32
	if v.Shift > 0 && !val {
		scratch = make([]float32, per)
	}
	for b, i := range indices {
		for k := 0; k < To; k++ {
			r := b*To + k
			src, err := p.trainFrame(obs[r*S : (r+1)*S])
			if err != nil {
				return nil, err
			}
			dst := out[r*per : (r+1)*per]
			if scratch == nil {
				toFloat(dst, src)
				continue
			}
			h := mix(uint64(i)*0x9E3779B97F4A7C15 ^ uint64(b+1)*0xBF58476D1CE4E5B9 ^ uint64(k+1)*0x94D049BB133111EB ^ uint64(B))
			n := uint64(2*v.Shift + 1)
			dx, dy := int(h%n)-v.Shift, int((h>>32)%n)-v.Shift
			toFloat(scratch, src)
			bc.ShiftImage(dst, scratch, size, dx, dy)
		}
	}
	return tensors.FromFlatDataAndDimensions(out, B, To, size, size, 3), nil
}

// trainFrame is frame(state, nil) through the cache of training states.
func (p *Policy) trainFrame(state []float32) ([]uint8, error) {
	key := make([]byte, 4*len(state))
	for i, x := range state {
		binary.LittleEndian.PutUint32(key[4*i:], math.Float32bits(x))
	}
	p.framesMu.Lock()
	f, ok := p.frames[string(key)]
	p.framesMu.Unlock()
	if ok {
		return f, nil
	}
	f, err := p.frame(state, nil)
	if err != nil {
		return nil, fmt.Errorf("dp: training frame %v: %w", state, err)
	}
	p.framesMu.Lock()
	if p.frames == nil {
		p.frames = map[string][]uint8{}
	}
	p.frames[string(key)] = f
	p.framesMu.Unlock()
	return f, nil
}

func (p *Policy) resetFrames() {
	p.framesMu.Lock()
	p.frames = nil
	p.framesMu.Unlock()
}

// quantize stores resized RGB values in [0, 1] as bytes: the frame cache
// then holds 3 bytes a pixel instead of 12 (a few hundred demonstrations
// have tens of thousands of frames), and acting quantizes the same way,
// so training and acting see the same values.
func quantize(rgb []float32) []uint8 {
	out := make([]uint8, len(rgb))
	for i, v := range rgb {
		out[i] = uint8(min(max(math.Round(float64(v)*255), 0), 255))
	}
	return out
}

// toFloat writes the bytes of src as values in [0, 1] into dst.
func toFloat(dst []float32, src []uint8) {
	for i, v := range src {
		dst[i] = float32(v) / 255
	}
}

// mix is SplitMix64's finalizer: every bit of x affects every bit of the
// result.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	return x ^ x>>31
}
