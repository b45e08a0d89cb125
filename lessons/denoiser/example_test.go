package denoiser_test

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/denoiser"
)

// A small U-Net predicting the noise of a batch of 3 action sequences of 16
// steps of 2 values, conditioned on 40 observation features.
func ExampleUNet1D() {
	b, err := backend.New()
	if err != nil {
		panic(err)
	}
	cfg := denoiser.UNetConfig{DownDims: []int{16, 32, 64}, KernelSize: 5, Groups: 8, TimeEmbedDim: 16, CondPredictScale: true}
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	store := model.NewStore()
	predict := model.MustNewExec(b, store, func(scope *model.Scope, x, t, c *Node) *Node {
		return denoiser.UNet1D(scope.In("unet"), cfg, x, t, c)
	})
	x := tensors.FromShape(shapes.Make(dtypes.Float32, 3, 16, 2)) // [batch, horizon, actionDim]
	t := tensors.FromValue([]float32{0, 10, 99})                  // [batch] diffusion steps
	c := tensors.FromShape(shapes.Make(dtypes.Float32, 3, 40))    // [batch, condDim]
	eps := predict.MustCall1(x, t, c)
	fmt.Println("predicted noise:", eps.Shape().Dimensions)
	fmt.Println("parameters:", denoiser.UNetNumParams(cfg, 2, 40))
	fmt.Println("Diffusion Policy's default:", denoiser.UNetNumParams(denoiser.DefaultUNetConfig(), 2, 40))
	// Output:
	// predicted noise: [3 16 2]
	// parameters: 294498
	// Diffusion Policy's default: 65783298
}

// Three denoising steps of one sampling run unrolled in one graph: the
// step encoder and the FiLM Linears run once, for all three steps.
func ExampleUNetSteps() {
	b, err := backend.New()
	if err != nil {
		panic(err)
	}
	cfg := denoiser.UNetConfig{DownDims: []int{16, 32}, KernelSize: 5, Groups: 8, TimeEmbedDim: 16, CondPredictScale: true}
	run := model.MustNewExec(b, model.NewStore(), func(scope *model.Scope, x, ts, c *Node) *Node {
		u := denoiser.NewUNetSteps(cfg, ts, c)
		for k := range ts.Shape().Dimensions[0] {
			x = Sub(x, MulScalar(u.Step(scope.At("unet"), k, x), 0.1)) // a toy update
		}
		return x
	})
	x := tensors.FromShape(shapes.Make(dtypes.Float32, 2, 8, 2))       // [batch, horizon, actionDim]
	ts := tensors.FromValue([][]float32{{90, 90}, {50, 50}, {10, 10}}) // [steps, batch]
	c := tensors.FromShape(shapes.Make(dtypes.Float32, 2, 4))          // [batch, condDim]
	fmt.Println("after 3 steps:", run.MustCall1(x, ts, c).Shape().Dimensions)
	// Output:
	// after 3 steps: [2 8 2]
}
