package grade

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A small course with one exercise, written into a temporary folder, so
// the grader's own behaviour is tested in seconds and apart from the real
// exercises (TestClass grades those).
var fakeCourse = map[string]string{
	"go.mod": "module example.com/course\n\ngo 1.22\n",
	"exercises/exa/check.go": `package exa

import "testing"

// CheckAdd fails t unless add(2, 3) == 5.
func CheckAdd(t testing.TB, add func(a, b int) int) {
	if got := add(2, 3); got != 5 {
		t.Fatalf("Add(2, 3) = %d, want 5", got)
	}
}
`,
	"exercises/exa/student.go": `package exa

// Add returns a + b.
func Add(a, b int) int {
	panic("TODO: return a + b")
}

// Mean returns the mean of x, 0 for none.
func Mean(x []float64) float64 {
	panic("TODO: the mean")
}
`,
	"exercises/exa/visible_test.go": `package exa

import "testing"

func TestAdd(t *testing.T) { CheckAdd(t, Add) }

func TestMean(t *testing.T) {
	if got := Mean([]float64{1, 2}); got != 1.5 {
		t.Fatalf("Mean([1 2]) = %v, want 1.5", got)
	}
}
`,
	"solutions/exa/hidden_test.go": `//go:build grading

package exa

import "testing"

func TestHiddenAddNegative(t *testing.T) {
	if got := Add(-2, -3); got != -5 {
		t.Fatalf("Add(-2, -3) = %d, want -5", got)
	}
}

func TestHiddenMeanEmpty(t *testing.T) {
	if got := Mean(nil); got != 0 {
		t.Fatalf("Mean(nil) = %v, want 0", got)
	}
}
`,
	"exercises/grading.json": `{
  "timeout": "20s", "memory": "2GiB", "build_timeout": "5m",
  "exercises": [{
    "name": "exa", "title": "Adding", "dir": "exercises/exa", "submit": "student.go",
    "notebook": "exa.ipynb", "hidden": ["solutions/exa/hidden_test.go"],
    "tests": [
      {"name": "TestAdd", "points": 1},
      {"name": "TestMean", "points": 2},
      {"name": "TestHiddenAddNegative", "points": 3, "hidden": true},
      {"name": "TestHiddenMeanEmpty", "points": 4, "hidden": true, "timeout": "3s"}
    ]
  }]
}
`,
}

const solution = `package exa

func Add(a, b int) int { return a + b }

func Mean(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}
`

// notebookWith is an exercise notebook whose solution cells hold cells.
func notebookWith(cells ...string) string {
	type cell struct {
		CellType string         `json:"cell_type"`
		Source   []string       `json:"source"`
		Metadata map[string]any `json:"metadata"`
		Outputs  []any          `json:"outputs"`
	}
	nb := struct {
		Cells []cell `json:"cells"`
	}{Cells: []cell{
		{CellType: "markdown", Source: []string{"# Adding"}, Metadata: map[string]any{}},
		{CellType: "code", Source: []string{"!*go work use .\n", "%goworkfix"}, Metadata: map[string]any{}},
	}}
	for _, c := range cells {
		nb.Cells = append(nb.Cells, cell{CellType: "code", Source: strings.SplitAfter(c, "\n"), Metadata: map[string]any{"tags": []string{SolutionTag}}})
	}
	nb.Cells = append(nb.Cells, cell{CellType: "code", Source: []string{"%test"}, Metadata: map[string]any{"tags": []string{"raises-exception"}}})
	b, _ := json.Marshal(nb)
	return string(b)
}

// fakeClass is every kind of submission the grader must survive, with the
// gradebook it must write.
var fakeClass = []struct {
	student, file, src string
	points             float64
	status             string
}{
	{"complete", "exa/student.go", solution, 10, StatusGraded},
	{"notebook", "exa.ipynb", notebookWith(
		"import \"math\"\n\n// Add returns a + b.\nfunc Add(a, b int) int { return a + b }",
		"func Mean(x []float64) float64 {\n\tif len(x) == 0 {\n\t\treturn 0\n\t}\n\ts := 0.0\n\tfor _, v := range x {\n\t\ts += v\n\t}\n\treturn s / float64(len(x)) + 0*math.Pi\n}",
	), 10, StatusGraded},
	{"partial", "exa.go", strings.Replace(solution, "if len(x) == 0 {\n\t\treturn 0\n\t}\n", "", 1), 6, StatusGraded},
	{"panicking", "exa/student.go", strings.Replace(solution, "{ return a + b }", "{\n\tif a < 0 {\n\t\tpanic(\"negative numbers are not my job\")\n\t}\n\treturn a + b\n}", 1), 7, StatusGraded},
	{"looping", "exa/student.go", strings.Replace(solution, "if len(x) == 0 {\n\t\treturn 0\n\t}", "for len(x) == 0 {\n\t}", 1), 6, StatusGraded},
	{"broken", "exa/student.go", strings.Replace(solution, "return a + b", "return a +", 1), 0, StatusBuildFailed},
	{"cheater", "exa/student.go", `package exa

import "os"

var hidden, _ = os.ReadFile("../../solutions/exa/hidden_test.go")

func Add(a, b int) int { return a + b + len(hidden)*0 }

func Mean(x []float64) float64 { return 0 }
`, 0, StatusRejected},
	{"writer", "exa/student.go", `package exa

import "os"

func Add(a, b int) int {
	os.WriteFile("../../../gradebook.csv", []byte("writer,exa,10,10\n"), 0o644)
	return a + b
}

func Mean(x []float64) float64 { return 0 }
`, 0, StatusRejected},
	{"absent", "README.txt", "I ran out of time.\n", 0, StatusNotSubmitted},
}

