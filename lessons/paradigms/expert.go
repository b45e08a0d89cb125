package paradigms

// Expert is the scripted demonstrator: a saturated PD controller,
//
//	force = clip(Kp·(goal − pos) − Kd·vel, ±MaxForce)  per axis.
type Expert struct {
	Kp, Kd, MaxForce float64
}

// Expert returns the demonstrator used by the lesson: Kp = 2 N/m and
// Kd = 1.5 N·s/m (with the task's damping of 0.5/s the unsaturated loop is
// critically damped: (Kd + Damping·Mass)² = 4·Kp·Mass), saturating at
// e.MaxForce, which it does whenever the goal is more than about half a
// metre away.
func (e PointMass) Expert() Expert {
	return Expert{Kp: 2, Kd: 1.5, MaxForce: e.MaxForce}
}

// Act implements Controller.
func (x Expert) Act(s State) [2]float64 {
	var f [2]float64
	for i := range 2 {
		f[i] = clip(x.Kp*(s.Goal[i]-s.Pos[i])-x.Kd*s.Vel[i], x.MaxForce)
	}
	return f
}

// Demos records the expert from n seeded starts for the full Horizon each
// (see Record) and returns the episodes, the demonstrations imitation
// learning learns from.
func (e PointMass) Demos(n int, seed uint64) []Episode {
	x := e.Expert()
	starts := e.Starts(n, seed)
	out := make([]Episode, len(starts))
	for i, s := range starts {
		out[i] = e.Record(s, x)
	}
	return out
}
