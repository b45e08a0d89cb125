package ex2diffusion

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

// Tolerance is the relative tolerance of every check: a value v passes
// against the expected w when |v − w| ≤ Tolerance·max(1, |w|).
const Tolerance = 1e-4

// call runs f, turning a panic (a "TODO" stub, an index out of range)
// into a test failure that names the call.
func call[T any](t testing.TB, what string, f func() T) T {
	t.Helper()
	var out T
	func() {
		t.Helper()
		defer func() {
			t.Helper()
			if r := recover(); r != nil {
				t.Fatalf("%s panicked: %v", what, r)
			}
		}()
		out = f()
	}()
	return out
}

// close32 reports the first index where got differs from want beyond
// Tolerance, or −1 (a length mismatch is index len).
func close32(got, want []float32) int {
	if len(got) != len(want) {
		return min(len(got), len(want))
	}
	for i := range want {
		w, g := float64(want[i]), float64(got[i])
		if !(math.Abs(g-w) <= Tolerance*math.Max(1, math.Abs(w))) {
			return i
		}
	}
	return -1
}

// expect fails t when got is not want (within Tolerance), naming the call,
// the element, and both slices.
func expect(t testing.TB, what string, got, want []float32, why string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s returned %d values %v, want %d: %v (%s)", what, len(got), got, len(want), want, why)
	}
	if i := close32(got, want); i >= 0 {
		t.Fatalf("%s = %v, want %v: element %d is %v, want %v (%s)", what, got, want, i, got[i], want[i], why)
	}
}

// unchanged fails t when a call modified its input.
func unchanged(t testing.TB, what, name string, in, before []float32) {
	t.Helper()
	if !slices.Equal(in, before) {
		t.Fatalf("%s modified its input %s: %v, was %v (return a new slice)", what, name, in, before)
	}
}

// CheckLinearAlphasCumprod checks the schedule on hand-made numbers: T = 4
// from 0.1 to 0.4 (β = 0.1, 0.2, 0.3, 0.4, so ᾱ = 0.9, 0.72, 0.504,
// 0.3024), and T = 1 (the one β is betaStart).
func CheckLinearAlphasCumprod(t testing.TB, f ScheduleFunc) {
	t.Helper()
	for _, c := range []struct {
		T          int
		start, end float64
		want       []float64
		why        string
	}{
		{4, 0.1, 0.4, []float64{0.9, 0.72, 0.504, 0.3024}, "β = 0.1, 0.2, 0.3, 0.4; ᾱ_t = (1−β_0)·…·(1−β_t)"},
		{1, 0.25, 0.5, []float64{0.75}, "with T = 1 the one β is betaStart"},
	} {
		what := fmt.Sprintf("LinearAlphasCumprod(T=%d, betaStart=%g, betaEnd=%g)", c.T, c.start, c.end)
		got := call(t, what, func() []float64 { return f(c.T, c.start, c.end) })
		if len(got) != len(c.want) {
			t.Fatalf("%s returned %d values %v, want %d: %v (%s)", what, len(got), got, len(c.want), c.want, c.why)
		}
		for i := range got {
			if !(math.Abs(got[i]-c.want[i]) <= 1e-12) {
				t.Fatalf("%s = %v, want %v: ᾱ_%d is %v, want %v (%s)", what, got, c.want, i, got[i], c.want[i], c.why)
			}
		}
	}
}

// The hand-made case of the visible checks: ᾱ = [0.64, 0.36], so that
// √ᾱ_0 = 0.8, √(1−ᾱ_0) = 0.6, √ᾱ_1 = 0.6, √(1−ᾱ_1) = 0.8.
var (
	handAB    = []float64{0.64, 0.36}
	handX0    = []float32{1, -2, 0.5}
	handNoise = []float32{0.5, 1, -1}
	handX1    = []float32{1, -0.4, -0.5} // 0.6·x0 + 0.8·noise (t = 1)
	handX0t   = []float32{1.1, -1, -0.2} // 0.8·x0 + 0.6·noise (t = 0)
)

