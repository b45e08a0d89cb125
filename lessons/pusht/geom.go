package pusht

import "math"

// Vec is a 2-D point or vector in pixel units. World (workspace) frame: the
// 512×512 table seen from above, origin at the top-left corner, x to the
// right, y downwards (image convention, as in the original env which draws
// with pymunk's positive_y_is_up = False). Angles are in radians; a positive
// angle rotates x towards y, i.e. clockwise on screen.
type Vec struct{ X, Y float64 }

func (a Vec) add(b Vec) Vec            { return Vec{a.X + b.X, a.Y + b.Y} }
func (a Vec) sub(b Vec) Vec            { return Vec{a.X - b.X, a.Y - b.Y} }
func (a Vec) scale(s float64) Vec      { return Vec{a.X * s, a.Y * s} }
func (a Vec) dot(b Vec) float64        { return a.X*b.X + a.Y*b.Y }
func (a Vec) cross(b Vec) float64      { return a.X*b.Y - a.Y*b.X }
func (a Vec) norm() float64            { return math.Hypot(a.X, a.Y) }
func (a Vec) rot(c, s float64) Vec     { return Vec{c*a.X - s*a.Y, s*a.X + c*a.Y} }
func (a Vec) rotate(theta float64) Vec { return a.rot(math.Cos(theta), math.Sin(theta)) }

// Pose is a planar rigid pose: the position (pixels, world frame) of the
// block's frame origin and its angle (radians).
type Pose struct{ X, Y, Theta float64 }

// toWorld maps a point given in the block frame of pose p to the world frame.
func (p Pose) toWorld(l Vec) Vec {
	return l.rotate(p.Theta).add(Vec{p.X, p.Y})
}

// toLocal maps a world point into the block frame of pose p.
func (p Pose) toLocal(w Vec) Vec {
	return w.sub(Vec{p.X, p.Y}).rotate(-p.Theta)
}

// The T block in its own frame (pixels), exactly as built by add_tee in the
// original env with scale 30 and length 4: a bar 120 wide × 30 tall whose top
// edge passes through the frame origin, and a stem 30 wide × 90 tall below
// it. The frame origin is therefore the middle of the top edge of the bar;
// this is the point whose position the state reports.
var (
	barLocal  = [4]Vec{{-60, 0}, {60, 0}, {60, 30}, {-60, 30}}
	stemLocal = [4]Vec{{-15, 30}, {15, 30}, {15, 120}, {-15, 120}}
	// outlineLocal is the T's boundary, clockwise on screen, starting at
	// the top-left corner of the bar.
	outlineLocal = [8]Vec{
		{-60, 0}, {60, 0}, {60, 30}, {15, 30},
		{15, 120}, {-15, 120}, {-15, 30}, {-60, 30},
	}
	// cogLocal is the centre of gravity in the block frame. The original
	// sets body.center_of_gravity to the plain mean of the two boxes'
	// centroids, (0,15) and (0,75), not the area-weighted mean (0,40.7);
	// we follow it.
	cogLocal = Vec{0, 45}
)

// TArea is the area of the T block in square pixels (120·30 + 30·90).
const TArea = 6300.0

// blockMoment is the block's moment of inertia about its centre of gravity
// (mass 1, px²). The original computes inertia1+inertia2 where both terms are
// pymunk.moment_for_poly(1, vertices1) of the bar about the frame origin
// (a copy-paste slip kept for fidelity): 2·((120²+30²)/12 + 15²) = 3000.
const blockMoment = 3000.0

// GoalPose is the target pose of the block, (256, 256, π/4) as in the
// original env.
var GoalPose = Pose{256, 256, math.Pi / 4}

// tBoxes returns the two boxes of a T at pose p in world coordinates.
func tBoxes(p Pose) [2][4]Vec {
	var out [2][4]Vec
	c, s := math.Cos(p.Theta), math.Sin(p.Theta)
	o := Vec{p.X, p.Y}
	for i := range 4 {
		out[0][i] = barLocal[i].rot(c, s).add(o)
		out[1][i] = stemLocal[i].rot(c, s).add(o)
	}
	return out
}

// PolygonArea returns the signed area of a simple polygon by the shoelace
// formula: positive when the vertices go counter-clockwise in a y-up frame
// (clockwise on screen in our y-down frame).
func PolygonArea(pts []Vec) float64 {
	var a float64
	for i := range pts {
		j := (i + 1) % len(pts)
		a += pts[i].X*pts[j].Y - pts[j].X*pts[i].Y
	}
	return a / 2
}

// ClipConvex returns subject ∩ clip for two convex polygons (either winding)
// by the Sutherland–Hodgman algorithm: subject is clipped successively by
// the half-plane of each edge of clip. An empty or degenerate intersection
// returns fewer than 3 points (area 0).
func ClipConvex(subject, clip []Vec) []Vec {
	if len(subject) < 3 || len(clip) < 3 {
		return nil
	}
	// Orientation of clip: inside is where cross(edge, p-a)·sign >= 0.
	sign := 1.0
	if PolygonArea(clip) < 0 {
		sign = -1
	}
	out := append([]Vec(nil), subject...)
	in := make([]Vec, 0, len(subject)+len(clip))
	for i := range clip {
		a, b := clip[i], clip[(i+1)%len(clip)]
		e := b.sub(a)
		in, out = out, in[:0]
		if len(in) == 0 {
			break
		}
		side := func(p Vec) float64 { return sign * e.cross(p.sub(a)) }
		prev := in[len(in)-1]
		sp := side(prev)
		for _, cur := range in {
			sc := side(cur)
			if sc >= 0 {
				if sp < 0 {
					out = append(out, intersect(prev, cur, sp, sc))
				}
				out = append(out, cur)
			} else if sp >= 0 {
				out = append(out, intersect(prev, cur, sp, sc))
			}
			prev, sp = cur, sc
		}
	}
	if len(out) < 3 {
		return nil
	}
	return out
}

