// Package browser opens HTML pages in headless Chromium with the network
// off and reports whether the echarts charts on them were really drawn: the
// chart's echarts instance exists and its canvas holds non-background
// pixels. It is how the test suite proves that notebooks' charts render
// offline, with and without RequireJS on the page.
package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// ChromiumEnv overrides the browser binary (default: chromium on PATH).
const ChromiumEnv = "POLICYLAB_CHROMIUM"

// RequireJSPath is Debian's RequireJS (package libjs-requirejs, pulled in by
// jupyter-notebook): what classic Jupyter and nbconvert's HTML load.
var RequireJSPath = "/usr/share/javascript/requirejs/require.min.js"

// Chart is what the page reported for one chart element.
type Chart struct {
	ID       string `json:"id"`
	Instance bool   `json:"instance"` // echarts.getInstanceByDom found it
	Canvas   int    `json:"canvas"`   // canvas pixels (0: no canvas)
	Inked    int    `json:"inked"`    // pixels neither transparent nor near-white
	Text     string `json:"text"`     // the element's text (error messages land here)
}

// Drawn says the chart was really drawn.
func (c Chart) Drawn() bool { return c.Instance && c.Canvas > 0 && c.Inked > 100 }

// Report is what one page load found.
type Report struct {
	Page       string   `json:"-"`
	RequireJS  bool     `json:"requirejs"` // RequireJS was loaded on the page
	EchartsVar string   `json:"echarts"`   // typeof window.echarts
	Charts     []Chart  `json:"charts"`    // one per [data-policylab-chart] element
	NetworkOff string   `json:"-"`         // how the network was cut
	Errors     []string `json:"errors"`    // window.onerror messages
}

// Options for Check.
type Options struct {
	// WithRequireJS points the page's RequireJS <script> (nbconvert's CDN
	// link) at Debian's local copy, or adds one, so the page runs under
	// RequireJS as classic Jupyter does. Without it, remote scripts just fail
	// to load (the network is off).
	WithRequireJS bool
	// WithoutRequireJS removes the page's RequireJS <script>, so the page
	// runs as a plain browser page (as JupyterLab shows outputs).
	WithoutRequireJS bool
	// Timeout for the whole browser run (default 90 s).
	Timeout time.Duration
}

var reRequire = regexp.MustCompile(`<script[^>]+src="[^"]*require(\.min)?\.js"[^>]*>\s*</script>`)

const probe = `<script>
(function () {
  var errors = [];
  window.addEventListener('error', function (e) { errors.push(String(e.message).slice(0, 300)); });
  function check() {
    var out = {requirejs: typeof window.requirejs === 'function', echarts: typeof window.echarts, charts: [], errors: errors};
    var els = document.querySelectorAll('[data-policylab-chart]');
    for (var k = 0; k < els.length; k++) {
      var el = els[k];
      var r = {id: el.id, instance: false, canvas: 0, inked: 0, text: (el.textContent || '').slice(0, 300)};
      try { r.instance = !!(window.echarts && window.echarts.getInstanceByDom(el)); } catch (e) { r.text += ' getInstanceByDom: ' + e; }
      var cv = el.querySelector('canvas');
      if (cv && cv.width > 0 && cv.height > 0) {
        r.canvas = cv.width * cv.height;
        var d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data, n = 0;
        for (var i = 0; i < d.length; i += 4) {
          if (d[i + 3] > 0 && !(d[i] > 245 && d[i + 1] > 245 && d[i + 2] > 245)) { n++; }
        }
        r.inked = n;
      }
      out.charts.push(r);
    }
    var pre = document.createElement('pre');
    pre.id = 'policylab-chartcheck';
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }
  window.addEventListener('load', function () { setTimeout(check, 3000); });
})();
</script>`

// Chromium returns the browser binary or an error saying how to get it.
func Chromium() (string, error) {
	if p := os.Getenv(ChromiumEnv); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("browser: no chromium on PATH: install Debian's chromium (kernel/setup.sh --test) or set " + ChromiumEnv)
}

