// Package resnet is ResNet-18 (He, Zhang, Ren & Sun, "Deep Residual Learning
// for Image Recognition", CVPR 2016, https://arxiv.org/abs/1512.03385) in
// GoMLX, faithful to torchvision's resnet18, as the vision encoder of the
// chapter's VisionBCPolicy (section 4.2.2):
//
//	resnet = models.resnet18(pretrained=True)
//	self.vision_encoder = nn.Sequential(*list(resnet.children())[:-1])  # no fc
//	vis_features = self.vision_encoder(image).flatten(1)                # [batch, 512]
//
// Features computes exactly that, on channels-last images:
//
//	images   [batch, height, width, 3]
//	conv1    7×7 stride 2 pad 3, Width channels, no bias → [batch, H/2, W/2, Width]
//	bn1, ReLU
//	maxpool  3×3 stride 2 pad 1                         → [batch, H/4, W/4, Width]
//	layer1   2 BasicBlocks, Width channels, stride 1    → [batch, H/4,  W/4,  Width]
//	layer2   2 BasicBlocks, 2·Width channels, stride 2  → [batch, H/8,  W/8,  2·Width]
//	layer3   2 BasicBlocks, 4·Width channels, stride 2  → [batch, H/16, W/16, 4·Width]
//	layer4   2 BasicBlocks, 8·Width channels, stride 2  → [batch, H/32, W/32, 8·Width]
//	avgpool  global mean over height and width          → [batch, 8·Width]
//
// (spatial sizes rounded up: a dimension d becomes ⌊(d−1)/2⌋+1 at each stride-2
// step, as in PyTorch). A BasicBlock is conv3×3(stride) → norm → ReLU →
// conv3×3 → norm, plus the identity, or when the stride or channel count
// changes a "downsample" projection (1×1 conv with the block's stride + norm),
// then ReLU. Padding is explicit and symmetric as in PyTorch (GoMLX's PadSame
// pads stride-2 convolutions asymmetrically, which would shift every feature
// map by a pixel against pretrained weights).
//
// With Config.Width 64 and BatchNorm (DefaultConfig) the encoder has
// 11,176,512 parameters (11,689,512 with torchvision's fc head), see NumParams.
// Smaller widths keep the architecture and make it cheap enough to train on a
// CPU with GoMLX's pure-Go backend.
//
// # Normalization
//
// Norm "batch" is BatchNormalization, PyTorch's BatchNorm2d (epsilon 1e-5,
// running-average momentum 0.1, unbiased running variance) with the full
// batch-statistics gradient — GoMLX's norm.BatchNorm is not used because, on
// the pure-Go backend, its training gradient ignores the batch statistics
// (see BatchNormalization). Norm "group" uses GroupNorm (Wu & He, "Group
// Normalization", ECCV 2018, https://arxiv.org/abs/1803.08494), which
// Diffusion Policy (Chi et al., RSS 2023) substitutes for every BatchNorm of
// its ResNet-18 vision encoder (replace_bn_with_gn, features_per_group=16)
// because BatchNorm's running statistics interact badly with the exponential
// moving average of weights and with small batches. Config.Groups fixes the
// number of groups in every layer (Wu & He use 32); Config.GroupSize instead
// fixes the channels per group, as Diffusion Policy does (16).
//
// # Variables
//
// Under the scope given to Features, variables follow torchvision's module
// names: conv1/weights [7, 7, 3, Width]; bn1/batch_normalization/{scale,
// offset, mean, variance} (or bn1/group_normalization/{scale,
// offset}); layer<L>/<B>/conv1/weights, .../bn1/..., .../conv2/weights,
// .../bn2/...; layer<L>/0/downsample/0/weights [1, 1, in, out] and
// layer<L>/0/downsample/1/.... Convolution kernels are in GoMLX's channels-last
// layout [kernel_height, kernel_width, in_channels, out_channels]; they are
// initialized as torchvision does (Kaiming normal, fan_out, ReLU gain),
// normalization scales to 1 and offsets to 0.
//
// # Pretrained weights
//
// LoadTorchvision loads torchvision's ImageNet weights from a safetensors
// file. To make one (Python, once; weights="IMAGENET1K_V1" replaces the
// deprecated pretrained=True of the chapter):
//
//	import torch, torchvision
//	from safetensors.torch import save_file
//	m = torchvision.models.resnet18(weights="IMAGENET1K_V1")
//	save_file({k: v.contiguous() for k, v in m.state_dict().items()}, "resnet18.safetensors")
//
// Then, in Go:
//
//	f, err := safetensors.ReadFile("resnet18.safetensors")
//	err = resnet.LoadTorchvision(store, "resnet", f, resnet.DefaultConfig())
//	// model function: feats := resnet.Features(scope.In("resnet"), images, resnet.DefaultConfig(), false)
//
// torchvision's weights expect RGB values in [0, 1] normalized per channel
// with mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225): see
// ImageNetMean and ImageNetStd.
package resnet

