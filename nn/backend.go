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

// Mat is a row-major float32 matrix: Rows×Cols elements starting at element
// Off of Buf, row i starting Stride·i elements after row 0. A Mat is a small
// value; views of the same buffer (row ranges, column blocks, reshapes,
// parameter slices) are made without allocating.
//
// Stride 0 means Cols: the rows follow each other and the matrix is
// contiguous. A larger stride comes from [Mat.ColView] (a block of columns,
// such as the mean half of a VAE encoder's output). Ops say whether they take
// strided matrices: MatMul, BatchMatMul, Copy, Axpby, Mul, ScaleRows and
// Map do; every other op records an error naming itself when given one.
type Mat struct {
	Rows, Cols int
	Off        int
	Stride     int
	Buf        Buffer
}

// Len is the number of elements, Rows×Cols.
func (m Mat) Len() int { return m.Rows * m.Cols }

// LD is the leading dimension: the distance in elements between the starts
// of two consecutive rows (Stride, or Cols when Stride is 0).
func (m Mat) LD() int {
	if m.Stride == 0 {
		return m.Cols
	}
	return m.Stride
}

// Contiguous reports whether the elements of m are one run of Len()
// consecutive elements of its buffer.
func (m Mat) Contiguous() bool { return m.Rows <= 1 || m.LD() == m.Cols }

// Extent is the number of buffer elements from m's first element to just
// past its last one: (Rows−1)·LD + Cols, or 0 for an empty matrix.
func (m Mat) Extent() int {
	if m.Rows == 0 || m.Cols == 0 {
		return 0
	}
	return (m.Rows-1)*m.LD() + m.Cols
}

// Empty reports whether m has no storage (the zero Mat).
func (m Mat) Empty() bool { return m.Buf == nil }

// RowView returns rows [i, i+n) of m.
func (m Mat) RowView(i, n int) Mat {
	if i < 0 || n < 0 || i+n > m.Rows {
		panic(fmt.Sprintf("nn: RowView(%d, %d) of a %dx%d matrix", i, n, m.Rows, m.Cols))
	}
	return Mat{Rows: n, Cols: m.Cols, Off: m.Off + i*m.LD(), Stride: m.Stride, Buf: m.Buf}
}

// ColView returns columns [j, j+n) of m: a strided view unless it spans
// every column.
func (m Mat) ColView(j, n int) Mat {
	if j < 0 || n < 0 || j+n > m.Cols {
		panic(fmt.Sprintf("nn: ColView(%d, %d) of a %dx%d matrix", j, n, m.Rows, m.Cols))
	}
	if n == m.Cols {
		return m
	}
	return Mat{Rows: m.Rows, Cols: n, Off: m.Off + j, Stride: m.LD(), Buf: m.Buf}
}

// Reshape returns the contiguous m seen as rows×cols; the element count
// must not change.
func (m Mat) Reshape(rows, cols int) Mat {
	if rows*cols != m.Len() || rows < 0 || cols < 0 || !m.Contiguous() {
		panic(fmt.Sprintf("nn: Reshape %v to %dx%d", m, rows, cols))
	}
	return Mat{Rows: rows, Cols: cols, Off: m.Off, Buf: m.Buf}
}

// Slice returns the rows×cols matrix stored at elements [off, off+rows*cols)
// of the contiguous m, which is taken as a flat array. Parameter arenas use
// it.
func (m Mat) Slice(off, rows, cols int) Mat {
	if off < 0 || rows < 0 || cols < 0 || off+rows*cols > m.Len() || !m.Contiguous() {
		panic(fmt.Sprintf("nn: Slice(%d, %dx%d) of %v", off, rows, cols, m))
	}
	return Mat{Rows: rows, Cols: cols, Off: m.Off + off, Buf: m.Buf}
}

// String describes the shape (and a stride other than the width), for
// error messages.
func (m Mat) String() string {
	if !m.Contiguous() {
		return fmt.Sprintf("%dx%d (row stride %d)", m.Rows, m.Cols, m.LD())
	}
	return fmt.Sprintf("%dx%d", m.Rows, m.Cols)
}

// ActKind names an elementwise activation.
type ActKind uint8

