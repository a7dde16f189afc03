package nn

// The seed model (the PyTorch MNIST GAN this project reproduces).
const (
	// ZDim is the width of the generator's noise input.
	ZDim = 100
	// ImageDim is the width of a flattened 28×28 image.
	ImageDim = 28 * 28
	// LeakySlope is the negative slope of every LeakyReLU of the seed model.
	LeakySlope = 0.2
	// DropoutP is the drop probability of the discriminator's dropout layers.
	DropoutP = 0.3
)

// Init stream bases keep the two models' initial weights independent.
const (
	initStreamG = 0
	initStreamD = 1000
)

// NewGenerator builds the seed generator, an MLP 100-256-512-1024-784 with
// LeakyReLU(0.2) between layers and Tanh at the output, for batches of up
// to maxRows rows.
func NewGenerator(maxRows int) *Sequential {
	return NewSequential("G", ZDim, maxRows, initStreamG,
		NewLinear(ZDim, 256), NewLeakyReLU(LeakySlope),
		NewLinear(256, 512), NewLeakyReLU(LeakySlope),
		NewLinear(512, 1024), NewLeakyReLU(LeakySlope),
		NewLinear(1024, ImageDim), NewTanh(),
	)
}

// NewDiscriminator builds the seed discriminator, an MLP 784-1024-512-256-1
// with LeakyReLU(0.2), Dropout(0.3) after the first two hidden layers, and
// one logit out (the sigmoid is fused into the loss), for batches of up to
// maxRows rows.
func NewDiscriminator(maxRows int) *Sequential {
	return NewSequential("D", ImageDim, maxRows, initStreamD,
		NewLinear(ImageDim, 1024), NewLeakyReLU(LeakySlope), NewDropout(DropoutP),
		NewLinear(1024, 512), NewLeakyReLU(LeakySlope), NewDropout(DropoutP),
		NewLinear(512, 256), NewLeakyReLU(LeakySlope),
		NewLinear(256, 1),
	)
}
