package grade

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// SolutionTag marks the notebook cells that hold the student's code.
const SolutionTag = "solution"

// Submission is what one student handed in for one exercise.
type Submission struct {
	// Path is the file found: a .go file or a notebook.
	Path string
	// Source is the Go file the grader compiles in place of the
	// exercise's Submit file.
	Source []byte
}

// errNotSubmitted says a student's folder holds nothing for an exercise.
var errNotSubmitted = errors.New("not submitted")

// Find looks in a student's folder for exercise e: <name>/<submit>,
// <name>.go, <name>/<notebook> or <notebook>, in that order. It returns
// errNotSubmitted when none is there.
func Find(studentDir string, e *Exercise) (string, error) {
	cands := []string{
		filepath.Join(studentDir, e.Name, e.Submit),
		filepath.Join(studentDir, e.Name+".go"),
	}
	if e.Notebook != "" {
		cands = append(cands, filepath.Join(studentDir, e.Name, e.Notebook), filepath.Join(studentDir, e.Notebook))
	}
	for _, c := range cands {
		st, err := os.Lstat(c)
		if err != nil {
			continue
		}
		if !st.Mode().IsRegular() {
			return "", fmt.Errorf("grade: %s is not a regular file (links are not graded)", c)
		}
		return c, nil
	}
	return "", errNotSubmitted
}

// maxSubmission bounds a submitted file.
const maxSubmission = 4 << 20

// Read reads a submission and turns it into the Go file to compile: a .go
// file as it is, a notebook by its cells tagged "solution" (see
// FromNotebook). stub is the exercise's own Submit file, whose package
// clause and imports a notebook's cells are compiled with.
func Read(path string, stub []byte) (*Submission, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("grade: %w", err)
	}
	if len(b) > maxSubmission {
		return nil, fmt.Errorf("grade: %s: %d bytes, more than the %d a submission may have", path, len(b), maxSubmission)
	}
	src := b
	if strings.HasSuffix(path, ".ipynb") {
		if src, err = FromNotebook(b, stub); err != nil {
			return nil, fmt.Errorf("grade: %s: %w", filepath.Base(path), err)
		}
	}
	return &Submission{Path: path, Source: src}, nil
}

// notebook is the part of an .ipynb file the grader reads.
type notebook struct {
	Cells []struct {
		CellType string          `json:"cell_type"`
		Source   json.RawMessage `json:"source"`
		Metadata struct {
			Tags []string `json:"tags"`
		} `json:"metadata"`
	} `json:"cells"`
}

// cellSource reads a cell's source: a string or a list of strings.
func cellSource(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var lines []string
	if err := json.Unmarshal(raw, &lines); err != nil {
		return "", errors.New("a cell's source is neither a string nor a list of strings")
	}
	return strings.Join(lines, ""), nil
}

