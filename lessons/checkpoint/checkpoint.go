// Package checkpoint saves and restores training state: every variable of a
// GoMLX model store (weights, optimizer moments, step counters, the random
// generator's state) in a safetensors file, plus a JSON of the policy's
// config and normalizer statistics.
//
// A checkpoint is a directory:
//
//	<root>/ckpt-000001200/weights.safetensors
//	<root>/ckpt-000001200/policy.json
//	<root>/latest            (the name of the newest complete checkpoint)
//
// Saving is atomic: files are written and synced in a temporary directory,
// which is renamed into place, and only then is `latest` replaced (itself by
// write-and-rename). A crash or kill at any moment leaves `latest` naming a
// complete checkpoint, or no checkpoint at all before the first one.
package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/policylab/policylab/lessons/safetensors"
)

const (
	weightsFile = "weights.safetensors"
	policyFile  = "policy.json"
	latestFile  = "latest"
	prefix      = "ckpt-"
	// metaNonTrainable lists (JSON) the variables restored as non-trainable.
	metaNonTrainable = "policylab.non_trainable"
	metaFormat       = "format"
	// metricsScope holds GoMLX's metric accumulators, which are not saved.
	metricsScope = "/metrics/"
)

// Meta is the JSON side of a checkpoint.
type Meta struct {
	Kind        string          `json:"kind"` // policy kind, e.g. "bc-mlp"
	Step        int64           `json:"step"` // optimizer steps done
	Config      json.RawMessage `json:"config,omitempty"`
	Normalizers json.RawMessage `json:"normalizers,omitempty"`
	// History is the training curves so far, so a resumed run plots whole.
	History json.RawMessage `json:"history,omitempty"`
}

// CrashEnv makes Save kill its own process (SIGKILL: no deferred
// clean-up runs) at a stage of one checkpoint, "<name>:<stage>" with stage
// "weights-written" or "renamed". Tests of crash safety use it.
const CrashEnv = "POLICYLAB_CHECKPOINT_CRASH"

func hook(name, stage string) {
	if os.Getenv(CrashEnv) == name+":"+stage {
		p, _ := os.FindProcess(os.Getpid())
		_ = p.Kill()
		select {} // never returns: the kill lands
	}
}

