package main

import (
	"os"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := `goos: linux
goarch: amd64
pkg: github.com/policylab/policylab/lessons/arm
cpu: Some CPU @ 2.0GHz
BenchmarkStep 	 1000	      950.0 ns/op	   1052000 steps/s	       0 B/op
BenchmarkStep 	 1000	     1050.0 ns/op	    952000 steps/s	       0 B/op
BenchmarkStep 	 1000	     1000.0 ns/op	   1000000 steps/s	       0 B/op
PASS
pkg: github.com/policylab/policylab/lessons/pusht
BenchmarkStep-2 	  100	   50000 ns/op
ok  	github.com/policylab/policylab/lessons/arm	3.1s
`
	rep, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if rep.CPU != "Some CPU @ 2.0GHz" || len(rep.Figures) != 4 {
		t.Fatalf("report = %+v", rep)
	}
	f := rep.Figures[0]
	if f.Benchmark != "lessons/arm.BenchmarkStep" || f.Unit != "ns/op" || f.Median != 1000 || f.Min != 950 || f.Max != 1050 {
		t.Errorf("first figure = %+v", f)
	}
	if got := f.Spread; got < 0.0999 || got > 0.1001 {
		t.Errorf("spread = %v, want 0.1", got)
	}
	if rep.Figures[1].Unit != "steps/s" || rep.Figures[3].Benchmark != "lessons/pusht.BenchmarkStep-2" {
		t.Errorf("figures = %+v", rep.Figures)
	}
	if _, err := parse(strings.NewReader("BenchmarkX 10 abc ns/op\n")); err == nil {
		t.Error("bad value accepted")
	}
}

func TestPeerRatio(t *testing.T) {
	rep := &Report{Figures: []Figure{{Benchmark: "lessons/bc.BenchmarkTrainStepChapter-2", Unit: "steps/s", Median: 175}}}
	p := t.TempDir() + "/peer.json"
	if err := os.WriteFile(p, []byte(`{"bc_train_steps_per_s": 350.0, "other": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := addPeer(rep, p); err != nil {
		t.Fatal(err)
	}
	if len(rep.Ratios) != 1 || rep.Ratios[0].Ratio != 0.5 {
		t.Errorf("ratios = %+v", rep.Ratios)
	}
	if err := addPeer(&Report{}, t.TempDir()+"/missing.json"); err == nil {
		t.Error("missing peer file accepted")
	}
}

func TestReadCourse(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c, err := readCourse(write("ok.json", `[{"notebook": "a.ipynb", "backend": "go", "wall_s": 10.5, "status": "pass"},
		{"notebook": "b.ipynb", "backend": "go", "wall_s": 4.5, "status": "fail", "error": "cell 3"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if c.TotalS != 15 || c.Failed != 1 || len(c.Notebooks) != 2 || c.Written == "" {
		t.Errorf("course = %+v", c)
	}
	for name, body := range map[string]string{"empty.json": `[]`, "object.json": `{"a": 1}`, "negative.json": `[{"notebook": "a", "wall_s": -1}]`} {
		if _, err := readCourse(write(name, body)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want one naming the file", name, err)
		}
	}
}
