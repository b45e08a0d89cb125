package lora

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/ml/model"

	"github.com/policylab/policylab/lessons/safetensors"
)

// adapterSuffixes end the paths of adapter variables.
var adapterSuffixes = []string{model.ScopeSeparator + Scope + model.ScopeSeparator + "A", model.ScopeSeparator + Scope + model.ScopeSeparator + "B"}

// IsAdapter reports whether a variable path is a LoRA adapter's
// ("/vla/block0/q/lora/A").
func IsAdapter(path string) bool {
	for _, s := range adapterSuffixes {
		if strings.HasSuffix(path, s) {
			return true
		}
	}
	return false
}

// layerOf is the path of the layer an adapter variable adapts
// ("/vla/block0/q/lora/A" → "/vla/block0/q").
func layerOf(path string) string {
	return strings.TrimSuffix(path[:strings.LastIndex(path, model.ScopeSeparator)], model.ScopeSeparator+Scope)
}

// Freeze marks every variable of store untrainable except the adapters
// and those whose path keep accepts (a new action head; nil keeps none),
// and returns the trainable and total parameter counts. Call it once the
// variables exist (after loading the base checkpoint, or after a first
// graph build) and before training builds its graph: adapters created
// later are trainable.
func Freeze(store *model.Store, keep func(path string) bool) (trainable, total int) {
	for v := range store.IterVariables() {
		if !v.Shape().DType.IsFloat() {
			continue
		}
		n := v.Shape().Size()
		on := IsAdapter(v.Path()) || (keep != nil && keep(v.Path()))
		if !on && !v.Trainable {
			continue // bookkeeping (optimizer state, step counters): not a parameter
		}
		v.SetTrainable(on)
		total += n
		if on {
			trainable += n
		}
	}
	return trainable, total
}

// Save writes store's adapters to a safetensors file at path, each under
// its variable's path (the adapted layer's path + "/lora/A" or "/B"),
// with the configuration in the metadata. The base weights are not
// written: adapters are a few percent of a model, and load onto any copy
// of the base.
func Save(path string, store *model.Store, cfg Config) error {
	f := &safetensors.File{Tensors: map[string]safetensors.Tensor{}, Metadata: map[string]string{}}
	for v := range store.IterVariables() {
		if !IsAdapter(v.Path()) {
			continue
		}
		val, err := v.Value()
		if err != nil {
			return fmt.Errorf("lora: adapter %s: %w", v.Path(), err)
		}
		t, err := safetensors.FromGoMLX(val)
		if err != nil {
			return fmt.Errorf("lora: adapter %s: %w", v.Path(), err)
		}
		f.Tensors[v.Path()] = t
	}
	if len(f.Tensors) == 0 {
		return fmt.Errorf("lora: saving %s: the store holds no adapters (build the model with a lora.Config first)", path)
	}
	c, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("lora: %w", err)
	}
	f.Metadata["lora_config"] = string(c)
	if err := safetensors.WriteFile(path, f); err != nil {
		return fmt.Errorf("lora: %w", err)
	}
	return nil
}

// Load reads adapters saved by Save into store, which must hold the base
// weights they adapt: each layer's A [r, in] and B [out, r] are checked
// against its weights [in, out] and the saved rank, and every mismatch is
// an error naming the file, the tensor and the shapes. The adapters are
// trainable; the configuration is returned.
func Load(path string, store *model.Store) (Config, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("lora: %w", err)
	}
	var cfg Config
	if err := json.Unmarshal([]byte(f.Metadata["lora_config"]), &cfg); err != nil {
		return Config{}, fmt.Errorf("lora: %s has no LoRA configuration in its metadata: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("lora: %s: %w", path, err)
	}
	names := f.Names()
	if len(names) == 0 {
		return Config{}, fmt.Errorf("lora: %s holds no adapters", path)
	}
	for _, name := range names {
		t := f.Tensors[name]
		if !IsAdapter(name) {
			return Config{}, fmt.Errorf("lora: %s: tensor %q is not an adapter (want <layer>/lora/A or /B)", path, name)
		}
		layer := layerOf(name)
		base := store.GetVariable(layer + model.ScopeSeparator + Weights)
		if base == nil {
			return Config{}, fmt.Errorf("lora: %s: %s adapts %s, but the model has no %s/%s", path, name, layer, layer, Weights)
		}
		wd := base.Shape().Dimensions
		in, out := wd[0], wd[1]
		want := []int{cfg.Rank, in}
		if strings.HasSuffix(name, "B") {
			want = []int{out, cfg.Rank}
		}
		if !slices.Equal(t.Shape, want) {
			return Config{}, fmt.Errorf("lora: %s: %s has shape %v, want %v for weights %v and rank %d", path, name, t.Shape, want, wd, cfg.Rank)
		}
		if _, ok := f.Tensors[name[:len(name)-1]+other(name)]; !ok {
			return Config{}, fmt.Errorf("lora: %s: %s has no partner %s", path, name, other(name))
		}
	}
	for _, name := range names {
		val, err := safetensors.ToGoMLX(f.Tensors[name])
		if err != nil {
			return Config{}, fmt.Errorf("lora: %s: %s: %w", path, name, err)
		}
		if v := store.GetVariable(name); v != nil {
			if err := v.SetValue(val); err != nil {
				return Config{}, fmt.Errorf("lora: %s: %s: %w", path, name, err)
			}
			v.SetTrainable(true)
		} else {
			store.VariableWithValue(name, val).SetTrainable(true)
		}
	}
	return cfg, nil
}

