package grade

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Isolation says how a test process is fenced in.
type Isolation string

const (
	// IsolationAuto isolates when the machine allows it and warns
	// otherwise.
	IsolationAuto Isolation = "auto"
	// IsolationRequire refuses to grade without isolation.
	IsolationRequire Isolation = "require"
	// IsolationOff runs tests as plain processes (time and memory limits
	// still hold).
	IsolationOff Isolation = "off"
)

// Sandbox runs a submission's test binary. With isolation (Linux, with
// unshare and setpriv from util-linux), each test runs in a new mount
// namespace where Hide's folders (the instructor's repository with the
// hidden tests and solutions, the submissions, the output, the Go caches)
// are covered by an empty read-only tmpfs, as an unprivileged user:
// nobody when the grader runs as root, else the grader's own user with no
// capabilities, inside a user namespace. A submission then cannot read the
// hidden tests or other students' work, nor change the gradebook or the
// build cache later submissions compile from. Every test has a time limit
// (its process group is killed) and an address-space limit (prlimit).
type Sandbox struct {
	mode     Isolation
	isolated bool
	root     bool     // the grader runs as root: drop to nobody
	hide     []string // absolute folders covered in the namespace
	why      string   // why isolation is off
}

// nobody is the user tests run as when the grader is root.
const nobody = 65534

// NewSandbox prepares a sandbox that hides these folders (absolute;
// missing ones are skipped).
func NewSandbox(mode Isolation, hide []string) (*Sandbox, error) {
	s := &Sandbox{mode: mode, root: os.Geteuid() == 0}
	for _, h := range hide {
		if h == "" {
			continue
		}
		a, err := filepath.Abs(h)
		if err != nil {
			return nil, fmt.Errorf("grade: %w", err)
		}
		if st, err := os.Stat(a); err == nil && st.IsDir() {
			s.hide = append(s.hide, a)
		}
	}
	// A folder inside another hidden one is covered already (and could
	// not be mounted on once its parent is).
	sort.Strings(s.hide)
	outer := s.hide[:0]
	for _, h := range s.hide {
		if len(outer) == 0 || !within(h, outer[len(outer)-1]) {
			outer = append(outer, h)
		}
	}
	s.hide = outer
	switch mode {
	case IsolationOff:
		s.why = "isolation turned off"
		return s, nil
	case IsolationAuto, IsolationRequire:
	default:
		return nil, fmt.Errorf("grade: isolation %q: want auto, require or off", mode)
	}
	if err := s.probe(); err != nil {
		if mode == IsolationRequire {
			return nil, fmt.Errorf("grade: isolation required but not available: %w", err)
		}
		s.why = err.Error()
		return s, nil
	}
	s.isolated = true
	return s, nil
}

// Isolated reports whether tests run isolated, and if not, why.
func (s *Sandbox) Isolated() (bool, string) { return s.isolated, s.why }

// probe runs `true` the way tests will run.
func (s *Sandbox) probe() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("isolation needs Linux namespaces; this is %s", runtime.GOOS)
	}
	for _, tool := range []string{"unshare", "setpriv", "prlimit", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found (util-linux)", tool)
		}
	}
	dir, err := os.MkdirTemp("", "policylab-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if s.root {
		if err := os.Chown(dir, nobody, nobody); err != nil {
			return err
		}
	}
	args := s.wrap(true, 1<<30, []string{"/bin/true"})
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args[:4], " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// wrap returns the command line that runs argv, isolated or not, with an
// address-space limit of mem bytes.
func (s *Sandbox) wrap(isolate bool, mem int64, argv []string) []string {
	limit := []string{"prlimit", "--as=" + strconv.FormatInt(mem, 10), "--core=0", "--"}
	if !isolate {
		return append(limit, argv...)
	}
	// The script runs as root of the new namespaces: cover each hidden
	// folder, then drop to the test's user and exec the test.
	var script strings.Builder
	script.WriteString("set -e\n")
	for i := range s.hide {
		fmt.Fprintf(&script, "mount -t tmpfs -o ro,size=4k,mode=0555 policylab-hidden \"$%d\"\n", i+1)
	}
	drop := []string{"setpriv", "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all"}
	if s.root {
		drop = append(drop, "--reuid="+strconv.Itoa(nobody), "--regid="+strconv.Itoa(nobody), "--clear-groups")
	}
	script.WriteString("shift " + strconv.Itoa(len(s.hide)) + "\nexec \"$@\"\n")
	ns := []string{"unshare", "--mount", "--propagation", "private"}
	if !s.root {
		ns = append(ns, "--user", "--map-root-user")
	}
	cmd := append(ns, "--", "/bin/sh", "-c", script.String(), "sandbox")
	cmd = append(cmd, s.hide...)
	cmd = append(cmd, drop...)
	cmd = append(cmd, "--")
	cmd = append(cmd, limit...)
	return append(cmd, argv...)
}

// Outcome is how one process ended.
type Outcome struct {
	Output   []byte
	Err      error // nil: exit status 0
	TimedOut bool
	Elapsed  time.Duration
}

// maxOutput bounds the output kept from a test.
const maxOutput = 256 << 10

// Run runs argv in dir under the sandbox with a time limit and an
// address-space limit. env is the whole environment. The process group is
// killed at the limit.
func (s *Sandbox) Run(ctx context.Context, dir string, env []string, limit time.Duration, mem int64, argv []string) Outcome {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	args := s.wrap(s.isolated, mem, argv)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	var out capped
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Outcome{Err: err}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	timedOut := false
	select {
	case err = <-done:
	case <-ctx.Done():
		timedOut = true
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = <-done
	}
	return Outcome{Output: out.b.Bytes(), Err: err, TimedOut: timedOut, Elapsed: time.Since(start)}
}

// capped keeps the first maxOutput bytes written to it.
type capped struct {
	b    bytes.Buffer
	lost int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := maxOutput - c.b.Len(); room < len(p) {
		if room > 0 {
			c.b.Write(p[:room])
		}
		c.lost += len(p) - max(room, 0)
		return len(p), nil
	}
	return c.b.Write(p)
}
