package resnet

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/policylab/policylab/lessons/safetensors"
)

// tvParam is one state_dict entry and the variable it fills.
type tvParam struct {
	torch     string // state_dict name, e.g. "layer1.0.conv1.weight"
	shape     []int  // PyTorch shape
	path      string // variable path relative to the scope, e.g. "layer1/0/conv1/weights"
	conv      bool   // OIHW kernel, transposed to [kh, kw, in, out]
	trainable bool
}

// tvMapping lists the state_dict entries LoadTorchvision reads for cfg, in
// state_dict order.
func tvMapping(cfg Config) []tvParam {
	var ps []tvParam
	conv := func(torch, path string, in, out, k int) {
		ps = append(ps, tvParam{torch: torch + ".weight", shape: []int{out, in, k, k}, path: path + "/weights", conv: true, trainable: true})
	}
	normalization := func(torch, path string, c int) {
		sub := "/batch_normalization/"
		if cfg.Norm == GroupNorm {
			sub = "/group_normalization/"
		}
		ps = append(ps,
			tvParam{torch: torch + ".weight", shape: []int{c}, path: path + sub + "scale", trainable: true},
			tvParam{torch: torch + ".bias", shape: []int{c}, path: path + sub + "offset", trainable: true})
		if cfg.Norm == BatchNorm {
			ps = append(ps,
				tvParam{torch: torch + ".running_mean", shape: []int{c}, path: path + sub + "mean"},
				tvParam{torch: torch + ".running_var", shape: []int{c}, path: path + sub + "variance"})
		}
	}
	w := cfg.Width
	conv("conv1", "conv1", 3, w, 7)
	normalization("bn1", "bn1", w)
	in := w
	for l := 0; l < 4; l++ {
		p := w << l
		for b := 0; b < cfg.Blocks[l]; b++ {
			t := fmt.Sprintf("layer%d.%d.", l+1, b)
			s := fmt.Sprintf("layer%d/%d/", l+1, b)
			conv(t+"conv1", s+"conv1", in, p, 3)
			normalization(t+"bn1", s+"bn1", p)
			conv(t+"conv2", s+"conv2", p, p, 3)
			normalization(t+"bn2", s+"bn2", p)
			if b == 0 && (l > 0 || in != p) {
				conv(t+"downsample.0", s+"downsample/0", in, p, 1)
				normalization(t+"downsample.1", s+"downsample/1", p)
			}
			in = p
		}
	}
	return ps
}

// TorchvisionShapes returns the torchvision state_dict names that
// LoadTorchvision needs for cfg, with their PyTorch shapes (convolution
// weights [out, in, kh, kw]). It omits the entries LoadTorchvision ignores:
// fc.weight, fc.bias, the num_batches_tracked counters and, for Norm
// "group", running_mean and running_var.
func TorchvisionShapes(cfg Config) map[string][]int {
	m := map[string][]int{}
	for _, p := range tvMapping(cfg) {
		m[p.torch] = slices.Clone(p.shape)
	}
	return m
}

// ignoredTorchvision says whether a state_dict entry is deliberately not
// loaded: the classifier head, BatchNorm's batch counters, and for GroupNorm
// the running statistics (GroupNorm has none).
func ignoredTorchvision(name string, cfg Config) bool {
	if strings.HasPrefix(name, "fc.") || strings.HasSuffix(name, ".num_batches_tracked") {
		return true
	}
	return cfg.Norm == GroupNorm && (strings.HasSuffix(name, ".running_mean") || strings.HasSuffix(name, ".running_var"))
}

