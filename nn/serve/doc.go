// Package serve makes a trained generator usable without Python: a Go API
// that a service imports, and the HTTP server behind `gan serve`.
//
// # Go API
//
// [Load] reads a checkpoint of gan train or gan import (or a bare PyTorch
// state_dict, given its family) onto a backend and returns a [Generator]:
//
//	g, err := serve.Load(cpu.New(), "run/checkpoint.safetensors", "", serve.Options{})
//	imgs, err := g.Images(ctx, serve.Request{N: 16, Seed: 7}) // []image.Image
//	err = g.Sample(ctx, serve.Request{N: 16, Seed: 7}, pix)   // into pix, 16·C·H·W float32
//	err = g.Generate(ctx, z, nil, pix)                         // your own noise
//
// A Generator is safe for concurrent use: every call goes to one batcher
// goroutine, which runs the requests that arrive together as one forward
// pass. The images of seed S are those of "gan sample --seed S" (the noise
// is [Noise]); truncation resamples the noise beyond ±t (see [Noise]).
// A model that takes class labels implements [ConditionalGenerator].
//
// # HTTP
//
// [Server] serves a Generator: POST /v1/generate, GET /v1/model,
// POST /v1/reload, GET /healthz and the explorer page at /. Every request's
// cost is bounded ([Limits]); a bad request gets a 4xx answer whose JSON
// names the field at fault: {"error": "n: 0: must be between 1 and 256",
// "field": "n"}.
//
// The module's path is "gan", which go get cannot fetch: to use this
// package from another module, vendor the repository (for example as a
// git submodule) and point a replace directive at it, as the README says.
package serve
