package paradigms

import (
	"fmt"
	"strings"
)

// ModuleParams is the number of trainable parameters of one module of the
// architecture (or "total"), counted from the GoMLX variables in its scope.
type ModuleParams struct {
	// Module is the scope name (ScopeVision, ...) or "total".
	Module string
	// Params is the number of scalar parameters.
	Params int
	// Variables is the number of GoMLX variables (weights and biases).
	Variables int
}

// ParamCounts counts the parameters of each module, in diagram order, then
// the total of the five. It reads the variables GoMLX actually created under
// each module's scope; the store's random-number state is not a parameter
// and is not counted.
func (p *Policy) ParamCounts() []ModuleParams {
	out := make([]ModuleParams, 0, len(moduleScopes)+1)
	total := ModuleParams{Module: "total"}
	for _, name := range moduleScopes {
		s := p.store.Scope("/" + name)
		m := ModuleParams{Module: name, Params: s.NumParameters(), Variables: s.NumVariables()}
		total.Params += m.Params
		total.Variables += m.Variables
		out = append(out, m)
	}
	return append(out, total)
}

// NumParams is the total number of parameters of the policy.
func (p *Policy) NumParams() int {
	counts := p.ParamCounts()
	return counts[len(counts)-1].Params
}

// Summary is a table of the modules with their input and output shapes
// (named axes, batch first) and parameter counts.
func (p *Policy) Summary() string {
	c := p.cfg
	last := c.VisionChannels[len(c.VisionChannels)-1]
	fusedIn := last + c.TextDim + c.StateDim
	io := map[string][2]string{
		ScopeVision:   {fmt.Sprintf("image [b,%d,%d,%d]", c.ImageSize, c.ImageSize, c.ImageChannels), fmt.Sprintf("[b,%d]", last)},
		ScopeLanguage: {fmt.Sprintf("tokens [b,%d]", c.MaxTokens), fmt.Sprintf("[b,%d]", c.TextDim)},
		ScopeState:    {fmt.Sprintf("proprio [b,%d]", c.ProprioDim), fmt.Sprintf("[b,%d]", c.StateDim)},
		ScopeFusion:   {fmt.Sprintf("concat [b,%d]", fusedIn), fmt.Sprintf("[b,%d]", c.FusionDim)},
		ScopeHead:     {fmt.Sprintf("fused [b,%d]", c.FusionDim), fmt.Sprintf("action [b,%d]", c.ActionDim)},
	}
	counts := p.ParamCounts()
	total := counts[len(counts)-1].Params
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-9s %-22s %-14s %9s %6s\n", "module", "input", "output", "params", "share")
	for _, m := range counts {
		in, out := io[m.Module][0], io[m.Module][1]
		share := 100 * float64(m.Params) / float64(max(total, 1))
		fmt.Fprintf(&sb, "%-9s %-22s %-14s %9s %5.1f%%\n", m.Module, in, out, thousands(m.Params), share)
	}
	return sb.String()
}

// thousands formats n with comma separators: 142663 → "142,663".
func thousands(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var parts []string
	for len(s) > 3 {
		parts = append([]string{s[len(s)-3:]}, parts...)
		s = s[:len(s)-3]
	}
	parts = append([]string{s}, parts...)
	out := strings.Join(parts, ",")
	if neg {
		out = "-" + out
	}
	return out
}
