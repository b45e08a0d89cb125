package bc

import (
	"fmt"
	"image"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/dense"
	"github.com/policylab/policylab/lessons/resnet"
)

// KindVision names the vision policy in checkpoints.
const KindVision = "bc-vision"

// VisionConfig is the image side of the chapter's VisionBCPolicy:
//
//	image   → ResNet-18 without its last layer → 8·Width features (512 at Width 64)
//	proprio → Linear(ProprioDim → 64), ReLU, Linear(64 → 64)
//	concat  → Linear(→ 256), ReLU, Linear(256 → 256), ReLU, Linear(256 → Chunk·action)
type VisionConfig struct {
	ResNet resnet.Config `json:"resnet"`
	// ImageSize is the square side the camera image is resized to.
	ImageSize int `json:"image_size"`
	// ProprioDim is how many leading state elements are proprioception:
	// 14 = the arm's 7 joint positions and 7 velocities, as the chapter.
	ProprioDim int `json:"proprio_dim"`
	// Pool turns the ResNet's feature maps into a vector: "avg" is the
	// chapter's (torchvision's global average pool: 8·Width features);
	// "spatial-softmax" gives, per channel, the expected image coordinates
	// of its activation (2·8·Width features). Departure: robomimic and
	// Diffusion Policy (Chi et al. 2023) replace the average pool by a
	// spatial softmax because averaging throws away *where* things are,
	// which is all a reaching policy needs from the image.
	Pool string `json:"pool"`
	// Shift is the random-shift augmentation of training images, in
	// pixels: each image moves by up to ±Shift with edge padding (DrQ,
	// Kostrikov et al. 2020; Diffusion Policy uses random crops). 0: none.
	Shift int `json:"shift"`
}

// Pools of VisionConfig.Pool.
const (
	PoolAvg            = "avg"
	PoolSpatialSoftmax = "spatial-softmax"
)

// ChapterVisionConfig is the chapter's network as written: torchvision's
// ResNet-18 (width 64, BatchNorm) with its global average pool, on 96×96
// images, no augmentation. Measured on an H100 (GOMLX_BACKEND=xla:cuda,
// 200 DART demos of arm REACH, batch 64, 3,000 steps, 2026-11-25): 62%
// success over 100 seeded episodes (52% at step 1,000), with a training
// loss of 2e-4 against a validation loss of 0.028 — it memorizes the
// demonstrations instead of locating the target.
func ChapterVisionConfig() VisionConfig {
	return VisionConfig{ResNet: resnet.DefaultConfig(), ImageSize: 96, ProprioDim: 14, Pool: PoolAvg}
}

// GPUVisionConfig is the full ResNet-18 (width 64, BatchNorm, 11.2 M
// parameters) on 96×96 images with the two departures of CPUVisionConfig:
// a spatial-softmax pool and ±6 px random shifts. Measured on an H100
// (xla:cuda, 200 DART demos of arm REACH, batch 64, 3,000 steps in 71 s,
// 2026-11-25): 97% success over 100 seeded episodes (96% already at step
// 1,000), against 62% for ChapterVisionConfig. Too slow to train on a CPU.
func GPUVisionConfig() VisionConfig {
	return VisionConfig{ResNet: resnet.DefaultConfig(), ImageSize: 96, ProprioDim: 14, Pool: PoolSpatialSoftmax, Shift: 6}
}

// CPUVisionConfig keeps ResNet-18's structure (BasicBlocks, [2,2,2,2],
// strides) at 1/8 of its width (8 channels), with GroupNorm, on 64×64
// images, a spatial-softmax pool and ±4 px random shifts: measured on 2
// cores at about 0.2 s per training step at batch 32, so a thousand steps
// fit in minutes.
func CPUVisionConfig() VisionConfig {
	return VisionConfig{
		ResNet:    resnet.Config{Width: 8, Norm: resnet.GroupNorm, GroupSize: 4, Blocks: [4]int{2, 2, 2, 2}},
		ImageSize: 64, ProprioDim: 14, Pool: PoolSpatialSoftmax, Shift: 4,
	}
}

