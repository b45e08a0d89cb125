package dp

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/gomlx/compute"

	"github.com/policylab/policylab/lessons/bc"
	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/plot"
	"github.com/policylab/policylab/lessons/trainer"
)

// Obstacle is the lesson's 2-D picture of multimodal demonstrations: a
// point starts below a round obstacle and must reach a goal above it.
// Half of the demonstrations pass on the left and half on the right, each
// along a quadratic Bézier arc that clears the obstacle by Clearance.
// A regression policy averages the two arcs into a path through the
// obstacle; a diffusion policy samples one arc or the other.
//
// The state is the point's position (x, y); the action is the next
// waypoint, in the same units.
type Obstacle struct {
	Radius     float64    // obstacle radius, centred at the origin
	Clearance  float64    // how far the demonstrated arcs pass from the obstacle
	Start      [2]float64 // mean start position
	Goal       [2]float64 // goal position
	StartNoise float64    // std of the start position around Start
	Steps      int        // waypoints per demonstration
}

// DefaultObstacle: radius 0.3 at the origin, start (0, −1) ± 0.03, goal
// (0, 1), arcs 0.3 clear of the obstacle, 20 steps.
func DefaultObstacle() Obstacle {
	return Obstacle{Radius: 0.3, Clearance: 0.3, Start: [2]float64{0, -1}, Goal: [2]float64{0, 1}, StartNoise: 0.03, Steps: 20}
}

// Arc is the demonstration from start on side −1 (left) or +1 (right):
// Steps+1 points from start to the goal.
func (o Obstacle) Arc(start [2]float64, side float64) [][2]float64 {
	// B(u) = (1−u)²·S + 2u(1−u)·C + u²·G reaches x = C/2 at u = ½ for a
	// start and goal on the y axis, so C = 2·(Radius + Clearance) passes the
	// obstacle by Clearance.
	c := [2]float64{side * 2 * (o.Radius + o.Clearance), -(start[1] + o.Goal[1]) / 2}
	pts := make([][2]float64, o.Steps+1)
	for i := range pts {
		u := float64(i) / float64(o.Steps)
		a, b, d := (1-u)*(1-u), 2*u*(1-u), u*u
		pts[i] = [2]float64{a*start[0] + b*c[0] + d*o.Goal[0], a*start[1] + b*c[1] + d*o.Goal[1]}
	}
	return pts
}

