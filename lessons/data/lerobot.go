package data

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
)

// CodebaseVersion is the LeRobotDataset layout version written and read.
const CodebaseVersion = "v3.0"

// LeRobot v3.0 file layout (lerobot/datasets/utils.py).
const (
	infoPath         = "meta/info.json"
	statsPath        = "meta/stats.json"
	tasksPath        = "meta/tasks.parquet"
	episodesPath     = "meta/episodes/chunk-000/file-000.parquet"
	dataPathTemplate = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
	dataFile0        = "data/chunk-000/file-000.parquet"
	chunksSize       = 1000
	dataFilesSizeMB  = 100
	videoFilesSizeMB = 500
)

// Columns beyond LeRobot's core features: next.reward, next.done and
// next.success follow LeRobot's simulation datasets (e.g. lerobot/pusht);
// the policylab.* columns of the episodes table keep what LeRobot has no
// place for, so that a round trip is lossless.
const (
	colState      = "observation.state"
	colAction     = "action"
	colTimestamp  = "timestamp"
	colFrame      = "frame_index"
	colEpisode    = "episode_index"
	colIndex      = "index"
	colTask       = "task_index"
	colReward     = "next.reward"
	colDone       = "next.done"
	colSuccess    = "next.success"
	colEpSeed     = "policylab.seed"
	colEpSuccess  = "policylab.success"
	colEpScore    = "policylab.score"
	colEpLength   = "length"
	colEpTasks    = "tasks"
	colEpDataCh   = "data/chunk_index"
	colEpDataFile = "data/file_index"
)

// lrFeature is one entry of info.json's "features".
type lrFeature struct {
	Dtype string          `json:"dtype"`
	Shape []int           `json:"shape"`
	Names json.RawMessage `json:"names"`
}

// lrInfo is meta/info.json.
type lrInfo struct {
	CodebaseVersion    string               `json:"codebase_version"`
	RobotType          *string              `json:"robot_type"`
	TotalEpisodes      int                  `json:"total_episodes"`
	TotalFrames        int                  `json:"total_frames"`
	TotalTasks         int                  `json:"total_tasks"`
	ChunksSize         int                  `json:"chunks_size"`
	DataFilesSizeInMB  float64              `json:"data_files_size_in_mb"`
	VideoFilesSizeInMB float64              `json:"video_files_size_in_mb"`
	FPS                float64              `json:"fps"`
	Splits             map[string]string    `json:"splits"`
	DataPath           string               `json:"data_path"`
	VideoPath          *string              `json:"video_path"`
	Features           map[string]lrFeature `json:"features"`
}

// frameRow is one row of data/chunk-000/file-000.parquet. The 3-level LIST
// of float is what pyarrow reads back as list<element: float>.
type frameRow struct {
	State        []float32 `parquet:"observation.state,list"`
	Action       []float32 `parquet:"action,list"`
	Timestamp    float32   `parquet:"timestamp"`
	FrameIndex   int64     `parquet:"frame_index"`
	EpisodeIndex int64     `parquet:"episode_index"`
	Index        int64     `parquet:"index"`
	TaskIndex    int64     `parquet:"task_index"`
	Reward       float32   `parquet:"next.reward"`
	Done         bool      `parquet:"next.done"`
	Success      bool      `parquet:"next.success"`
}

// taskRow is one row of meta/tasks.parquet. LeRobot keeps the task string
// as the pandas index named "task", which pyarrow stores as a column of
// that name.
type taskRow struct {
	Task      string `parquet:"task"`
	TaskIndex int64  `parquet:"task_index"`
}

// episodeRow is one row of meta/episodes/chunk-000/file-000.parquet. The
// per-episode stats/* columns LeRobot may add are omitted.
type episodeRow struct {
	EpisodeIndex int64    `parquet:"episode_index"`
	Tasks        []string `parquet:"tasks,list"`
	Length       int64    `parquet:"length"`
	DataChunk    int64    `parquet:"data/chunk_index"`
	DataFile     int64    `parquet:"data/file_index"`
	From         int64    `parquet:"dataset_from_index"`
	To           int64    `parquet:"dataset_to_index"`
	MetaChunk    int64    `parquet:"meta/episodes/chunk_index"`
	MetaFile     int64    `parquet:"meta/episodes/file_index"`
	Seed         int64    `parquet:"policylab.seed"`
	Success      bool     `parquet:"policylab.success"`
	Score        float64  `parquet:"policylab.score"`
}

