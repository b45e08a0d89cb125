package arm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// mat4 is a homogeneous transform, row-major; the tests build the chain
// with it independently of FK's rotation–translation composition.
type mat4 [4][4]float64

func (a mat4) mul(b mat4) mat4 {
	var c mat4
	for i := 0; i < 4; i++ {
		for j := 0; j < 4; j++ {
			for k := 0; k < 4; k++ {
				c[i][j] += a[i][k] * b[k][j]
			}
		}
	}
	return c
}

func ident4() mat4 { return mat4{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}} }

func rotX(t float64) mat4 {
	c, s := math.Cos(t), math.Sin(t)
	return mat4{{1, 0, 0, 0}, {0, c, -s, 0}, {0, s, c, 0}, {0, 0, 0, 1}}
}

func rotZ(t float64) mat4 {
	c, s := math.Cos(t), math.Sin(t)
	return mat4{{c, -s, 0, 0}, {s, c, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}
}

func trans(x, y, z float64) mat4 { return mat4{{1, 0, 0, x}, {0, 1, 0, y}, {0, 0, 1, z}, {0, 0, 0, 1}} }

// refChain returns the 4×4 transforms of frames 1..7, the flange and the
// end effector, each the product RotX(α)·TransX(a)·RotZ(θ)·TransZ(d).
func refChain(q [7]float64) []mat4 {
	a := []float64{0, 0, 0, 0.0825, -0.0825, 0, 0.088, 0, 0}
	d := []float64{0.333, 0, 0.316, 0, 0.384, 0, 0, 0.107, 0.1034}
	al := []float64{0, -math.Pi / 2, math.Pi / 2, math.Pi / 2, -math.Pi / 2, math.Pi / 2, math.Pi / 2, 0, 0}
	th := append(q[:], 0, 0)
	T := ident4()
	var out []mat4
	for i := range a {
		T = T.mul(rotX(al[i])).mul(trans(a[i], 0, 0)).mul(rotZ(th[i])).mul(trans(0, 0, d[i]))
		out = append(out, T)
	}
	return out
}

func near(a, b [3]float64, tol float64) bool {
	return math.Abs(a[0]-b[0]) <= tol && math.Abs(a[1]-b[1]) <= tol && math.Abs(a[2]-b[2]) <= tol
}

func randomQ(rng *rand.Rand) [7]float64 {
	var q [7]float64
	for i := range q {
		q[i] = QMin[i] + (QMax[i]-QMin[i])*rng.Float64()
	}
	return q
}

func TestFKKnownPoses(t *testing.T) {
	down := [3][3]float64{{1, 0, 0}, {0, -1, 0}, {0, 0, -1}}
	tests := []struct {
		name       string
		q          [7]float64
		flange, ee [3]float64
		tol        float64
		flangeRot  *[3][3]float64
		flangeZ    *[3]float64 // expected flange z axis, if checked
	}{
		// All joints zero: the arm stands straight up and the flange,
		// offset 0.088 m forward by a7, points down 0.107 m below the
		// wrist at 0.333 + 0.316 + 0.384 = 1.033 m.
		{name: "zero", q: [7]float64{}, flange: [3]float64{0.088, 0, 0.926}, ee: [3]float64{0.088, 0, 0.926 - 0.1034}, tol: 1e-12, flangeRot: &down},
		// Base turned by +90°: the same pose rotated about z, so the
		// forward offset moves to +y.
		{name: "base +90°", q: [7]float64{math.Pi / 2}, flange: [3]float64{0, 0.088, 0.926}, ee: [3]float64{0, 0.088, 0.8226}, tol: 1e-12},
		// The ready pose: published end-effector position of the Panda
		// with the Franka Hand, (0.3069, 0, 0.4869) m, hand pointing down.
		{name: "ready", q: Ready, flange: [3]float64{0.3069, 0, 0.4869 + 0.1034}, ee: [3]float64{0.3069, 0, 0.4869}, tol: 1e-4, flangeZ: &[3]float64{0, 0, -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := FK(tc.q)
			if !near(c.Flange.Pos, tc.flange, tc.tol) {
				t.Errorf("flange at %v, want %v", c.Flange.Pos, tc.flange)
			}
			if !near(c.EE.Pos, tc.ee, tc.tol) {
				t.Errorf("end effector at %v, want %v", c.EE.Pos, tc.ee)
			}
			if tc.flangeRot != nil {
				for r := 0; r < 3; r++ {
					if !near(c.Flange.Rot[r], tc.flangeRot[r], 1e-12) {
						t.Errorf("flange rotation %v, want %v", c.Flange.Rot, *tc.flangeRot)
						break
					}
				}
			}
			if tc.flangeZ != nil {
				z := [3]float64{c.Flange.Rot[0][2], c.Flange.Rot[1][2], c.Flange.Rot[2][2]}
				if !near(z, *tc.flangeZ, 1e-12) {
					t.Errorf("flange z axis %v, want %v", z, *tc.flangeZ)
				}
			}
		})
	}
}

// TestFKMatchesHomogeneousProduct compares every frame with the product of
// 4×4 matrices, at the ready pose and at random configurations.
func TestFKMatchesHomogeneousProduct(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	qs := [][7]float64{Ready}
	for i := 0; i < 50; i++ {
		qs = append(qs, randomQ(rng))
	}
	for n, q := range qs {
		c := FK(q)
		poses := append(c.Joint[:], c.Flange, c.EE)
		ref := refChain(q)
		for i, p := range poses {
			for r := 0; r < 3; r++ {
				if math.Abs(p.Pos[r]-ref[i][r][3]) > 1e-12 {
					t.Fatalf("q #%d frame %d: position %v, want column %v", n, i, p.Pos, ref[i])
				}
				for k := 0; k < 3; k++ {
					if math.Abs(p.Rot[r][k]-ref[i][r][k]) > 1e-12 {
						t.Fatalf("q #%d frame %d: rotation %v, want %v", n, i, p.Rot, ref[i])
					}
				}
			}
			// Rotations are orthonormal.
			for a := 0; a < 3; a++ {
				for b := 0; b < 3; b++ {
					s := 0.0
					for r := 0; r < 3; r++ {
						s += p.Rot[r][a] * p.Rot[r][b]
					}
					if want := b2f(a == b); math.Abs(s-want) > 1e-12 {
						t.Fatalf("q #%d frame %d: Rᵀ R[%d][%d] = %g", n, i, a, b, s)
					}
				}
			}
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func TestJacobianFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	qs := [][7]float64{{}, Ready}
	for i := 0; i < 30; i++ {
		qs = append(qs, randomQ(rng))
	}
	const h = 1e-6
	for n, q := range qs {
		J := Jacobian(q)
		for i := 0; i < 7; i++ {
			qp, qm := q, q
			qp[i] += h
			qm[i] -= h
			pp, pm := FK(qp).EE.Pos, FK(qm).EE.Pos
			for r := 0; r < 3; r++ {
				fd := (pp[r] - pm[r]) / (2 * h)
				if math.Abs(fd-J[r][i]) > 1e-7 {
					t.Fatalf("q #%d: J[%d][%d] = %g, finite difference %g", n, r, i, J[r][i], fd)
				}
			}
		}
	}
}

func TestDLS(t *testing.T) {
	J := Jacobian(Ready)
	e := [3]float64{0.01, -0.02, 0.005}
	tests := []struct {
		name   string
		lambda float64
		tol    float64 // on |J dq − e|, metres
	}{
		{"nearly undamped solves J dq = e", 1e-6, 1e-9},
		{"default damping nearly solves it", 0.05, 2e-3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dq := DLS(J, e, tc.lambda)
			for r := 0; r < 3; r++ {
				s := 0.0
				for i := 0; i < 7; i++ {
					s += J[r][i] * dq[i]
				}
				if math.Abs(s-e[r]) > tc.tol {
					t.Errorf("(J dq)[%d] = %g, want %g", r, s, e[r])
				}
			}
		})
	}
	// Heavy damping shrinks the step toward Jᵀe/λ².
	dq := DLS(J, e, 100)
	var want [7]float64
	scale := 0.0
	for i := range want {
		want[i] = (J[0][i]*e[0] + J[1][i]*e[1] + J[2][i]*e[2]) / 1e4
		scale = max(scale, math.Abs(want[i]))
	}
	for i := range dq {
		if math.Abs(dq[i]-want[i]) > 1e-3*scale {
			t.Errorf("heavily damped dq[%d] = %g, want ≈ %g", i, dq[i], want[i])
		}
	}
}
