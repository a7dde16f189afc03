package nn

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
)

// Tensors is a set of named float32 tensors with string metadata: the
// contents of a safetensors file as this project writes and reads it.
// Safetensors (a length, a JSON header, raw little-endian data) carries no
// code, unlike pickle or gob, so a damaged or hostile file can only fail to
// parse.
type Tensors struct {
	Meta   map[string]string
	Names  []string // in file order
	Shapes map[string][]int
	Data   map[string][]float32
	// Int64 marks the tensors stored as I64 (PyTorch's integer buffers,
	// e.g. BatchNorm's num_batches_tracked); their values are held here as
	// float32, exact up to 2²⁴, and written rounded to integers.
	Int64 map[string]bool
}

// NewTensors returns an empty set.
func NewTensors() *Tensors {
	return &Tensors{Meta: map[string]string{}, Shapes: map[string][]int{}, Data: map[string][]float32{}, Int64: map[string]bool{}}
}

// Add appends a tensor; shape's product must equal len(data).
func (t *Tensors) Add(name string, shape []int, data []float32) {
	t.Names = append(t.Names, name)
	t.Shapes[name] = shape
	t.Data[name] = data
}

// maxHeader bounds the JSON header, as the safetensors reference does.
const maxHeader = 100 << 20

type tensorInfo struct {
	DType   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// Encode writes the safetensors bytes of t.
func (t *Tensors) Encode(w io.Writer) error {
	header := map[string]any{}
	if len(t.Meta) > 0 {
		header["__metadata__"] = t.Meta
	}
	var off int64
	for _, name := range t.Names {
		dtype, size := "F32", int64(4)
		if t.Int64[name] {
			dtype, size = "I64", 8
		}
		n := int64(len(t.Data[name])) * size
		shape := t.Shapes[name]
		if shape == nil {
			shape = []int{} // a scalar: [] in JSON, not null
		}
		header[name] = tensorInfo{DType: dtype, Shape: shape, Offsets: [2]int64{off, off + n}}
		off += n
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(hj)%8 != 0 { // keep the data 8-byte aligned, as the reference does
		hj = append(hj, ' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hj)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(hj); err != nil {
		return err
	}
	buf := make([]byte, 0, 1<<16)
	for _, name := range t.Names {
		i64 := t.Int64[name]
		for _, v := range t.Data[name] {
			if i64 {
				buf = binary.LittleEndian.AppendUint64(buf, uint64(int64(math.Round(float64(v)))))
			} else {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			}
			if len(buf) == cap(buf) {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
	}
	_, err = w.Write(buf)
	return err
}

// WriteFileAtomic writes data produced by write to path through a temporary
// file in the same directory, synced and then renamed over path, and syncs
// the directory: a crash leaves either the old file or the new one. The new
// file gets the old one's permissions, or 0644 (a temporary file starts
// private).
func WriteFileAtomic(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	perm := os.FileMode(0o644)
	if fi, serr := os.Stat(path); serr == nil {
		perm = fi.Mode().Perm()
	}
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = write(f); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// WriteFile saves t to path atomically.
func (t *Tensors) WriteFile(path string) error {
	return WriteFileAtomic(path, func(w io.Writer) error { return t.Encode(w) })
}

// ErrCorrupt marks a safetensors file that cannot be parsed.
var ErrCorrupt = errors.New("corrupt safetensors file")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// DecodeTensors parses safetensors bytes strictly: the header length is
// bounded and in range, the header is a JSON object, every tensor is F32 with
// a shape that matches its byte range, the ranges are contiguous from 0 in
// file order and the last one ends exactly at the end of the data.
func DecodeTensors(b []byte) (*Tensors, error) {
	if len(b) < 8 {
		return nil, corrupt("%d bytes, shorter than the 8-byte header length", len(b))
	}
	hl := binary.LittleEndian.Uint64(b)
	if hl > maxHeader || hl > uint64(len(b)-8) {
		return nil, corrupt("header length %d does not fit a %d-byte file", hl, len(b))
	}
	hj := b[8 : 8+hl]
	if len(hj) == 0 || hj[0] != '{' {
		return nil, corrupt("header does not start with '{'")
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(hj))
	if err := dec.Decode(&raw); err != nil {
		return nil, corrupt("header: %v", err)
	}
	data := b[8+hl:]
	t := NewTensors()
	type entry struct {
		name string
		info tensorInfo
	}
	var entries []entry
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &t.Meta); err != nil {
				return nil, corrupt("metadata: %v", err)
			}
			continue
		}
		var info tensorInfo
		d := json.NewDecoder(bytes.NewReader(msg))
		d.DisallowUnknownFields()
		if err := d.Decode(&info); err != nil {
			return nil, corrupt("tensor %q: %v", name, err)
		}
		size := int64(4)
		switch info.DType {
		case "F32":
		case "I64":
			size = 8
		default:
			return nil, corrupt("tensor %q: dtype %s, want F32 (or I64 for integer buffers)", name, info.DType)
		}
		elems := int64(1)
		for _, s := range info.Shape {
			if s < 0 || (s > 0 && elems > math.MaxInt32/int64(s)) {
				return nil, corrupt("tensor %q: shape %v out of range", name, info.Shape)
			}
			elems *= int64(s)
		}
		if info.Offsets[1]-info.Offsets[0] != elems*size || info.Offsets[0] < 0 {
			return nil, corrupt("tensor %q: shape %v needs %d bytes, offsets %v give %d",
				name, info.Shape, elems*size, info.Offsets, info.Offsets[1]-info.Offsets[0])
		}
		entries = append(entries, entry{name, info})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].info.Offsets[0] < entries[j].info.Offsets[0] })
	var off int64
	for _, e := range entries {
		if e.info.Offsets[0] != off {
			return nil, corrupt("tensor %q starts at byte %d, expected %d (ranges must be contiguous)", e.name, e.info.Offsets[0], off)
		}
		off = e.info.Offsets[1]
	}
	if off != int64(len(data)) {
		return nil, corrupt("tensors cover %d bytes of data, file has %d", off, len(data))
	}
	for _, e := range entries {
		raw := data[e.info.Offsets[0]:e.info.Offsets[1]]
		if e.info.DType == "I64" {
			v := make([]float32, len(raw)/8)
			for i := range v {
				x := int64(binary.LittleEndian.Uint64(raw[8*i:]))
				if x > 1<<24 || x < -(1<<24) {
					return nil, corrupt("tensor %q: integer %d beyond 2^24", e.name, x)
				}
				v[i] = float32(x)
			}
			t.Add(e.name, e.info.Shape, v)
			t.Int64[e.name] = true
			continue
		}
		v := make([]float32, len(raw)/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		t.Add(e.name, e.info.Shape, v)
	}
	return t, nil
}

// ReadTensorsFile reads and parses a safetensors file; errors name the file.
func ReadTensorsFile(path string) (*Tensors, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := DecodeTensors(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}