// statsJSON is one feature's entry in meta/stats.json.
type statsJSON struct {
	Min   []float64 `json:"min"`
	Max   []float64 `json:"max"`
	Mean  []float64 `json:"mean"`
	Std   []float64 `json:"std"`
	Count []int64   `json:"count"`
}

// WriteLeRobot writes ds as a LeRobotDataset v3.0 in directory dir (whose
// base name is the dataset's name on disk):
//
//	meta/info.json                           fps, robot_type, features, totals
//	meta/stats.json                          min/max/mean/std/count per feature
//	meta/tasks.parquet                       task_index, task
//	meta/episodes/chunk-000/file-000.parquet one row per episode
//	data/chunk-000/file-000.parquet          one row per frame
//
// The frame table has LeRobot's core columns observation.state
// (list<float>), action (list<float>), timestamp (float32, frame_index/fps),
// frame_index, episode_index, index and task_index (int64), plus
// next.reward, next.done and next.success; all frames go into one file (a
// course-sized dataset is far below LeRobot's 100 MB file size). Episodes
// are written in slice order with episode_index equal to their position;
// nil Rewards are written as zeros. No videos are written (video_path is
// null).
//
// The dataset is assembled in a temporary directory next to dir and renamed
// into place, so a crash never leaves half a dataset under dir. An existing
// dir is replaced if it is empty or holds a dataset (meta/info.json), and
// left alone with an error otherwise.
func WriteLeRobot(dir string, ds *Dataset) (err error) {
	if err := ds.Validate(); err != nil {
		return fmt.Errorf("data: WriteLeRobot %s: %v", dir, trimPrefix(err))
	}
	dir = filepath.Clean(dir)
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("data: WriteLeRobot: %s exists and is not a directory", dir)
		}
		if !replaceable(dir) {
			return fmt.Errorf("data: WriteLeRobot: %s exists, is not empty and holds no %s; not replacing it", dir, infoPath)
		}
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("data: WriteLeRobot: %v", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("data: WriteLeRobot: %v", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := writeLeRobotFiles(tmp, ds); err != nil {
		return err
	}
	// Swap in: move an old dataset aside, rename the new one, drop the old.
	var old string
	if _, err := os.Stat(dir); err == nil {
		old = tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("data: WriteLeRobot: moving the old %s aside: %v", dir, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			os.Rename(old, dir)
		}
		return fmt.Errorf("data: WriteLeRobot: %v", err)
	}
	if old != "" {
		os.RemoveAll(old)
	}
	syncDir(parent)
	return nil
}

func replaceable(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, infoPath)); err == nil {
		return true
	}
	ents, err := os.ReadDir(dir)
	return err == nil && len(ents) == 0
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func writeLeRobotFiles(root string, ds *Dataset) error {
	tasks := ds.Tasks
	if len(tasks) == 0 {
		for _, e := range ds.Episodes {
			if !contains(tasks, e.Task) {
				tasks = append(tasks, e.Task)
			}
		}
	}
	taskIndex := func(t string) int64 {
		for i, s := range tasks {
			if s == t {
				return int64(i)
			}
		}
		return -1
	}
	sd, ad := ds.StateDim(), ds.ActionDim()

	// Frames, and the columns stats are computed on.
	N := ds.NumFrames()
	frames := make([]frameRow, 0, N)
	eps := make([]episodeRow, 0, len(ds.Episodes))
	scalarNames := []string{colTimestamp, colFrame, colEpisode, colIndex, colTask, colReward}
	scalars := make([][]float64, len(scalarNames))
	for k := range scalars {
		scalars[k] = make([]float64, 0, N)
	}
	for i := range ds.Episodes {
		e := &ds.Episodes[i]
		ti := taskIndex(e.Task)
		from := int64(len(frames))
		T := len(e.States)
		for t := 0; t < T; t++ {
			r := frameRow{
				State: e.States[t], Action: e.Actions[t],
				Timestamp:    float32(float64(t) / ds.FPS),
				FrameIndex:   int64(t),
				EpisodeIndex: int64(i),
				Index:        int64(len(frames)),
				TaskIndex:    ti,
				Done:         t == T-1,
				Success:      e.Success && t == T-1,
			}
			if e.Rewards != nil {
				r.Reward = e.Rewards[t]
			}
			frames = append(frames, r)
			for k, v := range []float64{float64(r.Timestamp), float64(r.FrameIndex), float64(r.EpisodeIndex),
				float64(r.Index), float64(ti), float64(r.Reward)} {
				scalars[k] = append(scalars[k], v)
			}
		}
		eps = append(eps, episodeRow{
			EpisodeIndex: int64(i), Tasks: []string{e.Task}, Length: int64(T),
			From: from, To: from + int64(T),
			Seed: e.Seed, Success: e.Success, Score: e.Score,
		})
	}
	taskRows := make([]taskRow, len(tasks))
	for i, t := range tasks {
		taskRows[i] = taskRow{Task: t, TaskIndex: int64(i)}
	}
	if err := writeParquet(filepath.Join(root, dataFile0), frames); err != nil {
		return err
	}
	if err := writeParquet(filepath.Join(root, tasksPath), taskRows); err != nil {
		return err
	}
	if err := writeParquet(filepath.Join(root, episodesPath), eps); err != nil {
		return err
	}

	// meta/stats.json
	stats := map[string]statsJSON{}
	addStats := func(name string, rows [][]float32) error {
		if len(rows) == 0 {
			return nil
		}
		s, err := Stats(rows)
		if err != nil {
			return fmt.Errorf("data: WriteLeRobot: stats of %s: %v", name, trimPrefix(err))
		}
		stats[name] = statsJSON{Min: s.Min, Max: s.Max, Mean: s.Mean, Std: s.Std, Count: []int64{s.Count}}
		return nil
	}
	if err := addStats(colState, ds.StateRows()); err != nil {
		return err
	}
	if err := addStats(colAction, ds.ActionRows()); err != nil {
		return err
	}
	for k, xs := range scalars {
		if len(xs) > 0 {
			stats[scalarNames[k]] = scalarStats(xs)
		}
	}
	if err := writeJSON(filepath.Join(root, statsPath), stats); err != nil {
		return err
	}

	// meta/info.json
	names := func(n []string) json.RawMessage {
		if len(n) == 0 {
			return json.RawMessage("null")
		}
		b, _ := json.Marshal(n)
		return b
	}
	scalar := func(dtype string) lrFeature {
		return lrFeature{Dtype: dtype, Shape: []int{1}, Names: json.RawMessage("null")}
	}
	robot := ds.RobotType
	info := lrInfo{
		CodebaseVersion:    CodebaseVersion,
		RobotType:          &robot,
		TotalEpisodes:      len(ds.Episodes),
		TotalFrames:        N,
		TotalTasks:         len(tasks),
		ChunksSize:         chunksSize,
		DataFilesSizeInMB:  dataFilesSizeMB,
		VideoFilesSizeInMB: videoFilesSizeMB,
		FPS:                ds.FPS,
		Splits:             map[string]string{"train": fmt.Sprintf("0:%d", len(ds.Episodes))},
		DataPath:           dataPathTemplate,
		Features: map[string]lrFeature{
			colState:     {Dtype: "float32", Shape: []int{sd}, Names: names(ds.StateNames)},
			colAction:    {Dtype: "float32", Shape: []int{ad}, Names: names(ds.ActionNames)},
			colTimestamp: scalar("float32"),
			colFrame:     scalar("int64"),
			colEpisode:   scalar("int64"),
			colIndex:     scalar("int64"),
			colTask:      scalar("int64"),
			colReward:    scalar("float32"),
			colDone:      scalar("bool"),
			colSuccess:   scalar("bool"),
		},
	}
	if err := writeJSON(filepath.Join(root, infoPath), info); err != nil {
		return err
	}
	syncDir(filepath.Join(root, "meta"))
	return nil
}