// Validate checks the configuration.
func (v *VisionConfig) Validate() error {
	if err := v.ResNet.Validate(); err != nil {
		return fmt.Errorf("bc: vision: %w", err)
	}
	if v.ImageSize < 16 {
		return fmt.Errorf("bc: vision ImageSize = %d, must be >= 16", v.ImageSize)
	}
	if v.ProprioDim <= 0 {
		return fmt.Errorf("bc: vision ProprioDim = %d, must be > 0", v.ProprioDim)
	}
	if v.Pool != PoolAvg && v.Pool != PoolSpatialSoftmax {
		return fmt.Errorf("bc: vision Pool = %q, must be %q or %q", v.Pool, PoolAvg, PoolSpatialSoftmax)
	}
	if v.Shift < 0 || v.Shift >= v.ImageSize/2 {
		return fmt.Errorf("bc: vision Shift = %d, must be in [0, ImageSize/2)", v.Shift)
	}
	return nil
}

// visionForward: obs [batch, StateDim] (its first ProprioDim elements are
// used), images [batch, size, size, 3] in [0, 1] → [batch, Chunk·ActionDim].
func (p *Policy) visionForward(scope *model.Scope, obs, images *Node) *Node {
	v := p.cfg.Vision
	g := images.Graph()
	mean := Reshape(Const(g, resnet.ImageNetMean[:]), 1, 1, 1, 3)
	std := Reshape(Const(g, resnet.ImageNetStd[:]), 1, 1, 1, 3)
	x := Div(Sub(images, mean), std)
	maps := resnet.FeatureMaps(scope.In("vision_encoder"), x, v.ResNet, true)
	var feat *Node
	if v.Pool == PoolSpatialSoftmax {
		feat = SpatialSoftmax(maps)
	} else {
		feat = ReduceMean(maps, 1, 2)
	}

	proprio := Slice(obs, AxisRange(), AxisRange(0, v.ProprioDim))
	pe := scope.In("proprio_encoder")
	pf := activation.Relu(dense.Layer(pe.In("0"), proprio, 64))
	pf = dense.Layer(pe.In("1"), pf, 64)

	h := Concatenate([]*Node{feat, pf}, -1)
	pol := scope.In("policy")
	h = activation.Relu(dense.Layer(pol.In("0"), h, 256))
	h = activation.Relu(dense.Layer(pol.In("1"), h, 256))
	return dense.Layer(pol.In("2"), h, p.cfg.Chunk*p.cfg.ActionDim)
}

// SpatialSoftmax turns feature maps [batch, H, W, C] into the expected
// coordinates of each channel's activation: a softmax over the H·W
// positions weights a grid of x and y in [-1, 1] → [batch, 2·C] (x of every
// channel, then y). Levine et al. 2016; robomimic's SpatialSoftmax.
func SpatialSoftmax(maps *Node) *Node {
	g := maps.Graph()
	dims := maps.Shape().Dimensions
	B, H, W, C := dims[0], dims[1], dims[2], dims[3]
	flat := Reshape(maps, B, H*W, C)
	attn := Softmax(flat, 1) // over positions
	xs := make([]float32, H*W)
	ys := make([]float32, H*W)
	for i := 0; i < H; i++ {
		for j := 0; j < W; j++ {
			xs[i*W+j] = coord(j, W)
			ys[i*W+j] = coord(i, H)
		}
	}
	gx := Reshape(Const(g, xs), 1, H*W, 1)
	gy := Reshape(Const(g, ys), 1, H*W, 1)
	ex := ReduceSum(Mul(attn, ConvertDType(gx, maps.DType())), 1) // [B, C]
	ey := ReduceSum(Mul(attn, ConvertDType(gy, maps.DType())), 1)
	return Concatenate([]*Node{ex, ey}, -1)
}

// coord is the centre of cell i of n in [-1, 1] (0 when n is 1).
func coord(i, n int) float32 {
	if n == 1 {
		return 0
	}
	return -1 + 2*float32(i)/float32(n-1)
}

