package ex1bc

import "testing"

// Visible tests of exercise 1: run them with go test ./exercises/ex1bc/.
// Hidden tests check more (values on random tensors, the network against
// the course's, and a trained policy on the arm).

func TestMSELoss(t *testing.T) { CheckMSELoss(t, MSELoss) }

func TestPolicyNetwork(t *testing.T) { CheckPolicyNetwork(t, PolicyNetwork) }

func TestGradientsFlow(t *testing.T) { CheckGradientsFlow(t, PolicyNetwork, MSELoss) }
