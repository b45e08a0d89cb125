package vla

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gomlx/compute"

	"github.com/policylab/policylab/lessons/checkpoint"
	"github.com/policylab/policylab/lessons/course"
	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/lora"
	"github.com/policylab/policylab/lessons/plot"
	"github.com/policylab/policylab/lessons/trainer"
)

// What a fine-tuning method trains.
const (
	TrainAdapters     = "adapters+head" // LoRA: the adapters and the action head
	TrainAdaptersOnly = "adapters"      // LoRA: the adapters alone, the head frozen
	TrainHead         = "head"          // the action head alone
	TrainAll          = "all"           // every weight
)

// Method is a way to adapt a pretrained policy to a new task.
type Method struct {
	Name   string       // "LoRA r=8", "head only", "full"
	LoRA   *lora.Config // adapters to add (TrainAdapters, TrainAdaptersOnly)
	Trains string       // TrainAdapters, TrainAdaptersOnly, TrainHead or TrainAll
	// LR, when > 0, is this method's peak learning rate instead of the
	// study's.
	LR float64
	// Seed seeds the adapters' random initialization (A; B starts at
	// zero). 0: 1. FineTune uses its training seed when this is 0, so a
	// study's seeds vary the adapters as well as the batches.
	Seed int64
}

// LoRAMethod is LoRA at rank r on the query and value projections with
// α = 2r (the chapter's r 8, α 16, for every rank: the same update scale
// α/r = 2), without dropout, training the adapters alone at a peak
// learning rate of 3e-2.
//
// With make vla's settings (rank 8, 1,000 steps, 100 episodes, adapters
// seeded by the study seed), rank 8 reached 85%, 80% and 76% success at
// study seeds 7, 8 and 9 against full fine-tuning's 90%, 86% and 88%
// (at 1e-3): 91% of full's success on average.
//
// Departures from the chapter, measured on the held-out task (rank 8,
// 1,000 steps, 50 episodes, adapters not yet seeded, full fine-tuning at
// 1e-3 for comparison):
//
//   - Dropout 0, as OpenVLA's own fine-tuning script (vla-scripts/
//     finetune.py, lora_dropout 0.0), not the chapter's 0.1: over study
//     seeds 7, 8 and 9, 82%, 72%, 78% success without dropout against 26%,
//     64%, 68% with it (full: 90%, 88%, 86%). Our adapters are small
//     (6,144 weights) and the data plentiful; dropout only slowed them.
//   - The chapter also trains its action head, which is new there; ours is
//     pretrained, and training it too (5.45% of the parameters instead of
//     3.42%) gave 74% against 66% at 1e-2 (with dropout 0.1).
//   - Adapters learn faster at a higher rate than the full model (LoRA's
//     authors tune it apart too): without dropout, seed 7, 72% at 1e-2, 76%
//     at 2e-2, 82% at 3e-2 and 24% at 5e-2 (unstable); with dropout 0.1,
//     44% at 1e-3, 66% at 1e-2, 70% at 2e-2, 72% at 3e-2.
func LoRAMethod(r int) Method {
	c := lora.ChapterConfig()
	c.Rank, c.Alpha, c.Dropout = r, float64(2*r), 0
	return Method{Name: fmt.Sprintf("LoRA r=%d", r), LoRA: &c, Trains: TrainAdaptersOnly, LR: 3e-2}
}

// Methods are the study's: LoRA at ranks 4, 8 and 16, the head alone, and
// full fine-tuning.
func Methods() []Method {
	return []Method{LoRAMethod(4), LoRAMethod(8), LoRAMethod(16),
		{Name: "head only", Trains: TrainHead}, {Name: "full", Trains: TrainAll}}
}

// isHead reports whether a variable belongs to the action head.
func isHead(path string) bool { return strings.HasPrefix(path, "/"+Kind+"/head/") }

