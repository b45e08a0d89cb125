// Package data holds demonstration datasets for policy learning: generating
// them from a simulator's scripted expert (package sim), cutting them into
// the overlapping observation/action windows that Diffusion Policy trains on
// (Chi et al. 2023, "Diffusion Policy: Visuomotor Policy Learning via Action
// Diffusion", the SequenceSampler of its codebase), normalising them, and
// storing them in the LeRobotDataset v3.0 layout of Hugging Face LeRobot
// (parquet files plus JSON metadata), so that a dataset made here opens in
// LeRobot and a LeRobot dataset recorded elsewhere opens here.
//
// Axes used in the documentation:
//
//	T          frames in one episode (time steps)
//	N          frames in the whole dataset (sum of T)
//	StateDim   length of an observation.state vector
//	ActionDim  length of an action vector
//	B          windows in a batch
//	To         observation horizon (frames of history a policy sees)
//	Tp         prediction horizon (actions a policy predicts)
//
// All errors returned by the package start with "data: ".
package data

import (
	"fmt"
	"math"
)

// Episode is one demonstration: T frames of observation and action.
//
// Frame t pairs the observation the policy saw with the action taken on it:
// States[t] is the observation before Actions[t] was applied, and
// Rewards[t] is the reward returned by that step (LeRobot's "next.reward").
// The observation reached after the last action is not stored, as in
// LeRobot.
type Episode struct {
	// Index is the episode's number in its dataset (LeRobot's episode_index).
	Index int
	// Task is the instruction the episode was recorded for; it is one of
	// Dataset.Tasks.
	Task string
	// Seed is the environment seed the episode was started with (0 where
	// unknown, e.g. for data recorded elsewhere).
	Seed int64
	// States: [T][StateDim], observation.state of each frame.
	States [][]float32
	// Actions: [T][ActionDim], the action taken on States[t].
	Actions [][]float32
	// Rewards: [T] reward of each step, or nil when unknown.
	Rewards []float32
	// Success reports whether the task was solved during the episode.
	Success bool
	// Score is the task score of the episode: the maximum over its steps of
	// sim.Step.Score, in [0, 1].
	Score float64
}

// Len is the number of frames T.
func (e *Episode) Len() int { return len(e.States) }

// Dataset is a set of episodes with the metadata LeRobot keeps in
// meta/info.json.
type Dataset struct {
	// Name names the dataset; for a dataset on disk it is the folder name.
	Name string
	// FPS is the control rate: frames per second.
	FPS float64
	// RobotType names the robot or simulator (LeRobot's robot_type).
	RobotType string
	// StateNames: [StateDim], one name per observation.state element.
	StateNames []string
	// ActionNames: [ActionDim], one name per action element.
	ActionNames []string
	// Tasks are the distinct task strings; a task's position is its
	// task_index.
	Tasks []string
	// Episodes in order.
	Episodes []Episode
}

// NumFrames is the total number of frames N over all episodes.
func (d *Dataset) NumFrames() int {
	n := 0
	for i := range d.Episodes {
		n += len(d.Episodes[i].States)
	}
	return n
}

// StateDim is the length of observation vectors: len(StateNames), or the
// length of the first state when names are absent (0 for an empty dataset).
func (d *Dataset) StateDim() int {
	return d.dim(d.StateNames, func(e *Episode) [][]float32 { return e.States })
}

// ActionDim is the length of action vectors, found like StateDim.
func (d *Dataset) ActionDim() int {
	return d.dim(d.ActionNames, func(e *Episode) [][]float32 { return e.Actions })
}

// dim is the number of names, else the length of the first row.
func (d *Dataset) dim(names []string, rows func(*Episode) [][]float32) int {
	if len(names) > 0 {
		return len(names)
	}
	for i := range d.Episodes {
		if r := rows(&d.Episodes[i]); len(r) > 0 {
			return len(r[0])
		}
	}
	return 0
}

// TaskIndex is the position of task in Tasks, or -1.
func (d *Dataset) TaskIndex(task string) int {
	for i, t := range d.Tasks {
		if t == task {
			return i
		}
	}
	return -1
}

// StateRows returns every frame's state, [N][StateDim], episode after
// episode. The rows are the dataset's own slices, not copies; use them to fit
// a Normalizer.
func (d *Dataset) StateRows() [][]float32 {
	rows := make([][]float32, 0, d.NumFrames())
	for _, e := range d.Episodes {
		rows = append(rows, e.States...)
	}
	return rows
}

// ActionRows returns every frame's action, [N][ActionDim], like StateRows.
func (d *Dataset) ActionRows() [][]float32 {
	rows := make([][]float32, 0, d.NumFrames())
	for _, e := range d.Episodes {
		rows = append(rows, e.Actions...)
	}
	return rows
}

// Validate checks that the dataset is consistent: every episode has at least
// one frame, as many actions (and rewards, when present) as states, every
// state has StateDim values and every action ActionDim values, no value is
// NaN or infinite, every episode's task is one of Tasks (when Tasks is set),
// episode indices are distinct and FPS is positive. The error names the
// episode, frame and field at fault.
func (d *Dataset) Validate() error {
	if d == nil {
		return fmt.Errorf("data: nil dataset")
	}
	if !(d.FPS > 0) || math.IsInf(d.FPS, 0) {
		return fmt.Errorf("data: dataset %q: fps is %v, want a positive number", d.Name, d.FPS)
	}
	sd, ad := d.StateDim(), d.ActionDim()
	seen := make(map[int]int, len(d.Episodes))
	for i := range d.Episodes {
		e := &d.Episodes[i]
		where := fmt.Sprintf("data: episode %d (index %d)", i, e.Index)
		if e.Index < 0 {
			return fmt.Errorf("%s: negative episode index", where)
		}
		if j, ok := seen[e.Index]; ok {
			return fmt.Errorf("%s: episode index %d is also used by episode %d", where, e.Index, j)
		}
		seen[e.Index] = i
		T := len(e.States)
		if T == 0 {
			return fmt.Errorf("%s: no frames", where)
		}
		if len(e.Actions) != T {
			return fmt.Errorf("%s: %d actions for %d states", where, len(e.Actions), T)
		}
		if e.Rewards != nil && len(e.Rewards) != T {
			return fmt.Errorf("%s: %d rewards for %d states", where, len(e.Rewards), T)
		}
		if len(d.Tasks) > 0 && d.TaskIndex(e.Task) < 0 {
			return fmt.Errorf("%s: task %q is not in the dataset's tasks %q", where, e.Task, d.Tasks)
		}
		if math.IsNaN(e.Score) || math.IsInf(e.Score, 0) {
			return fmt.Errorf("%s: score is %v", where, e.Score)
		}
		for t := 0; t < T; t++ {
			if err := checkRow(e.States[t], sd, "observation.state"); err != nil {
				return fmt.Errorf("%s frame %d: %v", where, t, err)
			}
			if err := checkRow(e.Actions[t], ad, "action"); err != nil {
				return fmt.Errorf("%s frame %d: %v", where, t, err)
			}
			if e.Rewards != nil {
				if r := float64(e.Rewards[t]); math.IsNaN(r) || math.IsInf(r, 0) {
					return fmt.Errorf("%s frame %d: next.reward is %v", where, t, r)
				}
			}
		}
	}
	return nil
}

func checkRow(row []float32, dim int, field string) error {
	if len(row) != dim {
		return fmt.Errorf("%s has %d values, want %d", field, len(row), dim)
	}
	for k, v := range row {
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%s[%d] is %v", field, k, f)
		}
	}
	return nil
}