// FromNotebook builds the Go file of a notebook submission: the package
// clause and imports of stub, the imports written in the solution cells,
// then the cells' declarations in order. Imports the code does not use are
// dropped and missing standard ones added by goimports when it is on PATH.
// Cells may hold only declarations: GoNB's magics (%…, !…) and statements
// outside functions are errors that name the cell.
func FromNotebook(nb, stub []byte) ([]byte, error) {
	var n notebook
	if err := json.Unmarshal(nb, &n); err != nil {
		return nil, fmt.Errorf("not a notebook: %w", err)
	}
	fset := token.NewFileSet()
	sf, err := parser.ParseFile(fset, "stub.go", stub, parser.ImportsOnly)
	if err != nil {
		return nil, fmt.Errorf("the exercise's stub: %w", err)
	}
	imports := map[string]string{} // path → name ("" default, "." dot, "_")
	for _, im := range sf.Imports {
		imports[importPath(im)] = importName(im)
	}
	var decls []string
	cells := 0
	for i, c := range n.Cells {
		if c.CellType != "code" || !contains(c.Metadata.Tags, SolutionTag) {
			continue
		}
		cells++
		src, err := cellSource(c.Source)
		if err != nil {
			return nil, fmt.Errorf("cell %d: %w", i+1, err)
		}
		for _, line := range strings.Split(src, "\n") {
			if t := strings.TrimSpace(line); strings.HasPrefix(t, "%") || strings.HasPrefix(t, "!") {
				return nil, fmt.Errorf("cell %d (tagged %q): %q: solution cells hold Go declarations only, no GoNB magics", i+1, SolutionTag, t)
			}
		}
		f, err := parser.ParseFile(fset, fmt.Sprintf("cell%d.go", i+1), "package p\n"+src, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("cell %d (tagged %q) is not Go declarations: %w", i+1, SolutionTag, err)
		}
		for _, im := range f.Imports {
			imports[importPath(im)] = importName(im)
		}
		// The declarations' text after the imports, comments included.
		start := f.Name.End()
		if len(f.Imports) > 0 {
			for _, d := range f.Decls {
				if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.IMPORT {
					start = g.End()
				}
			}
		}
		off := fset.Position(start).Offset - len("package p\n")
		if off < 0 {
			off = 0
		}
		decls = append(decls, strings.TrimSpace(src[off:]))
	}
	if cells == 0 {
		return nil, fmt.Errorf("no code cell is tagged %q: the notebook's solution cells must keep their tag", SolutionTag)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by the grader from a notebook's %q cells.\n\npackage %s\n\n", SolutionTag, sf.Name.Name)
	if len(imports) > 0 {
		paths := make([]string, 0, len(imports))
		for p := range imports {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		b.WriteString("import (\n")
		for _, p := range paths {
			fmt.Fprintf(&b, "\t%s %s\n", imports[p], strconv.Quote(p))
		}
		b.WriteString(")\n\n")
	}
	b.WriteString(strings.Join(decls, "\n\n"))
	b.WriteString("\n")
	out := pruneImports(b.Bytes())
	if gi, err := exec.LookPath("goimports"); err == nil {
		cmd := exec.Command(gi)
		cmd.Stdin = bytes.NewReader(out)
		if fixed, err := cmd.Output(); err == nil {
			out = fixed
		}
	}
	return out, nil
}

// pruneImports drops imports whose name the file never uses as a
// qualifier; dot imports stay (goimports cannot judge them either, and the
// build reports one that is unused). A file that does not parse is
// returned as it is, for the compiler to report.
func pruneImports(src []byte) []byte {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", src, parser.ParseComments)
	if err != nil {
		return src
	}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if s, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := s.X.(*ast.Ident); ok {
				used[id.Name] = true
			}
		}
		return true
	})
	changed := false
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.IMPORT {
			continue
		}
		keep := g.Specs[:0]
		for _, sp := range g.Specs {
			im := sp.(*ast.ImportSpec)
			name := importName(im)
			if name == "" {
				name = defaultName(importPath(im))
			}
			if name == "." || name == "_" || used[name] {
				keep = append(keep, sp)
			} else {
				changed = true
			}
		}
		g.Specs = keep
	}
	if !changed {
		return src
	}
	var b bytes.Buffer
	if err := format.Node(&b, fset, f); err != nil {
		return src
	}
	return b.Bytes()
}

// defaultName guesses a package's name from its import path: the last
// element, without a major-version suffix or a "go-" prefix.
func defaultName(path string) string {
	parts := strings.Split(path, "/")
	last := parts[len(parts)-1]
	if len(parts) > 1 && len(last) > 1 && last[0] == 'v' && strings.Trim(last[1:], "0123456789") == "" {
		last = parts[len(parts)-2]
	}
	last = strings.TrimPrefix(last, "go-")
	return strings.ReplaceAll(last, "-", "")
}

func importPath(im *ast.ImportSpec) string {
	p, _ := strconv.Unquote(im.Path.Value)
	return p
}

func importName(im *ast.ImportSpec) string {
	if im.Name == nil {
		return ""
	}
	return im.Name.Name
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// forbidden are the imports a submission may not use: exercises read no
// files, start no processes and open no connections, and the grader's
// isolation should not be the only thing between a submission and the
// hidden tests.
var forbidden = []string{
	"C", "embed", "io/fs", "io/ioutil", "net", "os", "os/exec", "os/signal", "os/user",
	"path/filepath", "plugin", "runtime/debug", "syscall", "unsafe",
}

// Check parses a submission as a file of package pkg and rejects what the
// grader does not run: another package, forbidden imports (see forbidden;
// their sub-packages too, and golang.org/x/sys), and //go: directives
// (go:embed, go:linkname, go:generate). It returns nil for a file that
// does not parse: the compiler reports that with line numbers.
func Check(src []byte, pkg string) error {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "student.go", src, parser.ParseComments)
	if err != nil {
		return nil
	}
	if f.Name.Name != pkg {
		return fmt.Errorf("the file is package %s; it must be package %s", f.Name.Name, pkg)
	}
	for _, im := range f.Imports {
		p := importPath(im)
		for _, bad := range forbidden {
			if p == bad || strings.HasPrefix(p, bad+"/") || strings.HasPrefix(p, "golang.org/x/sys") {
				return fmt.Errorf("line %d: import %q is not allowed in a submission (no files, processes, network or unsafe code)", fset.Position(im.Pos()).Line, p)
			}
		}
	}
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if strings.HasPrefix(c.Text, "//go:") && !strings.HasPrefix(c.Text, "//go:build") {
				return fmt.Errorf("line %d: the directive %q is not allowed in a submission", fset.Position(c.Pos()).Line, strings.Fields(c.Text)[0])
			}
		}
	}
	return nil
}
