package graph_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"gan/nn"
	"gan/nn/graph"
	"gan/nn/ref"
)

// convRef is PyTorch's conv2d in float64 loops: x [N C H W], w [O C KH KW],
// b [O] (nil for none); the result is [N O OH OW].
func convRef(x []float64, n, c, h, w int, wt []float64, o, kh, kw int, b []float64, s, p int) ([]float64, int, int) {
	oh, ow := (h+2*p-kh)/s+1, (w+2*p-kw)/s+1
	y := make([]float64, n*o*oh*ow)
	for in := range n {
		for oc := range o {
			for oy := range oh {
				for ox := range ow {
					sum := 0.0
					if b != nil {
						sum = b[oc]
					}
					for ic := range c {
						for ky := range kh {
							for kx := range kw {
								iy, ix := oy*s-p+ky, ox*s-p+kx
								if iy < 0 || iy >= h || ix < 0 || ix >= w {
									continue
								}
								sum += x[((in*c+ic)*h+iy)*w+ix] * wt[((oc*c+ic)*kh+ky)*kw+kx]
							}
						}
					}
					y[((in*o+oc)*oh+oy)*ow+ox] = sum
				}
			}
		}
	}
	return y, oh, ow
}

// convTRef is PyTorch's conv_transpose2d in float64 loops: x [N C H W],
// w [C O KH KW]; the result is [N O OH OW] with OH = (H−1)s − 2p + k + op.
func convTRef(x []float64, n, c, h, w int, wt []float64, o, kh, kw int, b []float64, s, p, op int) ([]float64, int, int) {
	oh, ow := (h-1)*s-2*p+kh+op, (w-1)*s-2*p+kw+op
	y := make([]float64, n*o*oh*ow)
	for in := range n {
		for oc := range o {
			for i := range oh * ow {
				if b != nil {
					y[(in*o+oc)*oh*ow+i] = b[oc]
				}
			}
		}
		for ic := range c {
			for iy := range h {
				for ix := range w {
					for oc := range o {
						for ky := range kh {
							for kx := range kw {
								oy, ox := iy*s-p+ky, ix*s-p+kx
								if oy < 0 || oy >= oh || ox < 0 || ox >= ow {
									continue
								}
								y[((in*o+oc)*oh+oy)*ow+ox] += x[((in*c+ic)*h+iy)*w+ix] * wt[((ic*o+oc)*kh+ky)*kw+kx]
							}
						}
					}
				}
			}
		}
	}
	return y, oh, ow
}

func randVec(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.Float64()*2 - 1
	}
	return v
}

// runRef compiles out on the reference backend with the inputs bound to
// the values, runs it and returns out's values.
func runRef(t *testing.T, g *graph.Graph, out *graph.Node, inputs map[*graph.Node][]float64) []float64 {
	t.Helper()
	b := ref.New()
	g.Output(out)
	prog, err := g.Compile(b)
	require.NoError(t, err)
	defer prog.Free()
	for in, v := range inputs {
		r, c := in.Shape().Mat()
		m, err := b.Alloc(r, c)
		require.NoError(t, err)
		defer b.Free(m)
		require.NoError(t, b.Upload64(m, v))
		require.NoError(t, prog.Bind(in, m))
	}
	require.NoError(t, prog.Run(1, 0))
	return download64(t, b, prog.Mat(out))
}

