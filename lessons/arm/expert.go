package arm

import "math"

// Expert is the scripted demonstrator: damped-least-squares inverse
// kinematics on the end effector's position Jacobian, turned into
// joint-position targets one control step at a time.
//
// Each step it takes the error e from the end effector to the goal
// (shortened to at most MaxCartStep), the joint step
//
//	dq = J⁺e + NullGain·(I − J⁺J)(Ready − q),   J⁺ = Jᵀ(JJᵀ + λ²I)⁻¹,
//
// whose second term pulls the redundant seventh degree of freedom toward
// the Ready posture without moving the end effector (to first order), scales
// dq so no joint moves more than MaxJointStep, and returns q + dq clipped to
// the joint limits shrunk by LimitMargin. Held at the goal, e ≈ 0 and it
// keeps the arm there.
type Expert struct {
	// Lambda is the damping λ, in metres.
	Lambda float64
	// MaxCartStep is the longest Cartesian step asked for per control
	// step, in metres.
	MaxCartStep float64
	// MaxJointStep is the largest joint step per control step, in radians.
	MaxJointStep float64
	// NullGain is the fraction of the posture error removed per step in
	// the null space (0 turns it off).
	NullGain float64
	// LimitMargin keeps targets this far inside the joint limits, in
	// radians.
	LimitMargin float64
}

// DefaultExpert returns λ = 0.05 m, at most 6 cm and 0.2 rad per step
// (0.6 m/s and 2 rad/s at 10 Hz), null-space gain 0.1, and a 0.05 rad
// margin to the joint limits.
func DefaultExpert() Expert {
	return Expert{Lambda: 0.05, MaxCartStep: 0.06, MaxJointStep: 0.2, NullGain: 0.1, LimitMargin: 0.05}
}

// Act returns the joint-position targets (rad) that move the end effector
// toward the goal o.Instruction names (Obs.Goal), using only o.
func (x Expert) Act(o Obs) [7]float64 {
	return x.ActToward(o, o.Goal())
}

// ActToward returns the joint-position targets (rad) that move the end
// effector toward goal (metres, base frame) from the state in o.
func (x Expert) ActToward(o Obs, goal [3]float64) [7]float64 {
	q := o.JointPos
	c := FK(q)
	var e [3]float64
	n := 0.0
	for k := 0; k < 3; k++ {
		e[k] = goal[k] - c.EE.Pos[k]
		n += e[k] * e[k]
	}
	if n = math.Sqrt(n); n > x.MaxCartStep {
		for k := range e {
			e[k] *= x.MaxCartStep / n
		}
	}
	J := c.Jacobian()
	dq := DLS(J, e, x.Lambda)
	if x.NullGain != 0 {
		// Null-space projection of the posture error: r − J⁺(J r).
		var r [7]float64
		for i := range r {
			r[i] = x.NullGain * (Ready[i] - q[i])
		}
		var jr [3]float64
		for k := 0; k < 3; k++ {
			for i := 0; i < 7; i++ {
				jr[k] += J[k][i] * r[i]
			}
		}
		back := DLS(J, jr, x.Lambda)
		for i := range dq {
			dq[i] += r[i] - back[i]
		}
	}
	big := 0.0
	for _, v := range dq {
		big = max(big, math.Abs(v))
	}
	scale := 1.0
	if big > x.MaxJointStep {
		scale = x.MaxJointStep / big
	}
	var a [7]float64
	for i := range a {
		a[i] = clamp(q[i]+scale*dq[i], QMin[i]+x.LimitMargin, QMax[i]-x.LimitMargin)
	}
	return a
}
