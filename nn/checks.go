package nn

import (
	"fmt"
	"math"
)

// More argument checks that every backend makes in the same way. Unlike
// [CheckSameShape], the errors below do not name the op: the backend adds
// its name and the op's ("cpu: Copy: …").

// CheckLayout returns an error unless m is a well-formed matrix lying
// within a buffer of n elements: non-negative sizes, offset and stride, a
// row stride of 0 or at least Cols when m has more than one row, and its
// elements, [Mat.Extent] of them from Off on, inside the buffer.
func CheckLayout(m Mat, n int) error {
	if m.Rows < 0 || m.Cols < 0 || m.Stride < 0 || (m.Rows > 1 && m.Stride != 0 && m.Stride < m.Cols) {
		return fmt.Errorf("matrix %dx%d with row stride %d is malformed", m.Rows, m.Cols, m.Stride)
	}
	inside := m.Off >= 0 && m.Off <= n
	if inside && m.Rows > 0 && m.Cols > 0 {
		// (Rows−1)·LD + Cols ≤ n − Off, without overflow.
		room := n - m.Off
		inside = m.Cols <= room && (m.Rows == 1 || m.Rows-1 <= (room-m.Cols)/m.LD())
	}
	if !inside {
		return fmt.Errorf("matrix %v at offset %d outside its buffer of %d elements", m, m.Off, n)
	}
	return nil
}

// CheckFree returns an error unless m, a matrix of a live buffer of n
// elements, covers that whole buffer the way the matrix Alloc returned
// does (offset 0, contiguous, n elements; a reshape of it is fine), so
// that Free(m) may release the buffer.
func CheckFree(m Mat, n int) error {
	if m.Off != 0 || m.Extent() != n || !m.Contiguous() {
		return fmt.Errorf("matrix %v at offset %d is a view of a buffer of %d elements; free the matrix Alloc returned",
			m, m.Off, n)
	}
	return nil
}

// CheckCopy returns an error unless Copy(dst, src) is valid: the same
// number of elements when both are contiguous (a copy may reshape), the
// same shape when either is strided.
func CheckCopy(dst, src Mat) error {
	if dst.Contiguous() && src.Contiguous() {
		if dst.Len() != src.Len() {
			return fmt.Errorf("%v (%d elements) into %v (%d elements)", src, src.Len(), dst, dst.Len())
		}
		return nil
	}
	return shapesMatch(dst, src)
}

// CheckDropout returns an error unless p is a dropout probability in [0, 1].
func CheckDropout(p float32) error {
	if !(p >= 0 && p <= 1) {
		return fmt.Errorf("probability %g outside [0, 1]", p)
	}
	return nil
}

// CheckAxpby returns an error unless Axpby(y, a, b, …, beta) is valid: a
// of y's shape, and b too unless beta is 0 and b is the zero Mat.
func CheckAxpby(y, a, b Mat, beta float32) error {
	if err := shapesMatch(y, a); err != nil {
		return err
	}
	if beta == 0 && b.Empty() {
		return nil
	}
	return shapesMatch(y, b)
}

// CheckLoss returns an error unless the operands of SigmoidBCE or
// SoftmaxCE fit: grad, x and t of one shape and the 1×2 stats.
func CheckLoss(grad, stats, x, t Mat) error {
	if err := shapesMatch(grad, x, t); err != nil {
		return err
	}
	return CheckStats(stats)
}

// CheckSoftmaxCE returns an error unless the operands of SoftmaxCE fit:
// those of [CheckLoss], and logits with at least one column (a row's
// softmax needs an element).
func CheckSoftmaxCE(grad, stats, x, t Mat) error {
	if err := CheckLoss(grad, stats, x, t); err != nil {
		return err
	}
	if x.Cols == 0 {
		return fmt.Errorf("logits %v have no columns", x)
	}
	return nil
}

