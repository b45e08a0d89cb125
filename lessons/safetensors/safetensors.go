// Package safetensors reads and writes the safetensors format of Hugging Face
// (https://github.com/huggingface/safetensors), the format in which PyTorch
// checkpoints such as torchvision's ResNet-18 are shared safely (no pickle).
//
// A file is laid out as:
//
//	[8 bytes]  N, the header length, little-endian uint64
//	[N bytes]  the header: UTF-8 JSON
//	           {"__metadata__": {"k": "v", ...},
//	            "<tensor name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
//	           padded with spaces so that 8+N is a multiple of 8 (when writing)
//	[rest]     the data section: every tensor's raw little-endian, row-major
//	           (C order) bytes; data_offsets are relative to the start of
//	           this section.
//
// Supported dtypes: F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8 and BOOL.
// Half-precision values (F16, BF16) are read by converting them to float32
// (Tensor.Float32s) and written from float32 with round-to-nearest-even
// (FromFloat32As).
//
// Write is deterministic: "__metadata__" first (keys sorted), then the
// tensors sorted by name, their data packed in that same order with no gaps.
// WriteFile is atomic: it writes a temporary file in the destination folder,
// fsyncs it and renames it over the destination, so a crash never leaves a
// truncated file behind.
//
// Read validates everything before trusting it: header length against the
// file size, JSON syntax, duplicate names, dtypes, shapes, offsets within the
// data section and not overlapping, and offsets matching shape × dtype size.
// Every validation failure is a *FormatError ("safetensors: <file>: tensor
// "<name>": ..."); I/O errors are wrapped with the "safetensors: " prefix too.
// Gaps between tensors are accepted (the reference implementation is stricter).
package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Dtype names, as spelled in safetensors headers.
const (
	F64  = "F64"
	F32  = "F32"
	F16  = "F16"
	BF16 = "BF16"
	I64  = "I64"
	I32  = "I32"
	I16  = "I16"
	I8   = "I8"
	U64  = "U64"
	U32  = "U32"
	U16  = "U16"
	U8   = "U8"
	BOOL = "BOOL"
)

// MetadataKey is the reserved header entry that holds the string-to-string metadata.
const MetadataKey = "__metadata__"

// MaxHeaderSize is the largest header Read accepts (100 MB, as the reference
// implementation); it bounds memory use on hostile input.
const MaxHeaderSize = 100 << 20

var dtypeSizes = map[string]int{
	F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
}

// DTypes lists the supported dtype names, sorted.
func DTypes() []string {
	names := make([]string, 0, len(dtypeSizes))
	for k := range dtypeSizes {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// DTypeSize is the size in bytes of one element of dtype, or 0 if the dtype is
// not supported.
func DTypeSize(dtype string) int { return dtypeSizes[dtype] }

// Tensor is one named array of a file: its dtype name (F32, BF16, ...), its
// shape (row-major; nil or empty for a scalar) and its raw little-endian data.
type Tensor struct {
	DType string
	Shape []int
	Data  []byte
}

// File is the content of a safetensors file: the tensors by name and the
// optional string metadata (nil when absent).
type File struct {
	Tensors  map[string]Tensor
	Metadata map[string]string
}

// Names returns the tensor names, sorted.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Tensors))
	for k := range f.Tensors {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// FormatError is the error of every failed Read, Write or conversion. File
// and Tensor are empty when unknown or not relevant.
type FormatError struct {
	File   string
	Tensor string
	Msg    string
}

func (e *FormatError) Error() string {
	var sb strings.Builder
	sb.WriteString("safetensors: ")
	if e.File != "" {
		sb.WriteString(e.File)
		sb.WriteString(": ")
	}
	if e.Tensor != "" {
		fmt.Fprintf(&sb, "tensor %q: ", e.Tensor)
	}
	sb.WriteString(e.Msg)
	return sb.String()
}

func errf(file, tensor, format string, args ...any) error {
	return &FormatError{File: file, Tensor: tensor, Msg: fmt.Sprintf(format, args...)}
}

// NumElements is the product of the shape (1 for a scalar), or -1 if a
// dimension is negative or the product overflows.
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return -1
		}
		if d != 0 && n > math.MaxInt64/8/d {
			return -1
		}
		n *= d
	}
	return n
}

// NumElements is the number of elements of the tensor (see the function NumElements).
func (t Tensor) NumElements() int { return NumElements(t.Shape) }