// Save writes a checkpoint of store and meta under root as ckpt-<step> and
// points root/latest at it. It keeps the newest keep checkpoints (all when
// keep <= 0). It returns the checkpoint's directory.
func Save(root string, store *model.Store, meta Meta, keep int) (string, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	f := &safetensors.File{Tensors: map[string]safetensors.Tensor{}, Metadata: map[string]string{metaFormat: "policylab-checkpoint-v1"}}
	var nonTrainable []string
	for v := range store.IterVariables() {
		if strings.HasPrefix(v.String(), metricsScope) {
			continue // running means of reported metrics: bookkeeping, renamed per trainer
		}
		val, err := v.Value()
		if err != nil {
			return "", fmt.Errorf("checkpoint: variable %s: %w", v, err)
		}
		t, err := safetensors.FromGoMLX(val)
		if err != nil {
			return "", fmt.Errorf("checkpoint: variable %s: %w", v, err)
		}
		f.Tensors[v.String()] = t
		if !v.Trainable {
			nonTrainable = append(nonTrainable, v.String())
		}
	}
	sort.Strings(nonTrainable)
	nt, _ := json.Marshal(nonTrainable)
	f.Metadata[metaNonTrainable] = string(nt)

	name := fmt.Sprintf("%s%09d", prefix, meta.Step)
	tmp, err := os.MkdirTemp(root, ".tmp-"+name+"-")
	if err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op once renamed
	if err := safetensors.WriteFile(filepath.Join(tmp, weightsFile), f); err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	hook(name, "weights-written")
	mb, err := json.MarshalIndent(meta, "", " ")
	if err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	if err := writeSynced(filepath.Join(tmp, policyFile), mb); err != nil {
		return "", err
	}
	syncDir(tmp)
	dir := filepath.Join(root, name)
	if err := os.RemoveAll(dir); err != nil { // a stale one from a crashed run
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	syncDir(root)
	hook(name, "renamed")
	if err := writeSynced(filepath.Join(root, latestFile+".tmp"), []byte(name+"\n")); err != nil {
		return "", err
	}
	if err := os.Rename(filepath.Join(root, latestFile+".tmp"), filepath.Join(root, latestFile)); err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	syncDir(root)
	if keep > 0 {
		prune(root, keep)
	}
	return dir, nil
}

func writeSynced(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("checkpoint: writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("checkpoint: syncing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// List returns the complete checkpoints under root, oldest first.
func List(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
			out = append(out, filepath.Join(root, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

func prune(root string, keep int) {
	all, err := List(root)
	if err != nil || len(all) <= keep {
		return
	}
	latest, _ := Latest(root)
	for _, d := range all[:len(all)-keep] {
		if d != latest {
			_ = os.RemoveAll(d)
		}
	}
}

// ErrNone means root holds no checkpoint yet.
var ErrNone = errors.New("checkpoint: no checkpoint")

// Latest returns the directory `root/latest` names, ErrNone when there is
// none yet.
func Latest(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, latestFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w in %s", ErrNone, root)
	}
	if err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	name := strings.TrimSpace(string(b))
	if !strings.HasPrefix(name, prefix) || strings.ContainsAny(name, `/\`) {
		return "", fmt.Errorf("checkpoint: %s names %q, not a checkpoint", filepath.Join(root, latestFile), name)
	}
	return filepath.Join(root, name), nil
}

// ReadMeta reads a checkpoint's policy.json.
func ReadMeta(dir string) (Meta, error) {
	var m Meta
	p := filepath.Join(dir, policyFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return m, fmt.Errorf("checkpoint: %w", err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("checkpoint: %s is corrupt: %w", p, err)
	}
	if m.Kind == "" {
		return m, fmt.Errorf("checkpoint: %s has no policy kind", p)
	}
	return m, nil
}

// Load reads the checkpoint in dir: its meta, and every variable into store
// (created when missing, overwritten when present; a shape that disagrees
// with an existing variable is an error naming it). Nothing is changed in
// store unless the whole checkpoint reads cleanly.
func Load(dir string, store *model.Store) (Meta, error) {
	m, err := ReadMeta(dir)
	if err != nil {
		return m, err
	}
	wp := filepath.Join(dir, weightsFile)
	f, err := safetensors.ReadFile(wp)
	if err != nil {
		return m, fmt.Errorf("checkpoint: %w", err)
	}
	var nonTrainable []string
	if s, ok := f.Metadata[metaNonTrainable]; ok {
		if err := json.Unmarshal([]byte(s), &nonTrainable); err != nil {
			return m, fmt.Errorf("checkpoint: %s: bad %s metadata: %w", wp, metaNonTrainable, err)
		}
	}
	nt := map[string]bool{}
	for _, n := range nonTrainable {
		nt[n] = true
	}
	// Convert and check everything before touching the store.
	names := f.Names()
	values := make([]*tensors.Tensor, len(names))
	for i, name := range names {
		t, err := safetensors.ToGoMLX(f.Tensors[name])
		if err != nil {
			return m, fmt.Errorf("checkpoint: %s: tensor %q: %w", wp, name, err)
		}
		if v := store.GetVariable(name); v != nil && !v.Shape().Equal(t.Shape()) {
			return m, fmt.Errorf("checkpoint: %s: variable %q has shape %s in the checkpoint but %s in the model", wp, name, t.Shape(), v.Shape())
		}
		values[i] = t
	}
	for i, name := range names {
		v := store.GetVariable(name)
		if v == nil {
			if v, err = store.CreateVariable(name, values[i]); err != nil {
				return m, fmt.Errorf("checkpoint: variable %q: %w", name, err)
			}
		} else if err := v.SetValue(values[i]); err != nil {
			return m, fmt.Errorf("checkpoint: variable %q: %w", name, err)
		}
		v.SetTrainable(!nt[name])
	}
	return m, nil
}
