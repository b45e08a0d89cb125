package data

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/parquet-go/parquet-go"
)

// pqFile is a parquet file opened for generic, column-wise reading: each
// top-level field is read as rows of values whatever its physical type
// (float vs double, int32 vs int64) and nesting (a scalar, or a 3-level
// LIST as pyarrow writes list<...> and fixed_size_list<...>).
type pqFile struct {
	path string
	f    *os.File
	pf   *parquet.File
	rows int
}

func openParquet(path string) (*pqFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %v", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("data: %v", err)
	}
	pf, err := openParquetFile(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("data: %s: not a readable parquet file (truncated or corrupt?): %v", path, err)
	}
	return &pqFile{path: path, f: f, pf: pf, rows: int(pf.NumRows())}, nil
}

func openParquetFile(r io.ReaderAt, size int64) (pf *parquet.File, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	return parquet.OpenFile(r, size, parquet.SkipBloomFilters(true))
}

func (p *pqFile) Close() error { return p.f.Close() }

// leaf returns the leaf column index of top-level field name, -1 when the
// file has no such field.
func (p *pqFile) leaf(name string) (int, error) {
	idx, found := -1, false
	for i, path := range p.pf.Schema().Columns() {
		if len(path) > 0 && path[0] == name {
			if found {
				return -1, fmt.Errorf("data: %s: column %q is a nested group with several leaves; want a number, string or list of them", p.path, name)
			}
			idx, found = i, true
		}
	}
	return idx, nil
}

func (p *pqFile) has(name string) bool {
	i, err := p.leaf(name)
	return err == nil && i >= 0
}

// scan calls fn once per row of field name with the row's non-null leaf
// values (none for a null or empty list, one for a scalar). The value
// slice is reused between calls.
func (p *pqFile) scan(name string, fn func(row int, vals []parquet.Value) error) (err error) {
	idx, err := p.leaf(name)
	if err != nil {
		return err
	}
	if idx < 0 {
		return fmt.Errorf("data: %s: no column %q", p.path, name)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("data: %s: column %q: corrupt data: %v", p.path, name, r)
		}
	}()
	row := -1
	var cur []parquet.Value
	flush := func() error {
		if row < 0 {
			return nil
		}
		return fn(row, cur)
	}
	buf := make([]parquet.Value, 1024)
	for _, rg := range p.pf.RowGroups() {
		pages := rg.ColumnChunks()[idx].Pages()
		for {
			page, err := pages.ReadPage()
			if err == io.EOF {
				break
			}
			if err != nil {
				pages.Close()
				return fmt.Errorf("data: %s: column %q: %v", p.path, name, err)
			}
			vr := page.Values()
			for {
				n, err := vr.ReadValues(buf)
				for _, v := range buf[:n] {
					if v.RepetitionLevel() == 0 {
						if err := flush(); err != nil {
							pages.Close()
							return err
						}
						row++
						cur = cur[:0]
					}
					if !v.IsNull() {
						cur = append(cur, v)
					}
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					pages.Close()
					return fmt.Errorf("data: %s: column %q: %v", p.path, name, err)
				}
				if n == 0 {
					pages.Close()
					return fmt.Errorf("data: %s: column %q: page reader made no progress", p.path, name)
				}
			}
		}
		pages.Close()
	}
	if err := flush(); err != nil {
		return err
	}
	if row+1 != p.rows {
		return fmt.Errorf("data: %s: column %q has %d rows, the file %d", p.path, name, row+1, p.rows)
	}
	return nil
}

var errNotNumber = errors.New("not a number")

func valueFloat(v parquet.Value) (float64, error) {
	switch v.Kind() {
	case parquet.Float:
		return float64(v.Float()), nil
	case parquet.Double:
		return v.Double(), nil
	case parquet.Int32:
		return float64(v.Int32()), nil
	case parquet.Int64:
		return float64(v.Int64()), nil
	case parquet.Boolean:
		if v.Boolean() {
			return 1, nil
		}
		return 0, nil
	}
	return 0, errNotNumber
}

func valueInt(v parquet.Value) (int64, error) {
	switch v.Kind() {
	case parquet.Int32:
		return int64(v.Int32()), nil
	case parquet.Int64:
		return v.Int64(), nil
	case parquet.Float, parquet.Double:
		f, _ := valueFloat(v)
		if f != float64(int64(f)) {
			return 0, fmt.Errorf("%v is not an integer", f)
		}
		return int64(f), nil
	}
	return 0, fmt.Errorf("%v value is not an integer", v.Kind())
}

// floatLists reads a list (or scalar) numeric column as [rows][len].
func (p *pqFile) floatLists(name string) ([][]float32, error) {
	out := make([][]float32, 0, p.rows)
	err := p.scan(name, func(row int, vals []parquet.Value) error {
		r := make([]float32, len(vals))
		for k, v := range vals {
			f, err := valueFloat(v)
			if err != nil {
				return fmt.Errorf("data: %s: column %q row %d: %v value is not a number", p.path, name, row, v.Kind())
			}
			r[k] = float32(f)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

func (p *pqFile) scalar(name string, fn func(row int, v parquet.Value) error) error {
	return p.scan(name, func(row int, vals []parquet.Value) error {
		if len(vals) != 1 {
			if len(vals) == 0 {
				return fmt.Errorf("data: %s: column %q row %d is null", p.path, name, row)
			}
			return fmt.Errorf("data: %s: column %q row %d holds %d values, want one", p.path, name, row, len(vals))
		}
		return fn(row, vals[0])
	})
}

func (p *pqFile) ints(name string) ([]int64, error) {
	out := make([]int64, 0, p.rows)
	err := p.scalar(name, func(row int, v parquet.Value) error {
		x, err := valueInt(v)
		if err != nil {
			return fmt.Errorf("data: %s: column %q row %d: %v", p.path, name, row, err)
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

func (p *pqFile) floats(name string) ([]float64, error) {
	out := make([]float64, 0, p.rows)
	err := p.scalar(name, func(row int, v parquet.Value) error {
		x, err := valueFloat(v)
		if err != nil {
			return fmt.Errorf("data: %s: column %q row %d: %v value is not a number", p.path, name, row, v.Kind())
		}
		out = append(out, x)
		return nil
	})
	return out, err
}

func (p *pqFile) bools(name string) ([]bool, error) {
	out := make([]bool, 0, p.rows)
	err := p.scalar(name, func(row int, v parquet.Value) error {
		x, err := valueFloat(v)
		if err != nil {
			return fmt.Errorf("data: %s: column %q row %d: %v value is not a boolean", p.path, name, row, v.Kind())
		}
		out = append(out, x != 0)
		return nil
	})
	return out, err
}

func (p *pqFile) stringLists(name string) ([][]string, error) {
	out := make([][]string, 0, p.rows)
	err := p.scan(name, func(row int, vals []parquet.Value) error {
		r := make([]string, len(vals))
		for k, v := range vals {
			if v.Kind() != parquet.ByteArray {
				return fmt.Errorf("data: %s: column %q row %d: %v value is not a string", p.path, name, row, v.Kind())
			}
			r[k] = string(v.ByteArray())
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

func (p *pqFile) strings(name string) ([]string, error) {
	lists, err := p.stringLists(name)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(lists))
	for i, l := range lists {
		if len(l) != 1 {
			return nil, fmt.Errorf("data: %s: column %q row %d holds %d strings, want one", p.path, name, i, len(l))
		}
		out[i] = l[0]
	}
	return out, nil
}
