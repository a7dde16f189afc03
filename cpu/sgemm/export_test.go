package sgemm

// SetDirectMaxN sets directMaxN for the external benchmarks and returns the
// old value.
func SetDirectMaxN(n int) int {
	old := directMaxN
	directMaxN = n
	return old
}
