package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn/model"
	"gan/nn/serve/loadtest"
)

// testServer is a server on a loopback port.
type testServer struct {
	*Server
	url  string
	stop func() error
}

// start serves s on a free loopback port until the test ends.
func start(t testing.TB, s *Server) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx, ln, 5*time.Second) }()
	var once sync.Once
	var serveErr error
	stop := func() error {
		once.Do(func() { cancel(); serveErr = <-errc; s.Close() })
		return serveErr
	}
	t.Cleanup(func() { stop() })
	return &testServer{Server: s, url: "http://" + ln.Addr().String(), stop: stop}
}

// saveSeed writes a freshly initialised seed GAN (weights of seed, step
// counter step) as a checkpoint at path.
func saveSeed(t testing.TB, path string, seed uint64, step int) {
	t.Helper()
	m := seedModel(t, seed)
	defer m.Free()
	m.SetStep(step)
	require.NoError(t, model.Save(m, path))
}

// checkpointServer serves a checkpoint file written by saveSeed.
func checkpointServer(t testing.TB, lim Limits) (*testServer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "checkpoint.safetensors")
	saveSeed(t, path, 1, 5)
	b := cpu.New()
	t.Cleanup(func() { b.Close() })
	s, err := NewServer(Config{Backend: b, Checkpoint: path, Limits: lim})
	require.NoError(t, err)
	return start(t, s), path
}

// post sends body to the server's path and returns the status, the
// content type and the body of the answer.
func post(t testing.TB, url, body string) (int, string, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Content-Type"), data
}

func get(t testing.TB, url string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, data
}

// Every endpoint answers as documented.
func TestEndpoints(t *testing.T) {
	ts, path := checkpointServer(t, Limits{})

	code, _, body := get(t, ts.url+"/healthz")
	assert.Equal(t, 200, code)
	assert.Equal(t, "ok\n", string(body))

	code, _, body = get(t, ts.url+"/v1/model")
	require.Equal(t, 200, code)
	var info ModelInfo
	require.NoError(t, json.Unmarshal(body, &info))
	assert.Equal(t, "seed-mlp-gan", info.Family)
	assert.Equal(t, 5, info.Step)
	assert.Equal(t, [3]int{1, 28, 28}, info.Shape)
	assert.Equal(t, 100, info.LatentDim)
	assert.Equal(t, 0, info.Classes)
	assert.Equal(t, path, info.Checkpoint)
	assert.Equal(t, 256, info.MaxN)
	assert.Equal(t, uint64(1), info.Config.Seed)
	assert.Nil(t, info.Eval, "no metrics.csv beside the checkpoint")

	code, hdr, body := get(t, ts.url+"/")
	assert.Equal(t, 200, code)
	assert.Contains(t, hdr.Get("Content-Type"), "text/html")
	assert.Contains(t, hdr.Get("Content-Security-Policy"), "default-src 'none'")
	assert.Contains(t, string(body), "<title>gan serve</title>")
	assert.NotContains(t, string(body), "http://", "no external assets")
	assert.NotContains(t, string(body), "https://", "no external assets")

	// One PNG, a grid, the pixel values.
	code, ct, body := post(t, ts.url+"/v1/generate", `{"seed": 3}`)
	require.Equal(t, 200, code, "%s", body)
	assert.Equal(t, "image/png", ct)
	img, err := png.Decode(bytes.NewReader(body))
	require.NoError(t, err)
	assert.Equal(t, image.Rect(0, 0, 28, 28), img.Bounds())

	code, ct, body = post(t, ts.url+"/v1/generate", `{"n": 16, "seed": 3, "format": "grid"}`)
	require.Equal(t, 200, code, "%s", body)
	assert.Equal(t, "image/png", ct)
	img, err = png.Decode(bytes.NewReader(body))
	require.NoError(t, err)
	assert.Equal(t, image.Rect(0, 0, 4*30+2, 4*30+2), img.Bounds(), "4×4 images of 28 with 2 pixels between")

	code, ct, body = post(t, ts.url+"/v1/generate", `{"n": 3, "seed": 3, "format": "json", "truncation": 0.7, "directions": [1, -2]}`)
	require.Equal(t, 200, code, "%s", body)
	assert.Equal(t, "application/json", ct)
	var js JSONImages
	require.NoError(t, json.Unmarshal(body, &js))
	require.Len(t, js.Images, 3)
	want := make([]float32, 3*784)
	require.NoError(t, ts.Generator().Sample(context.Background(), Request{N: 3, Seed: 3, Truncation: 0.7, Directions: []float64{1, -2}}, want))
	for i := range js.Images {
		assert.Equal(t, want[i*784:(i+1)*784], js.Images[i], "image %d: the JSON values are the float32 values exactly", i)
	}

	// An interpolation strip: one row of n images.
	code, _, body = post(t, ts.url+"/v1/generate", `{"n": 6, "seed": 3, "interpolate_to": 4}`)
	require.Equal(t, 200, code, "%s", body)
	img, err = png.Decode(bytes.NewReader(body))
	require.NoError(t, err)
	assert.Equal(t, image.Rect(0, 0, 6*30+2, 32), img.Bounds())

	// Reload of an unchanged file.
	code, _, body = post(t, ts.url+"/v1/reload", ``)
	require.Equal(t, 200, code, "%s", body)
	require.NoError(t, json.Unmarshal(body, &info))
	assert.Equal(t, int64(1), info.Reloads)

	// Unknown paths and methods: JSON errors too.
	code, _, body = get(t, ts.url+"/v2/nothing")
	assert.Equal(t, 404, code)
	assertError(t, body, "path")
	code, _, body = get(t, ts.url+"/v1/generate")
	assert.Equal(t, 405, code)
	assertError(t, body, "method")
}

