package grade

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Options of a grading run.
type Options struct {
	Root        string // the instructor's repository
	Spec        *Spec
	Submissions string // one folder per student
	Out         string // gradebook.csv, grades.json, feedback/<student>.md
	// Work holds the per-submission copies of the repository; empty: a
	// temporary folder. It must lie outside Root, Submissions and Out.
	Work      string
	Isolation Isolation
	// Keep leaves the copies in Work for a look after the run.
	Keep bool
	// Only grades these exercises (all when empty).
	Only []string
	// Progress gets a line per graded submission (nil: none).
	Progress io.Writer
}

// Status of one submission to one exercise.
const (
	StatusGraded       = "graded"
	StatusNotSubmitted = "not submitted"
	StatusRejected     = "rejected"
	StatusBuildFailed  = "does not compile"
)

// TestResult is one graded test of one submission.
type TestResult struct {
	Name    string        `json:"name"`
	Hidden  bool          `json:"hidden,omitempty"`
	Passed  bool          `json:"passed"`
	Points  float64       `json:"points"`
	Max     float64       `json:"max"`
	Message string        `json:"message,omitempty"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// Result is one student's grade on one exercise.
type Result struct {
	Student  string       `json:"student"`
	Exercise string       `json:"exercise"`
	Points   float64      `json:"points"`
	Max      float64      `json:"max"`
	Status   string       `json:"status"`
	File     string       `json:"file,omitempty"`    // what was graded, relative to the student's folder
	Message  string       `json:"message,omitempty"` // why nothing ran (rejected, build failed)
	Tests    []TestResult `json:"tests"`
}

// Gradebook is a run's results, by student then exercise.
type Gradebook struct {
	Results  []*Result `json:"results"`
	Isolated bool      `json:"isolated"`
	Note     string    `json:"note,omitempty"`
}

var studentRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Grade grades every student folder in o.Submissions and writes the
// gradebook and the feedback files to o.Out.
func Grade(ctx context.Context, o Options) (*Gradebook, error) {
	if o.Spec == nil {
		return nil, errors.New("grade: no spec")
	}
	root, err := filepath.Abs(o.Root)
	if err != nil {
		return nil, fmt.Errorf("grade: %w", err)
	}
	subs, err := filepath.Abs(o.Submissions)
	if err != nil {
		return nil, fmt.Errorf("grade: %w", err)
	}
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return nil, fmt.Errorf("grade: %w", err)
	}
	entries, err := os.ReadDir(subs)
	if err != nil {
		return nil, fmt.Errorf("grade: submissions: %w", err)
	}
	var students []string
	for _, e := range entries {
		switch {
		case strings.HasPrefix(e.Name(), "."):
		case !e.IsDir():
			fmt.Fprintf(progress(o), "grade: skipping %s: not a folder (one folder per student)\n", filepath.Join(subs, e.Name()))
		case !studentRE.MatchString(e.Name()):
			fmt.Fprintf(progress(o), "grade: skipping %q: a student's folder name may hold letters, digits, '.', '_' and '-'\n", e.Name())
		default:
			students = append(students, e.Name())
		}
	}
	if len(students) == 0 {
		return nil, fmt.Errorf("grade: %s holds no student folders", subs)
	}
	exercises := o.Spec.Exercises
	if len(o.Only) > 0 {
		exercises = nil
		for _, n := range o.Only {
			e, ok := o.Spec.Exercise(n)
			if !ok {
				return nil, fmt.Errorf("grade: no exercise %q in the spec", n)
			}
			exercises = append(exercises, *e)
		}
	}
	work := o.Work
	if work == "" {
		if work, err = os.MkdirTemp("", "policylab-grade-"); err != nil {
			return nil, fmt.Errorf("grade: %w", err)
		}
		if !o.Keep {
			defer os.RemoveAll(work)
		}
	} else if work, err = filepath.Abs(work); err != nil {
		return nil, fmt.Errorf("grade: %w", err)
	}
	for _, p := range []string{root, subs, out} {
		if within(work, p) {
			return nil, fmt.Errorf("grade: the work folder %s lies in %s, which tests cannot see; pick one outside it", work, p)
		}
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, fmt.Errorf("grade: %w", err)
	}
	// Tests run as nobody when the grader is root: they must reach their
	// copy.
	if err := os.Chmod(work, 0o755); err != nil {
		return nil, fmt.Errorf("grade: %w", err)
	}
	hide := []string{root, subs, out}
	for _, v := range []string{"GOCACHE", "GOMODCACHE", "GOPATH"} {
		if p, err := goEnv(root, v); err == nil && p != "" {
			hide = append(hide, filepath.SplitList(p)...)
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("grade: %w", err)
	}
	sb, err := NewSandbox(o.Isolation, hide)
	if err != nil {
		return nil, err
	}
	gb := &Gradebook{}
	gb.Isolated, gb.Note = sb.Isolated()
	if !gb.Isolated {
		fmt.Fprintf(progress(o), "grade: WARNING: tests run without isolation (%s): a submission could read the hidden tests\n", gb.Note)
	}
	for _, st := range students {
		for i := range exercises {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			r := gradeOne(ctx, o.Spec, &exercises[i], root, filepath.Join(subs, st), st, work, sb, o.Keep)
			gb.Results = append(gb.Results, r)
			fmt.Fprintf(progress(o), "grade: %-20s %-14s %5g/%-4g %s\n", st, r.Exercise, r.Points, r.Max, r.Status)
		}
	}
	if err := gb.Write(out); err != nil {
		return nil, err
	}
	return gb, nil
}

func progress(o Options) io.Writer {
	if o.Progress == nil {
		return io.Discard
	}
	return o.Progress
}

// within reports whether path lies in (or is) dir.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func goEnv(root, v string) (string, error) {
	cmd := exec.Command("go", "env", v)
	cmd.Dir = root
	b, err := cmd.Output()
	return strings.TrimSpace(string(b)), err
}

// gradeOne grades one student's submission to one exercise.
func gradeOne(ctx context.Context, spec *Spec, e *Exercise, root, dir, student, work string, sb *Sandbox, keep bool) *Result {
	r := &Result{Student: student, Exercise: e.Name, Max: e.Max(), Status: StatusGraded}
	fail := func(status, msg string) *Result {
		r.Status, r.Message = status, msg
		for _, t := range e.Tests {
			r.Tests = append(r.Tests, TestResult{Name: t.Name, Hidden: t.Hidden, Max: t.Points, Message: status})
		}
		return r
	}
	path, err := Find(dir, e)
	if errors.Is(err, errNotSubmitted) {
		return fail(StatusNotSubmitted, fmt.Sprintf("no %s/%s, %s.go or %s in the folder", e.Name, e.Submit, e.Name, e.Notebook))
	}
	if err != nil {
		return fail(StatusRejected, err.Error())
	}
	r.File, _ = filepath.Rel(dir, path)
	stub, err := os.ReadFile(filepath.Join(root, e.Dir, e.Submit))
	if err != nil {
		return fail(StatusRejected, "the exercise's own file: "+err.Error())
	}
	sub, err := Read(path, stub)
	if err != nil {
		return fail(StatusRejected, err.Error())
	}
	if err := Check(sub.Source, e.Name); err != nil {
		return fail(StatusRejected, r.File+": "+err.Error())
	}
	box, err := os.MkdirTemp(work, student+"-"+e.Name+"-")
	if err != nil {
		return fail(StatusRejected, "grader: "+err.Error())
	}
	if !keep {
		defer os.RemoveAll(box)
	}
	bin, msg, err := build(ctx, spec, e, root, box, sub.Source)
	if err != nil {
		return fail(StatusRejected, "grader: "+err.Error())
	}
	if msg != "" {
		return fail(StatusBuildFailed, msg)
	}
	if sb.root && sb.isolated {
		if err := chownTree(box, nobody); err != nil {
			return fail(StatusRejected, "grader: "+err.Error())
		}
	}
	env := testEnv(box)
	pkgDir := filepath.Join(box, e.Dir)
	for _, t := range e.Tests {
		limit, mem := spec.Limits(t)
		tr := TestResult{Name: t.Name, Hidden: t.Hidden, Max: t.Points}
		argv := []string{bin, "-test.run", "^" + t.Name + "$", "-test.v", "-test.count=1", "-test.timeout", limit.String()}
		oc := sb.Run(ctx, pkgDir, env, limit+10*time.Second, mem, argv)
		tr.Elapsed = oc.Elapsed
		tr.Passed, tr.Message = judge(t.Name, oc, limit, mem)
		if tr.Passed {
			tr.Points = t.Points
		}
		r.Points += tr.Points
		r.Tests = append(r.Tests, tr)
	}
	return r
}

// build copies what the exercise needs into box (go.mod, go.sum, lessons/
// and the exercise's folder), puts the submission in place of the
// exercise's file, adds the hidden tests, and compiles the test binary.
// It returns the binary, or the compiler's message when the code does not
// compile; err is the grader's own trouble. The hidden test sources are
// gone from box when it returns.
func build(ctx context.Context, spec *Spec, e *Exercise, root, box string, src []byte) (bin, msg string, err error) {
	for _, f := range []string{"go.mod", "go.sum"} {
		if err := copyFile(filepath.Join(root, f), filepath.Join(box, f)); err != nil && !(f == "go.sum" && errors.Is(err, fs.ErrNotExist)) {
			return "", "", err
		}
	}
	if _, err := os.Stat(filepath.Join(root, "lessons")); err == nil {
		if err := copyTree(filepath.Join(root, "lessons"), filepath.Join(box, "lessons")); err != nil {
			return "", "", err
		}
	}
	pkg := filepath.Join(box, e.Dir)
	if err := copyTree(filepath.Join(root, e.Dir), pkg); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(filepath.Join(pkg, e.Submit), src, 0o644); err != nil {
		return "", "", err
	}
	var hidden []string
	for _, h := range e.Hidden {
		dst := filepath.Join(pkg, filepath.Base(h))
		if err := copyFile(filepath.Join(root, h), dst); err != nil {
			return "", "", err
		}
		hidden = append(hidden, dst)
	}
	defer func() {
		for _, h := range hidden {
			os.Remove(h)
		}
	}()
	for _, d := range []string{"tmp", "home"} {
		if err := os.MkdirAll(filepath.Join(box, d), 0o755); err != nil {
			return "", "", err
		}
	}
	bin = filepath.Join(box, e.Name+".test")
	ctx, cancel := context.WithTimeout(ctx, time.Duration(spec.BuildTimeout))
	defer cancel()
	// -trimpath makes the build cache's keys independent of the copy's
	// folder, so the course packages compile once for all submissions;
	// -s -w (no symbol table, no DWARF) halves the link, and panics keep
	// their file:line stacks.
	cmd := exec.CommandContext(ctx, "go", "test", "-c", "-trimpath", "-ldflags=-s -w", "-tags", BuildTag, "-o", bin, "./"+filepath.ToSlash(e.Dir))
	cmd.Dir = box
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	b, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return "", fmt.Sprintf("the build took more than %v", spec.BuildTimeout), nil
	}
	if err != nil {
		return "", cleanBuild(string(b), box), nil
	}
	return bin, "", nil
}

// cleanBuild trims compiler output to what a student needs.
func cleanBuild(out, box string) string {
	out = strings.ReplaceAll(out, box+string(filepath.Separator), "")
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "# ") || strings.TrimSpace(l) == "" || strings.HasPrefix(l, "FAIL") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(firstLines(keep, 30), "\n")
}

func firstLines(l []string, n int) []string {
	if len(l) > n {
		return append(l[:n:n], fmt.Sprintf("… (%d more lines)", len(l)-n))
	}
	return l
}

// testEnv is the whole environment of a test process.
func testEnv(box string) []string {
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + filepath.Join(box, "home"),
		"TMPDIR=" + filepath.Join(box, "tmp"),
		"LANG=C.UTF-8",
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GOMLX_") || strings.HasPrefix(k, "POLICYLAB_") || k == "GOMAXPROCS" || k == "LD_LIBRARY_PATH" {
			env = append(env, kv)
		}
	}
	return env
}

var (
	passRE  = regexp.MustCompile(`(?m)^--- PASS: (\S+)`)
	oomRE   = regexp.MustCompile(`fatal error: runtime: out of memory|cannot allocate memory|runtime: failed to create new OS thread`)
	panicRE = regexp.MustCompile(`(?m)^panic: (.*)$`)
)

// judge reads how a test process ended.
func judge(name string, oc Outcome, limit time.Duration, mem int64) (bool, string) {
	out := string(oc.Output)
	if oc.Err == nil && !oc.TimedOut {
		for _, m := range passRE.FindAllStringSubmatch(out, -1) {
			if m[1] == name {
				return true, ""
			}
		}
		if strings.Contains(out, "no tests to run") {
			return false, fmt.Sprintf("the test %s is not in the package", name)
		}
	}
	switch {
	case oc.TimedOut || strings.Contains(out, "panic: test timed out after"):
		return false, fmt.Sprintf("time limit: the test did not finish in %v (an endless loop, or far too slow)", limit)
	case oomRE.MatchString(out):
		return false, fmt.Sprintf("memory limit: the test needed more than %v of address space", Bytes(mem))
	}
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== RUN") || strings.HasPrefix(t, "=== PAUSE") || strings.HasPrefix(t, "=== CONT") ||
			t == "FAIL" || strings.HasPrefix(t, "exit status") || strings.HasPrefix(t, "goroutine ") && strings.HasSuffix(t, ":") {
			continue
		}
		keep = append(keep, strings.TrimRight(l, " \t"))
	}
	if m := panicRE.FindStringSubmatch(out); m != nil {
		// A panic's stack is long: keep the test's own lines before it and
		// the stack's frames in the exercise's files.
		msg := []string{"panic: " + strings.TrimSuffix(strings.TrimSpace(m[1]), " [recovered, repanicked]")}
		lines := strings.Split(out, "\n")
		for i, l := range lines {
			t := strings.TrimSpace(l)
			if strings.HasPrefix(t, "panic:") || strings.HasPrefix(t, "--- FAIL") {
				continue
			}
			if i > 0 && strings.Contains(t, "exercises/") && strings.Contains(t, ".go:") {
				msg = append(msg, "  "+strings.TrimSpace(lines[i-1]), "    "+strings.Fields(t)[0])
			}
		}
		return false, strings.Join(firstLines(msg, 12), "\n")
	}
	if len(keep) == 0 && oc.Err != nil {
		keep = []string{oc.Err.Error()}
	}
	return false, strings.Join(firstLines(keep, 30), "\n")
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// copyTree copies the regular files of a folder, skipping notebooks'
// checkpoints and hidden files.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if strings.HasPrefix(d.Name(), ".") && rel != "." {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return copyFile(p, filepath.Join(dst, rel))
	})
}

func chownTree(dir string, uid int) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, uid)
	})
}

// Write writes gradebook.csv (student, exercise, points, max), grades.json
// (everything) and feedback/<student>.md into dir.
func (g *Gradebook) Write(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "feedback"), 0o755); err != nil {
		return fmt.Errorf("grade: %w", err)
	}
	var rows [][]string
	rows = append(rows, []string{"student", "exercise", "points", "max"})
	for _, r := range g.Results {
		rows = append(rows, []string{r.Student, r.Exercise, num(r.Points), num(r.Max)})
	}
	if err := writeAtomic(filepath.Join(dir, "gradebook.csv"), func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.WriteAll(rows)
		return cw.Error()
	}); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, "grades.json"), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(g)
	}); err != nil {
		return err
	}
	by := map[string][]*Result{}
	var students []string
	for _, r := range g.Results {
		if by[r.Student] == nil {
			students = append(students, r.Student)
		}
		by[r.Student] = append(by[r.Student], r)
	}
	sort.Strings(students)
	for _, s := range students {
		if err := writeAtomic(filepath.Join(dir, "feedback", s+".md"), func(w io.Writer) error {
			return Feedback(w, s, by[s], g.Isolated)
		}); err != nil {
			return err
		}
	}
	return nil
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// writeAtomic writes a file through a temporary one and a rename, so a
// crash leaves the old file or the new, never half of one.
func writeAtomic(path string, fill func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("grade: %w", err)
	}
	defer os.Remove(f.Name())
	if err := fill(f); err != nil {
		f.Close()
		return fmt.Errorf("grade: %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("grade: %w", err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("grade: %w", err)
	}
	return os.Rename(f.Name(), path)
}

// Feedback writes one student's feedback in Markdown: per exercise, the
// points, and per test whether it passed and what it said.
func Feedback(w io.Writer, student string, results []*Result, isolated bool) error {
	var total, max float64
	for _, r := range results {
		total += r.Points
		max += r.Max
	}
	fmt.Fprintf(w, "# Feedback for %s\n\nTotal: **%s / %s** points.\n\n", student, num(total), num(max))
	for _, r := range results {
		fmt.Fprintf(w, "## %s: %s / %s\n\n", r.Exercise, num(r.Points), num(r.Max))
		if r.File != "" {
			fmt.Fprintf(w, "Graded file: `%s`. ", r.File)
		}
		fmt.Fprintf(w, "Status: %s.\n\n", r.Status)
		if r.Message != "" {
			fmt.Fprintf(w, "```\n%s\n```\n\n", strings.TrimSpace(r.Message))
			continue
		}
		fmt.Fprintf(w, "| test | kind | result | points | time |\n|---|---|---|---|---|\n")
		for _, t := range r.Tests {
			kind, res := "visible", "FAIL"
			if t.Hidden {
				kind = "hidden"
			}
			if t.Passed {
				res = "pass"
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s / %s | %.1f s |\n", t.Name, kind, res, num(t.Points), num(t.Max), t.Elapsed.Seconds())
		}
		fmt.Fprintln(w)
		for _, t := range r.Tests {
			if !t.Passed && t.Message != "" {
				fmt.Fprintf(w, "**%s** failed:\n\n```\n%s\n```\n\n", t.Name, strings.TrimSpace(t.Message))
			}
		}
	}
	if !isolated {
		fmt.Fprintln(w, "_Graded without isolation._")
	}
	return nil
}
