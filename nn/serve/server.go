package serve

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gan/nn"
	"gan/nn/imageio"
)

// Limits bound what one request, and all of them together, may cost.
type Limits struct {
	// MaxN is the most images one request may ask for (default 256).
	MaxN int
	// MaxBody is the most bytes of a request body (default 16 KiB).
	MaxBody int64
	// MaxInFlight is the most generate requests handled at once; more
	// are answered 503 at once (default 256).
	MaxInFlight int
	// MaxConns is the most connections open at once; further ones wait
	// to be accepted (default 2048).
	MaxConns int
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout are
	// http.Server's (defaults 5 s, 10 s, 30 s, 60 s): a client that sends
	// its request or reads its answer too slowly is cut off.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// GenerateTimeout bounds the wait for a batch slot (default 10 s).
	GenerateTimeout time.Duration
}

func (l Limits) withDefaults() Limits {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if l.MaxN <= 0 {
		l.MaxN = 256
	}
	if l.MaxBody <= 0 {
		l.MaxBody = 16 << 10
	}
	if l.MaxInFlight <= 0 {
		l.MaxInFlight = 256
	}
	if l.MaxConns <= 0 {
		l.MaxConns = 2048
	}
	def(&l.ReadHeaderTimeout, 5*time.Second)
	def(&l.ReadTimeout, 10*time.Second)
	def(&l.WriteTimeout, 30*time.Second)
	def(&l.IdleTimeout, 60*time.Second)
	def(&l.GenerateTimeout, 10*time.Second)
	return l
}

// Config configures a [Server].
type Config struct {
	// Backend is the device the models live on; the server does not
	// close it.
	Backend nn.Backend
	// Checkpoint is the file loaded at the start and by every reload;
	// Bare names the family of a bare state_dict (see [model.Load]).
	Checkpoint, Bare string
	// Options tune the batching.
	Options Options
	// Limits bound the requests' cost.
	Limits Limits
	// Log receives one line per reload and per failed generation (nil:
	// discarded).
	Log *log.Logger
}

// loaded is one generation of the server's model.
type loaded struct {
	gen  *Generator
	eval map[string]any // the last evaluation in metrics.csv next to the checkpoint, or nil
	at   time.Time
}

// Server serves a checkpoint's generator over HTTP:
//
//	POST /v1/generate  {"n", "seed", "label", "truncation", "format", "cols", "directions", "interpolate_to"}
//	GET  /v1/model     the model: family, config, step, shape, classes, eval figures
//	POST /v1/reload    reload the checkpoint file (also on SIGHUP in gan serve)
//	GET  /healthz      "ok"
//	GET  /             the page
//
// A reload reads and builds the new model while the old one serves, then
// swaps them atomically; a file that does not load is refused and the old
// model keeps serving. Requests already batched on the old model finish on
// it.
type Server struct {
	cfg      Config
	cur      atomic.Pointer[loaded]
	reloadMu sync.Mutex
	devMu    sync.Mutex
	slots    chan struct{}
	mux      *http.ServeMux
	log      *log.Logger
	reloads  atomic.Int64
}

