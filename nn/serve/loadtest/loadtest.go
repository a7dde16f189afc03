// Package loadtest drives a gan serve endpoint with concurrent clients and
// measures what it sustains: images per second, latency percentiles and
// errors. The short load test of package serve and the gan-loadtest
// command use it.
package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Config describes a load.
type Config struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8080.
	URL string
	// Clients is the number of concurrent clients, each sending its next
	// request when the last one is answered.
	Clients int
	// N is the number of images per request; Format the answer's format
	// (default grid).
	N      int
	Format string
	// Duration is how long the load runs, after Warmup (not measured).
	Duration, Warmup time.Duration
	// Timeout bounds one request (default 10 s).
	Timeout time.Duration
}

// Result is what a load measured.
type Result struct {
	Requests, Images, Errors int
	// FirstErrors holds up to five error messages.
	FirstErrors []string
	Elapsed     time.Duration
	// ImagesPerSec is Images / Elapsed.
	ImagesPerSec float64
	// P50, P90, P99 and Max are latency percentiles of the successful
	// requests.
	P50, P90, P99, Max time.Duration
}

func (r Result) String() string {
	return fmt.Sprintf("%d requests, %d images in %.1f s: %.0f images/s; latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms; %d errors",
		r.Requests, r.Images, r.Elapsed.Seconds(), r.ImagesPerSec, ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max), r.Errors)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Run applies the load until cfg.Warmup + cfg.Duration have passed or ctx
// is done.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Clients < 1 || cfg.N < 1 || cfg.Duration <= 0 {
		return Result{}, fmt.Errorf("loadtest: %d clients of %d images for %v", cfg.Clients, cfg.N, cfg.Duration)
	}
	if cfg.Format == "" {
		cfg.Format = "grid"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	tr := &http.Transport{MaxIdleConns: cfg.Clients, MaxIdleConnsPerHost: cfg.Clients, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: cfg.Timeout}

	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	end := measureFrom.Add(cfg.Duration)
	ctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()

	type clientResult struct {
		lat      []time.Duration
		errs     int
		firstErr []string
	}
	results := make([]clientResult, cfg.Clients)
	var wg sync.WaitGroup
	for c := 0; c < cfg.Clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			res := &results[c]
			body := make([]byte, 0, 128)
			for seq := 0; ctx.Err() == nil; seq++ {
				body = fmt.Appendf(body[:0], `{"n":%d,"seed":%d,"format":%q}`, cfg.N, c*1_000_000+seq, cfg.Format)
				t0 := time.Now()
				err := post(ctx, client, cfg.URL+"/v1/generate", body)
				t1 := time.Now()
				if ctx.Err() != nil && t1.After(end) {
					return // cut by the end of the run: not counted
				}
				if t0.Before(measureFrom) {
					continue
				}
				if err != nil {
					res.errs++
					if len(res.firstErr) < 5 {
						res.firstErr = append(res.firstErr, err.Error())
					}
					continue
				}
				res.lat = append(res.lat, t1.Sub(t0))
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(measureFrom)
	if elapsed > cfg.Duration {
		elapsed = cfg.Duration
	}
	var all []time.Duration
	var out Result
	for _, r := range results {
		all = append(all, r.lat...)
		out.Errors += r.errs
		for _, e := range r.firstErr {
			if len(out.FirstErrors) < 5 {
				out.FirstErrors = append(out.FirstErrors, e)
			}
		}
	}
	slices.Sort(all)
	out.Requests = len(all) + out.Errors
	out.Images = len(all) * cfg.N
	out.Elapsed = elapsed
	out.ImagesPerSec = float64(out.Images) / elapsed.Seconds()
	if len(all) > 0 {
		pct := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
		out.P50, out.P90, out.P99, out.Max = pct(0.50), pct(0.90), pct(0.99), all[len(all)-1]
	}
	return out, nil
}

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// post sends one request and checks that the answer is a 200 with a body
// of the expected kind.
func post(ctx context.Context, client *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(data))
	}
	if resp.Header.Get("Content-Type") == "image/png" && !bytes.HasPrefix(data, pngMagic) {
		return fmt.Errorf("answer is not a PNG")
	}
	return nil
}