// scalarStats is Stats for a scalar feature, in float64 throughout.
func scalarStats(xs []float64) statsJSON {
	lo, hi, sum := math.Inf(1), math.Inf(-1), 0.0
	for _, x := range xs {
		lo, hi, sum = math.Min(lo, x), math.Max(hi, x), sum+x
	}
	mean := sum / float64(len(xs))
	v := 0.0
	for _, x := range xs {
		v += (x - mean) * (x - mean)
	}
	std := math.Sqrt(v / float64(len(xs)))
	return statsJSON{Min: []float64{lo}, Max: []float64{hi}, Mean: []float64{mean}, Std: []float64{std}, Count: []int64{int64(len(xs))}}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func writeParquet[T any](path string, rows []T) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("data: WriteLeRobot: %v", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("data: WriteLeRobot: %v", err)
	}
	w := parquet.NewGenericWriter[T](f, parquet.Compression(&snappy.Codec{}))
	if _, err := w.Write(rows); err != nil {
		f.Close()
		return fmt.Errorf("data: WriteLeRobot: %s: %v", path, err)
	}
	if err := w.Close(); err != nil {
		f.Close()
		return fmt.Errorf("data: WriteLeRobot: %s: %v", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("data: WriteLeRobot: %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("data: WriteLeRobot: %s: %v", path, err)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		return fmt.Errorf("data: WriteLeRobot: %s: %v", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("data: WriteLeRobot: %v", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("data: WriteLeRobot: %v", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("data: WriteLeRobot: %s: %v", path, err)
	}
	return nil
}

// readInfo reads and checks meta/info.json.
func readInfo(dir string) (*lrInfo, error) {
	path := filepath.Join(dir, infoPath)
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("data: %s: missing; %s is not a LeRobot dataset", path, dir)
		}
		return nil, fmt.Errorf("data: %v", err)
	}
	var info lrInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("data: %s: %v", path, err)
	}
	switch {
	case info.CodebaseVersion == CodebaseVersion:
	case strings.HasPrefix(info.CodebaseVersion, "v1.") || strings.HasPrefix(info.CodebaseVersion, "v2."):
		return nil, fmt.Errorf("data: %s: codebase_version %q: the LeRobot v1/v2 layout (one file per episode) is not supported; convert it to %s with LeRobot's convert_dataset_v21_to_v30", path, info.CodebaseVersion, CodebaseVersion)
	default:
		return nil, fmt.Errorf("data: %s: unknown codebase_version %q, want %q", path, info.CodebaseVersion, CodebaseVersion)
	}
	if !(info.FPS > 0) || math.IsInf(info.FPS, 0) {
		return nil, fmt.Errorf("data: %s: fps is %v, want a positive number", path, info.FPS)
	}
	for _, k := range []string{colState, colAction} {
		f, ok := info.Features[k]
		if !ok {
			return nil, fmt.Errorf("data: %s: features has no %q", path, k)
		}
		if len(f.Shape) != 1 || f.Shape[0] < 0 {
			return nil, fmt.Errorf("data: %s: features.%s.shape is %v, want one dimension [D]", path, k, f.Shape)
		}
		if _, err := featureNames(f); err != nil {
			return nil, fmt.Errorf("data: %s: features.%s.names: %v", path, k, err)
		}
		if n, _ := featureNames(f); n != nil && len(n) != f.Shape[0] {
			return nil, fmt.Errorf("data: %s: features.%s has %d names for shape %v", path, k, len(n), f.Shape)
		}
	}
	return &info, nil
}

