package pusht

import (
	"math"
	"math/rand/v2"
)

// Expert is a scripted Push-T demonstrator (our own design; the paper's
// demonstrations were human teleoperation). Every control step it re-plans
// from the state observation:
//
//  1. Pose error. The error of the block's centre of gravity (px) and of
//     its angle (rad, scaled by the radius of gyration L = √(I/m) ≈ 55 px,
//     which also weighs angle against position roughly as coverage does)
//     form a 3-vector Δq.
//  2. Contact choice. For each candidate contact on the T's boundary (points
//     every 5 px on every face the disc can reach), a model of Chipmunk's
//     velocity-reset contact (the block moves so that the contact point
//     follows the pusher, within the friction cone, else slides) gives the
//     block motion g per pixel of pushing along the face's inward normal.
//     The score is how well g points along Δq (cos²), minus a cost for the
//     detour to reach the face, plus a bonus for keeping the current face.
//  3. Motion. If the agent is behind the chosen contact it pushes, aiming
//     s = (Δq·g)/|g|² px (at most MaxPush) past the contact. Otherwise it
//     backs off the block, then goes to an approach point 6 px behind the
//     contact: straight if that path keeps clear of the block, else round
//     the block on a circle of radius DetourRadius about its centre of
//     gravity. The way round is the shorter one, except near ties (both
//     arcs within TieWindow of π), where a seeded coin picks it: this makes
//     the demonstrations genuinely multimodal (left or right of the block).
type Expert struct {
	// MaxPush caps the push target beyond the contact (px).
	MaxPush float64
	// DetourRadius is the radius (px) of the circle about the block's centre
	// of gravity on which the agent goes round the block.
	DetourRadius float64
	// TieWindow (rad): when the shorter arc is longer than π − TieWindow,
	// the side is chosen by a coin.
	TieWindow float64

	rng     *rand.Rand
	cur     int     // index of the current candidate contact, −1 if none
	side    float64 // current detour direction: +1 clockwise on screen, −1 counter-clockwise, 0 none
	backing bool

	// Left and Right count the detours started in this episode going
	// counter-clockwise (Left) and clockwise (Right) on screen; FirstSide is
	// the first detour's direction (−1 left, +1 right, 0 none yet).
	Left, Right, FirstSide int
	// Coin counts detour directions chosen by the coin.
	Coin int
}

// NewExpert returns an expert with default settings, reset with seed 0.
func NewExpert() *Expert {
	x := &Expert{MaxPush: 30, DetourRadius: 100, TieWindow: math.Pi / 3}
	x.Reset(0)
	return x
}

// Reset prepares the expert for a new episode; seed drives its coin.
func (x *Expert) Reset(seed int64) {
	x.rng = rand.New(rand.NewPCG(uint64(seed), 0x5eed5eed))
	x.cur, x.side, x.backing = -1, 0, false
	x.Left, x.Right, x.FirstSide, x.Coin = 0, 0, 0, 0
}

type contact struct {
	p, nOut Vec // point on the boundary and outward unit normal, block frame
}

// contacts are the candidate contact points, in the block frame. Faces next
// to the T's two inner corners are trimmed where the disc (radius 15) could
// not touch them without touching the other face too.
var contacts = func() []contact {
	var cs []contact
	add := func(x0, y0, x1, y1, nx, ny float64) {
		n := int(math.Round(math.Hypot(x1-x0, y1-y0) / 5))
		for i := 0; i <= n; i++ {
			t := float64(i) / float64(max(n, 1))
			cs = append(cs, contact{Vec{x0 + t*(x1-x0), y0 + t*(y1-y0)}, Vec{nx, ny}})
		}
	}
	add(-55, 0, 55, 0, 0, -1)     // top of the bar
	add(60, 5, 60, 25, 1, 0)      // right end of the bar
	add(-60, 5, -60, 25, -1, 0)   // left end of the bar
	add(55, 30, 35, 30, 0, 1)     // underside of the bar, right
	add(-35, 30, -55, 30, 0, 1)   // underside of the bar, left
	add(15, 50, 15, 115, 1, 0)    // right side of the stem
	add(-15, 115, -15, 50, -1, 0) // left side of the stem
	add(10, 120, -10, 120, 0, 1)  // bottom of the stem
	return cs
}()

const (
	gyration    = 54.772255750516614 // √(blockMoment/1), px
	approachGap = 6.0                // px between disc and face at the approach point
)