const (
	// ActNone is the identity.
	ActNone ActKind = iota
	// ActLeakyReLU is y = x if x > 0 else Slope·x, with Slope ≥ 0.
	ActLeakyReLU
	// ActTanh is y = tanh(x).
	ActTanh
	// ActSigmoid is y = 1/(1 + exp(−x)).
	ActSigmoid
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
	case ActSigmoid:
		return "sigmoid"
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
	// Free releases m's buffer; m and every view of it must not be used
	// again (ops given them record an error). m must be the matrix Alloc
	// returned, or a reshape of all of it: freeing a view (an offset,
	// fewer elements than the buffer, or a row stride) is an error,
	// recorded under Free's name, that frees nothing ([CheckFree]).
	// Freeing the zero Mat, or a matrix already freed, does nothing.
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
	// Activate computes y = act(x); y may be x. Tanh and Sigmoid are
	// computed in float64 and rounded once.
	Activate(y, x Mat, act Act)
	// ActBackward computes dx = dy ⊙ act'(·) from the activation's output y
	// (LeakyReLU: 1 where y > 0 else Slope; Tanh: 1 − y²; Sigmoid:
	// y·(1 − y)), each float32 operation rounded on its own. dx may be dy.
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

	// The elementwise ops below take strided matrices (see [Mat]); all
	// operands have the same shape unless said otherwise, and y may be any
	// of the inputs (in place). Each float32 operation is rounded on its
	// own, so every backend gives the same bits.

	// Axpby computes y = alpha·a + beta·b, that is fl(fl(alpha·a) +
	// fl(beta·b)): sums, differences and scalings of gradients. With
	// beta = 0, b is not read and may be the zero Mat (y = fl(alpha·a)).
	Axpby(y, a, b Mat, alpha, beta float32)
	// Mul computes the elementwise product y = a ⊙ b.
	Mul(y, a, b Mat)
	// ScaleRows computes y[i][j] = x[i][j]·s[i] for the m×n x and the m×1
	// column s (per-example weights, the backward of RowSumSq).
	ScaleRows(y, x, s Mat)
	// Map computes y = f(x) elementwise for one of the functions [MapFn]
	// names, with the constant c where f has one.
	Map(y, x Mat, f MapFn, c float32)
	// ScatterAddRows computes dst = beta·dst, then adds row i of src into
	// row idx[i] of dst for i = 0, 1, … src.Rows−1 in that order (so that
	// repeated indices sum in a fixed order): the backward of GatherRows
	// and of an embedding lookup. With beta = 0 the old dst is ignored.
	ScatterAddRows(dst, src Mat, idx []int32, beta float32)
	// LayerNorm normalises each row of the m×n x: y = (x − μ)·r·γ + β with
	// μ the row's mean and r = 1/√(σ² + eps) (σ² the biased variance), μ
	// and r computed in float64 and stored, rounded, in the m×1 mean and
	// rstd for the backward pass; y = fl(fl(fl(x − μ)·r)·γ) + β per element.
	// gamma and beta are 1×n rows, or zero Mats for none (PyTorch's
	// elementwise_affine=False). y may be x.
	LayerNorm(y, mean, rstd, x, gamma, beta Mat, eps float32)
	// LayerNormBackward computes, from dy and the forward pass's x, mean,
	// rstd and gamma (zero Mat: none), the input gradient dx = r·(g − mean(g)
	// − x̂·mean(g·x̂)) with g = dy·γ and x̂ = (x − μ)·r (row means in
	// float64), and, when dgamma and dbeta are not zero Mats, the 1×n
	// parameter gradients Σ_rows dy·x̂ and Σ_rows dy (summed in float64,
	// overwriting them).
	LayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma Mat)
	// BatchNorm normalises each column of the m×n x (n channels of m
	// values, channels-last): per column, μ = Σx/m and the biased variance
	// σ² = Σ(x − μ)²/m (two passes) in float64, stored rounded in the 1×n
	// mean and variance; then r = 1/√(σ̃² + eps), computed in float64 from
	// the stored float32 variance σ̃² and rounded once (so that the
	// backward pass, which gets the same variance, finds the same r), and
	// y = fl(fl(fl(fl(x − μ̃)·r)·γ) + β) per element with the stored μ̃.
	// gamma and beta are 1×n rows or zero Mats (none). y may be x. It is
	// PyTorch's BatchNorm1d/2d in training mode, without the running
	// statistics (the caller keeps those from mean and variance).
	BatchNorm(y, mean, variance, x, gamma, beta Mat, eps float32)
	// BatchNormBackward computes, from dy and the forward pass's x, mean,
	// variance, gamma (zero Mat: none) and eps, with r and x̂ = fl(fl(x −
	// μ̃)·r) as in BatchNorm and g = fl(dy·γ) (dy without gamma), the input
	// gradient dx = float32(r·((g − a) − x̂·c)) per element, where per
	// column a = Σg/m and c = Σg·x̂/m in float64; and, when dgamma and dbeta
	// are not zero Mats, the 1×n parameter gradients Σ dy·x̂ and Σ dy over
	// each column (float64, overwriting them). dx may be dy.
	BatchNormBackward(dx, dgamma, dbeta, dy, x, mean, variance, gamma Mat, eps float32)

	// BatchMatMul computes C_i = op(A_i)·op(B_i) + beta·C_i for the
	// batch·heads blocks i = (s, h) of its operands, as MatMul does for
	// each (same transposes, same beta rule). Each operand X (C, A and B
	// alike) is cut into batch row blocks and heads column blocks of equal
	// size: block (s, h) is rows [s·R, (s+1)·R) and columns [h·W, (h+1)·W)
	// of X, with R = X.Rows/batch and W = X.Cols/heads, which must divide
	// evenly. With heads = 1 it is a plain batch of matrices stacked by
	// rows; with heads > 1 the heads of multi-head attention stay column
	// blocks of one matrix, as a Linear layer leaves them: for queries and
	// keys that are (batch·T)×(heads·d) column views of one projection,
	// scores (batch·T)×(heads·T) = BatchMatMul(Q, K, batch, heads, false,
	// true), and the output (batch·T)×(heads·d) = BatchMatMul(P, V, …)
	// needs no transposes or copies. Operands may be strided.
	BatchMatMul(c, a, b Mat, batch, heads int, transA, transB bool, beta float32)
	// CausalSoftmax computes, for the t×t blocks of the (batch·t)×(heads·t)
	// x, the row softmax of scale·x under a causal mask: row i of a block
	// keeps its columns j ≤ i, y = exp(z_j − m)/Σ_{k≤i} exp(z_k − m) with
	// z = scale·x and m the row's largest kept z, all in float64 and
	// rounded once, and writes exactly 0 to the masked columns j > i,
	// whose x is never read (so NaN or ±Inf there cannot leak). scale is
	// positive and finite (1/√d for attention). y may be x.
	CausalSoftmax(y, x Mat, t int, scale float32)
	// CausalSoftmaxBackward computes, from the forward output y and the
	// gradient dy, dx = scale·y ⊙ (dy − Σ_{k≤i} y_k·dy_k) in each kept row
	// segment (the dot product in float64, dx computed in float64 and
	// rounded once) and exactly 0 in the masked columns, where dy and y are
	// not read. dx may be dy.
	CausalSoftmaxBackward(dx, dy, y Mat, t int, scale float32)
	// GELU computes y = x·Φ(x), Φ the standard normal CDF (PyTorch's
	// default, exact GELU 0.5·x·(1 + erf(x/√2))), in float32 by the
	// algorithm of cpu/gelu.go (Φ from the normal tail, without the
	// cancellation of 1 + erf for negative x), which every backend follows
	// operation by operation: within 8 float32 ulps of the exact value;
	// GELU(x) = x for x ≥ 14.5, −0 for x ≤ −14.5. y may be x.
	GELU(y, x Mat)
	// GELUBackward computes dx = dy·(Φ(x) + x·φ(x)) from the forward
	// input x, φ the standard normal density, by the same algorithm:
	// the derivative within 8 ulps plus 2⁻²³ (1 for x ≥ 14.5, 0 for
	// x ≤ −14.5), then the product with dy. dx may be dy.
	GELUBackward(dx, dy, x Mat)
	// GELUAndGrad computes y = GELU(x) and d = GELU′(x) = Φ(x) + x·φ(x)
	// in one pass, with GELU's and GELUBackward's bits: d is
	// GELUBackward's derivative before the product with dy, so Mul(dx,
	// dy, d) gives GELUBackward's dx. A training step keeps d for the
	// backward pass instead of computing the derivative again. y or d
	// may be x (not each other).
	GELUAndGrad(y, d, x Mat)

	// Im2Col gathers the patches of a 2-D convolution: cols is
	// (N·OH·OW)×(C·T), T = g.KernelTaps() (KH·KW unless g.Taps cuts it),
	// row (n, oy, ox) holding image elements (n, c, oy·SH − PH + ky,
	// ox·SW − PW + kx) for the kernel positions t = ky·KW + kx < T, or 0
	// where that lies in the padding; img is laid out as g.Layout says,
	// and so are the columns: (c, t) for NCHW, PyTorch's weight order
	// (c, ky, kx), and (t, c) for NHWC, each pixel's channels contiguous,
	// so that the gather is a copy of C values per kernel position.
	// Conv2d is cols·Wᵀ with W's columns in the same order (the graph
	// permutes PyTorch's weights for NHWC). Contiguous operands only.
	Im2Col(cols, img Mat, g ConvGeom)
	// Col2Im is Im2Col's adjoint: each image element gets the float32 sum
	// s of the cols entries Im2Col would copy it to, added from 0 in
	// ascending (ky, kx) order (a gather, so every backend sums in the same
	// order), img = s, or fl(fl(beta·img) + s) when beta ≠ 0. It is
	// Conv2d's input gradient and ConvTranspose2d's forward. With beta = 0
	// the old img is ignored (NaNs in it do not propagate).
	Col2Im(img, cols Mat, g ConvGeom, beta float32)
}

