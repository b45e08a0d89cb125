package main

import (
	"errors"
	"regexp"
	"strings"
)

// Census is what one HLO module launches.
type Census struct {
	File    string  `json:"file,omitempty"`
	Module  string  `json:"module"`
	Kernels int     `json:"kernels"` // fusions + custom calls + other kernels
	Steps   int     `json:"steps,omitempty"`
	PerStep float64 `json:"kernels_per_step,omitempty"`
	// Fusions by kind (kLoop, kInput, kOutput, kCustom).
	Fusions map[string]int `json:"fusions"`
	// CustomCalls by target (__cublas$gemm, __cudnn$convForward, ...).
	CustomCalls map[string]int `json:"custom_calls"`
	// Other opcodes that run as kernels of their own outside any fusion
	// (copy, sort, ...), by opcode.
	Other map[string]int `json:"other"`
}

// noKernel are the opcodes that launch nothing: they name, slice or
// alias buffers, or call computations whose own instructions are counted.
var noKernel = map[string]bool{
	"parameter": true, "constant": true, "tuple": true, "get-tuple-element": true,
	"bitcast": true, "call": true, "while": true, "conditional": true,
	"after-all": true, "add-dependency": true, "opt-barrier": true,
	"partition-id": true, "replica-id": true,
}

var (
	moduleRe = regexp.MustCompile(`^HloModule\s+([^\s,]+)`)
	// A computation's header: "[ENTRY ]%name (params) -> shape {".
	headerRe = regexp.MustCompile(`^(ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$`)
	callsRe  = regexp.MustCompile(`\bcalls=%?([\w.\-]+)`)
	applyRe  = regexp.MustCompile(`\bto_apply=%?([\w.\-]+)`)
	kindRe   = regexp.MustCompile(`\bkind=(k\w+)`)
	targetRe = regexp.MustCompile(`custom_call_target="([^"]*)"`)
)

type instr struct{ opcode, line string }

// Count parses the text of an optimized HLO module.
func Count(text string) (Census, error) {
	c := Census{Fusions: map[string]int{}, CustomCalls: map[string]int{}, Other: map[string]int{}}
	comps := map[string][]instr{}
	var cur string
	inComp := false
	for _, raw := range strings.Split(text, "\n") {
		line := strings.TrimSpace(raw)
		if m := moduleRe.FindStringSubmatch(line); m != nil {
			c.Module = m[1]
			continue
		}
		if !inComp {
			if m := headerRe.FindStringSubmatch(line); m != nil {
				cur, inComp = m[2], true
				comps[cur] = nil
			}
			continue
		}
		if strings.HasPrefix(line, "}") { // "}" or "}, execution_thread=..."
			inComp = false
			continue
		}
		if op := opcode(line); op != "" {
			comps[cur] = append(comps[cur], instr{op, line})
		}
	}
	if len(comps) == 0 {
		return c, errors.New("no HLO computations found (want the text of an *.after_optimizations.txt dump)")
	}
	// Fusion bodies and reducers' computations run inside other kernels.
	inner := map[string]bool{}
	for _, ins := range comps {
		for _, in := range ins {
			if in.opcode == "fusion" {
				if m := callsRe.FindStringSubmatch(in.line); m != nil {
					inner[m[1]] = true
				}
			}
			if m := applyRe.FindStringSubmatch(in.line); m != nil && in.opcode != "call" {
				inner[m[1]] = true
			}
		}
	}
	for name, ins := range comps {
		if inner[name] {
			continue
		}
		for _, in := range ins {
			switch {
			case in.opcode == "fusion":
				kind := "unknown"
				if m := kindRe.FindStringSubmatch(in.line); m != nil {
					kind = m[1]
				}
				c.Fusions[kind]++
			case in.opcode == "custom-call":
				target := "unknown"
				if m := targetRe.FindStringSubmatch(in.line); m != nil {
					target = m[1]
				}
				c.CustomCalls[target]++
			case noKernel[in.opcode]:
				continue
			default:
				c.Other[in.opcode]++
			}
			c.Kernels++
		}
	}
	return c, nil
}

// opcode is the opcode of an instruction line "[ROOT ]%name = shape
// opcode(operands), attrs", or "" for other lines. The shape may be a
// tuple in parentheses.
func opcode(line string) string {
	line = strings.TrimPrefix(line, "ROOT ")
	eq := strings.Index(line, " = ")
	if eq < 0 {
		return ""
	}
	rest := strings.TrimSpace(line[eq+3:])
	if strings.HasPrefix(rest, "(") { // tuple shape: skip to its closing parenthesis
		depth := 0
		for i, r := range rest {
			if r == '(' {
				depth++
			} else if r == ')' {
				depth--
				if depth == 0 {
					rest = rest[i+1:]
					break
				}
			}
		}
	} else if sp := strings.IndexByte(rest, ' '); sp >= 0 {
		rest = rest[sp:]
	} else {
		return ""
	}
	rest = strings.TrimSpace(rest)
	if p := strings.IndexByte(rest, '('); p > 0 {
		return rest[:p]
	}
	return ""
}
