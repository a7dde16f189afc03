package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
	"gan/nn/model"
	"gan/nn/models/seedgan"
	"gan/nn/serve"
)

// seedCheckpoint writes a freshly initialised seed GAN at step as a
// checkpoint and returns its path.
func seedCheckpoint(t *testing.T, step int) string {
	t.Helper()
	b := cpu.New()
	defer b.Close()
	m, err := seedgan.New(b, seedgan.DefaultConfig())
	require.NoError(t, err)
	defer m.Free()
	m.SetStep(step)
	path := filepath.Join(t.TempDir(), "checkpoint.safetensors")
	require.NoError(t, model.Save(m, path))
	return path
}

// The images of seed S from the Go API are those of gan sample --seed S,
// bit for bit: its code path (generateSamples) and the API's batcher give
// the same pixels, for counts that end in a chunk of one row too.
func TestServeSameImagesAsSample(t *testing.T) {
	path := seedCheckpoint(t, 0)
	b := cpu.New()
	defer b.Close()
	m, err := loadModel(b, "--checkpoint", path, defaultModel, false)
	require.NoError(t, err)
	defer m.Free()
	g, shape, err := generatorOf(m, "test")
	require.NoError(t, err)

	apiDev := cpu.New()
	defer apiDev.Close()
	api, err := serve.Load(apiDev, path, "", serve.Options{})
	require.NoError(t, err)
	defer api.Close()
	for _, n := range []int{1, 3, 65} {
		want, err := generateSamples(g, shape, n, 7)
		require.NoError(t, err)
		got := make([]float32, n*shape.Size())
		// Concurrent callers: their rows share forward passes.
		var wg sync.WaitGroup
		for k := 0; k < 4; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				api.Sample(context.Background(), serve.Request{N: 16, Seed: uint64(100 + k)}, make([]float32, 16*shape.Size()))
			}()
		}
		require.NoError(t, api.Sample(context.Background(), serve.Request{N: n, Seed: 7}, got))
		wg.Wait()
		require.Equal(t, want, got, "n=%d", n)
	}
}

// gan serve: bad flags are one-line errors; it serves, reloads on SIGHUP
// and stops cleanly on SIGTERM; its JSON images are gan sample's.
func TestServeCommand(t *testing.T) {
	path := seedCheckpoint(t, 3)
	for _, tc := range []struct {
		args  []string
		code  int
		frags []string
	}{
		{[]string{"serve"}, 2, []string{"--checkpoint is required"}},
		{[]string{"serve", "--checkpoint", path, "--addr", "nonsense"}, 2, []string{"--addr"}},
		{[]string{"serve", "--checkpoint", path, "--max-n", "0"}, 2, []string{"--max-n 0"}},
		{[]string{"serve", "--checkpoint", path, "--device", "tpu"}, 2, []string{"--device"}},
		{[]string{"serve", "--checkpoint", filepath.Join(t.TempDir(), "none")}, 1, []string{"--checkpoint"}},
	} {
		code, _, stderr := gan(tc.args...)
		requireOneLineError(t, code, stderr, tc.code, tc.frags...)
	}

	sigs := make(chan chan<- os.Signal, 1)
	oldNotify := serveNotify
	serveNotify = func(c chan<- os.Signal, _ ...os.Signal) { sigs <- c }
	addrs := make(chan string, 1)
	testHookServing = func(addr string) { addrs <- addr }
	defer func() { serveNotify, testHookServing = oldNotify, nil }()
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, o, e := gan("serve", "--checkpoint", path, "--addr", "127.0.0.1:0")
		done <- result{code, o, e}
	}()
	var url string
	select {
	case a := <-addrs:
		url = "http://" + a
	case r := <-done:
		t.Fatalf("gan serve ended: %d %s", r.code, r.stderr)
	}
	sig := <-sigs
	resp, err := http.Get(url + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)

	// The images of seed 7 are gan sample's.
	resp, err = http.Post(url+"/v1/generate", "application/json", strings.NewReader(`{"n": 3, "seed": 7, "format": "json"}`))
	require.NoError(t, err)
	var js serve.JSONImages
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&js))
	resp.Body.Close()
	b := cpu.New()
	defer b.Close()
	m, err := loadModel(b, "--checkpoint", path, defaultModel, false)
	require.NoError(t, err)
	defer m.Free()
	g, shape, err := generatorOf(m, "test")
	require.NoError(t, err)
	want, err := generateSamples(g, shape, 3, 7)
	require.NoError(t, err)
	require.Len(t, js.Images, 3)
	for i := range js.Images {
		assert.Equal(t, want[i*784:(i+1)*784], js.Images[i], "image %d", i)
	}
	assert.Equal(t, 3, js.Step)

	// SIGHUP reloads the file: a new step.
	m.SetStep(11)
	require.NoError(t, model.Save(m, path))
	sig <- syscall.SIGHUP
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url + "/v1/model")
		require.NoError(t, err)
		var info serve.ModelInfo
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&info))
		resp.Body.Close()
		if info.Step == 11 {
			break
		}
		require.True(t, time.Now().Before(deadline), "SIGHUP did not reload")
		time.Sleep(20 * time.Millisecond)
	}

	sig <- syscall.SIGTERM
	select {
	case r := <-done:
		assert.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stdout, "serving "+path)
		assert.Contains(t, r.stdout, "SIGHUP: reloaded")
		assert.Contains(t, r.stdout, "stopped")
	case <-time.After(20 * time.Second):
		t.Fatal("gan serve did not stop on SIGTERM")
	}
	_, err = http.Get(url + "/healthz")
	assert.Error(t, err)
}
