// Command chartcheck opens HTML pages (notebooks exported by nbconvert) in
// headless Chromium with the network off, once with RequireJS on the page and
// once without, and fails unless every chart on them was drawn.
//
// Usage: chartcheck [-min N] PAGE.html...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/policylab/policylab/kernel/browser"
)

func main() {
	minCharts := flag.Int("min", 1, "fail if a page has fewer charts than this")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: chartcheck [-min N] PAGE.html...")
		os.Exit(2)
	}
	failed := false
	for _, page := range flag.Args() {
		for _, mode := range []struct {
			name string
			opts browser.Options
		}{
			{"with RequireJS", browser.Options{WithRequireJS: true}},
			{"without RequireJS", browser.Options{WithoutRequireJS: true}},
		} {
			r, err := browser.Check(context.Background(), page, mode.opts)
			if err == nil {
				err = r.Verify(*minCharts)
			}
			if err != nil {
				failed = true
				fmt.Printf("chartcheck: FAIL %s (%s): %v\n", page, mode.name, err)
				continue
			}
			fmt.Printf("chartcheck: ok %s (%s): %d charts drawn, network off by %s\n", page, mode.name, len(r.Charts), r.NetworkOff)
		}
	}
	if failed {
		os.Exit(1)
	}
}
