package plot

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-echarts/go-echarts/v2/charts"
	"github.com/go-echarts/go-echarts/v2/opts"
	"github.com/go-echarts/go-echarts/v2/render"
	"github.com/janpfeifer/gonb/gonbui"
)

// Chart is any go-echarts chart (Line, Scatter, Bar, ...).
type Chart interface {
	RenderSnippet() render.ChartSnippet
}

// Series is one named curve: Y over X. X may be nil (then 0, 1, 2, ...).
// Dots draws its points as dots with no line between them (events on a
// curve: chunk seams, resets).
type Series struct {
	Name string
	X, Y []float64
	Dots bool
}

// Points is one named cloud of 2-D points, e.g. action samples.
//
// XY: [numPoints][2].
type Points struct {
	Name string
	XY   [][2]float64
}

// Width and Height of every chart, CSS units.
var (
	Width  = "760px"
	Height = "380px"
)

func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "policylab_chart_" + hex.EncodeToString(b[:])
}

func initOpts(title string) []charts.GlobalOpts {
	return []charts.GlobalOpts{
		charts.WithInitializationOpts(opts.Initialization{Width: Width, Height: Height, ChartID: newID()}),
		charts.WithTitleOpts(opts.Title{Title: title}),
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "axis"}),
		charts.WithLegendOpts(opts.Legend{Show: opts.Bool(true), Top: "bottom"}),
		charts.WithAnimation(false),
	}
}

// LossCurves plots training curves on a log-scale y axis (the usual way to
// read a loss that falls by orders of magnitude). Non-positive and non-finite
// values cannot sit on a log axis and are dropped from the plot.
func LossCurves(title string, series ...Series) *charts.Line {
	l := charts.NewLine()
	l.SetGlobalOptions(initOpts(title)...)
	l.SetGlobalOptions(
		charts.WithXAxisOpts(opts.XAxis{Type: "value", Name: "step", NameLocation: "middle", NameGap: 25}),
		charts.WithYAxisOpts(opts.YAxis{Type: "log", Name: "loss", AxisLabel: &opts.AxisLabel{
			// Log axes print 0.000000001 in full by default; 1e-9 reads better.
			Formatter: opts.FuncOpts("function (v) { return (v >= 0.01 && v < 1000) ? String(+v.toPrecision(3)) : v.toExponential(0); }"),
		}}),
	)
	for _, s := range series {
		addLine(l, s, func(y float64) bool { return y > 0 && !math.IsInf(y, 0) })
	}
	return l
}

// allAtOnce turns off echarts' progressive rendering (drawing large series
// chunk by chunk on animation frames): our series are at most tens of
// thousands of points, drawn at once in well under a second, and a chart
// that is fully drawn when its script returns is what exports and headless
// checks see.
func allAtOnce(s *charts.SingleSeries) { s.Progressive = opts.Int(0) }

// addLine adds the points of s whose y passes keep, as a line without
// symbols. X defaults to the point's index.
func addLine(l *charts.Line, s Series, keep func(y float64) bool) {
	var data []opts.LineData
	for i, y := range s.Y {
		if !keep(y) {
			continue
		}
		x := float64(i)
		if i < len(s.X) {
			x = s.X[i]
		}
		data = append(data, opts.LineData{Value: []float64{x, y}})
	}
	if s.Dots {
		l.AddSeries(s.Name, data, charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(true), SymbolSize: 7}),
			charts.WithLineStyleOpts(opts.LineStyle{Opacity: opts.Float(0)}), allAtOnce)
		return
	}
	l.AddSeries(s.Name, data, charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false)}), allAtOnce)
}

// Lines plots curves on linear axes (success rates, coverage over time, ...).
func Lines(title, xName, yName string, series ...Series) *charts.Line {
	return lines(title, "value", xName, yName, series)
}

// LinesLogX is Lines with a log-scale x axis, for quantities that span
// orders of magnitude (environment steps, demonstrations, parameters).
// Points with x <= 0 cannot sit on a log axis and are dropped.
func LinesLogX(title, xName, yName string, series ...Series) *charts.Line {
	kept := make([]Series, len(series))
	for i, s := range series {
		kept[i] = Series{Name: s.Name}
		for j, y := range s.Y {
			x := float64(j)
			if j < len(s.X) {
				x = s.X[j]
			}
			if x > 0 {
				kept[i].X = append(kept[i].X, x)
				kept[i].Y = append(kept[i].Y, y)
			}
		}
	}
	return lines(title, "log", xName, yName, kept)
}

func lines(title, xType, xName, yName string, series []Series) *charts.Line {
	l := charts.NewLine()
	l.SetGlobalOptions(initOpts(title)...)
	l.SetGlobalOptions(
		charts.WithXAxisOpts(opts.XAxis{Type: xType, Name: xName, NameLocation: "middle", NameGap: 25}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: yName, Scale: opts.Bool(true)}),
	)
	for _, s := range series {
		addLine(l, s, func(y float64) bool { return !math.IsNaN(y) && !math.IsInf(y, 0) })
	}
	return l
}

