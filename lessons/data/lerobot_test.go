package data

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

func TestLeRobotRoundTrip(t *testing.T) {
	root := t.TempDir()
	ds := randomDataset(9, []int{5, 1, 12, 7, 30}, 6, 3)
	ds.Name = "pusht_demo"
	ds.FPS = 12.5
	ds.Episodes[1].Score = 0.25
	dir := filepath.Join(root, ds.Name)
	if err := WriteLeRobot(dir, ds); err != nil {
		t.Fatal(err)
	}
	got, err := ReadLeRobot(dir)
	if err != nil {
		t.Fatal(err)
	}
	equalDatasets(t, ds, got)

	// The layout and metadata of LeRobot v3.0.
	for _, p := range []string{infoPath, statsPath, tasksPath, episodesPath, dataFile0} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("missing %s", p)
		}
	}
	var info map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, infoPath))
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"codebase_version": "v3.0", "robot_type": "test-bot", "total_episodes": 5.0,
		"total_frames": 55.0, "total_tasks": 2.0, "chunks_size": 1000.0, "fps": 12.5, "video_path": nil,
		"data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"} {
		if info[k] != want {
			t.Errorf("info.json %s = %v, want %v", k, info[k], want)
		}
	}
	if sp := info["splits"].(map[string]any)["train"]; sp != "0:5" {
		t.Errorf("splits.train = %v", sp)
	}
	feat := info["features"].(map[string]any)
	st := feat["observation.state"].(map[string]any)
	if st["dtype"] != "float32" || st["shape"].([]any)[0] != 6.0 || len(st["names"].([]any)) != 6 {
		t.Errorf("observation.state feature %v", st)
	}
	for _, k := range []string{"timestamp", "frame_index", "episode_index", "index", "task_index", "action"} {
		if feat[k] == nil {
			t.Errorf("no feature %s", k)
		}
	}
	stats, err := ReadLeRobotStats(dir)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Stats(ds.StateRows())
	if s := stats["observation.state"]; s.Count != 55 || len(s.Mean) != 6 || s.Mean[2] != want.Mean[2] || s.Max[5] != want.Max[5] {
		t.Errorf("stats.json observation.state %+v", s)
	}
	if s := stats["frame_index"]; s.Max[0] != 29 || s.Min[0] != 0 {
		t.Errorf("stats.json frame_index %+v", s)
	}

	// The data table's columns have the types pyarrow expects.
	p, err := openParquet(filepath.Join(dir, dataFile0))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	sch := p.pf.Schema().String()
	for _, s := range []string{"group observation.state (LIST)", "float element", "float timestamp", "int64 frame_index", "int64 episode_index", "int64 index", "int64 task_index"} {
		if !strings.Contains(sch, s) {
			t.Errorf("schema lacks %q:\n%s", s, sch)
		}
	}
	idx, _ := p.ints("index")
	for i, v := range idx {
		if v != int64(i) {
			t.Fatalf("index column not 0..N-1: %v", idx)
		}
	}
	ts, _ := p.floats("timestamp")
	if ts[6] != float64(float32(0.0)) || ts[7] != float64(float32(1/12.5)) {
		t.Errorf("timestamps %v", ts[5:8])
	}

	// Overwriting an existing dataset replaces it; no temp dirs are left.
	ds2 := randomDataset(10, []int{3}, 6, 3)
	ds2.Name = ds.Name
	if err := WriteLeRobot(dir, ds2); err != nil {
		t.Fatal(err)
	}
	got2, err := ReadLeRobot(dir)
	if err != nil {
		t.Fatal(err)
	}
	equalDatasets(t, ds2, got2)
	ents, _ := os.ReadDir(root)
	if len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
	// A non-dataset directory is not clobbered.
	other := filepath.Join(root, "notes")
	os.MkdirAll(other, 0o755)
	os.WriteFile(filepath.Join(other, "a.txt"), []byte("x"), 0o644)
	if err := WriteLeRobot(other, ds2); err == nil {
		t.Error("WriteLeRobot replaced a directory holding other files")
	}
	// An invalid dataset is refused before anything is written.
	ds2.Episodes[0].States[0][0] = float32(math.NaN())
	if err := WriteLeRobot(filepath.Join(root, "bad"), ds2); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("NaN dataset: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "bad")); err == nil {
		t.Error("invalid dataset left a directory")
	}
}

