package seedgan

import (
	"fmt"

	"gan/nn"
	"gan/nn/graph"
	"gan/nn/layer"
)

// PaperZDim is the width of the noise of the WGAN-GP paper's MNIST
// generator ([NewConvGenerator]), the z of the --arch conv preset.
const PaperZDim = 128

// NewConvGenerator builds the generator of the WGAN-GP paper's own MNIST
// code (gan_mnist.py of improved_wgan_training, DIM = dims, 64 in the
// preset) in ps, as the PyTorch module
//
//	nn.Sequential(Linear(zDim, 4·4·4·DIM), ReLU(),          # model.0, model.1
//	    Unflatten(1, (4·DIM, 4, 4)),                         # model.2
//	    ConvTranspose2d(4·DIM, 2·DIM, 5, 2, 2, 1), ReLU(),   # model.3: 4×4 → 8×8
//	    Crop2d(7, 7),                                        # model.5: output[:, :, :7, :7]
//	    ConvTranspose2d(2·DIM, DIM, 5, 2, 2, 1), ReLU(),     # model.6: 7×7 → 14×14
//	    ConvTranspose2d(DIM, 1, 5, 2, 2, 1), Tanh(),         # model.8: 14×14 → 28×28
//	    Flatten())                                           # model.10
//
// with no batch norm (the paper's wgan-gp mode has none in G either). The
// paper ends in a sigmoid for pixels in [0, 1]; our data are in [−1, 1], so
// the last activation is Tanh, as in the seed generator.
//
// The paper's deconvolutions are TensorFlow's conv2d_transpose with
// "SAME" padding and stride 2, whose output is exactly twice the input.
// PyTorch's size is (H−1)·2 − 2p + 5 + op; 2H needs op − 2p + 3 = 0, so
// padding 2 and output_padding 1 (4→8, 7→14, 14→28; with op = 0 the sizes
// would be 7, 13, 27). The sizes are TensorFlow's; the alignment differs by
// one pixel: TensorFlow pads the adjoint convolution by 1 before and 2
// after, PyTorch's symmetric padding 2 pads 2 before (output padding adds
// the missing row after), so its output is TensorFlow's shifted down and
// right by one pixel for the same kernel, which learning absorbs. The
// crop, which PyTorch writes as slicing in forward, is the module model.5
// here ([Crop2d]), so the indices of the later layers are those of the
// Sequential above.
//
// The crop's row indices must be set in each program compiled from a graph
// the generator was applied in: call the returned Crop2d's SetIndices after
// graph.Compile.
func NewConvGenerator(ps *nn.ParamSet, dims, zDim int) (*layer.Sequential, *Crop2d) {
	s := layer.NewSequential(ps, "model",
		layer.Linear(zDim, 4*4*4*dims), layer.ReLU(),
		layer.Unflatten(4*dims, 4, 4),
		layer.ConvTranspose2d(4*dims, 2*dims, 5, 2, 2, 1, true), layer.ReLU(),
		layer.Flatten(), // placeholder of model.5, replaced by the crop below (neither has parameters)
		layer.ConvTranspose2d(2*dims, dims, 5, 2, 2, 1, true), layer.ReLU(),
		layer.ConvTranspose2d(dims, 1, 5, 2, 2, 1, true), layer.Tanh(),
		layer.Flatten(),
	)
	crop := &Crop2d{H: 7, W: 7}
	s.Layers[5] = crop
	return s, crop
}

// Crop2d keeps the top-left H×W pixels of every channel of a batch of
// images, PyTorch's x[:, :, :H, :W]. It is graph code: channels-last
// images are the (N·H·W)×C matrix of their pixels, and the crop keeps the
// rows of the pixels inside the window, a graph.GatherRows whose gradient
// (a scatter-add into the uncropped rows, zero in the cropped-off ones)
// the graph differentiates. The indices of each use are fixed by the
// image size, so they are set once per compiled program ([Crop2d.SetIndices]),
// and persist across runs.
type Crop2d struct {
	H, W int

	// pending are the indices of the uses built since the last
	// SetIndices, with their values.
	pending []cropIndex
}

type cropIndex struct {
	ix   *graph.Index
	vals []int32
}

// Init does nothing: the crop has no parameters.
func (c *Crop2d) Init(nn.Backend, uint64) {}

// Forward crops the [N C H W] images x to [N C c.H c.W].
func (c *Crop2d) Forward(ctx *layer.Ctx, x *graph.Node) *graph.Node {
	im, err := graph.ImageOf(x)
	if err != nil {
		ctx.G.Errorf("crop2d", "%v", err)
		return x
	}
	y, out := c.ForwardImage(ctx, x, im)
	y, _ = ctx.G.ToNCHW(y, out)
	return y
}

// ForwardImage crops the images x (laid out as im says); the result is
// channels-last.
func (c *Crop2d) ForwardImage(ctx *layer.Ctx, x *graph.Node, im graph.Image) (*graph.Node, graph.Image) {
	if c.H < 1 || c.W < 1 || c.H > im.H || c.W > im.W {
		ctx.G.Errorf("crop2d", "a %dx%d window of images %v", c.H, c.W, im)
		return x, im
	}
	x, im = ctx.G.ToNHWC(x, im)
	vals := CropRows(im.N, im.H, im.W, c.H, c.W)
	ix := ctx.G.Indices(fmt.Sprintf("crop %dx%d of %dx%d", c.H, c.W, im.H, im.W), len(vals))
	c.pending = append(c.pending, cropIndex{ix, vals})
	return ctx.G.GatherRows(x, ix), graph.Image{N: im.N, C: im.C, H: c.H, W: c.W, Layout: nn.NHWC}
}

// SetIndices sets, in the program p, the rows of every use of the crop
// built since the last call (those of the graph p was compiled from), and
// forgets them. Call it once after each graph.Compile (also after a failed
// one, with a nil p, to forget the uses of that graph).
func (c *Crop2d) SetIndices(p *graph.Program) error {
	defer func() { c.pending = c.pending[:0] }()
	if p == nil {
		return nil
	}
	for _, u := range c.pending {
		if err := p.SetIndices(u.ix, u.vals); err != nil {
			return fmt.Errorf("crop2d: %w", err)
		}
	}
	return nil
}

// CropRows returns the rows of the (n·h·w)×C channels-last matrix of n
// h×w images that hold the pixels of their top-left ch×cw windows, in the
// order of the cropped images' own rows.
func CropRows(n, h, w, ch, cw int) []int32 {
	rows := make([]int32, 0, n*ch*cw)
	for i := range n {
		for y := range ch {
			for x := range cw {
				rows = append(rows, int32((i*h+y)*w+x))
			}
		}
	}
	return rows
}
