// Command grade grades a class's submissions to the course exercises, or
// writes a student copy of the repository.
//
//	go run ./kernel/cmd/grade -submissions DIR [-out out/grade] [-only ex1bc,ex5chunking]
//	go run ./kernel/cmd/grade -release DIR
//
// SUBMISSIONS holds one folder per student with, per exercise, either the
// student's Go file (<exercise>/student.go or <exercise>.go) or the
// exercise notebook (<exercise>/<exercise>.ipynb or <exercise>.ipynb).
// `make grade` and `make student-release` call it; see README,
// "Exercises and grading".
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/policylab/policylab/kernel/grade"
)

func main() {
	root := flag.String("root", ".", "the course repository")
	subs := flag.String("submissions", "", "one folder per student")
	out := flag.String("out", "out/grade", "gradebook.csv, grades.json and feedback/ go here")
	work := flag.String("work", "", "where submissions are built (default: a temporary folder)")
	iso := flag.String("isolation", "auto", "auto, require or off: run tests in a Linux namespace that hides the repository")
	keep := flag.Bool("keep", false, "keep the per-submission copies in -work")
	only := flag.String("only", "", "grade only these exercises (comma-separated)")
	release := flag.String("release", "", "write a student copy of the repository (no solutions, no hidden tests) here instead of grading")
	flag.Parse()
	if err := run(*root, *subs, *out, *work, *iso, *keep, *only, *release); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(root, subs, out, work, iso string, keep bool, only, release string) error {
	if release != "" {
		n, err := grade.Release(root, release)
		if err != nil {
			return err
		}
		fmt.Printf("grade: wrote a student copy of %d files to %s (without %s)\n", n, release, strings.Join(grade.Withheld, ", "))
		return nil
	}
	if subs == "" {
		return fmt.Errorf("grade: -submissions DIR is required (one folder per student)")
	}
	spec, err := grade.LoadSpec(filepath.Join(root, grade.SpecFile), root)
	if err != nil {
		return err
	}
	var exs []string
	if only != "" {
		exs = strings.Split(only, ",")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	gb, err := grade.Grade(ctx, grade.Options{
		Root: root, Spec: spec, Submissions: subs, Out: out, Work: work,
		Isolation: grade.Isolation(iso), Keep: keep, Only: exs, Progress: os.Stdout,
	})
	if err != nil {
		return err
	}
	students := map[string]bool{}
	for _, r := range gb.Results {
		students[r.Student] = true
	}
	fmt.Printf("grade: %d students graded: %s and %s\n", len(students),
		filepath.Join(out, "gradebook.csv"), filepath.Join(out, "feedback"))
	return nil
}
