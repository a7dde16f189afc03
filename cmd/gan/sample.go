package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gan/nn"
	"gan/nn/imageio"
)

func runSample(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sample", stderr)
	ckpt := fs.String("checkpoint", "", "checkpoint written by gan train (required)")
	n := fs.Int("n", 64, "number of images")
	out := fs.String("out", "samples", "directory for the PNG images")
	grid := fs.String("grid", "", "also write all images as one grid PNG to this file")
	seed := fs.Uint64("seed", 1, "seed of the noise")
	device := fs.String("device", "cpu", "cpu, cuda or auto")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *ckpt == "" {
		return usagef("--checkpoint is required")
	}
	if *n < 1 || *n > 1_000_000 {
		return usagef("--n %d: must be between 1 and 1000000", *n)
	}
	b, err := openDevice(*device)
	if err != nil {
		return err
	}
	defer b.Close()
	g, err := nn.LoadGAN(b, *ckpt)
	if err != nil {
		return err
	}
	defer g.Free()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", *out, err)
	}

	pix := make([]float32, *n*nn.ImageDim)
	// Images come in chunks of 64 whatever the checkpoint's batch size, so
	// image i is the same for a given seed: its noise is row i%64 of stream
	// (PurposeSample, i/64).
	const chunk = 64
	for lo := 0; lo < *n; lo += chunk {
		m := min(chunk, *n-lo)
		z := g.Noise(m, nn.RandKey{Seed: *seed, Stream: nn.StreamID(nn.PurposeSample, uint64(lo/chunk))})
		if err := b.Download(pix[lo*nn.ImageDim:(lo+m)*nn.ImageDim], g.Generate(z)); err != nil {
			return fmt.Errorf("generating: %w", err)
		}
	}
	for i := 0; i < *n; i++ {
		path := filepath.Join(*out, fmt.Sprintf("sample_%05d.png", i))
		if err := imageio.WritePNG(path, imageio.Image(pix[i*nn.ImageDim:(i+1)*nn.ImageDim])); err != nil {
			return err
		}
	}
	if *grid != "" {
		cols := 8
		if *n > 64 {
			cols = 10
		}
		if err := imageio.WritePNG(*grid, imageio.Grid(pix, *n, cols, 2)); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote %d images to %s\n", *n, *out)
	return nil
}