import (
	"fmt"
	"math"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/conv"
	"github.com/policylab/policylab/lessons/dense"
)

// Norm names for Config.Norm.
const (
	BatchNorm = "batch"
	GroupNorm = "group"
)

// Epsilon is added to the variance by both normalizations (PyTorch's default).
const Epsilon = 1e-5

// BatchNormMomentum is the weight of the old running average at each
// training step (GoMLX's convention): PyTorch's BatchNorm2d momentum 0.1.
const BatchNormMomentum = 0.9

// ImageNetMean and ImageNetStd normalize [0, 1] RGB inputs for torchvision's
// pretrained weights: x = (rgb − mean) / std, per channel.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// Config selects the variant of ResNet-18.
type Config struct {
	// Width is the channel count of conv1 and layer1; layers 2-4 have 2, 4
	// and 8 times as many. 64 is torchvision's ResNet-18; smaller widths run
	// on a CPU.
	Width int
	// Norm is "batch" (BatchNorm, torchvision) or "group" (GroupNorm,
	// Diffusion Policy).
	Norm string
	// Groups is the number of GroupNorm groups in every layer (Wu & He use 32).
	// Only for Norm "group"; set Groups or GroupSize, not both.
	Groups int
	// GroupSize is the number of channels per GroupNorm group, the number of
	// groups being channels/GroupSize: Diffusion Policy's replace_bn_with_gn
	// uses 16 (4 groups in layer1 of ResNet-18, 32 in layer4). When Norm is
	// "group" and neither Groups nor GroupSize is set, GroupSize 16 is used.
	GroupSize int
	// Blocks is the number of BasicBlocks of layer1..layer4: [2, 2, 2, 2] for
	// ResNet-18 ([3, 4, 6, 3] gives ResNet-34).
	Blocks [4]int
}

// DefaultConfig is torchvision's resnet18: width 64, BatchNorm, [2, 2, 2, 2].
func DefaultConfig() Config {
	return Config{Width: 64, Norm: BatchNorm, Blocks: [4]int{2, 2, 2, 2}}
}

// DiffusionPolicyConfig is ResNet-18 with every BatchNorm replaced by a
// GroupNorm of 16 channels per group, as Diffusion Policy's vision encoder.
func DiffusionPolicyConfig() Config {
	return Config{Width: 64, Norm: GroupNorm, GroupSize: 16, Blocks: [4]int{2, 2, 2, 2}}
}

// FeatureDim is the size of the feature vector: 8·Width (512 for ResNet-18).
func (cfg Config) FeatureDim() int { return 8 * cfg.Width }

// channels lists the channel counts that are normalized: Width (stem and
// layer1), 2·Width, 4·Width, 8·Width.
func (cfg Config) channels() []int {
	return []int{cfg.Width, 2 * cfg.Width, 4 * cfg.Width, 8 * cfg.Width}
}

// NumGroups is the number of GroupNorm groups used for a layer of the given
// channel count.
func (cfg Config) NumGroups(channels int) int {
	if cfg.Groups > 0 {
		return cfg.Groups
	}
	size := cfg.GroupSize
	if size == 0 {
		size = 16
	}
	return channels / size
}

