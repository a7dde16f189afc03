package main

import (
	"fmt"

	"gan/cpu"
	"gan/gpu"
	"gan/nn"
)

// openDevice returns the backend named by --device: "cpu", "cuda", or
// "auto" (CUDA when this binary has it and a GPU is present, else CPU).
func openDevice(name string) (nn.Backend, error) {
	switch name {
	case "cpu":
		return cpu.New(), nil
	case "cuda":
		b, err := gpu.Open()
		if err != nil {
			return nil, fmt.Errorf("--device cuda: %w", err)
		}
		return b, nil
	case "auto":
		if gpu.Available() {
			if b, err := gpu.Open(); err == nil {
				return b, nil
			}
		}
		return cpu.New(), nil
	}
	return nil, usagef("--device %q: must be cpu, cuda or auto", name)
}
