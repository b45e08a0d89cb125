package arm

import (
	"image"
	"image/color"
	"math"
	"sort"

	"github.com/policylab/policylab/lessons/raster"
)

// Camera is a pinhole camera: it sits at Eye, looks at LookAt with Up
// pointing up in the image, and spans FovY radians vertically (square
// images). Positions are in metres in the base frame.
type Camera struct {
	Eye, LookAt, Up [3]float64
	FovY            float64
}

// DefaultCamera looks at the robot from the front-left, slightly above:
// eye at (1.5, 1.1, 1.2) m, looking at (0.2, 0, 0.48) m, 40° field of view.
func DefaultCamera() Camera {
	return Camera{
		Eye:    [3]float64{1.5, 1.1, 1.2},
		LookAt: [3]float64{0.2, 0.0, 0.48},
		Up:     [3]float64{0, 0, 1},
		FovY:   40 * math.Pi / 180,
	}
}

// view is a camera prepared for projecting into a size×size image.
type view struct {
	eye, r, u, f [3]float64 // right, up, forward unit vectors
	focal, half  float64    // pixels
}

func (c Camera) view(size int) view {
	f := normalize(sub(c.LookAt, c.Eye))
	r := normalize(cross(f, c.Up))
	u := cross(r, f)
	half := float64(size) / 2
	return view{eye: c.Eye, r: r, u: u, f: f, half: half, focal: half / math.Tan(c.FovY/2)}
}

// project returns the pixel position of p (x right, y down) and its depth
// along the viewing direction, in metres.
func (v *view) project(p [3]float64) (raster.Point, float64) {
	d := sub(p, v.eye)
	z := max(dot(d, v.f), 1e-6)
	return raster.Point{X: v.half + v.focal*dot(d, v.r)/z, Y: v.half - v.focal*dot(d, v.u)/z}, z
}

// Project returns where the camera sees point p (metres, base frame) in a
// size×size image: pixel coordinates (x right, y down) and the depth along
// the viewing direction, in metres.
func (c Camera) Project(p [3]float64, size int) (x, y, depth float64) {
	v := c.view(size)
	pt, z := v.project(p)
	return pt.X, pt.Y, z
}

// Colours of the scene.
var (
	ColorBackground = color.RGBA{226, 230, 236, 255}
	ColorFloor      = color.RGBA{176, 168, 152, 255}
	ColorShadow     = color.RGBA{140, 133, 120, 255}
	ColorLink       = color.RGBA{245, 245, 245, 255}
	ColorOutline    = color.RGBA{70, 70, 76, 255}
	ColorHand       = color.RGBA{60, 60, 66, 255}
	ColorTarget     = color.RGBA{40, 170, 70, 255} // Reach
	ColorRed        = color.RGBA{220, 30, 30, 255} // ReachColor: Targets[0]
	ColorBlue       = color.RGBA{30, 70, 225, 255} // ReachColor: Targets[1]
	baseColors      = [3]color.RGBA{{95, 95, 102, 255}, {120, 120, 128, 255}, {150, 150, 158, 255}}
)

// Visual sizes, in metres.
const (
	linkRadius   = 0.055
	handRadius   = 0.03
	targetRadius = 0.03
	baseHalf     = 0.12 // half-width of the base box
	baseHeight   = 0.08
)

// Render draws the scene in a size×size RGB image through DefaultCamera:
// the floor, the base as a box, the links as capsules between successive
// joint origins (white with dark outlines), the hand as a dark capsule, and
// the targets as coloured discs with shadows on the floor; nearer things
// are drawn over farther ones (painter's algorithm on depth). It is
// supersampled 3×3 up to 128 pixels and 2×2 above.
func (e *Env) Render(size int) *image.RGBA {
	return RenderScene(DefaultCamera(), e.q, e.targets[:e.nTargets], e.cfg.Task, size)
}

// Image96 is Render(96): the policy's camera image.
func (e *Env) Image96() *image.RGBA { return e.Render(96) }