// intersect returns the point where segment p→q crosses the clip line, given
// the signed side values sp and sq of its ends (of opposite signs).
func intersect(p, q Vec, sp, sq float64) Vec {
	t := sp / (sp - sq)
	return Vec{p.X + t*(q.X-p.X), p.Y + t*(q.Y-p.Y)}
}

// IntersectionArea returns the area (px²) of the overlap of a T block at
// pose a with a T block at pose b. A T is the union of two convex boxes that
// only share an edge, so the overlap area is the sum over the 2×2 box pairs
// of the convex-convex intersection areas.
func IntersectionArea(a, b Pose) float64 {
	ba, bb := tBoxes(a), tBoxes(b)
	var sum float64
	for i := range 2 {
		for j := range 2 {
			sum += math.Abs(PolygonArea(ClipConvex(ba[i][:], bb[j][:])))
		}
	}
	return sum
}

// CoverageOf returns area(T at p ∩ T at goal) / area(T at goal), the Push-T
// score of Chi et al. (2023), computed exactly (the original uses shapely).
func CoverageOf(p, goal Pose) float64 {
	return math.Min(1, IntersectionArea(p, goal)/TArea)
}

// boxSDF is the signed distance (px) from point q to the convex box (4
// vertices, any winding): negative inside.
func boxSDF(box [4]Vec, q Vec) float64 {
	sign := 1.0
	if PolygonArea(box[:]) < 0 {
		sign = -1
	}
	inside := true
	maxIn := math.Inf(-1) // largest (least negative) signed edge distance
	best := math.Inf(1)
	for i := range 4 {
		a, b := box[i], box[(i+1)%4]
		e := b.sub(a)
		l := e.norm()
		// signed distance to the edge line, positive outside
		d := -sign * e.cross(q.sub(a)) / l
		if d > 0 {
			inside = false
		}
		maxIn = max(maxIn, d)
		best = min(best, segDist(q, a, b))
	}
	if inside {
		return maxIn
	}
	return best
}

// segDist is the distance from point q to segment a–b.
func segDist(q, a, b Vec) float64 {
	e := b.sub(a)
	t := 0.0
	if l2 := e.dot(e); l2 > 0 {
		t = math.Max(0, math.Min(1, q.sub(a).dot(e)/l2))
	}
	return q.sub(a.add(e.scale(t))).norm()
}

// tSDF is the signed distance (px) from world point q to the T at pose p
// (the minimum of the two boxes' distances: exact outside, a bound inside).
func tSDF(p Pose, q Vec) float64 {
	b := tBoxes(p)
	return math.Min(boxSDF(b[0], q), boxSDF(b[1], q))
}

// segSegDist is the distance between segments p1–p2 and q1–q2.
func segSegDist(p1, p2, q1, q2 Vec) float64 {
	d1, d2 := p2.sub(p1), q2.sub(q1)
	den := d1.cross(d2)
	if den != 0 {
		t := q1.sub(p1).cross(d2) / den
		u := q1.sub(p1).cross(d1) / den
		if t >= 0 && t <= 1 && u >= 0 && u <= 1 {
			return 0
		}
	}
	return min(segDist(p1, q1, q2), segDist(p2, q1, q2), segDist(q1, p1, p2), segDist(q2, p1, p2))
}

// segTDist is the distance from segment a–b (world) to the T at pose p.
func segTDist(p Pose, a, b Vec) float64 {
	best := math.Inf(1)
	for _, box := range tBoxes(p) {
		if boxSDF(box, a) <= 0 {
			return 0
		}
		for i := range 4 {
			best = min(best, segSegDist(a, b, box[i], box[(i+1)%4]))
		}
	}
	return best
}

// wrapAngle maps an angle to [−π, π).
func wrapAngle(a float64) float64 {
	a = math.Mod(a+math.Pi, 2*math.Pi)
	if a < 0 {
		a += 2 * math.Pi
	}
	return a - math.Pi
}

// closestOnT returns the point of the T at pose p's boundary nearest to the
// world point q, and its distance.
func closestOnT(p Pose, q Vec) (Vec, float64) {
	best, bd := Vec{}, math.Inf(1)
	for i := range outlineLocal {
		a, b := p.toWorld(outlineLocal[i]), p.toWorld(outlineLocal[(i+1)%len(outlineLocal)])
		e := b.sub(a)
		t := math.Max(0, math.Min(1, q.sub(a).dot(e)/e.dot(e)))
		c := a.add(e.scale(t))
		if d := q.sub(c).norm(); d < bd {
			best, bd = c, d
		}
	}
	return best, bd
}
