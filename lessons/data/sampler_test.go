package data

import (
	"reflect"
	"testing"
)

func flat(rows [][]float32) []float32 {
	var out []float32
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

func TestSamplerWindowsAtEdges(t *testing.T) {
	s, err := NewSampler(tinyDataset(), nil, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		ep, t    int
		obs, act []float32
	}{
		{0, 0, []float32{0, 0}, []float32{100, 101, 102, 102}},
		{0, 1, []float32{0, 1}, []float32{101, 102, 102, 102}},
		{0, 2, []float32{1, 2}, []float32{102, 102, 102, 102}},
		{1, 0, []float32{10, 10}, []float32{110, 111, 112, 113}},
		{1, 1, []float32{10, 11}, []float32{111, 112, 113, 114}},
		{1, 2, []float32{11, 12}, []float32{112, 113, 114, 114}},
		{1, 3, []float32{12, 13}, []float32{113, 114, 114, 114}},
		{1, 4, []float32{13, 14}, []float32{114, 114, 114, 114}},
	}
	if s.Len() != len(want) {
		t.Fatalf("Len %d, want %d", s.Len(), len(want))
	}
	for i, w := range want {
		ep, fr := s.Anchor(i)
		obs, act := s.Window(i)
		if ep != w.ep || fr != w.t || !reflect.DeepEqual(flat(obs), w.obs) || !reflect.DeepEqual(flat(act), w.act) {
			t.Errorf("window %d: got anchor (%d,%d) obs %v act %v, want (%d,%d) %v %v", i, ep, fr, flat(obs), flat(act), w.ep, w.t, w.obs, w.act)
		}
		if len(obs) != 2 || len(act) != 4 {
			t.Errorf("window %d: %d obs, %d act", i, len(obs), len(act))
		}
	}
	// Window returns copies.
	obs, _ := s.Window(0)
	obs[0][0] = 99
	if o, _ := s.Window(0); o[0][0] != 0 {
		t.Error("Window aliases the dataset")
	}
}

func TestSamplerNeverCrossesEpisodes(t *testing.T) {
	ds := randomDataset(3, []int{1, 2, 7, 3, 16}, 4, 3)
	// Tag every value with its episode so that crossing shows.
	for i := range ds.Episodes {
		for t := range ds.Episodes[i].States {
			ds.Episodes[i].States[t][0] = float32(i)
			ds.Episodes[i].Actions[t][0] = float32(i)
		}
	}
	for _, h := range [][2]int{{1, 1}, {2, 4}, {3, 8}, {5, 16}} {
		s, err := NewSampler(ds, []int{4, 0, 2, 1}, h[0], h[1])
		if err != nil {
			t.Fatal(err)
		}
		if s.Len() != 16+1+7+2 {
			t.Fatalf("Len %d", s.Len())
		}
		for i := 0; i < s.Len(); i++ {
			ep, _ := s.Anchor(i)
			obs, act := s.Window(i)
			for _, r := range append(obs, act...) {
				if r[0] != float32(ep) {
					t.Fatalf("horizons %v window %d of episode %d holds a frame of episode %v", h, i, ep, r[0])
				}
			}
		}
	}
}

func TestSamplerBatchLayout(t *testing.T) {
	ds := randomDataset(5, []int{3, 9, 4}, 3, 2)
	s, err := NewSampler(ds, []int{1, 2}, 2, 5)
	if err != nil {
		t.Fatal(err)
	}
	idx := []int{0, 12, 5, 5, 8}
	obs, act := s.Batch(idx)
	if len(obs) != len(idx)*2*3 || len(act) != len(idx)*5*2 {
		t.Fatalf("batch sizes %d %d", len(obs), len(act))
	}
	for b, i := range idx {
		wo, wa := s.Window(i)
		for k := 0; k < 2; k++ {
			for d := 0; d < 3; d++ {
				if obs[(b*2+k)*3+d] != wo[k][d] {
					t.Fatalf("obs[%d,%d,%d] = %v, want %v", b, k, d, obs[(b*2+k)*3+d], wo[k][d])
				}
			}
		}
		for k := 0; k < 5; k++ {
			for d := 0; d < 2; d++ {
				if act[(b*5+k)*2+d] != wa[k][d] {
					t.Fatalf("act[%d,%d,%d] wrong", b, k, d)
				}
			}
		}
	}
	// BatchInto reuses buffers that are big enough.
	bo, ba := make([]float32, 0, 100), make([]float32, 0, 100)
	o2, a2 := s.BatchInto(idx, bo, ba)
	if &o2[0] != &bo[:1][0] || &a2[0] != &ba[:1][0] {
		t.Error("BatchInto did not reuse the buffers")
	}
	if !reflect.DeepEqual(o2, obs) || !reflect.DeepEqual(a2, act) {
		t.Error("BatchInto differs from Batch")
	}
}

func TestNewSamplerErrors(t *testing.T) {
	ds := tinyDataset()
	for _, c := range []struct {
		eps  []int
		o, p int
	}{{nil, 0, 4}, {nil, 2, 0}, {[]int{2}, 2, 4}, {[]int{-1}, 1, 1}} {
		if _, err := NewSampler(ds, c.eps, c.o, c.p); err == nil {
			t.Errorf("NewSampler(%v, %d, %d): no error", c.eps, c.o, c.p)
		}
	}
}

func TestSplitEpisodes(t *testing.T) {
	for _, c := range []struct {
		n       int
		frac    float64
		wantVal int
	}{{10, 0.2, 2}, {10, 0, 0}, {3, 0.01, 1}, {2, 0.9, 1}, {1, 0.5, 0}, {100, 0.1, 10}} {
		tr, va := SplitEpisodes(c.n, c.frac, 42)
		if len(va) != c.wantVal || len(tr)+len(va) != c.n {
			t.Errorf("SplitEpisodes(%d, %v): %d train, %d val", c.n, c.frac, len(tr), len(va))
		}
		seen := map[int]bool{}
		for _, i := range append(append([]int{}, tr...), va...) {
			if seen[i] || i < 0 || i >= c.n {
				t.Errorf("SplitEpisodes(%d, %v): bad or repeated %d", c.n, c.frac, i)
			}
			seen[i] = true
		}
		tr2, va2 := SplitEpisodes(c.n, c.frac, 42)
		if !reflect.DeepEqual(tr, tr2) || !reflect.DeepEqual(va, va2) {
			t.Errorf("SplitEpisodes not deterministic")
		}
	}
	_, a := SplitEpisodes(50, 0.2, 1)
	_, b := SplitEpisodes(50, 0.2, 2)
	if reflect.DeepEqual(a, b) {
		t.Error("different seeds gave the same split")
	}
}

func BenchmarkSamplerBatch(b *testing.B) {
	ds := randomDataset(1, []int{300, 250, 200, 280, 310, 220, 260, 240}, 32, 7)
	s, err := NewSampler(ds, nil, 2, 16)
	if err != nil {
		b.Fatal(err)
	}
	idx := make([]int, 256)
	for i := range idx {
		idx[i] = (i * 7919) % s.Len()
	}
	var obs, act []float32
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		obs, act = s.BatchInto(idx, obs, act)
	}
}
