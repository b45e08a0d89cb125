// Package course holds what every notebook of the course does first, and
// the setup check of the welcome notebook.
package course

import (
	"debug/buildinfo"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gomlx/compute"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/dense"
	"github.com/policylab/policylab/lessons/plot"
)

// Start is the first Go cell of every notebook: it prints which backend the
// notebook runs on ("PolicyLab backend: ..."; `make course` reads it) and
// inlines the chart script. A bad GOMLX_BACKEND stops here with an error
// that lists the backends available.
func Start() {
	if _, err := backend.New(); err != nil {
		panic(err)
	}
	fmt.Println(backend.Describe())
	if err := plot.Init(); err != nil && !errors.Is(err, plot.ErrNotNotebook) {
		panic(err)
	}
}

// Setup is what CheckSetup found.
type Setup struct {
	Backend   string // backend.Describe()
	Go        string // Go version the notebook was built with
	Modules   map[string]string
	GoNB      string // version of the GoNB kernel binary on PATH
	Build     string // GOEXPERIMENT of this build ("simd": SIMD matrix kernels)
	Echarts   string // path of the inlined echarts script
	MatMul    [2]float32
	FitSteps  int
	FitLosses []float64 // loss per step of a tiny real training run
	FitW      float32   // learned slope (data: y = 2x + 1)
	FitB      float32   // learned intercept
	FitTime   time.Duration
}

// modulesShown are the dependencies whose versions the welcome notebook prints.
var modulesShown = []string{
	"github.com/gomlx/gomlx", "github.com/gomlx/compute", "github.com/gomlx/go-xla",
	"github.com/go-echarts/go-echarts/v2",
}

// CheckSetup checks that the course works end to end on this machine: the
// backend starts, a matrix product is right, and a one-neuron model trains
// (gradients, optimizer) to y = 2x + 1. It returns an error naming what is
// wrong.
func CheckSetup() (*Setup, error) {
	b, err := backend.New()
	if err != nil {
		return nil, err
	}
	s := &Setup{Backend: backend.Describe(), Go: runtime.Version(), Modules: map[string]string{}}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			v := d.Version
			if d.Replace != nil {
				v = d.Replace.Version + " (replaced: " + d.Replace.Path + ")"
			}
			s.Modules[d.Path] = v
		}
		s.Build = "GOEXPERIMENT=(none): portable matrix kernels"
		for _, kv := range info.Settings {
			if kv.Key == "GOEXPERIMENT" && kv.Value != "" {
				s.Build = "GOEXPERIMENT=" + kv.Value
			}
		}
	}
	s.GoNB = gonbVersion()
	if s.Echarts, err = plot.EchartsPath(); err != nil {
		return s, err
	}

	// [[1 2] [3 4]] x [5 6]^T = [17 39]
	out := MustExecOnce(b, func(a, x *Node) *Node { return MatMul(a, x) },
		[][]float32{{1, 2}, {3, 4}}, [][]float32{{5}, {6}})
	got := out.Value().([][]float32)
	s.MatMul = [2]float32{got[0][0], got[1][0]}
	if s.MatMul != [2]float32{17, 39} {
		return s, fmt.Errorf("course: matrix product on %s gave %v, want [17 39]", b.Name(), s.MatMul)
	}

	s.FitSteps = 300
	start := time.Now()
	s.FitLosses, s.FitW, s.FitB, err = fitLine(b, s.FitSteps)
	s.FitTime = time.Since(start)
	if err != nil {
		return s, err
	}
	if math.Abs(float64(s.FitW)-2) > 0.05 || math.Abs(float64(s.FitB)-1) > 0.05 {
		return s, fmt.Errorf("course: training y = 2x + 1 on %s learned w=%.3f b=%.3f", b.Name(), s.FitW, s.FitB)
	}
	return s, nil
}

// fitLine trains y = w·x + b on 64 points of y = 2x + 1 with Adam.
func fitLine(b compute.Backend, steps int) (losses []float64, w, bias float32, err error) {
	xs := make([]float32, 64)
	ys := make([]float32, 64)
	for i := range xs {
		xs[i] = float32(i)/32 - 1
		ys[i] = 2*xs[i] + 1
	}
	x := tensors.FromFlatDataAndDimensions(xs, 64, 1)
	y := tensors.FromFlatDataAndDimensions(ys, 64, 1)
	store := model.NewStore()
	modelFn := func(scope *model.Scope, x *Node) *Node {
		return dense.Layer(scope.In("line"), x, 1)
	}
	tr := train.NewTrainer(b, store, modelFn, loss.MeanSquaredError,
		optimizer.Adam().LearningRate(0.05).Done(), nil, nil)
	batch := train.Batch{Inputs: []*tensors.Tensor{x}, Labels: []*tensors.Tensor{y}}
	for i := 0; i < steps; i++ {
		m, err := tr.TrainStep(batch)
		if err != nil {
			return losses, 0, 0, fmt.Errorf("course: train step %d: %w", i, err)
		}
		l := float64(m[0].Value().(float32))
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return losses, 0, 0, fmt.Errorf("course: loss is %v at step %d", l, i)
		}
		losses = append(losses, l)
	}
	wv, bv := store.GetVariable("/line/dense/weights"), store.GetVariable("/line/dense/biases")
	if wv == nil || bv == nil {
		return losses, 0, 0, errors.New("course: trained variables /line/dense/weights and /line/dense/biases not found")
	}
	w = wv.MustValue().Value().([][]float32)[0][0]
	bias = bv.MustValue().Value().([]float32)[0]
	return losses, w, bias, nil
}

// gonbVersion reads the module version from the build info of the gonb
// binary on PATH (its own --version text lags behind its releases).
func gonbVersion() string {
	p, err := exec.LookPath("gonb")
	if err != nil {
		return "not on PATH (run make setup)"
	}
	info, err := buildinfo.ReadFile(p)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return info.Main.Version + " (" + p + ")"
}

// String is the setup report as a small table.
func (s *Setup) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-22s %s\n", "backend", s.Backend)
	fmt.Fprintf(&sb, "%-22s %s (%s)\n", "Go", s.Go, s.Build)
	for _, m := range modulesShown {
		if v, ok := s.Modules[m]; ok {
			fmt.Fprintf(&sb, "%-22s %s\n", m[strings.LastIndex(strings.TrimSuffix(m, "/v2"), "/")+1:], v)
		}
	}
	fmt.Fprintf(&sb, "%-22s %s\n", "GoNB kernel", s.GoNB)
	fmt.Fprintf(&sb, "%-22s %s\n", "echarts script", s.Echarts)
	fmt.Fprintf(&sb, "%-22s [[1 2] [3 4]]·[5 6] = %v\n", "matrix product", s.MatMul)
	if len(s.FitLosses) > 0 {
		fmt.Fprintf(&sb, "%-22s y = %.3f·x + %.3f after %d Adam steps (loss %.2g → %.2g, %v)\n", "training",
			s.FitW, s.FitB, s.FitSteps, s.FitLosses[0], s.FitLosses[len(s.FitLosses)-1], s.FitTime.Round(time.Millisecond))
	}
	return sb.String()
}

// LossChart is the setup check's training curve.
func (s *Setup) LossChart() plot.Chart {
	return plot.LossCurves("setup check: training y = 2x + 1", plot.Series{Name: "train loss", Y: s.FitLosses})
}
