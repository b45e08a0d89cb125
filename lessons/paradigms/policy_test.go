package paradigms

import (
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
)

// formulaParams counts the parameters of the architecture by hand:
// a k×k convolution from cin to cout channels has k·k·cin·cout weights and
// cout biases, a dense layer from i to o has i·o weights and o biases, and
// the embedding table has VocabSize·TextDim entries.
func formulaParams(c ArchConfig) map[string]int {
	dense := func(i, o int) int { return i*o + o }
	vision, in := 0, c.ImageChannels
	for _, out := range c.VisionChannels {
		vision += 3*3*in*out + out
		in = out
	}
	m := map[string]int{
		ScopeVision:   vision,
		ScopeLanguage: c.VocabSize*c.TextDim + dense(c.TextDim, c.TextDim),
		ScopeState:    dense(c.ProprioDim, c.StateDim) + dense(c.StateDim, c.StateDim),
		ScopeFusion:   dense(in+c.TextDim+c.StateDim, c.FusionDim),
		ScopeHead:     dense(c.FusionDim, c.HeadDim) + dense(c.HeadDim, c.ActionDim),
	}
	total := 0
	for _, v := range m {
		total += v
	}
	m["total"] = total
	return m
}

func TestParamCountsMatchFormula(t *testing.T) {
	small := DefaultArchConfig()
	small.ImageSize, small.VisionChannels, small.VocabSize = 30, []int{4, 6}, 50
	small.TextDim, small.ProprioDim, small.StateDim, small.FusionDim, small.HeadDim, small.ActionDim = 5, 3, 7, 11, 13, 2
	for _, tc := range []struct {
		name string
		cfg  ArchConfig
	}{{"default", DefaultArchConfig()}, {"small odd sizes", small}} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPolicy(t, tc.cfg)
			want := formulaParams(tc.cfg)
			got := p.ParamCounts()
			if len(got) != len(moduleScopes)+1 {
				t.Fatalf("ParamCounts has %d entries, want %d", len(got), len(moduleScopes)+1)
			}
			for _, m := range got {
				if m.Params != want[m.Module] {
					t.Errorf("%s: %d params, formula says %d", m.Module, m.Params, want[m.Module])
				}
				if m.Variables == 0 {
					t.Errorf("%s: no variables found", m.Module)
				}
			}
			if p.NumParams() != want["total"] {
				t.Errorf("NumParams() = %d, want %d", p.NumParams(), want["total"])
			}
		})
	}
	if got := formulaParams(DefaultArchConfig())["total"]; got != 142663 {
		t.Errorf("default total by formula = %d, want 142663", got)
	}
}

func TestForwardShape(t *testing.T) {
	cfg := DefaultArchConfig()
	p := testPolicy(t, cfg)
	for _, batch := range []int{1, 3} {
		actions, err := p.Forward(SampleInputs(cfg, batch, "push the button", uint64(batch)))
		if err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		if len(actions) != batch {
			t.Fatalf("batch %d: got %d rows", batch, len(actions))
		}
		for i, a := range actions {
			if len(a) != cfg.ActionDim {
				t.Errorf("batch %d row %d: %d values, want %d", batch, i, len(a), cfg.ActionDim)
			}
		}
	}
	// Same inputs, same weights: same actions.
	a1, _ := p.Forward(SampleInputs(cfg, 2, "push the button", 9))
	p2 := testPolicy(t, cfg)
	a2, _ := p2.Forward(SampleInputs(cfg, 2, "push the button", 9))
	if a1[1][3] != a2[1][3] {
		t.Errorf("two policies built from the same config disagree: %v vs %v", a1[1], a2[1])
	}
}

func TestForwardShapeErrors(t *testing.T) {
	cfg := DefaultArchConfig()
	p := testPolicy(t, cfg)
	img, tok, mask, prop := SampleInputs(cfg, 2, "open the door", 1)
	img1, tok1, _, _ := SampleInputs(cfg, 1, "open the door", 1)
	small := cfg
	small.ImageSize = 32
	imgSmall, _, _, _ := SampleInputs(small, 2, "", 1)
	f32 := func(dims ...int) *tensors.Tensor {
		n := 1
		for _, d := range dims {
			n *= d
		}
		return tensors.FromFlatDataAndDimensions(make([]float32, n), dims...)
	}
	tests := []struct {
		name                string
		images, tokens, msk *tensors.Tensor
		proprio             *tensors.Tensor
		want                string
	}{
		{"nil images", nil, tok, mask, prop, "images is nil"},
		{"image size", imgSmall, tok, mask, prop, "images has shape"},
		{"image rank", f32(2, 64, 64), tok, mask, prop, "images has shape"},
		{"token dtype", img, mask, mask, prop, "tokens has shape"},
		{"token length", img, tensors.FromFlatDataAndDimensions(make([]int32, 10), 2, 5), mask, prop, "tokens has shape"},
		{"mask length", img, tok, f32(2, 9), prop, "mask has shape"},
		{"proprio dim", img, tok, mask, f32(2, 7), "proprio has shape"},
		{"batch mismatch", img, tok1, mask, prop, "batch size 1 but images has 2"},
		{"batch mismatch images", img1, tok, mask, prop, "batch size 2 but images has 1"},
		{"empty batch", f32(0, 64, 64, 3), tok, mask, prop, "batch size 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Forward(tc.images, tc.tokens, tc.msk, tc.proprio)
			if err == nil {
				t.Fatalf("Forward succeeded, want error containing %q", tc.want)
			}
			if !strings.HasPrefix(err.Error(), "paradigms: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Forward error = %q, want %q", err, tc.want)
			}
		})
	}
}

func TestBuildPolicyErrors(t *testing.T) {
	if _, err := BuildPolicy(nil, DefaultArchConfig()); err == nil || !strings.HasPrefix(err.Error(), "paradigms: ") {
		t.Errorf("nil backend: err = %v", err)
	}
	bad := DefaultArchConfig()
	bad.ActionDim = 0
	p := testPolicy(t, DefaultArchConfig())
	if _, err := BuildPolicy(p.backend, bad); err == nil || !strings.Contains(err.Error(), "ActionDim") {
		t.Errorf("bad config: err = %v", err)
	}
}

func TestSummaryAndFLOPs(t *testing.T) {
	p := testPolicy(t, DefaultArchConfig())
	s := p.Summary()
	for _, want := range []string{"vision", "language", "state", "fusion", "head", "total", "142,663", "action [b,7]"} {
		if !strings.Contains(s, want) {
			t.Errorf("Summary lacks %q:\n%s", want, s)
		}
	}
	// 3 convolutions: 2·32²·9·3·16 + 2·16²·9·16·32 + 2·8²·9·32·64 = 5,603,328;
	// dense layers: 2·(32·32 + 14·64 + 64·64 + 160·256 + 256·256 + 256·7) = 228,608.
	if got, want := ForwardFLOPs(DefaultArchConfig()), 5_831_936.0; got != want {
		t.Errorf("ForwardFLOPs(default) = %g, want %g", got, want)
	}
}
