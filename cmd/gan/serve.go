package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"gan/nn/serve"
)

func init() {
	register(command{"serve", "serve a checkpoint's generator over HTTP: an API and a page to explore it", runServe})
}

// serveNotify relays the signals gan serve handles (tests replace it).
var serveNotify = signal.Notify

// testHookServing, when set, is told the address gan serve listens on.
var testHookServing func(addr string)

// shutdownGrace is how long gan serve lets requests in progress finish
// after SIGTERM or SIGINT.
const shutdownGrace = 10 * time.Second

func runServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	ckpt := fs.String("checkpoint", "", "checkpoint written by gan train or gan import, or a bare state_dict with --model (required); POST /v1/reload and SIGHUP read it again")
	modelName := fs.String("model", defaultModel, "the family of a bare state_dict given as --checkpoint (gan models lists them); a checkpoint names its own")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	device := fs.String("device", "cpu", "cpu, cuda or auto")
	maxN := fs.Int("max-n", 256, "the most images one request may ask for")
	maxBatch := fs.Int("max-batch", 512, "the most rows of one forward pass (concurrent requests are batched up to it)")
	maxWait := fs.Duration("max-wait", time.Millisecond, "how long a forward pass waits for more requests once one has come")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: gan serve --checkpoint F [--addr 127.0.0.1:8080] [--device cpu|cuda|auto] [--model NAME]

Serves the checkpoint's generator over HTTP until SIGTERM or SIGINT (which
let the requests in progress finish); SIGHUP reloads the checkpoint file.

  POST /v1/generate  {"n": 16, "seed": 1, "label": 3, "truncation": 0.7, "format": "png|grid|json"}
  GET  /v1/model     the model: family, config, training step, eval figures
  POST /v1/reload    load the checkpoint file again (a damaged file is refused)
  GET  /healthz
  GET  /             a page to explore the model

The images of a seed are those of gan sample --seed. See package gan/nn/serve.

flags:`)
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if *ckpt == "" {
		return usagef("--checkpoint is required")
	}
	if err := checkModelFlag(*modelName); err != nil {
		return err
	}
	if *maxN < 1 || *maxN > 4096 {
		return usagef("--max-n %d: must be between 1 and 4096", *maxN)
	}
	if *maxBatch < 1 || *maxBatch > 65536 {
		return usagef("--max-batch %d: must be between 1 and 65536", *maxBatch)
	}
	if *maxWait < 0 || *maxWait > time.Second {
		return usagef("--max-wait %v: must be between 0 and 1s", *maxWait)
	}
	if _, _, err := net.SplitHostPort(*addr); err != nil {
		return usagef("--addr %q: %v", *addr, err)
	}

	b, err := openDevice(*device, stderr)
	if err != nil {
		return err
	}
	defer b.Close()
	// The checkpoint through cmd/gan's loader first, for its errors (a
	// checkpoint of another family than --model names, …).
	m, err := loadModel(b, "--checkpoint", *ckpt, *modelName, setFlags(fs)["model"])
	if err != nil {
		return err
	}
	bare := *modelName
	cfg := serve.Config{Backend: b, Checkpoint: *ckpt, Bare: bare,
		Options: serve.Options{MaxBatch: *maxBatch, MaxWait: *maxWait},
		Limits:  serve.Limits{MaxN: *maxN},
		Log:     log.New(stderr, "gan serve: ", log.LstdFlags)}
	// The device is shared by the model serving and the one a reload
	// builds: one lock for both.
	cfg.Options.DeviceLock = new(sync.Mutex)
	g, err := serve.New(m, cfg.Options)
	if err != nil {
		m.Free()
		return fmt.Errorf("--checkpoint %s: %w", *ckpt, err)
	}
	s := serve.NewServerFor(g, cfg)
	defer s.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	info := g.Info()
	fmt.Fprintf(stdout, "serving %s (%s, step %d, on %s) at http://%s/\n", *ckpt, info.Family, info.Step, info.Backend, ln.Addr())
	if testHookServing != nil {
		testHookServing(ln.Addr().String())
	}

	sigs := make(chan os.Signal, 4)
	serveNotify(sigs, syscall.SIGHUP, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for sig := range sigs {
			if sig == syscall.SIGHUP {
				if _, err := s.Reload(); err == nil {
					fmt.Fprintf(stdout, "SIGHUP: reloaded %s (step %d)\n", *ckpt, s.Generator().Info().Step)
				}
				continue
			}
			fmt.Fprintf(stdout, "%v: shutting down (requests in progress get %v to finish)\n", sig, shutdownGrace)
			cancel()
			return
		}
	}()
	if err := s.Serve(ctx, ln, shutdownGrace); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	fmt.Fprintln(stdout, "stopped")
	return nil
}