// TestConvolutionsArePyTorchs checks Conv2d and ConvTranspose2d, from
// NCHW and from channels-last inputs, against direct float64 loops of
// PyTorch's definitions (weight layouts [out in kh kw] and [in out kh kw]),
// over strides, paddings, output paddings and non-square images.
func TestConvolutionsArePyTorchs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		n, c, h, w, o, k, s, p, op int
	}{
		{2, 1, 7, 5, 3, 3, 1, 1, 0}, {2, 3, 8, 8, 4, 4, 2, 1, 0}, {1, 2, 5, 6, 2, 5, 2, 2, 1},
		{3, 4, 1, 1, 2, 4, 1, 0, 0}, {2, 2, 4, 4, 3, 1, 1, 0, 0}, {1, 3, 9, 7, 2, 3, 3, 0, 2},
	} {
		for _, layout := range []nn.ImageLayout{nn.NCHW, nn.NHWC} {
			name := fmt.Sprintf("%+v/%v", tc, layout)
			x := randVec(rng, tc.n*tc.c*tc.h*tc.w)
			b := randVec(rng, tc.o)
			im := graph.Image{N: tc.n, C: tc.c, H: tc.h, W: tc.w, Layout: nn.NCHW}

			if tc.op == 0 && tc.h+2*tc.p >= tc.k && tc.w+2*tc.p >= tc.k {
				wt := randVec(rng, tc.o*tc.c*tc.k*tc.k)
				want, oh, ow := convRef(x, tc.n, tc.c, tc.h, tc.w, wt, tc.o, tc.k, tc.k, b, tc.s, tc.p)
				g := graph.New()
				xn := g.Input("x", im.Shape())
				wn := g.Input("w", graph.Shape{tc.o, tc.c, tc.k, tc.k})
				bn := g.Input("b", graph.Shape{tc.o})
				in, inIm := xn, im
				if layout == nn.NHWC {
					in, inIm = g.ToNHWC(xn, im)
				}
				y, out := g.Conv2d(in, inIm, wn, bn, tc.s, tc.s, tc.p, tc.p, nn.Act{})
				require.Equal(t, graph.Image{N: tc.n, C: tc.o, H: oh, W: ow, Layout: nn.NHWC}, out, name)
				y, _ = g.ToNCHW(y, out)
				got := runRef(t, g, y, map[*graph.Node][]float64{xn: x, wn: wt, bn: b})
				requireClose64(t, want, got, "conv2d "+name)
			}

			wt := randVec(rng, tc.c*tc.o*tc.k*tc.k)
			want, oh, ow := convTRef(x, tc.n, tc.c, tc.h, tc.w, wt, tc.o, tc.k, tc.k, b, tc.s, tc.p, tc.op)
			if oh < 1 || ow < 1 {
				continue
			}
			g := graph.New()
			xn := g.Input("x", im.Shape())
			wn := g.Input("w", graph.Shape{tc.c, tc.o, tc.k, tc.k})
			bn := g.Input("b", graph.Shape{tc.o})
			in, inIm := xn, im
			if layout == nn.NHWC {
				in, inIm = g.ToNHWC(xn, im)
			}
			y, out := g.ConvTranspose2d(in, inIm, wn, bn, tc.s, tc.s, tc.p, tc.p, tc.op, tc.op, nn.Act{})
			require.NoError(t, g.Err(), name)
			require.Equal(t, graph.Image{N: tc.n, C: tc.o, H: oh, W: ow, Layout: nn.NHWC}, out, name)
			y, _ = g.ToNCHW(y, out)
			got := runRef(t, g, y, map[*graph.Node][]float64{xn: x, wn: wt, bn: b})
			requireClose64(t, want, got, "conv_transpose2d "+name)
		}
	}
}

// requireClose64 compares float64 results that differ only by summation
// order.
func requireClose64(t *testing.T, want, got []float64, name string) {
	t.Helper()
	require.Len(t, got, len(want), name)
	for i := range want {
		if !(math.Abs(want[i]-got[i]) <= 1e-12*(1+math.Abs(want[i]))) {
			require.Failf(t, "differs", "%s[%d]: got %v, want %v", name, i, got[i], want[i])
		}
	}
}

