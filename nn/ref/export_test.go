package ref

// ClearError forgets b's recorded error, for the conformance suite's error
// tests (package ref_test).
func ClearError(b *Backend) { b.err = nil }
