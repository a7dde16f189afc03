package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"gan/cpu"
)

// chromiumPath is Debian's headless-capable browser, installed by
// scripts/install-chromium.sh.
const chromiumPath = "/usr/bin/chromium"

var (
	updateScreenshot = flag.Bool("update-screenshot", false, "write the page test's screenshot to docs/serve.png")
	screenshotModel  = flag.String("screenshot-checkpoint", "", "serve this checkpoint in the page test instead of a fresh seed model")
	screenshotURL    = flag.String("screenshot-url", "", "drive the page of this running gan serve (any family) in the page test instead")
)

// browser drives headless Chromium over the DevTools protocol on a pipe
// (--remote-debugging-pipe: JSON messages ending in a zero byte, written
// to the browser's fd 3 and read from its fd 4).
type browser struct {
	t       *testing.T
	cmd     *exec.Cmd
	w       *os.File
	mu      sync.Mutex
	next    int
	pending map[int]chan cdpReply
	session string
	events  chan cdpReply
	stderr  bytes.Buffer
}

type cdpReply struct {
	ID     int             `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
	SessionID string `json:"sessionId"`
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	toBrowser, ourW, err := os.Pipe()
	require.NoError(t, err)
	ourR, fromBrowser, err := os.Pipe()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, chromiumPath, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--remote-debugging-pipe", "--user-data-dir="+t.TempDir(), "about:blank")
	cmd.ExtraFiles = []*os.File{toBrowser, fromBrowser} // fds 3 and 4
	b := &browser{t: t, cmd: cmd, w: ourW, pending: map[int]chan cdpReply{}, events: make(chan cdpReply, 1024)}
	cmd.Stderr = &b.stderr
	require.NoError(t, cmd.Start())
	toBrowser.Close()
	fromBrowser.Close()
	t.Cleanup(func() {
		ourW.Close()
		cmd.Process.Kill()
		cmd.Wait()
		cancel()
	})
	go b.read(ourR)
	return b
}

func (b *browser) read(r *os.File) {
	defer r.Close()
	br := bufio.NewReader(r)
	for {
		msg, err := br.ReadBytes(0)
		if err != nil {
			return
		}
		var rep cdpReply
		if json.Unmarshal(msg[:len(msg)-1], &rep) != nil {
			continue
		}
		if rep.ID == 0 {
			select {
			case b.events <- rep:
			default:
			}
			continue
		}
		b.mu.Lock()
		c := b.pending[rep.ID]
		delete(b.pending, rep.ID)
		b.mu.Unlock()
		if c != nil {
			c <- rep
		}
	}
}

// call sends a command (to the page's session once attached) and returns
// its result.
func (b *browser) call(method string, params any) json.RawMessage {
	b.t.Helper()
	b.mu.Lock()
	b.next++
	id := b.next
	c := make(chan cdpReply, 1)
	b.pending[id] = c
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method, "params": params}
	if b.session != "" {
		msg["sessionId"] = b.session
	}
	data, err := json.Marshal(msg)
	require.NoError(b.t, err)
	_, err = b.w.Write(append(data, 0))
	require.NoError(b.t, err, "writing to chromium: %s", b.stderr.String())
	select {
	case rep := <-c:
		if rep.Error != nil {
			b.t.Fatalf("%s: %s", method, rep.Error.Message)
		}
		return rep.Result
	case <-time.After(30 * time.Second):
		b.t.Fatalf("%s: no answer from chromium in 30 s: %s", method, b.stderr.String())
	}
	return nil
}

// eval evaluates a JavaScript expression in the page and returns its value.
func (b *browser) eval(expr string) any {
	b.t.Helper()
	var r struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		ExceptionDetails any `json:"exceptionDetails"`
	}
	require.NoError(b.t, json.Unmarshal(b.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}), &r))
	require.Nil(b.t, r.ExceptionDetails, "evaluating %s", expr)
	return r.Result.Value
}

// waitFor polls a JavaScript condition until it is true.
func (b *browser) waitFor(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for b.eval(expr) != true {
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out waiting for %s (%s) at %v; status: %v; events: %v", what, expr, b.eval(`location.href`),
				b.eval(`(document.getElementById('status')||{}).textContent`), b.pageErrors())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// click presses and releases the mouse in the middle of the element.
func (b *browser) click(selector string) {
	b.t.Helper()
	r, ok := b.eval(`(function(){var r=document.querySelector(` + jsString(selector) + `).getBoundingClientRect();return [r.left+r.width/2,r.top+r.height/2];})()`).([]any)
	require.True(b.t, ok)
	x, y := r[0].(float64), r[1].(float64)
	for _, typ := range []string{"mouseMoved", "mousePressed", "mouseReleased"} {
		b.call("Input.dispatchMouseEvent", map[string]any{"type": typ, "x": x, "y": y, "button": "left", "clickCount": 1})
	}
}

func jsString(s string) string { d, _ := json.Marshal(s); return string(d) }

// pageErrors lists the console messages and uncaught exceptions so far.
func (b *browser) pageErrors() []string {
	var out []string
	for {
		select {
		case ev := <-b.events:
			switch ev.Method {
			case "Runtime.exceptionThrown", "Runtime.consoleAPICalled", "Log.entryAdded":
				out = append(out, ev.Method+": "+string(ev.Params))
			}
		default:
			return out
		}
	}
}

// The page in a real browser: it loads without a console message, shows
// the samples and the strip, a click on "Next seed" and a slider change
// the image, the class picker appears only for a conditional model; a
// screenshot is taken (and written to docs/serve.png with
// -update-screenshot).
func TestPageInChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("%s not found: headless-browser test skipped (install it with scripts/install-chromium.sh)", chromiumPath)
	}
	var ts *testServer
	if *screenshotURL != "" {
		ts = &testServer{url: *screenshotURL}
	} else if *screenshotModel != "" {
		b := cpu.New()
		defer b.Close()
		s, err := NewServer(Config{Backend: b, Checkpoint: *screenshotModel})
		require.NoError(t, err)
		ts = start(t, s)
	} else {
		g, err := New(seedModel(t, 1), Options{})
		require.NoError(t, err)
		ts = start(t, NewServerFor(g, Config{}))
	}

	br := newBrowser(t)
	var target struct {
		TargetID string `json:"targetId"`
	}
	require.NoError(t, json.Unmarshal(br.call("Target.createTarget", map[string]any{"url": "about:blank"}), &target))
	var att struct {
		SessionID string `json:"sessionId"`
	}
	require.NoError(t, json.Unmarshal(br.call("Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}), &att))
	br.session = att.SessionID
	br.call("Runtime.enable", map[string]any{})
	br.call("Log.enable", map[string]any{})
	br.call("Page.enable", map[string]any{})
	br.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": 1200, "height": 900, "deviceScaleFactor": 1, "mobile": false})
	br.call("Page.navigate", map[string]any{"url": ts.url + "/"})

	br.waitFor("the page to show both images", `document.body && document.body.getAttribute('data-ready') === '1'`)
	if *screenshotURL == "" {
		assert.Equal(t, true, br.eval(`document.getElementById('classbox').hidden`), "no class picker for an unconditional model")
		assert.Equal(t, float64(122), br.eval(`document.getElementById('grid').naturalWidth`), "the 4×4 grid of 28-pixel images, 2 apart")
	}
	assert.Equal(t, float64(4), br.eval(`document.querySelectorAll('#sliders input[type=range]').length`))
	// The collector of console messages works (then is emptied).
	br.eval(`console.log('probe'); true`)
	time.Sleep(100 * time.Millisecond)
	require.NotEmpty(t, br.pageErrors(), "a console message is seen")
	first := br.eval(`document.body.getAttribute('data-grid-hash')`)
	require.NotNil(t, first)

	// A click on "Next seed": seed 2, another image.
	br.click("#next")
	br.waitFor("the grid to change after the click", `document.body.getAttribute('data-grid-hash') !== `+jsString(fmt.Sprint(first)))
	assert.Equal(t, "2", br.eval(`document.getElementById('seed').value`))
	assert.Equal(t, "3", br.eval(`document.getElementById('seed2').value`), "the walk's end follows the seed")

	// A slider moved (as by the keyboard): the image changes again.
	second := br.eval(`document.body.getAttribute('data-grid-hash')`)
	br.eval(`(function(){var s=document.getElementById('dir0'); s.value='3'; s.dispatchEvent(new Event('input')); return true;})()`)
	br.waitFor("the grid to change with a slider", `document.body.getAttribute('data-grid-hash') !== `+jsString(fmt.Sprint(second)))
	br.eval(`(function(){var s=document.getElementById('dir0'); s.value='0'; s.dispatchEvent(new Event('input')); return true;})()`)
	br.waitFor("the strip to settle", `document.getElementById('status').textContent === ''`)
	time.Sleep(300 * time.Millisecond)

	var shot struct {
		Data string `json:"data"`
	}
	require.NoError(t, json.Unmarshal(br.call("Page.captureScreenshot", map[string]any{"format": "png"}), &shot))
	raw, err := base64.StdEncoding.DecodeString(shot.Data)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(raw))
	require.NoError(t, err)
	assert.Equal(t, image.Rect(0, 0, 1200, 900), img.Bounds())
	grays := map[uint32]bool{}
	for y := 0; y < 900; y += 3 {
		for x := 0; x < 1200; x += 3 {
			r, _, _, _ := img.At(x, y).RGBA()
			grays[r>>8] = true
		}
	}
	assert.Greater(t, len(grays), 50, "not a blank page")
	if *updateScreenshot {
		require.NoError(t, os.WriteFile(filepath.Join("..", "..", "docs", "serve.png"), raw, 0o644))
	}
	errs := br.pageErrors()
	assert.Empty(t, errs, "console messages or exceptions")

	// A conditional model: the class picker is there and drives the label.
	c := &condGAN{GAN: seedModel(t, 1)}
	cg, err := New(c, Options{})
	require.NoError(t, err)
	cts := start(t, NewServerFor(cg, Config{}))
	br.call("Page.navigate", map[string]any{"url": cts.url + "/"})
	br.waitFor("the conditional page", `document.body && document.body.getAttribute('data-ready') === '1' && !document.getElementById('classbox').hidden`)
	assert.Equal(t, float64(11), br.eval(`document.getElementById('label').options.length`))
	before := br.eval(`document.body.getAttribute('data-grid-hash')`)
	br.eval(`(function(){var s=document.getElementById('label'); s.value='7'; s.dispatchEvent(new Event('change')); return true;})()`)
	br.waitFor("the grid of class 7", `document.body.getAttribute('data-grid-hash') !== `+jsString(fmt.Sprint(before)))
	c.mu.Lock()
	assert.Contains(t, c.seen, int32(7))
	c.mu.Unlock()
	assert.Empty(t, br.pageErrors(), "console messages or exceptions")
}
