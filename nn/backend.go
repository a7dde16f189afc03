// Package nn holds everything that is the same on every device: the [Backend]
// interface that the cpu and gpu packages implement, the matrices they own,
// the shared counter-based random generator, the layers, losses, optimiser,
// models, checkpoints and the training loop.
//
// A backend owns float32 row-major matrices. Every op writes into an output
// that the caller allocated beforehand, so a training step allocates nothing.
// Ops do not return errors: a backend records the first error (a shape
// mismatch or a device fault) together with the name of the op that caused
// it, and reports it from [Backend.Sync]. This lets a GPU queue a whole step
// without waiting after every op, while the CPU reports exactly the same way.
package nn

import (
	"fmt"
	"math"
)

// Buffer is a block of float32 storage owned by a backend. Only the backend
// that allocated it may look inside; everyone else handles it through [Mat].
type Buffer interface {
	// Len is the number of float32 elements in the buffer.
	Len() int
}

// Mat is a row-major float32 matrix: Rows×Cols contiguous elements starting
// at element Off of Buf. A Mat is a small value; views of the same buffer
// (row ranges, reshapes, parameter slices) are made without allocating.
type Mat struct {
	Rows, Cols int
	Off        int
	Buf        Buffer
}

// Len is the number of elements, Rows×Cols.
func (m Mat) Len() int { return m.Rows * m.Cols }

// Empty reports whether m has no storage (the zero Mat).
func (m Mat) Empty() bool { return m.Buf == nil }

// RowView returns rows [i, i+n) of m.
func (m Mat) RowView(i, n int) Mat {
	if i < 0 || n < 0 || i+n > m.Rows {
		panic(fmt.Sprintf("nn: RowView(%d, %d) of a %dx%d matrix", i, n, m.Rows, m.Cols))
	}
	return Mat{Rows: n, Cols: m.Cols, Off: m.Off + i*m.Cols, Buf: m.Buf}
}

// Reshape returns m seen as rows×cols; the element count must not change.
func (m Mat) Reshape(rows, cols int) Mat {
	if rows*cols != m.Len() || rows < 0 || cols < 0 {
		panic(fmt.Sprintf("nn: Reshape %dx%d to %dx%d", m.Rows, m.Cols, rows, cols))
	}
	return Mat{Rows: rows, Cols: cols, Off: m.Off, Buf: m.Buf}
}

// Slice returns the rows×cols matrix stored at elements [off, off+rows*cols)
// of m, which is taken as a flat array. Parameter arenas use it.
func (m Mat) Slice(off, rows, cols int) Mat {
	if off < 0 || rows < 0 || cols < 0 || off+rows*cols > m.Len() {
		panic(fmt.Sprintf("nn: Slice(%d, %dx%d) of %d elements", off, rows, cols, m.Len()))
	}
	return Mat{Rows: rows, Cols: cols, Off: m.Off + off, Buf: m.Buf}
}

// String describes the shape, for error messages.
func (m Mat) String() string { return fmt.Sprintf("%dx%d", m.Rows, m.Cols) }

// ActKind names an elementwise activation.
type ActKind uint8

const (
	// ActNone is the identity.
	ActNone ActKind = iota
	// ActLeakyReLU is y = x if x > 0 else Slope·x, with Slope ≥ 0.
	ActLeakyReLU
	// ActTanh is y = tanh(x).
	ActTanh
)

// Act is an activation and its parameter.
type Act struct {
	Kind  ActKind
	Slope float32 // negative slope of ActLeakyReLU; must be ≥ 0
}

// String names the activation as the CLI and checkpoints spell it.
func (a Act) String() string {
	switch a.Kind {
	case ActLeakyReLU:
		return fmt.Sprintf("leaky_relu(%g)", a.Slope)
	case ActTanh:
		return "tanh"
	}
	return "identity"
}

// AdamStep holds the hyper-parameters of one Adam update. Step counts from 1;
// the backend derives PyTorch's bias corrections from it.
type AdamStep struct {
	LR, Beta1, Beta2, Eps float32
	Step                  int
}

// AdamConstants are the per-step constants of the Adam update, computed
// once in float64 and rounded to float32, that every backend's per-element
// formula uses (see the CPU backend's Adam for the formula):
//
//	bc1 = 1 − β1^step,  bc2 = 1 − β2^step          (math.Pow)
//	W1 = 1 − β1,  W2 = 1 − β2,  StepSize = lr / bc1,  BC2Sqrt = √bc2
type AdamConstants struct {
	W1, Beta2, W2, StepSize, BC2Sqrt, Eps float32
}