// Validate checks that the dtype is supported, the shape valid and the data
// size equal to shape × dtype size.
func (t Tensor) Validate() error {
	size, ok := dtypeSizes[t.DType]
	if !ok {
		return errf("", "", "unknown dtype %q (supported: %s)", t.DType, strings.Join(DTypes(), ", "))
	}
	n := NumElements(t.Shape)
	if n < 0 {
		return errf("", "", "invalid shape %v", t.Shape)
	}
	if n*size != len(t.Data) {
		return errf("", "", "shape %v × %s (%d bytes) needs %d bytes of data, got %d",
			t.Shape, t.DType, size, n*size, len(t.Data))
	}
	return nil
}

// New returns a tensor over a copy of raw little-endian data, checked with Validate.
func New(dtype string, shape []int, data []byte) (Tensor, error) {
	t := Tensor{DType: dtype, Shape: slices.Clone(shape), Data: slices.Clone(data)}
	return t, t.Validate()
}

func mustLen(shape []int, n int) {
	if NumElements(shape) != n {
		panic(fmt.Sprintf("safetensors: shape %v has %d elements, got %d values", shape, NumElements(shape), n))
	}
}

// FromFloat32 returns an F32 tensor. It panics if len(v) does not match shape.
func FromFloat32(shape []int, v []float32) Tensor {
	mustLen(shape, len(v))
	data := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(x))
	}
	return Tensor{DType: F32, Shape: slices.Clone(shape), Data: data}
}

// FromFloat64 returns an F64 tensor. It panics if len(v) does not match shape.
func FromFloat64(shape []int, v []float64) Tensor {
	mustLen(shape, len(v))
	data := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(data[8*i:], math.Float64bits(x))
	}
	return Tensor{DType: F64, Shape: slices.Clone(shape), Data: data}
}

// FromFloat32As returns a floating-point tensor of dtype F32, F64, F16 or BF16
// from float32 values (F16 and BF16 rounded to nearest, ties to even).
func FromFloat32As(dtype string, shape []int, v []float32) (Tensor, error) {
	if n := NumElements(shape); n != len(v) {
		return Tensor{}, errf("", "", "shape %v has %d elements, got %d values", shape, n, len(v))
	}
	switch dtype {
	case F32:
		return FromFloat32(shape, v), nil
	case F64:
		f := make([]float64, len(v))
		for i, x := range v {
			f[i] = float64(x)
		}
		return FromFloat64(shape, f), nil
	case F16, BF16:
		data := make([]byte, 2*len(v))
		for i, x := range v {
			var h uint16
			if dtype == F16 {
				h = Float32ToF16(x)
			} else {
				h = Float32ToBF16(x)
			}
			binary.LittleEndian.PutUint16(data[2*i:], h)
		}
		return Tensor{DType: dtype, Shape: slices.Clone(shape), Data: data}, nil
	}
	return Tensor{}, errf("", "", "FromFloat32As: dtype %q is not a floating-point dtype (F32, F64, F16, BF16)", dtype)
}

// FromInt64 returns an I64 tensor. It panics if len(v) does not match shape.
func FromInt64(shape []int, v []int64) Tensor {
	mustLen(shape, len(v))
	data := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(data[8*i:], uint64(x))
	}
	return Tensor{DType: I64, Shape: slices.Clone(shape), Data: data}
}

// FromInt32 returns an I32 tensor. It panics if len(v) does not match shape.
func FromInt32(shape []int, v []int32) Tensor {
	mustLen(shape, len(v))
	data := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(data[4*i:], uint32(x))
	}
	return Tensor{DType: I32, Shape: slices.Clone(shape), Data: data}
}

// FromInt16 returns an I16 tensor. It panics if len(v) does not match shape.
func FromInt16(shape []int, v []int16) Tensor {
	mustLen(shape, len(v))
	data := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(data[2*i:], uint16(x))
	}
	return Tensor{DType: I16, Shape: slices.Clone(shape), Data: data}
}

// FromInt8 returns an I8 tensor. It panics if len(v) does not match shape.
func FromInt8(shape []int, v []int8) Tensor {
	mustLen(shape, len(v))
	data := make([]byte, len(v))
	for i, x := range v {
		data[i] = byte(x)
	}
	return Tensor{DType: I8, Shape: slices.Clone(shape), Data: data}
}

// FromUint8 returns a U8 tensor. It panics if len(v) does not match shape.
func FromUint8(shape []int, v []uint8) Tensor {
	mustLen(shape, len(v))
	return Tensor{DType: U8, Shape: slices.Clone(shape), Data: slices.Clone(v)}
}