// CheckAddNoise checks the forward process on hand-made numbers:
// ᾱ = [0.64, 0.36], x0 = [1, −2, 0.5], noise = [0.5, 1, −1] gives
// x_0 = 0.8·x0 + 0.6·noise = [1.1, −1, −0.2] and x_1 = 0.6·x0 + 0.8·noise =
// [1, −0.4, −0.5]; the inputs must stay as they were.
func CheckAddNoise(t testing.TB, f NoiseFunc) {
	t.Helper()
	for _, c := range []struct {
		t    int
		want []float32
		why  string
	}{
		{0, handX0t, "√ᾱ_0 = 0.8, √(1−ᾱ_0) = 0.6"},
		{1, handX1, "√ᾱ_1 = 0.6, √(1−ᾱ_1) = 0.8"},
	} {
		x0, noise := slices.Clone(handX0), slices.Clone(handNoise)
		what := fmt.Sprintf("AddNoise(alphasCumprod=%v, x0=%v, noise=%v, t=%d)", handAB, x0, noise, c.t)
		got := call(t, what, func() []float32 { return f(slices.Clone(handAB), x0, noise, c.t) })
		expect(t, what, got, c.want, c.why)
		unchanged(t, what, "x0", x0, handX0)
		unchanged(t, what, "noise", noise, handNoise)
	}
}

// CheckPredictX0 checks that x0 comes back from a noisy sample with the
// exact noise: PredictX0 of CheckAddNoise's x_0 and x_1 with the same noise
// is x0 = [1, −2, 0.5], at t = 0 and t = 1.
func CheckPredictX0(t testing.TB, f X0Func) {
	t.Helper()
	for _, c := range []struct {
		t  int
		xt []float32
	}{{0, handX0t}, {1, handX1}} {
		xt, eps := slices.Clone(c.xt), slices.Clone(handNoise)
		what := fmt.Sprintf("PredictX0(alphasCumprod=%v, xt=%v, eps=%v, t=%d)", handAB, xt, eps, c.t)
		got := call(t, what, func() []float32 { return f(slices.Clone(handAB), xt, eps, c.t) })
		expect(t, what, got, handX0, "with the exact noise, x̂0 = (x_t − √(1−ᾱ_t)·eps)/√ᾱ_t is x0 again")
		unchanged(t, what, "xt", xt, c.xt)
		unchanged(t, what, "eps", eps, handNoise)
	}
}

// CheckDDIMStep checks one DDIM step on hand-made numbers: from
// CheckAddNoise's x_1 with the exact noise, the step t = 1 → tPrev = 0
// estimates x̂0 = x0 = [1, −2, 0.5] and noises it to the level of t = 0:
// 0.8·x̂0 + 0.6·noise = [1.1, −1, −0.2]. With clip = 1, x̂0 becomes
// [1, −1, 0.5]; for the clipped element the noise becomes
// (−0.4 − 0.6·(−1))/0.8 = 0.25, and the step gives [1.1, −0.65, −0.2].
func CheckDDIMStep(t testing.TB, f StepFunc) {
	t.Helper()
	for _, c := range []struct {
		clip float64
		want []float32
		why  string
	}{
		{0, handX0t, "x̂0 = (x_1 − 0.8·eps)/0.6 = [1, −2, 0.5], then 0.8·x̂0 + 0.6·eps"},
		{1, []float32{1.1, -0.65, -0.2}, "x̂0 clipped to [1, −1, 0.5]; element 1's noise becomes (x_1 − 0.6·x̂0)/0.8 = 0.25"},
	} {
		xt, eps := slices.Clone(handX1), slices.Clone(handNoise)
		what := fmt.Sprintf("DDIMStep(alphasCumprod=%v, xt=%v, eps=%v, t=1, tPrev=0, clip=%g)", handAB, xt, eps, c.clip)
		got := call(t, what, func() []float32 { return f(slices.Clone(handAB), xt, eps, 1, 0, c.clip) })
		expect(t, what, got, c.want, c.why)
		unchanged(t, what, "xt", xt, handX1)
		unchanged(t, what, "eps", eps, handNoise)
	}
}