// Constants returns the step's constants, or an error when Step < 1.
func (s AdamStep) Constants() (AdamConstants, error) {
	if s.Step < 1 {
		return AdamConstants{}, fmt.Errorf("step %d, want ≥ 1", s.Step)
	}
	bc1 := 1 - math.Pow(float64(s.Beta1), float64(s.Step))
	bc2 := 1 - math.Pow(float64(s.Beta2), float64(s.Step))
	return AdamConstants{
		W1: float32(1 - float64(s.Beta1)), Beta2: s.Beta2, W2: float32(1 - float64(s.Beta2)),
		StepSize: float32(float64(s.LR) / bc1), BC2Sqrt: float32(math.Sqrt(bc2)), Eps: s.Eps,
	}, nil
}

// Backend is one device's implementation of every op the models need.
//
// Shapes: matrices are row-major; "n×k" below means Rows=n, Cols=k. An op's
// output must not overlap its inputs unless the op says it works in place.
// The first failure is recorded with the op's name and returned by Sync;
// after a failure, later ops do nothing.
type Backend interface {
	// Name is "cpu" or "cuda".
	Name() string
	// Alloc returns a zeroed rows×cols matrix.
	Alloc(rows, cols int) (Mat, error)
	// Free releases m's buffer; m and its views must not be used again.
	Free(m Mat)
	// Upload copies len(src) = dst.Len() host values into dst.
	Upload(dst Mat, src []float32) error
	// Download waits for pending work and copies src into dst (len = src.Len()).
	Download(dst []float32, src Mat) error
	// Sync waits for all queued ops and returns the first recorded error.
	Sync() error
	// Close releases everything the backend holds; it must not be used after.
	Close() error

	// MatMul computes C = op(A)·op(B) + beta·C, where op(X) is X or Xᵀ as
	// transA/transB say. op(A) is m×k, op(B) is k×n, C is m×n. With beta = 0,
	// C's old contents are ignored (NaNs in it do not propagate).
	MatMul(c, a, b Mat, transA, transB bool, beta float32)
	// AddBias adds the 1×n row b to every row of the m×n matrix y, in place.
	AddBias(y, b Mat)
	// BiasAct computes y = act(y + b) in place (b is a 1×n row, or the zero
	// Mat for no bias): the fused bias add and activation of a Linear layer.
	BiasAct(y, b Mat, act Act)
	// ColSum computes db = beta·db + Σ_rows dy: the bias gradient. dy is m×n,
	// db is 1×n.
	ColSum(db, dy Mat, beta float32)
	// RowSumSq computes dst[i] = Σ_j x[i][j]² for each row of the m×n x,
	// into the m×1 dst, summed in float64 and rounded to float32: squared
	// L2 norms of rows (a gradient arena folded into rows, or the
	// per-example input gradients of a gradient penalty).
	RowSumSq(dst, x Mat)
	// Activate computes y = act(x); y may be x.
	Activate(y, x Mat, act Act)
	// ActBackward computes dx = dy ⊙ act'(·) from the activation's output y
	// (LeakyReLU: 1 where y > 0 else Slope; Tanh: 1 − y²). dx may be dy.
	ActBackward(dx, dy, y Mat, act Act)
	// Dropout draws a keep mask with probability 1−p from the shared
	// generator (element i of x uses Uniform(key, i)), stores 1/(1−p) or 0 in
	// mask and computes y = x ⊙ mask, as PyTorch's training-mode dropout.
	Dropout(y, mask, x Mat, p float32, key RandKey)
	// DropoutBackward computes dx = dy ⊙ mask.
	DropoutBackward(dx, dy, mask Mat)
	// SigmoidBCE is the fused sigmoid + binary cross-entropy on logits x with
	// per-element targets t, all the same shape. It writes the gradient
	// grad = scale·(σ(x) − t) and, into the 1×2 stats, the mean loss over all
	// elements, computed in the stable form max(x,0) − x·t + log1p(exp(−|x|)),
	// and the mean σ(x).
	SigmoidBCE(grad, stats, x, t Mat, scale float32)
	// Softmax computes, for each row, y = softmax(x) (max-subtracted).
	Softmax(y, x Mat)
	// SoftmaxCE is the fused row softmax + cross-entropy on logits x (m×n)
	// with target distributions t (m×n, rows summing to 1, e.g. one-hot). It
	// writes grad = scale·(softmax(x) − t) and, into the 1×2 stats, the mean
	// over rows of −Σ t·log softmax(x) and the fraction of rows whose arg max
	// of x equals the arg max of t (accuracy; first index wins ties).
	SoftmaxCE(grad, stats, x, t Mat, scale float32)
	// Adam applies one PyTorch Adam update (bias-corrected, no weight decay)
	// to the flat parameters p with gradients g and moments m, v (same shape).
	Adam(p, g, m, v Mat, s AdamStep)
	// Copy copies src into dst (same element count).
	Copy(dst, src Mat)
	// Fill sets every element of dst to value.
	Fill(dst Mat, value float32)
	// RandUniform fills dst with lo + (hi−lo)·Uniform(key, i).
	RandUniform(dst Mat, lo, hi float32, key RandKey)
	// RandNormal fills dst with mean + std·Normal(key, i).
	RandNormal(dst Mat, mean, std float32, key RandKey)
	// GatherRows copies row idx[i] of src into row i of dst, for i < dst.Rows.
	GatherRows(dst, src Mat, idx []int32)
}

