package data

import (
	"fmt"
	"math"
)

// Normalizer kinds.
const (
	MinMax  = "minmax"  // x -> [-1, 1] by the data's range
	MeanStd = "meanstd" // x -> (x - mean) / (std + eps)
)

// RangeEps is the smallest range max-min that FitMinMax scales; a dimension
// whose range is below it is treated as constant (Diffusion Policy's
// range_eps).
const RangeEps = 1e-4

// StdEps is added to the standard deviation in MeanStd normalisation, as in
// LeRobot's Normalize (x - mean) / (std + 1e-8).
const StdEps = 1e-8

// Normalizer maps vectors of one feature (observation.state or action) to a
// standard range and back, per dimension. It is fitted on the training data
// and must be saved with the policy trained on it: plain encoding/json of
// the struct round-trips it.
//
// Kind MinMax follows Diffusion Policy's LinearNormalizer (mode "limits",
// output range [-1, 1]):
//
//	y = 2 (x - Min) / (Max - Min) - 1
//
// and a dimension whose range is below RangeEps is treated as constant:
// y = x - Min, so the recorded constant maps to 0 and comes back exactly.
// Kind MeanStd is LeRobot's MEAN_STD mode, y = (x - Mean) / (Std + StdEps).
// Both kinds keep all four statistics; Kind picks the map.
type Normalizer struct {
	Kind string    `json:"kind"`
	Min  []float32 `json:"min"`
	Max  []float32 `json:"max"`
	Mean []float32 `json:"mean"`
	Std  []float32 `json:"std"`
}

// FeatureStats are per-dimension statistics of a feature, as LeRobot stores
// them in meta/stats.json (which holds count as a one-element list). Std is
// the population standard deviation (numpy's default ddof=0).
type FeatureStats struct {
	Min, Max, Mean, Std []float64
	Count               int64
}

// Stats computes per-dimension min, max, mean and std of rows [N][D]. Rows
// must all have the same length; an empty input gives empty stats with
// Count 0.
func Stats(rows [][]float32) (FeatureStats, error) {
	if len(rows) == 0 {
		return FeatureStats{}, nil
	}
	D := len(rows[0])
	s := FeatureStats{
		Min: make([]float64, D), Max: make([]float64, D),
		Mean: make([]float64, D), Std: make([]float64, D),
		Count: int64(len(rows)),
	}
	for d := 0; d < D; d++ {
		s.Min[d], s.Max[d] = math.Inf(1), math.Inf(-1)
	}
	for i, r := range rows {
		if len(r) != D {
			return FeatureStats{}, fmt.Errorf("data: Stats: row %d has %d values, want %d", i, len(r), D)
		}
		for d, v := range r {
			x := float64(v)
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return FeatureStats{}, fmt.Errorf("data: Stats: row %d value %d is %v", i, d, x)
			}
			s.Min[d] = math.Min(s.Min[d], x)
			s.Max[d] = math.Max(s.Max[d], x)
			s.Mean[d] += x
		}
	}
	n := float64(len(rows))
	for d := range s.Mean {
		s.Mean[d] /= n
	}
	// Second pass for the variance: exact enough and free of cancellation.
	for _, r := range rows {
		for d, v := range r {
			dx := float64(v) - s.Mean[d]
			s.Std[d] += dx * dx
		}
	}
	for d := range s.Std {
		s.Std[d] = math.Sqrt(s.Std[d] / n)
	}
	return s, nil
}

func fit(kind string, rows [][]float32) (Normalizer, error) {
	if len(rows) == 0 {
		return Normalizer{}, fmt.Errorf("data: fitting a %s normalizer: no rows", kind)
	}
	s, err := Stats(rows)
	if err != nil {
		return Normalizer{}, err
	}
	return Normalizer{Kind: kind, Min: f32(s.Min), Max: f32(s.Max), Mean: f32(s.Mean), Std: f32(s.Std)}, nil
}

// FitMinMax fits a MinMax normalizer, mapping rows [N][D] to [-1, 1].
func FitMinMax(rows [][]float32) (Normalizer, error) { return fit(MinMax, rows) }

// FitMeanStd fits a MeanStd normalizer to rows [N][D].
func FitMeanStd(rows [][]float32) (Normalizer, error) { return fit(MeanStd, rows) }

// NormalizerFromStats makes a normalizer of the given kind from stored
// statistics, e.g. those of meta/stats.json (see ReadLeRobotStats).
func NormalizerFromStats(kind string, s FeatureStats) (Normalizer, error) {
	n := Normalizer{Kind: kind, Min: f32(s.Min), Max: f32(s.Max), Mean: f32(s.Mean), Std: f32(s.Std)}
	return n, n.Check()
}

func f32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// Dim is the vector length the normalizer applies to.
func (n *Normalizer) Dim() int {
	if n.Kind == MeanStd {
		return len(n.Mean)
	}
	return len(n.Min)
}

