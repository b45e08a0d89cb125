package data

import (
	"fmt"
	"slices"
)

// Lengths is the number of frames of each episode.
func (d *Dataset) Lengths() []float64 {
	out := make([]float64, len(d.Episodes))
	for i, e := range d.Episodes {
		out[i] = float64(e.Len())
	}
	return out
}

// Feature gathers one named element of observation.state or action
// (Dataset.StateNames / ActionNames) over every frame of the given episodes
// (all episodes when none are given), in episode and frame order.
func (d *Dataset) Feature(name string, episodes ...int) ([]float64, error) {
	rows := func(e *Episode) [][]float32 { return e.States }
	k := slices.Index(d.StateNames, name)
	if k < 0 {
		rows = func(e *Episode) [][]float32 { return e.Actions }
		k = slices.Index(d.ActionNames, name)
	}
	if k < 0 {
		return nil, fmt.Errorf("data: %s has no feature %q (state: %v; action: %v)", d.Name, name, d.StateNames, d.ActionNames)
	}
	if len(episodes) == 0 {
		episodes = make([]int, len(d.Episodes))
		for i := range episodes {
			episodes[i] = i
		}
	}
	var out []float64
	for _, i := range episodes {
		if i < 0 || i >= len(d.Episodes) {
			return nil, fmt.Errorf("data: %s has %d episodes, no episode %d", d.Name, len(d.Episodes), i)
		}
		for _, r := range rows(&d.Episodes[i]) {
			out = append(out, float64(r[k]))
		}
	}
	return out, nil
}

// SuccessRate is the fraction of episodes that succeeded.
func (d *Dataset) SuccessRate() float64 {
	if len(d.Episodes) == 0 {
		return 0
	}
	n := 0
	for _, e := range d.Episodes {
		if e.Success {
			n++
		}
	}
	return float64(n) / float64(len(d.Episodes))
}

// Summary is a one-line description of the dataset.
func (d *Dataset) Summary() string {
	ls := d.Lengths()
	mean := 0.0
	for _, l := range ls {
		mean += l
	}
	if len(ls) > 0 {
		mean /= float64(len(ls))
	}
	return fmt.Sprintf("%s: %d episodes, %d frames (mean %.1f per episode), %d tasks, state %d-D, action %d-D, %.0f fps, %.0f%% successful",
		d.Name, len(d.Episodes), d.NumFrames(), mean, len(d.Tasks), d.StateDim(), d.ActionDim(), d.FPS, 100*d.SuccessRate())
}