// Validate reports the first problem of the configuration.
func (cfg Config) Validate() error {
	if cfg.Width <= 0 {
		return fmt.Errorf("resnet: Width must be > 0, got %d", cfg.Width)
	}
	for i, b := range cfg.Blocks {
		if b <= 0 {
			return fmt.Errorf("resnet: Blocks[%d] (layer%d) must be > 0, got %v", i, i+1, cfg.Blocks)
		}
	}
	switch cfg.Norm {
	case BatchNorm:
		if cfg.Groups != 0 || cfg.GroupSize != 0 {
			return fmt.Errorf("resnet: Groups (%d) and GroupSize (%d) are for Norm %q only, Norm is %q",
				cfg.Groups, cfg.GroupSize, GroupNorm, cfg.Norm)
		}
	case GroupNorm:
		if cfg.Groups < 0 || cfg.GroupSize < 0 {
			return fmt.Errorf("resnet: Groups (%d) and GroupSize (%d) must not be negative", cfg.Groups, cfg.GroupSize)
		}
		if cfg.Groups > 0 && cfg.GroupSize > 0 {
			return fmt.Errorf("resnet: set Groups (%d) or GroupSize (%d), not both", cfg.Groups, cfg.GroupSize)
		}
		for _, c := range cfg.channels() {
			ok := c%max(cfg.Groups, 1) == 0
			if cfg.Groups == 0 {
				size := cfg.GroupSize
				if size == 0 {
					size = 16
				}
				ok = c%size == 0
			}
			if !ok {
				return fmt.Errorf("resnet: GroupNorm cannot split %d channels (Width %d) into %s",
					c, cfg.Width, cfg.groupingString())
			}
		}
	default:
		return fmt.Errorf("resnet: Norm must be %q or %q, got %q", BatchNorm, GroupNorm, cfg.Norm)
	}
	return nil
}

func (cfg Config) groupingString() string {
	if cfg.Groups > 0 {
		return fmt.Sprintf("%d groups (Groups)", cfg.Groups)
	}
	size := cfg.GroupSize
	if size == 0 {
		size = 16
	}
	return fmt.Sprintf("groups of %d channels (GroupSize)", size)
}

// NumParams is the number of trainable parameters of the encoder (conv
// kernels, normalization scales and offsets; not BatchNorm's running
// statistics), by formula: 11,176,512 for DefaultConfig. Add
// 8·Width·1000 + 1000 for torchvision's ImageNet fc head.
func NumParams(cfg Config) int {
	w := cfg.Width
	n := 7*7*3*w + 2*w // conv1, bn1
	in := w
	for l := 0; l < 4; l++ {
		p := w << l
		for b := 0; b < cfg.Blocks[l]; b++ {
			n += 9*in*p + 2*p + 9*p*p + 2*p
			if b == 0 && (l > 0 || in != p) {
				n += in*p + 2*p // downsample
			}
			in = p
		}
	}
	return n
}

// Features is the ResNet encoder without its fc layer: images [batch,
// height, width, 3] (float32, channels last, ImageNet-normalized for
// pretrained weights) → features [batch, 8·Width].
//
// training chooses the normalization statistics. training=false freezes
// them: BatchNorm normalizes with its running mean and variance and never
// updates them (PyTorch's eval(); use it for a frozen pretrained encoder —
// note the weights themselves stay trainable variables). training=true
// follows the graph's training flag (model.Store.IsTraining, set by
// train.Trainer): in training graphs BatchNorm normalizes with the batch's
// statistics and updates its running averages (PyTorch's train()), in
// evaluation graphs it uses the running averages. GroupNorm has no running
// statistics: training makes no difference to it.
//
// Like other GoMLX layers it panics on an invalid configuration or input
// shape (call cfg.Validate first to get an error instead).
func Features(scope *model.Scope, images *Node, cfg Config, training bool) *Node {
	// Global average pooling over height and width (torchvision's
	// AdaptiveAvgPool2d((1, 1)) followed by flatten(1)).
	return ReduceMean(FeatureMaps(scope, images, cfg, training), 1, 2)
}

// FeatureMaps is the network before its pooling: [batch, H, W, 3] →
// [batch, H/32, W/32, 8·Width], for heads that keep spatial layout (e.g. a
// spatial softmax, as robomimic and Diffusion Policy use).
func FeatureMaps(scope *model.Scope, images *Node, cfg Config, training bool) *Node {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if images.Rank() != 4 || images.Shape().Dimensions[3] != 3 {
		panic(fmt.Errorf("resnet: images must be shaped [batch, height, width, 3], got %s", images.Shape()))
	}
	x := Stem(scope, images, cfg, training)
	in := cfg.Width
	for l := 0; l < 4; l++ {
		planes := cfg.Width << l
		layerScope := scope.In("layer%d", l+1)
		for b := 0; b < cfg.Blocks[l]; b++ {
			stride := 1
			if b == 0 && l > 0 {
				stride = 2
			}
			x = BasicBlock(layerScope.In("%d", b), x, in, planes, stride, cfg, training)
			in = planes
		}
	}
	return x
}

