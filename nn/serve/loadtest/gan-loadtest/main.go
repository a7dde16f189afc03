// Command gan-loadtest measures a gan serve process: it starts
// `GAN serve --checkpoint F` on a free loopback port (or drives --url),
// applies the load of the targets (64 clients asking for 16
// images each, for 5 minutes by default) and reports images/s, latency
// percentiles, errors, and the server's resident memory after the warm-up
// and at the end.
//
//	go build -o /tmp/gan ./cmd/gan && /tmp/gan train --steps 200 --out /tmp/serve-run
//	go run ./nn/serve/loadtest/gan-loadtest --gan /tmp/gan --checkpoint /tmp/serve-run/checkpoint.safetensors
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"gan/nn/serve/loadtest"
)

func main() {
	gan := flag.String("gan", "", "the gan binary to start (with --checkpoint)")
	ckpt := flag.String("checkpoint", "", "the checkpoint gan serve loads")
	url := flag.String("url", "", "drive this server instead of starting one (RSS then needs --pid)")
	pid := flag.Int("pid", 0, "with --url: the server's process, for its RSS")
	clients := flag.Int("clients", 64, "concurrent clients")
	n := flag.Int("n", 16, "images per request")
	format := flag.String("format", "grid", "answer format: grid, png or json")
	dur := flag.Duration("duration", 5*time.Minute, "measured time")
	warm := flag.Duration("warmup", 5*time.Second, "unmeasured time first")
	every := flag.Duration("rss-every", 30*time.Second, "print the server's RSS this often")
	flag.Parse()
	if err := run(*gan, *ckpt, *url, *pid, *clients, *n, *format, *dur, *warm, *every); err != nil {
		fmt.Fprintln(os.Stderr, "gan-loadtest:", err)
		os.Exit(1)
	}
}

func run(gan, ckpt, url string, pid, clients, n int, format string, dur, warm, every time.Duration) error {
	var srv *exec.Cmd
	if url == "" {
		if gan == "" || ckpt == "" {
			return fmt.Errorf("give --gan and --checkpoint, or --url")
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		addr := ln.Addr().String()
		ln.Close()
		srv = exec.Command(gan, "serve", "--checkpoint", ckpt, "--addr", addr, "--device", "cpu")
		srv.Stdout, srv.Stderr = os.Stderr, os.Stderr
		if err := srv.Start(); err != nil {
			return err
		}
		defer srv.Process.Kill()
		pid = srv.Process.Pid
		url = "http://" + addr
		if err := waitHealthy(url, 30*time.Second); err != nil {
			return err
		}
	}
	fmt.Printf("load: %d clients × %d images (%s), warm-up %v, measured %v, against %s; %d CPUs\n",
		clients, n, format, warm, dur, url, runtime.NumCPU())
	fmt.Printf("server RSS at start (before the load): %s\n", rss(pid))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		time.Sleep(warm)
		fmt.Printf("server RSS after the warm-up: %s\n", rss(pid))
		t := time.NewTicker(every)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				fmt.Printf("  %4.0f s: server RSS %s\n", time.Since(start).Seconds(), rss(pid))
			}
		}
	}()
	res, err := loadtest.Run(ctx, loadtest.Config{URL: url, Clients: clients, N: n, Format: format, Duration: dur, Warmup: warm})
	cancel()
	if err != nil {
		return err
	}
	fmt.Printf("server RSS at the end: %s\n", rss(pid))
	fmt.Println(res)
	for _, e := range res.FirstErrors {
		fmt.Println("  error:", e)
	}
	if srv != nil {
		srv.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- srv.Wait() }()
		select {
		case err := <-done:
			fmt.Printf("server stopped on SIGTERM: %v\n", exitText(err))
		case <-time.After(15 * time.Second):
			return fmt.Errorf("the server did not stop within 15 s of SIGTERM")
		}
	}
	if res.Errors > 0 {
		return fmt.Errorf("%d errors", res.Errors)
	}
	return nil
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

func waitHealthy(url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s/healthz did not answer within %v", url, limit)
}

// rss reads VmRSS of process pid.
func rss(pid int) string {
	if pid == 0 {
		return "unknown (no --pid)"
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "unknown: " + err.Error()
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
