package main

import (
	"fmt"
	"io"

	"gan/cpu"
	"gan/gpu"
	"gan/nn"
)

// openDevice returns the backend named by --device: "cpu", "cuda", or
// "auto" (CUDA when this binary has it and a GPU is present, else CPU; the
// reason for falling back goes to stderr in one line).
func openDevice(name string, stderr io.Writer) (nn.Backend, error) {
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
		b, err := gpu.Open()
		if err == nil {
			return b, nil
		}
		fmt.Fprintf(stderr, "--device auto: using the CPU: %v\n", err)
		return cpu.New(), nil
	}
	return nil, usagef("--device %q: must be cpu, cuda or auto", name)
}