// Stem is conv1 (7×7, stride 2, pad 3, no bias) → bn1 → ReLU → maxpool
// (3×3, stride 2, pad 1): [batch, H, W, 3] → [batch, H/4, W/4, Width].
func Stem(scope *model.Scope, images *Node, cfg Config, training bool) *Node {
	x := Conv(scope.In("conv1"), images, cfg.Width, 7, 2, 3)
	x = Normalize(scope.In("bn1"), x, cfg, training)
	x = activation.Relu(x)
	// conv.MaxPool2D is graph.MaxPool on XLA and, on the pure-Go backend,
	// where graph.MaxPool's generic loops took a quarter of a CPU vision
	// BC step, an elementwise Max of the window's strided taps. Both pad
	// below every value, as PyTorch does.
	return conv.MaxPool2D(x, 3, 2, 1)
}

// BasicBlock is torchvision's BasicBlock (expansion 1):
//
//	out = ReLU(norm2(conv2(ReLU(norm1(conv1(x))))) + shortcut(x))
//
// conv1 is 3×3 with the given stride, conv2 3×3 with stride 1, both padded
// by 1 and without bias; shortcut is the identity, or, when stride ≠ 1 or
// in ≠ planes, downsample = 1×1 conv with the stride + norm.
// x [batch, h, w, in] → [batch, ⌊(h−1)/stride⌋+1, ⌊(w−1)/stride⌋+1, planes].
func BasicBlock(scope *model.Scope, x *Node, in, planes, stride int, cfg Config, training bool) *Node {
	identity := x
	out := Conv(scope.In("conv1"), x, planes, 3, stride, 1)
	out = Normalize(scope.In("bn1"), out, cfg, training)
	out = activation.Relu(out)
	out = Conv(scope.In("conv2"), out, planes, 3, 1, 1)
	out = Normalize(scope.In("bn2"), out, cfg, training)
	if stride != 1 || in != planes {
		ds := scope.In("downsample")
		identity = Conv(ds.In("0"), x, planes, 1, stride, 0)
		identity = Normalize(ds.In("1"), identity, cfg, training)
	}
	return activation.Relu(Add(out, identity))
}

// Conv is a bias-free 2-D convolution with symmetric zero padding, as
// PyTorch's nn.Conv2d(bias=False): x [batch, h, w, in] → [batch,
// ⌊(h+2·pad−kernel)/stride⌋+1, ..., out]. Its variable "weights" is shaped
// [kernel, kernel, in, out] and initialized as torchvision's ResNet
// (Kaiming normal, mode fan_out: std = √(2 / (kernel²·out))). It computes
// with conv.Default: patch extraction and matrix products on GoMLX's
// pure-Go backend, graph.Convolve on XLA (see package conv).
func Conv(scope *model.Scope, x *Node, out, kernel, stride, pad int) *Node {
	in := x.Shape().Dimensions[3]
	shape := shapes.Make(x.DType(), kernel, kernel, in, out)
	w := scope.WithInitializer(kaimingFanOut(scope.Store())).VariableWithShape("weights", shape)
	return conv.Conv2D(x, w.NodeValue(x.Graph()), stride, pad)
}

// kaimingFanOut is torch.nn.init.kaiming_normal_(mode="fan_out",
// nonlinearity="relu") for [kh, kw, in, out] kernels.
func kaimingFanOut(store *model.Store) model.VariableInitializer {
	return func(g *Graph, shape shapes.Shape) *Node {
		d := shape.Dimensions
		fanOut := d[0] * d[1] * d[3]
		return MulScalar(store.RandomNormal(g, shape), math.Sqrt(2/float64(fanOut)))
	}
}

// Normalize applies the configured normalization over the channels (last
// axis) of x [batch, h, w, channels]; see Features for training.
func Normalize(scope *model.Scope, x *Node, cfg Config, training bool) *Node {
	if cfg.Norm == GroupNorm {
		c := x.Shape().Dimensions[x.Rank()-1]
		return GroupNormalization(scope.In("group_normalization"), x, cfg.NumGroups(c), Epsilon)
	}
	return BatchNormalization(scope.In("batch_normalization"), x, training)
}

