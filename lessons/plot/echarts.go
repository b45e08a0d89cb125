// Package plot draws the course's charts (go-echarts) and shows simulator
// frames (PNG images, animated GIFs) in GoNB notebooks, each in one line.
//
// Charts render offline: the echarts script is not loaded from a CDN but
// inlined into the notebook once, by Init (the first chart also calls it when
// a notebook forgot). The script comes from the npm registry at setup
// (kernel/package-lock.json) and is read from kernel/node_modules at run time.
// It is wrapped so that it defines the global `echarts` even when RequireJS is
// on the page (classic Jupyter and nbconvert's HTML load RequireJS, and
// echarts' UMD header would otherwise register an anonymous AMD module and
// leave no global).
//
// Outside a notebook the Show functions do nothing but return an error
// telling so; the *HTML functions work everywhere and are what tests check.
package plot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// EchartsEnv, when set, is the path of the echarts.min.js to inline.
const EchartsEnv = "POLICYLAB_ECHARTS_JS"

// echartsRel is where `npm ci` in kernel/ puts the script, relative to the
// repository root.
var echartsRel = filepath.Join("kernel", "node_modules", "echarts", "dist", "echarts.min.js")

var (
	scriptOnce sync.Once
	scriptJS   string
	scriptPath string
	scriptErr  error
)

// EchartsPath finds echarts.min.js: $POLICYLAB_ECHARTS_JS, else the
// repository this package's source lives in (a notebook builds it from
// there through go.work), else the folders above the working directory.
func EchartsPath() (string, error) {
	if p := os.Getenv(EchartsEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("plot: %s=%q: %w", EchartsEnv, p, err)
		}
		return p, nil
	}
	var tried []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		root := filepath.Dir(filepath.Dir(filepath.Dir(file))) // lessons/plot/echarts.go -> root
		p := filepath.Join(root, echartsRel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		tried = append(tried, p)
	}
	for _, start := range []string{os.Getenv("GONB_DIR"), "."} {
		if start == "" {
			continue
		}
		dir, err := filepath.Abs(start)
		if err != nil {
			continue
		}
		for {
			p := filepath.Join(dir, echartsRel)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			tried = append(tried, p)
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("plot: echarts script not found (looked at %s): run `make setup`, or set %s",
		strings.Join(tried, ", "), EchartsEnv)
}

// EchartsScript returns the content of echarts.min.js (read once).
func EchartsScript() (string, error) {
	scriptOnce.Do(func() {
		scriptPath, scriptErr = EchartsPath()
		if scriptErr != nil {
			return
		}
		b, err := os.ReadFile(scriptPath)
		if err != nil {
			scriptErr = fmt.Errorf("plot: reading echarts script: %w", err)
			return
		}
		if len(b) < 100_000 || !strings.Contains(string(b[:min(len(b), 200_000)]), "echarts") {
			scriptErr = fmt.Errorf("plot: %s does not look like echarts.min.js (%d bytes): run `make setup` again", scriptPath, len(b))
			return
		}
		if strings.Contains(strings.ToLower(string(b)), "</script") {
			scriptErr = errors.New("plot: echarts script contains </script and cannot be inlined")
			return
		}
		scriptJS = string(b)
	})
	return scriptJS, scriptErr
}

// InitHTML is the <script> element that defines window.echarts. The
// function wrapper shadows define/exports/module, so echarts' UMD header
// takes its "browser global" branch under RequireJS (AMD) too.
func InitHTML() (string, error) {
	js, err := EchartsScript()
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	sb.Grow(len(js) + 400)
	sb.WriteString(`<script type="text/javascript" data-policylab-echarts="inline">`)
	sb.WriteString("\nif (typeof window.echarts === 'undefined') {\n(function (define, exports, module) {\n")
	sb.WriteString(js)
	sb.WriteString("\n}).call(window, undefined, undefined, undefined);\n}\n</script>")
	sb.WriteString(`<div style="font-size:smaller;color:#888">charts: echarts inlined (offline)</div>`)
	return sb.String(), nil
}
