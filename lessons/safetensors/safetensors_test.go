package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
)

func mustF32As(t *testing.T, dtype string, shape []int, v []float32) Tensor {
	t.Helper()
	x, err := FromFloat32As(dtype, shape, v)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func roundTrip(t *testing.T, f *File) *File {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%8 != 0 && len(f.Tensors) == 0 {
		t.Errorf("file of %d bytes", buf.Len())
	}
	g, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestRoundTripEveryDType(t *testing.T) {
	cases := []struct {
		name  string
		t     Tensor
		check func(t *testing.T, got Tensor)
	}{
		{"F32", FromFloat32([]int{2, 3}, []float32{1, -2.5, 3e-8, float32(math.Inf(1)), 0, 6}), func(t *testing.T, got Tensor) {
			v, err := got.Float32s()
			if err != nil || !reflect.DeepEqual(v, []float32{1, -2.5, 3e-8, float32(math.Inf(1)), 0, 6}) {
				t.Errorf("got %v, %v", v, err)
			}
		}},
		{"F64", FromFloat64([]int{3}, []float64{1e300, -1.0 / 3, 0}), func(t *testing.T, got Tensor) {
			v, err := got.Float64s()
			if err != nil || !reflect.DeepEqual(v, []float64{1e300, -1.0 / 3, 0}) {
				t.Errorf("got %v, %v", v, err)
			}
			f, _ := got.Float32s()
			if f[1] != float32(-1.0/3) {
				t.Errorf("Float32s of F64: %v", f)
			}
		}},
		{"F16", mustF32As(t, F16, []int{2, 2}, []float32{1, -0.5, 65504, 5.960464477539063e-08}), func(t *testing.T, got Tensor) {
			v, err := got.Float32s()
			if err != nil || !reflect.DeepEqual(v, []float32{1, -0.5, 65504, 5.960464477539063e-08}) {
				t.Errorf("got %v, %v", v, err)
			}
		}},
		{"BF16", mustF32As(t, BF16, []int{3}, []float32{1, -3.140625, 1e38}), func(t *testing.T, got Tensor) {
			v, err := got.Float32s()
			if err != nil || v[0] != 1 || v[1] != -3.140625 || math.Abs(float64(v[2])/1e38-1) > 1e-2 {
				t.Errorf("got %v, %v", v, err)
			}
		}},
		{"I64", FromInt64([]int{2}, []int64{math.MinInt64, math.MaxInt64}), func(t *testing.T, got Tensor) {
			v, err := got.Int64s()
			if err != nil || !reflect.DeepEqual(v, []int64{math.MinInt64, math.MaxInt64}) {
				t.Errorf("got %v, %v", v, err)
			}
		}},
		{"I32", FromInt32([]int{2}, []int32{-7, math.MaxInt32}), func(t *testing.T, got Tensor) {
			v, err := got.Int64s()
			if err != nil || !reflect.DeepEqual(v, []int64{-7, math.MaxInt32}) {
				t.Errorf("got %v, %v", v, err)
			}
		}},
		{"I16", FromInt16([]int{1, 2}, []int16{-300, 300}), func(t *testing.T, got Tensor) {
			v, err := got.Int64s()
			if err != nil || !reflect.DeepEqual(v, []int64{-300, 300}) {
				t.Errorf("got %v, %v", v, err)
			}
		}},
		{"I8", FromInt8([]int{2}, []int8{-128, 127}), func(t *testing.T, got Tensor) {
			v, err := got.Int64s()
			if err != nil || !reflect.DeepEqual(v, []int64{-128, 127}) {
				t.Errorf("got %v, %v", v, err)
			}
		}},
		{"U8", FromUint8([]int{4}, []uint8{0, 1, 128, 255}), func(t *testing.T, got Tensor) {
			v, err := got.Int64s()
			if err != nil || !reflect.DeepEqual(v, []int64{0, 1, 128, 255}) {
				t.Errorf("got %v, %v", v, err)
			}
		}},
		{"BOOL", FromBool([]int{3}, []bool{true, false, true}), func(t *testing.T, got Tensor) {
			v, err := got.Bools()
			if err != nil || !reflect.DeepEqual(v, []bool{true, false, true}) {
				t.Errorf("got %v, %v", v, err)
			}
		}},
		{"scalar", FromFloat32(nil, []float32{42}), func(t *testing.T, got Tensor) {
			if len(got.Shape) != 0 || got.NumElements() != 1 {
				t.Errorf("scalar shape %v", got.Shape)
			}
		}},
		{"empty", FromFloat32([]int{0, 3}, nil), func(t *testing.T, got Tensor) {
			if !reflect.DeepEqual(got.Shape, []int{0, 3}) || len(got.Data) != 0 {
				t.Errorf("empty: %+v", got)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &File{Tensors: map[string]Tensor{"x": c.t, "z.other": FromUint8([]int{1}, []uint8{9})},
				Metadata: map[string]string{"format": "pt"}}
			g := roundTrip(t, f)
			got := g.Tensors["x"]
			want := c.t
			if want.Shape == nil {
				want.Shape = []int{}
			}
			if got.DType != want.DType || !reflect.DeepEqual(got.Shape, want.Shape) || !bytes.Equal(got.Data, want.Data) {
				t.Fatalf("round trip: got %+v, want %+v", got, want)
			}
			if !reflect.DeepEqual(g.Metadata, f.Metadata) {
				t.Errorf("metadata %v", g.Metadata)
			}
			c.check(t, got)

			// Through GoMLX and back.
			gt, err := ToGoMLX(got)
			if err != nil {
				t.Fatal(err)
			}
			back, err := FromGoMLX(gt)
			if err != nil {
				t.Fatal(err)
			}
			if back.DType != want.DType || !reflect.DeepEqual(back.Shape, want.Shape) || !bytes.Equal(back.Data, want.Data) {
				t.Fatalf("GoMLX round trip: got %+v, want %+v", back, want)
			}
		})
	}
}

func TestGoMLXValues(t *testing.T) {
	x := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	st, err := FromGoMLX(x)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := st.Float32s()
	if st.DType != F32 || !reflect.DeepEqual(st.Shape, []int{2, 3}) || !reflect.DeepEqual(v, []float32{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("FromGoMLX: %+v %v", st, v)
	}
	g, err := ToGoMLX(FromInt64([]int{2}, []int64{-1, 5}))
	if err != nil {
		t.Fatal(err)
	}
	if g.DType() != dtypes.Int64 || !reflect.DeepEqual(g.Value(), []int64{-1, 5}) {
		t.Fatalf("ToGoMLX: %v", g)
	}
	b, err := ToGoMLX(FromBool([]int{2}, []bool{false, true}))
	if err != nil || !reflect.DeepEqual(b.Value(), []bool{false, true}) {
		t.Fatalf("ToGoMLX bool: %v %v", b, err)
	}
	if _, err := ToGoMLX(Tensor{DType: BOOL, Shape: []int{1}, Data: []byte{7}}); err == nil {
		t.Error("BOOL byte 7 accepted")
	}
	if _, err := FromGoMLX(tensors.FromFlatDataAndDimensions([]complex64{1}, 1)); err == nil ||
		!strings.HasPrefix(err.Error(), "safetensors: ") {
		t.Errorf("complex64: %v", err)
	}
}

// TestExactBytes pins the byte layout against a file built by hand.
func TestExactBytes(t *testing.T) {
	f := &File{
		Tensors: map[string]Tensor{
			"b": FromUint8([]int{3}, []uint8{1, 2, 3}),
			"a": FromFloat32([]int{2}, []float32{1, -2}),
		},
		Metadata: map[string]string{"format": "pt"},
	}
	hdr := `{"__metadata__":{"format":"pt"},` +
		`"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},` +
		`"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}` // 138 bytes
	var want []byte
	want = append(want, 144, 0, 0, 0, 0, 0, 0, 0) // 138 + 6 spaces of padding
	want = append(want, hdr...)
	want = append(want, "      "...)
	want = append(want, 0x00, 0x00, 0x80, 0x3f) // 1.0f
	want = append(want, 0x00, 0x00, 0x00, 0xc0) // -2.0f
	want = append(want, 1, 2, 3)
	var buf bytes.Buffer
	if err := Write(&buf, f); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("bytes differ:\n got %q\nwant %q", buf.Bytes(), want)
	}
	// Deterministic: a second write gives the same bytes.
	var buf2 bytes.Buffer
	_ = Write(&buf2, f)
	if !bytes.Equal(buf.Bytes(), buf2.Bytes()) {
		t.Error("Write is not deterministic")
	}
	// No metadata: no __metadata__ entry.
	var buf3 bytes.Buffer
	_ = Write(&buf3, &File{Tensors: map[string]Tensor{"a": f.Tensors["a"]}})
	if bytes.Contains(buf3.Bytes(), []byte(MetadataKey)) {
		t.Error("empty metadata written")
	}
}

func TestHalfConversions(t *testing.T) {
	// Every F16 bit pattern round-trips through float32 (NaNs stay NaNs).
	for h := 0; h < 1<<16; h++ {
		f := F16ToFloat32(uint16(h))
		back := Float32ToF16(f)
		if f != f {
			if F16ToFloat32(back) == F16ToFloat32(back) {
				t.Fatalf("NaN %#04x lost", h)
			}
			continue
		}
		if back != uint16(h) {
			t.Fatalf("F16 %#04x -> %v -> %#04x", h, f, back)
		}
	}
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65520, 0x7c00}, {1e-8, 0}, {1 + 1.0/2048, 0x3c00}, {1 + 3.0/2048, 0x3c02},
		{5.960464477539063e-08, 0x0001}, {2.9802322387695312e-08, 0x0000}, {4.470348358154297e-08, 0x0001},
	} {
		if got := Float32ToF16(c.f); got != c.want {
			t.Errorf("Float32ToF16(%v) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
	for _, c := range []struct {
		f    float32
		want uint16
	}{{1, 0x3f80}, {-2, 0xc000}, {1 + 1.0/256, 0x3f80}, {1 + 3.0/256, 0x3f82}, {float32(math.Inf(-1)), 0xff80}} {
		if got := Float32ToBF16(c.f); got != c.want {
			t.Errorf("Float32ToBF16(%v) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
	if v := BF16ToFloat32(Float32ToBF16(float32(math.NaN()))); v == v {
		t.Error("BF16 NaN lost")
	}
}

// file assembles a safetensors file from a header string and a data section.
func file(header string, data []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	out = append(out, header...)
	return append(out, data...)
}

func TestCorruptFiles(t *testing.T) {
	var valid bytes.Buffer
	_ = Write(&valid, &File{Tensors: map[string]Tensor{"w": FromFloat32([]int{2, 2}, []float32{1, 2, 3, 4})}})
	v := valid.Bytes()
	cases := []struct {
		name   string
		data   []byte
		tensor string // expected FormatError.Tensor
		want   string // expected substring
	}{
		{"empty", nil, "", "truncated file"},
		{"short", []byte{1, 2, 3}, "", "truncated file"},
		{"header beyond file", file("{}", nil)[:9], "", "beyond the end of the file"},
		{"huge header length", append(binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "{}"...), "", "beyond the end"},
		{"truncated data", v[:len(v)-3], "w", "out of range"},
		{"not json", file("hello   ", nil), "", "bad header JSON"},
		{"broken json", file(`{"w":{"dtype":"F32"`, nil), "", "bad header JSON"},
		{"trailing junk", file(`{}{}`, nil), "", "trailing data"},
		{"array header", file(`[1,2]`, nil), "", "bad header JSON"},
		{"entry not object", file(`{"w":3}`, nil), "w", "bad header entry"},
		{"missing dtype", file(`{"w":{"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), "w", `lacks "dtype"`},
		{"missing offsets", file(`{"w":{"dtype":"F32","shape":[1]}}`, make([]byte, 4)), "w", `lacks "data_offsets"`},
		{"null shape", file(`{"w":{"dtype":"F32","shape":null,"data_offsets":[0,4]}}`, make([]byte, 4)), "w", "bad shape"},
		{"float shape", file(`{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, make([]byte, 4)), "w", "bad shape"},
		{"three offsets", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, make([]byte, 8)), "w", "bad data_offsets"},
		{"unknown dtype", file(`{"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}`, make([]byte, 1)), "w", "unknown dtype"},
		{"negative dim", file(`{"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}`, make([]byte, 1)), "w", "invalid shape"},
		{"overflowing shape", file(`{"w":{"dtype":"U8","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,1]}}`, make([]byte, 1)), "w", "invalid shape"},
		{"negative offset", file(`{"w":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}`, make([]byte, 1)), "w", "invalid data_offsets"},
		{"reversed offsets", file(`{"w":{"dtype":"U8","shape":[1],"data_offsets":[1,0]}}`, make([]byte, 1)), "w", "invalid data_offsets"},
		{"offsets out of range", file(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 4)), "w", "out of range"},
		{"size mismatch", file(`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}`, make([]byte, 12)), "w", "size mismatch"},
		{"overlap", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`,
			make([]byte, 8)), "b", `overlap those of tensor "a"`},
		{"overlap behind an empty tensor", file(`{"a":{"dtype":"U8","shape":[10],"data_offsets":[0,10]},"e":{"dtype":"U8","shape":[0],"data_offsets":[5,5]},"c":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}}`,
			make([]byte, 10)), "c", "overlap"},
		{"duplicate", file(`{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, make([]byte, 1)), "w", "duplicate"},
		{"bad metadata", file(`{"__metadata__":{"k":1}}`, nil), "", "bad __metadata__"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(c.data), int64(len(c.data)))
			if err == nil {
				t.Fatal("no error")
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("not a *FormatError: %v", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "safetensors: ") || !strings.Contains(msg, c.want) || fe.Tensor != c.tensor {
				t.Fatalf("error %q (tensor %q), want it to contain %q and name tensor %q", msg, fe.Tensor, c.want, c.tensor)
			}
			if c.tensor != "" && !strings.Contains(msg, `tensor "`+c.tensor+`"`) {
				t.Errorf("error %q does not name the tensor", msg)
			}
		})
	}

	// ReadFile names the file.
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	if err := os.WriteFile(path, v[:len(v)-3], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(path)
	if err == nil || !strings.Contains(err.Error(), "safetensors: "+path+`: tensor "w": `) {
		t.Errorf("ReadFile error %v does not name file and tensor", err)
	}
}

func TestGapsAccepted(t *testing.T) {
	// Gaps between tensors are tolerated, and tensors in any offset order.
	data := []byte{9, 9, 1, 2, 0, 0, 0, 0} // "a" = {9, 9}, "b" = {1, 2}, then 4 unused bytes
	b := file(`{"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, data)
	f, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.Tensors["b"].Data, []byte{1, 2}) || !reflect.DeepEqual(f.Names(), []string{"a", "b"}) {
		t.Fatalf("%+v", f)
	}
}

func TestWriteErrors(t *testing.T) {
	for name, f := range map[string]*File{
		"size":     {Tensors: map[string]Tensor{"x": {DType: F32, Shape: []int{2}, Data: make([]byte, 4)}}},
		"dtype":    {Tensors: map[string]Tensor{"x": {DType: "F128", Shape: []int{1}, Data: make([]byte, 16)}}},
		"reserved": {Tensors: map[string]Tensor{MetadataKey: FromUint8([]int{1}, []uint8{1})}},
	} {
		err := Write(&bytes.Buffer{}, f)
		if err == nil || !strings.HasPrefix(err.Error(), "safetensors: ") || !strings.Contains(err.Error(), "tensor ") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := FromFloat32As(I32, []int{1}, []float32{1}); err == nil {
		t.Error("FromFloat32As(I32) accepted")
	}
	if _, err := FromInt64([]int{1}, []int64{1}).Float32s(); err == nil {
		t.Error("Float32s of I64 accepted")
	}
	if _, err := FromFloat32([]int{1}, []float32{1}).Int64s(); err == nil {
		t.Error("Int64s of F32 accepted")
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	f := &File{Tensors: map[string]Tensor{"w": FromFloat32([]int{3}, []float32{1, 2, 3})}}
	if err := WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	g, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.Tensors["w"].Data, f.Tensors["w"].Data) {
		t.Fatal("ReadFile differs")
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode())
	}
	before, _ := os.ReadFile(path)

	// A failing write leaves the old file intact and no temporary behind.
	bad := &File{Tensors: map[string]Tensor{"w": {DType: F32, Shape: []int{5}, Data: nil}}}
	err = WriteFile(path, bad)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `tensor "w"`) {
		t.Fatalf("bad WriteFile error: %v", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("failed write changed the file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x.safetensors"), f); err == nil {
		t.Error("write into a missing folder succeeded")
	}
}

func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	_ = Write(&buf, &File{
		Tensors: map[string]Tensor{
			"a": FromFloat32([]int{2}, []float32{1, 2}),
			"b": FromBool([]int{1}, []bool{true}),
			"c": mustHalf(),
		},
		Metadata: map[string]string{"k": "v"},
	})
	f.Add(buf.Bytes())
	f.Add(file(`{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, []byte{1}))
	f.Add(file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)))
	f.Add([]byte{})
	f.Add(file(`{}`, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "safetensors: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		// Whatever reads must write and read back identically.
		var out bytes.Buffer
		if err := Write(&out, g); err != nil {
			if strings.Contains(err.Error(), "reserved") {
				return
			}
			t.Fatalf("re-write: %v", err)
		}
		h, err := Read(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if len(h.Tensors) != len(g.Tensors) {
			t.Fatalf("tensor count %d != %d", len(h.Tensors), len(g.Tensors))
		}
		for name, x := range g.Tensors {
			y := h.Tensors[name]
			if x.DType != y.DType || !reflect.DeepEqual(x.Shape, y.Shape) || !bytes.Equal(x.Data, y.Data) {
				t.Fatalf("tensor %q changed", name)
			}
			_, _ = x.Float32s()
			_, _ = x.Int64s()
			_, _ = ToGoMLX(x)
		}
	})
}

func mustHalf() Tensor {
	x, err := FromFloat32As(BF16, []int{1, 1}, []float32{0.5})
	if err != nil {
		panic(err)
	}
	return x
}

// TestUnsignedThroughGoMLX: U64 (e.g. a random generator's state), U32 and
// U16 survive GoMLX → safetensors bytes → GoMLX.
func TestUnsignedThroughGoMLX(t *testing.T) {
	for _, v := range []any{[]uint64{0, 1, 1<<64 - 1}, []uint32{7, 1<<32 - 1}, []uint16{3, 65535}} {
		in := tensors.MustFromAnyValue(v)
		st, err := FromGoMLX(in)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := Write(&buf, &File{Tensors: map[string]Tensor{"x": st}}); err != nil {
			t.Fatal(err)
		}
		f, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := ToGoMLX(f.Tensors["x"])
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(out.Value(), in.Value()) {
			t.Errorf("%T: %v → %v", v, in.Value(), out.Value())
		}
	}
}
