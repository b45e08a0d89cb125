package backend

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/graph"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestResolve(t *testing.T) {
	pluginDir := t.TempDir()
	cudaPlugin := filepath.Join(pluginDir, "xla_cuda_plugin.so")
	cpuPlugin := filepath.Join(pluginDir, "pjrt_c_api_cpu_plugin.so")
	for _, f := range []string{cudaPlugin, cpuPlugin, filepath.Join(pluginDir, "libother.so")} {
		if err := os.WriteFile(f, []byte("not really a plugin"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cpuOnly := t.TempDir()
	cpuOnlyPlugin := filepath.Join(cpuOnly, "pjrt_c_api_cpu_plugin.so")
	if err := os.WriteFile(cpuOnlyPlugin, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()

	tests := []struct {
		name       string
		env        map[string]string
		wantConfig string
		wantErr    []string // substrings the error must contain
	}{
		{"default is pure Go", map[string]string{"HOME": empty}, DefaultGoConfig, nil},
		{"env honoured", map[string]string{EnvVar: "go", "HOME": empty}, "go", nil},
		{"env with options", map[string]string{EnvVar: "go:parallelism=2"}, "go:parallelism=2", nil},
		{"env xla wins over plugin search", map[string]string{EnvVar: "xla:cuda", PluginPathEnv: pluginDir}, "xla:cuda", nil},
		{"env go wins over plugins", map[string]string{EnvVar: "go", PluginPathEnv: pluginDir}, "go", nil},
		{"cuda plugin preferred", map[string]string{PluginPathEnv: pluginDir, "HOME": empty}, "xla:" + cudaPlugin, nil},
		{"plugin given as a file", map[string]string{PluginPathEnv: cpuOnlyPlugin, "HOME": empty}, "xla:" + cpuOnlyPlugin, nil},
		{"cpu plugin in a folder", map[string]string{PluginPathEnv: empty + ":" + cpuOnly, "HOME": empty}, "xla:" + cpuOnlyPlugin, nil},
		{"nonsense", map[string]string{EnvVar: "nonsense"}, "", []string{`GOMLX_BACKEND="nonsense"`, `unknown backend "nonsense"`, "available backends: go", "xla"}},
		{"empty", map[string]string{EnvVar: "  "}, "", []string{"set but empty", "available backends"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Resolve(envOf(tc.env))
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Resolve(%v) = %+v, want error", tc.env, c)
				}
				for _, s := range tc.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				if !strings.HasPrefix(err.Error(), "backend: ") {
					t.Errorf("error %q is not prefixed with the package name", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%v): %v", tc.env, err)
			}
			if tc.wantConfig != "" && c.Config != tc.wantConfig {
				t.Errorf("Config = %q, want %q", c.Config, tc.wantConfig)
			}
			if c.Reason == "" {
				t.Errorf("empty Reason")
			}
		})
	}
}

func TestHomePluginFolder(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(home, ".local", "lib", "go-xla")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "pjrt_c_api_cpu_plugin.so")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Resolve(envOf(map[string]string{"HOME": home}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Config != "xla:"+p {
		t.Errorf("Config = %q, want xla:%s", c.Config, p)
	}
}

func TestIsPluginName(t *testing.T) {
	for name, want := range map[string]bool{
		"pjrt_c_api_cpu_plugin.so":  true,
		"pjrt_c_api_cuda_plugin.so": true,
		"xla_cuda_plugin.so":        true,
		"libcudart.so":              false,
		"xla_cuda_plugin.so.bak":    false,
		"pjrt_c_api_cpu.so":         false,
	} {
		if got := isPluginName(name); got != want {
			t.Errorf("isPluginName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestNewFromChoiceErrors(t *testing.T) {
	// A missing XLA plugin file must come back as an error naming the file,
	// not a panic.
	missing := filepath.Join(t.TempDir(), "pjrt_c_api_missing_plugin.so")
	_, err := NewFromChoice(Choice{Config: "xla:" + missing, Reason: "test"})
	if err == nil {
		t.Fatal("want error for a missing plugin")
	}
	if !strings.Contains(err.Error(), missing) || !strings.HasPrefix(err.Error(), "backend: ") {
		t.Errorf("error %q should be prefixed with backend: and name %s", err, missing)
	}
}

func TestGoBackendRuns(t *testing.T) {
	b, err := NewFromChoice(Choice{Config: DefaultGoConfig, Reason: "test"})
	if err != nil {
		t.Fatal(err)
	}
	got := graph.MustExecOnce(b, func(x *graph.Node) *graph.Node {
		return graph.ReduceAllSum(graph.Mul(x, x))
	}, []float32{1, 2, 3})
	if v := got.Value().(float32); v != 14 {
		t.Errorf("sum of squares = %v, want 14", v)
	}
}

func TestCUDADataDir(t *testing.T) {
	site := t.TempDir()
	plugin := filepath.Join(site, "jax_plugins", "xla_cuda13", "xla_cuda_plugin.so")
	nvcc := filepath.Join(site, "nvidia", "cuda_nvcc")
	if err := os.MkdirAll(filepath.Join(nvcc, "nvvm", "libdevice"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CUDA_HOME", "")
	dir, ok := CUDADataDir("xla:" + plugin + ",notf32")
	if !ok || dir != nvcc {
		t.Errorf("CUDADataDir = %q, %v; want %q", dir, ok, nvcc)
	}
}
