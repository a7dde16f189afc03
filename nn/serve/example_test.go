package serve_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"gan/cpu"
	"gan/nn/model"
	"gan/nn/models/seedgan" // links the seed family into the binary
	"gan/nn/serve"
)

// Load a checkpoint on the CPU and generate from it: images of a seed as
// image.Image values (the images of gan sample --seed 7), and the pixel
// values of three images into a buffer of the caller's.
func Example() {
	dir, err := os.MkdirTemp("", "serve-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "checkpoint.safetensors")
	writeCheckpoint(path) // gan train writes one in its run directory

	b := cpu.New()
	defer b.Close()
	g, err := serve.Load(b, path, "", serve.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close() // g is safe for concurrent use until then

	ctx := context.Background()
	imgs, err := g.Images(ctx, serve.Request{N: 16, Seed: 7})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s, step %d: %d images of %v\n", g.Info().Family, g.Info().Step, len(imgs), imgs[0].Bounds().Size())

	pix := make([]float32, 3*g.Shape().Size())
	if err := g.Sample(ctx, serve.Request{N: 3, Seed: 7, Truncation: 0.7}, pix); err != nil {
		log.Fatal(err)
	}
	lo, hi := pix[0], pix[0]
	for _, v := range pix {
		lo, hi = min(lo, v), max(hi, v)
	}
	fmt.Println("values within [-1, 1]:", lo >= -1 && hi <= 1)
	// Output:
	// seed-mlp-gan, step 0: 16 images of (28,28)
	// values within [-1, 1]: true
}

// writeCheckpoint saves a freshly initialised seed GAN at path.
func writeCheckpoint(path string) {
	b := cpu.New()
	defer b.Close()
	m, err := seedgan.New(b, seedgan.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer m.Free()
	if err := model.Save(m, path); err != nil {
		log.Fatal(err)
	}
}
