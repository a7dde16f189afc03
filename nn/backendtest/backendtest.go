// Package backendtest is the conformance suite of [nn.Backend]: one table
// of cases that every backend runs, in the spirit of ggml's
// test-backend-ops and GoMLX's shared backend tests.
//
// Each case calls one op (one Backend method) on operands of a given shape
// and layout, filled by a seeded generator (awkward sizes 1, 7, 33, 127,
// 129, 1000, the seed model's layer shapes, strided column blocks where the
// op takes them, and special values: ±0, subnormals, ±MaxFloat32, ±Inf and
// NaN where the result is defined). Every operand lives inside a larger
// buffer whose other elements must survive the op. Each output is compared
// with a tolerance class chosen and justified per op (tolerance.go):
// bit-exact for single rounded float32 operations, ulps for functions
// computed in float64 and rounded once, rounding-error bounds for short
// float32 formulas and matrix products, docs/tolerances.md's rtol/atol for losses.
//
// [RunAgainstReference] compares a backend with the float64 reference
// (package ref), which computes without float32 rounding;
// [RunAgainst] compares two float32 backends, such as the CUDA backend
// with the CPU one. Both also run the contract tests: shape mismatches,
// strided matrices where an op takes none, foreign and freed matrices and
// out-of-range indices are errors that name the op and write nothing; the
// first error sticks; Free refuses views; ops allocate nothing once warmed
// up; and every Backend method has cases. [RunFiniteDifferences] checks the
// reference backend's backward ops against finite differences of its
// forward ops, which closes the chain: backward ops ≈ finite differences on
// the reference, backends ≈ reference.
package backendtest

import (
	"testing"

	"gan/nn"
	"gan/nn/ref"
)

// config is what the options set.
type config struct {
	clearErr func(nn.Backend)
}

// An Option adjusts a run of the suite.
type Option func(*config)

// ClearError gives the suite a way to forget the error recorded by the
// backend under test, as only the backend's own package can (for the CPU
// backend, in a test file of package cpu: func(b nn.Backend) {
// b.(*Backend).err = nil }). The error tests need it: they make every op
// fail on purpose, on one backend, and after each failure check that
// nothing was written. Without it those tests fail, saying so.
func ClearError(f func(b nn.Backend)) Option {
	return func(c *config) { c.clearErr = f }
}

// configure applies opts.
func configure(opts []Option) *config {
	c := &config{}
	for _, o := range opts {
		o(c)
	}
	return c
}

// RunAgainstReference runs the whole suite on b: every case against the
// float64 reference backend with the reference tolerances, then the
// contract tests (which need [ClearError]). b must be empty of errors
// and is left so, with nothing of the suite's still allocated.
func RunAgainstReference(t *testing.T, b nn.Backend, opts ...Option) {
	run(t, b, ref.New(), false, configure(opts))
}

// RunAgainst runs the whole suite on b with want, a float32 backend that
// already conforms (normally the CPU backend), as the expected side: every
// case on both with the same inputs, compared with the parity tolerances
// (bit-exact where both follow one documented float32 formula, 1–2 ulp for
// float64 sums and math-library functions, rtol = atol = 1e-3 for matrix
// products, rtol 1e-5 and atol 1e-6 for losses), then the contract tests on
// b (which need [ClearError]). For the CUDA backend, from a test file of
// package gpu:
//
//	func TestConformance(t *testing.T) {
//		c := cpu.New()
//		defer c.Close()
//		backendtest.RunAgainst(t, testBackend(t), c,
//			backendtest.ClearError(func(b nn.Backend) { b.(*Backend).err = nil }))
//	}
//
// Each op is a subtest (t.Run("Ops/MatMul", …)); -run selects them.
func RunAgainst(t *testing.T, b, want nn.Backend, opts ...Option) {
	run(t, b, want, true, configure(opts))
}

// run is RunAgainstReference and RunAgainst.
func run(t *testing.T, b, want nn.Backend, pair bool, cfg *config) {
	cs := cases()
	t.Run("Ops", func(t *testing.T) {
		var ops []string
		byOp := map[string][]*testCase{}
		for _, c := range cs {
			if byOp[c.op] == nil {
				ops = append(ops, c.op)
			}
			byOp[c.op] = append(byOp[c.op], c)
		}
		for _, op := range ops {
			t.Run(op, func(t *testing.T) {
				worst, worstCase := 0.0, ""
				defer func() {
					if worstCase != "" {
						t.Logf("largest error %.3g of the tolerance, in %s", worst, worstCase)
					}
				}()
				for _, c := range byOp[op] {
					w, err := runCase(c, b, want, pair)
					if w > worst {
						worst, worstCase = w, c.name
					}
					if err == nil {
						continue
					}
					t.Error(err)
					if want.Sync() != nil {
						t.Fatalf("the expected side %s has a recorded error; no later case can run", want.Name())
					}
					if b.Sync() != nil {
						if cfg.clearErr == nil {
							t.Fatalf("%s has a recorded error and no ClearError option was given; no later case can run", b.Name())
						}
						cfg.clearErr(b)
					}
				}
			})
		}
	})
	runContract(t, b, cfg, cs)
}