// NewServer loads cfg.Checkpoint and returns a server for it.
func NewServer(cfg Config) (*Server, error) {
	s := newServer(cfg)
	if _, err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// NewServerFor returns a server for g, which it owns from then on; a
// reload loads cfg.Checkpoint. g must have been made with
// cfg.Options.DeviceLock (nil in both: the server's lock is not shared
// with g, so do not reload).
func NewServerFor(g *Generator, cfg Config) *Server {
	s := newServer(cfg)
	s.cur.Store(&loaded{gen: g, at: time.Now()})
	return s
}

func newServer(cfg Config) *Server {
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.Options.DeviceLock == nil {
		cfg.Options.DeviceLock = new(sync.Mutex)
	}
	s := &Server{cfg: cfg, slots: make(chan struct{}, cfg.Limits.MaxInFlight), log: cfg.Log}
	if s.log == nil {
		s.log = log.New(io.Discard, "", 0)
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /v1/generate", s.handleGenerate)
	s.mux.HandleFunc("GET /v1/model", s.handleModel)
	s.mux.HandleFunc("POST /v1/reload", s.handleReload)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	s.mux.HandleFunc("GET /{$}", s.handlePage)
	return s
}

// Generator returns the model serving now.
func (s *Server) Generator() *Generator { return s.cur.Load().gen }

// Handler returns the server's routes. Unknown paths get 404 and a known
// path with the wrong method 405, both with a JSON error.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, pattern := s.mux.Handler(r)
		if pattern == "" {
			// The mux would answer 404 or 405 in plain text: answer in JSON.
			rec := &statusOnly{header: http.Header{}}
			s.mux.ServeHTTP(rec, r)
			for k, v := range rec.header {
				if k == "Allow" {
					w.Header()[k] = v
				}
			}
			if rec.code == http.StatusMethodNotAllowed {
				writeError(w, http.StatusMethodNotAllowed, "method", fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path))
				return
			}
			writeError(w, http.StatusNotFound, "path", fmt.Sprintf("path %s: no such endpoint", r.URL.Path))
			return
		}
		s.mux.ServeHTTP(w, r)
	})
}

// statusOnly records the status the mux gives a request it cannot route.
type statusOnly struct {
	header http.Header
	code   int
}

func (s *statusOnly) Header() http.Header         { return s.header }
func (s *statusOnly) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusOnly) WriteHeader(code int)        { s.code = code }

// Reload loads cfg.Checkpoint again and swaps it in; on an error the
// model serving now stays.
func (s *Server) Reload() (Info, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if s.cfg.Checkpoint == "" {
		return Info{}, errors.New("reload: no checkpoint file configured")
	}
	g, err := Load(s.cfg.Backend, s.cfg.Checkpoint, s.cfg.Bare, s.cfg.Options)
	if err != nil {
		s.log.Printf("reload refused, the old model keeps serving: %v", err)
		return Info{}, err
	}
	old := s.cur.Swap(&loaded{gen: g, eval: readEval(s.cfg.Checkpoint), at: time.Now()})
	if old != nil {
		// Calls waiting on the old batcher get ErrClosed and retry on the
		// new model; its batch in progress finishes first.
		old.gen.Close()
		s.reloads.Add(1)
		s.log.Printf("reloaded %s: %s at step %d", s.cfg.Checkpoint, g.Info().Family, g.Info().Step)
	}
	return g.Info(), nil
}

// Close frees the model; the server must no longer be serving.
func (s *Server) Close() error {
	if l := s.cur.Load(); l != nil {
		return l.gen.Close()
	}
	return nil
}

// apiError is the JSON body of every error answer.
type apiError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeError(w http.ResponseWriter, code int, field, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(apiError{Error: msg, Field: field})
}

// fieldError is a bad request naming its field.
type fieldError struct {
	field, msg string
}

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

func badField(field, format string, args ...any) *fieldError {
	return &fieldError{field, fmt.Sprintf(format, args...)}
}

// GenerateRequest is the body of POST /v1/generate.
type GenerateRequest struct {
	// N is the number of images (default 1, at most Limits.MaxN).
	N *int `json:"n"`
	// Seed is the seed of the noise: the images of gan sample --seed.
	Seed uint64 `json:"seed"`
	// Label is the class of every image, for a conditional model.
	Label *int `json:"label"`
	// Truncation (0: none, else 0.1 to 10) resamples the noise beyond it.
	Truncation float64 `json:"truncation"`
	// Format is png (one image; the default for n = 1), grid (the images
	// in one PNG; the default otherwise) or json (the pixel values).
	Format string `json:"format"`
	// Cols is the grid's width in images (default ⌈√n⌉, n for an
	// interpolation).
	Cols int `json:"cols"`
	// Directions moves the noise along the latent directions (at most 8
	// values in [−20, 20]).
	Directions []float64 `json:"directions"`
	// InterpolateTo makes the n images a walk from seed to this seed.
	InterpolateTo *uint64 `json:"interpolate_to"`
}

