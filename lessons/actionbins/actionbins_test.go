package actionbins

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestRoundTripWithinHalfABin: inside the binned range, decoding a value's
// bin lands within half a bin of it; outside, values clip to the end bins.
func TestRoundTripWithinHalfABin(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var acts [][]float32
	for i := 0; i < 5000; i++ {
		acts = append(acts, []float32{float32(rng.NormFloat64()), float32(100 + 50*rng.Float64()), 3})
	}
	b, err := Fit(acts, 256, 0.01, 0.99)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(b.Low[0])+2.33) > 0.15 || math.Abs(float64(b.High[0])-2.33) > 0.15 {
		t.Errorf("normal's 1st and 99th percentiles %v, %v, want about ∓2.33", b.Low[0], b.High[0])
	}
	for i := 0; i < 10000; i++ {
		a := []float32{float32(rng.NormFloat64()), float32(100 + 50*rng.Float64()), 3}
		k, err := b.Encode(a)
		if err != nil {
			t.Fatal(err)
		}
		back, err := b.Decode(k)
		if err != nil {
			t.Fatal(err)
		}
		for d := range a {
			in := a[d] >= b.Low[d] && a[d] <= b.High[d]
			switch {
			case in && math.Abs(float64(back[d]-a[d])) > float64(b.Width(d))/2*(1+1e-5):
				t.Fatalf("dim %d: %v → bin %d → %v, more than half a bin (%v) away", d, a[d], k[d], back[d], b.Width(d)/2)
			case !in && a[d] < b.Low[d] && k[d] != 0, !in && a[d] > b.High[d] && k[d] != 255:
				t.Fatalf("dim %d: %v outside [%v, %v] went to bin %d", d, a[d], b.Low[d], b.High[d], k[d])
			}
		}
	}
	if k, _ := b.Encode([]float32{0, 125, 3}); k[2] != 0 {
		t.Errorf("a constant dimension encodes to %d", k[2])
	}
	if a, _ := b.Decode([]int{0, 0, 17}); a[2] != 3 {
		t.Errorf("a constant dimension decodes to %v", a[2])
	}
}

func TestErrors(t *testing.T) {
	ok := [][]float32{{1, 2}, {3, 4}}
	for _, tc := range []struct {
		acts   [][]float32
		n      int
		lo, hi float64
		want   string
	}{
		{ok, 1, 0.01, 0.99, "1 bins"},
		{ok, 256, 0.5, 0.5, "quantiles"},
		{nil, 256, 0.01, 0.99, "no actions"},
		{[][]float32{{1, 2}, {3}}, 256, 0.01, 0.99, "action 1 has 1 values"},
		{[][]float32{{1, float32(math.NaN())}}, 256, 0.01, 0.99, "dimension 1 is NaN"},
	} {
		if _, err := Fit(tc.acts, tc.n, tc.lo, tc.hi); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Fit: %v, want %q", err, tc.want)
		}
	}
	b, _ := Fit(ok, 4, 0, 1)
	if _, err := b.Encode([]float32{1}); err == nil {
		t.Error("short action encoded")
	}
	if _, err := b.Decode([]int{0, 4}); err == nil || !strings.Contains(err.Error(), "outside [0, 4)") {
		t.Errorf("bin 4 of 4: %v", err)
	}
}
