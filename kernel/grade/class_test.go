package grade

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// classFixtures are the fixture students of TestClass: each hands in the
// reference solution of one exercise with old replaced by new and add
// appended, as file in their folder.
var classFixtures = []struct {
	student, exercise, file string
	old, new, add           string
}{
	{"panicking", "ex4ros2", "ex4ros2/student.go",
		"\t\tif k < 0 {\n\t\t\treturn nil, fmt.Errorf(\"joint %s is not in the joint state %q\", name, state.Name)\n\t\t}\n", "", ""},
	{"broken", "ex4ros2", "ex4ros2/student.go",
		"\treturn &msg.JointTrajectory{", "\treturn msg.JointTrajectory{", ""},
	{"cheater", "ex4ros2", "ex4ros2/student.go", "import (\n", "import (\n\t\"os\"\n",
		"\n// hidden would hold the hidden tests, if the grader let it read them.\nvar hidden, _ = os.ReadFile(\"../../../solutions/ex4ros2/hidden_test.go\")\n"},
	{"partial", "ex5chunking", "ex5chunking.go",
		"\tfor _, c := range chunks {\n\t\tif step < c.Start",
		"\tfor k := len(chunks) - 1; k >= 0; k-- {\n\t\tc := chunks[k]\n\t\tif step < c.Start", ""},
	{"looping", "ex5chunking", "ex5chunking/student.go",
		"\tif *buffer == nil || *index >= executionHorizon || *index >= len(*buffer) {",
		"\tfor *buffer != nil && *index >= len(*buffer) && *index < executionHorizon {\n\t}\n\tif *buffer == nil || *index >= executionHorizon {", ""},
}

// TestClass grades a class on the course's real exercises and checks the
// gradebook against testdata/class-gradebook.csv, exactly:
//
//   - "solution" hands in solutions/<exercise>/student.go for every
//     exercise, and "notebook" the solution notebooks: every test passes;
//   - "stub" hands in the exercises' own stubs: every graded test fails
//     (so every test can fail), and fails by running, not by being absent;
//   - the fixture students (classFixtures) hand in a reference solution
//     with one fault written in: partial (ensembling weights counted from
//     the newest chunk), panicking (a joint missing from the joint state
//     indexes -1), looping (an endless loop on a short chunk), broken
//     (does not compile), cheater (reads the hidden tests).
//
// It builds some twenty test binaries: minutes, so not in -short.
func TestClass(t *testing.T) {
	if testing.Short() {
		t.Skip("grades a whole class")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "solutions")); err != nil {
		t.Skip("no solutions/ here (a student copy)")
	}
	spec, err := LoadSpec(filepath.Join(root, SpecFile), root)
	if err != nil {
		t.Fatal(err)
	}
	class := t.TempDir()
	for _, f := range classFixtures {
		b, err := os.ReadFile(filepath.Join(root, "solutions", f.exercise, "student.go"))
		if err != nil {
			t.Fatal(err)
		}
		src := strings.TrimPrefix(string(b), "//go:build "+BuildTag+"\n\n")
		if !strings.Contains(src, f.old) {
			t.Fatalf("fixture %s: solutions/%s/student.go no longer holds %q: update classFixtures", f.student, f.exercise, f.old)
		}
		src = strings.Replace(src, f.old, f.new, 1) + f.add
		writeFiles(t, class, map[string]string{filepath.Join(f.student, f.file): src})
	}
	for _, e := range spec.Exercises {
		for _, c := range []struct{ from, to string }{
			{filepath.Join(root, "solutions", e.Name, e.Submit), filepath.Join(class, "solution", e.Name, e.Submit)},
			{filepath.Join(root, "solutions", e.Name, e.Notebook), filepath.Join(class, "notebook", e.Notebook)},
			{filepath.Join(root, e.Dir, e.Submit), filepath.Join(class, "stub", e.Name, e.Submit)},
		} {
			if err := copyFile(c.from, c.to); err != nil {
				t.Fatal(err)
			}
		}
	}
	out := t.TempDir()
	var log strings.Builder
	gb, err := Grade(context.Background(), Options{Root: root, Spec: spec, Submissions: class, Out: out, Isolation: isolationForTests(), Progress: &log})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(log.String())
	got := readCSV(t, filepath.Join(out, "gradebook.csv"))
	want := readCSV(t, "testdata/class-gradebook.csv")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		var b strings.Builder
		for i := 0; i < max(len(got), len(want)); i++ {
			var g, w []string
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			mark := "  "
			if fmt.Sprint(g) != fmt.Sprint(w) {
				mark = "≠ "
			}
			fmt.Fprintf(&b, "%s got %-45v want %v\n", mark, g, w)
		}
		t.Errorf("gradebook.csv differs from testdata/class-gradebook.csv:\n%s", b.String())
	}
	for _, r := range gb.Results {
		switch r.Student {
		case "solution", "notebook":
			for _, tr := range r.Tests {
				if !tr.Passed {
					t.Errorf("the reference %s fails %s.%s:\n%s", r.Student, r.Exercise, tr.Name, tr.Message)
				}
			}
		case "stub":
			if r.Status != StatusGraded {
				t.Errorf("the stub of %s: %s: %s", r.Exercise, r.Status, r.Message)
			}
			for _, tr := range r.Tests {
				if tr.Passed {
					t.Errorf("%s.%s passes on the stub: it cannot tell a solution from none", r.Exercise, tr.Name)
				}
				if strings.Contains(tr.Message, "not in the package") {
					t.Errorf("%s.%s: %s", r.Exercise, tr.Name, tr.Message)
				}
			}
		}
	}
}

// TestReleaseOfThisRepo writes a student copy of this repository and looks
// for what must not be in it: solutions/, the fixture class, and any
// mention of a hidden test's name.
func TestReleaseOfThisRepo(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "solutions")); err != nil {
		t.Skip("no solutions/ here (a student copy)")
	}
	spec, err := LoadSpec(filepath.Join(root, SpecFile), root)
	if err != nil {
		t.Fatal(err)
	}
	var hidden []string
	for _, e := range spec.Exercises {
		for _, tc := range e.Tests {
			if tc.Hidden {
				hidden = append(hidden, tc.Name)
			}
		}
	}
	dest := filepath.Join(t.TempDir(), "release")
	n, err := Release(root, dest)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d files in the student copy", n)
	for _, gone := range Withheld {
		if _, err := os.Stat(filepath.Join(dest, gone)); err == nil {
			t.Errorf("the student copy holds %s", gone)
		}
	}
	for _, e := range spec.Exercises {
		for _, f := range []string{filepath.Join(e.Dir, e.Submit), filepath.Join(e.Dir, e.Notebook)} {
			if _, err := os.Stat(filepath.Join(dest, f)); err != nil {
				t.Errorf("the student copy lacks %s", f)
			}
		}
	}
	err = filepath.WalkDir(dest, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, h := range hidden {
			if strings.Contains(string(b), h) {
				t.Errorf("%s names the hidden test %s", strings.TrimPrefix(p, dest+"/"), h)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