// Fused is implemented by a backend that runs some sequences of Backend
// ops in one pass over memory. The compiled graph uses it where the backend
// offers it (nn/graph's fusion pass); each method's results are the
// sequence's, bit for bit, and take the same operands, so a backend
// without it computes the same values op by op. The conformance suite
// (nn/backendtest) checks the equality for every backend that implements
// it.
type Fused interface {
	// MatMulBiasAct is MatMul(c, a, b, transA, transB, 0) followed by
	// BiasAct(c, bias, act): a layer's product finished with its bias and
	// activation while it is still in cache.
	MatMulBiasAct(c, a, b Mat, transA, transB bool, bias Mat, act Act)
	// AxpbyAct is Axpby(y, a, b, alpha, beta) followed by Activate(z, y,
	// act): a residual sum and the activation that the next layer reads.
	AxpbyAct(y, a, b Mat, alpha, beta float32, z Mat, act Act)
	// AxpbyActBackward is ActBackward(d, dy, ya, act) followed by
	// Axpby(y, a, d, alpha, beta) without storing d, then, unless db is
	// the zero Mat, ColSum(db, y, 0): a gradient added to the one already
	// accumulated for a residual sum, and that sum's bias gradient (the
	// graph fuses only where nothing else reads d).
	AxpbyActBackward(y, a Mat, alpha, beta float32, dy, ya Mat, act Act, db Mat)
	// ActBackwardColSum is ActBackward(dx, dy, y, act) followed by
	// ColSum(db, dx, 0): the input and bias gradients of a BiasAct.
	ActBackwardColSum(dx, db, dy, y Mat, act Act)
}

