package arm

import "math"

// Kinematic and limit data of the Franka Emika Panda, from the Franka
// Control Interface (FCI) documentation, "Robot and interface
// specifications" (https://frankaemika.github.io/docs/control_parameters.html):
// the modified Denavit–Hartenberg (Craig) parameters of joints 1–7 and the
// flange, and the joint position, velocity and acceleration limits.
//
// Convention (Craig): the transform from frame i−1 to frame i is
//
//	T_i = RotX(alpha_i) · TransX(a_i) · RotZ(q_i) · TransZ(d_i)
//
// so joint i rotates about the z axis of frame i, whose origin lies on the
// joint's axis. Frame 0 is the robot base: z up, x pointing forward (the
// side the robot works on), origin at the bottom of the base on the floor.
var (
	// DHA are the link lengths a_i along x_{i−1}, in metres.
	DHA = [7]float64{0, 0, 0, 0.0825, -0.0825, 0, 0.088}
	// DHD are the link offsets d_i along z_i, in metres.
	DHD = [7]float64{0.333, 0, 0.316, 0, 0.384, 0, 0}
	// DHAlpha are the link twists alpha_i about x_{i−1}, in radians.
	DHAlpha = [7]float64{0, -math.Pi / 2, math.Pi / 2, math.Pi / 2, -math.Pi / 2, math.Pi / 2, math.Pi / 2}

	// QMin and QMax are the joint position limits, in radians.
	QMin = [7]float64{-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973}
	QMax = [7]float64{2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973}
	// QdMax is the joint velocity limit (symmetric), in rad/s.
	QdMax = [7]float64{2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61}
	// QddMax is the joint acceleration limit (symmetric), in rad/s².
	QddMax = [7]float64{15, 7.5, 10, 12.5, 15, 20, 20}

	// Ready is the Panda's usual "ready" configuration, in radians: elbow
	// up, hand pointing down in front of the robot. Episodes start near it.
	Ready = [7]float64{0, -math.Pi / 4, 0, -3 * math.Pi / 4, 0, math.Pi / 2, math.Pi / 4}
)

const (
	// FlangeD is the offset of the flange frame along z_7, in metres
	// (FCI: a = 0, d = 0.107, alpha = 0, theta = 0).
	FlangeD = 0.107
	// HandOffset is the distance from the flange to the tool centre point
	// of the Franka Hand between its fingertips, along the flange z axis, in
	// metres (FCI: "F_T_EE" of the Franka Hand; the hand is also turned by
	// −45° about z, which does not move this point). The end effector of
	// this package is that point.
	HandOffset = 0.1034
)

// Pose is a rigid frame expressed in the base frame.
type Pose struct {
	// Pos is the frame's origin, in metres, in the base frame.
	Pos [3]float64
	// Rot is the frame's orientation: Rot[r][c] is row r, column c, and
	// column c is the frame's c-th axis (x, y, z) as a unit vector in the
	// base frame; Rot maps frame coordinates to base coordinates.
	Rot [3][3]float64
}

// Chain holds every frame of the arm at one configuration, all in the base
// frame.
type Chain struct {
	// Joint[i] is frame i+1 of the modified-DH chain: its origin is on the
	// axis of joint i+1 and its z axis is that axis.
	Joint [7]Pose
	// Flange is the flange frame (0.107 m along z of frame 7).
	Flange Pose
	// EE is the end effector: the tool centre point HandOffset along the
	// flange z axis, with the flange's orientation.
	EE Pose
}

// mdh returns the transform of one modified-DH link, RotX(alpha)·TransX(a)·
// RotZ(theta)·TransZ(d), as a rotation and translation.
func mdh(a, d, alpha, theta float64) ([3][3]float64, [3]float64) {
	ct, st := math.Cos(theta), math.Sin(theta)
	ca, sa := math.Cos(alpha), math.Sin(alpha)
	r := [3][3]float64{
		{ct, -st, 0},
		{st * ca, ct * ca, -sa},
		{st * sa, ct * sa, ca},
	}
	return r, [3]float64{a, -sa * d, ca * d}
}

// compose returns p ∘ (r, t): the frame reached from p by the local
// transform with rotation r and translation t (expressed in p's frame).
func compose(p Pose, r [3][3]float64, t [3]float64) Pose {
	var out Pose
	for i := 0; i < 3; i++ {
		out.Pos[i] = p.Pos[i] + p.Rot[i][0]*t[0] + p.Rot[i][1]*t[1] + p.Rot[i][2]*t[2]
		for j := 0; j < 3; j++ {
			out.Rot[i][j] = p.Rot[i][0]*r[0][j] + p.Rot[i][1]*r[1][j] + p.Rot[i][2]*r[2][j]
		}
	}
	return out
}

