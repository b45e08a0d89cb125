package ex1bc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/policylab/policylab/lessons/backend"
)

// Graded checks of exercise 1. Each takes the student's function(s) as
// values and fails t with a message naming the input, the expected and the
// got value.

// CheckMSELoss checks MSELoss on small hand-made tensors, worked out by
// hand: the value and that it is a scalar.
func CheckMSELoss(t testing.TB, loss LossFunc) {
	t.Helper()
	tests := []struct {
		name         string
		dims         []int
		pred, target []float32
		want         float64
	}{
		{"2×2", []int{2, 2}, []float32{1, 2, 3, 4}, []float32{1, 0, 0, 4}, (0 + 4 + 9 + 0) / 4.0},
		{"equal", []int{2, 3}, []float32{1, -2, 3, 0.5, 0, 7}, []float32{1, -2, 3, 0.5, 0, 7}, 0},
		{"one row", []int{1, 3}, []float32{0.5, -0.5, 1}, []float32{0, 0, 0}, (0.25 + 0.25 + 1) / 3},
		{"signs", []int{2, 1}, []float32{-1, 2}, []float32{1, -2}, (4 + 16) / 2.0},
	}
	for _, tc := range tests {
		got, dims := LossValue(t, loss, tc.dims, tc.pred, tc.target)
		if len(dims) != 0 {
			t.Fatalf("MSELoss(pred=%v, target=%v, shape %v) has shape %v, want a scalar (rank 0): reduce over every axis", tc.pred, tc.target, tc.dims, dims)
		}
		if math.Abs(got-tc.want) > 1e-6 {
			t.Errorf("MSELoss(pred=%v, target=%v, shape %v) = %v, want %v (the mean over all elements of (pred − target)²)", tc.pred, tc.target, tc.dims, got, tc.want)
		}
	}
}

// LossValue runs loss on pred and target of shape dims and returns its
// value (the first element) and its shape. A panic of loss fails t.
func LossValue(t testing.TB, loss LossFunc, dims []int, pred, target []float32) (float64, []int) {
	t.Helper()
	out := exec(t, "MSELoss", func() ([]*tensors.Tensor, error) {
		return graph.ExecOnceN(Backend(t), func(p, q *graph.Node) []*graph.Node { return []*graph.Node{GuardLoss(loss)(p, q)} },
			tensors.FromFlatDataAndDimensions(pred, dims...), tensors.FromFlatDataAndDimensions(target, dims...))
	})
	v := tensors.MustCopyFlatData[float32](out[0])
	if len(v) == 0 {
		t.Fatalf("MSELoss(shape %v) returned an empty tensor of shape %v", dims, out[0].Shape())
	}
	return float64(v[0]), out[0].Shape().Dimensions
}

// Variable is one variable of a network: its path under the network's
// scope ("encoder/0/dense/weights") and its dimensions.
type Variable struct {
	Path string
	Dims []int
}

func (v Variable) String() string { return fmt.Sprintf("%s %v", v.Path, v.Dims) }

// ChapterVariables are the variables of the chapter's network from in
// inputs through hidden to out outputs, in sorted path order.
func ChapterVariables(in, hidden, out int) []Variable {
	return []Variable{
		{"encoder/0/dense/biases", []int{hidden}}, {"encoder/0/dense/weights", []int{in, hidden}},
		{"encoder/1/dense/biases", []int{hidden}}, {"encoder/1/dense/weights", []int{hidden, hidden}},
		{"head/0/dense/biases", []int{hidden}}, {"head/0/dense/weights", []int{hidden, hidden}},
		{"head/1/dense/biases", []int{out}}, {"head/1/dense/weights", []int{hidden, out}},
	}
}

// CheckPolicyNetwork checks PolicyNetwork's output shape, its variables
// (names and shapes, as the course's policy has them) and its parameter
// count, on observations [5, 14] (the arm's proprioception), hidden 32,
// and 28 outputs (4 actions of 7 joints).
func CheckPolicyNetwork(t testing.TB, net NetworkFunc) {
	t.Helper()
	const batch, in, hidden, out = 5, 14, 32, 28
	store := NewStore(t, 1)
	y := RunNetwork(t, net, store, batch, in, hidden, out, RandomFloats(2, batch*in))
	if !slices.Equal(y.Dims, []int{batch, out}) {
		t.Fatalf("PolicyNetwork(obs [%d, %d], hidden %d, out %d) has shape %v, want [%d %d] ([batch, out])", batch, in, hidden, out, y.Dims, batch, out)
	}
	got, want := Variables(store, "/net/"), ChapterVariables(in, hidden, out)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("PolicyNetwork(obs [%d, %d], hidden %d, out %d) made the variables\n  %v\nwant\n  %v\n(layers.DenseWithBias in scopes encoder/0, encoder/1, head/0, head/1 makes exactly these)", batch, in, hidden, out, got, want)
	}
	params := 0
	for _, v := range got {
		n := 1
		for _, d := range v.Dims {
			n *= d
		}
		params += n
	}
	if wantN := in*hidden + hidden + 2*(hidden*hidden+hidden) + hidden*out + out; params != wantN {
		t.Errorf("PolicyNetwork(obs [%d, %d], hidden %d, out %d) has %d parameters, want %d", batch, in, hidden, out, params, wantN)
	}
}

