package vla

import (
	"fmt"
	"image"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gomlx/compute"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/checkpoint"
	"github.com/policylab/policylab/lessons/course"
	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/sim"
	"github.com/policylab/policylab/lessons/tokenizer"
	"github.com/policylab/policylab/lessons/trainer"
)

// TokenTable is a Markdown table of how tok cuts each text into tokens
// and ids, as the model receives it (EncodeFixed to n ids).
func TokenTable(tok *tokenizer.Tokenizer, n int, texts ...string) (string, error) {
	var sb strings.Builder
	sb.WriteString("| instruction | tokens | ids (padded to the model's length) |\n|---|---|---|\n")
	for _, text := range texts {
		ids, _, err := tok.EncodeFixed(text, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&sb, "| %s | `%s` | %v |\n", text, strings.Join(tok.Tokens(text), " "), ids)
	}
	return sb.String(), nil
}

// ParamTable is a Markdown table of the policy's parameters by module:
// embeddings, each transformer block, the final norm, the head, and the
// adapters when there are any.
func ParamTable(p *Policy) string {
	counts := map[string]int{}
	total := 0
	prefix := "/" + Kind + "/"
	for v := range p.store.IterVariables() {
		path := v.Path()
		if !strings.HasPrefix(path, prefix) || !v.Shape().DType.IsFloat() {
			continue
		}
		rest := strings.TrimPrefix(path, prefix)
		module := rest
		if i := strings.Index(rest, "/"); i >= 0 {
			module = rest[:i]
		}
		switch {
		case strings.Contains(path, "/lora/"):
			module = "LoRA adapters"
		case strings.HasPrefix(module, "block"):
		case module == "head" || module == "final_norm":
		default:
			module = "embeddings (" + module + ")"
		}
		counts[module] += v.Shape().Size()
		total += v.Shape().Size()
	}
	var names []string
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	var sb strings.Builder
	sb.WriteString("| module | parameters | share |\n|---|---:|---:|\n")
	for _, n := range names {
		fmt.Fprintf(&sb, "| %s | %d | %.1f%% |\n", n, counts[n], 100*float64(counts[n])/float64(total))
	}
	fmt.Fprintf(&sb, "| **total** | **%d** | |\n", total)
	return sb.String()
}

// deaf is the scripted expert told "reach the red target" whatever the
// instruction says: it sees the scene as well as the expert does and
// ignores the words.
type deaf struct{ x sim.ArmExpert }

func (d *deaf) Reset(int64) {}
func (d *deaf) Act(o sim.Obs) ([]float32, error) {
	if o.Instruction != arm.InstructionReach {
		o.Instruction = arm.InstructionRed
	}
	return d.x.Act(o), nil
}

// DeafExpert scores, on each task, the scripted expert deaf to the
// instruction (it always heads for the first target: the green one
// alone, or the red one of two). On scenes whose words alone name the
// goal, no policy that ignores the words can do better on average over
// the instructions: what a VLA must beat.
func DeafExpert(tasks []Task, episodes int) ([]TaskResult, error) {
	var out []TaskResult
	for _, t := range tasks {
		r, err := eval.Run(t.Factory().NewEnv, func() (eval.Policy, error) {
			return &deaf{x: sim.ArmExpert{X: arm.DefaultExpert()}}, nil
		}, eval.Config{Episodes: episodes})
		if err != nil {
			return nil, fmt.Errorf("vla: %w", err)
		}
		out = append(out, TaskResult{Task: t.Name, Result: r})
	}
	return out, nil
}

// Rollout plays one episode of task from seed with p (execute actions per
// chunk) and returns its camera frames at size × size and the result.
func Rollout(p *Policy, task Task, seed int64, execute, size int) ([]image.Image, *eval.Result, error) {
	r, err := eval.Run(task.Factory().NewEnv, func() (eval.Policy, error) { return eval.Chunked(p, execute), nil },
		eval.Config{Episodes: 1, Seed: seed, Workers: 1, Record: 1, RecordSize: size})
	if err != nil {
		return nil, nil, fmt.Errorf("vla: %w", err)
	}
	return r.Episodes[0].Frames, r, nil
}

// Checkpoint directories under out/checkpoints: what make vla trains, and
// the notebook's shorter runs when it has not been run.
const (
	MakeDir     = "vla-regression"
	NotebookDir = "vla-notebook"
)

// CoursePolicy is the lesson's pretrained policy (blind: the baseline
// that ignores the instruction): make vla's checkpoint in
// out/checkpoints/vla-regression(-blind) when there is one, or else the
// newest in out/checkpoints/vla-notebook(-blind), trained there first for
// steps on 200 demonstrations per pretraining task when it holds none.
// It returns the policy and the directory it came from.
func CoursePolicy(b compute.Backend, blind bool, steps int, progress io.Writer) (*Policy, string, error) {
	suffix := ""
	if blind {
		suffix = "-blind"
	}
	made, err := course.OutDir(filepath.Join("checkpoints", MakeDir+suffix))
	if err != nil {
		return nil, "", err
	}
	if latest, err := checkpoint.Latest(made); err == nil {
		p, err := Load(b, latest)
		return p, made, err
	}
	dir, err := course.OutDir(filepath.Join("checkpoints", NotebookDir+suffix))
	if err != nil {
		return nil, "", err
	}
	cfg := DefaultConfig()
	cfg.IgnoreInstruction = blind
	tc := trainer.DefaultConfig()
	tc.Steps, tc.WarmupSteps, tc.Seed, tc.Dir, tc.Progress = steps, steps/10, 1, dir, progress
	p, err := LoadOrTrain(b, cfg, func() (*data.Dataset, error) { return Demos(PretrainTasks(), 200, 1) }, tc)
	return p, dir, err
}