// TestConvolutionShapeErrors: bad geometries are compile errors naming the
// op and the shapes.
func TestConvolutionShapeErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(g *graph.Graph)
		want  string
	}{
		{"channels", func(g *graph.Graph) {
			im := graph.Image{N: 2, C: 3, H: 8, W: 8, Layout: nn.NCHW}
			y, _ := g.Conv2d(g.Input("x", im.Shape()), im, g.Input("w", graph.Shape{4, 2, 3, 3}), nil, 1, 1, 0, 0, nn.Act{})
			g.Output(y)
		}, "conv2d: weight 4x2x3x3 for 3 input channels"},
		{"kernel", func(g *graph.Graph) {
			im := graph.Image{N: 2, C: 1, H: 3, W: 3, Layout: nn.NCHW}
			y, _ := g.Conv2d(g.Input("x", im.Shape()), im, g.Input("w", graph.Shape{4, 1, 5, 5}), nil, 1, 1, 0, 0, nn.Act{})
			g.Output(y)
		}, "im2col: images 2×1×3x3 NCHW: kernel 5 larger than the padded input 3+2·0"},
		{"images", func(g *graph.Graph) {
			im := graph.Image{N: 2, C: 1, H: 4, W: 4, Layout: nn.NCHW}
			y, _ := g.Conv2d(g.Input("x", graph.Shape{2, 15}), im, g.Input("w", graph.Shape{4, 1, 3, 3}), nil, 1, 1, 0, 0, nn.Act{})
			g.Output(y)
		}, "im2col: input 2x15 does not hold the images 2×1×4x4 NCHW"},
		{"output padding", func(g *graph.Graph) {
			im := graph.Image{N: 2, C: 1, H: 4, W: 4, Layout: nn.NCHW}
			y, _ := g.ConvTranspose2d(g.Input("x", im.Shape()), im, g.Input("w", graph.Shape{1, 2, 4, 4}), nil, 2, 2, 1, 1, 2, 2, nn.Act{})
			g.Output(y)
		}, "conv_transpose2d: images 2×1×4x4 NCHW, kernel 4x4, stride 2x2, padding 1x1, output padding 2x2"},
	} {
		g := graph.New()
		tc.build(g)
		_, err := g.Compile(ref.New())
		require.Error(t, err, tc.name)
		require.Contains(t, err.Error(), tc.want, tc.name)
	}
}

// TestBatchNormIsPyTorchs checks the training and evaluation modes of
// BatchNorm against PyTorch's definitions in float64: batch statistics and
// the running-statistic updates (momentum 0.1, unbiased running variance,
// the batch count), then the normalisation by the running statistics.
func TestBatchNormIsPyTorchs(t *testing.T) {
	const m, c = 6, 3
	b := ref.New()
	ps := nn.NewParamSet(0)
	mean := ps.AddBuffer("bn.running_mean", c)
	vr := ps.AddBuffer("bn.running_var", c)
	count := ps.AddBuffer("bn.num_batches_tracked")
	gamma := ps.Add("bn.weight", c)
	beta := ps.Add("bn.bias", c)
	require.NoError(t, ps.Alloc(b))
	defer ps.Free(b)
	rng := rand.New(rand.NewPCG(5, 6))
	gv, bv := randVec(rng, c), randVec(rng, c)
	require.NoError(t, b.Upload64(gamma.Value, gv))
	require.NoError(t, b.Upload64(beta.Value, bv))
	require.NoError(t, b.Upload64(mean.Value, []float64{0, 0, 0}))
	require.NoError(t, b.Upload64(vr.Value, []float64{1, 1, 1}))
	st := graph.BatchNormStats{Mean: mean, Var: vr, Count: count, Momentum: 0.1, Eps: 1e-5}
	x := randVec(rng, m*c)

	for _, train := range []bool{true, false} {
		g := graph.New()
		xn := g.Input("x", graph.Shape{m, c})
		y := g.BatchNorm(xn, g.Param(gamma), g.Param(beta), st, train)
		got := runRef(t, g, y, map[*graph.Node][]float64{xn: x})
		runMean, runVar := download64(t, b, mean.Value), download64(t, b, vr.Value)
		for j := range c {
			mu, v := 0.0, 0.0
			for i := range m {
				mu += x[i*c+j] / m
			}
			for i := range m {
				v += (x[i*c+j] - mu) * (x[i*c+j] - mu) / m
			}
			if train {
				// The momentum and M/(M−1) are float32 constants (up to 6e-8 relative off).
				require.InDelta(t, 0.9*0+0.1*mu, runMean[j], 1e-7)
				require.InDelta(t, 0.9*1+0.1*v*m/(m-1), runVar[j], 1e-7)
			} else {
				mu, v = runMean[j], runVar[j]
			}
			for i := range m {
				want := (x[i*c+j]-mu)/math.Sqrt(v+float64(float32(1e-5)))*gv[j] + bv[j]
				require.InDelta(t, want, got[i*c+j], 1e-7, "train=%v [%d,%d]", train, i, j) // 1/M, eps: float32 constants
			}
		}
		if train {
			require.Equal(t, []float64{1}, download64(t, b, count.Value))
		}
	}
}

