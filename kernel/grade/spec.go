// Package grade grades a class's submissions to the course exercises: each
// submission is built in its own copy of the repository with the hidden
// tests added, every graded test runs as its own process under a time and
// memory limit (and, on Linux, in a mount namespace that hides the
// instructor's repository, the other submissions and the Go caches), and
// the results go to a gradebook (CSV) and one feedback file per student.
//
// Points per test are declared in one place, exercises/grading.json (Spec).
// The design follows nbgrader's (solution regions in the notebook, hidden
// tests, points, feedback, a gradebook), with Go's test runner in place of
// nbgrader's cell asserts.
package grade

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SpecFile is where the grading spec lives, relative to the repository root.
const SpecFile = "exercises/grading.json"

// BuildTag marks the files of solutions/ (reference solutions and hidden
// tests) so that `go build ./...` skips them; the grader compiles with it.
const BuildTag = "grading"

// Spec is exercises/grading.json: the exercises and the points of their
// tests.
type Spec struct {
	// Timeout and Memory are the defaults for a test: "60s", "4GiB".
	Timeout Duration `json:"timeout"`
	Memory  Bytes    `json:"memory"`
	// BuildTimeout bounds compiling one submission's tests.
	BuildTimeout Duration   `json:"build_timeout"`
	Exercises    []Exercise `json:"exercises"`
}

// Exercise is one exercise: a Go package under exercises/ with the file the
// student writes.
type Exercise struct {
	Name  string `json:"name"`  // package and folder name: "ex1bc"
	Title string `json:"title"` // "Behavior cloning for a 7-DOF arm"
	// Dir is the package folder relative to the repository root.
	Dir string `json:"dir"`
	// Submit is the file the student writes, in Dir: "student.go".
	Submit string `json:"submit"`
	// Notebook is the exercise notebook in Dir; a submitted copy is
	// graded by its cells tagged "solution".
	Notebook string `json:"notebook"`
	// Hidden lists the hidden test files, relative to the repository root
	// (they live in solutions/ and never reach students).
	Hidden []string `json:"hidden"`
	Tests  []Test   `json:"tests"`
}

// Test is one graded test function.
type Test struct {
	Name    string   `json:"name"`
	Points  float64  `json:"points"`
	Hidden  bool     `json:"hidden,omitempty"`
	Timeout Duration `json:"timeout,omitempty"`
	Memory  Bytes    `json:"memory,omitempty"`
}

// Max is the exercise's total points.
func (e *Exercise) Max() float64 {
	var s float64
	for _, t := range e.Tests {
		s += t.Points
	}
	return s
}

var (
	nameRE = regexp.MustCompile(`^[a-z][a-z0-9]*$`)
	testRE = regexp.MustCompile(`^Test[A-Z0-9_]\w*$`)
)

// Validate checks the spec against itself; root, when not empty, is the
// repository whose files it names.
func (s *Spec) Validate(root string) error {
	if s.Timeout <= 0 || s.Memory <= 0 || s.BuildTimeout <= 0 {
		return fmt.Errorf("grade: spec: timeout, memory and build_timeout must be > 0 (got %v, %v, %v)", s.Timeout, s.Memory, s.BuildTimeout)
	}
	if len(s.Exercises) == 0 {
		return errors.New("grade: spec: no exercises")
	}
	seen := map[string]bool{}
	for i := range s.Exercises {
		e := &s.Exercises[i]
		where := fmt.Sprintf("grade: spec: exercise %q", e.Name)
		switch {
		case !nameRE.MatchString(e.Name):
			return fmt.Errorf("%s: the name must be a Go package name in lower case", where)
		case seen[e.Name]:
			return fmt.Errorf("%s: named twice", where)
		case e.Dir == "" || e.Submit == "" || !strings.HasSuffix(e.Submit, ".go") || strings.ContainsAny(e.Submit, `/\`):
			return fmt.Errorf("%s: dir and submit (a .go file name in dir) are required", where)
		case len(e.Tests) == 0:
			return fmt.Errorf("%s: no tests", where)
		}
		seen[e.Name] = true
		tests := map[string]bool{}
		for _, t := range e.Tests {
			switch {
			case !testRE.MatchString(t.Name):
				return fmt.Errorf("%s: %q is not a Go test name", where, t.Name)
			case tests[t.Name]:
				return fmt.Errorf("%s: test %s listed twice", where, t.Name)
			case t.Points <= 0:
				return fmt.Errorf("%s: test %s: points must be > 0, got %v", where, t.Name, t.Points)
			case t.Hidden != strings.HasPrefix(t.Name, "TestHidden"):
				return fmt.Errorf("%s: test %s: hidden tests, and only they, are named TestHidden…", where, t.Name)
			case t.Timeout < 0 || t.Memory < 0:
				return fmt.Errorf("%s: test %s: negative limit", where, t.Name)
			}
			tests[t.Name] = true
		}
		if root == "" {
			continue
		}
		for _, f := range append([]string{filepath.Join(e.Dir, e.Submit)}, e.Hidden...) {
			if _, err := os.Stat(filepath.Join(root, f)); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
	}
	return nil
}

// LoadSpec reads and validates a spec file; root is the repository it
// describes (its files are checked unless root is empty).
func LoadSpec(path, root string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("grade: %w", err)
	}
	s := &Spec{Timeout: Duration(60 * time.Second), Memory: 4 << 30, BuildTimeout: Duration(10 * time.Minute)}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(s); err != nil {
		return nil, fmt.Errorf("grade: %s: %w", path, err)
	}
	if err := s.Validate(root); err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return s, nil
}

// Exercise returns the exercise called name.
func (s *Spec) Exercise(name string) (*Exercise, bool) {
	for i := range s.Exercises {
		if s.Exercises[i].Name == name {
			return &s.Exercises[i], true
		}
	}
	return nil, false
}

// Limits are the time and memory limits of test t.
func (s *Spec) Limits(t Test) (time.Duration, int64) {
	d, m := time.Duration(s.Timeout), int64(s.Memory)
	if t.Timeout > 0 {
		d = time.Duration(t.Timeout)
	}
	if t.Memory > 0 {
		m = int64(t.Memory)
	}
	return d, m
}

// Duration is a time.Duration written as "90s" in JSON.
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"60s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Bytes is a size written as "4GiB", "512MiB" or a number of bytes.
type Bytes int64

func (b Bytes) String() string {
	switch {
	case b >= 1<<30 && b%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", b>>30)
	case b >= 1<<20 && b%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", b>>20)
	}
	return strconv.FormatInt(int64(b), 10)
}

func (b Bytes) MarshalJSON() ([]byte, error) { return json.Marshal(b.String()) }

func (b *Bytes) UnmarshalJSON(j []byte) error {
	var s string
	if err := json.Unmarshal(j, &s); err != nil {
		return fmt.Errorf("a size is a string such as \"4GiB\": %w", err)
	}
	v, err := ParseBytes(s)
	*b = Bytes(v)
	return err
}

// ParseBytes reads "4GiB", "512MiB", "64KiB" or a plain number of bytes.
func ParseBytes(s string) (int64, error) {
	mul := int64(1)
	for _, u := range []struct {
		suffix string
		mul    int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mul = strings.TrimSuffix(s, u.suffix), u.mul
			break
		}
	}
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("size %q: want a positive number with GiB, MiB or KiB", s)
	}
	return v * mul, nil
}