// Trajectories plots 2-D paths (e.g. end-effector or pusher xy over an
// episode) as lines through their points, on equal-footing value axes.
func Trajectories(title string, paths ...Points) *charts.Line {
	l := charts.NewLine()
	l.SetGlobalOptions(initOpts(title)...)
	l.SetGlobalOptions(
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item"}),
		charts.WithXAxisOpts(opts.XAxis{Type: "value", Name: "x", Scale: opts.Bool(true)}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "y", Scale: opts.Bool(true)}),
	)
	for _, p := range paths {
		data := make([]opts.LineData, 0, len(p.XY))
		for _, xy := range p.XY {
			data = append(data, opts.LineData{Value: []float64{xy[0], xy[1]}})
		}
		l.AddSeries(p.Name, data, charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false)}), allAtOnce)
	}
	return l
}

// TrajectoriesInImage plots 2-D paths in image coordinates: x from 0 to
// width, y from 0 to height growing downward, so paths overlay the way the
// simulator's frames look.
func TrajectoriesInImage(title string, width, height float64, paths ...Points) *charts.Line {
	l := Trajectories(title, paths...)
	l.SetGlobalOptions(
		charts.WithXAxisOpts(opts.XAxis{Type: "value", Name: "x (px)", Min: 0, Max: width}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Name: "y (px)", Min: 0, Max: height, Inverse: opts.Bool(true)}),
	)
	return l
}

// Zip pairs two equally long columns into points (the shorter length wins).
func Zip(xs, ys []float64) [][2]float64 {
	n := min(len(xs), len(ys))
	out := make([][2]float64, n)
	for i := 0; i < n; i++ {
		out[i] = [2]float64{xs[i], ys[i]}
	}
	return out
}

// Scatter plots clouds of 2-D points (action samples, observations).
func Scatter(title string, clouds ...Points) *charts.Scatter {
	s := charts.NewScatter()
	s.SetGlobalOptions(initOpts(title)...)
	s.SetGlobalOptions(
		charts.WithTooltipOpts(opts.Tooltip{Show: opts.Bool(true), Trigger: "item"}),
		charts.WithXAxisOpts(opts.XAxis{Type: "value", Scale: opts.Bool(true)}),
		charts.WithYAxisOpts(opts.YAxis{Type: "value", Scale: opts.Bool(true)}),
	)
	for _, c := range clouds {
		data := make([]opts.ScatterData, 0, len(c.XY))
		for _, xy := range c.XY {
			data = append(data, opts.ScatterData{Value: []float64{xy[0], xy[1]}, SymbolSize: 5})
		}
		s.AddSeries(c.Name, data, allAtOnce)
	}
	return s
}

// Bins is a histogram: Counts[i] values fell in [Edges[i], Edges[i+1]).
type Bins struct {
	Edges  []float64
	Counts []int
}

// MakeBins counts values into n equal-width bins spanning their range
// (NaN and Inf are skipped). n < 1 is taken as 1.
func MakeBins(values []float64, n int) Bins {
	n = max(n, 1)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	if lo > hi { // no finite values
		lo, hi = 0, 1
	}
	if lo == hi {
		lo, hi = lo-0.5, hi+0.5
	}
	b := Bins{Edges: make([]float64, n+1), Counts: make([]int, n)}
	w := (hi - lo) / float64(n)
	for i := range b.Edges {
		b.Edges[i] = lo + float64(i)*w
	}
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		i := int((v - lo) / w)
		if i >= n {
			i = n - 1 // the top edge belongs to the last bin
		}
		b.Counts[i]++
	}
	return b
}

// Histogram plots the distribution of values in n bins.
func Histogram(title string, values []float64, n int) *charts.Bar {
	b := MakeBins(values, n)
	bar := charts.NewBar()
	bar.SetGlobalOptions(initOpts(title)...)
	labels := make([]string, len(b.Counts))
	data := make([]opts.BarData, len(b.Counts))
	for i, c := range b.Counts {
		labels[i] = fmt.Sprintf("%.3g", (b.Edges[i]+b.Edges[i+1])/2)
		data[i] = opts.BarData{Value: c}
	}
	bar.SetXAxis(labels).AddSeries("count", data)
	return bar
}

// BarChart plots one value per label (e.g. parameters per encoder).
func BarChart(title string, labels []string, values []float64) *charts.Bar {
	bar := charts.NewBar()
	bar.SetGlobalOptions(initOpts(title)...)
	data := make([]opts.BarData, len(values))
	for i, v := range values {
		data[i] = opts.BarData{Value: v}
	}
	bar.SetXAxis(labels).AddSeries(title, data)
	return bar
}

// GroupedBars plots several values per label side by side, one bar series
// per Series: Series.Y[i] is its bar at labels[i] (Series.X is ignored).
func GroupedBars(title, yName string, labels []string, series ...Series) *charts.Bar {
	bar := charts.NewBar()
	bar.SetGlobalOptions(append(initOpts(title), charts.WithYAxisOpts(opts.YAxis{Name: yName}))...)
	bar.SetXAxis(labels)
	for _, s := range series {
		data := make([]opts.BarData, len(s.Y))
		for i, v := range s.Y {
			data[i] = opts.BarData{Value: v}
		}
		bar.AddSeries(s.Name, data)
	}
	return bar
}

