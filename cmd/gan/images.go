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
// gray images.
func mnistGenerator(m model.Model, what string) (model.Generator, error) {
	g, s, err := generatorOf(m, what)
	if err != nil {
		return nil, err
	}
	if s != imageio.MNIST {
		return nil, fmt.Errorf("%s: the evaluation's classifier reads %s gray images, the %s model makes %s", what, imageio.MNIST, m.Config().Model, s)
	}
	return g, nil
}