// Run is one fine-tuning run of a Study.
type Run struct {
	Method           string
	Trainable, Total int // parameters
	// TrainingBytes is what training keeps per trainable parameter:
	// its gradient and Adam's two moments, 3 × 4 bytes (the frozen weights
	// need none of it).
	TrainingBytes int64
	// PeakHeap is the most Go heap in use while training, measured (the
	// pure-Go backend's buffers live there; 0 when not measured).
	PeakHeap    uint64
	LR          float64       // peak learning rate
	Wall        time.Duration // training wall time
	StepsPerSec float64
	FinalLoss   float64
	Result      *eval.Result // on the held-out task
	Policy      *Policy      `json:"-"`
}

// Share is the trainable fraction of the parameters.
func (r *Run) Share() float64 {
	if r.Total == 0 {
		return 0
	}
	return float64(r.Trainable) / float64(r.Total)
}

// Adapt loads the pretrained policy in dir (a checkpoint, or a directory
// of checkpoints: its newest) without its optimizer state, adds m's
// adapters (initialized from m.Seed) and freezes what m does not train.
// It returns the policy and its trainable and total parameter counts.
func Adapt(b compute.Backend, dir string, m Method) (*Policy, int, int, error) {
	adapters := m.Trains == TrainAdapters || m.Trains == TrainAdaptersOnly
	if !adapters && m.Trains != TrainHead && m.Trains != TrainAll {
		return nil, 0, 0, fmt.Errorf("vla: method %q trains %q, want %q, %q, %q or %q", m.Name, m.Trains, TrainAdapters, TrainAdaptersOnly, TrainHead, TrainAll)
	}
	if (m.LoRA != nil) != adapters {
		return nil, 0, 0, fmt.Errorf("vla: method %q: LoRA adapters go with Trains = %q or %q", m.Name, TrainAdapters, TrainAdaptersOnly)
	}
	if latest, err := checkpoint.Latest(dir); err == nil {
		dir = latest
	} else if !errors.Is(err, checkpoint.ErrNone) {
		return nil, 0, 0, fmt.Errorf("vla: %w", err)
	}
	p, err := Load(b, dir)
	if err != nil {
		return nil, 0, 0, err
	}
	if p.cfg.LoRA != nil {
		return nil, 0, 0, fmt.Errorf("vla: %s already has adapters (merge them first)", dir)
	}
	if err := p.pretrainedOnly(); err != nil {
		return nil, 0, 0, err
	}
	if m.LoRA != nil {
		c := *m.LoRA
		p.cfg.LoRA = &c
		if err := p.cfg.Validate(); err != nil {
			return nil, 0, 0, err
		}
		seed := m.Seed
		if seed == 0 {
			seed = 1
		}
		if err := p.store.SetRNGStateFromSeed(seed); err != nil {
			return nil, 0, 0, fmt.Errorf("vla: seeding the adapters: %w", err)
		}
		p.Refresh()
		if err := p.checkShapes(); err != nil { // creates the adapters
			return nil, 0, 0, fmt.Errorf("vla: adding adapters: %w", err)
		}
	}
	keep := isHead
	switch m.Trains {
	case TrainAll:
		keep = func(string) bool { return true }
	case TrainAdaptersOnly:
		keep = nil
	}
	trainable, total := lora.Freeze(p.store, keep)
	return p, trainable, total, nil
}

// FineTune adapts the pretrained policy in dir by m (Adapt), trains it on
// ds with tc, and scores it on task over episodes seeded episodes,
// executing execute actions per chunk.
func FineTune(b compute.Backend, dir string, m Method, ds *data.Dataset, tc trainer.Config, task Task, episodes, execute int) (*Run, error) {
	if m.Seed == 0 {
		m.Seed = tc.Seed
	}
	p, trainable, total, err := Adapt(b, dir, m)
	if err != nil {
		return nil, err
	}
	if err := p.Fit(ds, 0.05, tc.Seed); err != nil {
		return nil, err
	}
	run := &Run{Method: m.Name, Trainable: trainable, Total: total, TrainingBytes: int64(trainable) * 12, LR: tc.LearningRate, Policy: p}
	runtime.GC()
	stop := watchHeap(&run.PeakHeap)
	t0 := time.Now()
	h, err := trainer.Train(p, tc)
	run.Wall = time.Since(t0)
	stop()
	if err != nil {
		return nil, fmt.Errorf("vla: fine-tuning %s: %w", m.Name, err)
	}
	run.StepsPerSec, run.FinalLoss = h.StepsPerSec, h.FinalTrainLoss()
	res, err := Evaluate(p, []Task{task}, episodes, execute)
	if err != nil {
		return nil, err
	}
	run.Result = res[0].Result
	return run, nil
}

