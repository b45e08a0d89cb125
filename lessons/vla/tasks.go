package vla

import (
	"fmt"
	"strings"

	"github.com/policylab/policylab/lessons/arm"
	"github.com/policylab/policylab/lessons/data"
	"github.com/policylab/policylab/lessons/eval"
	"github.com/policylab/policylab/lessons/sim"
	"github.com/policylab/policylab/lessons/tokenizer"
)

// Task is a language-conditioned arm task.
type Task struct {
	Name        string     // short name: "reach", "red", "blue", "between"
	Instruction string     // what every episode of the task says
	Arm         arm.Config // the simulator's task
}

// Factory makes the task's environments (state observations; the policy
// renders its own camera image from them).
func (t Task) Factory() sim.Factory { return sim.ArmFactory(t.Arm, false) }

// PretrainTasks are the pretraining mix: "reach the target" (one green
// target), and "reach the red target" and "reach the blue target", which
// show the same two-target scenes (the words alone say which to reach).
func PretrainTasks() []Task {
	red, blue := arm.DefaultConfig(arm.ReachColor), arm.DefaultConfig(arm.ReachColor)
	red.GoalColor, blue.GoalColor = "red", "blue"
	return []Task{
		{Name: "reach", Instruction: arm.InstructionReach, Arm: arm.DefaultConfig(arm.Reach)},
		{Name: "red", Instruction: arm.InstructionRed, Arm: red},
		{Name: "blue", Instruction: arm.InstructionBlue, Arm: blue},
	}
}

// HeldOutTask is the task pretraining never shows: "reach between the red
// and blue targets", on the same two-target scenes.
func HeldOutTask() Task {
	return Task{Name: "between", Instruction: arm.InstructionBetween, Arm: arm.DefaultConfig(arm.ReachBetween)}
}

// Corpus is the text the lesson's tokenizer learns from: every task's
// instruction, held-out one included (a large model's tokenizer knows the
// words of a new task before the model has learnt what they ask), and a
// few more sentences about the scene.
func Corpus() []string {
	var c []string
	for _, t := range append(PretrainTasks(), HeldOutTask()) {
		c = append(c, t.Instruction, t.Instruction)
	}
	return append(c,
		"reach the green target", "move the hand to the red target", "move the hand to the blue target",
		"touch the red target", "touch the blue target", "push the T onto the target",
		"reach above the red target", "reach between the targets")
}

// NewTokenizer trains the lesson's WordPiece tokenizer on Corpus.
func NewTokenizer() (*tokenizer.Tokenizer, error) {
	return tokenizer.Train(Corpus(), tokenizer.TrainConfig{VocabSize: 200})
}

// Demos generates n successful expert demonstrations of each task, from
// seeds apart per task, as one dataset whose episodes carry their
// instruction as Task.
func Demos(tasks []Task, n int, seed int64) (*data.Dataset, error) {
	var all *data.Dataset
	var names []string
	for i, t := range tasks {
		ds, err := data.Generate(t.Factory(), n, seed+int64(1000003*i), data.GenOptions{OnlySuccessful: true})
		if err != nil {
			return nil, fmt.Errorf("vla: demos of %s: %w", t.Name, err)
		}
		for _, ep := range ds.Episodes {
			if ep.Task != t.Instruction {
				return nil, fmt.Errorf("vla: task %s recorded instruction %q, want %q", t.Name, ep.Task, t.Instruction)
			}
		}
		names = append(names, t.Name)
		if all == nil {
			all = ds
			continue
		}
		for _, ep := range ds.Episodes {
			ep.Index = len(all.Episodes)
			all.Episodes = append(all.Episodes, ep)
		}
		for _, task := range ds.Tasks {
			if all.TaskIndex(task) < 0 {
				all.Tasks = append(all.Tasks, task)
			}
		}
	}
	if all == nil {
		return nil, fmt.Errorf("vla: Demos of no tasks")
	}
	all.Name = "arm-" + strings.Join(names, "-")
	return all, all.Validate()
}

// TaskResult is a policy's evaluation on one task.
type TaskResult struct {
	Task   string
	Result *eval.Result
}

// Evaluate plays p on each task's episodes (seeded from eval's default
// seeds, apart from the demonstrations'), all episodes of a task in
// lockstep with one batched prediction per step, executing the first
// execute actions of each chunk.
func Evaluate(p *Policy, tasks []Task, episodes, execute int) ([]TaskResult, error) {
	var out []TaskResult
	for _, t := range tasks {
		f := t.Factory()
		r, err := eval.RunBatched(f.NewEnv, func(int) (eval.BatchPolicy, error) { return batchPolicy{p}, nil },
			execute, eval.Config{Episodes: episodes})
		if err != nil {
			return nil, fmt.Errorf("vla: evaluating on %s: %w", t.Name, err)
		}
		r.Env = t.Name
		out = append(out, TaskResult{Task: t.Name, Result: r})
	}
	return out, nil
}

// batchPolicy runs a Policy under eval.RunBatched: it keeps no state
// between steps.
type batchPolicy struct{ p *Policy }

func (b batchPolicy) Reset(int, int64)     {}
func (b batchPolicy) Observe(int, sim.Obs) {}
func (b batchPolicy) PredictChunks(_ []int, obs []sim.Obs) ([][][]float32, error) {
	return b.p.PredictBatch(obs)
}

// TaskTable is a Markdown table of success per task (rows) for several
// policies (columns, named by names), on the same seeds.
func TaskTable(names []string, results ...[]TaskResult) string {
	var sb strings.Builder
	sb.WriteString("| task | instruction |")
	for _, n := range names {
		fmt.Fprintf(&sb, " %s |", n)
	}
	sb.WriteString("\n|---|---|" + strings.Repeat("---:|", len(names)) + "\n")
	if len(results) == 0 {
		return sb.String()
	}
	instr := map[string]string{}
	for _, t := range append(PretrainTasks(), HeldOutTask()) {
		instr[t.Name] = t.Instruction
	}
	for i, row := range results[0] {
		fmt.Fprintf(&sb, "| %s | %s |", row.Task, instr[row.Task])
		for _, r := range results {
			if i < len(r) {
				fmt.Fprintf(&sb, " %.0f%% (%d episodes) |", 100*r[i].Result.SuccessRate, len(r[i].Result.Episodes))
			} else {
				sb.WriteString(" – |")
			}
		}
		sb.WriteString("\n")
	}
	return sb.String()
}
