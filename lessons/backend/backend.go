// Package backend picks the GoMLX compute backend for every lesson, notebook,
// test and benchmark of PolicyLab. It is the one switch between the CPU and
// the GPU.
//
// The rule, in order:
//
//  1. GOMLX_BACKEND, when set, is honoured as GoMLX defines it
//     ("<name>[:<config>]", e.g. "go", "go:parallelism=2", "xla:cuda",
//     "xla:/path/to/xla_cuda_plugin.so"). An unknown name is an error that
//     lists the backends compiled in.
//  2. Else, when a PJRT plugin is found (PJRT_PLUGIN_LIBRARY_PATH, or go-xla's
//     standard folders ~/.local/lib/go-xla and /usr/local/lib/go-xla), the XLA
//     backend runs on it. A CUDA plugin is preferred over a CPU one.
//  3. Else GoMLX's pure-Go backend, embedded in the binary: nothing to
//     download, runs anywhere.
//
// The pure-Go default is "go:parallelism=-1": measured on 2 cores with GoMLX
// v0.28.16 it trained the chapter's BC MLP at 135 steps/s against 96 with the
// default worker pool, and a small transformer at 5.7 against 3.0 steps/s
// (see README, "Why GoMLX v0.28.16"). Set GOMLX_BACKEND=go to get GoMLX's
// own default pool.
package backend

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/go-xla/compute/xla"
)

// EnvVar is the environment variable that selects the backend (GoMLX's own).
const EnvVar = compute.ConfigEnvVar

// PluginPathEnv lists folders (or plugin files) searched for PJRT plugins.
const PluginPathEnv = "PJRT_PLUGIN_LIBRARY_PATH"

// DefaultGoConfig is the pure-Go backend configuration used when nothing else
// is asked for or found.
const DefaultGoConfig = gobackend.BackendName + ":parallelism=-1"

// Choice is a resolved backend configuration and why it was chosen.
type Choice struct {
	// Config is the GoMLX backend configuration, "<name>[:<options>]".
	Config string
	// Reason says where Config came from, for people reading notebook output.
	Reason string
}

// Name is the backend name part of the configuration ("go", "xla", ...).
func (c Choice) Name() string {
	name, _, _ := strings.Cut(c.Config, ":")
	return name
}

// Available lists the backend names compiled into this binary, sorted.
func Available() []string {
	names := compute.List()
	sort.Strings(names)
	return names
}

// Resolve applies the selection rule to an environment given as a lookup
// function (os.LookupEnv in production, a map in tests). It does not create
// the backend; it only checks that the name is known.
func Resolve(lookup func(string) (string, bool)) (Choice, error) {
	if v, ok := lookup(EnvVar); ok {
		v = strings.TrimSpace(v)
		if v == "" {
			return Choice{}, fmt.Errorf("backend: %s is set but empty; available backends: %s (e.g. %s=%s)",
				EnvVar, strings.Join(Available(), ", "), EnvVar, DefaultGoConfig)
		}
		name, _, _ := strings.Cut(v, ":")
		if !slices.Contains(Available(), name) {
			return Choice{}, fmt.Errorf("backend: %s=%q names unknown backend %q; available backends: %s "+
				"(e.g. %s=go, %s=xla:cuda, %s=xla:/path/to/xla_cuda_plugin.so)",
				EnvVar, v, name, strings.Join(Available(), ", "), EnvVar, EnvVar, EnvVar)
		}
		return Choice{Config: v, Reason: "from " + EnvVar}, nil
	}
	if plugin, ok := FindPlugin(lookup); ok {
		return Choice{Config: xla.BackendName + ":" + plugin, Reason: "PJRT plugin found at " + plugin}, nil
	}
	return Choice{Config: DefaultGoConfig, Reason: "no " + EnvVar + " and no PJRT plugin found: embedded pure-Go backend"}, nil
}

// FindPlugin looks for a PJRT plugin file in PJRT_PLUGIN_LIBRARY_PATH (a
// ":"-separated list of folders or plugin files) and in go-xla's standard
// folders. Plugins are named pjrt_c_api_<name>_plugin.so, or, as JAX's wheels
// ship them, xla_<name>_plugin.so (jax-cuda13-pjrt's xla_cuda_plugin.so). A
// CUDA plugin wins over others. It returns the absolute path.
func FindPlugin(lookup func(string) (string, bool)) (string, bool) {
	var dirs []string
	if v, ok := lookup(PluginPathEnv); ok {
		dirs = append(dirs, filepath.SplitList(v)...)
	}
	if home, ok := lookup("HOME"); ok && home != "" {
		dirs = append(dirs, filepath.Join(home, ".local", "lib", "go-xla"), filepath.Join(home, ".local", "lib", "go-xla", "nvidia"))
	}
	dirs = append(dirs, "/usr/local/lib/go-xla", "/usr/local/lib/go-xla/nvidia")
	var found []string
	for _, d := range dirs {
		if d == "" {
			continue
		}
		fi, err := os.Stat(d)
		if err != nil {
			continue
		}
		if !fi.IsDir() {
			if isPluginName(filepath.Base(d)) {
				found = append(found, d)
			}
			continue
		}
		entries, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !e.IsDir() && isPluginName(e.Name()) {
				found = append(found, filepath.Join(d, e.Name()))
			}
		}
	}
	if len(found) == 0 {
		return "", false
	}
	best := found[0]
	for _, f := range found {
		if strings.Contains(filepath.Base(f), "cuda") {
			best = f
			break
		}
	}
	abs, err := filepath.Abs(best)
	if err != nil {
		return best, true
	}
	return abs, true
}

