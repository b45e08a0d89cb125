// Package raster is the small pure-Go rasterizer the simulators draw their
// camera images with: filled convex or concave polygons, circles and
// capsules (thick segments), anti-aliased by supersampling, on an RGBA
// canvas in pixel coordinates (x right, y down).
package raster

import (
	"image"
	"image/color"
	"math"
	"sort"
)

// Canvas accumulates shapes at SS×SS samples per pixel; Image resolves them.
type Canvas struct {
	W, H int
	SS   int          // samples per pixel side (1: aliased; 3: smooth)
	buf  []color.RGBA // (W*SS) x (H*SS) samples, row-major
}

// New makes a canvas of w×h pixels filled with bg, supersampled ss×ss.
func New(w, h, ss int, bg color.RGBA) *Canvas {
	ss = max(ss, 1)
	c := &Canvas{W: w, H: h, SS: ss, buf: make([]color.RGBA, w*ss*h*ss)}
	for i := range c.buf {
		c.buf[i] = bg
	}
	return c
}

// Point is a position in pixel coordinates.
type Point struct{ X, Y float64 }

// Polygon fills the polygon (any simple polygon, given in order) with col,
// by the even-odd rule, sampling at sample centres.
func (c *Canvas) Polygon(pts []Point, col color.RGBA) {
	if len(pts) < 3 {
		return
	}
	ss := float64(c.SS)
	sw, sh := c.W*c.SS, c.H*c.SS
	minY, maxY := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		minY, maxY = min(minY, p.Y*ss), max(maxY, p.Y*ss)
	}
	y0 := max(int(math.Floor(minY)), 0)
	y1 := min(int(math.Ceil(maxY)), sh-1)
	xs := make([]float64, 0, 8)
	for sy := y0; sy <= y1; sy++ {
		y := float64(sy) + 0.5
		xs = xs[:0]
		for i := range pts {
			a, b := pts[i], pts[(i+1)%len(pts)]
			ay, by := a.Y*ss, b.Y*ss
			if (ay <= y && by > y) || (by <= y && ay > y) {
				t := (y - ay) / (by - ay)
				xs = append(xs, (a.X+t*(b.X-a.X))*ss)
			}
		}
		sort.Float64s(xs)
		for k := 0; k+1 < len(xs); k += 2 {
			xa := max(int(math.Ceil(xs[k]-0.5)), 0)
			xb := min(int(math.Floor(xs[k+1]-0.5)), sw-1)
			row := c.buf[sy*sw:]
			for sx := xa; sx <= xb; sx++ {
				row[sx] = col
			}
		}
	}
}

// Circle fills a disc of radius r (pixels) centred at p.
func (c *Canvas) Circle(p Point, r float64, col color.RGBA) {
	ss := float64(c.SS)
	sw, sh := c.W*c.SS, c.H*c.SS
	cx, cy, rr := p.X*ss, p.Y*ss, r*ss
	y0, y1 := max(int(math.Floor(cy-rr)), 0), min(int(math.Ceil(cy+rr)), sh-1)
	for sy := y0; sy <= y1; sy++ {
		dy := float64(sy) + 0.5 - cy
		if dy*dy > rr*rr {
			continue
		}
		half := math.Sqrt(rr*rr - dy*dy)
		xa := max(int(math.Ceil(cx-half-0.5)), 0)
		xb := min(int(math.Floor(cx+half-0.5)), sw-1)
		row := c.buf[sy*sw:]
		for sx := xa; sx <= xb; sx++ {
			row[sx] = col
		}
	}
}

// Capsule fills the set of points within r of the segment a–b: a link of a
// robot arm seen from the side.
func (c *Canvas) Capsule(a, b Point, r float64, col color.RGBA) {
	dx, dy := b.X-a.X, b.Y-a.Y
	l := math.Hypot(dx, dy)
	if l > 1e-9 {
		nx, ny := -dy/l*r, dx/l*r
		c.Polygon([]Point{{a.X + nx, a.Y + ny}, {b.X + nx, b.Y + ny}, {b.X - nx, b.Y - ny}, {a.X - nx, a.Y - ny}}, col)
	}
	c.Circle(a, r, col)
	c.Circle(b, r, col)
}

// Image averages the samples of each pixel into an RGBA image.
func (c *Canvas) Image() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, c.W, c.H))
	sw := c.W * c.SS
	n := uint32(c.SS * c.SS)
	for y := 0; y < c.H; y++ {
		for x := 0; x < c.W; x++ {
			var r, g, b, a uint32
			for j := 0; j < c.SS; j++ {
				row := c.buf[(y*c.SS+j)*sw+x*c.SS:]
				for i := 0; i < c.SS; i++ {
					s := row[i]
					r, g, b, a = r+uint32(s.R), g+uint32(s.G), b+uint32(s.B), a+uint32(s.A)
				}
			}
			o := img.PixOffset(x, y)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = uint8(r/n), uint8(g/n), uint8(b/n), uint8(a/n)
		}
	}
	return img
}
