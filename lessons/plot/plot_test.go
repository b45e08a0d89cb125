package plot

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/gif"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/policylab/policylab/kernel/browser"
)

func TestMakeBins(t *testing.T) {
	nan := func() float64 { z := 0.0; return z / z }()
	tests := []struct {
		name   string
		values []float64
		n      int
		want   []int
	}{
		{"uniform", []float64{0, 1, 2, 3}, 4, []int{1, 1, 1, 1}},
		{"top edge in last bin", []float64{0, 10}, 2, []int{1, 1}},
		{"constant", []float64{5, 5, 5}, 3, []int{0, 3, 0}},
		{"skips NaN", []float64{0, nan, 1}, 1, []int{2}},
		{"empty", nil, 2, []int{0, 0}},
		{"n<1 is 1", []float64{1, 2}, 0, []int{2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := MakeBins(tc.values, tc.n)
			if len(b.Counts) != len(tc.want) || len(b.Edges) != len(tc.want)+1 {
				t.Fatalf("got %d counts %d edges, want %d", len(b.Counts), len(b.Edges), len(tc.want))
			}
			for i := range tc.want {
				if b.Counts[i] != tc.want[i] {
					t.Errorf("Counts = %v, want %v", b.Counts, tc.want)
					break
				}
			}
		})
	}
}

func TestChartHTML(t *testing.T) {
	l := LossCurves("loss", Series{Name: "train", Y: []float64{1, 0.5, 0, -1, 0.1}})
	h := ChartHTML(l)
	for _, want := range []string{`data-policylab-chart="1"`, `"type":"log"`, "window.echarts.init", "setOption(option)"} {
		if !strings.Contains(h, want) {
			t.Errorf("chart HTML lacks %q", want)
		}
	}
	// Non-positive losses cannot be drawn on a log axis: 3 points remain.
	if got := strings.Count(h, `"value":[`); got != 3 {
		t.Errorf("log-scale series has %d points, want 3 (non-positive dropped)", got)
	}
	if strings.Contains(h, "http://") || strings.Contains(h, "https://") {
		t.Errorf("chart HTML references the network")
	}
}

func TestInitHTMLWrapsUMD(t *testing.T) {
	h, err := InitHTML()
	if err != nil {
		t.Fatalf("InitHTML: %v (run `make setup` to fetch echarts)", err)
	}
	if !strings.Contains(h, "(function (define, exports, module) {") || !strings.Contains(h, "}).call(window, undefined, undefined, undefined);") {
		t.Error("echarts is not wrapped against RequireJS/CommonJS")
	}
	if len(h) < 500_000 {
		t.Errorf("inlined script is only %d bytes", len(h))
	}
}

func TestEchartsPathErrors(t *testing.T) {
	t.Setenv(EchartsEnv, filepath.Join(t.TempDir(), "missing.js"))
	if _, err := EchartsPath(); err == nil || !strings.Contains(err.Error(), "missing.js") {
		t.Errorf("want an error naming the missing file, got %v", err)
	}
}

func frames(n int) []image.Image {
	var fs []image.Image
	for i := 0; i < n; i++ {
		img := image.NewRGBA(image.Rect(0, 0, 16, 8))
		for x := 0; x < 16; x++ {
			for y := 0; y < 8; y++ {
				img.Set(x, y, color.RGBA{uint8(16 * x), uint8(30 * i), 0, 255})
			}
		}
		fs = append(fs, img)
	}
	return fs
}

func TestGIF(t *testing.T) {
	b, err := GIF(frames(3), 10)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gif.DecodeAll(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Image) != 3 || g.Delay[0] != 10 || g.LoopCount != 0 {
		t.Errorf("GIF has %d frames, delay %d, loop %d; want 3, 10, 0", len(g.Image), g.Delay[0], g.LoopCount)
	}
	if _, err := GIF(nil, 10); err == nil {
		t.Error("no frames: want error")
	}
	if _, err := GIF(frames(1), 0); err == nil {
		t.Error("fps 0: want error")
	}
	bad := append(frames(1), image.NewRGBA(image.Rect(0, 0, 3, 3)))
	if _, err := GIF(bad, 5); err == nil || !strings.Contains(err.Error(), "frame 1") {
		t.Errorf("mismatched frame: want error naming frame 1, got %v", err)
	}
	h, err := GIFHTML(frames(2), 5, 4)
	if err != nil || !strings.HasPrefix(h, `<img src="data:image/gif;base64,`) || !strings.Contains(h, `width="64"`) {
		t.Errorf("GIFHTML = %.80q, %v", h, err)
	}
}

func TestShowOutsideNotebook(t *testing.T) {
	if err := Show(LossCurves("x")); err != ErrNotNotebook {
		t.Errorf("Show outside a notebook = %v, want ErrNotNotebook", err)
	}
}

