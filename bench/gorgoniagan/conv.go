package gorgoniagan

import (
	"errors"
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ConvNet is a small convolutional network built in Gorgonia, the oracle of
// our Conv2d, BatchNorm2d and ConvTranspose2d (forward and gradients):
//
//	Conv2d(C→C1, K1, stride S1, padding P1, no bias)
//	BatchNorm2d(C1) in training mode (batch statistics; running statistics updated)
//	LeakyReLU(Slope)
//	Conv2d(C1→C2, K2, stride S2, padding P2, bias)
//	ConvTranspose2d(C2→C3, K3, stride S3, padding P3, output padding OP3, bias)
//
// and the loss Σ y·R for fixed weights R, so that every output element
// gets its own gradient. Everything is NCHW with PyTorch's weight layouts:
// Conv2d [out in k k], ConvTranspose2d [in out k k].
//
// Gorgonia (v0.9) has Conv2d (im2col and a product, NCHW, weight [out in kh
// kw], symmetric padding) and BatchNorm (PyTorch's conventions: the batch's
// biased variance normalises, eps inside the square root, running =
// momentum·batch + (1−momentum)·running with the unbiased variance) but no
// transposed convolution. The transposed convolution is therefore built by
// its textbook equivalence, independent of how ours computes it (a product
// and col2im): the input dilated by the stride (S3−1 zeros between pixels)
// and padded by K3−1−P3 on each side (plus OP3 at the bottom and right),
// then convolved with stride 1 by the kernel flipped in both spatial axes
// with its in and out axes swapped. The dilation and padding are a product
// with a constant 0/1 matrix, the flip a product with a permutation
// matrix: both exact in float64, and differentiable by Gorgonia's own
// rules.
type ConvNet struct {
	N, C, H, W          int // input images
	C1, K1, S1, P1      int
	C2, K2, S2, P2      int
	C3, K3, S3, P3, OP3 int
	Slope               float64 // LeakyReLU
	Momentum, Eps       float64 // BatchNorm2d (PyTorch: 0.1, 1e-5)
}

// ConvNetValues are the network's tensors, NCHW and PyTorch's layouts,
// flattened: the input X, the weights, the batch norm's γ (Gamma), β (Beta)
// and running statistics, and the loss weights R (the output's shape).
type ConvNetValues struct {
	X, W1, Gamma, Beta, W2, B2, W3, B3 []float64
	RunMean, RunVar                    []float64
	R                                  []float64
}

// ConvNetResult is one forward and backward pass: the output Y, the loss,
// the gradients of the loss (in Grads: X, W1, Gamma, Beta, W2, B2, W3, B3)
// and the running statistics after the pass (Grads.RunMean, Grads.RunVar).
type ConvNetResult struct {
	Y     []float64
	Loss  float64
	Grads ConvNetValues
}

// sizes returns the output size of each layer.
func (n ConvNet) sizes() (h1, w1, h2, w2, h3, w3 int) {
	h1, w1 = (n.H+2*n.P1-n.K1)/n.S1+1, (n.W+2*n.P1-n.K1)/n.S1+1
	h2, w2 = (h1+2*n.P2-n.K2)/n.S2+1, (w1+2*n.P2-n.K2)/n.S2+1
	h3, w3 = (h2-1)*n.S3-2*n.P3+n.K3+n.OP3, (w2-1)*n.S3-2*n.P3+n.K3+n.OP3
	return
}

// OutShape is the [N C3 H3 W3] shape of the output.
func (n ConvNet) OutShape() []int {
	_, _, _, _, h3, w3 := n.sizes()
	return []int{n.N, n.C3, h3, w3}
}

// dilation returns the (h·w)×(hd·wd) 0/1 matrix that places pixel (i, j) of
// an h×w image at (q + i·s, q + j·s) of an hd×wd one, q = k−1−p, hd =
// (h−1)·s + 1 + 2q + op: the transposed convolution's dilated, padded input.
func dilation(h, w, k, s, p, op int) (m []float64, hd, wd int) {
	q := k - 1 - p
	hd, wd = (h-1)*s+1+2*q+op, (w-1)*s+1+2*q+op
	m = make([]float64, h*w*hd*wd)
	for i := range h {
		for j := range w {
			m[(i*w+j)*hd*wd+(q+i*s)*wd+q+j*s] = 1
		}
	}
	return m, hd, wd
}

// flipSwap returns the n×n permutation matrix (n = ci·co·k·k) that maps the
// flattened ConvTranspose2d weight [ci co k k] to the Conv2d weight [co ci k
// k] of the equivalent convolution: w'[o][i][a][b] = w[i][o][k−1−a][k−1−b].
func flipSwap(ci, co, k int) []float64 {
	n := ci * co * k * k
	m := make([]float64, n*n)
	for i := range ci {
		for o := range co {
			for a := range k {
				for b := range k {
					src := ((i*co+o)*k+(k-1-a))*k + (k - 1 - b)
					dst := ((o*ci+i)*k+a)*k + b
					m[src*n+dst] = 1
				}
			}
		}
	}
	return m
}

// Grads64 runs the network forward in training mode and differentiates the
// loss, in float64, from the values v.
func (n ConvNet) Grads64(v ConvNetValues) (*ConvNetResult, error) {
	h1, w1, h2, w2, h3, w3 := n.sizes()
	if n.K3-1-n.P3 < 0 || h1 < 1 || w1 < 1 || h2 < 1 || w2 < 1 || h3 < 1 || w3 < 1 {
		return nil, fmt.Errorf("gorgoniagan: conv net %+v: bad geometry", n)
	}
	g := G.NewGraph()
	dt := tensor.Float64
	var errs []error
	node := func(name string, data []float64, shape ...int) *G.Node {
		size := 1
		for _, s := range shape {
			size *= s
		}
		if len(data) != size {
			errs = append(errs, fmt.Errorf("%s: %d values for shape %v", name, len(data), shape))
			data = make([]float64, size)
		}
		t := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float64(nil), data...)))
		return G.NewTensor(g, dt, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(t))
	}
	x := node("x", v.X, n.N, n.C, n.H, n.W)
	wt1 := node("w1", v.W1, n.C1, n.C, n.K1, n.K1)
	gamma := node("gamma", v.Gamma, 1, n.C1, 1, 1)
	beta := node("beta", v.Beta, 1, n.C1, 1, 1)
	wt2 := node("w2", v.W2, n.C2, n.C1, n.K2, n.K2)
	b2 := node("b2", v.B2, 1, n.C2, 1, 1)
	wt3 := node("w3", v.W3, n.C2, n.C3, n.K3, n.K3)
	b3 := node("b3", v.B3, 1, n.C3, 1, 1)
	dil, hd, wd := dilation(h2, w2, n.K3, n.S3, n.P3, n.OP3)
	dilN := node("dilation", dil, h2*w2, hd*wd)
	nw3 := n.C2 * n.C3 * n.K3 * n.K3
	permN := node("flip_swap", flipSwap(n.C2, n.C3, n.K3), nw3, nw3)
	r := node("r", v.R, n.N, n.C3, h3, w3)
	if len(v.RunMean) != n.C1 || len(v.RunVar) != n.C1 {
		errs = append(errs, fmt.Errorf("running statistics: %d and %d values for %d channels", len(v.RunMean), len(v.RunVar), n.C1))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("gorgoniagan: conv net: %w", err)
	}

	var bnOp *G.BatchNormOp
	var y, loss *G.Node
	var yV, lossV G.Value
	build := func() error {
		h, err := G.Conv2d(x, wt1, tensor.Shape{n.K1, n.K1}, []int{n.P1, n.P1}, []int{n.S1, n.S1}, nil)
		if err != nil {
			return fmt.Errorf("conv1: %w", err)
		}
		if h, _, _, bnOp, err = G.BatchNorm(h, gamma, beta, n.Momentum, n.Eps); err != nil {
			return fmt.Errorf("batch norm: %w", err)
		}
		if h, err = G.LeakyRelu(h, n.Slope); err != nil {
			return fmt.Errorf("leaky relu: %w", err)
		}
		if h, err = G.Conv2d(h, wt2, tensor.Shape{n.K2, n.K2}, []int{n.P2, n.P2}, []int{n.S2, n.S2}, nil); err != nil {
			return fmt.Errorf("conv2: %w", err)
		}
		if h, err = G.BroadcastAdd(h, b2, nil, []byte{0, 2, 3}); err != nil {
			return fmt.Errorf("conv2 bias: %w", err)
		}
		// The transposed convolution: dilate and pad, then a stride-1
		// convolution with the flipped, swapped kernel.
		if h, err = G.Reshape(h, tensor.Shape{n.N * n.C2, h2 * w2}); err != nil {
			return fmt.Errorf("conv_transpose: %w", err)
		}
		if h, err = G.Mul(h, dilN); err != nil {
			return fmt.Errorf("conv_transpose: dilation: %w", err)
		}
		if h, err = G.Reshape(h, tensor.Shape{n.N, n.C2, hd, wd}); err != nil {
			return fmt.Errorf("conv_transpose: %w", err)
		}
		wf, err := G.Reshape(wt3, tensor.Shape{1, nw3})
		if err != nil {
			return fmt.Errorf("conv_transpose weight: %w", err)
		}
		if wf, err = G.Mul(wf, permN); err != nil {
			return fmt.Errorf("conv_transpose weight: flip: %w", err)
		}
		if wf, err = G.Reshape(wf, tensor.Shape{n.C3, n.C2, n.K3, n.K3}); err != nil {
			return fmt.Errorf("conv_transpose weight: %w", err)
		}
		if h, err = G.Conv2d(h, wf, tensor.Shape{n.K3, n.K3}, []int{0, 0}, []int{1, 1}, nil); err != nil {
			return fmt.Errorf("conv_transpose: %w", err)
		}
		if y, err = G.BroadcastAdd(h, b3, nil, []byte{0, 2, 3}); err != nil {
			return fmt.Errorf("conv_transpose bias: %w", err)
		}
		prod, err := G.HadamardProd(y, r)
		if err != nil {
			return fmt.Errorf("loss: %w", err)
		}
		if loss, err = G.Sum(prod); err != nil {
			return fmt.Errorf("loss: %w", err)
		}
		G.Read(y, &yV)
		G.Read(loss, &lossV)
		if _, err = G.Grad(loss, x, wt1, gamma, beta, wt2, b2, wt3, b3); err != nil {
			return fmt.Errorf("grad: %w", err)
		}
		return nil
	}
	if err := build(); err != nil {
		return nil, fmt.Errorf("gorgoniagan: conv net: %w", err)
	}
	params := []*G.Node{x, wt1, gamma, beta, wt2, b2, wt3, b3}
	m := G.NewTapeMachine(g, G.BindDualValues(params...))
	defer m.Close()
	// The machine puts the batch norm in training mode, which resets its
	// running statistics (mean 0, variance 1): set the given ones after.
	mean := tensor.New(tensor.WithShape(n.C1), tensor.WithBacking(append([]float64(nil), v.RunMean...)))
	variance := tensor.New(tensor.WithShape(n.C1), tensor.WithBacking(append([]float64(nil), v.RunVar...)))
	if err := bnOp.SetStats(mean, variance); err != nil {
		return nil, fmt.Errorf("gorgoniagan: conv net: running statistics: %w", err)
	}
	if err := m.RunAll(); err != nil {
		return nil, fmt.Errorf("gorgoniagan: conv net: %w", err)
	}
	res := &ConvNetResult{}
	var err error
	if res.Y, err = getValue("y", yV); err != nil {
		return nil, fmt.Errorf("gorgoniagan: conv net: %w", err)
	}
	if res.Loss, err = scalar(lossV); err != nil {
		return nil, fmt.Errorf("gorgoniagan: conv net: %w", err)
	}
	grads := make([][]float64, len(params))
	for i, p := range params {
		raw, err := gradData(p)
		if err != nil {
			return nil, fmt.Errorf("gorgoniagan: conv net: %w", err)
		}
		if grads[i], err = toFloat64(p.Name(), raw); err != nil {
			return nil, fmt.Errorf("gorgoniagan: conv net: %w", err)
		}
	}
	gr := &res.Grads
	gr.X, gr.W1, gr.Gamma, gr.Beta, gr.W2, gr.B2, gr.W3, gr.B3 = grads[0], grads[1], grads[2], grads[3], grads[4], grads[5], grads[6], grads[7]
	rm, rv := bnOp.Stats()
	if gr.RunMean, err = toFloat64("running_mean", rm.Data()); err != nil {
		return nil, fmt.Errorf("gorgoniagan: conv net: %w", err)
	}
	if gr.RunVar, err = toFloat64("running_var", rv.Data()); err != nil {
		return nil, fmt.Errorf("gorgoniagan: conv net: %w", err)
	}
	return res, nil
}