func other(name string) string {
	if strings.HasSuffix(name, "A") {
		return "B"
	}
	return "A"
}

// Merge folds every adapter of store into the weights it adapts,
// W ← W + (α/r)·(B·A)ᵀ, and deletes the adapters: build the model without
// a Config afterwards, and it computes what the adapted model computed
// (to float rounding) at the cost of the base model. It returns the
// merged layers' paths, sorted. cfg.Arithmetic, when set, computes the
// merged weights.
func Merge(store *model.Store, cfg Config) ([]string, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	layers := map[string]bool{}
	for v := range store.IterVariables() {
		if IsAdapter(v.Path()) {
			layers[layerOf(v.Path())] = true
		}
	}
	var merged []string
	for layer := range layers {
		merged = append(merged, layer)
	}
	sort.Strings(merged)
	for _, layer := range merged {
		sep := model.ScopeSeparator
		wv := store.GetVariable(layer + sep + Weights)
		av := store.GetVariable(layer + sep + Scope + sep + "A")
		bv := store.GetVariable(layer + sep + Scope + sep + "B")
		if wv == nil || av == nil || bv == nil {
			return nil, fmt.Errorf("lora: Merge: layer %s lacks its weights or half of its adapter", layer)
		}
		w, err := floats(wv)
		if err != nil {
			return nil, err
		}
		a, err := floats(av)
		if err != nil {
			return nil, err
		}
		b, err := floats(bv)
		if err != nil {
			return nil, err
		}
		wd, ad := wv.Shape().Dimensions, av.Shape().Dimensions
		in, out, r := wd[0], wd[1], ad[0]
		if ad[1] != in || bv.Shape().Dimensions[0] != out || bv.Shape().Dimensions[1] != r {
			return nil, fmt.Errorf("lora: Merge: layer %s: weights %v, A %v, B %v do not fit", layer, wd, ad, bv.Shape().Dimensions)
		}
		if cfg.Arithmetic != nil && cfg.Arithmetic.Merge != nil {
			w = cfg.Arithmetic.Merge(w, a, b, in, out, r, cfg.Scale())
			if len(w) != in*out {
				return nil, fmt.Errorf("lora: Merge: layer %s: Arithmetic.Merge returned %d values, want %d (weights %v)", layer, len(w), in*out, wd)
			}
		} else {
			scale := float32(cfg.Scale())
			for i := 0; i < in; i++ {
				for o := 0; o < out; o++ {
					var s float32
					for k := 0; k < r; k++ {
						s += b[o*r+k] * a[k*in+i]
					}
					w[i*out+o] += scale * s
				}
			}
		}
		t, err := safetensors.ToGoMLX(safetensors.FromFloat32(wd, w))
		if err != nil {
			return nil, err
		}
		if err := wv.SetValue(t); err != nil {
			return nil, fmt.Errorf("lora: Merge: %s: %w", layer, err)
		}
		for _, v := range []*model.Variable{av, bv} {
			if err := store.DeleteVariable(v.Path()); err != nil {
				return nil, fmt.Errorf("lora: Merge: %w", err)
			}
		}
	}
	return merged, nil
}

// floats is a float32 variable's value, flat.
func floats(v *model.Variable) ([]float32, error) {
	val, err := v.Value()
	if err != nil {
		return nil, fmt.Errorf("lora: %s: %w", v.Path(), err)
	}
	t, err := safetensors.FromGoMLX(val)
	if err != nil {
		return nil, fmt.Errorf("lora: %s: %w", v.Path(), err)
	}
	if t.DType != "F32" {
		return nil, fmt.Errorf("lora: %s is %s; Merge handles float32", v.Path(), t.DType)
	}
	return t.Float32s()
}