// ConvGeom is the geometry of a 2-D convolution's patches: N images of C
// channels and H×W pixels, a KH×KW kernel moved with strides SH, SW over
// the image padded by PH, PW zeros on each side, giving an OH×OW grid of
// patches with OH = (H + 2·PH − KH)/SH + 1 (rounded down), OW likewise.
// OH and OW may also be smaller: the grid is then cropped at the bottom
// and right, the patches past it not formed (a causal convolution pads PH
// rows on top and none below this way, without a padded copy of the
// images).
// A ConvTranspose2d's output is the "image" of the convolution that is its
// adjoint, and its input the grid (output_padding only adds image rows and
// columns that no patch reaches).
type ConvGeom struct {
	N, C, H, W     int
	KH, KW, SH, SW int
	PH, PW         int
	OH, OW         int
	// Layout is how img holds the images.
	Layout ImageLayout
	// Taps, if not 0, keeps only the first Taps kernel positions in
	// raster order (t = ky·KW + kx < Taps): the kernel of a raster-causal
	// mask (PixelCNN's) without its masked tail, whose products would all
	// be by zero weights.
	Taps int
}

// KernelTaps is the number of kernel positions that form patches: Taps,
// or KH·KW when Taps is 0.
func (g ConvGeom) KernelTaps() int {
	if g.Taps == 0 {
		return g.KH * g.KW
	}
	return g.Taps
}

// ImageLayout is the memory layout of a batch of images.
type ImageLayout uint8

