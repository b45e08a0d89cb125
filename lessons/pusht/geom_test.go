package pusht

import (
	"math"
	"testing"
)

func TestClipConvex(t *testing.T) {
	sq := func(x0, y0, x1, y1 float64) []Vec { return []Vec{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}} }
	rev := func(p []Vec) []Vec {
		q := make([]Vec, len(p))
		for i := range p {
			q[i] = p[len(p)-1-i]
		}
		return q
	}
	tests := []struct {
		name    string
		a, b    []Vec
		want    float64
		comment string
	}{
		{"identical unit squares", sq(0, 0, 1, 1), sq(0, 0, 1, 1), 1, ""},
		{"quarter overlap", sq(0, 0, 2, 2), sq(1, 1, 3, 3), 1, "1×1 corner"},
		{"strip", sq(0, 0, 4, 1), sq(1, -1, 2, 5), 1, "1 wide, 1 tall"},
		{"contained", sq(0, 0, 10, 10), sq(2, 3, 5, 7), 12, "3×4 inside"},
		{"disjoint", sq(0, 0, 1, 1), sq(2, 2, 3, 3), 0, ""},
		{"touching edge", sq(0, 0, 1, 1), sq(1, 0, 2, 1), 0, "shared edge, no area"},
		{"opposite windings", sq(0, 0, 2, 2), rev(sq(1, 0, 3, 2)), 2, "1×2"},
		// Triangle (0,0),(4,0),(0,4) ∩ square [0,2]² = square minus nothing:
		// the hypotenuse x+y=4 only touches the corner (2,2).
		{"triangle and square", []Vec{{0, 0}, {4, 0}, {0, 4}}, sq(0, 0, 2, 2), 4, ""},
		// Triangle ∩ square [1,3]²: the square (4) minus its part above
		// x+y=4, the triangle (1,3),(3,1),(3,3) of area 2.
		{"triangle cuts square", []Vec{{0, 0}, {4, 0}, {0, 4}}, sq(1, 1, 3, 3), 2, ""},
		// Diamond |x|+|y|<=1 (area 2) ∩ square [0,1]²: the quarter, 1/2.
		{"diamond quarter", []Vec{{1, 0}, {0, 1}, {-1, 0}, {0, -1}}, sq(0, 0, 1, 1), 0.5, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := math.Abs(PolygonArea(ClipConvex(tc.a, tc.b)))
			if math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("area = %v, want %v %s", got, tc.want, tc.comment)
			}
			// Intersection is symmetric.
			if back := math.Abs(PolygonArea(ClipConvex(tc.b, tc.a))); math.Abs(back-tc.want) > 1e-12 {
				t.Errorf("reversed area = %v, want %v", back, tc.want)
			}
		})
	}
}

func TestIntersectionAreaHandComputed(t *testing.T) {
	o := Pose{100, 100, 0}
	tests := []struct {
		name string
		p    Pose
		want float64
	}{
		{"same pose", o, TArea},
		// Shift 10 right: bar 110×30 + stem 20×90; bar/stem cross pairs
		// only share edges.
		{"shift x 10", Pose{110, 100, 0}, 110*30 + 20*90},
		// Shift 10 down: bar 120×20 + stem 30×80 + original stem ∩
		// shifted bar (y 30..40, |x|<=15) 30×10.
		{"shift y 10", Pose{100, 110, 0}, 120*20 + 30*80 + 30*10},
		// Rotated by π about the origin: the T flips above the origin and
		// only touches along the top edge of the bar.
		{"flipped", Pose{100, 100, math.Pi}, 0},
		{"far away", Pose{400, 400, 1}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IntersectionArea(o, tc.p); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("area = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCoverage(t *testing.T) {
	if c := CoverageOf(GoalPose, GoalPose); math.Abs(c-1) > 1e-9 {
		t.Errorf("coverage at goal = %.17g, want 1", c)
	}
	if c := CoverageOf(Pose{60, 450, 0.3}, GoalPose); c != 0 {
		t.Errorf("coverage when disjoint = %v, want exactly 0", c)
	}
	e, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	e.ResetTo([5]float64{40, 40, GoalPose.X, GoalPose.Y, GoalPose.Theta})
	if c := e.Coverage(); math.Abs(c-1) > 1e-9 {
		t.Errorf("env coverage at goal = %.17g, want 1", c)
	}
	_, r, done, info := e.Step([2]float64{40, 40})
	if !done || !info.Success || r != 1 {
		t.Errorf("at goal: reward %v done %v success %v, want 1 true true", r, done, info.Success)
	}
	// 3 px off loses a little coverage (about 120·3/6300).
	if c := CoverageOf(Pose{GoalPose.X + 3, GoalPose.Y, GoalPose.Theta}, GoalPose); !(c > 0.9 && c < 1) {
		t.Errorf("coverage 3 px off = %v, want in (0.9, 1)", c)
	}
}

func TestWrapAngle(t *testing.T) {
	for _, a := range []float64{0, 1, -1, math.Pi, -math.Pi, 3 * math.Pi, -7.5, 100} {
		w := wrapAngle(a)
		if w < -math.Pi || w >= math.Pi {
			t.Errorf("wrapAngle(%v) = %v out of [−π, π)", a, w)
		}
		if d := math.Remainder(w-a, 2*math.Pi); math.Abs(d) > 1e-9 {
			t.Errorf("wrapAngle(%v) = %v is not the same angle", a, w)
		}
	}
}