// FK computes the forward kinematics at joint angles q (radians): the pose
// of every joint frame, the flange and the end effector, in the base frame.
// It does not check q against the joint limits.
func FK(q [7]float64) Chain {
	var c Chain
	p := Pose{Rot: [3][3]float64{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}}
	for i := 0; i < 7; i++ {
		r, t := mdh(DHA[i], DHD[i], DHAlpha[i], q[i])
		p = compose(p, r, t)
		c.Joint[i] = p
	}
	r, t := mdh(0, FlangeD, 0, 0)
	c.Flange = compose(p, r, t)
	r, t = mdh(0, HandOffset, 0, 0)
	c.EE = compose(c.Flange, r, t)
	return c
}

// Jacobian returns the position Jacobian of the end effector at the chain's
// configuration: J[r][i] = ∂EE.Pos[r]/∂q_i, in metres per radian, base
// frame. Column i is z_i × (p_EE − p_i), with z_i and p_i the axis and
// origin of joint i's frame.
func (c *Chain) Jacobian() [3][7]float64 {
	var J [3][7]float64
	e := c.EE.Pos
	for i := 0; i < 7; i++ {
		f := &c.Joint[i]
		z := [3]float64{f.Rot[0][2], f.Rot[1][2], f.Rot[2][2]}
		d := [3]float64{e[0] - f.Pos[0], e[1] - f.Pos[1], e[2] - f.Pos[2]}
		J[0][i] = z[1]*d[2] - z[2]*d[1]
		J[1][i] = z[2]*d[0] - z[0]*d[2]
		J[2][i] = z[0]*d[1] - z[1]*d[0]
	}
	return J
}

// Jacobian returns the end effector's position Jacobian at joint angles q
// (radians), in metres per radian; see Chain.Jacobian.
func Jacobian(q [7]float64) [3][7]float64 {
	c := FK(q)
	return c.Jacobian()
}

// DLS solves the damped least-squares step dq = Jᵀ(JJᵀ + λ²I)⁻¹ e for the
// position Jacobian J (m/rad), the Cartesian error e (m, base frame) and the
// damping lambda (m). It returns dq in radians. For lambda > 0 the 3×3
// system is positive definite and always solvable; near singularities the
// damping trades accuracy for bounded joint steps.
func DLS(J [3][7]float64, e [3]float64, lambda float64) [7]float64 {
	y := solveDamped(J, e, lambda)
	var dq [7]float64
	for i := 0; i < 7; i++ {
		dq[i] = J[0][i]*y[0] + J[1][i]*y[1] + J[2][i]*y[2]
	}
	return dq
}

// solveDamped returns (JJᵀ + λ²I)⁻¹ e.
func solveDamped(J [3][7]float64, e [3]float64, lambda float64) [3]float64 {
	var A [3][3]float64
	for r := 0; r < 3; r++ {
		for c := 0; c < 3; c++ {
			s := 0.0
			for i := 0; i < 7; i++ {
				s += J[r][i] * J[c][i]
			}
			A[r][c] = s
		}
		A[r][r] += lambda * lambda
	}
	// Inverse by the adjugate: A is symmetric positive definite.
	c00 := A[1][1]*A[2][2] - A[1][2]*A[2][1]
	c01 := A[1][2]*A[2][0] - A[1][0]*A[2][2]
	c02 := A[1][0]*A[2][1] - A[1][1]*A[2][0]
	det := A[0][0]*c00 + A[0][1]*c01 + A[0][2]*c02
	if det == 0 {
		return [3]float64{}
	}
	inv := [3][3]float64{
		{c00, A[0][2]*A[2][1] - A[0][1]*A[2][2], A[0][1]*A[1][2] - A[0][2]*A[1][1]},
		{c01, A[0][0]*A[2][2] - A[0][2]*A[2][0], A[0][2]*A[1][0] - A[0][0]*A[1][2]},
		{c02, A[0][1]*A[2][0] - A[0][0]*A[2][1], A[0][0]*A[1][1] - A[0][1]*A[1][0]},
	}
	var y [3]float64
	for r := 0; r < 3; r++ {
		y[r] = (inv[r][0]*e[0] + inv[r][1]*e[1] + inv[r][2]*e[2]) / det
	}
	return y
}