// RenderScene draws the arm at joint angles q (rad) with the given targets
// (metres; coloured as for task) seen by cam, in a size×size image; see
// Env.Render.
func RenderScene(cam Camera, q [7]float64, targets [][3]float64, task Task, size int) *image.RGBA {
	ss := 3
	if size > 128 {
		ss = 2
	}
	cv := raster.New(size, size, ss, ColorBackground)
	v := cam.view(size)
	px := v.focal // pixels per metre at depth 1 m

	// Floor: a square of 1.6 m around the work area, then target shadows.
	var floor []raster.Point
	for _, c := range [][2]float64{{-0.5, -0.8}, {1.1, -0.8}, {1.1, 0.8}, {-0.5, 0.8}} {
		p, _ := v.project([3]float64{c[0], c[1], 0})
		floor = append(floor, p)
	}
	cv.Polygon(floor, ColorFloor)
	for _, t := range targets {
		p, z := v.project([3]float64{t[0], t[1], 0})
		cv.Circle(p, max(px*targetRadius/z, 1.5), ColorShadow)
	}

	type item struct {
		depth float64
		draw  func()
	}
	var items []item

	// Base box: draw the faces turned toward the camera.
	_, zBase := v.project([3]float64{0, 0, baseHeight / 2})
	items = append(items, item{depth: zBase, draw: func() { drawBase(cv, &v) }})

	// Links between successive distinct joint origins, then the hand.
	c := FK(q)
	pts := [][3]float64{{0, 0, baseHeight}}
	for _, j := range c.Joint {
		if dist(j.Pos, pts[len(pts)-1]) > 1e-6 {
			pts = append(pts, j.Pos)
		}
	}
	pts = append(pts, c.Flange.Pos)
	for i := 0; i+1 < len(pts); i++ {
		a, b := pts[i], pts[i+1]
		pa, za := v.project(a)
		pb, zb := v.project(b)
		ra, rb := px*linkRadius/za, px*linkRadius/zb
		r := (ra + rb) / 2
		outline := max(r*0.15, 0.6)
		items = append(items, item{depth: (za + zb) / 2, draw: func() {
			cv.Capsule(pa, pb, r+outline, ColorOutline)
			cv.Capsule(pa, pb, r, ColorLink)
		}})
	}
	{
		pa, za := v.project(c.Flange.Pos)
		pb, zb := v.project(c.EE.Pos)
		r := max(px*handRadius*2/(za+zb), 1)
		items = append(items, item{depth: (za + zb) / 2, draw: func() { cv.Capsule(pa, pb, r, ColorHand) }})
	}

	// Targets.
	for i, t := range targets {
		col := ColorTarget
		if task.TwoTargets() {
			col = ColorRed
			if i == 1 {
				col = ColorBlue
			}
		}
		p, z := v.project(t)
		r := max(px*targetRadius/z, 2.5*float64(size)/96)
		items = append(items, item{depth: z, draw: func() {
			cv.Circle(p, r+max(r*0.15, 0.6), ColorOutline)
			cv.Circle(p, r, col)
		}})
	}

	sort.SliceStable(items, func(i, j int) bool { return items[i].depth > items[j].depth })
	for _, it := range items {
		it.draw()
	}
	return cv.Image()
}

// drawBase draws the visible faces of the base box.
func drawBase(cv *raster.Canvas, v *view) {
	h, t := baseHalf, baseHeight
	faces := []struct {
		n   [3]float64
		pts [4][3]float64
		col int
	}{
		{[3]float64{0, 0, 1}, [4][3]float64{{-h, -h, t}, {h, -h, t}, {h, h, t}, {-h, h, t}}, 2},
		{[3]float64{1, 0, 0}, [4][3]float64{{h, -h, 0}, {h, h, 0}, {h, h, t}, {h, -h, t}}, 1},
		{[3]float64{-1, 0, 0}, [4][3]float64{{-h, -h, 0}, {-h, h, 0}, {-h, h, t}, {-h, -h, t}}, 1},
		{[3]float64{0, 1, 0}, [4][3]float64{{-h, h, 0}, {h, h, 0}, {h, h, t}, {-h, h, t}}, 0},
		{[3]float64{0, -1, 0}, [4][3]float64{{-h, -h, 0}, {h, -h, 0}, {h, -h, t}, {-h, -h, t}}, 0},
	}
	for _, f := range faces {
		centre := [3]float64{}
		for _, p := range f.pts {
			for k := 0; k < 3; k++ {
				centre[k] += p[k] / 4
			}
		}
		if dot(f.n, sub(v.eye, centre)) <= 0 {
			continue
		}
		poly := make([]raster.Point, 4)
		for i, p := range f.pts {
			poly[i], _ = v.project(p)
		}
		cv.Polygon(poly, baseColors[f.col])
	}
}

func sub(a, b [3]float64) [3]float64 { return [3]float64{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }
func dot(a, b [3]float64) float64    { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }
func cross(a, b [3]float64) [3]float64 {
	return [3]float64{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}
func normalize(a [3]float64) [3]float64 {
	n := math.Sqrt(dot(a, a))
	if n == 0 {
		return a
	}
	return [3]float64{a[0] / n, a[1] / n, a[2] / n}
}
