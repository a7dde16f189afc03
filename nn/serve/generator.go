package serve

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"sync"
	"time"

	"gan/nn"
	"gan/nn/eval"
	"gan/nn/imageio"
	"gan/nn/model"
)

// ConditionalGenerator is a generator that also takes a class label per
// image. No family implements it yet; [Generator] finds it by a type
// assertion on the model, and the page shows its class picker only then.
type ConditionalGenerator interface {
	model.Generator
	// Classes is the number of labels, 0 … Classes()−1.
	Classes() int
	// GenerateLabels is Generate with one label per image: z holds
	// n×LatentDim noise values, labels n labels and out n·C·H·W values.
	GenerateLabels(z []float32, labels []int32, out []float32) error
}

// ErrClosed is returned by a [Generator] after [Generator.Close].
var ErrClosed = errors.New("serve: generator closed")

// Options tune a [Generator]'s batching.
type Options struct {
	// MaxBatch is the most rows the batcher hands the model in one call
	// (default 512). A request larger than that runs alone.
	MaxBatch int
	// MaxWait is how long the batcher waits for more requests after the
	// first arrives while the batch has room (default 1 ms).
	MaxWait time.Duration
	// DeviceLock, when set, is held around every use of the backend:
	// generators that share a backend (the old and the new model during a
	// reload) must share one. Nil gives the generator a lock of its own.
	DeviceLock sync.Locker
}

func (o Options) withDefaults() Options {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 512
	}
	if o.MaxWait <= 0 {
		o.MaxWait = time.Millisecond
	}
	if o.DeviceLock == nil {
		o.DeviceLock = new(sync.Mutex)
	}
	return o
}

// Info describes a loaded model.
type Info struct {
	// Family is the model family (gan models lists them).
	Family string `json:"family"`
	// Config is the training configuration stored in the checkpoint.
	Config model.Config `json:"config"`
	// Step is the number of training steps behind the weights.
	Step int `json:"step"`
	// LatentDim is the width of the noise.
	LatentDim int `json:"latent_dim"`
	// Shape is the C×H×W of one image.
	Shape [3]int `json:"shape"`
	// Classes is the number of class labels (0: not conditional).
	Classes int `json:"classes"`
	// Backend names the device.
	Backend string `json:"backend"`
}

// Generator serves one model's generator to many goroutines: calls from
// any number of goroutines are queued to one batcher goroutine, which
// coalesces the requests that arrive together into one forward pass of at
// most [Options.MaxBatch] rows. It is safe for concurrent use.
//
// Batches are padded with zero rows to a few fixed sizes (powers of two up
// to 64, then multiples of 64), so that a family that compiles a program
// per batch size compiles a handful, not one per size met.
type Generator struct {
	m    model.Model
	g    model.Generator
	cg   ConditionalGenerator
	info Info
	s    imageio.Shape
	opt  Options

	jobs      chan *job
	quit      chan struct{}
	exited    chan struct{}
	closeOnce sync.Once
}

// job is one caller's rows.
type job struct {
	z      []float32
	labels []int32
	out    []float32
	// alone marks a job whose last row runs in a one-row pass of its own
	// (see [Generator.Generate]).
	alone bool
	done  chan error
}

