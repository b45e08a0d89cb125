// Command benchjson turns `go test -bench` output (read from stdin, also
// echoed to stdout) into out/bench.json: for every benchmark and metric
// (ns/op, B/op, allocs/op and custom ones such as steps/s) the median, min,
// max and relative spread over the repeated runs (-count), with the date,
// machine and commit. It then prints a table.
//
// Usage: go test -run '^$' -bench . -count 5 ./... | benchjson -o out/bench.json
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Figure is one metric of one benchmark over its runs.
type Figure struct {
	Benchmark string    `json:"benchmark"` // e.g. lessons/arm.BenchmarkStep-1
	Unit      string    `json:"unit"`      // ns/op, steps/s, ...
	Median    float64   `json:"median"`
	Min       float64   `json:"min"`
	Max       float64   `json:"max"`
	Spread    float64   `json:"spread"` // (max-min)/median
	Runs      []float64 `json:"runs"`
}

// Ratio compares one of our figures with the peer's, measured in the same
// run: Ratio = Ours / Peer for rates and Peer / Ours for latencies, so a
// ratio above 1 always means we are faster.
type Ratio struct {
	Name  string  `json:"name"`
	Ours  float64 `json:"ours"`
	Peer  float64 `json:"peer"`
	Ratio float64 `json:"ratio"`
	Unit  string  `json:"unit"`
}

// peerPairs maps the peer's JSON keys (../shared/peer/chapter_pytorch_peer.py)
// to our benchmark figure measuring the same thing.
var peerPairs = []struct {
	peerKey, ours, unit string
	latency             bool // lower is better: the ratio is peer / ours
}{
	{"bc_train_steps_per_s", "lessons/bc.BenchmarkTrainStepChapter", "steps/s", false},
	{"bc_train_steps_per_s", "lessons/bc.BenchmarkTrainStepChapterSIMD", "steps/s", false},
	{"diffusion_train_steps_per_s", "lessons/dp.BenchmarkTrainStepChapter", "steps/s", false},
	{"diffusion_train_steps_per_s", "lessons/dp.BenchmarkTrainStepChapterSIMD", "steps/s", false},
	{"diffusion_sample_100steps_ms", "lessons/dp.BenchmarkSampleMLP/DDPM100", "ms/chunk", true},
	{"diffusion_sample_100steps_ms", "lessons/dp.BenchmarkSIMDSampleMLP/DDPM100", "ms/chunk", true},
}

// Report is the content of bench.json.
type Report struct {
	Date    string   `json:"date"`
	Commit  string   `json:"commit"`
	GoOS    string   `json:"goos"`
	GoArch  string   `json:"goarch"`
	CPU     string   `json:"cpu"`
	NumCPU  int      `json:"num_cpu"`
	Figures []Figure `json:"figures"`
	// Peer is the PyTorch peer's output from the same run; PeerNote says
	// why it is missing when it is.
	Peer     map[string]float64 `json:"peer,omitempty"`
	PeerNote string             `json:"peer_note,omitempty"`
	Ratios   []Ratio            `json:"ratios,omitempty"`
	// Course is the per-notebook wall time of the last `make course`
	// (out/course/course.json), when it has run: notebooks take minutes
	// each, so bench reports that run rather than repeating it.
	Course *Course `json:"course,omitempty"`
}

// Course is a `make course` run: every notebook, one at a time.
type Course struct {
	File      string           `json:"file"`
	Written   string           `json:"written"` // the file's modification time
	TotalS    float64          `json:"total_s"`
	Failed    int              `json:"failed"`
	Notebooks []CourseNotebook `json:"notebooks"`
}

// CourseNotebook is one notebook's entry of kernel/runnb.py's --json.
type CourseNotebook struct {
	Notebook string  `json:"notebook"`
	Backend  string  `json:"backend"`
	WallS    float64 `json:"wall_s"`
	Status   string  `json:"status"`
}

