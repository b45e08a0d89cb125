package arm

import (
	"image"
	"image/color"
	"math"
	"testing"
)

// countNear counts pixels within tol (per channel) of col.
func countNear(img *image.RGBA, col color.RGBA, tol int) int {
	n := 0
	for i := 0; i < len(img.Pix); i += 4 {
		dr := int(img.Pix[i]) - int(col.R)
		dg := int(img.Pix[i+1]) - int(col.G)
		db := int(img.Pix[i+2]) - int(col.B)
		if max(dr, -dr) <= tol && max(dg, -dg) <= tol && max(db, -db) <= tol {
			n++
		}
	}
	return n
}

func TestImage96(t *testing.T) {
	tests := []struct {
		task   Task
		colors []color.RGBA
	}{
		{Reach, []color.RGBA{ColorTarget}},
		{ReachColor, []color.RGBA{ColorRed, ColorBlue}},
	}
	for _, tc := range tests {
		t.Run(tc.task.String(), func(t *testing.T) {
			env, _ := New(DefaultConfig(tc.task))
			x := DefaultExpert()
			for seed := int64(0); seed < 10; seed++ {
				o := env.Reset(seed)
				for s := 0; s < 3; s++ {
					o, _, _, _ = env.Step(x.Act(o))
				}
				img := env.Image96()
				if img.Bounds() != image.Rect(0, 0, 96, 96) {
					t.Fatalf("bounds %v", img.Bounds())
				}
				bg := countNear(img, ColorBackground, 0)
				link := countNear(img, ColorLink, 10)
				if bg == 96*96 || bg < 96*96/10 || link < 50 {
					t.Errorf("seed %d: %d background and %d link pixels of %d", seed, bg, link, 96*96)
				}
				for _, col := range tc.colors {
					if n := countNear(img, col, 40); n < 4 {
						t.Errorf("seed %d: only %d pixels of target colour %v", seed, n, col)
					}
				}
			}
		})
	}
}

func TestRenderSizesAndDeterminism(t *testing.T) {
	env, _ := New(DefaultConfig(ReachColor))
	env.Reset(5)
	a, b := env.Render(256), env.Render(256)
	if a.Bounds().Dx() != 256 || a.Bounds().Dy() != 256 {
		t.Fatalf("bounds %v", a.Bounds())
	}
	for i := range a.Pix {
		if a.Pix[i] != b.Pix[i] {
			t.Fatal("two renders of the same state differ")
		}
	}
}

func TestProject(t *testing.T) {
	cam := DefaultCamera()
	x, y, z := cam.Project(cam.LookAt, 96)
	if math.Abs(x-48) > 1e-9 || math.Abs(y-48) > 1e-9 || !(z > 0) {
		t.Errorf("look-at point projects to (%g, %g) at depth %g; want the centre", x, y, z)
	}
	// Up in the world is up in the image; the robot's reach stays in view.
	_, yLow, _ := cam.Project([3]float64{0, 0, 0}, 96)
	_, yHigh, _ := cam.Project([3]float64{0, 0, 1}, 96)
	if !(yHigh < yLow) {
		t.Errorf("z up maps to image y %g → %g; want decreasing", yLow, yHigh)
	}
	cfg := DefaultConfig(Reach)
	for _, p := range [][3]float64{cfg.WorkspaceMin, cfg.WorkspaceMax, {0.6, -0.3, 0.1}, {0.3, 0.3, 0.5}, FK([7]float64{}).Joint[6].Pos} {
		if x, y, _ := cam.Project(p, 96); x < 0 || x > 96 || y < 0 || y > 96 {
			t.Errorf("%v projects outside the image at (%g, %g)", p, x, y)
		}
	}
}