func assertError(t *testing.T, body []byte, field string) apiError {
	t.Helper()
	var e apiError
	require.NoError(t, json.Unmarshal(body, &e), "%s", body)
	assert.Equal(t, field, e.Field, "%s", body)
	assert.NotEmpty(t, e.Error)
	assert.Contains(t, e.Error, field, "the message names the field")
	return e
}

// Every kind of bad request gets a 4xx answer whose JSON names the field,
// and the server goes on serving.
func TestBadRequests(t *testing.T) {
	ts, _ := checkpointServer(t, Limits{})
	cases := []struct {
		name, body string
		code       int
		field      string
	}{
		{"malformed JSON", `{"n": 4,`, 400, "body"},
		{"not JSON", `n=4`, 400, "body"},
		{"empty body", ``, 400, "body"},
		{"two values", `{"n": 1} {"n": 2}`, 400, "body"},
		{"n = 0", `{"n": 0}`, 400, "n"},
		{"n = 10^9", `{"n": 1000000000}`, 400, "n"},
		{"n = 1e9", `{"n": 1e9}`, 400, "n"},
		{"negative n", `{"n": -3}`, 400, "n"},
		{"n a string", `{"n": "4"}`, 400, "n"},
		{"n above the cap", `{"n": 257}`, 400, "n"},
		{"negative seed", `{"seed": -1}`, 400, "seed"},
		{"unknown field", `{"n": 2, "colour": "red"}`, 400, "colour"},
		{"label for an unconditional model", `{"label": 3}`, 400, "label"},
		{"truncation too large", `{"truncation": 50}`, 400, "truncation"},
		{"truncation negative", `{"truncation": -1}`, 400, "truncation"},
		{"unknown format", `{"format": "gif"}`, 400, "format"},
		{"png of many", `{"n": 4, "format": "png"}`, 400, "format"},
		{"cols beyond n", `{"n": 4, "cols": 9}`, 400, "cols"},
		{"too many directions", `{"directions": [0,0,0,0,0,0,0,0,0]}`, 400, "directions"},
		{"direction too far", `{"directions": [100]}`, 400, "directions"},
		{"interpolation of one", `{"n": 1, "interpolate_to": 3}`, 400, "n"},
		{"body too large", `{"n": 1, "directions": [` + strings.Repeat("0,", 10000) + `0]}`, 413, "body"},
	}
	for _, tc := range cases {
		code, _, body := post(t, ts.url+"/v1/generate", tc.body)
		assert.Equal(t, tc.code, code, "%s: %s", tc.name, body)
		e := assertError(t, body, tc.field)
		t.Logf("%-34s → %d %s", tc.name, code, e.Error)
	}
	resp, err := http.Post(ts.url+"/v1/generate", "text/plain", strings.NewReader(`{}`))
	require.NoError(t, err)
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 400, resp.StatusCode)
	assertError(t, data, "body")

	code, _, body := post(t, ts.url+"/v1/generate", `{"n": 2}`)
	assert.Equal(t, 200, code, "still serving: %s", body)
}

