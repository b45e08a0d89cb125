//go:build !(goexperiment.simd && linux)

package main

import "errors"

func vectorLanes() int { return 0 }

func probe(string, int) error { return errors.New("built without GOEXPERIMENT=simd on linux") }
