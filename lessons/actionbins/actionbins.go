// Package actionbins turns continuous actions into discrete tokens and
// back, as OpenVLA's action head does (Kim et al. 2024, "OpenVLA", section
// 3.2): each action dimension is cut into N uniform bins (256 in OpenVLA)
// between the 1st and 99th percentile of that dimension over the training
// actions, so outliers do not stretch the bins; values outside are clipped
// into the end bins. A policy then predicts one bin per dimension with a
// cross-entropy loss, and a bin decodes to its centre.
package actionbins

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Bins discretizes actions of a fixed dimension.
type Bins struct {
	N    int       `json:"n"`    // bins per dimension
	Low  []float32 `json:"low"`  // per dimension: the lower edge of the binned range
	High []float32 `json:"high"` // per dimension: the upper edge
}

// Fit makes n bins per dimension between the lowQ and highQ quantiles
// (OpenVLA: 256, 0.01, 0.99) of actions: [samples][ActionDim].
func Fit(actions [][]float32, n int, lowQ, highQ float64) (*Bins, error) {
	switch {
	case n < 2:
		return nil, fmt.Errorf("actionbins: %d bins, want at least 2", n)
	case !(lowQ >= 0 && lowQ < highQ && highQ <= 1):
		return nil, fmt.Errorf("actionbins: quantiles %v and %v, want 0 <= low < high <= 1", lowQ, highQ)
	case len(actions) == 0 || len(actions[0]) == 0:
		return nil, errors.New("actionbins: no actions to fit")
	}
	dim := len(actions[0])
	b := &Bins{N: n, Low: make([]float32, dim), High: make([]float32, dim)}
	col := make([]float64, len(actions))
	for d := 0; d < dim; d++ {
		for i, a := range actions {
			if len(a) != dim {
				return nil, fmt.Errorf("actionbins: action %d has %d values, action 0 has %d", i, len(a), dim)
			}
			v := float64(a[d])
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("actionbins: action %d, dimension %d is %v", i, d, v)
			}
			col[i] = v
		}
		sort.Float64s(col)
		b.Low[d], b.High[d] = float32(quantile(col, lowQ)), float32(quantile(col, highQ))
	}
	return b, nil
}

// quantile of sorted values, linearly interpolated (numpy's default).
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(math.Floor(pos))
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	f := pos - float64(i)
	return sorted[i]*(1-f) + sorted[i+1]*f
}

// Width is the width of dimension d's bins (0 for a dimension that never
// varied).
func (b *Bins) Width(d int) float32 { return (b.High[d] - b.Low[d]) / float32(b.N) }

// Encode maps an action, [ActionDim], to one bin per dimension in
// [0, N), clipping values outside the binned range into the end bins.
func (b *Bins) Encode(a []float32) ([]int, error) {
	if len(a) != len(b.Low) {
		return nil, fmt.Errorf("actionbins: action has %d values, the bins were fitted on %d", len(a), len(b.Low))
	}
	out := make([]int, len(a))
	for d, v := range a {
		if math.IsNaN(float64(v)) {
			return nil, fmt.Errorf("actionbins: dimension %d is NaN", d)
		}
		w := b.Width(d)
		if w <= 0 {
			continue
		}
		k := int(math.Floor(float64((v - b.Low[d]) / w)))
		out[d] = min(max(k, 0), b.N-1)
	}
	return out, nil
}

// Decode maps bins back to actions: each bin's centre.
func (b *Bins) Decode(bins []int) ([]float32, error) {
	if len(bins) != len(b.Low) {
		return nil, fmt.Errorf("actionbins: %d bins, the bins were fitted on %d dimensions", len(bins), len(b.Low))
	}
	out := make([]float32, len(bins))
	for d, k := range bins {
		if k < 0 || k >= b.N {
			return nil, fmt.Errorf("actionbins: bin %d of dimension %d is outside [0, %d)", k, d, b.N)
		}
		out[d] = b.Low[d] + (float32(k)+0.5)*b.Width(d)
	}
	return out, nil
}