func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestGradeFakeClass(t *testing.T) {
	if testing.Short() {
		t.Skip("builds nine submissions")
	}
	tmp := t.TempDir()
	root, subs, out := filepath.Join(tmp, "course"), filepath.Join(tmp, "class"), filepath.Join(tmp, "out")
	writeFiles(t, root, fakeCourse)
	files := map[string]string{}
	for _, s := range fakeClass {
		files[filepath.Join(s.student, s.file)] = s.src
	}
	// The stub itself, handed in: it must earn nothing.
	files["stub/exa/student.go"] = fakeCourse["exercises/exa/student.go"]
	writeFiles(t, subs, files)
	spec, err := LoadSpec(filepath.Join(root, SpecFile), root)
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	gb, err := Grade(context.Background(), Options{Root: root, Spec: spec, Submissions: subs, Out: out, Isolation: isolationForTests(), Progress: &log})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(log.String())
	got := readCSV(t, filepath.Join(out, "gradebook.csv"))
	want := [][]string{{"student", "exercise", "points", "max"}}
	status := map[string]string{"stub": StatusGraded}
	for _, s := range fakeClass {
		status[s.student] = s.status
	}
	for _, st := range []string{"absent", "broken", "cheater", "complete", "looping", "notebook", "panicking", "partial", "stub", "writer"} {
		p := 0.0
		for _, s := range fakeClass {
			if s.student == st {
				p = s.points
			}
		}
		want = append(want, []string{st, "exa", fmt.Sprint(p), "10"})
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("gradebook.csv:\n got %v\nwant %v", got, want)
	}
	for _, r := range gb.Results {
		if r.Status != status[r.Student] {
			t.Errorf("%s: status %q, want %q (%s)", r.Student, r.Status, status[r.Student], r.Message)
		}
		fb, err := os.ReadFile(filepath.Join(out, "feedback", r.Student+".md"))
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range r.Tests {
			if !strings.Contains(string(fb), tr.Name) && r.Message == "" {
				t.Errorf("%s's feedback does not list %s", r.Student, tr.Name)
			}
		}
		// Messages that say what happened.
		want := map[string]string{
			"stub":      "TODO: return a + b",
			"panicking": "negative numbers are not my job",
			"looping":   "time limit: the test did not finish in 3s",
			"partial":   "Mean(nil) = NaN, want 0",
			"broken":    "student.go",
			"cheater":   `import "os" is not allowed`,
			"absent":    "no exa/student.go",
		}[r.Student]
		if want != "" && !strings.Contains(string(fb), want) {
			t.Errorf("%s's feedback does not say %q:\n%s", r.Student, want, fb)
		}
	}
	// The writer did not get to write; the gradebook is the grader's.
	if b, _ := os.ReadFile(filepath.Join(tmp, "gradebook.csv")); len(b) > 0 {
		t.Errorf("a submission wrote %s", filepath.Join(tmp, "gradebook.csv"))
	}
}

// isolationForTests requires isolation where CI asks for it.
func isolationForTests() Isolation {
	if os.Getenv("POLICYLAB_REQUIRE_SANDBOX") != "" {
		return IsolationRequire
	}
	return IsolationAuto
}