const (
	// NHWC is channels-last: an (N·H·W)×C matrix, one row per pixel (the
	// layout convolution layers compute in: a Conv2d's output cols·Wᵀ is
	// already in it, and per-channel statistics are column sums).
	NHWC ImageLayout = iota
	// NCHW is PyTorch's layout: an N×(C·H·W) matrix, one row per image,
	// channel-major (the layout of datasets, Linear layers and images).
	// Im2Col and Col2Im with a 1×1 kernel convert between the two.
	NCHW
)

// String names the layout.
func (l ImageLayout) String() string {
	if l == NCHW {
		return "NCHW"
	}
	return "NHWC"
}

// ConvOut is the size of a convolution's output along one axis: (in +
// 2·pad − k)/stride + 1, or an error when that is not positive.
func ConvOut(in, k, stride, pad int) (int, error) {
	if in < 1 || k < 1 || stride < 1 || pad < 0 {
		return 0, fmt.Errorf("convolution of size %d with kernel %d, stride %d, padding %d: sizes must be positive", in, k, stride, pad)
	}
	if in+2*pad < k {
		return 0, fmt.Errorf("kernel %d larger than the padded input %d+2·%d", k, in, pad)
	}
	return (in+2*pad-k)/stride + 1, nil
}

// ImageShape is the matrix shape of the images in g's layout.
func (g ConvGeom) ImageShape() (rows, cols int) {
	if g.Layout == NCHW {
		return g.N, g.C * g.H * g.W
	}
	return g.N * g.H * g.W, g.C
}

// ColsShape is the matrix shape of g's patches.
func (g ConvGeom) ColsShape() (rows, cols int) { return g.N * g.OH * g.OW, g.C * g.KernelTaps() }

// WholeImage says whether g's one patch per image is the whole
// channels-last image: a kernel the image's size, no padding, a 1×1 grid
// (DCGAN's last convolution and its generator's first transposed one).
// Row n of the patch matrix then holds image n's (y, x, c) in order: the
// patch matrix is the image matrix itself, and the graph uses it as is
// instead of calling Im2Col or Col2Im. (Col2Im would add each entry to 0,
// turning −0 into +0; using the matrix as is keeps −0, which compares
// equal.)
func (g ConvGeom) WholeImage() bool {
	return g.Layout == NHWC && g.OH == 1 && g.OW == 1 && g.KH == g.H && g.KW == g.W && g.PH == 0 && g.PW == 0 &&
		g.KernelTaps() == g.KH*g.KW
}

// String describes the geometry.
func (g ConvGeom) String() string {
	s := fmt.Sprintf("%d×%d×%dx%d %v, kernel %dx%d, stride %dx%d, padding %dx%d, grid %dx%d",
		g.N, g.C, g.H, g.W, g.Layout, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.OH, g.OW)
	if g.Taps != 0 {
		s += fmt.Sprintf(", first %d taps", g.Taps)
	}
	return s
}

// MapFn names an elementwise function of [Backend.Map].
type MapFn uint8

const (
	// MapScale is y = c·x.
	MapScale MapFn = iota
	// MapAddConst is y = x + c.
	MapAddConst
	// MapSquare is y = x·x.
	MapSquare
	// MapSqrt is y = √x (IEEE square root, correctly rounded).
	MapSqrt
	// MapRecip is y = 1/x (IEEE division, correctly rounded).
	MapRecip
	// MapExp is y = exp(x), computed in float64 and rounded once.
	MapExp
	// MapLog is y = ln(x), computed in float64 and rounded once.
	MapLog
	// NumMapFns is the number of functions; larger values are errors.
	NumMapFns
)