// Check reports a normalizer that cannot be used: unknown kind, missing or
// mismatched statistics, NaN or infinite values. Use it after loading one.
func (n *Normalizer) Check() error {
	var a, b []float32
	var an, bn string
	switch n.Kind {
	case MinMax:
		a, b, an, bn = n.Min, n.Max, "min", "max"
	case MeanStd:
		a, b, an, bn = n.Mean, n.Std, "mean", "std"
	default:
		return fmt.Errorf("data: normalizer kind %q, want %q or %q", n.Kind, MinMax, MeanStd)
	}
	if len(a) == 0 || len(a) != len(b) {
		return fmt.Errorf("data: %s normalizer: %s has %d values and %s %d", n.Kind, an, len(a), bn, len(b))
	}
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		if math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
			return fmt.Errorf("data: %s normalizer: dim %d: %s %v, %s %v", n.Kind, i, an, x, bn, y)
		}
		if n.Kind == MinMax && y < x {
			return fmt.Errorf("data: minmax normalizer: dim %d: max %v below min %v", i, y, x)
		}
		if n.Kind == MeanStd && y < 0 {
			return fmt.Errorf("data: meanstd normalizer: dim %d: negative std %v", i, y)
		}
	}
	return nil
}

func (n *Normalizer) checkLen(v []float32) int {
	if n.Kind != MinMax && n.Kind != MeanStd {
		panic(fmt.Sprintf("data: normalizer kind %q, want %q or %q", n.Kind, MinMax, MeanStd))
	}
	D := n.Dim()
	if D == 0 || len(v)%D != 0 {
		panic(fmt.Sprintf("data: %s normalizer of dim %d applied to %d values", n.Kind, D, len(v)))
	}
	return D
}

// constant reports a MinMax dimension treated as constant.
func (n *Normalizer) constant(d int) bool {
	return float64(n.Max[d])-float64(n.Min[d]) < RangeEps
}

// Normalize maps v in place and returns it. v is one vector [D] or several
// concatenated, e.g. a flat batch [B, T, D]; len(v) must be a multiple of
// D, else Normalize panics. Arithmetic is in float64, so data inside the
// fitted range lands inside [-1, 1] exactly.
func (n *Normalizer) Normalize(v []float32) []float32 {
	D := n.checkLen(v)
	for d := 0; d < D; d++ {
		switch {
		case n.Kind == MeanStd:
			mu, sd := float64(n.Mean[d]), float64(n.Std[d])+StdEps
			for i := d; i < len(v); i += D {
				v[i] = float32((float64(v[i]) - mu) / sd)
			}
		case n.constant(d):
			lo := float64(n.Min[d])
			for i := d; i < len(v); i += D {
				v[i] = float32(float64(v[i]) - lo)
			}
		default:
			lo, r := float64(n.Min[d]), float64(n.Max[d])-float64(n.Min[d])
			for i := d; i < len(v); i += D {
				v[i] = float32(2*((float64(v[i])-lo)/r) - 1)
			}
		}
	}
	return v
}

// Unnormalize inverts Normalize in place and returns v; the layout rules
// are those of Normalize.
func (n *Normalizer) Unnormalize(v []float32) []float32 {
	D := n.checkLen(v)
	for d := 0; d < D; d++ {
		switch {
		case n.Kind == MeanStd:
			mu, sd := float64(n.Mean[d]), float64(n.Std[d])+StdEps
			for i := d; i < len(v); i += D {
				v[i] = float32(float64(v[i])*sd + mu)
			}
		case n.constant(d):
			lo := float64(n.Min[d])
			for i := d; i < len(v); i += D {
				v[i] = float32(float64(v[i]) + lo)
			}
		default:
			lo, r := float64(n.Min[d]), float64(n.Max[d])-float64(n.Min[d])
			for i := d; i < len(v); i += D {
				v[i] = float32((float64(v[i])+1)/2*r + lo)
			}
		}
	}
	return v
}

// Normalized returns a normalized copy of v, leaving v alone.
func (n *Normalizer) Normalized(v []float32) []float32 {
	return n.Normalize(append([]float32(nil), v...))
}

// Unnormalized returns an unnormalized copy of v, leaving v alone.
func (n *Normalizer) Unnormalized(v []float32) []float32 {
	return n.Unnormalize(append([]float32(nil), v...))
}

// Normalizers are a policy's observation and action normalizers, as its
// checkpoints store them ({"observation": ..., "action": ...}).
type Normalizers struct {
	Obs Normalizer `json:"observation"`
	Act Normalizer `json:"action"`
}

// Check checks both normalizers, naming the one that is bad.
func (n *Normalizers) Check() error {
	if err := n.Obs.Check(); err != nil {
		return fmt.Errorf("observation normalizer: %w", err)
	}
	if err := n.Act.Check(); err != nil {
		return fmt.Errorf("action normalizer: %w", err)
	}
	return nil
}
