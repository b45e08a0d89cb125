package ex2diffusion

import "testing"

// The visible tests: hand-made numbers (see check.go). The hidden tests
// check more: agreement with the course library, and a diffusion policy
// trained and sampled with your functions.

func TestLinearAlphasCumprod(t *testing.T) { CheckLinearAlphasCumprod(t, LinearAlphasCumprod) }

func TestAddNoise(t *testing.T) { CheckAddNoise(t, AddNoise) }

func TestPredictX0(t *testing.T) { CheckPredictX0(t, PredictX0) }

func TestDDIMStep(t *testing.T) { CheckDDIMStep(t, DDIMStep) }