// CheckSameShape returns an error naming op when the matrices' shapes differ.
// Backends use it to validate their arguments.
func CheckSameShape(op string, ms ...Mat) error {
	for _, m := range ms[1:] {
		if m.Rows != ms[0].Rows || m.Cols != ms[0].Cols {
			return fmt.Errorf("%s: shape %v does not match %v", op, m, ms[0])
		}
	}
	return nil
}

// CheckAct returns an error unless act is a known activation with a
// non-negative slope. Backends use it to validate their arguments.
func CheckAct(act Act) error {
	switch act.Kind {
	case ActNone, ActTanh:
		return nil
	case ActLeakyReLU:
		if act.Slope >= 0 { // false for NaN too
			return nil
		}
		return fmt.Errorf("leaky_relu slope %g is negative", act.Slope)
	}
	return fmt.Errorf("unknown activation kind %d", act.Kind)
}

// CheckGatherRows returns an error unless GatherRows(dst, src, idx) is
// valid: equal widths, at least dst.Rows indices, each in [0, src.Rows).
// Backends check every index before copying anything.
func CheckGatherRows(dst, src Mat, idx []int32) error {
	if dst.Cols != src.Cols {
		return fmt.Errorf("rows of %v into rows of %v", src, dst)
	}
	if len(idx) < dst.Rows {
		return fmt.Errorf("%d indices for %d rows", len(idx), dst.Rows)
	}
	for i, r := range idx[:dst.Rows] {
		if r < 0 || int(r) >= src.Rows {
			return fmt.Errorf("index %d at position %d outside [0, %d)", r, i, src.Rows)
		}
	}
	return nil
}

// CheckBias returns an error unless bias is a 1×n row for the m×n y.
func CheckBias(bias, y Mat) error {
	if bias.Rows != 1 || bias.Cols != y.Cols {
		return fmt.Errorf("bias %v for a %v matrix (want 1x%d)", bias, y, y.Cols)
	}
	return nil
}

// CheckColSum returns an error unless db is the 1×n row ColSum(db, dy, …)
// needs for the m×n dy.
func CheckColSum(db, dy Mat) error {
	if db.Rows != 1 || db.Cols != dy.Cols {
		return fmt.Errorf("db %v for a %v dy (want 1x%d)", db, dy, dy.Cols)
	}
	return nil
}

// CheckRowSumSq returns an error unless dst is the m×1 column
// RowSumSq(dst, x) needs for the m×n x.
func CheckRowSumSq(dst, x Mat) error {
	if dst.Rows != x.Rows || dst.Cols != 1 {
		return fmt.Errorf("dst %v for a %v x (want %dx1)", dst, x, x.Rows)
	}
	return nil
}

// CheckStats returns an error unless stats holds the two numbers a fused
// loss writes.
func CheckStats(stats Mat) error {
	if stats.Len() != 2 {
		return fmt.Errorf("stats is %v, want 1x2", stats)
	}
	return nil
}

// MatMulDims checks the shapes of a MatMul and returns m, n, k.
func MatMulDims(c, a, b Mat, transA, transB bool) (m, n, k int, err error) {
	m, k = a.Rows, a.Cols
	if transA {
		m, k = k, m
	}
	kb, n := b.Rows, b.Cols
	if transB {
		kb, n = n, kb
	}
	if k != kb || c.Rows != m || c.Cols != n {
		return 0, 0, 0, fmt.Errorf("matmul: op(A) %dx%d · op(B) %dx%d into C %v", m, k, kb, n, c)
	}
	return m, n, k, nil
}