// FromBool returns a BOOL tensor (one byte per value, 0 or 1). It panics if
// len(v) does not match shape.
func FromBool(shape []int, v []bool) Tensor {
	mustLen(shape, len(v))
	data := make([]byte, len(v))
	for i, x := range v {
		if x {
			data[i] = 1
		}
	}
	return Tensor{DType: BOOL, Shape: slices.Clone(shape), Data: data}
}

// Float32s decodes a floating-point tensor (F32, F64, F16, BF16) to float32.
// F64 values are rounded to the nearest float32.
func (t Tensor) Float32s() ([]float32, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	n := len(t.Data) / dtypeSizes[t.DType]
	out := make([]float32, n)
	d := t.Data
	switch t.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(d[4*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(d[8*i:])))
		}
	case F16:
		for i := range out {
			out[i] = F16ToFloat32(binary.LittleEndian.Uint16(d[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = BF16ToFloat32(binary.LittleEndian.Uint16(d[2*i:]))
		}
	default:
		return nil, errf("", "", "Float32s: dtype %s is not a floating-point dtype", t.DType)
	}
	return out, nil
}

// Float64s decodes a floating-point tensor (F32, F64, F16, BF16) to float64.
func (t Tensor) Float64s() ([]float64, error) {
	if t.DType == F64 {
		if err := t.Validate(); err != nil {
			return nil, err
		}
		out := make([]float64, len(t.Data)/8)
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
		}
		return out, nil
	}
	f, err := t.Float32s()
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(f))
	for i, x := range f {
		out[i] = float64(x)
	}
	return out, nil
}

// Int64s decodes an integer or boolean tensor (I64, I32, I16, I8, U8, BOOL) to int64.
func (t Tensor) Int64s() ([]int64, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	n := len(t.Data) / dtypeSizes[t.DType]
	out := make([]int64, n)
	d := t.Data
	switch t.DType {
	case I64:
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(d[8*i:]))
		}
	case I32:
		for i := range out {
			out[i] = int64(int32(binary.LittleEndian.Uint32(d[4*i:])))
		}
	case I16:
		for i := range out {
			out[i] = int64(int16(binary.LittleEndian.Uint16(d[2*i:])))
		}
	case I8:
		for i := range out {
			out[i] = int64(int8(d[i]))
		}
	case U8, BOOL:
		for i := range out {
			out[i] = int64(d[i])
		}
	default:
		return nil, errf("", "", "Int64s: dtype %s is not an integer dtype", t.DType)
	}
	return out, nil
}

// Bools decodes a BOOL tensor; bytes other than 0 and 1 are an error.
func (t Tensor) Bools() ([]bool, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if t.DType != BOOL {
		return nil, errf("", "", "Bools: dtype %s is not BOOL", t.DType)
	}
	out := make([]bool, len(t.Data))
	for i, b := range t.Data {
		if b > 1 {
			return nil, errf("", "", "BOOL element %d has byte value %d, want 0 or 1", i, b)
		}
		out[i] = b == 1
	}
	return out, nil
}

// F16ToFloat32 converts IEEE 754 half-precision bits to float32 (exact).
func F16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: mant · 2^-24
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// Float32ToF16 converts float32 to IEEE 754 half-precision bits, rounding to
// nearest (ties to even); overflow gives ±Inf, NaN stays NaN.
func Float32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int((b >> 23) & 0xff)
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 // quiet NaN
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal half (or zero): value = m · 2^-24 with m = full mantissa >> shift.
		if e < -10 {
			return sign
		}
		full := mant | 0x800000
		shift := uint(14 - e) // 13 + (1 - e)
		m := full >> shift
		rem := full & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && m&1 == 1) {
			m++
		}
		return sign | uint16(m)
	}
	m := mant >> 13
	rem := mant & 0x1fff
	h := uint32(e)<<10 | m
	if rem > 0x1000 || (rem == 0x1000 && m&1 == 1) {
		h++ // may carry into the exponent, up to Inf: correct
	}
	return sign | uint16(h)
}

