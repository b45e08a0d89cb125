package grade

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Withheld are the paths a student copy of the repository leaves out:
// the reference solutions with the hidden tests, and the grader's test of
// a class on the real exercises (its fixtures name pieces of solutions)
// with its expected gradebook.
var Withheld = []string{"solutions", "kernel/grade/testdata", "kernel/grade/class_test.go"}

// Release writes a student copy of the repository at root into dest: the
// files git tracks (all files but out/ and hidden ones when root is not a
// git checkout), without Withheld, and with a grading spec that lists only
// the visible tests, so `make grade` there grades what students can see.
// dest must not exist or be empty. It returns the number of files written.
func Release(root, dest string) (int, error) {
	if ents, err := os.ReadDir(dest); err == nil && len(ents) > 0 {
		return 0, fmt.Errorf("grade: release: %s is not empty", dest)
	}
	files, err := tracked(root)
	if err != nil {
		return 0, err
	}
	spec, err := LoadSpec(filepath.Join(root, SpecFile), root)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range files {
		if withheld(f) {
			continue
		}
		src, dst := filepath.Join(root, f), filepath.Join(dest, f)
		if f == SpecFile {
			b, err := visibleSpec(spec)
			if err != nil {
				return n, err
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return n, fmt.Errorf("grade: release: %w", err)
			}
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				return n, fmt.Errorf("grade: release: %w", err)
			}
			n++
			continue
		}
		st, err := os.Lstat(src)
		if err != nil {
			return n, fmt.Errorf("grade: release: %w", err)
		}
		if !st.Mode().IsRegular() {
			continue
		}
		if err := copyFile(src, dst); err != nil {
			return n, fmt.Errorf("grade: release: %w", err)
		}
		if st.Mode()&0o111 != 0 {
			os.Chmod(dst, 0o755)
		}
		n++
	}
	return n, nil
}

func withheld(f string) bool {
	f = filepath.ToSlash(f)
	for _, w := range Withheld {
		if f == w || strings.HasPrefix(f, w+"/") {
			return true
		}
	}
	return false
}

// visibleSpec is spec without hidden tests or hidden test files.
func visibleSpec(s *Spec) ([]byte, error) {
	v := *s
	v.Exercises = nil
	for _, e := range s.Exercises {
		e.Hidden = nil
		var tests []Test
		for _, t := range e.Tests {
			if !t.Hidden {
				tests = append(tests, t)
			}
		}
		e.Tests = tests
		v.Exercises = append(v.Exercises, e)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("grade: release: %w", err)
	}
	return append(b, '\n'), nil
}

// tracked lists the repository's files: git's list when root is a
// checkout, else every file outside out/, scratch/ and hidden folders.
func tracked(root string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(root, ".git")); err == nil {
		cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("grade: release: git ls-files: %w", err)
		}
		var files []string
		for _, f := range bytes.Split(out, []byte{0}) {
			if len(f) > 0 {
				files = append(files, string(f))
			}
		}
		return files, nil
	}
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() && rel != "." && (strings.HasPrefix(d.Name(), ".") || rel == "out" || rel == "scratch" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("grade: release: %w", err)
	}
	return files, nil
}