// batchImages returns the images of the sampled frames [batch, size,
// size, 3], rendering and resizing each dataset frame once.
func (p *Policy) batchImages(s *data.Sampler, indices []int, obs []float32, val bool) (*tensors.Tensor, error) {
	size := p.cfg.Vision.ImageSize
	per := size * size * 3
	out := make([]float32, len(indices)*per)
	if p.imageCache == nil {
		p.imageCache = map[int][]float32{}
	}
	for b, i := range indices {
		ep, t := s.Anchor(i)
		key := ep<<20 | t
		src, ok := p.imageCache[key]
		if !ok {
			rgba, err := p.images(obs[b*p.cfg.StateDim : (b+1)*p.cfg.StateDim])
			if err != nil {
				return nil, fmt.Errorf("bc: rendering episode %d frame %d: %w", ep, t, err)
			}
			src = ResizeRGB(rgba, size)
			p.imageCache[key] = src
		}
		if shift := p.cfg.Vision.Shift; shift > 0 && !val {
			// Seeded by the sample and its place in the batch, so a batch
			// (and a resumed run) gets the same shifts every time.
			h := uint64(i)*0x9E3779B97F4A7C15 ^ uint64(b+1)*0xBF58476D1CE4E5B9 ^ uint64(len(indices))
			dx, dy := int(h%uint64(2*shift+1))-shift, int((h>>20)%uint64(2*shift+1))-shift
			ShiftImage(out[b*per:(b+1)*per], src, size, dx, dy)
		} else {
			copy(out[b*per:(b+1)*per], src)
		}
	}
	return tensors.FromFlatDataAndDimensions(out, len(indices), size, size, 3), nil
}

// ShiftImage writes src [size, size, 3] moved by (dx, dy) pixels into dst,
// repeating the edge pixels where the shift uncovers the border: the
// random-shift augmentation of VisionConfig.Shift.
func ShiftImage(dst, src []float32, size, dx, dy int) {
	for y := 0; y < size; y++ {
		sy := min(max(y-dy, 0), size-1)
		for x := 0; x < size; x++ {
			sx := min(max(x-dx, 0), size-1)
			copy(dst[(y*size+x)*3:(y*size+x)*3+3], src[(sy*size+sx)*3:(sy*size+sx)*3+3])
		}
	}
}

// imagesTensor prepares inference images, rendering the missing ones.
func (p *Policy) imagesTensor(states [][]float32, imgs []*image.RGBA) (*tensors.Tensor, error) {
	size := p.cfg.Vision.ImageSize
	per := size * size * 3
	out := make([]float32, len(states)*per)
	for b, st := range states {
		var img *image.RGBA
		if b < len(imgs) {
			img = imgs[b]
		}
		if img == nil {
			if p.images == nil {
				return nil, fmt.Errorf("bc: observation %d has no image and the policy has no renderer", b)
			}
			var err error
			if img, err = p.images(st); err != nil {
				return nil, fmt.Errorf("bc: rendering observation %d: %w", b, err)
			}
		}
		copy(out[b*per:(b+1)*per], ResizeRGB(img, size))
	}
	return tensors.FromFlatDataAndDimensions(out, len(states), size, size, 3), nil
}

// ResizeRGB resamples an image to size×size by area averaging (each output
// pixel is the mean of the source area it covers) and returns its RGB
// values in [0, 1]: [size, size, 3] row-major.
func ResizeRGB(img *image.RGBA, size int) []float32 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := make([]float32, size*size*3)
	sx, sy := float64(w)/float64(size), float64(h)/float64(size)
	for oy := 0; oy < size; oy++ {
		y0, y1 := float64(oy)*sy, float64(oy+1)*sy
		for ox := 0; ox < size; ox++ {
			x0, x1 := float64(ox)*sx, float64(ox+1)*sx
			var acc [3]float64
			area := 0.0
			for y := int(y0); y < h && float64(y) < y1; y++ {
				wy := min(float64(y+1), y1) - max(float64(y), y0)
				for x := int(x0); x < w && float64(x) < x1; x++ {
					wx := min(float64(x+1), x1) - max(float64(x), x0)
					o := img.PixOffset(b.Min.X+x, b.Min.Y+y)
					wgt := wx * wy
					acc[0] += wgt * float64(img.Pix[o])
					acc[1] += wgt * float64(img.Pix[o+1])
					acc[2] += wgt * float64(img.Pix[o+2])
					area += wgt
				}
			}
			k := (oy*size + ox) * 3
			for c := 0; c < 3; c++ {
				out[k+c] = float32(acc[c] / area / 255)
			}
		}
	}
	return out
}
