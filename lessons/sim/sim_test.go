package sim

import (
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/pusht"
)

func TestArmAdapter(t *testing.T) {
	for _, task := range []arm.Task{arm.Reach, arm.ReachColor} {
		f := ArmFactory(arm.DefaultConfig(task), true)
		env, err := f.NewEnv()
		if err != nil {
			t.Fatal(err)
		}
		s := env.Spec()
		if s.StateDim() != arm.VectorDim || s.ActionDim() != 7 || len(s.ActionLow) != 7 || s.ControlHz != 10 {
			t.Fatalf("%s spec = %+v", s.Name, s)
		}
		x := f.NewExpert()
		obs := env.Reset(3)
		x.Reset(3)
		if obs.Image == nil || obs.Image.Bounds().Dx() != 96 {
			t.Fatalf("images on but obs.Image = %v", obs.Image)
		}
		solved := false
		for i := 0; i < s.MaxSteps && !solved; i++ {
			st := env.Step(x.Act(obs))
			obs, solved = st.Obs, st.Success
			if st.Done && !st.Success {
				break
			}
		}
		if !solved {
			t.Errorf("%s: expert through the adapter did not solve seed 3", s.Name)
		}
	}
}

func TestWrongActionLength(t *testing.T) {
	env, err := NewArm(arm.DefaultConfig(arm.Reach), false)
	if err != nil {
		t.Fatal(err)
	}
	env.Reset(1)
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(error).Error(), "action has 2 values, want 7") {
			t.Errorf("recover() = %v", r)
		}
	}()
	env.Step([]float32{1, 2})
}

func TestReplayAndPNGs(t *testing.T) {
	f := ArmFactory(arm.DefaultConfig(arm.Reach), false)
	env, _ := f.NewEnv()
	x := f.NewExpert()
	obs := env.Reset(5)
	var actions [][]float32
	for i := 0; i < 5; i++ {
		a := x.Act(obs)
		actions = append(actions, a)
		obs = env.Step(a).Obs
	}
	frames, err := Replay(env, 5, actions, 48)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) < 2 {
		t.Fatalf("%d frames", len(frames))
	}
	dir := filepath.Join(t.TempDir(), "frames")
	paths, err := WritePNGs(dir, frames)
	if err != nil || len(paths) != len(frames) {
		t.Fatalf("WritePNGs: %v, %d paths", err, len(paths))
	}
	fh, err := os.Open(paths[len(paths)-1])
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	img, err := png.Decode(fh)
	if err != nil || img.Bounds().Dx() != 48 {
		t.Errorf("PNG decode: %v %v", err, img)
	}
	if _, err := Replay(env, 5, [][]float32{{1}}, 48); err == nil {
		t.Error("replaying a bad action succeeded")
	}
}

func TestPushTObsRoundTrip(t *testing.T) {
	for _, kind := range []PushTObs{PushTKeypoints, PushTState} {
		env, err := NewPushT(pusht.DefaultConfig(), kind, false)
		if err != nil {
			t.Fatal(err)
		}
		for seed := int64(0); seed < 20; seed++ {
			obs := env.Reset(seed)
			want := env.Raw().Observe()
			got, err := pushtObsFromVector(obs.State)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want.State {
				d := got.State[i] - want.State[i]
				if i == 4 { // angles: compare on the circle
					d = math.Remainder(d, 2*math.Pi)
				}
				if math.Abs(d) > 1e-3 {
					t.Fatalf("kind %d seed %d: state[%d] = %v, want %v", kind, seed, i, got.State[i], want.State[i])
				}
			}
			for i := range want.Keypoints {
				if math.Abs(got.Keypoints[i]-want.Keypoints[i]) > 1e-3 {
					t.Fatalf("kind %d seed %d: keypoint[%d] = %v, want %v", kind, seed, i, got.Keypoints[i], want.Keypoints[i])
				}
			}
		}
	}
	if _, err := pushtObsFromVector(make([]float32, 7)); err == nil {
		t.Error("7-D Push-T observation accepted")
	}
}

func TestArmImageMatchesEnv(t *testing.T) {
	for _, task := range []arm.Task{arm.Reach, arm.ReachColor} {
		env, _ := NewArm(arm.DefaultConfig(task), true)
		obs := env.Reset(9)
		img, err := ArmImage(obs.State, task, 96)
		if err != nil {
			t.Fatal(err)
		}
		diff := 0
		for i := range img.Pix {
			d := int(img.Pix[i]) - int(obs.Image.Pix[i])
			if d > 2 || d < -2 {
				diff++
			}
		}
		// float32 rounding of the joint angles may move an edge pixel.
		if diff > len(img.Pix)/200 {
			t.Errorf("%v: image from state differs from the env's in %d of %d bytes", task, diff, len(img.Pix))
		}
	}
	if _, err := ArmImage([]float32{1}, arm.Reach, 32); err == nil {
		t.Error("short state accepted")
	}
}