// response returns the block's motion (dx, dy, L·dθ) per pixel of pusher
// motion along the inward normal n at contact offset r from the centre of
// gravity (world frame), for friction coefficient mu: the contact point
// sticks to the pusher if the needed impulse lies in the friction cone,
// else it slides with friction at the cone's edge.
func response(r, n Vec, mu float64) [3]float64 {
	const m, I = 1.0, blockMoment
	// K maps an impulse at r to the velocity of the contact point.
	k11 := 1/m + r.Y*r.Y/I
	k12 := -r.X * r.Y / I
	k22 := 1/m + r.X*r.X/I
	det := k11*k22 - k12*k12
	// Sticking: K J = n.
	J := Vec{(k22*n.X - k12*n.Y) / det, (-k12*n.X + k11*n.Y) / det}
	t := Vec{-n.Y, n.X}
	jn, jt := J.dot(n), J.dot(t)
	if math.Abs(jt) > mu*jn {
		d := n.add(t.scale(mu * math.Copysign(1, jt)))
		kd := Vec{k11*d.X + k12*d.Y, k12*d.X + k22*d.Y}
		J = d.scale(1 / kd.dot(n))
	}
	w := r.cross(J) / I
	return [3]float64{J.X / m, J.Y / m, gyration * w}
}

// Act returns the target agent position (pixels) for observation o.
func (x *Expert) Act(o Obs) [2]float64 {
	agent := Vec{o.State[0], o.State[1]}
	blk := Pose{o.State[2], o.State[3], o.State[4]}
	cog := blk.toWorld(cogLocal)
	gcog := GoalPose.toWorld(cogLocal)
	e := gcog.sub(cog)
	dq := [3]float64{e.X, e.Y, gyration * wrapAngle(GoalPose.Theta-blk.Theta)}
	dq2 := dq[0]*dq[0] + dq[1]*dq[1] + dq[2]*dq[2]
	dqn := math.Sqrt(dq2)
	aLocal := blk.toLocal(agent)

	// Score the candidate contacts.
	best, bestScore := -1, math.Inf(-1)
	var bestS float64
	for i, c := range contacts {
		pw := blk.toWorld(c.p)
		nIn := c.nOut.rotate(blk.Theta).scale(-1)
		at := blk.toWorld(c.p.add(c.nOut.scale(AgentRadius + approachGap)))
		if at.X < 2 || at.X > WorkspaceSize-2 || at.Y < 2 || at.Y > WorkspaceSize-2 {
			continue // the agent cannot get there
		}
		g := response(pw.sub(cog), nIn, 1)
		gd := g[0]*dq[0] + g[1]*dq[1] + g[2]*dq[2]
		g2 := g[0]*g[0] + g[1]*g[1] + g[2]*g[2]
		if gd <= 0 {
			continue
		}
		// Expected progress: the error reduction (px) of the best push along
		// g, per pixel travelled (detour + push + a fixed overhead).
		red := dqn - math.Sqrt(math.Max(0, dq2-gd*gd/g2))
		var travel float64
		switch {
		case x.inPushZone(aLocal, c):
			travel = 0
		case segTDist(blk, agent, at) > AgentRadius+2:
			travel = agent.sub(at).norm()
		default:
			travel = x.detourLength(agent, at, cog)
			if math.IsInf(travel, 1) {
				continue
			}
		}
		score := red / (travel + gd/g2 + 40)
		if i == x.cur {
			score *= 1.3
		}
		if score > bestScore {
			best, bestScore, bestS = i, score, gd/g2
		}
	}
	if best < 0 {
		// Nothing helps (only at the goal or when cornered): stay put.
		x.cur = -1
		return [2]float64{agent.X, agent.Y}
	}
	if best != x.cur {
		x.side = 0
	}
	x.cur = best
	c := contacts[best]

	if x.inPushZone(aLocal, c) {
		x.backing, x.side = false, 0
		push := math.Min(bestS, x.MaxPush)
		ideal := c.p.add(c.nOut.scale(AgentRadius)) // disc centre touching the face
		tgt := blk.toWorld(ideal.sub(c.nOut.scale(push)))
		return [2]float64{tgt.X, tgt.Y}
	}

	at := blk.toWorld(c.p.add(c.nOut.scale(AgentRadius + approachGap)))
	dist := tSDF(blk, agent)
	// Back off first when touching the block away from the chosen contact.
	if dist < AgentRadius+3 || (x.backing && dist < AgentRadius+8) {
		x.backing = true
		away := x.awayFrom(blk, agent)
		tgt := agent.add(away.scale(12))
		return [2]float64{tgt.X, tgt.Y}
	}
	x.backing = false
	if segTDist(blk, agent, at) > AgentRadius+2 {
		x.side = 0
		return [2]float64{at.X, at.Y}
	}
	// Go round the block.
	rel := agent.sub(cog)
	rho := rel.norm()
	phi := math.Atan2(rel.Y, rel.X)
	relT := at.sub(cog)
	phiT := math.Atan2(relT.Y, relT.X)
	if rho < x.DetourRadius-12 {
		tgt := cog.add(rel.scale((x.DetourRadius + 6) / math.Max(rho, 1e-9)))
		return [2]float64{tgt.X, tgt.Y}
	}
	dphi := wrapAngle(phiT - phi)
	if x.side == 0 {
		x.side = math.Copysign(1, dphi)
		long := dphi - math.Copysign(2*math.Pi, dphi)
		okShort, okLong := x.arcFeasible(cog, phi, dphi), x.arcFeasible(cog, phi, long)
		switch {
		case okLong && !okShort:
			x.side = -x.side
		case okShort && okLong && math.Abs(dphi) > math.Pi-x.TieWindow:
			x.Coin++
			if x.rng.IntN(2) == 0 {
				x.side = -x.side
			}
		}
		if x.side > 0 {
			x.Right++
		} else {
			x.Left++
		}
		if x.FirstSide == 0 {
			x.FirstSide = int(x.side)
		}
	}
	// Remaining arc in the chosen direction.
	rem := dphi
	if x.side > 0 && rem < 0 {
		rem += 2 * math.Pi
	} else if x.side < 0 && rem > 0 {
		rem -= 2 * math.Pi
	}
	step := math.Copysign(math.Min(math.Abs(rem), 0.6), rem)
	tgt := cog.add(Vec{math.Cos(phi + step), math.Sin(phi + step)}.scale(x.DetourRadius))
	return [2]float64{tgt.X, tgt.Y}
}