func isPluginName(name string) bool {
	if !strings.HasSuffix(name, ".so") {
		return false
	}
	return (strings.HasPrefix(name, "pjrt_c_api_") || strings.HasPrefix(name, "xla_")) &&
		strings.HasSuffix(strings.TrimSuffix(name, ".so"), "_plugin")
}

var (
	mu      sync.Mutex
	current compute.Backend
	choice  Choice
)

// New returns the process-wide backend chosen by Resolve on the real
// environment, creating it on first use. Backends hold compiled graphs and
// device memory, so one per process is what every lesson shares.
func New() (compute.Backend, error) {
	mu.Lock()
	defer mu.Unlock()
	if current != nil {
		return current, nil
	}
	c, err := Resolve(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	b, err := NewFromChoice(c)
	if err != nil {
		return nil, err
	}
	current, choice = b, c
	return b, nil
}

// NewFromChoice creates a backend for a resolved choice (not shared). For an
// XLA CUDA plugin it first sets XLA_FLAGS' --xla_gpu_cuda_data_dir when it is
// missing and a CUDA folder can be found (see CUDADataDir), since go-xla would
// otherwise point it next to the plugin, where JAX's wheels keep nothing.
func NewFromChoice(c Choice) (b compute.Backend, err error) {
	if c.Name() == xla.BackendName && strings.Contains(c.Config, "cuda") {
		if flags := os.Getenv("XLA_FLAGS"); !strings.Contains(flags, "--xla_gpu_cuda_data_dir") {
			if dir, ok := CUDADataDir(c.Config); ok {
				_ = os.Setenv("XLA_FLAGS", strings.TrimSpace(flags+" --xla_gpu_cuda_data_dir="+dir))
			}
		}
	}
	defer func() {
		// compute.NewWithConfig panics on some bad configurations: turn that
		// into an error at this edge.
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("backend: %s (%s): %v; available backends: %s", c.Config, c.Reason, r, strings.Join(Available(), ", "))
		}
	}()
	if c.Name() == gobackend.BackendName {
		if SIMDBuild {
			// Before any SIMD kernel runs: see heapguard.go.
			GuardHeap()
		}
		// The Go backend prints "Go backend: parallelism set to N" on
		// stdout when configured; Describe says the same in its one line.
		b, err = quietly(func() (compute.Backend, error) { return compute.NewWithConfig(c.Config) })
	} else {
		b, err = compute.NewWithConfig(c.Config)
	}
	if err != nil {
		return nil, fmt.Errorf("backend: cannot start %q (%s): %w; available backends: %s", c.Config, c.Reason, err, strings.Join(Available(), ", "))
	}
	return b, nil
}

// quietly runs f with os.Stdout pointed at the null device.
func quietly(f func() (compute.Backend, error)) (compute.Backend, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return f()
	}
	saved := os.Stdout
	os.Stdout = devnull
	defer func() {
		os.Stdout = saved
		devnull.Close()
	}()
	return f()
}

// CUDADataDir finds the folder XLA needs as --xla_gpu_cuda_data_dir (the one
// holding nvvm/libdevice): $CUDA_HOME, pip's nvidia packages next to a
// plugin given by path (site-packages/nvidia/cuda_nvcc, .../nvidia/cu13), or
// /usr/local/cuda.
func CUDADataDir(config string) (string, bool) {
	var cands []string
	if h := os.Getenv("CUDA_HOME"); h != "" {
		cands = append(cands, h)
	}
	if _, p, ok := strings.Cut(config, ":"); ok && filepath.IsAbs(p) {
		p, _, _ = strings.Cut(p, ",")
		// .../site-packages/jax_plugins/xla_cuda13/xla_cuda_plugin.so
		site := filepath.Dir(filepath.Dir(filepath.Dir(p)))
		cands = append(cands,
			filepath.Join(site, "nvidia", "cuda_nvcc"),
			filepath.Join(site, "nvidia", "cu13"),
			filepath.Join(site, "nvidia", "cu12"))
	}
	cands = append(cands, "/usr/local/cuda")
	for _, d := range cands {
		if fi, err := os.Stat(filepath.Join(d, "nvvm", "libdevice")); err == nil && fi.IsDir() {
			return d, true
		}
	}
	return "", false
}

// Chosen is the choice New made (the zero Choice before New succeeds).
func Chosen() Choice {
	mu.Lock()
	defer mu.Unlock()
	return choice
}

// MustNew is New for notebooks: it panics with New's error.
func MustNew() compute.Backend {
	b, err := New()
	if err != nil {
		panic(err)
	}
	return b
}

// Describe is the one line every notebook prints first:
// "PolicyLab backend: go:parallelism=-1 [Go Portable Compute Backend ...] (reason); SIMD kernels, heap guard ...".
// The runner of `make course` reads the backend name from it.
func Describe() string {
	b, err := New()
	if err != nil {
		return "PolicyLab backend: error: " + err.Error()
	}
	mu.Lock()
	c := choice
	mu.Unlock()
	return fmt.Sprintf("PolicyLab backend: %s [%s] (%s)%s", c.Config, b.Description(), c.Reason, kernels(c))
}

// kernels says which of the Go backend's kernels this build runs: "; SIMD
// kernels, heap guard 12 GiB (...)" or "; portable kernels (...)"; nothing
// for other backends.
func kernels(c Choice) string {
	if c.Name() != gobackend.BackendName {
		return ""
	}
	if SIMDBuild {
		return "; SIMD kernels, " + GuardHeap().String()
	}
	return "; portable kernels (GOEXPERIMENT=simd builds run the SIMD ones)"
}