// CheckLayerNormBackward returns an error unless the operands of
// LayerNormBackward fit the m×n x: dx and dy of its shape, mean and rstd
// m×1, gamma, dgamma and dbeta 1×n rows or zero Mats.
func CheckLayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma Mat) error {
	if err := shapesMatch(x, dx, dy); err != nil {
		return err
	}
	if err := CheckLayerNorm(x, mean, rstd, gamma, Mat{}, 1); err != nil {
		return err
	}
	for _, p := range []Mat{dgamma, dbeta} {
		if !p.Empty() && (p.Rows != 1 || p.Cols != x.Cols) {
			return fmt.Errorf("parameter gradient %v for a %v x (want 1x%d)", p, x, x.Cols)
		}
	}
	return nil
}

// shapesMatch returns an error when the matrices' shapes differ.
func shapesMatch(ms ...Mat) error {
	for _, m := range ms[1:] {
		if m.Rows != ms[0].Rows || m.Cols != ms[0].Cols {
			return fmt.Errorf("shape %v does not match %v", m, ms[0])
		}
	}
	return nil
}

// CheckConv returns an error unless g is a valid geometry (positive sizes,
// OH and OW at least 1 and at most what the kernel, stride and padding
// give, Taps from 0 to KH·KW, a known layout) and
// img and cols are contiguous matrices of its image and patch shapes.
func CheckConv(img, cols Mat, g ConvGeom) error {
	if g.N < 0 || g.C < 1 || g.Layout > NCHW {
		return fmt.Errorf("bad geometry %v", g)
	}
	oh, err := ConvOut(g.H, g.KH, g.SH, g.PH)
	if err != nil {
		return fmt.Errorf("geometry %v: %w", g, err)
	}
	ow, err := ConvOut(g.W, g.KW, g.SW, g.PW)
	if err != nil {
		return fmt.Errorf("geometry %v: %w", g, err)
	}
	if g.OH < 1 || g.OH > oh || g.OW < 1 || g.OW > ow {
		return fmt.Errorf("geometry %v: the grid is at most %dx%d", g, oh, ow)
	}
	if g.Taps < 0 || g.Taps > g.KH*g.KW {
		return fmt.Errorf("geometry %v: taps %d outside 0 … %d", g, g.Taps, g.KH*g.KW)
	}
	if r, c := g.ImageShape(); img.Rows != r || img.Cols != c {
		return fmt.Errorf("images %v, geometry %v needs %dx%d", img, g, r, c)
	}
	if r, c := g.ColsShape(); cols.Rows != r || cols.Cols != c {
		return fmt.Errorf("patches %v, geometry %v needs %dx%d", cols, g, r, c)
	}
	if !img.Contiguous() || !cols.Contiguous() {
		return fmt.Errorf("strided operand (images %v, patches %v)", img, cols)
	}
	return nil
}

// BatchMatMulDims checks the operands of a BatchMatMul (batch and heads
// at least 1, each operand's rows divisible by batch and columns by heads,
// and the blocks' shapes those of a MatMul) and returns the blocks' m, n
// and k.
func BatchMatMulDims(c, a, b Mat, batch, heads int, transA, transB bool) (m, n, k int, err error) {
	if batch < 1 || heads < 1 {
		return 0, 0, 0, fmt.Errorf("batch %d and heads %d: both must be at least 1", batch, heads)
	}
	var blocks [3]Mat
	for i, x := range []Mat{c, a, b} {
		if x.Rows%batch != 0 || x.Cols%heads != 0 {
			return 0, 0, 0, fmt.Errorf("operand %v does not split into %d×%d blocks", x, batch, heads)
		}
		blocks[i] = Mat{Rows: x.Rows / batch, Cols: x.Cols / heads}
	}
	m, n, k, err = MatMulDims(blocks[0], blocks[1], blocks[2], transA, transB)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("blocks of %v, %v and %v: %w", c, a, b, err)
	}
	return m, n, k, nil
}

// CheckCausalSoftmax returns an error unless x splits into t×t blocks (t
// at least 1, rows and columns multiples of t) and scale is positive and
// finite.
func CheckCausalSoftmax(x Mat, t int, scale float32) error {
	if t < 1 || x.Rows%t != 0 || x.Cols%t != 0 {
		return fmt.Errorf("%v does not split into %d×%d blocks", x, t, t)
	}
	if !(scale > 0 && scale <= math.MaxFloat32) {
		return fmt.Errorf("scale %g: must be positive and finite", scale)
	}
	return nil
}
