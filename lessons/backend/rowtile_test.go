package backend

import "testing"

func TestIsGo(t *testing.T) {
	b, err := NewFromChoice(Choice{Config: DefaultGoConfig})
	if err != nil {
		t.Fatal(err)
	}
	if !IsGo(b) {
		t.Errorf("IsGo(%q, named %q) = false", b.String(), b.Name())
	}
	if IsGo(nil) || MatMulRowTile(nil) != 1 {
		t.Errorf("IsGo(nil) = %v, MatMulRowTile(nil) = %d; want false, 1", IsGo(nil), MatMulRowTile(nil))
	}
}

// TestMatMulRowTile checks the tile against the build and GoMLX's kernel
// switches; rowtile_simd_amd64_test.go checks the CPU's part.
func TestMatMulRowTile(t *testing.T) {
	b, err := NewFromChoice(Choice{Config: DefaultGoConfig})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		// want is the tile in a SIMD build on an x86-64 CPU with AVX2 or
		// AVX-512; every other build and CPU wants 1.
		want int
	}{
		{"default", nil, 4},
		{"no AVX-512", map[string]string{"GOMLX_GO_SIMD_AVX512": "false"}, 4},
		{"neither AVX2 nor AVX-512", map[string]string{"GOMLX_GO_SIMD_AVX512": "false", "GOMLX_GO_SIMD_AVX2": "false"}, 1},
		{"matmul kernels off", map[string]string{"GOMLX_GO_DOT_MATMUL": "false"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			want := tc.want
			if !simdKernelsHere() {
				want = 1
			}
			if got := MatMulRowTile(b); got != want {
				t.Errorf("MatMulRowTile = %d, want %d (SIMD build %v)", got, want, SIMDBuild)
			}
		})
	}
}