// ChartHTML renders a chart as a <div> and a script that draws it once
// window.echarts exists (it waits up to 10 s for Init's script, then says
// what to do instead of failing silently).
func ChartHTML(c Chart) string {
	snip := c.RenderSnippet()
	id := extractID(snip.Element)
	if id == "" {
		id = newID()
	}
	width, height := Width, Height
	var sb strings.Builder
	fmt.Fprintf(&sb, `<div id="%s" data-policylab-chart="1" style="width:%s;height:%s;"></div>`,
		html.EscapeString(id), html.EscapeString(width), html.EscapeString(height))
	sb.WriteString("\n<script type=\"text/javascript\">\n(function () {\n")
	fmt.Fprintf(&sb, "  var id = %q;\n", id)
	sb.WriteString("  var option = ")
	sb.WriteString(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(snip.Option), ";")))
	sb.WriteString(";\n")
	sb.WriteString(`  // Options carry JavaScript functions (axis label formatters) as
  // strings: turn them back into functions.
  (function revive(o) {
    if (Array.isArray(o)) { o.forEach(revive); return; }
    if (!o || typeof o !== 'object') { return; }
    for (var k in o) {
      var v = o[k];
      if (typeof v === 'string' && /^\s*function\s*\(/.test(v)) { o[k] = (new Function('return (' + v + ');'))(); }
      else { revive(v); }
    }
  })(option);
  var tries = 0;
  function draw() {
    var el = document.getElementById(id);
    if (!el) { return; }
    if (typeof window.echarts === 'undefined') {
      if (++tries < 200) { setTimeout(draw, 50); return; }
      el.style.height = 'auto';
      el.textContent = 'plot: the echarts script is not on this page: run plot.Init() (or re-run the first cell).';
      return;
    }
    var chart = window.echarts.init(el, null, {renderer: 'canvas'});
    chart.setOption(option);
  }
  draw();
})();
</script>`)
	return sb.String()
}

// extractID reads the chart id from go-echarts' element snippet.
func extractID(element string) string {
	const key = `id="`
	i := strings.Index(element, key)
	if i < 0 {
		return ""
	}
	rest := element[i+len(key):]
	j := strings.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return rest[:j]
}

// ErrNotNotebook is returned by the Show functions outside a GoNB notebook.
var ErrNotNotebook = errors.New("plot: not running in a GoNB notebook (use the *HTML functions)")

// inlinedMarker records, per GoNB kernel session, that Init ran.
func inlinedMarker() string {
	d := os.Getenv("GONB_TMP_DIR")
	if d == "" {
		return ""
	}
	return filepath.Join(d, ".policylab-echarts-inlined")
}

// Init inlines the echarts script into the notebook. Call it once, in the
// first cell; Show calls it by itself if it was not called in this kernel
// session.
func Init() error {
	if !gonbui.IsNotebook {
		return ErrNotNotebook
	}
	h, err := InitHTML()
	if err != nil {
		gonbui.DisplayHTML(`<pre style="color:#b00">` + html.EscapeString(err.Error()) + `</pre>`)
		gonbui.Sync() // flush before the cell's program exits, or the output can be lost
		return err
	}
	gonbui.DisplayHTML(h)
	gonbui.Sync() // flush before the cell's program exits, or the output can be lost
	if m := inlinedMarker(); m != "" {
		_ = os.WriteFile(m, []byte("1"), 0o644)
	}
	return nil
}

// Show displays a chart in the notebook.
func Show(c Chart) error {
	if !gonbui.IsNotebook {
		return ErrNotNotebook
	}
	if m := inlinedMarker(); m != "" {
		if _, err := os.Stat(m); err != nil {
			if err := Init(); err != nil {
				return err
			}
		}
	}
	gonbui.DisplayHTML(ChartHTML(c))
	gonbui.Sync() // flush before the cell's program exits, or the output can be lost
	return nil
}

// PathGroup is a named set of 2-D paths drawn in one colour (e.g. 40
// sampled trajectories).
type PathGroup struct {
	Name  string
	Paths [][][2]float64
}

// PathGroups plots sets of 2-D paths on equal value axes; each group is
// one series (one colour, one legend entry), its paths separated by gaps.
func PathGroups(title string, groups ...PathGroup) *charts.Line {
	l := Trajectories(title)
	for _, g := range groups {
		var data []opts.LineData
		for i, p := range g.Paths {
			if i > 0 {
				data = append(data, opts.LineData{Value: "-"}) // a gap: echarts' empty value
			}
			for _, xy := range p {
				data = append(data, opts.LineData{Value: []float64{xy[0], xy[1]}})
			}
		}
		l.AddSeries(g.Name, data, charts.WithLineChartOpts(opts.LineChart{ShowSymbol: opts.Bool(false), ConnectNulls: opts.Bool(false)}), allAtOnce)
	}
	return l
}
