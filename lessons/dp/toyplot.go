package dp

import (
	"image"
	"image/color"
	"math/rand/v2"

	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/plot"
	"github.com/policylab/policylab/lessons/raster"
)

// Denoise samples n action sequences for one observation window, like
// Sample, and keeps every intermediate: frames[k] holds the samples after
// k+1 denoising steps, in environment units: [steps][n][PredHorizon]
// [ActionDim]. The last frame is what Sample returns for the same rng
// state.
func (p *Policy) Denoise(obs [][]float32, n int, rng *rand.Rand) ([][][][]float32, error) {
	c := p.cfg
	var frames [][][][]float32
	_, err := p.Sample(obs, n, rng, SampleOptions{OnStep: func(_ int, x []float32) {
		f := make([][][]float32, n)
		for b := range f {
			f[b] = make([][]float32, c.PredHorizon)
			for k := range f[b] {
				i := (b*c.PredHorizon + k) * c.ActionDim
				f[b][k] = p.actNorm.Unnormalized(x[i : i+c.ActionDim])
			}
		}
		frames = append(frames, f)
	}})
	if err != nil {
		return nil, err
	}
	return frames, nil
}

// PathSet names a group of 2-D paths drawn in one colour.
type PathSet struct {
	Name  string
	Paths [][][]float32 // [paths][points][2]
}

// Chart plots the toy: the obstacle, the demonstrations (thin grey) and
// each set of paths (e.g. diffusion samples, BC's chunk) in its colour.
func (o Obstacle) Chart(title string, demos *data.Dataset, sets ...PathSet) plot.Chart {
	var groups []plot.PathGroup
	if demos != nil {
		g := plot.PathGroup{Name: "demonstrations"}
		for _, ep := range demos.Episodes {
			g.Paths = append(g.Paths, toXY(append(ep.States, ep.Actions[len(ep.Actions)-1])))
		}
		groups = append(groups, g)
	}
	groups = append(groups, plot.PathGroup{Name: "obstacle", Paths: [][][2]float64{o.Circle(48)}})
	for _, s := range sets {
		g := plot.PathGroup{Name: s.Name}
		for _, p := range s.Paths {
			g.Paths = append(g.Paths, toXY(p))
		}
		groups = append(groups, g)
	}
	return plot.PathGroups(title, groups...)
}

func toXY(path [][]float32) [][2]float64 {
	out := make([][2]float64, len(path))
	for i, p := range path {
		out[i] = [2]float64{float64(p[0]), float64(p[1])}
	}
	return out
}

// Toy frame colours.
var (
	toyBackground = color.RGBA{250, 250, 250, 255}
	toyObstacle   = color.RGBA{120, 120, 120, 255}
	toyGoal       = color.RGBA{60, 179, 113, 255}
	toyPath       = color.RGBA{65, 105, 225, 255}
)

// Frame draws paths [n][points][2] over the obstacle as a size×size image
// of the square [-1.5, 1.5]² (y up), for animations of the denoising.
func (o Obstacle) Frame(paths [][][]float32, size int) *image.RGBA {
	c := raster.New(size, size, 2, toyBackground)
	k := float64(size) / 3
	pt := func(x, y float64) raster.Point { return raster.Point{X: (x + 1.5) * k, Y: (1.5 - y) * k} }
	c.Circle(pt(0, 0), o.Radius*k, toyObstacle)
	c.Circle(pt(o.Goal[0], o.Goal[1]), 0.05*k, toyGoal)
	r := max(0.6, float64(size)/300)
	for _, p := range paths {
		for i := 1; i < len(p); i++ {
			c.Capsule(pt(float64(p[i-1][0]), float64(p[i-1][1])), pt(float64(p[i][0]), float64(p[i][1])), r, toyPath)
		}
	}
	return c.Image()
}

// Frames draws each denoising step of Denoise as a Frame, holding the
// last one for hold extra frames so an animation pauses on the result.
func (o Obstacle) Frames(steps [][][][]float32, size, hold int) []image.Image {
	var out []image.Image
	for _, s := range steps {
		out = append(out, o.Frame(s, size))
	}
	for i := 0; i < hold && len(out) > 0; i++ {
		out = append(out, out[len(out)-1])
	}
	return out
}
