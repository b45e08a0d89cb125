// Command hlocensus counts the kernels an XLA program launches, from the
// optimized HLO that XLA dumps (XLA_FLAGS=--xla_dump_to=DIR writes
// *.after_optimizations.txt files): every fusion (by kind: kLoop,
// kInput for reductions, kOutput, kCustom for GEMMs and Triton) and
// every custom call (by target: cuBLAS, cuDNN) in the computations that
// run, that is all but the bodies of fusions and the small computations
// that reductions apply. On a GPU each of them is one kernel launch
// (or one node of a CUDA graph), which bounds the latency of small
// networks such as the U-Net at batch 1.
//
//	hlocensus [-steps K] FILE.after_optimizations.txt...
//
// prints one JSON object per file; -steps divides the totals by the
// number of denoising steps unrolled in the program (10 for a fused
// DDIM-10 run) to give kernels per noise-predictor forward.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
)

func main() {
	steps := flag.Int("steps", 1, "denoising steps unrolled in the program: the per-step figure divides by it")
	flag.Parse()
	if flag.NArg() == 0 || *steps < 1 {
		fmt.Fprintln(os.Stderr, "usage: hlocensus [-steps K] FILE.after_optimizations.txt...")
		os.Exit(2)
	}
	enc := json.NewEncoder(os.Stdout)
	status := 0
	for _, name := range flag.Args() {
		text, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "hlocensus:", err)
			status = 1
			continue
		}
		c, err := Count(string(text))
		if err != nil {
			fmt.Fprintf(os.Stderr, "hlocensus: %s: %v\n", name, err)
			status = 1
			continue
		}
		c.File = name
		c.Steps = *steps
		c.PerStep = float64(c.Kernels) / float64(*steps)
		if err := enc.Encode(c); err != nil {
			fmt.Fprintln(os.Stderr, "hlocensus:", err)
			os.Exit(1)
		}
	}
	os.Exit(status)
}