// BF16ToFloat32 converts bfloat16 bits to float32 (exact).
func BF16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Float32ToBF16 converts float32 to bfloat16 bits, rounding to nearest (ties
// to even); NaN stays NaN.
func Float32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40 // quiet NaN
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

type headerEntry struct {
	DType       string `json:"dtype"`
	Shape       []int  `json:"shape"`
	DataOffsets [2]int `json:"data_offsets"`
}

// header builds the JSON header (unpadded) and the tensor order.
func header(f *File) ([]byte, []string, error) {
	names := f.Names()
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	writeKey := func(k string) {
		if !first {
			buf.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
	}
	if len(f.Metadata) > 0 {
		writeKey(MetadataKey)
		mb, err := json.Marshal(f.Metadata) // map keys are sorted by encoding/json
		if err != nil {
			return nil, nil, errf("", MetadataKey, "%v", err)
		}
		buf.Write(mb)
	}
	off := 0
	for _, name := range names {
		if name == MetadataKey {
			return nil, nil, errf("", name, "the name %q is reserved for metadata", MetadataKey)
		}
		t := f.Tensors[name]
		if err := t.Validate(); err != nil {
			return nil, nil, errf("", name, "%s", err.(*FormatError).Msg)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		e := headerEntry{DType: t.DType, Shape: shape, DataOffsets: [2]int{off, off + len(t.Data)}}
		off += len(t.Data)
		eb, err := json.Marshal(e)
		if err != nil {
			return nil, nil, errf("", name, "%v", err)
		}
		writeKey(name)
		buf.Write(eb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), names, nil
}

// Write writes f in safetensors format: deterministic bytes, tensors in
// sorted name order, header padded with spaces to a multiple of 8 bytes.
func Write(w io.Writer, f *File) error {
	hdr, names, err := header(f)
	if err != nil {
		return err
	}
	for len(hdr)%8 != 0 {
		hdr = append(hdr, ' ')
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(hdr)))
	if _, err := w.Write(n[:]); err != nil {
		return fmt.Errorf("safetensors: writing header length: %w", err)
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("safetensors: writing header: %w", err)
	}
	for _, name := range names {
		if _, err := w.Write(f.Tensors[name].Data); err != nil {
			return fmt.Errorf("safetensors: writing tensor %q: %w", name, err)
		}
	}
	return nil
}

// WriteFile writes f to path atomically: to a temporary file in the same
// folder, fsynced, then renamed over path (and the folder fsynced, where the
// system allows). On any error path is untouched and the temporary removed.
// The file gets mode 0644.
func WriteFile(path string, f *File) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("safetensors: %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err = Write(bw, f); err != nil {
		var fe *FormatError
		if errors.As(err, &fe) {
			fe.File = path
			return fe
		}
		return fmt.Errorf("%w (file %s)", err, path)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("safetensors: %s: %w", path, err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("safetensors: %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("safetensors: %s: fsync: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("safetensors: %s: %w", path, err)
	}
	if err = os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("safetensors: %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil { // best effort: persist the rename
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// ReadFile reads and validates a safetensors file; errors name the file.
func ReadFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return read(fh, st.Size(), path)
}

// Read reads and validates a safetensors file of the given size from r.
// Tensor data are copied: the result does not alias r.
func Read(r io.ReaderAt, size int64) (*File, error) {
	return read(r, size, "")
}

type parsedEntry struct {
	name string
	headerEntry
}

func read(r io.ReaderAt, size int64, file string) (*File, error) {
	if size < 8 {
		return nil, errf(file, "", "truncated file: %d bytes, need at least 8 for the header length", size)
	}
	var nb [8]byte
	if _, err := r.ReadAt(nb[:], 0); err != nil {
		return nil, errf(file, "", "reading header length: %v", err)
	}
	n := binary.LittleEndian.Uint64(nb[:])
	if n > uint64(size-8) {
		return nil, errf(file, "", "header length %d goes beyond the end of the file (%d bytes, %d after the length)",
			n, size, size-8)
	}
	if n > MaxHeaderSize {
		return nil, errf(file, "", "header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	hdr := make([]byte, n)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, errf(file, "", "reading header: %v", err)
	}
	entries, meta, err := parseHeader(hdr, file)
	if err != nil {
		return nil, err
	}
	dataStart := 8 + int64(n)
	dataLen := size - dataStart

	// Validate every entry, then check overlaps in offset order.
	for _, e := range entries {
		es, ok := dtypeSizes[e.DType]
		if !ok {
			return nil, errf(file, e.name, "unknown dtype %q (supported: %s)", e.DType, strings.Join(DTypes(), ", "))
		}
		numel := NumElements(e.Shape)
		if numel < 0 {
			return nil, errf(file, e.name, "invalid shape %v", e.Shape)
		}
		b, end := e.DataOffsets[0], e.DataOffsets[1]
		if b < 0 || end < b {
			return nil, errf(file, e.name, "invalid data_offsets [%d, %d]", b, end)
		}
		if int64(end) > dataLen {
			return nil, errf(file, e.name, "data_offsets [%d, %d] out of range: the data section has %d bytes (truncated file?)",
				b, end, dataLen)
		}
		if numel > math.MaxInt64/8 || numel*es != end-b {
			return nil, errf(file, e.name, "size mismatch: shape %v × %s (%d bytes) = %d bytes, but data_offsets [%d, %d] span %d bytes",
				e.Shape, e.DType, es, numel*es, b, end, end-b)
		}
	}
	byOffset := slices.Clone(entries)
	slices.SortStableFunc(byOffset, func(a, b parsedEntry) int {
		if a.DataOffsets[0] != b.DataOffsets[0] {
			return a.DataOffsets[0] - b.DataOffsets[0]
		}
		return a.DataOffsets[1] - b.DataOffsets[1]
	})
	var prev *parsedEntry // the non-empty entry reaching furthest so far
	for i := range byOffset {
		c := &byOffset[i]
		if c.DataOffsets[1] == c.DataOffsets[0] {
			continue // empty tensors overlap nothing
		}
		if prev != nil && c.DataOffsets[0] < prev.DataOffsets[1] {
			return nil, errf(file, c.name, "data_offsets [%d, %d] overlap those of tensor %q [%d, %d]",
				c.DataOffsets[0], c.DataOffsets[1], prev.name, prev.DataOffsets[0], prev.DataOffsets[1])
		}
		if prev == nil || c.DataOffsets[1] > prev.DataOffsets[1] {
			prev = c
		}
	}

	f := &File{Tensors: make(map[string]Tensor, len(entries)), Metadata: meta}
	for _, e := range entries {
		data := make([]byte, e.DataOffsets[1]-e.DataOffsets[0])
		if len(data) > 0 {
			if _, err := r.ReadAt(data, dataStart+int64(e.DataOffsets[0])); err != nil {
				return nil, errf(file, e.name, "reading data: %v", err)
			}
		}
		shape := e.Shape
		if shape == nil {
			shape = []int{}
		}
		f.Tensors[e.name] = Tensor{DType: e.DType, Shape: shape, Data: data}
	}
	return f, nil
}

// parseHeader decodes the header JSON object entry by entry, so that
// duplicate names are caught and every entry is checked for its fields.
func parseHeader(hdr []byte, file string) ([]parsedEntry, map[string]string, error) {
	trimmed := bytes.TrimRight(hdr, " ")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, nil, errf(file, "", "bad header JSON: does not start with '{'")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	bad := func(err error) error { return errf(file, "", "bad header JSON: %v", err) }
	if _, err := dec.Token(); err != nil {
		return nil, nil, bad(err)
	}
	var entries []parsedEntry
	var meta map[string]string
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, bad(err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, nil, bad(fmt.Errorf("unexpected token %v", tok))
		}
		if seen[name] {
			return nil, nil, errf(file, name, "duplicate entry in the header")
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, bad(err)
		}
		if name == MetadataKey {
			if err := json.Unmarshal(raw, &meta); err != nil {
				return nil, nil, errf(file, "", "bad %s (want an object of strings): %v", MetadataKey, err)
			}
			continue
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
			return nil, nil, errf(file, name, "bad header entry %s: want an object with dtype, shape, data_offsets", short(raw))
		}
		e := parsedEntry{name: name}
		for _, k := range []string{"dtype", "shape", "data_offsets"} {
			if _, ok := fields[k]; !ok {
				return nil, nil, errf(file, name, "header entry lacks %q", k)
			}
		}
		if err := json.Unmarshal(fields["dtype"], &e.DType); err != nil {
			return nil, nil, errf(file, name, "bad dtype %s", short(fields["dtype"]))
		}
		if err := json.Unmarshal(fields["shape"], &e.Shape); err != nil || e.Shape == nil {
			return nil, nil, errf(file, name, "bad shape %s: want a list of non-negative integers", short(fields["shape"]))
		}
		var offs []int
		if err := json.Unmarshal(fields["data_offsets"], &offs); err != nil || len(offs) != 2 {
			return nil, nil, errf(file, name, "bad data_offsets %s: want [begin, end]", short(fields["data_offsets"]))
		}
		e.DataOffsets = [2]int{offs[0], offs[1]}
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil { // closing '}'
		return nil, nil, bad(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, bad(errors.New("trailing data after the header object"))
	}
	return entries, meta, nil
}

func short(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "..."
	}
	return string(b)
}