// A conditional model takes labels in range and refuses the others.
func TestLabels(t *testing.T) {
	c := &condGAN{GAN: seedModel(t, 1)}
	g, err := New(c, Options{})
	require.NoError(t, err)
	ts := start(t, NewServerFor(g, Config{}))
	code, _, body := get(t, ts.url+"/v1/model")
	require.Equal(t, 200, code)
	var info ModelInfo
	require.NoError(t, json.Unmarshal(body, &info))
	assert.Equal(t, 10, info.Classes)
	for _, bad := range []string{`{"label": 10}`, `{"label": -1}`, `{"label": 1.5}`, `{"label": "3"}`} {
		code, _, body := post(t, ts.url+"/v1/generate", bad)
		assert.Equal(t, 400, code, "%s: %s", bad, body)
		e := assertError(t, body, "label")
		t.Logf("%-16s → %d %s", bad, code, e.Error)
	}
	code, _, body = post(t, ts.url+"/v1/generate", `{"n": 2, "label": 9, "format": "json"}`)
	require.Equal(t, 200, code, "%s", body)
	assert.Equal(t, []int32{9, 9}, c.seen[len(c.seen)-2:])
	// A reload with no checkpoint configured is refused.
	code, _, body = post(t, ts.url+"/v1/reload", ``)
	assert.Equal(t, 422, code)
	assertError(t, body, "checkpoint")
}

// Slow clients are cut off by the timeouts while others are served: one
// that never finishes its headers, one that trickles its body, one that
// does not read a large answer.
func TestSlowClients(t *testing.T) {
	ts, _ := checkpointServer(t, Limits{ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: 600 * time.Millisecond, WriteTimeout: time.Second, IdleTimeout: time.Second})
	addr := strings.TrimPrefix(ts.url, "http://")
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c
	}
	t0 := time.Now()
	headers := dial()
	fmt.Fprintf(headers, "POST /v1/generate HTTP/1.1\r\nHost: x\r\n") // and nothing more
	trickle := dial()
	fmt.Fprintf(trickle, "POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{")
	go func() {
		for i := 0; i < 20; i++ {
			time.Sleep(100 * time.Millisecond)
			if _, err := trickle.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	reader := dial()
	fmt.Fprintf(reader, "POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 34\r\n\r\n{\"n\": 256, \"format\": \"json\"}      ")

	// Meanwhile others are served.
	for i := 0; i < 10; i++ {
		code, _, body := post(t, ts.url+"/v1/generate", `{"n": 4}`)
		require.Equal(t, 200, code, "%s", body)
	}

	// The header-less client is cut off after ReadHeaderTimeout.
	headers.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.ReadAll(headers)
	require.NoError(t, err, "the server closed the connection (EOF), not our deadline")
	cut := time.Since(t0)
	assert.Less(t, cut, 3*time.Second)
	t.Logf("client without headers cut off after %v", cut.Round(time.Millisecond))

	// The trickling client gets no answer but a closed connection, or a
	// 408/400, once ReadTimeout passes.
	trickle.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(trickle), nil)
	if err == nil {
		assert.GreaterOrEqual(t, resp.StatusCode, 400, "trickling client")
		resp.Body.Close()
		t.Logf("trickling client answered %d (%v)", resp.StatusCode, time.Since(t0).Round(time.Millisecond))
	} else {
		t.Logf("trickling client cut off: %v", err)
	}
	assert.Less(t, time.Since(t0), 4*time.Second)

	// The client that does not read its 2.5 MB answer holds no handler:
	// the answer waits in the socket buffers (or is cut by WriteTimeout
	// where they are smaller), and the idle connection is closed after
	// IdleTimeout, so reading now gets at most the answer, then EOF.
	time.Sleep(1500 * time.Millisecond)
	reader.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := io.Copy(io.Discard, reader)
	require.NoError(t, err, "the server closed the connection")
	assert.Less(t, n, int64(2_600_000))
	t.Logf("the non-reading client got %d bytes, then EOF (%v)", n, time.Since(t0).Round(time.Millisecond))

	code, _, body := post(t, ts.url+"/v1/generate", `{"n": 4}`)
	assert.Equal(t, 200, code, "still serving: %s", body)
}