// Check loads the HTML file in headless Chromium with the network off and
// returns what the page reports about its charts.
func Check(ctx context.Context, htmlPath string, o Options) (*Report, error) {
	bin, err := Chromium()
	if err != nil {
		return nil, err
	}
	src, err := os.ReadFile(htmlPath)
	if err != nil {
		return nil, fmt.Errorf("browser: %w", err)
	}
	page := string(src)
	if o.WithRequireJS {
		if _, err := os.Stat(RequireJSPath); err != nil {
			return nil, fmt.Errorf("browser: RequireJS not found at %s (Debian package libjs-requirejs): %w", RequireJSPath, err)
		}
		tag := `<script src="file://` + RequireJSPath + `"></script>`
		if reRequire.MatchString(page) {
			page = reRequire.ReplaceAllLiteralString(page, tag)
		} else if i := strings.Index(strings.ToLower(page), "<head>"); i >= 0 {
			page = page[:i+6] + tag + page[i+6:]
		} else {
			page = tag + page
		}
	}
	if o.WithoutRequireJS {
		page = reRequire.ReplaceAllLiteralString(page, "")
	}
	if i := strings.LastIndex(strings.ToLower(page), "</body>"); i >= 0 {
		page = page[:i] + probe + page[i:]
	} else {
		page += probe
	}
	dir, err := os.MkdirTemp("", "policylab-browser-")
	if err != nil {
		return nil, fmt.Errorf("browser: %w", err)
	}
	defer os.RemoveAll(dir)
	// The copy sits beside the original so relative links still resolve.
	pagePath := filepath.Join(filepath.Dir(htmlPath), "."+filepath.Base(htmlPath)+".chartcheck.html")
	if err := os.WriteFile(pagePath, []byte(page), 0o644); err != nil {
		// Read-only folder: fall back to the temp dir.
		pagePath = filepath.Join(dir, filepath.Base(htmlPath))
		if err := os.WriteFile(pagePath, []byte(page), 0o644); err != nil {
			return nil, fmt.Errorf("browser: %w", err)
		}
	}
	defer os.Remove(pagePath)
	abs, _ := filepath.Abs(pagePath)

	timeout := o.Timeout
	if timeout == 0 {
		timeout = 90 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-quic", "--allow-file-access-from-files",
		"--user-data-dir=" + filepath.Join(dir, "profile"),
		// Belt and braces: even where no network namespace can be made,
		// every host name fails to resolve and every proxied request fails.
		"--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
		"--virtual-time-budget=20000", "--run-all-compositor-stages-before-draw",
		"--window-size=1200,900", "--dump-dom", "file://" + abs,
	}
	how := "host-resolver-rules + dead proxy"
	var cmd *exec.Cmd
	if un, err := exec.LookPath("unshare"); err == nil && exec.Command(un, "--net", "true").Run() == nil {
		how = "network namespace without interfaces (unshare --net) + host-resolver-rules"
		cmd = exec.CommandContext(ctx, un, append([]string{"--net", bin}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, bin, args...)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("browser: chromium did not finish within %v on %s", timeout, htmlPath)
	}
	if err != nil {
		return nil, fmt.Errorf("browser: chromium on %s: %w; stderr: %s", htmlPath, err, tail(stderr.String(), 2000))
	}
	dom := string(out)
	const open = `<pre id="policylab-chartcheck">`
	i := strings.Index(dom, open)
	if i < 0 {
		return nil, fmt.Errorf("browser: the page %s never reported (no load event within the time budget?); stderr: %s", htmlPath, tail(stderr.String(), 2000))
	}
	rest := dom[i+len(open):]
	j := strings.Index(rest, "</pre>")
	if j < 0 {
		return nil, fmt.Errorf("browser: truncated report from %s", htmlPath)
	}
	r := &Report{Page: htmlPath, NetworkOff: how}
	if err := json.Unmarshal([]byte(html.UnescapeString(rest[:j])), r); err != nil {
		return nil, fmt.Errorf("browser: bad report from %s: %w", htmlPath, err)
	}
	return r, nil
}

// Verify returns an error naming every chart on the page that was not drawn,
// or when the page has fewer than minCharts charts.
func (r *Report) Verify(minCharts int) error {
	var bad []string
	for i, c := range r.Charts {
		if !c.Drawn() {
			bad = append(bad, fmt.Sprintf("chart %d (%s): instance=%v canvas=%d inked=%d text=%q", i, c.ID, c.Instance, c.Canvas, c.Inked, c.Text))
		}
	}
	if len(r.Charts) < minCharts {
		bad = append(bad, fmt.Sprintf("found %d charts, want at least %d", len(r.Charts), minCharts))
	}
	if len(bad) > 0 {
		return fmt.Errorf("browser: %s (requirejs=%v, typeof echarts=%s, page errors=%q): %s",
			r.Page, r.RequireJS, r.EchartsVar, r.Errors, strings.Join(bad, "; "))
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