// featureNames decodes a feature's names: null, a list of strings, or (as
// in older LeRobot datasets) an object with one list such as
// {"motors": [...]}.
func featureNames(f lrFeature) ([]string, error) {
	if len(f.Names) == 0 || string(f.Names) == "null" {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(f.Names, &list); err == nil {
		return list, nil
	}
	var obj map[string][]string
	if err := json.Unmarshal(f.Names, &obj); err == nil {
		if len(obj) == 1 {
			for _, v := range obj {
				return v, nil
			}
		}
		return nil, nil // several axes named: no flat names
	}
	return nil, fmt.Errorf("want null, a list of strings or an object of them, got %s", f.Names)
}

// epMeta is what the episodes table says about one episode.
type epMeta struct {
	length           int64
	tasks            []string
	seed             int64
	success          bool
	score            float64
	hasSeed, hasSucc bool
	hasScore         bool
	chunk, file      int64
	hasFile          bool
}

// ReadLeRobot opens a LeRobotDataset v3.0 directory written by WriteLeRobot
// or by LeRobot itself. It reads meta/info.json (fps, robot_type, the
// names of observation.state and action), meta/tasks.parquet, the episodes
// tables under meta/episodes/ (optional; used for the seed, success and
// score columns WriteLeRobot adds and to check episode lengths), meta/
// stats.json (optional; checked to parse) and the frame tables under data/.
//
// Reading is generic: columns are found by name, extra columns (images,
// videos, environment state, per-episode stats) are ignored, numbers may be
// float32 or float64 and integers int32 or int64, and vectors may be
// list<...> or fixed_size_list<...> as pyarrow writes them. Frames are
// grouped by episode_index and ordered by frame_index; episodes come in
// episode_index order with Episode.Index set to it. Rewards come from
// next.reward, and Success from the policylab.success episode column or
// else from any true next.success; Score from policylab.score, else 1 for a
// successful episode and 0 otherwise. The dataset's Name is dir's base
// name.
//
// Errors name the file and the field: a missing meta/info.json, an unknown
// codebase_version, a truncated or corrupt parquet file, vectors whose
// length disagrees with the shape in info.json, totals that disagree with
// the data.
func ReadLeRobot(dir string) (*Dataset, error) {
	dir = filepath.Clean(dir)
	info, err := readInfo(dir)
	if err != nil {
		return nil, err
	}
	ipath := filepath.Join(dir, infoPath)
	ds := &Dataset{Name: filepath.Base(dir), FPS: info.FPS}
	if info.RobotType != nil {
		ds.RobotType = *info.RobotType
	}
	ds.StateNames, _ = featureNames(info.Features[colState])
	ds.ActionNames, _ = featureNames(info.Features[colAction])
	sd, ad := info.Features[colState].Shape[0], info.Features[colAction].Shape[0]

	if _, err := ReadLeRobotStats(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if ds.Tasks, err = readTasks(filepath.Join(dir, tasksPath)); err != nil {
		return nil, err
	}
	metas, err := readEpisodesMeta(dir)
	if err != nil {
		return nil, err
	}

	// Frame tables: those the episodes table points at, else all of data/.
	files, err := dataFiles(dir, info.DataPath, metas)
	if err != nil {
		return nil, err
	}
	type frame struct {
		fi      int64
		state   []float32
		action  []float32
		reward  float32
		success bool
		task    int64
	}
	byEp := map[int64][]frame{}
	hasReward, hasTaskIdx := true, true
	for _, path := range files {
		p, err := openParquet(path)
		if err != nil {
			return nil, err
		}
		err = func() error {
			defer p.Close()
			for _, c := range []string{colState, colAction, colEpisode, colFrame} {
				if !p.has(c) {
					return fmt.Errorf("data: %s: no column %q", path, c)
				}
			}
			states, err := p.floatLists(colState)
			if err != nil {
				return err
			}
			actions, err := p.floatLists(colAction)
			if err != nil {
				return err
			}
			for r := range states {
				if len(states[r]) != sd {
					return fmt.Errorf("data: %s: %s row %d has %d values, but %s gives shape [%d]", path, colState, r, len(states[r]), ipath, sd)
				}
				if len(actions[r]) != ad {
					return fmt.Errorf("data: %s: %s row %d has %d values, but %s gives shape [%d]", path, colAction, r, len(actions[r]), ipath, ad)
				}
			}
			epIdx, err := p.ints(colEpisode)
			if err != nil {
				return err
			}
			frIdx, err := p.ints(colFrame)
			if err != nil {
				return err
			}
			var rewards []float64
			var succ []bool
			var taskIdx []int64
			if p.has(colReward) {
				if rewards, err = p.floats(colReward); err != nil {
					return err
				}
			} else {
				hasReward = false
			}
			if p.has(colSuccess) {
				if succ, err = p.bools(colSuccess); err != nil {
					return err
				}
			}
			if p.has(colTask) {
				if taskIdx, err = p.ints(colTask); err != nil {
					return err
				}
			} else {
				hasTaskIdx = false
			}
			for r := range states {
				fr := frame{fi: frIdx[r], state: states[r], action: actions[r], task: -1}
				if rewards != nil {
					fr.reward = float32(rewards[r])
				}
				if succ != nil {
					fr.success = succ[r]
				}
				if taskIdx != nil {
					fr.task = taskIdx[r]
					if fr.task < 0 || fr.task >= int64(len(ds.Tasks)) {
						return fmt.Errorf("data: %s: %s row %d is %d, but %s lists %d tasks", path, colTask, r, fr.task, filepath.Join(dir, tasksPath), len(ds.Tasks))
					}
				}
				if epIdx[r] < 0 || epIdx[r] > math.MaxInt32 {
					return fmt.Errorf("data: %s: %s row %d is %d", path, colEpisode, r, epIdx[r])
				}
				byEp[epIdx[r]] = append(byEp[epIdx[r]], fr)
			}
			return nil
		}()
		if err != nil {
			return nil, err
		}
	}

	epIDs := make([]int64, 0, len(byEp))
	for k := range byEp {
		epIDs = append(epIDs, k)
	}
	sort.Slice(epIDs, func(i, j int) bool { return epIDs[i] < epIDs[j] })
	mpath := filepath.Join(dir, "meta/episodes")
	for _, id := range epIDs {
		frames := byEp[id]
		sort.SliceStable(frames, func(i, j int) bool { return frames[i].fi < frames[j].fi })
		for t := 1; t < len(frames); t++ {
			if frames[t].fi == frames[t-1].fi {
				return nil, fmt.Errorf("data: %s: episode %d has frame_index %d twice", filepath.Join(dir, "data"), id, frames[t].fi)
			}
		}
		e := Episode{Index: int(id)}
		for _, fr := range frames {
			e.States = append(e.States, fr.state)
			e.Actions = append(e.Actions, fr.action)
			if hasReward {
				e.Rewards = append(e.Rewards, fr.reward)
			}
			if fr.success {
				e.Success = true
			}
		}
		m, hasMeta := metas[id]
		switch {
		case hasTaskIdx && frames[0].task >= 0:
			e.Task = ds.Tasks[frames[0].task]
		case hasMeta && len(m.tasks) > 0:
			e.Task = m.tasks[0]
		}
		if metas != nil {
			if !hasMeta {
				return nil, fmt.Errorf("data: %s: no row for episode_index %d, which the data files hold", mpath, id)
			}
			if m.length != int64(len(frames)) {
				return nil, fmt.Errorf("data: %s: episode %d: length is %d, but the data files hold %d frames", mpath, id, m.length, len(frames))
			}
			if m.hasSeed {
				e.Seed = m.seed
			}
			if m.hasSucc {
				e.Success = m.success
			}
		}
		if hasMeta && m.hasScore {
			e.Score = m.score
		} else if e.Success {
			e.Score = 1
		}
		ds.Episodes = append(ds.Episodes, e)
	}
	for id := range metas {
		if _, ok := byEp[id]; !ok {
			return nil, fmt.Errorf("data: %s: episode %d has no frames in the data files", mpath, id)
		}
	}
	if info.TotalEpisodes != len(ds.Episodes) {
		return nil, fmt.Errorf("data: %s: total_episodes is %d, but the data files hold %d episodes", ipath, info.TotalEpisodes, len(ds.Episodes))
	}
	if n := ds.NumFrames(); info.TotalFrames != n {
		return nil, fmt.Errorf("data: %s: total_frames is %d, but the data files hold %d frames", ipath, info.TotalFrames, n)
	}
	if len(ds.StateNames) != sd {
		ds.StateNames = nil
	}
	if len(ds.ActionNames) != ad {
		ds.ActionNames = nil
	}
	if err := ds.Validate(); err != nil {
		return nil, fmt.Errorf("data: %s: %v", dir, trimPrefix(err))
	}
	return ds, nil
}

// readTasks reads meta/tasks.parquet: task_index and task ("task" or, as
// pandas may name an unnamed index, "__index_level_0__").
func readTasks(path string) ([]string, error) {
	p, err := openParquet(path)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	idx, err := p.ints("task_index")
	if err != nil {
		return nil, err
	}
	col := "task"
	if !p.has(col) && p.has("__index_level_0__") {
		col = "__index_level_0__"
	}
	names, err := p.strings(col)
	if err != nil {
		return nil, err
	}
	tasks := make([]string, len(idx))
	seen := make([]bool, len(idx))
	for r, i := range idx {
		if i < 0 || i >= int64(len(idx)) || seen[i] {
			return nil, fmt.Errorf("data: %s: task_index row %d is %d; want each of 0..%d once", path, r, i, len(idx)-1)
		}
		seen[i] = true
		tasks[i] = names[r]
	}
	return tasks, nil
}

// readEpisodesMeta reads every meta/episodes/chunk-*/file-*.parquet; nil
// when there are none.
func readEpisodesMeta(dir string) (map[int64]*epMeta, error) {
	paths, _ := filepath.Glob(filepath.Join(dir, "meta", "episodes", "*", "*.parquet"))
	if len(paths) == 0 {
		return nil, nil
	}
	sort.Strings(paths)
	metas := map[int64]*epMeta{}
	for _, path := range paths {
		if err := readEpisodesFile(path, metas); err != nil {
			return nil, err
		}
	}
	return metas, nil
}

func readEpisodesFile(path string, metas map[int64]*epMeta) error {
	p, err := openParquet(path)
	if err != nil {
		return err
	}
	defer p.Close()
	ids, err := p.ints(colEpisode)
	if err != nil {
		return err
	}
	lengths, err := p.ints(colEpLength)
	if err != nil {
		return err
	}
	var tasks [][]string
	var seeds, chunks, files []int64
	var succ []bool
	var scores []float64
	if p.has(colEpTasks) {
		if tasks, err = p.stringLists(colEpTasks); err != nil {
			return err
		}
	}
	if p.has(colEpSeed) {
		if seeds, err = p.ints(colEpSeed); err != nil {
			return err
		}
	}
	if p.has(colEpSuccess) {
		if succ, err = p.bools(colEpSuccess); err != nil {
			return err
		}
	}
	if p.has(colEpScore) {
		if scores, err = p.floats(colEpScore); err != nil {
			return err
		}
	}
	if p.has(colEpDataCh) && p.has(colEpDataFile) {
		if chunks, err = p.ints(colEpDataCh); err != nil {
			return err
		}
		if files, err = p.ints(colEpDataFile); err != nil {
			return err
		}
	}
	for r, id := range ids {
		if _, dup := metas[id]; dup {
			return fmt.Errorf("data: %s: episode_index %d appears twice", path, id)
		}
		m := &epMeta{length: lengths[r]}
		if tasks != nil {
			m.tasks = tasks[r]
		}
		if seeds != nil {
			m.seed, m.hasSeed = seeds[r], true
		}
		if succ != nil {
			m.success, m.hasSucc = succ[r], true
		}
		if scores != nil {
			m.score, m.hasScore = scores[r], true
		}
		if chunks != nil {
			m.chunk, m.file, m.hasFile = chunks[r], files[r], true
		}
		metas[id] = m
	}
	return nil
}

var templateField = regexp.MustCompile(`\{(\w+)(?::(0?)(\d*)d)?\}`)

// formatPath fills LeRobot's Python format template, e.g.
// "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet".
func formatPath(tmpl string, vals map[string]int64) (string, error) {
	var bad error
	out := templateField.ReplaceAllStringFunc(tmpl, func(m string) string {
		sub := templateField.FindStringSubmatch(m)
		v, ok := vals[sub[1]]
		if !ok {
			bad = fmt.Errorf("unknown field %q", sub[1])
			return m
		}
		s := strconv.FormatInt(v, 10)
		if w, err := strconv.Atoi(sub[3]); err == nil {
			pad := " "
			if sub[2] == "0" {
				pad = "0"
			}
			for len(s) < w {
				s = pad + s
			}
		}
		return s
	})
	return out, bad
}

// dataFiles lists the frame tables: the files named by the episodes
// table's data/chunk_index and data/file_index through data_path, or,
// lacking those, every data/*/*.parquet.
func dataFiles(dir, tmpl string, metas map[int64]*epMeta) ([]string, error) {
	ipath := filepath.Join(dir, infoPath)
	set := map[string]bool{}
	useMeta := len(metas) > 0 && tmpl != ""
	for _, m := range metas {
		if !m.hasFile {
			useMeta = false
		}
	}
	if useMeta {
		for _, m := range metas {
			rel, err := formatPath(tmpl, map[string]int64{"chunk_index": m.chunk, "file_index": m.file, "episode_chunk": m.chunk})
			if err != nil {
				return nil, fmt.Errorf("data: %s: data_path %q: %v", ipath, tmpl, err)
			}
			set[filepath.Join(dir, filepath.FromSlash(rel))] = true
		}
	} else {
		paths, _ := filepath.Glob(filepath.Join(dir, "data", "*", "*.parquet"))
		for _, p := range paths {
			set[p] = true
		}
	}
	if len(set) == 0 {
		if len(metas) == 0 {
			// An empty dataset has no frame tables to read.
			return nil, nil
		}
		return nil, fmt.Errorf("data: %s: no parquet files", filepath.Join(dir, "data"))
	}
	files := make([]string, 0, len(set))
	for p := range set {
		files = append(files, p)
	}
	sort.Strings(files)
	for _, p := range files {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("data: %s: missing (named by %s through data_path)", p, filepath.Join(dir, "meta/episodes"))
		}
	}
	return files, nil
}

// ReadLeRobotStats reads meta/stats.json: min, max, mean, std and count of
// each feature, flattened to one value per element (image statistics of
// shape [3,1,1] become 3 values). Entries besides those five (LeRobot's
// quantiles q01..q99) are ignored. A missing file gives an error wrapping
// fs.ErrNotExist.
func ReadLeRobotStats(dir string) (map[string]FeatureStats, error) {
	path := filepath.Join(dir, statsPath)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	var raw map[string]map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("data: %s: %v", path, err)
	}
	out := make(map[string]FeatureStats, len(raw))
	for feat, m := range raw {
		var s FeatureStats
		for _, k := range []string{"min", "max", "mean", "std", "count"} {
			v, ok := m[k]
			if !ok {
				continue
			}
			var flat []float64
			if err := flatten(v, &flat); err != nil {
				return nil, fmt.Errorf("data: %s: %s.%s: %v", path, feat, k, err)
			}
			switch k {
			case "min":
				s.Min = flat
			case "max":
				s.Max = flat
			case "mean":
				s.Mean = flat
			case "std":
				s.Std = flat
			case "count":
				if len(flat) > 0 {
					s.Count = int64(flat[0])
				}
			}
		}
		out[feat] = s
	}
	return out, nil
}

func flatten(v any, out *[]float64) error {
	switch x := v.(type) {
	case float64:
		*out = append(*out, x)
	case bool:
		if x {
			*out = append(*out, 1)
		} else {
			*out = append(*out, 0)
		}
	case []any:
		for _, e := range x {
			if err := flatten(e, out); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("want numbers or lists of them, got %T", v)
	}
	return nil
}
