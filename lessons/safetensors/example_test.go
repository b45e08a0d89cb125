package safetensors_test

import (
	"bytes"
	"fmt"

	"github.com/policylab/policylab/lessons/safetensors"
)

func Example() {
	f := &safetensors.File{
		Tensors: map[string]safetensors.Tensor{
			"fc.weight": safetensors.FromFloat32([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
			"fc.bias":   safetensors.FromFloat32([]int{2}, []float32{0.5, -0.5}),
			"steps":     safetensors.FromInt64(nil, []int64{1000}),
		},
		Metadata: map[string]string{"format": "pt"},
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, f); err != nil {
		panic(err)
	}
	g, err := safetensors.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		panic(err)
	}
	for _, name := range g.Names() {
		t := g.Tensors[name]
		fmt.Printf("%-9s %s %v", name, t.DType, t.Shape)
		if v, err := t.Float32s(); err == nil {
			fmt.Println("", v)
		} else if v, err := t.Int64s(); err == nil {
			fmt.Println("", v)
		}
	}
	fmt.Println("metadata:", g.Metadata, "file size:", buf.Len())

	// A truncated file is an error naming the tensor, never a panic.
	_, err = safetensors.Read(bytes.NewReader(buf.Bytes()[:buf.Len()-4]), int64(buf.Len()-4))
	fmt.Println(err)
	// Output:
	// fc.bias   F32 [2] [0.5 -0.5]
	// fc.weight F32 [2 3] [1 2 3 4 5 6]
	// steps     I64 [] [1000]
	// metadata: map[format:pt] file size: 264
	// safetensors: tensor "steps": data_offsets [32, 40] out of range: the data section has 36 bytes (truncated file?)
}
