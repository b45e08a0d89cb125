package chunking

import (
	"math"
	"sort"
	"sync"
)

// Trace is what an executor did in one episode.
type Trace struct {
	Seed int64
	// Actions sent, one per control step: [steps][ActionDim].
	Actions [][]float32
	// Fresh[k]: step k's action came from a chunk in time (else the robot
	// held: a missed deadline).
	Fresh []bool
	// Seam[k]: step k's action is the first from a newer chunk.
	Seam []bool
	// Queries is the number of policy queries.
	Queries int
}

func (t *Trace) add(a []float32, fresh, seam bool) {
	t.Actions = append(t.Actions, append([]float32(nil), a...))
	t.Fresh = append(t.Fresh, fresh)
	t.Seam = append(t.Seam, seam)
}

// Recorder collects the traces of many episodes, from executors that may
// run on different goroutines (one per worker of eval.Run). A seed's trace
// is replaced when an episode with the same seed starts again.
type Recorder struct {
	mu     sync.Mutex
	traces map[int64]*Trace
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{traces: map[int64]*Trace{}} }

func (r *Recorder) begin(seed int64) *Trace {
	t := &Trace{Seed: seed}
	r.mu.Lock()
	r.traces[seed] = t
	r.mu.Unlock()
	return t
}

// Trace is the trace of the episode with this seed (nil if none). Read it
// once the episode is over.
func (r *Recorder) Trace(seed int64) *Trace {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.traces[seed]
}

// Traces are all traces, by seed.
func (r *Recorder) Traces() []*Trace {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Trace, 0, len(r.traces))
	for _, t := range r.traces {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seed < out[j].Seed })
	return out
}

// Metrics summarize how smoothly and how punctually actions were sent.
type Metrics struct {
	Episodes, Steps int
	// DeadlineMet is the share of control periods whose action came from a
	// chunk in time; the others held the last command.
	DeadlineMet float64
	// Jerk is the root mean square of the commanded action's third
	// difference, in action units per s³ (the action's names say which:
	// pixels for Push-T, radians for the arm).
	Jerk float64
	// SeamJump is the mean size (Euclidean norm) of the change of action
	// at chunk seams, in action units; StepJump is the same between two
	// actions on time from the same chunk, for comparison. A seam jump far
	// above the step jump is a visible jolt.
	SeamJump, StepJump float64
	// Seams is the number of seams per episode; QueriesPerStep is the
	// number of policy queries per control step.
	Seams, QueriesPerStep float64
}

// Measure computes the metrics of traces at controlHz.
func Measure(traces []*Trace, controlHz float64) Metrics {
	var m Metrics
	var fresh, seams, steps, queries int
	var jerk2 float64
	var jerks int
	var seamSum, stepSum float64
	var within int
	for _, t := range traces {
		m.Episodes++
		queries += t.Queries
		for k, a := range t.Actions {
			steps++
			if t.Fresh[k] {
				fresh++
			}
			switch {
			case k >= 1 && t.Seam[k]:
				seams++
				seamSum += dist(a, t.Actions[k-1])
			case k >= 1 && t.Fresh[k] && t.Fresh[k-1]:
				stepSum += dist(a, t.Actions[k-1])
				within++
			}
			if k >= 3 {
				var s float64
				for i := range a {
					j := float64(a[i]) - 3*float64(t.Actions[k-1][i]) + 3*float64(t.Actions[k-2][i]) - float64(t.Actions[k-3][i])
					s += j * j
				}
				jerk2 += s
				jerks++
			}
		}
	}
	m.Steps = steps
	if steps > 0 {
		m.DeadlineMet = float64(fresh) / float64(steps)
		m.QueriesPerStep = float64(queries) / float64(steps)
	}
	if jerks > 0 {
		m.Jerk = math.Sqrt(jerk2/float64(jerks)) * controlHz * controlHz * controlHz
	}
	if seams > 0 {
		m.SeamJump = seamSum / float64(seams)
	}
	if within > 0 {
		m.StepJump = stepSum / float64(within)
	}
	if m.Episodes > 0 {
		m.Seams = float64(seams) / float64(m.Episodes)
	}
	return m
}

func dist(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i] - b[i])
		s += d * d
	}
	return math.Sqrt(s)
}
