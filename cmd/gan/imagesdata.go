package main

import (
	"fmt"
	"io"

	"gan/nn/imagefolder"
	"gan/nn/model"
)

// imagesDataset is the Config.Dataset of a run trained on gan train
// --images: the user's own pictures, which the MNIST classifier of the
// evaluation and the divergence watch's class check cannot read. The
// folder itself is not stored (it may move); a resumed run names it again.
const imagesDataset = "images"

// skippedNamed is the number of skipped pictures named in the notice.
const skippedNamed = 3

// checkShapeFlags returns a one-line error when --channels or --size was
// given (set) and the model m built from the configuration makes images
// of another shape: its family does not take them (the seed model makes
// 1×28×28 only) or took other values.
func checkShapeFlags(m model.Model, set map[string]bool, channels, size int) error {
	if !set["channels"] && !set["size"] {
		return nil
	}
	g, ok := m.(model.Generator)
	if !ok {
		return usagef("--channels/--size: the %s model does not generate images", m.Config().Model)
	}
	c, h, w := g.ImageShape()
	if set["channels"] && channels != c {
		return usagef("--channels %d: the %s model makes %d×%d×%d images (it takes no other channel count)", channels, m.Config().Model, c, h, w)
	}
	if set["size"] && (size != h || size != w) {
		return usagef("--size %d: the %s model makes %d×%d×%d images (it takes no other size)", size, m.Config().Model, c, h, w)
	}
	return nil
}

// checkResumeSource returns a one-line error when a run resumed from path
// (empty: a fresh run, always consistent) asks for another kind of data
// than it was trained on (dataset, its config's): pictures of --images
// (given as images) against an MNIST-style set.
func checkResumeSource(path, dataset, images string) error {
	switch {
	case path == "" || (dataset == imagesDataset) == (images != ""):
		return nil
	case images == "":
		return usagef("--resume %s: the run was trained on --images pictures; give --images DIR again", path)
	default:
		return usagef("--images: --resume %s was trained on %s, not on pictures (a resumed run keeps its data)", path, dataset)
	}
}

// loadImages reads the pictures in dir (gan train --images) at the shape
// of m's images, reporting skipped files on log.
func loadImages(dir string, m model.Model, log io.Writer) (*model.Dataset, error) {
	g, ok := m.(model.Generator)
	if !ok {
		return nil, usagef("--images: the %s model does not generate images", m.Config().Model)
	}
	c, h, w := g.ImageShape()
	if h != w || (c != 1 && c != 3) {
		return nil, usagef("--images: the %s model makes %d×%d×%d images; pictures are loaded as square gray or RGB images", m.Config().Model, c, h, w)
	}
	data, rep, err := imagefolder.Load(dir, imagefolder.Options{Channels: c, Size: h})
	if err != nil {
		return nil, fmt.Errorf("--images: %w", err)
	}
	if s := rep.SkipSummary(skippedNamed); s != "" {
		fmt.Fprintf(log, "--images: %s\n", s)
	}
	return data, nil
}