func main() {
	out := flag.String("o", "out/bench.json", "where to write the JSON")
	peer := flag.String("peer", "", "JSON printed by the PyTorch peer in this run (optional)")
	course := flag.String("course", "", "kernel/runnb.py --json output of the last make course (optional; skipped when absent)")
	flag.Parse()
	rep, err := parse(io.TeeReader(os.Stdin, os.Stdout))
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchjson:", err)
		os.Exit(1)
	}
	if len(rep.Figures) == 0 {
		fmt.Fprintln(os.Stderr, "benchjson: no benchmark results on stdin")
		os.Exit(1)
	}
	rep.Date = time.Now().UTC().Format(time.RFC3339)
	rep.GoOS, rep.GoArch, rep.NumCPU = runtime.GOOS, runtime.GOARCH, runtime.NumCPU()
	if b, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		rep.Commit = strings.TrimSpace(string(b))
	}
	if *peer != "" {
		if err := addPeer(rep, *peer); err != nil {
			rep.PeerNote = err.Error()
		}
	}
	if *course != "" {
		c, err := readCourse(*course)
		switch {
		case err == nil:
			rep.Course = c
		case errors.Is(err, fs.ErrNotExist):
			fmt.Fprintf(os.Stderr, "benchjson: %s not found: run make course for per-notebook times\n", *course)
		default:
			fmt.Fprintln(os.Stderr, "benchjson:", err)
			os.Exit(1)
		}
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "benchjson:", err)
		os.Exit(1)
	}
	b, _ := json.MarshalIndent(rep, "", " ")
	tmp := *out + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "benchjson:", err)
		os.Exit(1)
	}
	if err := os.Rename(tmp, *out); err != nil {
		fmt.Fprintln(os.Stderr, "benchjson:", err)
		os.Exit(1)
	}
	fmt.Printf("\n%-52s %-12s %14s %8s %5s\n", "benchmark", "unit", "median", "spread", "runs")
	for _, f := range rep.Figures {
		fmt.Printf("%-52s %-12s %14.4g %7.1f%% %5d\n", f.Benchmark, f.Unit, f.Median, 100*f.Spread, len(f.Runs))
	}
	if len(rep.Ratios) > 0 {
		fmt.Printf("\n%-40s %14s %14s %8s\n", "ours vs the chapter's PyTorch peer", "ours", "peer", "ratio")
		for _, r := range rep.Ratios {
			fmt.Printf("%-40s %14.4g %14.4g %7.2fx\n", r.Name+" ("+r.Unit+")", r.Ours, r.Peer, r.Ratio)
		}
	}
	if rep.PeerNote != "" {
		fmt.Printf("\npeer: %s\n", rep.PeerNote)
	}
	if c := rep.Course; c != nil {
		fmt.Printf("\nmake course (%s, written %s): %.1f min in all, %d failed\n", c.File, c.Written, c.TotalS/60, c.Failed)
		for _, n := range c.Notebooks {
			fmt.Printf("  %-52s %8.1f s  %s\n", n.Notebook, n.WallS, n.Status)
		}
	}
	fmt.Printf("\nwrote %s (%s, %d CPUs, commit %s)\n", *out, rep.CPU, rep.NumCPU, rep.Commit)
}

// parse reads `go test -bench` text: "pkg: ..." lines name the package,
// "cpu: ..." the processor, and result lines are
// "BenchmarkX-N  iters  v1 unit1  v2 unit2 ...".
func parse(r io.Reader) (*Report, error) {
	rep := &Report{}
	runs := map[[2]string][]float64{}
	var order [][2]string
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(line, "pkg: ")), "github.com/policylab/policylab/")
			continue
		case strings.HasPrefix(line, "cpu: "):
			rep.CPU = strings.TrimSpace(strings.TrimPrefix(line, "cpu: "))
			continue
		case !strings.HasPrefix(line, "Benchmark"):
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 4 {
			continue
		}
		if _, err := strconv.Atoi(fields[1]); err != nil {
			continue // not a result line
		}
		name := pkg + "." + fields[0]
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				return nil, fmt.Errorf("bad value %q in %q", fields[i], line)
			}
			k := [2]string{name, fields[i+1]}
			if _, ok := runs[k]; !ok {
				order = append(order, k)
			}
			runs[k] = append(runs[k], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, k := range order {
		rep.Figures = append(rep.Figures, summarize(k[0], k[1], runs[k]))
	}
	return rep, nil
}

func summarize(name, unit string, v []float64) Figure {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	f := Figure{Benchmark: name, Unit: unit, Median: med, Min: s[0], Max: s[len(s)-1], Runs: v}
	if med != 0 {
		f.Spread = (f.Max - f.Min) / med
	}
	return f
}

// readCourse reads kernel/runnb.py's --json output: a list of notebooks
// with their wall time and status.
func readCourse(path string) (*Course, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c := &Course{File: path}
	if err := json.Unmarshal(b, &c.Notebooks); err != nil {
		return nil, fmt.Errorf("%s: not runnb.py's notebook list: %v", path, err)
	}
	if len(c.Notebooks) == 0 {
		return nil, fmt.Errorf("%s: no notebooks", path)
	}
	for i, n := range c.Notebooks {
		if n.Notebook == "" || n.WallS < 0 {
			return nil, fmt.Errorf("%s: entry %d has no notebook or a negative time: %+v", path, i, n)
		}
		c.TotalS += n.WallS
		if n.Status != "pass" {
			c.Failed++
		}
	}
	if st, err := os.Stat(path); err == nil {
		c.Written = st.ModTime().UTC().Format(time.RFC3339)
	}
	return c, nil
}

// addPeer reads the peer's JSON and computes the ratios of peerPairs. Our
// benchmark names carry a -N GOMAXPROCS suffix, matched by prefix.
func addPeer(rep *Report, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("no peer figures: %v", err)
	}
	if err := json.Unmarshal(b, &rep.Peer); err != nil {
		return fmt.Errorf("peer output %s is not JSON: %v (%q)", path, err, strings.TrimSpace(string(b)))
	}
	for _, p := range peerPairs {
		pv, ok := rep.Peer[p.peerKey]
		if !ok {
			continue
		}
		for _, f := range rep.Figures {
			name, _, _ := strings.Cut(f.Benchmark, "-")
			if name == p.ours && f.Unit == p.unit && pv > 0 {
				r := f.Median / pv
				if p.latency {
					r = pv / f.Median
				}
				rep.Ratios = append(rep.Ratios, Ratio{Name: f.Benchmark, Ours: f.Median, Peer: pv, Ratio: r, Unit: p.unit})
			}
		}
	}
	return nil
}
