package paradigms

import (
	"slices"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*ArchConfig)
		wantErr string // "" means valid
	}{
		{"default", func(*ArchConfig) {}, ""},
		{"one conv", func(c *ArchConfig) { c.VisionChannels = []int{8} }, ""},
		{"zero image", func(c *ArchConfig) { c.ImageSize = 0 }, "ImageSize must be > 0, got 0"},
		{"negative channels", func(c *ArchConfig) { c.ImageChannels = -3 }, "ImageChannels must be > 0, got -3"},
		{"no convs", func(c *ArchConfig) { c.VisionChannels = nil }, "VisionChannels"},
		{"bad conv", func(c *ArchConfig) { c.VisionChannels = []int{16, 0} }, "VisionChannels[1] must be > 0, got 0"},
		{"vocab 1", func(c *ArchConfig) { c.VocabSize = 1 }, "VocabSize must be >= 2"},
		{"no tokens", func(c *ArchConfig) { c.MaxTokens = 0 }, "MaxTokens"},
		{"text dim", func(c *ArchConfig) { c.TextDim = -1 }, "TextDim must be > 0, got -1"},
		{"proprio", func(c *ArchConfig) { c.ProprioDim = 0 }, "ProprioDim"},
		{"state", func(c *ArchConfig) { c.StateDim = 0 }, "StateDim"},
		{"fusion", func(c *ArchConfig) { c.FusionDim = 0 }, "FusionDim"},
		{"head", func(c *ArchConfig) { c.HeadDim = 0 }, "HeadDim"},
		{"action", func(c *ArchConfig) { c.ActionDim = 0 }, "ActionDim must be > 0, got 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultArchConfig()
			tc.edit(&cfg)
			err := cfg.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("Validate() = nil, want error containing %q", tc.wantErr)
			case err != nil && (!strings.HasPrefix(err.Error(), "paradigms: ") || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Validate() = %q, want prefix %q and %q", err, "paradigms: ", tc.wantErr)
			}
		})
	}
}

func TestTokenize(t *testing.T) {
	cfg := DefaultArchConfig() // MaxTokens 8
	tests := []struct {
		name        string
		instruction string
		wantWords   int
	}{
		{"empty", "", 0},
		{"punctuation only", " ,.!? ", 0},
		{"short", "pick up the block", 4},
		{"exact", "one two three four five six seven eight", 8},
		{"truncated", "pick up the red block and place it in the bowl", 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ids, mask := Tokenize(tc.instruction, cfg)
			if len(ids) != cfg.MaxTokens || len(mask) != cfg.MaxTokens {
				t.Fatalf("len(ids), len(mask) = %d, %d, want %d", len(ids), len(mask), cfg.MaxTokens)
			}
			for i := range ids {
				isWord := i < tc.wantWords
				switch {
				case isWord && (ids[i] < 1 || int(ids[i]) >= cfg.VocabSize || mask[i] != 1):
					t.Errorf("position %d: id %d mask %g, want id in [1,%d) and mask 1", i, ids[i], mask[i], cfg.VocabSize)
				case !isWord && (ids[i] != 0 || mask[i] != 0):
					t.Errorf("position %d: id %d mask %g, want padding 0 and mask 0", i, ids[i], mask[i])
				}
			}
		})
	}
}

func TestTokenizeNormalises(t *testing.T) {
	cfg := DefaultArchConfig()
	a, _ := Tokenize("Pick UP the block!", cfg)
	b, _ := Tokenize("pick up, the block", cfg)
	if !slices.Equal(a, b) {
		t.Errorf("case and punctuation changed the ids: %v vs %v", a, b)
	}
	c, _ := Tokenize("the the", cfg)
	if c[0] != c[1] {
		t.Errorf("the same word got two ids: %v", c)
	}
	if ids, mask := Tokenize("hello", ArchConfig{}); ids != nil || mask != nil {
		t.Errorf("zero config: got %v, %v, want nil slices", ids, mask)
	}
}

func TestTokenizeBatch(t *testing.T) {
	cfg := DefaultArchConfig()
	tokens, mask := TokenizeBatch([]string{"open the drawer", "close it"}, cfg)
	for _, tt := range []struct {
		name string
		dims []int
	}{{"tokens", tokens.Shape().Dimensions}, {"mask", mask.Shape().Dimensions}} {
		if !slices.Equal(tt.dims, []int{2, cfg.MaxTokens}) {
			t.Errorf("%s dims = %v, want [2 %d]", tt.name, tt.dims, cfg.MaxTokens)
		}
	}
}
