package safetensors

import (
	"encoding/binary"
	"slices"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
)

// gomlxDTypes maps safetensors dtype names to GoMLX dtypes; all are
// little-endian with the same element size, so conversion is a byte copy.
var gomlxDTypes = map[string]dtypes.DType{
	F64: dtypes.Float64, F32: dtypes.Float32, F16: dtypes.Float16, BF16: dtypes.BFloat16,
	I64: dtypes.Int64, I32: dtypes.Int32, I16: dtypes.Int16, I8: dtypes.Int8,
	U64: dtypes.Uint64, U32: dtypes.Uint32, U16: dtypes.Uint16, U8: dtypes.Uint8, BOOL: dtypes.Bool,
}

// hostLittleEndian: GoMLX tensors hold host-order bytes.
var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// ToGoMLX converts a tensor to a local GoMLX tensor of the same dtype and
// shape (F16 → dtypes.Float16, BF16 → dtypes.BFloat16, BOOL → dtypes.Bool,
// ...). Use Float32s first if you need float32 from a half-precision tensor.
func ToGoMLX(t Tensor) (*tensors.Tensor, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if !hostLittleEndian {
		return nil, errf("", "", "ToGoMLX: big-endian hosts are not supported")
	}
	dt := gomlxDTypes[t.DType]
	if t.DType == BOOL {
		for i, b := range t.Data {
			if b > 1 {
				return nil, errf("", "", "ToGoMLX: BOOL element %d has byte value %d, want 0 or 1", i, b)
			}
		}
	}
	out := tensors.FromShape(shapes.Make(dt, t.Shape...))
	if len(t.Data) == 0 {
		return out, nil
	}
	if err := out.MutableBytes(func(data []byte) { copy(data, t.Data) }); err != nil {
		return nil, errf("", "", "ToGoMLX: %v", err)
	}
	return out, nil
}

// FromGoMLX converts a GoMLX tensor (Float64, Float32, Float16, BFloat16,
// Int64, Int32, Int16, Int8, Uint8 or Bool) to a safetensors Tensor, copying
// its data (from the device if needed).
func FromGoMLX(t *tensors.Tensor) (Tensor, error) {
	if t == nil {
		return Tensor{}, errf("", "", "FromGoMLX: nil tensor")
	}
	if !hostLittleEndian {
		return Tensor{}, errf("", "", "FromGoMLX: big-endian hosts are not supported")
	}
	shape := t.Shape()
	var name string
	for k, v := range gomlxDTypes {
		if v == shape.DType {
			name = k
		}
	}
	if name == "" {
		return Tensor{}, errf("", "", "FromGoMLX: dtype %s has no safetensors equivalent here", shape.DType)
	}
	out := Tensor{DType: name, Shape: slices.Clone(shape.Dimensions)}
	if out.Shape == nil {
		out.Shape = []int{}
	}
	n := NumElements(out.Shape) * dtypeSizes[name]
	out.Data = make([]byte, n)
	if n > 0 {
		if err := t.ConstBytes(func(data []byte) { copy(out.Data, data) }); err != nil {
			return Tensor{}, errf("", "", "FromGoMLX: %v", err)
		}
	}
	return out, out.Validate()
}
