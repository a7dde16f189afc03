// Package torchtest runs the PyTorch halves of the interop tests, which
// check our models against PyTorch's own modules (Debian's python3-torch).
package torchtest

import (
	"os"
	"os/exec"
	"testing"
)

// Python is Debian's interpreter, which python3-torch installs into (a
// pyenv python3 earlier on PATH would not have it).
const Python = "/usr/bin/python3"

// Require skips the test where PyTorch is not installed, unless
// GAN_REQUIRE_TORCH is set (CI sets it after installing python3-torch, so
// there a missing torch fails instead of skipping).
func Require(t testing.TB) {
	t.Helper()
	out, err := exec.Command(Python, "-c", "import torch").CombinedOutput()
	if err == nil {
		return
	}
	msg := "PyTorch is not installed for " + Python + " (apt-get install python3-torch): " + string(out)
	if os.Getenv("GAN_REQUIRE_TORCH") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Run runs a Python script (a path relative to the test's package) with
// args and returns what it printed; the test fails, showing that output,
// when the script exits non-zero.
func Run(t testing.TB, script string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(Python, append([]string{script}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", script, args, err, out)
	}
	return out
}