// JSONImages is the answer of format json.
type JSONImages struct {
	Family string `json:"family"`
	Step   int    `json:"step"`
	Seed   uint64 `json:"seed"`
	N      int    `json:"n"`
	// Shape is C, H, W of one image.
	Shape [3]int `json:"shape"`
	// Images holds each image's C·H·W values in [−1, 1], channel-major.
	Images [][]float32 `json:"images"`
}

// parseGenerate reads and checks a generate request.
func (s *Server) parseGenerate(w http.ResponseWriter, r *http.Request, g *Generator) (GenerateRequest, Request, error) {
	var req GenerateRequest
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return req, Request{}, badField("body", "Content-Type %q: send application/json", ct)
	}
	body := http.MaxBytesReader(w, r.Body, s.cfg.Limits.MaxBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, Request{}, decodeError(err)
	}
	if dec.More() {
		return req, Request{}, badField("body", "more than one JSON value")
	}
	n := 1
	if req.N != nil {
		n = *req.N
	}
	if n < 1 || n > s.cfg.Limits.MaxN {
		return req, Request{}, badField("n", "%d: must be between 1 and %d", n, s.cfg.Limits.MaxN)
	}
	out := Request{N: n, Seed: req.Seed, Truncation: req.Truncation, Directions: req.Directions, InterpolateTo: req.InterpolateTo}
	if req.Label != nil {
		c := g.Classes()
		if c == 0 {
			return req, out, badField("label", "the %s model is not conditional (it takes no label)", g.Info().Family)
		}
		if *req.Label < 0 || *req.Label >= c {
			return req, out, badField("label", "%d is out of range: the model has classes 0 to %d", *req.Label, c-1)
		}
		out.Labels = make([]int32, n)
		for i := range out.Labels {
			out.Labels[i] = int32(*req.Label)
		}
	}
	if t := req.Truncation; t != 0 && !(t >= 0.1 && t <= 10) {
		return req, out, badField("truncation", "%g: must be 0 (none) or between 0.1 and 10", t)
	}
	if len(req.Directions) > NumDirections {
		return req, out, badField("directions", "%d values: at most %d", len(req.Directions), NumDirections)
	}
	for i, a := range req.Directions {
		if !(math.Abs(a) <= 20) {
			return req, out, badField("directions", "value %d is %g: must be between -20 and 20", i, a)
		}
	}
	if req.InterpolateTo != nil && n < 2 {
		return req, out, badField("n", "%d: an interpolation needs at least 2 images", n)
	}
	switch req.Format {
	case "":
		req.Format = "grid"
		if n == 1 {
			req.Format = "png"
		}
	case "png":
		if n != 1 {
			return req, out, badField("format", "png holds one image, n is %d: ask for grid or json", n)
		}
	case "grid", "json":
	default:
		return req, out, badField("format", "%q: must be png, grid or json", req.Format)
	}
	if req.Cols < 0 || req.Cols > n {
		return req, out, badField("cols", "%d: must be between 1 and n (%d)", req.Cols, n)
	}
	if req.Cols == 0 {
		req.Cols = int(math.Ceil(math.Sqrt(float64(n))))
		if req.InterpolateTo != nil {
			req.Cols = n
		}
	}
	return req, out, nil
}