// LoadTorchvision fills the variables of Features under scopeName (the path
// of the scope given to Features, e.g. "resnet" for
// Features(scope.In("resnet"), ...) with scope the root; "" for the root)
// from torchvision's ResNet state_dict saved as safetensors (see the package
// documentation for the Python one-liner).
//
// Mapping (L = 1..4, B = block):
//
//	conv1.weight [W, 3, 7, 7]              → conv1/weights [7, 7, 3, W]  (OIHW → HWIO)
//	bn1.weight / bias                       → bn1/batch_normalization/scale / offset
//	bn1.running_mean / running_var          → bn1/batch_normalization/mean / variance
//	layerL.B.conv1.weight, layerL.B.conv2.weight → layerL/B/conv1/weights, layerL/B/conv2/weights
//	layerL.B.bn1.*, layerL.B.bn2.*          → layerL/B/bn1/..., layerL/B/bn2/...
//	layerL.0.downsample.0.weight            → layerL/0/downsample/0/weights [1, 1, in, out]
//	layerL.0.downsample.1.*                 → layerL/0/downsample/1/...
//	fc.weight, fc.bias, *.num_batches_tracked: ignored
//
// With cfg.Norm "group", the BatchNorm
// weight and bias initialize GroupNorm's γ ("scale") and β ("offset") and the
// running statistics are ignored: the result is a GroupNorm network
// warm-started from BatchNorm weights, not equal to the pretrained network
// (Diffusion Policy trains its GroupNorm ResNet-18 from scratch).
//
// Every expected tensor must be in the file with the expected shape (any of
// F32, F64, F16, BF16), and every tensor of the file must be expected or
// ignored (a ResNet-34 file for a ResNet-18 config is an error); otherwise the
// error names the tensor and, for a shape mismatch, both shapes. Nothing is
// changed in the store unless everything checks. Variables that already exist
// (e.g. initialized by an earlier Features graph) get the loaded values; others
// are created with them, so the next Features graph uses them.
func LoadTorchvision(store *model.Store, scopeName string, f *safetensors.File, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if store == nil || f == nil {
		return fmt.Errorf("resnet: LoadTorchvision needs a store and a file")
	}
	params := tvMapping(cfg)
	expected := map[string]bool{}
	for _, p := range params {
		expected[p.torch] = true
	}
	var unexpected []string
	for name := range f.Tensors {
		if !expected[name] && !ignoredTorchvision(name, cfg) {
			unexpected = append(unexpected, name)
		}
	}
	if len(unexpected) > 0 {
		sort.Strings(unexpected)
		more := ""
		if len(unexpected) > 5 {
			more = fmt.Sprintf(" and %d more", len(unexpected)-5)
			unexpected = unexpected[:5]
		}
		return fmt.Errorf("resnet: tensor %q in the file is not part of a ResNet with Width %d and Blocks %v (unexpected: %s%s)",
			unexpected[0], cfg.Width, cfg.Blocks, strings.Join(unexpected, ", "), more)
	}

	prefix := scopePrefix(scopeName)
	values := make([]*tensors.Tensor, len(params))
	for i, p := range params {
		t, ok := f.Tensors[p.torch]
		if !ok {
			return fmt.Errorf("resnet: tensor %q (shape %v) is missing from the file", p.torch, p.shape)
		}
		if !slices.Equal(t.Shape, p.shape) {
			return fmt.Errorf("resnet: tensor %q has shape %v in the file, want %v (Width %d)",
				p.torch, t.Shape, p.shape, cfg.Width)
		}
		v, err := t.Float32s()
		if err != nil {
			return fmt.Errorf("resnet: tensor %q: %w", p.torch, err)
		}
		if p.conv {
			o, in, kh, kw := p.shape[0], p.shape[1], p.shape[2], p.shape[3]
			values[i] = tensors.FromFlatDataAndDimensions(OIHWToHWIO(v, o, in, kh, kw), kh, kw, in, o)
		} else {
			values[i] = tensors.FromFlatDataAndDimensions(v, p.shape...)
		}
		path := prefix + "/" + p.path
		if old := store.GetVariable(path); old != nil && !old.Shape().Equal(values[i].Shape()) {
			return fmt.Errorf("resnet: variable %s exists with shape %s, tensor %q needs %s",
				path, old.Shape(), p.torch, values[i].Shape())
		}
	}

	set := func(path string, value *tensors.Tensor, trainable bool) error {
		v := store.GetVariable(path)
		if v != nil {
			if err := v.SetValue(value); err != nil {
				return fmt.Errorf("resnet: setting %s: %w", path, err)
			}
		} else {
			var err error
			if v, err = store.CreateVariable(path, value); err != nil {
				return fmt.Errorf("resnet: creating %s: %w", path, err)
			}
		}
		v.SetTrainable(trainable)
		return nil
	}
	for i, p := range params {
		path := prefix + "/" + p.path
		if err := set(path, values[i], p.trainable); err != nil {
			return err
		}
	}
	return nil
}

// OIHWToHWIO transposes a PyTorch convolution kernel [out, in, kh, kw] (flat,
// row-major) to GoMLX's channels-last kernel layout [kh, kw, in, out].
func OIHWToHWIO(v []float32, out, in, kh, kw int) []float32 {
	dst := make([]float32, len(v))
	for o := 0; o < out; o++ {
		for i := 0; i < in; i++ {
			for y := 0; y < kh; y++ {
				for x := 0; x < kw; x++ {
					dst[((y*kw+x)*in+i)*out+o] = v[((o*in+i)*kh+y)*kw+x]
				}
			}
		}
	}
	return dst
}