// BatchNormalization is PyTorch's nn.BatchNorm2d (Ioffe & Szegedy 2015,
// https://arxiv.org/abs/1502.03167) for channels-last inputs x [batch,
// spatial..., channels], normalizing each channel:
//
//	y[..., c] = (x[..., c] − μ[c]) / √(σ²[c] + Epsilon) · γ[c] + β[c]
//
// Variables (under scope): "scale" γ and "offset" β, trainable, initialized
// to 1 and 0; "mean" and "variance", the running statistics, not trainable,
// initialized to 0 and 1 — all shaped [channels] (GoMLX's norm.BatchNorm
// names, without its "avg_weight").
//
// When training is true and the graph is a training graph
// (model.Scope.IsTraining, set by train.Trainer), μ and σ² are the batch's
// mean and biased variance over all axes but the channels, and the running
// statistics are updated as PyTorch does: running = 0.9·running + 0.1·batch,
// with the unbiased batch variance (×n/(n−1)) for the running variance.
// Otherwise μ and σ² are the running statistics, which are left unchanged.
//
// Why not GoMLX's norm.BatchNorm: on the pure-Go backend it must use its
// graph implementation (UseBackendInference(false); the backend has no fused
// batch-norm training op), and that implementation stops the gradient through
// the batch mean and variance, so its training gradient is not the batch
// normalization gradient (the per-channel sum of ∂loss/∂x is not 0). Here the
// batch statistics are differentiated through, as in PyTorch. GoMLX's
// UpdateBatchNormAverages does not apply to these layers.
func BatchNormalization(scope *model.Scope, x *Node, training bool) *Node {
	dims := x.Shape().Dimensions
	rank := len(dims)
	if rank < 2 {
		panic(fmt.Errorf("resnet: BatchNormalization needs x shaped [batch, ..., channels], got %s", x.Shape()))
	}
	c := dims[rank-1]
	g := x.Graph()
	varShape := shapes.Make(x.DType(), c)
	runMean := scope.WithInitializer(initializer.Zero).VariableWithShape("mean", varShape).SetTrainable(false)
	runVar := scope.WithInitializer(initializer.One).VariableWithShape("variance", varShape).SetTrainable(false)
	bcast := channelShape(rank, c)

	var mean, variance *Node
	if training && scope.IsTraining(g) {
		axes := make([]int, rank-1)
		for i := range axes {
			axes[i] = i
		}
		mean = ReduceMean(x, axes...)
		variance = ReduceMean(Square(Sub(x, Reshape(mean, bcast...))), axes...)
		n := x.Shape().Size() / c
		unbiased := variance
		if n > 1 {
			unbiased = MulScalar(variance, float64(n)/float64(n-1))
		}
		m := 1 - BatchNormMomentum // PyTorch's momentum
		runMean.SetNodeValue(Add(MulScalar(runMean.NodeValue(g), 1-m), MulScalar(StopGradient(mean), m)))
		runVar.SetNodeValue(Add(MulScalar(runVar.NodeValue(g), 1-m), MulScalar(StopGradient(unbiased), m)))
	} else {
		mean, variance = runMean.NodeValue(g), runVar.NodeValue(g)
	}
	normalized := Div(Sub(x, Reshape(mean, bcast...)), Sqrt(AddScalar(Reshape(variance, bcast...), Epsilon)))
	return channelAffine(scope, normalized)
}

// channelShape is [1, ..., 1, c] of the given rank: a per-channel vector
// shaped to broadcast over channels-last activations.
func channelShape(rank, c int) []int {
	s := make([]int, rank)
	for i := range s {
		s[i] = 1
	}
	s[rank-1] = c
	return s
}

// channelAffine applies the learnable per-channel scale γ ("scale", 1 at
// start) and offset β ("offset", 0 at start) of both norms to channels-last
// x: y = x·γ + β.
func channelAffine(scope *model.Scope, x *Node) *Node {
	dims := x.Shape().Dimensions
	rank, c := len(dims), dims[len(dims)-1]
	varShape := shapes.Make(x.DType(), c)
	g := x.Graph()
	scale := scope.WithInitializer(initializer.One).VariableWithShape("scale", varShape).NodeValue(g)
	offset := scope.WithInitializer(initializer.Zero).VariableWithShape("offset", varShape).NodeValue(g)
	bcast := channelShape(rank, c)
	return Add(Mul(x, Reshape(scale, bcast...)), Reshape(offset, bcast...))
}

