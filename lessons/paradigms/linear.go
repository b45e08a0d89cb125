package paradigms

import "fmt"

// NumFeatures is the size of the linear policy's feature vector.
const NumFeatures = 5

// Features is the input of the linear policy class shared by imitation and
// reinforcement learning: (goal − pos) for x and y, vel for x and y, and a
// constant 1.
func Features(s State) [NumFeatures]float64 {
	return [NumFeatures]float64{s.Goal[0] - s.Pos[0], s.Goal[1] - s.Pos[1], s.Vel[0], s.Vel[1], 1}
}

// LinearPolicy is force = W·Features(state): row i of W gives the force on
// axis i. The task clips the force to MaxForce, so the policy can express the
// expert's saturated PD law exactly (W = [[Kp,0,-Kd,0,0],[0,Kp,0,-Kd,0]]).
type LinearPolicy struct {
	W [2][NumFeatures]float64
}

// Act implements Controller.
func (p LinearPolicy) Act(s State) [2]float64 {
	phi := Features(s)
	var f [2]float64
	for i := range 2 {
		for j := range NumFeatures {
			f[i] += p.W[i][j] * phi[j]
		}
	}
	return f
}

// Params flattens W row by row (the vector CEM searches over).
func (p LinearPolicy) Params() []float64 {
	out := make([]float64, 0, 2*NumFeatures)
	for i := range 2 {
		out = append(out, p.W[i][:]...)
	}
	return out
}

// LinearPolicyFromParams is the inverse of Params.
func LinearPolicyFromParams(theta []float64) (LinearPolicy, error) {
	var p LinearPolicy
	if len(theta) != 2*NumFeatures {
		return p, fmt.Errorf("paradigms: a linear policy has %d parameters, got %d", 2*NumFeatures, len(theta))
	}
	for i := range 2 {
		copy(p.W[i][:], theta[i*NumFeatures:(i+1)*NumFeatures])
	}
	return p, nil
}

// String prints W with the feature names.
func (p LinearPolicy) String() string {
	return fmt.Sprintf("fx = %+.3f·ex %+.3f·ey %+.3f·vx %+.3f·vy %+.3f\nfy = %+.3f·ex %+.3f·ey %+.3f·vx %+.3f·vy %+.3f",
		p.W[0][0], p.W[0][1], p.W[0][2], p.W[0][3], p.W[0][4],
		p.W[1][0], p.W[1][1], p.W[1][2], p.W[1][3], p.W[1][4])
}