// String names the function.
func (f MapFn) String() string {
	switch f {
	case MapScale:
		return "scale"
	case MapAddConst:
		return "add_const"
	case MapSquare:
		return "square"
	case MapSqrt:
		return "sqrt"
	case MapRecip:
		return "recip"
	case MapExp:
		return "exp"
	case MapLog:
		return "log"
	}
	return fmt.Sprintf("MapFn(%d)", uint8(f))
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
	case ActNone, ActTanh, ActSigmoid:
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

// CheckContiguous returns an error unless every matrix is contiguous. Ops
// that do not take strided matrices (see [Mat]) use it.
func CheckContiguous(ms ...Mat) error {
	for _, m := range ms {
		if !m.Contiguous() {
			return fmt.Errorf("matrix %v is strided; this op needs a contiguous one", m)
		}
	}
	return nil
}

// CheckMapFn returns an error unless f is a known [MapFn].
func CheckMapFn(f MapFn) error {
	if f >= NumMapFns {
		return fmt.Errorf("unknown map function %d", uint8(f))
	}
	return nil
}

// CheckScaleRows returns an error unless ScaleRows(y, x, s) is valid: y
// and x of one shape, s the m×1 column for the m×n x.
func CheckScaleRows(y, x, s Mat) error {
	if err := CheckSameShape("ScaleRows", y, x); err != nil {
		return err
	}
	if s.Rows != x.Rows || s.Cols != 1 {
		return fmt.Errorf("ScaleRows: scales %v for a %v matrix (want %dx1)", s, x, x.Rows)
	}
	return nil
}

// CheckScatterAddRows returns an error unless ScatterAddRows(dst, src,
// idx, …) is valid: equal widths, at least src.Rows indices, each in
// [0, dst.Rows).
func CheckScatterAddRows(dst, src Mat, idx []int32) error {
	if dst.Cols != src.Cols {
		return fmt.Errorf("rows of %v into rows of %v", src, dst)
	}
	if len(idx) < src.Rows {
		return fmt.Errorf("%d indices for %d rows", len(idx), src.Rows)
	}
	for i, r := range idx[:src.Rows] {
		if r < 0 || int(r) >= dst.Rows {
			return fmt.Errorf("index %d at position %d outside [0, %d)", r, i, dst.Rows)
		}
	}
	return nil
}

// CheckLayerNorm returns an error unless the operands of LayerNorm or
// LayerNormBackward fit the m×n x: mean and rstd m×1, gamma and beta (when
// not zero Mats) 1×n, eps positive.
func CheckLayerNorm(x, mean, rstd, gamma, beta Mat, eps float32) error {
	if x.Cols == 0 {
		return fmt.Errorf("rows of %v have no elements to normalise", x)
	}
	if mean.Rows != x.Rows || mean.Cols != 1 || rstd.Rows != x.Rows || rstd.Cols != 1 {
		return fmt.Errorf("mean %v and rstd %v for a %v x (want %dx1)", mean, rstd, x, x.Rows)
	}
	for _, p := range []Mat{gamma, beta} {
		if !p.Empty() && (p.Rows != 1 || p.Cols != x.Cols) {
			return fmt.Errorf("affine parameter %v for a %v x (want 1x%d)", p, x, x.Cols)
		}
	}
	if !(eps > 0) {
		return fmt.Errorf("eps %g: must be positive", eps)
	}
	return nil
}

// CheckBatchNorm returns an error unless the operands of BatchNorm fit the
// m×n x: at least one row, mean and variance 1×n, gamma and beta 1×n rows
// or zero Mats, and a positive eps.
func CheckBatchNorm(x, mean, variance, gamma, beta Mat, eps float32) error {
	if x.Rows == 0 {
		return fmt.Errorf("columns of %v have no elements to normalise", x)
	}
	if mean.Rows != 1 || mean.Cols != x.Cols || variance.Rows != 1 || variance.Cols != x.Cols {
		return fmt.Errorf("mean %v and variance %v for a %v x (want 1x%d)", mean, variance, x, x.Cols)
	}
	for _, p := range []Mat{gamma, beta} {
		if !p.Empty() && (p.Rows != 1 || p.Cols != x.Cols) {
			return fmt.Errorf("affine parameter %v for a %v x (want 1x%d)", p, x, x.Cols)
		}
	}
	if !(eps > 0) {
		return fmt.Errorf("eps %g: must be positive", eps)
	}
	return nil
}

// CheckBatchNormBackward returns an error unless the operands of
// BatchNormBackward fit the m×n x: dx and dy of its shape, and the rest as
// [CheckBatchNorm] and dgamma and dbeta 1×n rows or zero Mats.
func CheckBatchNormBackward(dx, dgamma, dbeta, dy, x, mean, variance, gamma Mat, eps float32) error {
	if err := shapesMatch(x, dx, dy); err != nil {
		return err
	}
	if err := CheckBatchNorm(x, mean, variance, gamma, Mat{}, eps); err != nil {
		return err
	}
	for _, p := range []Mat{dgamma, dbeta} {
		if !p.Empty() && (p.Rows != 1 || p.Cols != x.Cols) {
			return fmt.Errorf("parameter gradient %v for a %v x (want 1x%d)", p, x, x.Cols)
		}
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