// GroupNormalization is Group Normalization (Wu & He 2018) for channels-last
// inputs x [batch, spatial..., channels] (any number of spatial axes, e.g.
// [batch, height, width, channels] for images or [batch, time, channels] for
// Diffusion Policy's 1-D U-Net). The channels are split into `groups`
// consecutive groups of channels/groups; each example's group is normalized
// with the mean and (biased) variance over its spatial positions and its
// channels:
//
//	y[n, ..., c] = (x[n, ..., c] − μ[n, g(c)]) / √(σ²[n, g(c)] + epsilon) · γ[c] + β[c]
//
// with learnable per-channel scale γ ("scale", initialized to 1) and offset β
// ("offset", initialized to 0), both shaped [channels] — as PyTorch's
// nn.GroupNorm(groups, channels, eps, affine=True). It uses no batch
// statistics, so it behaves the same in training and inference and with any
// batch size. It panics if channels is not divisible by groups.
func GroupNormalization(scope *model.Scope, x *Node, groups int, epsilon float64) *Node {
	dims := x.Shape().Dimensions
	rank := len(dims)
	if rank < 2 {
		panic(fmt.Errorf("resnet: GroupNormalization needs x shaped [batch, ..., channels], got %s", x.Shape()))
	}
	c := dims[rank-1]
	if groups <= 0 || c%groups != 0 {
		panic(fmt.Errorf("resnet: GroupNormalization cannot split %d channels into %d groups", c, groups))
	}
	form := GroupNormMoments.Resolve(x.Graph().Backend(), dims[0])
	if form == MomentsProducts {
		return channelAffine(scope, groupNormProducts(x, groups, epsilon))
	}
	grouped := append(append([]int{}, dims[:rank-1]...), groups, c/groups) // [batch, spatial..., groups, c/groups]
	xg := Reshape(x, grouped...)
	axes := make([]int, 0, rank)
	for a := 1; a < rank-1; a++ {
		axes = append(axes, a) // spatial axes
	}
	axes = append(axes, rank) // channels within the group
	centered, variance := groupMoments(xg, axes, form)
	normalized := Div(centered, Sqrt(AddScalar(variance, epsilon)))
	return channelAffine(scope, Reshape(normalized, dims...))
}

// Moments is how GroupNormalization takes each group's mean and variance
// (see groupMoments).
type Moments int

const (
	// MomentsSibling: E[d] and E[d²] of the shifted values d = x − K as two
	// reductions that read the same values and not each other's result,
	// which XLA's GPU compiler can fuse into one kernel. What MomentsAuto
	// picks on XLA, and on the pure-Go backend for a single example.
	MomentsSibling Moments = iota
	// MomentsStacked: E[d] and E[d²] as one reduction over d and d²
	// stacked on a new axis, a single reduction on every backend.
	MomentsStacked
	// MomentsTwoPass: E[x], then E[(x − μ)²], two chained reductions; this
	// package's form until 2026-11-26.
	MomentsTwoPass
	// MomentsProducts: the shifted moments of MomentsSibling, with every
	// sum over a group and every broadcast back to its channels written as
	// a matrix product with the constant group-membership matrix (see
	// groupNormProducts). What MomentsAuto picks on the pure-Go backend
	// for batches of two examples or more.
	MomentsProducts
	// MomentsAuto, the default: MomentsProducts on GoMLX's pure-Go backend
	// when the batch holds at least two examples, MomentsSibling otherwise
	// (see Resolve).
	MomentsAuto
)

// GroupNormMoments is the form GroupNormalization uses, read as a graph is
// built. It is a variable for A/B runs (dp's benchmarks set it from
// POLICYLAB_BENCH_GN); all forms agree to float rounding.
var GroupNormMoments = MomentsAuto