// Load reads the checkpoint at path (or a bare PyTorch state_dict of
// family bare, see [model.Load]), rebuilds its model on b and returns a
// Generator over it. The file is read whole before the device is touched,
// and opt.DeviceLock is held while the model is built.
func Load(b nn.Backend, path, bare string, opt Options) (*Generator, error) {
	t, err := nn.ReadTensorsFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading checkpoint: %w", err)
	}
	opt = opt.withDefaults()
	opt.DeviceLock.Lock()
	m, err := model.FromTensors(b, t, path, bare)
	opt.DeviceLock.Unlock()
	if err != nil {
		return nil, err
	}
	g, err := New(m, opt)
	if err != nil {
		opt.DeviceLock.Lock()
		m.Free()
		opt.DeviceLock.Unlock()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// New returns a Generator over m, which it owns from then on: Close frees
// it. m must implement [model.Generator] with an image shape PNG can hold.
func New(m model.Model, opt Options) (*Generator, error) {
	g, ok := m.(model.Generator)
	if !ok {
		return nil, fmt.Errorf("the %s model does not generate images", m.Config().Model)
	}
	var s imageio.Shape
	s.C, s.H, s.W = g.ImageShape()
	if err := s.Check(); err != nil {
		return nil, fmt.Errorf("the %s model: %w", m.Config().Model, err)
	}
	if g.LatentDim() < 1 {
		return nil, fmt.Errorf("the %s model: latent width %d", m.Config().Model, g.LatentDim())
	}
	cg, _ := m.(ConditionalGenerator)
	if cg != nil && cg.Classes() < 1 {
		cg = nil
	}
	opt = opt.withDefaults()
	gen := &Generator{m: m, g: g, cg: cg, s: s, opt: opt,
		jobs: make(chan *job), quit: make(chan struct{}), exited: make(chan struct{})}
	gen.info = Info{Family: m.Config().Model, Config: *m.Config(), Step: m.Step(), LatentDim: g.LatentDim(),
		Shape: [3]int{s.C, s.H, s.W}, Backend: m.Backend().Name()}
	if cg != nil {
		gen.info.Classes = cg.Classes()
	}
	go gen.batcher()
	return gen, nil
}

// Info describes the model.
func (g *Generator) Info() Info { return g.info }

// LatentDim is the width of the noise of one image.
func (g *Generator) LatentDim() int { return g.info.LatentDim }

// Shape is the shape of one image.
func (g *Generator) Shape() imageio.Shape { return g.s }

// Classes is the number of class labels, 0 for a model that takes none.
func (g *Generator) Classes() int { return g.info.Classes }

// Close stops the batcher once the batch in progress is done and frees the
// model; calls waiting to be batched, and later calls, get [ErrClosed].
func (g *Generator) Close() error {
	g.closeOnce.Do(func() {
		close(g.quit)
		<-g.exited
		g.opt.DeviceLock.Lock()
		g.m.Free()
		g.opt.DeviceLock.Unlock()
	})
	return nil
}

// Generate maps the n×LatentDim noise z to n images written to out
// (n·C·H·W values in [−1, 1], image after image, channel-major). labels
// is nil, or n labels for a conditional model. The rows are batched with
// other callers'; ctx abandons the call only while it waits to be
// batched (once taken, the rows are generated and the call returns when
// they are in out).
//
// The images are those the model's own Generate gives z: on the CPU
// backend bit for bit, because a row's result does not depend on the
// other rows of its pass, except in a pass of one row (a matrix-vector
// product, summed in another order), so a call with one row runs in a
// one-row pass of its own and is not coalesced with others.
func (g *Generator) Generate(ctx context.Context, z []float32, labels []int32, out []float32) error {
	return g.generate(ctx, z, labels, out, len(z) == g.LatentDim())
}

func (g *Generator) generate(ctx context.Context, z []float32, labels []int32, out []float32, alone bool) error {
	dim, size := g.LatentDim(), g.s.Size()
	n := len(z) / dim
	if n < 1 || len(z) != n*dim || len(out) != n*size {
		return fmt.Errorf("generate: %d noise values and %d outputs for %d-wide noise and %d-value images", len(z), len(out), dim, size)
	}
	if err := g.checkLabels(labels, n); err != nil {
		return err
	}
	j := &job{z: z, labels: labels, out: out, alone: alone, done: make(chan error, 1)}
	select {
	case g.jobs <- j:
	case <-g.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-j.done
}

func (g *Generator) checkLabels(labels []int32, n int) error {
	if labels == nil {
		return nil
	}
	if g.cg == nil {
		return fmt.Errorf("label: the %s model is not conditional", g.info.Family)
	}
	if len(labels) != n {
		return fmt.Errorf("label: %d labels for %d images", len(labels), n)
	}
	for _, l := range labels {
		if l < 0 || int(l) >= g.info.Classes {
			return fmt.Errorf("label: %d is out of range: the model has classes 0 to %d", l, g.info.Classes-1)
		}
	}
	return nil
}

// padded is the row count a batch of n rows runs with: n itself for one
// row, the next power of two up to 64, then the next multiple of 64.
func padded(n int) int {
	if n <= 1 {
		return n
	}
	if n <= 64 {
		p := 2
		for p < n {
			p *= 2
		}
		return p
	}
	return (n + 63) / 64 * 64
}

// batcher takes jobs, gathers those that arrive within MaxWait of the
// first (up to MaxBatch rows), and runs them as one forward pass.
func (g *Generator) batcher() {
	defer close(g.exited)
	dim, size := g.LatentDim(), g.s.Size()
	var (
		batch  []*job
		z, out []float32
		labels []int32
	)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var first *job
		select {
		case first = <-g.jobs:
		case <-g.quit:
			return
		}
		batch = append(batch[:0], first)
		rows := batchRows(first, dim)
		if rows < g.opt.MaxBatch {
			timer.Reset(g.opt.MaxWait)
		gather:
			for rows < g.opt.MaxBatch {
				select {
				case j := <-g.jobs:
					batch = append(batch, j)
					rows += batchRows(j, dim)
				case <-timer.C:
					break gather
				}
			}
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
		// The last job may overflow MaxBatch; it is kept (a job is never
		// split), so a batch holds at most MaxBatch + one request's rows.
		total := padded(rows)
		z = grow(z, total*dim)
		out = grow(out, total*size)
		labels = labels[:0]
		off := 0
		for _, j := range batch {
			k := batchRows(j, dim)
			copy(z[off:], j.z[:k*dim])
			off += k * dim
			labels = g.appendLabels(labels, j, 0, k)
		}
		clear(z[off : total*dim])
		for g.cg != nil && len(labels) < total {
			labels = append(labels, 0)
		}
		var err error
		g.opt.DeviceLock.Lock()
		if rows > 0 {
			err = g.run(z[:total*dim], labels, out[:total*size])
		}
		off = 0
		for _, j := range batch {
			k := batchRows(j, dim)
			if err == nil {
				copy(j.out, out[off:off+k*size])
			}
			off += k * size
			if j.alone && err == nil {
				// The row that runs alone, straight into the caller's buffer.
				n := len(j.z) / dim
				var lab []int32
				if g.cg != nil {
					lab = g.appendLabels(nil, j, n-1, n)
				}
				err1 := g.run(j.z[(n-1)*dim:], lab, j.out[(n-1)*size:])
				j.done <- err1
				continue
			}
			j.done <- err
		}
		g.opt.DeviceLock.Unlock()
		clear(batch) // drop the references to the callers' buffers
	}
}

// batchRows is the number of j's rows that run in the shared pass.
func batchRows(j *job, dim int) int {
	n := len(j.z) / dim
	if j.alone {
		n--
	}
	return n
}

// appendLabels appends the labels of j's rows lo … hi−1 for a conditional
// model (the caller's, or row mod Classes), nothing otherwise.
func (g *Generator) appendLabels(labels []int32, j *job, lo, hi int) []int32 {
	if g.cg == nil {
		return labels
	}
	if j.labels != nil {
		return append(labels, j.labels[lo:hi]...)
	}
	for k := lo; k < hi; k++ {
		labels = append(labels, int32(k%g.info.Classes))
	}
	return labels
}

// run is one forward pass; the device lock is held.
func (g *Generator) run(z []float32, labels []int32, out []float32) error {
	if g.cg != nil {
		return g.cg.GenerateLabels(z, labels, out)
	}
	return g.g.Generate(z, out)
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// sampleChunk is the number of images per noise stream of gan sample.
const sampleChunk = 64

// truncationDraws is the most draws an element of truncated noise takes
// before it is clamped.
const truncationDraws = 1000

// Noise fills z, whole rows of dim values, with the noise that
// "gan sample --seed seed" gives its images: row i is row i%64 of stream
// (nn.PurposeSample, i/64) of seed, elements (i%64)·dim … of it.
//
// With truncation t > 0 (the truncation trick), every value with |v| > t
// is resampled: draw k = 1, 2, … of element e is element e + k·64·dim of
// the same stream (past the elements gan sample reads), until one falls in
// [−t, t]; after 1000 draws (for t ≥ 0.1 a chance below 10⁻³⁶) the last
// draw is clamped to ±t. Values within t are left as they are, so the
// images of a seed change gradually with t. t = 0 leaves the noise as gan
// sample draws it.
func Noise(z []float32, dim int, seed uint64, truncation float64) {
	t := float32(truncation)
	stride := uint64(sampleChunk * dim)
	n := len(z) / dim
	for lo := 0; lo < n; lo += sampleChunk {
		key := nn.RandKey{Seed: seed, Stream: nn.StreamID(nn.PurposeSample, uint64(lo/sampleChunk))}
		rows := z[lo*dim : min(n, lo+sampleChunk)*dim]
		normals(rows, key)
		if truncation <= 0 {
			continue
		}
		for e, v := range rows {
			for k := uint64(1); (v > t || v < -t) && k <= truncationDraws; k++ {
				v = key.Normal(uint64(e) + k*stride)
			}
			rows[e] = max(-t, min(t, v))
		}
	}
}

// normals fills z with elements 0 … len(z)−1 of key's stream as standard
// normal values, exactly as key.Normal(i) gives them, drawing each
// Philox block once for its four elements.
func normals(z []float32, key nn.RandKey) {
	i := 0
	for ; i+4 <= len(z); i += 4 {
		w := key.Block(uint64(i / 4))
		z[i], z[i+1] = nn.NormalPairFromWords(w[0], w[1])
		z[i+2], z[i+3] = nn.NormalPairFromWords(w[2], w[3])
	}
	for ; i < len(z); i++ {
		z[i] = key.Normal(uint64(i))
	}
}

// NumDirections is the number of latent directions [Directions] offers.
const NumDirections = 8

// directionSeed is the seed whose gan sample noise gives the directions.
const directionSeed = 1 << 63

// Directions returns NumDirections fixed unit vectors of the latent space
// of width dim: direction k is the noise of image 0 of
// "gan sample --seed 2⁶³+k", normalised. In a space of 100 dimensions they
// are nearly orthogonal.
func Directions(dim int) [][]float32 {
	d := make([][]float32, NumDirections)
	for k := range d {
		v := eval.SeedNoise(directionSeed+uint64(k), dim)
		var s float64
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		inv := 1 / math.Sqrt(s)
		for i := range v {
			v[i] = float32(float64(v[i]) * inv)
		}
		d[k] = v
	}
	return d
}

// Request describes images to generate from a seed.
type Request struct {
	// N is the number of images.
	N int
	// Seed is the seed of the noise: the images of "gan sample --seed".
	Seed uint64
	// Labels is nil, or N class labels for a conditional model (nil for
	// one: image i gets label i mod Classes, and every image of an
	// interpolation label 0).
	Labels []int32
	// Truncation is the truncation of the noise (see [Noise]; 0: none).
	Truncation float64
	// Directions, at most NumDirections values, moves every image's noise
	// by Directions[k] along direction k of [Directions].
	Directions []float64
	// InterpolateTo, when set, makes the N images (N ≥ 2) a spherical walk
	// from image 0 of Seed to image 0 of *InterpolateTo (as gan sample
	// --interpolate walks).
	InterpolateTo *uint64
}

// Latent writes the noise of r into z (r.N rows).
func (g *Generator) Latent(r Request, z []float32) error {
	dim := g.LatentDim()
	if r.N < 1 || len(z) != r.N*dim {
		return fmt.Errorf("latent: %d values for %d images of %d-wide noise", len(z), r.N, dim)
	}
	if len(r.Directions) > NumDirections {
		return fmt.Errorf("directions: %d values, at most %d", len(r.Directions), NumDirections)
	}
	if r.InterpolateTo != nil {
		if r.N < 2 {
			return fmt.Errorf("n: an interpolation needs at least 2 images, got %d", r.N)
		}
		a, b := make([]float32, dim), make([]float32, dim)
		Noise(a, dim, r.Seed, r.Truncation)
		Noise(b, dim, *r.InterpolateTo, r.Truncation)
		for i := 0; i < r.N; i++ {
			copy(z[i*dim:], eval.Slerp(a, b, float64(i)/float64(r.N-1)))
		}
	} else {
		Noise(z, dim, r.Seed, r.Truncation)
	}
	if len(r.Directions) > 0 {
		dirs := Directions(dim)
		for k, a := range r.Directions {
			if a == 0 {
				continue
			}
			for i := 0; i < r.N; i++ {
				row := z[i*dim : (i+1)*dim]
				for j, d := range dirs[k] {
					row[j] += float32(a) * d
				}
			}
		}
	}
	return nil
}

// Sample generates the images of r into out (r.N·C·H·W values).
func (g *Generator) Sample(ctx context.Context, r Request, out []float32) error {
	z := make([]float32, r.N*g.LatentDim())
	if err := g.Latent(r, z); err != nil {
		return err
	}
	if len(out) != r.N*g.s.Size() {
		return fmt.Errorf("sample: %d outputs for %d images of %d values", len(out), r.N, g.s.Size())
	}
	labels := r.Labels
	if labels == nil && r.InterpolateTo != nil && g.cg != nil {
		// A walk stays in one class: class 0, as the first leg of gan
		// sample --interpolate.
		labels = make([]int32, r.N)
	}
	// gan sample generates in chunks of 64 rows: the last image of a
	// count of 64k+1 is a chunk of one row, which runs alone here too.
	return g.generate(ctx, z, labels, out, r.InterpolateTo == nil && r.N%sampleChunk == 1)
}

// Images generates the images of r as image.Image values: *image.Gray for
// one channel, *image.RGBA for three.
func (g *Generator) Images(ctx context.Context, r Request) ([]image.Image, error) {
	if r.N < 1 {
		return nil, fmt.Errorf("n: %d images", r.N)
	}
	pix := make([]float32, r.N*g.s.Size())
	if err := g.Sample(ctx, r, pix); err != nil {
		return nil, err
	}
	imgs := make([]image.Image, r.N)
	for i := range imgs {
		imgs[i] = imageio.ImageOf(pix[i*g.s.Size():(i+1)*g.s.Size()], g.s)
	}
	return imgs, nil
}
