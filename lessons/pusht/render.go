package pusht

import (
	"image"
	"image/color"

	"github.com/policylab/policylab/lessons/raster"
)

// Colours of the rendering. Departure: the original draws on white with
// pygame; we use a light grey background so that the light-green goal
// stands out in small images. Goal (LightGreen), block (LightSlateGray) and
// agent (RoyalBlue) follow the original's pygame colour names.
var (
	ColorBackground = color.RGBA{236, 236, 236, 255}
	ColorWall       = color.RGBA{170, 170, 170, 255}
	ColorGoal       = color.RGBA{144, 238, 144, 255}
	ColorGoalEdge   = color.RGBA{60, 179, 113, 255}
	ColorBlock      = color.RGBA{119, 136, 153, 255}
	ColorAgent      = color.RGBA{65, 105, 225, 255}
)

// Render draws the scene as a size×size RGBA image: the whole 512×512 px
// workspace scaled by size/512, y down (no flip: world and image frames
// agree). 96 gives the paper's image observation; 256 or 512 suit GIFs.
func (e *Env) Render(size int) *image.RGBA {
	return renderScene(size, e.AgentPos(), e.BlockPose())
}

// RenderState draws the scene of a state [agent x, agent y, block x,
// block y, block angle] (the layout of Obs.State) as Render draws the
// environment's, without touching an environment: the image Render gives
// after ResetTo(state) when the agent does not overlap the block.
func RenderState(state [5]float64, size int) *image.RGBA {
	return renderScene(size, Vec{state[0], state[1]}, Pose{state[2], state[3], state[4]})
}

// Image96 returns the 96×96 RGB image observation of the paper's image
// variant (alpha is always 255).
func (e *Env) Image96() *image.RGBA { return e.Render(96) }

func renderScene(size int, agent Vec, block Pose) *image.RGBA {
	if size <= 0 {
		size = 96
	}
	ss := 3
	if size >= 256 {
		ss = 2
	}
	c := raster.New(size, size, ss, ColorBackground)
	k := float64(size) / WorkspaceSize
	pt := func(v Vec) raster.Point { return raster.Point{X: v.X * k, Y: v.Y * k} }
	// Walls: capsules of radius 2 along the four border segments.
	corners := [4]Vec{{wallLo, wallLo}, {wallHi, wallLo}, {wallHi, wallHi}, {wallLo, wallHi}}
	for i := range 4 {
		c.Capsule(pt(corners[i]), pt(corners[(i+1)%4]), max(wallRadius*k, 0.5), ColorWall)
	}
	// drawT fills the T outline (a concave octagon) at pose p, shrunk by
	// inset pixels of the block frame.
	drawT := func(p Pose, col color.RGBA, inset float64) {
		d := inset
		o := [8]Vec{
			{-60 + d, d}, {60 - d, d}, {60 - d, 30 - d}, {15 - d, 30 - d},
			{15 - d, 120 - d}, {-15 + d, 120 - d}, {-15 + d, 30 - d}, {-60 + d, 30 - d},
		}
		pts := make([]raster.Point, 8)
		for i, v := range o {
			pts[i] = pt(p.toWorld(v))
		}
		c.Polygon(pts, col)
	}
	// Goal: a darker green outline (about 1.5 output pixels) around a light
	// green fill.
	drawT(GoalPose, ColorGoalEdge, 0)
	drawT(GoalPose, ColorGoal, 1.5/k)
	drawT(block, ColorBlock, 0)
	c.Circle(pt(agent), AgentRadius*k, ColorAgent)
	return c.Image()
}