// Resolve is the form GroupNormalization uses for a batch of `batch`
// examples in a graph of backend b: m itself, unless m is MomentsAuto.
//
// On GoMLX's pure-Go backend MomentsProducts is the faster form from two
// examples on; one example (a policy acting) is faster with sibling
// reductions. Measured with BenchmarkGroupNorm (AMD EPYC, 2 cores, SIMD
// build, 2026-12-07, two rounds): forward and backward at a vision
// encoder's [32, 32, 32, 8] with 2 groups 2.4–3.6 ms against 11.4–14.8 ms
// sibling, at the U-Net's training [64, 16, 128] with 32 groups 2.0–2.4
// against 5.4–7.0 ms; the forward alone at [1, 16, 128] 0.15 against
// 0.09–0.12 ms, at [2, 16, 128] 0.16 against 0.16–0.18 ms, at [4, 16, 128]
// 0.14–0.16 against 0.27 ms.
func (m Moments) Resolve(b compute.Backend, batch int) Moments {
	if m != MomentsAuto {
		return m
	}
	if backend.IsGo(b) && batch >= 2 {
		return MomentsProducts
	}
	return MomentsSibling
}

// String is the form's name: sibling, stacked, two-pass, products or auto.
func (m Moments) String() string {
	switch m {
	case MomentsSibling:
		return "sibling"
	case MomentsStacked:
		return "stacked"
	case MomentsTwoPass:
		return "two-pass"
	case MomentsProducts:
		return "products"
	case MomentsAuto:
		return "auto"
	}
	return fmt.Sprintf("Moments(%d)", int(m))
}

// ParseMoments is the Moments named s (see String).
func ParseMoments(s string) (Moments, error) {
	for _, m := range []Moments{MomentsSibling, MomentsStacked, MomentsTwoPass, MomentsProducts, MomentsAuto} {
		if s == m.String() {
			return m, nil
		}
	}
	return 0, fmt.Errorf("resnet: unknown GroupNorm moments %q (want sibling, stacked, two-pass, products or auto)", s)
}

// groupMoments returns x − μ and the biased variance σ² (kept axes, shaped
// to broadcast against x) over the given axes of x, in the given form
// (sibling, stacked or two-pass); sibling takes both moments in one pass.
// The two-pass form (μ first, then the mean of (x − μ)²)
// chains two reductions, the second waiting on the first: on XLA's GPU
// backend two kernels per norm, 50 of the roughly 130 kernels of a
// 32/64/128 U-Net forward at batch 1, where launches bound the latency.
// Here the two reductions read the same values and neither waits on the
// other, which lets XLA's GPU compiler fuse them into one kernel (sibling
// multi-output fusion, as for the sums of x and x² of BatchNorm; that it
// does so in our graphs is for kernel/gpu-run.sh's census to show). On
// the pure-Go backend (BenchmarkGroupNorm, AMD EPYC) forward and backward
// at [64, 16, 128] measured 10-15% faster than the two-pass form, the
// forward alone at [1, 16, 128] slower (one more full-size subtraction,
// the shift). At the training shape it also beat one reduction of d and
// d² stacked on a new axis (3.8-5.5 ms), the form that would guarantee a
// single reduction.
//
// One pass uses the shifted-data algorithm (Chan, Golub & LeVeque 1983,
// "Algorithms for computing the sample variance"): with a shift K per
// group (its first value), d = x − K and
//
//	μ = K + E[d],   σ² = E[d²] − E[d]²   (clamped at 0)
//
// The unshifted E[x²] − μ² in float32 is already off by 0.43 σ when |μ|
// is a thousand times σ (TestGroupNormLargeOffset fails on it); the shift
// bounds the cancellation by (μ − K)/σ, which one sample of the group
// keeps of order one. PyTorch's GroupNorm kernels take the moments with
// Welford's update instead, which a reduction cannot express. The shift
// carries no gradient (StopGradient): the moments do not depend on it.
func groupMoments(x *Node, axes []int, form Moments) (centered, variance *Node) {
	if form == MomentsTwoPass {
		mean := ReduceAndKeep(x, ReduceMean, axes...)
		centered = Sub(x, mean)
		return centered, ReduceAndKeep(Square(centered), ReduceMean, axes...)
	}
	first := make([]SliceAxisSpec, x.Rank()) // each group's first value: the shift K
	for a := range first {
		first[a] = AxisRange()
	}
	for _, a := range axes {
		first[a] = AxisElem(0)
	}
	d := Sub(x, StopGradient(Slice(x, first...)))
	var m1, m2 *Node // E[d], E[d²]
	switch form {
	case MomentsSibling:
		m1 = ReduceAndKeep(d, ReduceMean, axes...)
		m2 = ReduceAndKeep(Square(d), ReduceMean, axes...)
	case MomentsStacked:
		shifted := make([]int, len(axes)) // the axes after the stacking one
		for i, a := range axes {
			shifted[i] = a + 1
		}
		m := ReduceAndKeep(Stack([]*Node{d, Square(d)}, 0), ReduceMean, shifted...) // [2, kept...]
		m1, m2 = Squeeze(Slice(m, AxisElem(0)), 0), Squeeze(Slice(m, AxisElem(1)), 0)
	default:
		panic(fmt.Errorf("resnet: GroupNorm moments %s, want MomentsSibling, MomentsStacked or MomentsTwoPass", form))
	}
	return Sub(d, m1), Max(Sub(m2, Square(m1)), ZerosLike(m1))
}