// TestCroppedConvolutionIsTheMaskedOne checks Conv2dCropped, from NCHW
// and channels-last inputs: a grid cropped to the image's size with the
// kernel cut to its first taps is PyTorch's convolution with the weights
// of the other taps zero (a raster mask's), the rows past the crop
// dropped.
func TestCroppedConvolutionIsTheMaskedOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ n, c, h, w, o, k, taps int }{
		{2, 1, 7, 5, 3, 3, 4}, {2, 3, 6, 6, 4, 3, 5}, {1, 2, 8, 7, 2, 7, 24}, {2, 2, 4, 4, 3, 3, 1},
	} {
		for _, layout := range []nn.ImageLayout{nn.NCHW, nn.NHWC} {
			name := fmt.Sprintf("%+v/%v", tc, layout)
			ctr := tc.k / 2
			x := randVec(rng, tc.n*tc.c*tc.h*tc.w)
			b := randVec(rng, tc.o)
			wt := randVec(rng, tc.o*tc.c*tc.k*tc.k)
			// The reference: the full kernel with every tap past taps (in
			// the kernel's top ctr+1 rows, raster order) zeroed.
			masked := slices.Clone(wt)
			for i := range masked {
				if ky, kx := i/tc.k%tc.k, i%tc.k; ky > ctr || ky*tc.k+kx >= tc.taps {
					masked[i] = 0
				}
			}
			full, _, _ := convRef(x, tc.n, tc.c, tc.h, tc.w, masked, tc.o, tc.k, tc.k, b, 1, ctr)

			g := graph.New()
			im := graph.Image{N: tc.n, C: tc.c, H: tc.h, W: tc.w, Layout: nn.NCHW}
			xn := g.Input("x", im.Shape())
			wn := g.Input("w", graph.Shape{tc.o, tc.c, tc.k, tc.k})
			bn := g.Input("b", graph.Shape{tc.o})
			in, inIm := xn, im
			if layout == nn.NHWC {
				in, inIm = g.ToNHWC(xn, im)
			}
			// The top ctr+1 kernel rows, over the images padded by ctr
			// rows on top only.
			top := g.Reshape(g.Cols(g.Reshape(wn, graph.Shape{tc.o * tc.c, tc.k * tc.k}), 0, (ctr+1)*tc.k),
				graph.Shape{tc.o, tc.c, ctr + 1, tc.k})
			y, out := g.Conv2dCropped(in, inIm, top, bn, 1, 1, ctr, ctr, tc.h, tc.w, tc.taps, nn.Act{})
			require.NoError(t, g.Err(), name)
			require.Equal(t, graph.Image{N: tc.n, C: tc.o, H: tc.h, W: tc.w, Layout: nn.NHWC}, out, name)
			y, _ = g.ToNCHW(y, out)
			got := runRef(t, g, y, map[*graph.Node][]float64{xn: x, wn: wt, bn: b})
			requireClose64(t, full, got, "cropped conv2d "+name)
		}
	}
}
