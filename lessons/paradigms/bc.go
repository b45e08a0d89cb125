package paradigms

import (
	"errors"
	"fmt"
	"math"
)

// DefaultRidge is the ridge (Tikhonov) term FitBC adds to the normal
// equations. It only matters when the demonstrations do not excite every
// feature direction (a demonstration that never moves, say), where it picks
// the smallest weights that fit.
const DefaultRidge = 1e-3

// FitBC is behaviour cloning in closed form: it fits the linear policy to
// every (state, expert force) pair of the demonstrations by ridge-regularised
// least squares,
//
//	W_i = argmin_w Σ_t (w·φ_t − a_t,i)² + ridge·|w|²,
//
// solving the 5×5 normal equations (ΦᵀΦ + ridge·I) w = Φᵀa for each force
// axis. It uses no environment interaction beyond the demonstrations.
func FitBC(demos []Episode, ridge float64) (LinearPolicy, error) {
	var p LinearPolicy
	if ridge < 0 || math.IsNaN(ridge) {
		return p, fmt.Errorf("paradigms: FitBC ridge must be >= 0, got %g", ridge)
	}
	var ata [NumFeatures][NumFeatures]float64
	var atb [2][NumFeatures]float64
	n := 0
	for _, d := range demos {
		if len(d.States) != len(d.Actions) {
			return p, fmt.Errorf("paradigms: FitBC: demonstration has %d states but %d actions", len(d.States), len(d.Actions))
		}
		for t, s := range d.States {
			phi := Features(s)
			for j := range NumFeatures {
				for k := range NumFeatures {
					ata[j][k] += phi[j] * phi[k]
				}
				for i := range 2 {
					atb[i][j] += phi[j] * d.Actions[t][i]
				}
			}
			n++
		}
	}
	if n == 0 {
		return p, errors.New("paradigms: FitBC needs at least one demonstration step, got none")
	}
	for j := range NumFeatures {
		ata[j][j] += ridge
	}
	for i := range 2 {
		w, err := solve(ata, atb[i])
		if err != nil {
			return p, fmt.Errorf("paradigms: FitBC: %w (add demonstrations or a ridge > 0)", err)
		}
		p.W[i] = w
	}
	return p, nil
}

// solve solves A x = b by Gaussian elimination with partial pivoting.
func solve(a [NumFeatures][NumFeatures]float64, b [NumFeatures]float64) ([NumFeatures]float64, error) {
	const n = NumFeatures
	scale := 0.0
	for i := range n {
		for j := range n {
			scale = math.Max(scale, math.Abs(a[i][j]))
		}
	}
	for col := range n {
		piv := col
		for r := col + 1; r < n; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[piv][col]) {
				piv = r
			}
		}
		if math.Abs(a[piv][col]) <= 1e-12*max(scale, 1e-300) {
			return b, errors.New("normal equations are singular")
		}
		a[col], a[piv] = a[piv], a[col]
		b[col], b[piv] = b[piv], b[col]
		for r := col + 1; r < n; r++ {
			f := a[r][col] / a[col][col]
			for c := col; c < n; c++ {
				a[r][c] -= f * a[col][c]
			}
			b[r] -= f * b[col]
		}
	}
	var x [n]float64
	for r := n - 1; r >= 0; r-- {
		s := b[r]
		for c := r + 1; c < n; c++ {
			s -= a[r][c] * x[c]
		}
		x[r] = s / a[r][r]
	}
	return x, nil
}

// DemoSteps is the number of environment steps in the demonstrations: the
// data cost of imitation learning.
func DemoSteps(demos []Episode) int {
	n := 0
	for _, d := range demos {
		n += d.Steps
	}
	return n
}
