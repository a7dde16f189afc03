package main

import (
	"fmt"

	"gan/nn/imageio"
	"gan/nn/mnist"
	"gan/nn/model"
)

// mnistPixels is the size of one image of the evaluation: the reference
// classifier reads 28×28 gray MNIST-style images.
const mnistPixels = mnist.Side * mnist.Side

// generatorOf returns m as a generator of images that PNG can hold (one
// gray or three colour channels) with the shape of its images, or an error
// naming what: the checkpoint or run the model came from.
func generatorOf(m model.Model, what string) (model.Generator, imageio.Shape, error) {
	g, ok := m.(model.Generator)
	if !ok {
		return nil, imageio.Shape{}, fmt.Errorf("%s: the %s model does not generate images", what, m.Config().Model)
	}
	var s imageio.Shape
	s.C, s.H, s.W = g.ImageShape()
	if err := s.Check(); err != nil {
		return nil, imageio.Shape{}, fmt.Errorf("%s: the %s model: %w", what, m.Config().Model, err)
	}
	return g, s, nil
}

// mnistGenerator is generatorOf for the evaluation, which needs 28×28
// gray images: the model itself, or for a generator of digits padded to
// 32×32 (imageio.Padded, dcgan --size 32) the central 28×28 of its images.
func mnistGenerator(m model.Model, what string) (model.Generator, error) {
	g, s, err := generatorOf(m, what)
	if err != nil {
		return nil, err
	}
	if v := mnistView(g, s); v != nil {
		return v, nil
	}
	return nil, fmt.Errorf("%s: the evaluation's classifier reads %s gray images (or the centre of %s ones), the %s model makes %s",
		what, imageio.MNIST, imageio.Padded, m.Config().Model, s)
}

// mnistView returns the generator g of images of shape s as the
// classifier sees it, or nil when it cannot read them.
func mnistView(g model.Generator, s imageio.Shape) model.Generator {
	switch s {
	case imageio.MNIST:
		return g
	case imageio.Padded:
		return &centreCrop{Generator: g}
	}
	return nil
}

// centreCrop is a generator of 32×32 padded digits seen through their
// central 28×28 pixels, the window the padding surrounds.
type centreCrop struct {
	model.Generator
	buf []float32 // the padded images of the last call
}

// ImageShape is MNIST's.
func (c *centreCrop) ImageShape() (int, int, int) {
	return imageio.MNIST.C, imageio.MNIST.H, imageio.MNIST.W
}

// Generate writes the centres of the generator's images for z to out.
func (c *centreCrop) Generate(z, out []float32) error {
	n := len(out) / imageio.MNIST.Size()
	if len(out) != n*imageio.MNIST.Size() {
		return fmt.Errorf("generate: %d outputs are not whole %s images", len(out), imageio.MNIST)
	}
	need := n * imageio.Padded.Size()
	if cap(c.buf) < need {
		c.buf = make([]float32, need)
	}
	buf := c.buf[:need]
	if err := c.Generator.Generate(z, buf); err != nil {
		return err
	}
	return imageio.CropCentre(buf, n, imageio.Padded, imageio.MNIST, out)
}
