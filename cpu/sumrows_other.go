//go:build !amd64 || purego

package cpu

// sumRows reports false: no vector kernel on this platform (or with -tags
// purego); the caller sums in Go.
func sumRows(dst, src []float32, offs []int) bool { return false }

// sumRowsAvailable is false: sumRows declines everything here.
func sumRowsAvailable() bool { return false }