func readCSV(t testing.TB, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestSandbox runs a shell in the sandbox: it must not see a hidden
// folder nor write to it, must not write system files, and must die at
// its time limit.
func TestSandbox(t *testing.T) {
	// Tests run as nobody when the grader is root: the folders must be
	// reachable by other users, as the grader's work folder is.
	tmp, err := os.MkdirTemp("", "policylab-sandbox-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	secret, box := filepath.Join(tmp, "secret"), filepath.Join(tmp, "box")
	for _, d := range []string{secret, box} {
		if err := os.Mkdir(d, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o777)
	}
	if err := os.WriteFile(filepath.Join(secret, "hidden_test.go"), []byte("package secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	sb, err := NewSandbox(isolationForTests(), []string{secret})
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := sb.Isolated(); !ok {
		t.Skipf("no isolation here: %s", why)
	}
	script := fmt.Sprintf(`cat %[1]s/hidden_test.go && echo READ
echo x > %[1]s/new && echo WROTE-HIDDEN
echo y > %[2]s/mine && echo WROTE-OWN
umount %[1]s 2>/dev/null && echo UNMOUNTED
sleep 60`, secret, box)
	start := time.Now()
	oc := sb.Run(context.Background(), box, []string{"PATH=/usr/bin:/bin"}, 2*time.Second, 1<<30, []string{"/bin/sh", "-c", script})
	out := string(oc.Output)
	for _, bad := range []string{"READ", "WROTE-HIDDEN", "UNMOUNTED"} {
		if strings.Contains(out, bad) {
			t.Errorf("the sandboxed shell could do %s:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "WROTE-OWN") {
		t.Errorf("the sandboxed shell could not write its own folder:\n%s", out)
	}
	if !oc.TimedOut || time.Since(start) > 10*time.Second {
		t.Errorf("sleep 60 was not killed at 2s: timed out %v after %v", oc.TimedOut, time.Since(start))
	}
	if _, err := os.Stat(filepath.Join(secret, "new")); err == nil {
		t.Error("a file appeared in the hidden folder")
	}
}

func TestSandboxMemoryLimit(t *testing.T) {
	sb, err := NewSandbox(IsolationOff, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 256 MiB of address space is too little for a 512 MiB allocation.
	oc := sb.Run(context.Background(), t.TempDir(), []string{"PATH=/usr/bin:/bin"}, 10*time.Second, 256<<20,
		[]string{"/usr/bin/python3", "-c", "b = bytearray(512 << 20)"})
	if oc.Err == nil {
		t.Fatalf("a 512 MiB allocation under a 256 MiB limit succeeded:\n%s", oc.Output)
	}
}

func TestSpecValidate(t *testing.T) {
	good := func() *Spec {
		return &Spec{Timeout: Duration(time.Minute), Memory: 1 << 30, BuildTimeout: Duration(time.Minute), Exercises: []Exercise{{
			Name: "exa", Dir: "exercises/exa", Submit: "student.go",
			Tests: []Test{{Name: "TestA", Points: 1}, {Name: "TestHiddenB", Points: 2, Hidden: true}},
		}}}
	}
	for _, tc := range []struct {
		name   string
		break_ func(*Spec)
		want   string
	}{
		{"good", func(*Spec) {}, ""},
		{"no exercises", func(s *Spec) { s.Exercises = nil }, "no exercises"},
		{"bad name", func(s *Spec) { s.Exercises[0].Name = "Ex-A" }, "Go package name"},
		{"duplicate test", func(s *Spec) { s.Exercises[0].Tests[1] = s.Exercises[0].Tests[0] }, "listed twice"},
		{"zero points", func(s *Spec) { s.Exercises[0].Tests[0].Points = 0 }, "points must be > 0"},
		{"hidden not named so", func(s *Spec) { s.Exercises[0].Tests[0].Hidden = true }, "TestHidden"},
		{"not a test", func(s *Spec) { s.Exercises[0].Tests[0].Name = "Check" }, "not a Go test name"},
		{"submit path", func(s *Spec) { s.Exercises[0].Submit = "../x.go" }, "submit"},
		{"no timeout", func(s *Spec) { s.Timeout = 0 }, "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good()
			tc.break_(s)
			err := s.Validate("")
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
	if s := good(); s.Exercises[0].Max() != 3 {
		t.Errorf("Max = %v, want 3", s.Exercises[0].Max())
	}
}

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{{"4GiB", 4 << 30}, {"512MiB", 512 << 20}, {"64KiB", 64 << 10}, {"1000", 1000}, {"-1GiB", 0}, {"lots", 0}} {
		got, err := ParseBytes(tc.in)
		if got != tc.want || (err == nil) != (tc.want > 0) {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"fine", "package exa\n\nimport \"math\"\n\nfunc F() float64 { return math.Pi }\n", ""},
		{"other package", "package main\n", "must be package exa"},
		{"os", "package exa\n\nimport \"os\"\n\nvar _ = os.Args\n", `import "os" is not allowed`},
		{"exec", "package exa\n\nimport \"os/exec\"\n\nvar _ = exec.Command\n", `"os/exec" is not allowed`},
		{"unsafe", "package exa\n\nimport \"unsafe\"\n\nvar _ = unsafe.Sizeof(1)\n", `"unsafe" is not allowed`},
		{"cgo", "package exa\n\nimport \"C\"\n", `"C" is not allowed`},
		{"embed", "package exa\n\nimport _ \"embed\"\n\n//go:embed hidden_test.go\nvar s string\n", `"embed" is not allowed`},
		{"linkname", "package exa\n\n//go:linkname f runtime.f\nfunc f()\n", "go:linkname"},
		{"syntax error is the compiler's", "package exa\n\nfunc (\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check([]byte(tc.src), "exa")
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Check = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestFromNotebook(t *testing.T) {
	stub := []byte("package exa\n\nimport (\n\t\"fmt\"\n\t\"strings\"\n)\n\nfunc F() string { return fmt.Sprint(strings.ToUpper(\"x\")) }\n")
	got, err := FromNotebook([]byte(notebookWith("import \"math\"\n\n// G is π.\nfunc G() float64 { return math.Pi }", "func H() string { return fmt.Sprint(1) }")), stub)
	if err != nil {
		t.Fatal(err)
	}
	src := string(got)
	for _, want := range []string{"package exa", `"math"`, `"fmt"`, "// G is π.", "func G() float64", "func H() string"} {
		if !strings.Contains(src, want) {
			t.Errorf("the generated file lacks %q:\n%s", want, src)
		}
	}
	if strings.Contains(src, `"strings"`) {
		t.Errorf("the unused import strings was kept:\n%s", src)
	}
	for _, tc := range []struct{ name, nb, want string }{
		{"no solution cells", notebookWith(), "no code cell is tagged"},
		{"magic", notebookWith("%test"), "no GoNB magics"},
		{"statements", notebookWith("x := 1"), "not Go declarations"},
		{"not json", "{", "not a notebook"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromNotebook([]byte(tc.nb), stub)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("FromNotebook = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		name string
		oc   Outcome
		pass bool
		want string
	}{
		{"pass", Outcome{Output: []byte("=== RUN   TestA\n--- PASS: TestA (0.00s)\nPASS\n")}, true, ""},
		{"other test passed", Outcome{Output: []byte("--- PASS: TestAB (0.00s)\nPASS\n")}, false, ""},
		{"missing", Outcome{Output: []byte("testing: warning: no tests to run\nPASS\n")}, false, "not in the package"},
		{"fail", Outcome{Output: []byte("=== RUN   TestA\n    a_test.go:3: Add(2, 3) = 6, want 5\n--- FAIL: TestA (0.00s)\nFAIL\n"), Err: fmt.Errorf("exit status 1")}, false, "Add(2, 3) = 6, want 5"},
		{"timeout", Outcome{TimedOut: true, Err: fmt.Errorf("killed")}, false, "time limit"},
		{"oom", Outcome{Output: []byte("fatal error: runtime: out of memory\n"), Err: fmt.Errorf("exit status 2")}, false, "memory limit"},
		{"panic", Outcome{Output: []byte("=== RUN   TestA\n--- FAIL: TestA (0.00s)\npanic: TODO: write Add [recovered]\n\ngoroutine 7 [running]:\n"), Err: fmt.Errorf("exit status 2")}, false, "panic: TODO: write Add"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pass, msg := judge("TestA", tc.oc, time.Second, 1<<30)
			if pass != tc.pass || !strings.Contains(msg, tc.want) {
				t.Fatalf("judge = %v, %q; want %v and a message with %q", pass, msg, tc.pass, tc.want)
			}
		})
	}
}

func TestReleaseWithholdsSolutions(t *testing.T) {
	tmp := t.TempDir()
	root, dest := filepath.Join(tmp, "course"), filepath.Join(tmp, "release")
	writeFiles(t, root, fakeCourse)
	writeFiles(t, root, map[string]string{"kernel/grade/testdata/class/partial/exa.go": solution, "out/ckpt": "big"})
	n, err := Release(root, dest)
	if err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Errorf("released %d files, want 5 (go.mod, the exercise's 3 files, grading.json)", n)
	}
	for _, gone := range []string{"solutions", "kernel/grade/testdata", "out"} {
		if _, err := os.Stat(filepath.Join(dest, gone)); err == nil {
			t.Errorf("the student copy holds %s", gone)
		}
	}
	spec, err := LoadSpec(filepath.Join(dest, SpecFile), dest)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range spec.Exercises[0].Tests {
		if tc.Hidden {
			t.Errorf("the student copy's spec lists the hidden test %s", tc.Name)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dest, SpecFile)); strings.Contains(string(b), "Hidden") {
		t.Errorf("the student copy's spec names a hidden test:\n%s", b)
	}
	if _, err := Release(root, dest); err == nil {
		t.Error("Release wrote into a folder that is not empty")
	}
}