// watchHeap samples the heap in use every 20 ms into *peak until the
// returned function is called.
func watchHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			*peak = max(*peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// StudyConfig sets a fine-tuning study.
type StudyConfig struct {
	Pretrained string   // the pretrained policy's checkpoint directory
	Task       Task     // the held-out task (default HeldOutTask)
	Methods    []Method // default Methods()
	Demos      int      // demonstrations of the task (default 100)
	Steps      int      // training steps per method (default 1000)
	BatchSize  int      // default 64
	LR         float64  // peak learning rate (default 1e-3)
	Episodes   int      // evaluation episodes (default 50)
	Execute    int      // actions executed per chunk (default 4)
	Seed       int64    // demonstrations and training (default 7)
	Progress   io.Writer
}

func (c StudyConfig) withDefaults() StudyConfig {
	if c.Task.Name == "" {
		c.Task = HeldOutTask()
	}
	if c.Methods == nil {
		c.Methods = Methods()
	}
	if c.Demos == 0 {
		c.Demos = 100
	}
	if c.Steps == 0 {
		c.Steps = 1000
	}
	if c.BatchSize == 0 {
		c.BatchSize = 64
	}
	if c.LR == 0 {
		c.LR = 1e-3
	}
	if c.Episodes == 0 {
		c.Episodes = 50
	}
	if c.Execute == 0 {
		c.Execute = 4
	}
	if c.Seed == 0 {
		c.Seed = 7
	}
	return c
}

// Study fine-tunes the pretrained policy on the held-out task by each
// method, on the same demonstrations, steps and evaluation seeds, after
// scoring it there untouched ("zero-shot", the first run, with no
// training).
func Study(b compute.Backend, sc StudyConfig) ([]*Run, error) {
	sc = sc.withDefaults()
	ds, err := Demos([]Task{sc.Task}, sc.Demos, sc.Seed)
	if err != nil {
		return nil, err
	}
	p, _, total, err := Adapt(b, sc.Pretrained, Method{Name: "zero-shot", Trains: TrainHead})
	if err != nil {
		return nil, err
	}
	res, err := Evaluate(p, []Task{sc.Task}, sc.Episodes, sc.Execute)
	if err != nil {
		return nil, err
	}
	runs := []*Run{{Method: "zero-shot", Total: total, Result: res[0].Result, Policy: p}}
	for _, m := range sc.Methods {
		tc := trainer.DefaultConfig()
		tc.Steps, tc.BatchSize, tc.LearningRate, tc.Seed = sc.Steps, sc.BatchSize, sc.LR, sc.Seed
		if m.LR > 0 {
			tc.LearningRate = m.LR
		}
		tc.WarmupSteps = sc.Steps / 10
		tc.Progress = sc.Progress
		if sc.Progress != nil {
			fmt.Fprintf(sc.Progress, "%s:\n", m.Name)
		}
		r, err := FineTune(b, sc.Pretrained, m, ds, tc, sc.Task, sc.Episodes, sc.Execute)
		if err != nil {
			return nil, err
		}
		if sc.Progress != nil {
			fmt.Fprintf(sc.Progress, "\n%s: %s\n", m.Name, r.Result)
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// Record is a run's figures in flat form, as make vla's JSON keeps them.
type Record struct {
	Method        string  `json:"method"`
	Trainable     int     `json:"trainable_params"`
	Total         int     `json:"total_params"`
	TrainingBytes int64   `json:"gradient_adam_bytes"`
	PeakHeap      uint64  `json:"peak_heap_bytes"`
	LR            float64 `json:"lr,omitempty"`
	TrainSeconds  float64 `json:"train_s"`
	StepsPerSec   float64 `json:"steps_per_s"`
	FinalLoss     float64 `json:"final_train_loss"`
	Episodes      int     `json:"episodes"`
	Success       float64 `json:"success"`
}

// Record is the run's figures.
func (r *Run) Record() Record {
	return Record{Method: r.Method, Trainable: r.Trainable, Total: r.Total, TrainingBytes: r.TrainingBytes,
		PeakHeap: r.PeakHeap, LR: r.LR, TrainSeconds: r.Wall.Seconds(), StepsPerSec: r.StepsPerSec, FinalLoss: r.FinalLoss,
		Episodes: len(r.Result.Episodes), Success: r.Result.SuccessRate}
}

// StudyTable is the study as a Markdown table: trainable parameters and
// their share, training memory, wall time, success, and success relative
// to full fine-tuning.
func StudyTable(runs []*Run) string {
	recs := make([]Record, len(runs))
	for i, r := range runs {
		recs[i] = r.Record()
	}
	return RecordTable(recs)
}

// RecordTable is StudyTable from records.
func RecordTable(recs []Record) string {
	var sb strings.Builder
	sb.WriteString("| method | trainable parameters | share | gradients + Adam | peak heap | learning rate | training time | steps/s | success | of full's success |\n")
	sb.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fullSuccess := 0.0
	for _, r := range recs {
		if r.Method == "full" {
			fullSuccess = r.Success
		}
	}
	for _, r := range recs {
		rel := "–"
		if fullSuccess > 0 {
			rel = fmt.Sprintf("%.0f%%", 100*r.Success/fullSuccess)
		}
		heap, wall, sps, lr := "–", "–", "–", "–"
		if r.LR > 0 {
			lr = fmt.Sprintf("%g", r.LR)
		}
		if r.PeakHeap > 0 {
			heap = fmt.Sprintf("%.0f MiB", float64(r.PeakHeap)/(1<<20))
		}
		if r.TrainSeconds > 0 {
			wall, sps = fmt.Sprintf("%.1f s", r.TrainSeconds), fmt.Sprintf("%.1f", r.StepsPerSec)
		}
		share := 0.0
		if r.Total > 0 {
			share = float64(r.Trainable) / float64(r.Total)
		}
		fmt.Fprintf(&sb, "| %s | %d of %d | %.2f%% | %.2f MiB | %s | %s | %s | %s | %.0f%% (%d episodes) | %s |\n",
			r.Method, r.Trainable, r.Total, 100*share, float64(r.TrainingBytes)/(1<<20), heap, lr, wall, sps,
			100*r.Success, r.Episodes, rel)
	}
	return sb.String()
}

// MakeOutput is what make vla (lessons/cmd/vla -json) writes.
type MakeOutput struct {
	Backend     string       `json:"backend"`
	Config      Config       `json:"config"`
	Steps       int          `json:"pretrain_steps"`
	FineSteps   int          `json:"finetune_steps"`
	Demos       int          `json:"demos_per_task"`
	Pretraining []TaskRecord `json:"pretraining"`
	Study       []Record     `json:"study"`
	// Seeds repeats chosen methods of the study over several study seeds
	// (demonstrations, batches and adapter initialization), the study's
	// own seed first.
	Seeds []SeedRecord `json:"seeds,omitempty"`
}

// SeedRecord is one method's success at one study seed.
type SeedRecord struct {
	Seed     int64   `json:"seed"`
	Method   string  `json:"method"`
	Episodes int     `json:"episodes"`
	Success  float64 `json:"success"`
}

// SeedRecord is the run's success as a record of study seed seed.
func (r *Run) SeedRecord(seed int64) SeedRecord {
	return SeedRecord{Seed: seed, Method: r.Method, Episodes: len(r.Result.Episodes), Success: r.Result.SuccessRate}
}

// Repeat runs the study's methods again at each of seeds (the study's
// other settings kept) and returns every run's success, seed by seed. The
// zero-shot score, which no seed changes, is left out.
func Repeat(b compute.Backend, sc StudyConfig, seeds []int64) ([]SeedRecord, error) {
	var out []SeedRecord
	for _, seed := range seeds {
		c := sc
		c.Seed = seed
		if c.Progress != nil {
			fmt.Fprintf(c.Progress, "study seed %d:\n", seed)
		}
		runs, err := Study(b, c)
		if err != nil {
			return nil, fmt.Errorf("vla: study seed %d: %w", seed, err)
		}
		for _, r := range runs[1:] {
			out = append(out, r.SeedRecord(seed))
		}
	}
	return out, nil
}

// SeedTable is recs as a Markdown table: a row per method, a column per
// seed, the mean, and the mean relative to full fine-tuning's mean (the
// issue's measure: what share of full fine-tuning's success a method
// recovers).
func SeedTable(recs []SeedRecord) string {
	var seeds []int64
	var methods []string
	success := map[string]map[int64]float64{}
	for _, r := range recs {
		if !slices.Contains(seeds, r.Seed) {
			seeds = append(seeds, r.Seed)
		}
		if success[r.Method] == nil {
			methods = append(methods, r.Method)
			success[r.Method] = map[int64]float64{}
		}
		success[r.Method][r.Seed] = r.Success
	}
	mean := func(m string) float64 {
		t := 0.0
		for _, v := range success[m] {
			t += v
		}
		return t / float64(len(success[m]))
	}
	var sb strings.Builder
	sb.WriteString("| method |")
	for _, s := range seeds {
		fmt.Fprintf(&sb, " seed %d |", s)
	}
	sb.WriteString(" mean | of full's mean |\n|---|")
	sb.WriteString(strings.Repeat("---:|", len(seeds)+2) + "\n")
	full := 0.0
	if success["full"] != nil {
		full = mean("full")
	}
	for _, m := range methods {
		fmt.Fprintf(&sb, "| %s |", m)
		for _, s := range seeds {
			if v, ok := success[m][s]; ok {
				fmt.Fprintf(&sb, " %.0f%% |", 100*v)
			} else {
				sb.WriteString(" – |")
			}
		}
		rel := "–"
		if full > 0 {
			rel = fmt.Sprintf("%.0f%%", 100*mean(m)/full)
		}
		fmt.Fprintf(&sb, " %.1f%% | %s |\n", 100*mean(m), rel)
	}
	return sb.String()
}

// TaskRecord is one policy's score on one task.
type TaskRecord struct {
	Policy   string  `json:"policy"`
	Task     string  `json:"task"`
	Episodes int     `json:"episodes"`
	Success  float64 `json:"success"`
}

// MakeStudy is the study table of make vla's out/vla.json, followed by
// its table over study seeds when it has one.
func MakeStudy() (string, error) {
	dir, err := course.OutDir("")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "vla.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("vla: %w", err)
	}
	var out MakeOutput
	if err := json.Unmarshal(b, &out); err != nil {
		return "", fmt.Errorf("vla: %s: %w", path, err)
	}
	if len(out.Study) == 0 {
		return "", fmt.Errorf("vla: %s holds no study", path)
	}
	md := RecordTable(out.Study)
	if len(out.Seeds) > 0 {
		md += "\nOver study seeds (" + fmt.Sprint(out.FineSteps) + " steps each):\n\n" + SeedTable(out.Seeds)
	}
	return md, nil
}

// BlindFromMake loads make vla's policy blind to the instruction, or
// returns nil when make vla has not run.
func BlindFromMake(b compute.Backend) (*Policy, string, error) {
	dir, err := course.OutDir(filepath.Join("checkpoints", MakeDir+"-blind"))
	if err != nil {
		return nil, "", err
	}
	latest, err := checkpoint.Latest(dir)
	if errors.Is(err, checkpoint.ErrNone) {
		return nil, "", nil
	} else if err != nil {
		return nil, "", fmt.Errorf("vla: %w", err)
	}
	p, err := Load(b, latest)
	return p, dir, err
}

// StudyChart plots each method's success on the held-out task beside the
// share of parameters it trains, both in percent.
func StudyChart(title string, runs []*Run) plot.Chart {
	var labels []string
	success := plot.Series{Name: "success on the held-out task (%)"}
	share := plot.Series{Name: "parameters trained (%)"}
	for _, r := range runs {
		labels = append(labels, r.Method)
		success.Y = append(success.Y, 100*r.Result.SuccessRate)
		share.Y = append(share.Y, 100*r.Share())
	}
	return plot.GroupedBars(title, "%", labels, success, share)
}