// scopePrefix turns a scope name ("resnet", "/resnet", "" for the root) into
// the prefix of variable paths ("/resnet", "").
func scopePrefix(scopeName string) string {
	s := strings.Trim(scopeName, model.ScopeSeparator)
	if s == "" {
		return ""
	}
	return model.ScopeSeparator + s
}

// groupNormProducts normalizes x [batch, spatial..., channels] per example
// and group of channels, like groupMoments with MomentsSibling followed by
// the division by √(σ² + epsilon), with each sum over a group's values and
// each broadcast of a per-group value back over them written as a matrix
// product with the group-membership matrix
//
//	M [positions·channels, groups],  M[p·channels + c, g] = 1 if c is in group g,
//
// positions being the product of the spatial sizes. With xf = x reshaped to
// [batch, positions·channels] and K [batch, groups] each group's first value
// (the shift, as in groupMoments):
//
//	d = xf − K·Mᵀ,  E[d] = d·M / n,  E[d²] = (d⊙d)·M / n,  n = positions·channels/groups
//	y = d ⊙ (s·Mᵀ) − (E[d]⊙s)·Mᵀ,  s = 1/√(E[d²] − E[d]² + epsilon)
//
// Where we depart from groupMoments, for the pure-Go backend only: compute
// v0.1.14 reduces over the spatial axes and the channels of a group (not
// trailing axes) and broadcasts [batch, 1, ..., groups, 1] against x with
// generic per-element iterators, which took about a third of a CPU vision
// BC training step (a step ran 1.6× as fast with the normalization taken
// out), while its matrix products and same-shape elementwise ops use SIMD
// kernels. The products cost groups multiply-adds per value and direction
// (five forward), cheap for the few groups our networks use. Products with
// Mᵀ contract M's last axis, which the backend multiplies without a
// transpose.
func groupNormProducts(x *Node, groups int, epsilon float64) *Node {
	dims := x.Shape().Dimensions
	batch, c := dims[0], dims[len(dims)-1]
	size := x.Shape().Size() / batch // positions·channels
	perGroup := c / groups
	g := x.Graph()
	member := make([]float32, size*groups)
	for i := 0; i < size; i++ {
		member[i*groups+(i%c)/perGroup] = 1
	}
	// m [positions·channels, groups]
	m := ConvertDType(Const(g, tensors.FromFlatDataAndDimensions(member, size, groups)), x.DType())
	// sum: v [batch, positions·channels] → [batch, groups].
	sum := func(v *Node) *Node { return dense.MatMul(v, m) }
	// spread: v [batch, groups] → [batch, positions·channels].
	spread := func(v *Node) *Node {
		return dense.OnRows(v, size, func(v *Node) *Node {
			return DotGeneral(v, []int{1}, nil, m, []int{1}, nil)
		})
	}
	xf := Reshape(x, batch, size)
	first := Slice(Reshape(x, batch, size/c, groups, perGroup), AxisRange(), AxisElem(0), AxisRange(), AxisElem(0))
	d := Sub(xf, spread(StopGradient(Reshape(first, batch, groups))))
	n := float64(size / groups)
	m1 := DivScalar(sum(d), n)
	m2 := DivScalar(sum(Square(d)), n)
	s := Inverse(Sqrt(AddScalar(Max(Sub(m2, Square(m1)), ZerosLike(m1)), epsilon)))
	return Reshape(Sub(Mul(d, spread(s)), spread(Mul(m1, s))), dims...)
}