// Demos records n demonstrations (seeded): the first half of the sides
// drawn at random are left, the rest right, in random order.
func (o Obstacle) Demos(n int, seed int64) (*data.Dataset, error) {
	if n < 2 || o.Steps < 2 || !(o.Radius > 0) {
		return nil, fmt.Errorf("dp: Obstacle.Demos: n = %d and Steps = %d must be >= 2, Radius = %v > 0", n, o.Steps, o.Radius)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	ds := &data.Dataset{Name: "obstacle-2d", FPS: 10, RobotType: "point", StateNames: []string{"x", "y"}, ActionNames: []string{"next_x", "next_y"}}
	sides := rng.Perm(n)
	for i := 0; i < n; i++ {
		side := -1.0
		if sides[i]%2 == 1 {
			side = 1
		}
		start := [2]float64{o.Start[0] + o.StartNoise*rng.NormFloat64(), o.Start[1] + o.StartNoise*rng.NormFloat64()}
		pts := o.Arc(start, side)
		ep := data.Episode{Index: i, Seed: int64(i), Success: true, Score: 1}
		for t := 0; t < o.Steps; t++ {
			ep.States = append(ep.States, []float32{float32(pts[t][0]), float32(pts[t][1])})
			ep.Actions = append(ep.Actions, []float32{float32(pts[t+1][0]), float32(pts[t+1][1])})
		}
		ds.Episodes = append(ds.Episodes, ep)
	}
	return ds, nil
}

// Hits reports whether a path of waypoints enters the obstacle (segments
// between waypoints are checked too).
func (o Obstacle) Hits(path [][]float32) bool {
	for i := range path {
		if math.Hypot(float64(path[i][0]), float64(path[i][1])) < o.Radius {
			return true
		}
		if i > 0 && segmentDist(path[i-1], path[i]) < o.Radius {
			return true
		}
	}
	return false
}

// MidX is where a path crosses the obstacle's height: the mean x of its
// waypoints with |y| < Radius (the waypoint nearest y = 0 when none is).
// |MidX| > Radius passes beside the obstacle, on the left when negative;
// unlike Hits it forgives a jittery sample that grazes the obstacle.
func (o Obstacle) MidX(path [][]float32) float64 {
	sum, n := 0.0, 0
	best, bx := math.Inf(1), 0.0
	for _, p := range path {
		y := math.Abs(float64(p[1]))
		if y < o.Radius {
			sum += float64(p[0])
			n++
		}
		if y < best {
			best, bx = y, float64(p[0])
		}
	}
	if n == 0 {
		return bx
	}
	return sum / float64(n)
}

// segmentDist is the distance from the origin to the segment a–b.
func segmentDist(a, b []float32) float64 {
	ax, ay, bx, by := float64(a[0]), float64(a[1]), float64(b[0]), float64(b[1])
	dx, dy := bx-ax, by-ay
	l2 := dx*dx + dy*dy
	u := 0.0
	if l2 > 0 {
		u = math.Max(0, math.Min(1, -(ax*dx+ay*dy)/l2))
	}
	return math.Hypot(ax+u*dx, ay+u*dy)
}

// Circle is the obstacle's outline as n+1 points, for plots.
func (o Obstacle) Circle(n int) [][2]float64 {
	pts := make([][2]float64, n+1)
	for i := range pts {
		a := 2 * math.Pi * float64(i) / float64(n)
		pts[i] = [2]float64{o.Radius * math.Cos(a), o.Radius * math.Sin(a)}
	}
	return pts
}

// ToyConfig is the diffusion policy the lesson trains on the obstacle toy:
// DefaultConfig with a U-Net of 32/64 channels (time embedding 32), which
// trains in about two minutes on two cores.
func ToyConfig() Config {
	c := DefaultConfig()
	c.UNet.DownDims, c.UNet.TimeEmbedDim = []int{32, 64}, 32
	return c
}

// Sides counts how paths pass the obstacle (by MidX): on the left, on the
// right, or through the middle.
func (o Obstacle) Sides(paths [][][]float32) (left, right, through int) {
	for _, s := range paths {
		switch x := o.MidX(s); {
		case x < -o.Radius:
			left++
		case x > o.Radius:
			right++
		default:
			through++
		}
	}
	return left, right, through
}

// ToyResult is the obstacle lesson's experiment: 40 samples of each
// diffusion policy from the mean start, and BC's one chunk from there.
type ToyResult struct {
	Obstacle Obstacle
	Demos    *data.Dataset
	// UNet: ToyConfig (Diffusion Policy's temporal U-Net); Chapter: the
	// chapter's MLP NoisePredictor (ChapterConfig). [40][PredHorizon][2].
	UNet, Chapter [][][]float32
	// BC is the chunked BC MLP's prediction: [16][2].
	BC [][]float32
}

// ToyExperiment trains, on 100 obstacle demonstrations (seed 1), the
// U-Net diffusion policy (ToyConfig, 1,000 steps at batch 32, checkpointed
// in unetDir when it is not empty), the chapter's diffusion policy (2,000
// steps at batch 64) and the chunked BC MLP (16 actions, 1,000 steps), and
// samples each from the mean start. About 3 minutes on two cores.
//
// The U-Net's budget was 1,500 steps at batch 64 until 2026-11-26. A
// quarter of the work samples both sides as well (40 samples from the
// start, measured on 2 cores shared with other work: 1,500 × 64 16 left,
// 24 right, 0 through the middle in 482 s; 1,000 × 32 15, 23 and 2 in
// 155 s).
func ToyExperiment(b compute.Backend, unetDir string, progress io.Writer) (*ToyResult, error) {
	return toyExperiment(b, unetDir, progress, true)
}

// toyExperiment is ToyExperiment; without chapter it leaves the chapter's
// MLP policy out (r.Chapter stays nil), as the test of the lesson's claims
// (both modes for the U-Net, the average for BC) does.
func toyExperiment(b compute.Backend, unetDir string, progress io.Writer, chapter bool) (*ToyResult, error) {
	o := DefaultObstacle()
	demos, err := o.Demos(100, 1)
	if err != nil {
		return nil, err
	}
	r := &ToyResult{Obstacle: o, Demos: demos}
	start := []float32{float32(o.Start[0]), float32(o.Start[1])}
	for _, run := range []struct {
		cfg          Config
		steps, batch int
		dir          string
		out          *[][][]float32
	}{{ToyConfig(), 1000, 32, unetDir, &r.UNet}, {ChapterConfig(), 2000, 64, "", &r.Chapter}} {
		if run.out == &r.Chapter && !chapter {
			continue
		}
		tc := trainer.DefaultConfig()
		tc.Steps, tc.WarmupSteps, tc.BatchSize, tc.Dir, tc.Progress = run.steps, run.steps/10, run.batch, run.dir, progress
		p, _, err := Train(b, run.cfg, nil, demos, tc)
		if err != nil {
			return nil, err
		}
		win := make([][]float32, run.cfg.ObsHorizon)
		for i := range win {
			win[i] = start
		}
		if *run.out, err = p.Sample(win, 40, rand.New(rand.NewPCG(1, 2)), SampleOptions{}); err != nil {
			return nil, err
		}
	}
	cfg := bc.DefaultConfig()
	cfg.Chunk = 16
	bp, err := bc.NewMLP(b, cfg)
	if err != nil {
		return nil, err
	}
	if err := bp.Fit(demos, 0.05, 1); err != nil {
		return nil, err
	}
	tc := trainer.DefaultConfig()
	tc.Steps, tc.Progress = 1000, progress
	if _, err := trainer.Train(bp, tc); err != nil {
		return nil, err
	}
	chunks, err := bp.PredictBatch([][]float32{start})
	if err != nil {
		return nil, err
	}
	r.BC = chunks[0]
	return r, nil
}

// Table counts, per policy, the paths passing left, right and through the
// middle, and those touching the obstacle anywhere (Markdown).
func (r *ToyResult) Table() string {
	var sb strings.Builder
	sb.WriteString("| policy | paths | left | right | through the middle | touch the obstacle |\n|---|---|---|---|---|---|\n")
	for _, row := range []struct {
		name  string
		paths [][][]float32
	}{{"diffusion, temporal U-Net", r.UNet}, {"diffusion, the chapter's MLP", r.Chapter}, {"BC (MSE), 16-action chunk", [][][]float32{r.BC}}} {
		l, rt, th := r.Obstacle.Sides(row.paths)
		hits := 0
		for _, p := range row.paths {
			if r.Obstacle.Hits(p) {
				hits++
			}
		}
		fmt.Fprintf(&sb, "| %s | %d | %d | %d | %d | %d |\n", row.name, len(row.paths), l, rt, th, hits)
	}
	return sb.String()
}

// Chart plots the demonstrations, the obstacle and each policy's paths.
func (r *ToyResult) Chart() plot.Chart {
	return r.Obstacle.Chart("Passing an obstacle: demonstrations and sampled action sequences", r.Demos,
		PathSet{Name: "diffusion (U-Net) samples", Paths: r.UNet},
		PathSet{Name: "diffusion (chapter's MLP) samples", Paths: r.Chapter},
		PathSet{Name: "BC chunk", Paths: [][][]float32{r.BC}})
}