// TestChartsDrawnInBrowser renders a page with every chart kind into
// headless Chromium with the network off, without and with RequireJS, and
// checks each chart's canvas has ink.
func TestChartsDrawnInBrowser(t *testing.T) {
	if _, err := browser.Chromium(); err != nil {
		if os.Getenv("POLICYLAB_REQUIRE_BROWSER") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	initHTML, err := InitHTML()
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	sb.WriteString("<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>\n")
	sb.WriteString(initHTML)
	xy := [][2]float64{{0, 0}, {1, 2}, {2, 1}, {3, 3}}
	for _, c := range []Chart{
		LossCurves("loss", Series{Name: "train", Y: []float64{1, 0.3, 0.1, 0.03}}, Series{Name: "val", Y: []float64{1.2, 0.5, 0.2, 0.1}}),
		Scatter("samples", Points{Name: "a", XY: xy}),
		Trajectories("paths", Points{Name: "p", XY: xy}),
		Histogram("hist", []float64{1, 2, 2, 3, 3, 3}, 3),
		// Large series are drawn at once: progressive rendering never
		// finished under headless Chromium's virtual clock.
		Scatter("20k points", Points{Name: "many", XY: many(20000)}),
	} {
		sb.WriteString(ChartHTML(c))
	}
	sb.WriteString("\n</body></html>")
	page := filepath.Join(t.TempDir(), "charts.html")
	if err := os.WriteFile(page, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, withRequire := range []bool{false, true} {
		r, err := browser.Check(context.Background(), page, browser.Options{WithRequireJS: withRequire})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Verify(5); err != nil {
			t.Errorf("requirejs=%v: %v", withRequire, err)
		}
		if r.RequireJS != withRequire {
			t.Errorf("page had RequireJS=%v, want %v", r.RequireJS, withRequire)
		}
		t.Logf("requirejs=%v network off by %s: %+v", withRequire, r.NetworkOff, r.Charts)
	}
}

// TestUnwrappedEchartsFailsUnderRequireJS shows the browser check can fail:
// echarts inlined as is, under RequireJS, registers an anonymous AMD module,
// leaves no global and draws nothing.
func TestUnwrappedEchartsFailsUnderRequireJS(t *testing.T) {
	if _, err := browser.Chromium(); err != nil {
		if os.Getenv("POLICYLAB_REQUIRE_BROWSER") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	js, err := EchartsScript()
	if err != nil {
		t.Fatal(err)
	}
	page := "<!DOCTYPE html><html><head></head><body><script>" + js + "</script>" +
		ChartHTML(LossCurves("loss", Series{Name: "train", Y: []float64{1, 0.1}})) + "</body></html>"
	p := filepath.Join(t.TempDir(), "raw.html")
	if err := os.WriteFile(p, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := browser.Check(context.Background(), p, browser.Options{WithRequireJS: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(1); err == nil {
		t.Fatalf("unwrapped echarts under RequireJS drew its chart; the check cannot tell: %+v", r)
	} else {
		t.Logf("as expected: %v", err)
	}
}

func many(n int) [][2]float64 {
	xy := make([][2]float64, n)
	for i := range xy {
		xy[i] = [2]float64{float64(i % 500), float64(i % 333)}
	}
	return xy
}

// TestLogAxisLabelsFormatted: the log axis' label formatter runs as a
// function in the browser (not printed as text): the chart's axis labels
// read like 1e-3, never like JavaScript source.
func TestLogAxisLabelsFormatted(t *testing.T) {
	if _, err := browser.Chromium(); err != nil {
		if os.Getenv("POLICYLAB_REQUIRE_BROWSER") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	ih, err := InitHTML()
	if err != nil {
		t.Fatal(err)
	}
	c := LossCurves("loss", Series{Name: "a", Y: []float64{1, 1e-2, 1e-4}})
	probe := `<script>window.addEventListener('load', function () { setTimeout(function () {
  var el = document.querySelector('[data-policylab-chart]');
  var opt = window.echarts.getInstanceByDom(el).getOption();
  var f = opt.yAxis[0].axisLabel.formatter;
  var out = document.createElement('div'); out.id = 'fmt';
  out.textContent = (typeof f) + ':' + (typeof f === 'function' ? f(0.001) + ',' + f(0.5) : '');
  document.body.appendChild(out); }, 500); });</script>`
	page := filepath.Join(t.TempDir(), "log.html")
	if err := os.WriteFile(page, []byte("<html><body>"+ih+ChartHTML(c)+probe+"</body></html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin, _ := browser.Chromium()
	out, err := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--user-data-dir="+t.TempDir(), "--virtual-time-budget=5000",
		"--dump-dom", "file://"+page).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `<div id="fmt">function:1e-3,0.5</div>`) {
		i := strings.Index(string(out), `id="fmt"`)
		t.Errorf("formatter did not run as a function: %q", string(out)[max(0, i-10):min(len(out), i+80)])
	}
}
