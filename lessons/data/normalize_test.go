package data

import (
	"encoding/json"
	"math"
	"math/rand"
	"reflect"
	"testing"
)

func TestNormalizerRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	rows := make([][]float32, 200)
	for i := range rows {
		rows[i] = []float32{float32(rng.NormFloat64()*5 + 3), float32(rng.Float64() * 1e-3), 2.5, float32(rng.Float64()*100 - 50)}
	}
	for _, fit := range []func([][]float32) (Normalizer, error){FitMinMax, FitMeanStd} {
		n, err := fit(rows)
		if err != nil {
			t.Fatal(err)
		}
		if n.Dim() != 4 || n.Check() != nil {
			t.Fatalf("%s: Dim %d Check %v", n.Kind, n.Dim(), n.Check())
		}
		for _, r := range rows {
			y := n.Normalized(r)
			if y[2] != 0 {
				t.Fatalf("%s: constant dim maps to %v, want 0", n.Kind, y[2])
			}
			if n.Kind == MinMax {
				for d, v := range y {
					if v < -1 || v > 1 {
						t.Fatalf("minmax: dim %d value %v outside [-1,1]", d, v)
					}
				}
			}
			x := n.Unnormalized(y)
			for d := range x {
				if math.Abs(float64(x[d]-r[d])) > 1e-5*math.Max(1, math.Abs(float64(r[d]))) {
					t.Fatalf("%s: round trip dim %d: %v -> %v -> %v", n.Kind, d, r[d], y[d], x[d])
				}
			}
			if x[2] != 2.5 {
				t.Fatalf("%s: constant dim comes back as %v", n.Kind, x[2])
			}
		}
		// The extremes hit -1 and 1 exactly.
		if n.Kind == MinMax {
			lo := n.Normalized(n.Min)
			hi := n.Normalized(n.Max)
			for _, d := range []int{0, 1, 3} {
				if lo[d] != -1 || hi[d] != 1 {
					t.Fatalf("minmax: dim %d: min -> %v, max -> %v", d, lo[d], hi[d])
				}
			}
		}
		// Flat batches [B, T, D] normalise row by row.
		batch := append(append([]float32{}, rows[0]...), rows[1]...)
		n.Normalize(batch)
		if !reflect.DeepEqual(batch[4:], n.Normalized(rows[1])) {
			t.Fatalf("%s: batch normalisation differs", n.Kind)
		}
		// JSON round trip.
		b, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		var m Normalizer
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(n, m) {
			t.Fatalf("%s: JSON round trip: %+v vs %+v", n.Kind, n, m)
		}
	}
}

func TestMeanStdStats(t *testing.T) {
	rows := [][]float32{{1, 10}, {3, 10}, {5, 10}, {7, 10}}
	n, err := FitMeanStd(rows)
	if err != nil {
		t.Fatal(err)
	}
	if n.Mean[0] != 4 || math.Abs(float64(n.Std[0])-math.Sqrt(5)) > 1e-6 || n.Std[1] != 0 {
		t.Fatalf("mean %v std %v", n.Mean, n.Std)
	}
	y := n.Normalized([]float32{4 + float32(math.Sqrt(5)), 10})
	if math.Abs(float64(y[0])-1) > 1e-6 || y[1] != 0 {
		t.Fatalf("normalized %v", y)
	}
	s, err := Stats(rows)
	if err != nil {
		t.Fatal(err)
	}
	if s.Count != 4 || s.Min[0] != 1 || s.Max[0] != 7 || s.Mean[1] != 10 || s.Std[1] != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestNormalizerErrors(t *testing.T) {
	if _, err := FitMinMax(nil); err == nil {
		t.Error("FitMinMax(nil): no error")
	}
	if _, err := Stats([][]float32{{1, 2}, {3}}); err == nil {
		t.Error("Stats with ragged rows: no error")
	}
	if _, err := Stats([][]float32{{float32(math.NaN())}}); err == nil {
		t.Error("Stats with NaN: no error")
	}
	for _, n := range []Normalizer{
		{Kind: "zscore", Min: []float32{0}, Max: []float32{1}},
		{Kind: MinMax, Min: []float32{0, 1}, Max: []float32{1}},
		{Kind: MinMax, Min: []float32{2}, Max: []float32{1}},
		{Kind: MeanStd, Mean: []float32{0}, Std: []float32{-1}},
		{Kind: MeanStd},
	} {
		if n.Check() == nil {
			t.Errorf("Check(%+v): no error", n)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Normalize with a wrong length did not panic")
		}
	}()
	n := Normalizer{Kind: MinMax, Min: []float32{0, 0}, Max: []float32{1, 1}}
	n.Normalize(make([]float32, 3))
}
