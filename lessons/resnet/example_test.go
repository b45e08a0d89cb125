package resnet_test

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/policylab/policylab/lessons/backend"
	"github.com/policylab/policylab/lessons/resnet"
)

func ExampleNumParams() {
	cfg := resnet.DefaultConfig()
	fmt.Printf("torchvision ResNet-18 encoder: %d parameters, %d features\n", resnet.NumParams(cfg), cfg.FeatureDim())
	fmt.Printf("with its ImageNet fc head: %d\n", resnet.NumParams(cfg)+cfg.FeatureDim()*1000+1000)
	small := resnet.Config{Width: 8, Norm: resnet.GroupNorm, Groups: 4, Blocks: [4]int{2, 2, 2, 2}}
	fmt.Printf("Width 8 with GroupNorm: %d parameters, %d features\n", resnet.NumParams(small), small.FeatureDim())
	// Output:
	// torchvision ResNet-18 encoder: 11176512 parameters, 512 features
	// with its ImageNet fc head: 11689512
	// Width 8 with GroupNorm: 176712 parameters, 64 features
}

func ExampleFeatures() {
	b, err := backend.New()
	if err != nil {
		panic(err)
	}
	cfg := resnet.Config{Width: 8, Norm: resnet.GroupNorm, Groups: 4, Blocks: [4]int{2, 2, 2, 2}}
	store := model.NewStore()
	encode := model.MustNewExec(b, store, func(scope *model.Scope, images *Node) *Node {
		return resnet.Features(scope.In("resnet"), images, cfg, false)
	})
	images := tensors.FromShape(shapes.Make(dtypes.Float32, 2, 32, 32, 3)) // [batch, height, width, RGB]
	feats := encode.MustCall1(images)
	fmt.Println("features:", feats.Shape())
	fmt.Println("conv1 kernel:", store.GetVariable("/resnet/conv1/weights").Shape())
	fmt.Println("downsample of layer2:", store.GetVariable("/resnet/layer2/0/downsample/0/weights").Shape())
	// Output:
	// features: (Float32)[2, 64]
	// conv1 kernel: (Float32)[7, 7, 3, 8]
	// downsample of layer2: (Float32)[1, 1, 8, 16]
}