// inPushZone reports whether the agent (block frame) is close behind contact
// c, ready to push.
func (x *Expert) inPushZone(aLocal Vec, c contact) bool {
	d := aLocal.sub(c.p.add(c.nOut.scale(AgentRadius)))
	dn := d.dot(c.nOut)
	dt := math.Abs(d.X*c.nOut.Y - d.Y*c.nOut.X)
	return dt < 4 && dn > -3 && dn < approachGap+4
}

// detourLength estimates the path length (px) from a to b round the block
// on the detour circle, the shorter of the feasible ways; +Inf if neither
// way stays inside the workspace.
func (x *Expert) detourLength(a, b, cog Vec) float64 {
	ra, rb := a.sub(cog), b.sub(cog)
	phiA := math.Atan2(ra.Y, ra.X)
	dphi := wrapAngle(math.Atan2(rb.Y, rb.X) - phiA)
	R := x.DetourRadius
	best := math.Inf(1)
	for _, arc := range [2]float64{dphi, dphi - math.Copysign(2*math.Pi, dphi)} {
		if x.arcFeasible(cog, phiA, arc) {
			best = math.Min(best, R*math.Abs(arc))
		}
	}
	return math.Abs(ra.norm()-R) + best + math.Abs(rb.norm()-R)
}

// arcFeasible reports whether the detour arc from polar angle phi through
// the signed angle arc (rad) about cog stays inside the workspace.
func (x *Expert) arcFeasible(cog Vec, phi, arc float64) bool {
	n := int(math.Ceil(math.Abs(arc)/0.1)) + 1
	for i := 0; i <= n; i++ {
		a := phi + arc*float64(i)/float64(n)
		p := cog.add(Vec{math.Cos(a), math.Sin(a)}.scale(x.DetourRadius))
		if p.X < 3 || p.X > WorkspaceSize-3 || p.Y < 3 || p.Y > WorkspaceSize-3 {
			return false
		}
	}
	return true
}

// awayFrom returns the unit direction from the nearest point of the block to
// q (approximated by a finite-difference gradient of the distance).
func (x *Expert) awayFrom(blk Pose, q Vec) Vec {
	const h = 0.5
	gx := tSDF(blk, q.add(Vec{h, 0})) - tSDF(blk, q.sub(Vec{h, 0}))
	gy := tSDF(blk, q.add(Vec{0, h})) - tSDF(blk, q.sub(Vec{0, h}))
	g := Vec{gx, gy}
	if n := g.norm(); n > 1e-12 {
		return g.scale(1 / n)
	}
	return q.sub(blk.toWorld(cogLocal)).scale(1 / math.Max(q.sub(blk.toWorld(cogLocal)).norm(), 1e-9))
}