// decodeError turns a JSON decoding error into a bad request naming the
// field at fault ("body" when it is the body as a whole).
func decodeError(err error) *fieldError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &mb):
		return badField("body", "larger than %d bytes", mb.Limit)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return badField(field, "%s is not a valid %s", te.Value, te.Type)
	case errors.As(err, &se):
		return badField("body", "malformed JSON at byte %d: %v", se.Offset, err)
	case errors.Is(err, io.EOF):
		return badField("body", "empty: send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badField("body", "truncated JSON")
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		name := strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`)
		return badField(name, "unknown field")
	}
	return badField("body", "%v", err)
}

// bufPool holds response buffers.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// pixPool holds the requests' pixel buffers (*[]float32): at tens of
// thousands of images a second, a fresh buffer per request made the
// garbage collector one of the server's larger costs.
var pixPool = sync.Pool{New: func() any { return new([]float32) }}

// getPix returns a pooled buffer of n values (contents undefined).
func getPix(n int) *[]float32 {
	p := pixPool.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

// pngPool lets PNG encoders reuse their buffers.
type pngPool struct{ p sync.Pool }

func (p *pngPool) Get() *png.EncoderBuffer  { b, _ := p.p.Get().(*png.EncoderBuffer); return b }
func (p *pngPool) Put(b *png.EncoderBuffer) { p.p.Put(b) }

// pngEncoder writes PNGs without compression: deflate's "stored" blocks
// and no per-row filter search. A profile of the load test had PNG
// encoding at BestSpeed take a quarter of the server's CPU (the filter
// search most of it), as much as the generator's matrix products; stored,
// it costs next to nothing, and a 16-image MNIST grid is 15 KB instead of
// about 6 KB — nothing on a local network.
var pngEncoder = &png.Encoder{CompressionLevel: png.NoCompression, BufferPool: &pngPool{}}

func (s *Server) handleGenerate(w http.ResponseWriter, r *http.Request) {
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "", "busy: too many requests in flight")
		return
	}
	l := s.cur.Load()
	req, gr, err := s.parseGenerate(w, r, l.gen)
	if err != nil {
		fe, ok := err.(*fieldError)
		if !ok {
			fe = badField("body", "%v", err)
		}
		code := http.StatusBadRequest
		if fe.field == "body" && strings.HasPrefix(fe.msg, "larger than") {
			code = http.StatusRequestEntityTooLarge
		}
		writeError(w, code, fe.field, fe.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Limits.GenerateTimeout)
	defer cancel()
	g := l.gen
	pp := getPix(gr.N * g.Shape().Size())
	defer func() { pixPool.Put(pp) }() // the last one: a retry replaces it
	// A reload may close the generator under the request: retry on the
	// new one (a few times: reloads are not that frequent).
	for try := 0; ; try++ {
		err = g.Sample(ctx, gr, *pp)
		if !errors.Is(err, ErrClosed) || try == 3 {
			break
		}
		g = s.cur.Load().gen
		if g.Shape().Size() != len(*pp)/gr.N {
			pp = getPix(gr.N * g.Shape().Size())
		}
	}
	pix := *pp
	switch {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		writeError(w, http.StatusServiceUnavailable, "", "timed out waiting for the generator")
		return
	case strings.HasPrefix(err.Error(), "label:"):
		writeError(w, http.StatusBadRequest, "label", err.Error())
		return
	default:
		s.log.Printf("generate: %v", err)
		writeError(w, http.StatusInternalServerError, "", "generating: "+err.Error())
		return
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	info := g.Info()
	sh := g.Shape()
	switch req.Format {
	case "png", "grid":
		img := imageio.GridOf(pix, gr.N, sh, req.Cols, 2)
		if req.Format == "png" {
			img = imageio.ImageOf(pix, sh)
		}
		if err := pngEncoder.Encode(buf, img); err != nil {
			writeError(w, http.StatusInternalServerError, "", "encoding PNG: "+err.Error())
			return
		}
		w.Header().Set("Content-Type", "image/png")
	case "json":
		writeJSONImages(buf, info, gr, pix)
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("X-Model-Step", strconv.Itoa(info.Step))
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Write(buf.Bytes())
}

// writeJSONImages writes a [JSONImages] with every value in the shortest
// form that reads back as the same float32.
func writeJSONImages(buf *bytes.Buffer, info Info, r Request, pix []float32) {
	b := buf.AvailableBuffer()
	b = append(b, `{"family":`...)
	b = strconv.AppendQuote(b, info.Family)
	b = append(b, `,"step":`...)
	b = strconv.AppendInt(b, int64(info.Step), 10)
	b = append(b, `,"seed":`...)
	b = strconv.AppendUint(b, r.Seed, 10)
	b = append(b, `,"n":`...)
	b = strconv.AppendInt(b, int64(r.N), 10)
	b = fmt.Appendf(b, `,"shape":[%d,%d,%d],"images":[`, info.Shape[0], info.Shape[1], info.Shape[2])
	size := len(pix) / r.N
	for i := 0; i < r.N; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for k, v := range pix[i*size : (i+1)*size] {
			if k > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendFloat(b, float64(v), 'g', -1, 32)
		}
		b = append(b, ']')
	}
	b = append(b, "]}\n"...)
	buf.Write(b)
}

// ModelInfo is the answer of GET /v1/model.
type ModelInfo struct {
	Info
	// Checkpoint is the file the model came from.
	Checkpoint string `json:"checkpoint,omitempty"`
	// LoadedAt is when it was loaded; Reloads counts the reloads since the
	// start.
	LoadedAt time.Time `json:"loaded_at"`
	Reloads  int64     `json:"reloads"`
	// Eval holds the last evaluation in metrics.csv beside the checkpoint
	// (gan train --eval-every), absent if none.
	Eval map[string]any `json:"eval,omitempty"`
	// Limits are the bounds on a request.
	MaxN          int `json:"max_n"`
	NumDirections int `json:"num_directions"`
}

func (s *Server) modelInfo() ModelInfo {
	l := s.cur.Load()
	return ModelInfo{Info: l.gen.Info(), Checkpoint: s.cfg.Checkpoint, LoadedAt: l.at, Reloads: s.reloads.Load(),
		Eval: l.eval, MaxN: s.cfg.Limits.MaxN, NumDirections: NumDirections}
}

func (s *Server) handleModel(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(s.modelInfo())
}

func (s *Server) handleReload(w http.ResponseWriter, r *http.Request) {
	if _, err := s.Reload(); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "checkpoint", err.Error()+" (the old model keeps serving)")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(s.modelInfo())
}

// evalColumns are the evaluation's columns of gan train's metrics.csv.
var evalColumns = []string{"fid", "inception_score", "class_kl", "classes_covered", "confident", "nn_distance"}

// readEval returns the last evaluated row of metrics.csv in the
// checkpoint's directory (its step and evaluation columns), or nil.
func readEval(checkpoint string) map[string]any {
	f, err := os.Open(filepath.Join(filepath.Dir(checkpoint), "metrics.csv"))
	if err != nil {
		return nil
	}
	defer f.Close()
	rd := csv.NewReader(io.LimitReader(f, 256<<20))
	rd.FieldsPerRecord = -1
	head, err := rd.Read()
	if err != nil {
		return nil
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	fid, ok := col["fid"]
	if !ok {
		return nil
	}
	var last []string
	for {
		rec, err := rd.Read()
		if err != nil {
			break
		}
		if fid < len(rec) {
			if v, err := strconv.ParseFloat(rec[fid], 64); err == nil && !math.IsNaN(v) {
				last = rec
			}
		}
	}
	if last == nil {
		return nil
	}
	out := map[string]any{}
	if i, ok := col["step"]; ok && i < len(last) {
		if v, err := strconv.Atoi(last[i]); err == nil {
			out["step"] = v
		}
	}
	for _, name := range evalColumns {
		if i, ok := col[name]; ok && i < len(last) {
			if v, err := strconv.ParseFloat(last[i], 64); err == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
				out[name] = v
			}
		}
	}
	return out
}

// HTTPServer returns an http.Server for addr with the server's handler
// and its timeouts.
func (s *Server) HTTPServer(addr string) *http.Server {
	l := s.cfg.Limits
	return &http.Server{Addr: addr, Handler: s.Handler(), ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: l.ReadTimeout,
		WriteTimeout: l.WriteTimeout, IdleTimeout: l.IdleTimeout, MaxHeaderBytes: 16 << 10, ErrorLog: s.log}
}

// Serve serves on ln (limited to Limits.MaxConns connections at once)
// until ctx is done, then shuts down gracefully: it stops accepting,
// lets the requests in progress finish (for up to grace) and returns.
// The model stays loaded: call Close after.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	hs := s.HTTPServer(ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(LimitListener(ln, s.cfg.Limits.MaxConns)) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc
	if err != nil {
		hs.Close()
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

// LimitListener returns a listener that accepts at most n connections
// open at once.
func LimitListener(ln net.Listener, n int) net.Listener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