// TestPushTImageMatchesEnv: the image rendered from an observation vector
// is the environment's own after ResetTo that state (exactly), and its
// own after Reset up to the float32 rounding of the vector (and, from
// keypoints, of the block angle they imply).
func TestPushTImageMatchesEnv(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind PushTObs
		size int
	}{
		{"state 96", PushTState, 96},
		{"state 64", PushTState, 64},
		{"keypoints 96", PushTKeypoints, 96},
	} {
		env, err := NewPushT(pusht.DefaultConfig(), tc.kind, false)
		if err != nil {
			t.Fatal(err)
		}
		for seed := int64(0); seed < 5; seed++ {
			obs := env.Reset(seed)
			live := env.Render(tc.size)
			img, err := PushTImage(obs.State, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			po, _ := pushtObsFromVector(obs.State)
			env.ResetTo(po.State)
			reset := env.Render(tc.size)
			for _, want := range []struct {
				what    string
				img     *image.RGBA
				maxDiff int // bytes differing by more than 2 of 255
			}{{"after ResetTo", reset, 0}, {"after Reset", live, len(img.Pix) / 200}} {
				if img.Bounds() != want.img.Bounds() {
					t.Fatalf("%s seed %d: bounds %v, want %v", tc.name, seed, img.Bounds(), want.img.Bounds())
				}
				diff := 0
				for i := range img.Pix {
					if d := int(img.Pix[i]) - int(want.img.Pix[i]); d > 2 || d < -2 {
						diff++
					}
				}
				if diff > want.maxDiff {
					t.Errorf("%s seed %d: image from the vector differs from the env's %s in %d of %d bytes (want <= %d)",
						tc.name, seed, want.what, diff, len(img.Pix), want.maxDiff)
				}
			}
		}
	}
	if _, err := PushTImage(make([]float32, 7), 32); err == nil {
		t.Error("7-D Push-T observation accepted")
	}
	if _, err := PushTImage(make([]float32, 5), 0); err == nil {
		t.Error("size 0 accepted")
	}
}

// TestHoldAction: holding sets every position target to the present
// position, on the arm and on both Push-T observations.
func TestHoldAction(t *testing.T) {
	armEnv, err := NewArm(arm.DefaultConfig(arm.Reach), false)
	if err != nil {
		t.Fatal(err)
	}
	kp, _ := NewPushT(pusht.DefaultConfig(), PushTKeypoints, false)
	st, _ := NewPushT(pusht.DefaultConfig(), PushTState, false)
	for _, tc := range []struct {
		env  Env
		want func(o Obs) []float32
	}{
		{armEnv, func(o Obs) []float32 { return o.State[:7] }},
		{kp, func(o Obs) []float32 { n := len(o.State); return o.State[n-2:] }},
		{st, func(o Obs) []float32 { return o.State[:2] }},
	} {
		o := tc.env.Reset(3)
		got, err := tc.env.Spec().HoldAction(o)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want(o)) {
			t.Errorf("%s: HoldAction = %v, want %v", tc.env.Spec().Name, got, tc.want(o))
		}
		// Holding keeps the robot where it is: one step later it has hardly moved.
		next := tc.env.Step(got)
		back, _ := tc.env.Spec().HoldAction(next.Obs)
		for i := range got {
			if d := math.Abs(float64(back[i] - got[i])); d > 0.05*math.Max(1, math.Abs(float64(got[i]))) {
				t.Errorf("%s: holding moved %s from %v to %v", tc.env.Spec().Name, tc.env.Spec().ActionNames[i], got[i], back[i])
			}
		}
	}
	if _, err := (Spec{Name: "x", StateNames: []string{"a"}, ActionNames: []string{"torque"}}).HoldAction(Obs{State: []float32{1}}); err == nil || !strings.Contains(err.Error(), `"torque"`) {
		t.Errorf("HoldAction on torques: err %v, want one naming the action", err)
	}
	if _, err := armEnv.Spec().HoldAction(Obs{State: []float32{1}}); err == nil {
		t.Error("HoldAction accepted a short observation")
	}
}