// A reload swaps in a good file; a damaged one is refused and the old
// model keeps serving; requests during reloads all succeed.
func TestReload(t *testing.T) {
	ts, path := checkpointServer(t, Limits{})
	image := func() []byte {
		code, _, body := post(t, ts.url+"/v1/generate", `{"n": 4, "seed": 9, "format": "json"}`)
		require.Equal(t, 200, code, "%s", body)
		return body
	}
	before := image()

	// Generate all along, from 4 clients.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	served := 0
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				resp, err := http.Post(ts.url+"/v1/generate", "application/json", strings.NewReader(`{"n": 8}`))
				mu.Lock()
				if err != nil {
					failures = append(failures, err.Error())
				} else {
					if resp.StatusCode != 200 {
						failures = append(failures, resp.Status)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					served++
				}
				mu.Unlock()
			}
		}()
	}

	// A new model: other weights, step 7.
	saveSeed(t, path, 2, 7)
	code, _, body := post(t, ts.url+"/v1/reload", ``)
	require.Equal(t, 200, code, "%s", body)
	var info ModelInfo
	require.NoError(t, json.Unmarshal(body, &info))
	assert.Equal(t, 7, info.Step)
	after := image()
	assert.NotEqual(t, before, after, "the new weights serve")

	// Damaged files: truncated, garbage, a checkpoint of the wrong shape.
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	for name, data := range map[string][]byte{
		"truncated": good[:len(good)/2],
		"garbage":   []byte("this is not a safetensors file"),
		"empty":     nil,
	} {
		require.NoError(t, os.WriteFile(path, data, 0o644))
		code, _, body := post(t, ts.url+"/v1/reload", ``)
		assert.Equal(t, 422, code, "%s: %s", name, body)
		e := assertError(t, body, "checkpoint")
		assert.Contains(t, e.Error, "old model keeps serving")
		t.Logf("%s file: %s", name, e.Error)
		assert.Equal(t, after, image(), "%s: the old model still serves", name)
	}
	_, err = ts.Reload()
	require.Error(t, err)
	require.NoError(t, os.Remove(path))
	_, err = ts.Reload()
	require.Error(t, err, "a missing file is refused too")

	cancel()
	wg.Wait()
	assert.Empty(t, failures, "requests during the reloads")
	assert.Positive(t, served)
	code, _, body = get(t, ts.url+"/v1/model")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(body, &info))
	assert.Equal(t, 7, info.Step)
	assert.Equal(t, int64(1), info.Reloads)
}

// The evaluation figures in metrics.csv beside the checkpoint are shown.
func TestModelShowsEval(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "checkpoint.safetensors")
	saveSeed(t, path, 1, 3)
	csv := "step,epoch,d_loss,fid,inception_score,class_kl,classes_covered,confident,nn_distance\n" +
		"1,0,0.5,,,,,,\n2,0,0.4,12.5,7.1,0.02,10,0.9,6.5\n3,0,0.3,,,,,,\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "metrics.csv"), []byte(csv), 0o644))
	b := cpu.New()
	defer b.Close()
	s, err := NewServer(Config{Backend: b, Checkpoint: path})
	require.NoError(t, err)
	defer s.Close()
	info := s.modelInfo()
	assert.Equal(t, map[string]any{"step": 2, "fid": 12.5, "inception_score": 7.1, "class_kl": 0.02,
		"classes_covered": 10.0, "confident": 0.9, "nn_distance": 6.5}, info.Eval)
}

// Shutdown lets the requests in progress finish.
func TestGracefulShutdown(t *testing.T) {
	ts, _ := checkpointServer(t, Limits{})
	var wg sync.WaitGroup
	codes := make(chan int, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(ts.url+"/v1/generate", "application/json", strings.NewReader(`{"n": 256, "format": "json"}`))
			if err != nil {
				codes <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, ts.stop())
	wg.Wait()
	close(codes)
	for c := range codes {
		// A request that had not reached the server when it stopped
		// accepting fails to connect (0); none is cut short.
		assert.Contains(t, []int{0, 200}, c)
	}
	_, err := http.Get(ts.url + "/healthz")
	assert.Error(t, err, "no longer listening")
}

// A short load: many clients at once, no error. (Its speed is the load
// test's business: gan-loadtest, see the README.)
func TestShortLoad(t *testing.T) {
	ts, _ := checkpointServer(t, Limits{})
	res, err := loadtest.Run(context.Background(), loadtest.Config{URL: ts.url, Clients: 32, N: 16, Duration: 2 * time.Second, Warmup: 200 * time.Millisecond})
	require.NoError(t, err)
	t.Log(res)
	assert.Zero(t, res.Errors, "%v", res.FirstErrors)
	assert.Positive(t, res.Images)
}
