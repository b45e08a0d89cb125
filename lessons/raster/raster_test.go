package raster

import (
	"image/color"
	"math"
	"testing"
)

var (
	white = color.RGBA{255, 255, 255, 255}
	black = color.RGBA{0, 0, 0, 255}
)

// coverage is the fraction of ink (dark) in the image.
func coverage(c *Canvas) float64 {
	img := c.Image()
	var sum float64
	for i := 0; i < len(img.Pix); i += 4 {
		sum += 1 - float64(img.Pix[i])/255
	}
	return sum / float64(c.W*c.H)
}

func TestAreas(t *testing.T) {
	const w, h = 64, 64
	tests := []struct {
		name string
		draw func(c *Canvas)
		area float64 // exact area in pixels
	}{
		{"square", func(c *Canvas) { c.Polygon([]Point{{10, 10}, {30, 10}, {30, 30}, {10, 30}}, black) }, 400},
		{"triangle", func(c *Canvas) { c.Polygon([]Point{{0, 0}, {40, 0}, {0, 40}}, black) }, 800},
		{"concave L", func(c *Canvas) {
			c.Polygon([]Point{{10, 10}, {40, 10}, {40, 20}, {20, 20}, {20, 40}, {10, 40}}, black)
		}, 300 + 200},
		{"circle", func(c *Canvas) { c.Circle(Point{32, 32}, 10, black) }, math.Pi * 100},
		{"capsule", func(c *Canvas) { c.Capsule(Point{16, 32}, Point{46, 32}, 5, black) }, 30*10 + math.Pi*25},
		{"clipped at the border", func(c *Canvas) { c.Polygon([]Point{{-10, -10}, {10, -10}, {10, 10}, {-10, 10}}, black) }, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(w, h, 4, white)
			tc.draw(c)
			got := coverage(c) * w * h
			if math.Abs(got-tc.area) > 0.03*tc.area+2 {
				t.Errorf("ink area %.1f px, want %.1f", got, tc.area)
			}
		})
	}
}

func TestDegenerate(t *testing.T) {
	c := New(8, 8, 1, white)
	c.Polygon([]Point{{1, 1}, {5, 5}}, black) // fewer than 3 points: nothing
	c.Capsule(Point{4, 4}, Point{4, 4}, 0, black)
	if coverage(c) != 0 {
		t.Errorf("degenerate shapes drew ink")
	}
}
