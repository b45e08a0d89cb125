package ex3lora

import "testing"

// Visible tests of exercise 3: run them with go test ./exercises/ex3lora/.
// Hidden tests check more (agreement with lessons/lora on random weights,
// merged against unmerged, what trains when the base is frozen, and a
// real LoRA fine-tune of the course's VLA with your functions).

func TestFreshAdapter(t *testing.T) { CheckFreshAdapter(t, LoRAForward) }

func TestShapes(t *testing.T) { CheckShapes(t, LoRAForward) }

func TestScale(t *testing.T) { CheckScale(t, LoRAForward) }

func TestMerge(t *testing.T) { CheckMerge(t, LoRAMerge) }