func TestLeRobotBadInput(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(t *testing.T, dir string)
		want   []string // substrings of the error
	}{
		{"missing info.json", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, infoPath))
		}, []string{"meta/info.json", "missing"}},
		{"truncated data parquet", func(t *testing.T, dir string) {
			truncateHalf(t, filepath.Join(dir, dataFile0))
		}, []string{"data/chunk-000/file-000.parquet", "truncated or corrupt"}},
		{"truncated tasks parquet", func(t *testing.T, dir string) {
			truncateHalf(t, filepath.Join(dir, tasksPath))
		}, []string{"meta/tasks.parquet", "truncated or corrupt"}},
		{"corrupt data page", func(t *testing.T, dir string) {
			path := filepath.Join(dir, dataFile0)
			b, _ := os.ReadFile(path)
			for i := 8; i < len(b)/3; i++ {
				b[i] ^= 0x5a
			}
			os.WriteFile(path, b, 0o644)
		}, []string{"data/chunk-000/file-000.parquet"}},
		{"state shape disagrees", func(t *testing.T, dir string) {
			editInfo(t, dir, func(info map[string]any) {
				f := info["features"].(map[string]any)["observation.state"].(map[string]any)
				f["shape"] = []int{5}
				f["names"] = nil
			})
		}, []string{"data/chunk-000/file-000.parquet", "observation.state row 0 has 7 values", "shape [5]"}},
		{"action names disagree with shape", func(t *testing.T, dir string) {
			editInfo(t, dir, func(info map[string]any) {
				info["features"].(map[string]any)["action"].(map[string]any)["names"] = []string{"a"}
			})
		}, []string{"meta/info.json", "features.action has 1 names for shape [2]"}},
		{"unknown codebase_version", func(t *testing.T, dir string) {
			editInfo(t, dir, func(info map[string]any) { info["codebase_version"] = "v9.9" })
		}, []string{"meta/info.json", `unknown codebase_version "v9.9"`}},
		{"v2.1 codebase_version", func(t *testing.T, dir string) {
			editInfo(t, dir, func(info map[string]any) { info["codebase_version"] = "v2.1" })
		}, []string{"meta/info.json", `codebase_version "v2.1"`, "not supported"}},
		{"info.json not JSON", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, infoPath), []byte("{\"fps\": "), 0o644)
		}, []string{"meta/info.json"}},
		{"total_frames disagrees", func(t *testing.T, dir string) {
			editInfo(t, dir, func(info map[string]any) { info["total_frames"] = 3 })
		}, []string{"meta/info.json", "total_frames is 3"}},
		{"stats.json corrupt", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, statsPath), []byte("[1,"), 0o644)
		}, []string{"meta/stats.json"}},
		{"data file missing", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, dataFile0))
		}, []string{"data/chunk-000/file-000.parquet", "missing"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ds")
			if err := WriteLeRobot(dir, randomDataset(2, []int{4, 9, 6}, 7, 2)); err != nil {
				t.Fatal(err)
			}
			c.break_(t, dir)
			_, err := ReadLeRobot(dir)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.HasPrefix(msg, "data: ") {
				t.Errorf("error lacks the prefix: %v", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

func truncateHalf(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, st.Size()/2); err != nil {
		t.Fatal(err)
	}
}

func editInfo(t *testing.T, dir string, edit func(map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, infoPath)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]any
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	edit(info)
	b, _ = json.Marshal(info)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Rows as pyarrow writes a LeRobot dataset from pandas/HF datasets: every
// column optional, float64 where Python floats went in, list elements
// optional, extra columns.
type pyFrame struct {
	State     []*float64 `parquet:"observation.state,optional,list"`
	Action    []*float32 `parquet:"action,optional,list"`
	EnvState  []*float64 `parquet:"observation.environment_state,optional,list"`
	Timestamp *float64   `parquet:"timestamp,optional"`
	Frame     *int64     `parquet:"frame_index,optional"`
	Episode   *int64     `parquet:"episode_index,optional"`
	Index     *int64     `parquet:"index,optional"`
	Task      *int32     `parquet:"task_index,optional"`
	Reward    *float64   `parquet:"next.reward,optional"`
	Success   *bool      `parquet:"next.success,optional"`
	Comment   *string    `parquet:"language_instruction,optional"`
}

type pyTask struct {
	TaskIndex *int64  `parquet:"task_index,optional"`
	Task      *string `parquet:"task,optional"`
}

type pyEpisode struct {
	Episode  *int64     `parquet:"episode_index,optional"`
	Tasks    []*string  `parquet:"tasks,optional,list"`
	Length   *int64     `parquet:"length,optional"`
	Chunk    *int64     `parquet:"data/chunk_index,optional"`
	File     *int64     `parquet:"data/file_index,optional"`
	From     *int64     `parquet:"dataset_from_index,optional"`
	To       *int64     `parquet:"dataset_to_index,optional"`
	StateMin []*float64 `parquet:"stats/observation.state/min,optional,list"`
}

func ptr[T any](v T) *T { return &v }

func writeTestParquet[T any](t *testing.T, path string, rows []T, opts ...parquet.WriterOption) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](f, opts...)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestReadHandWrittenV3(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lerobot_pusht_like")
	// Two episodes: 0 with task 1 (3 frames), 1 with task 0 (2 frames),
	// rows deliberately out of order; several row groups.
	type fr struct {
		ep, t int64
		task  int32
	}
	order := []fr{{1, 1, 0}, {0, 2, 1}, {0, 0, 1}, {1, 0, 0}, {0, 1, 1}}
	var rows []pyFrame
	for i, o := range order {
		rows = append(rows, pyFrame{
			State:     []*float64{ptr(float64(10*o.ep + o.t)), ptr(0.5)},
			Action:    []*float32{ptr(float32(100 + 10*o.ep + o.t)), ptr(float32(-1))},
			EnvState:  []*float64{ptr(1.0), ptr(2.0), nil, ptr(4.0)},
			Timestamp: ptr(float64(o.t) / 10),
			Frame:     ptr(o.t), Episode: ptr(o.ep), Index: ptr(int64(i)), Task: ptr(o.task),
			Reward:  ptr(float64(o.t) * 0.5),
			Success: ptr(o.ep == 0 && o.t == 2),
			Comment: ptr("extra"),
		})
	}
	writeTestParquet(t, filepath.Join(dir, "data/chunk-000/file-000.parquet"), rows, parquet.MaxRowsPerRowGroup(2))
	writeTestParquet(t, filepath.Join(dir, "meta/tasks.parquet"), []pyTask{
		{TaskIndex: ptr(int64(1)), Task: ptr("Push the T-shaped block onto the T-shaped target.")},
		{TaskIndex: ptr(int64(0)), Task: ptr("reach")},
	})
	writeTestParquet(t, filepath.Join(dir, "meta/episodes/chunk-000/file-000.parquet"), []pyEpisode{
		{Episode: ptr(int64(0)), Tasks: []*string{ptr("Push the T-shaped block onto the T-shaped target.")}, Length: ptr(int64(3)),
			Chunk: ptr(int64(0)), File: ptr(int64(0)), From: ptr(int64(0)), To: ptr(int64(3)), StateMin: []*float64{ptr(0.0), ptr(0.5)}},
		{Episode: ptr(int64(1)), Tasks: []*string{ptr("reach")}, Length: ptr(int64(2)),
			Chunk: ptr(int64(0)), File: ptr(int64(0)), From: ptr(int64(3)), To: ptr(int64(5)), StateMin: []*float64{ptr(10.0), ptr(0.5)}},
	})
	info := `{
  "codebase_version": "v3.0",
  "robot_type": null,
  "total_episodes": 2, "total_frames": 5, "total_tasks": 2,
  "chunks_size": 1000, "data_files_size_in_mb": 100, "video_files_size_in_mb": 500,
  "fps": 10,
  "splits": {"train": "0:2"},
  "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
  "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
  "features": {
    "observation.image": {"dtype": "video", "shape": [96, 96, 3], "names": ["height", "width", "channel"]},
    "observation.state": {"dtype": "float32", "shape": [2], "names": {"motors": ["motor_0", "motor_1"]}},
    "observation.environment_state": {"dtype": "float64", "shape": [4], "names": null},
    "action": {"dtype": "float32", "shape": [2], "names": ["dx", "dy"]},
    "timestamp": {"dtype": "float32", "shape": [1], "names": null},
    "frame_index": {"dtype": "int64", "shape": [1], "names": null},
    "episode_index": {"dtype": "int64", "shape": [1], "names": null},
    "index": {"dtype": "int64", "shape": [1], "names": null},
    "task_index": {"dtype": "int64", "shape": [1], "names": null},
    "next.reward": {"dtype": "float32", "shape": [1], "names": null},
    "next.success": {"dtype": "bool", "shape": [1], "names": null}
  }
}`
	os.WriteFile(filepath.Join(dir, "meta/info.json"), []byte(info), 0o644)
	os.WriteFile(filepath.Join(dir, "meta/stats.json"), []byte(`{"observation.state": {"min": [0, 0.5], "max": [11, 0.5], "mean": [4.6, 0.5], "std": [4.5, 0], "count": [5], "q01": [0, 0.5]},
  "observation.image": {"min": [[[0]], [[0]], [[0]]], "max": [[[1]], [[1]], [[1]]], "mean": [[[0.5]], [[0.5]], [[0.5]]], "std": [[[0.2]], [[0.2]], [[0.2]]], "count": [5]}}`), 0o644)

	if testing.Verbose() {
		p, err := openParquet(filepath.Join(dir, "data/chunk-000/file-000.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		t.Log(p.pf.Schema())
		p.Close()
	}
	ds, err := ReadLeRobot(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := &Dataset{
		Name: "lerobot_pusht_like", FPS: 10,
		StateNames: []string{"motor_0", "motor_1"}, ActionNames: []string{"dx", "dy"},
		Tasks: []string{"reach", "Push the T-shaped block onto the T-shaped target."},
		Episodes: []Episode{
			{Index: 0, Task: "Push the T-shaped block onto the T-shaped target.", Success: true, Score: 1,
				States: [][]float32{{0, 0.5}, {1, 0.5}, {2, 0.5}}, Actions: [][]float32{{100, -1}, {101, -1}, {102, -1}},
				Rewards: []float32{0, 0.5, 1}},
			{Index: 1, Task: "reach",
				States: [][]float32{{10, 0.5}, {11, 0.5}}, Actions: [][]float32{{110, -1}, {111, -1}}, Rewards: []float32{0, 0.5}},
		},
	}
	equalDatasets(t, want, ds)
	stats, err := ReadLeRobotStats(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s := stats["observation.image"]; len(s.Mean) != 3 || s.Std[2] != 0.2 || s.Count != 5 {
		t.Errorf("image stats %+v", s)
	}
	n, err := NormalizerFromStats(MinMax, stats["observation.state"])
	if err != nil {
		t.Fatal(err)
	}
	if y := n.Normalized([]float32{11, 0.5}); y[0] != 1 || y[1] != 0 {
		t.Errorf("normalizer from stats: %v", y)
	}
}
