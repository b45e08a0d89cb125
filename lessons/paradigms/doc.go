// Package paradigms is the Go companion of section 4.2.1, "Policy Learning
// Paradigms".
//
// The chapter sums the section up in two pictures. The first is a policy
// architecture:
//
//	RGB Image      → Vision Encoder   ┐
//	Language       → Language Encoder ├→ Multimodal Fusion → Policy Head → Action
//	Proprioception → State Encoder    ┘
//
// BuildPolicy builds exactly that network in GoMLX, with ArchConfig for its
// sizes, Tokenize as a stand-in for a tokenizer, ParamCounts and Summary to
// read its size module by module, and Policy.Forward to run it.
//
// The second picture is a comparison table: imitation learning is sample
// efficient but suffers distribution shift, reinforcement learning finds
// optimal policies but is sample inefficient, and vision-language-action
// (VLA) models generalise but are compute intensive. Compare turns that table
// into measurements on a small physical task, a 2-D point mass that must
// reach a goal (PointMass):
//
//   - imitation learning: behaviour cloning (FitBC) of a linear policy from a
//     few demonstrations of a scripted expert (Expert);
//   - reinforcement learning: the cross-entropy method (RunCEM) over the same
//     policy class, from reward alone, counting every environment step;
//   - VLA: the parameter count and measured latency of this package's
//     architecture next to an estimate of the compute OpenVLA-7B spends per
//     action (MeasureCompute).
//
// Every number Compare reports is measured or computed by the code when it
// runs; only the published facts about OpenVLA-7B are constants.
package paradigms