// CheckGradientsFlow checks that the loss of the network's prediction has
// a gradient, finite and not zero, with respect to every variable of the
// network: the graph is connected from the loss back to every layer.
func CheckGradientsFlow(t testing.TB, net NetworkFunc, loss LossFunc) {
	t.Helper()
	const batch, in, hidden, out = 16, 14, 32, 7
	store := NewStore(t, 3)
	var paths []string
	res := exec(t, "PolicyNetwork and MSELoss", func() ([]*tensors.Tensor, error) {
		return model.ExecOnceN(Backend(t), store, func(scope *model.Scope, obs, target *graph.Node) []*graph.Node {
			l := GuardLoss(loss)(GuardNetwork(net)(scope.In("net"), obs, hidden, out), target)
			grads := scope.BuildTrainableVariablesGradientsGraph(l)
			for v := range scope.IterVariables() {
				if v.Trainable && v.InUseByGraph(obs.Graph()) {
					paths = append(paths, v.Path())
				}
			}
			return append([]*graph.Node{l}, grads...)
		}, tensors.FromFlatDataAndDimensions(RandomFloats(4, batch*in), batch, in),
			tensors.FromFlatDataAndDimensions(RandomFloats(5, batch*out), batch, out))
	})
	if len(paths) == 0 {
		t.Fatal("the loss of PolicyNetwork's prediction depends on no variable")
	}
	for i, p := range paths {
		g := tensors.MustCopyFlatData[float32](res[i+1])
		norm := 0.0
		for _, x := range g {
			norm += float64(x) * float64(x)
		}
		switch {
		case math.IsNaN(norm) || math.IsInf(norm, 0):
			t.Errorf("d loss / d %s is not finite (norm² %v)", p, norm)
		case norm == 0:
			t.Errorf("d loss / d %s is 0 everywhere (obs [%d, %d] random, target [%d, %d] random): the loss does not depend on it", p, batch, in, batch, out)
		}
	}
}

// Output is a network's output: its values and dimensions.
type Output struct {
	Values []float32
	Dims   []int
}

// RunNetwork builds net under scope "/net" of store on obs [batch, in]
// (flat) and returns its output. A panic of net fails t.
func RunNetwork(t testing.TB, net NetworkFunc, store *model.Store, batch, in, hidden, out int, obs []float32) Output {
	t.Helper()
	res := exec(t, "PolicyNetwork", func() ([]*tensors.Tensor, error) {
		return model.ExecOnceN(Backend(t), store, func(scope *model.Scope, x *graph.Node) []*graph.Node {
			return []*graph.Node{GuardNetwork(net)(scope.In("net"), x, hidden, out)}
		}, tensors.FromFlatDataAndDimensions(obs, batch, in))
	})
	return Output{tensors.MustCopyFlatData[float32](res[0]), res[0].Shape().Dimensions}
}

// Variables lists store's float variables under prefix, their paths
// without it, sorted.
func Variables(store *model.Store, prefix string) []Variable {
	var vs []Variable
	for v := range store.IterVariables() {
		if strings.HasPrefix(v.Path(), prefix) && v.Shape().DType.IsFloat() {
			vs = append(vs, Variable{strings.TrimPrefix(v.Path(), prefix), v.Shape().Dimensions})
		}
	}
	slices.SortFunc(vs, func(a, b Variable) int { return strings.Compare(a.Path, b.Path) })
	return vs
}

// NewStore is an empty variable store with its random state seeded.
func NewStore(t testing.TB, seed int64) *model.Store {
	t.Helper()
	s := model.NewStore()
	if err := s.SetRNGStateFromSeed(seed); err != nil {
		t.Fatal(err)
	}
	return s
}

// RandomFloats are n values uniform in [-1, 1), from seed.
func RandomFloats(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 42))
	v := make([]float32, n)
	for i := range v {
		v[i] = 2*r.Float32() - 1
	}
	return v
}

// Backend is the course's compute backend (lessons/backend).
func Backend(t testing.TB) compute.Backend {
	t.Helper()
	b, err := backend.New()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// exec runs f, failing t with what's name on an error or a panic (a TODO
// stub panics).
func exec(t testing.TB, what string, f func() ([]*tensors.Tensor, error)) []*tensors.Tensor {
	t.Helper()
	var out []*tensors.Tensor
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		out, err = f()
		return err
	}()
	if err != nil {
		t.Fatalf("%s failed: %v", what, firstLine(err))
	}
	return out
}

// firstLine shortens an error to its message (GoMLX adds stack traces
// and the names of its graphs) and, for a panic of the student's function,
// to what it said.
func firstLine(err error) string {
	s := err.Error()
	for _, name := range []string{"PolicyNetwork panicked: ", "MSELoss panicked: "} {
		if i := strings.Index(s, name); i >= 0 {
			s = s[i:]
			break
		}
	}
	if i := strings.Index(s, "\n"); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
