package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
)

// Schema names the JSON format of a [Report]; bench/pytorch writes it too.
const Schema = "gan-bench/1"

// Result groups.
const (
	GroupMatMul      = "matmul"      // Value in GFLOP/s
	GroupElementwise = "elementwise" // Value in GB/s
	GroupStep        = "step"        // Value in steps/s
	GroupEpoch       = "epoch"       // Value in seconds per epoch (lower is better)
	// GroupConv and GroupDCGANStep (bench/dcgan.go): convolution products
	// in GFLOP/s and the DCGAN training step in steps/s.
)

// Units of [Result.Unit].
const (
	UnitGFLOPS   = "GFLOP/s"
	UnitGBps     = "GB/s"
	UnitSteps    = "steps/s"
	UnitSecEpoch = "s/epoch"
)

// Report is one benchmark run: what ran where, and the results of every
// device (or implementation) that took part.
type Report struct {
	Schema string `json:"schema"`
	// Tool is "gan" for `gan bench`, "pytorch" for bench/pytorch.
	Tool     string   `json:"tool"`
	Date     string   `json:"date"` // RFC 3339
	Commit   string   `json:"commit,omitempty"`
	Host     Host     `json:"host"`
	Settings Settings `json:"settings"`
	Runs     []Run    `json:"runs"`
}

// Host describes the machine.
type Host struct {
	CPU     string `json:"cpu"`
	Cores   int    `json:"cores"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
	Runtime string `json:"runtime"` // Go or Python/PyTorch version
}

// Settings are the measurement settings of a report.
type Settings struct {
	Reps         int     `json:"reps"`
	MinRepSecond float64 `json:"min_rep_seconds"`
	// StepMinRepSecond is the shortest repetition of the training-step
	// rows when it differs from MinRepSecond (0: the same).
	StepMinRepSecond float64 `json:"step_min_rep_seconds,omitempty"`
	Quick            bool    `json:"quick,omitempty"`
	Full             bool    `json:"full,omitempty"`
}

// Run holds the results of one implementation on one device.
type Run struct {
	// Device is "cpu" or "cuda".
	Device string `json:"device"`
	// Impl is "gan" for our backends; bench/pytorch writes "pytorch-eager",
	// "pytorch-graphs" and "pytorch-compile".
	Impl string `json:"impl"`
	// DeviceName is the processor, e.g. "AMD EPYC" or "NVIDIA H100".
	DeviceName string `json:"device_name,omitempty"`
	// Threads is the number of CPU threads the implementation used.
	Threads int `json:"threads,omitempty"`
	// Error says why the device did not run (or stopped early).
	Error string `json:"error,omitempty"`
	// Notes lists what was left out and why.
	Notes []string `json:"notes,omitempty"`
	// PeakGFLOPS is the device's fp32 peak that the convolution products
	// are compared with, and PeakSource says how it was obtained (0: none).
	PeakGFLOPS float64 `json:"peak_gflops,omitempty"`
	PeakSource string  `json:"peak_source,omitempty"`
	// DCGANSize is the image size of the DCGAN group's network where the
	// run measured it (0 in runs written before it was recorded: 28).
	DCGANSize int      `json:"dcgan_size,omitempty"`
	Results   []Result `json:"results"`
}

// Label names the run in tables and plots, e.g. "gan cuda".
func (r Run) Label() string { return r.Impl + " " + r.Device }

// Result is one measurement. Key identifies it across implementations
// (bench/pytorch uses the same keys); Value is derived from the median time.
type Result struct {
	Key   string `json:"key"`
	Group string `json:"group"`
	Label string `json:"label"`
	// Matrix products: C (m×n) = op(A) (m×k) · op(B) (k×n).
	M      int  `json:"m,omitempty"`
	N      int  `json:"n,omitempty"`
	K      int  `json:"k,omitempty"`
	TransA bool `json:"trans_a,omitempty"`
	TransB bool `json:"trans_b,omitempty"`
	// Batch is the batch size the shape belongs to.
	Batch int `json:"batch,omitempty"`
	// Elements is the element (or parameter) count of elementwise ops.
	Elements int `json:"elements,omitempty"`
	// Work per op: floating-point operations or bytes moved.
	Flops float64 `json:"flops,omitempty"`
	Bytes float64 `json:"bytes,omitempty"`
	// Seconds per op (per training step).
	Seconds Stat    `json:"seconds"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
	// ImagesPerS is Batch × steps/s for training steps.
	ImagesPerS float64 `json:"images_per_s,omitempty"`
	// Derived marks a value computed from other results (seconds per epoch).
	Derived bool `json:"derived,omitempty"`
}

// Find returns the result with the given key.
func (r Run) Find(key string) (Result, bool) {
	for _, x := range r.Results {
		if x.Key == key {
			return x, true
		}
	}
	return Result{}, false
}

// NewReport returns an empty report of tool with the host filled in.
func NewReport(tool string, s Settings) Report {
	return Report{Schema: Schema, Tool: tool, Host: LocalHost(), Settings: s}
}

// LocalHost describes this machine.
func LocalHost() Host {
	return Host{CPU: CPUModel(), Cores: runtime.NumCPU(), OS: runtime.GOOS, Arch: runtime.GOARCH, Runtime: runtime.Version()}
}

// CPUModel returns the processor's model name from /proc/cpuinfo, or the
// architecture where that cannot be read.
func CPUModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// WriteJSON writes r, indented.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("bench: writing JSON: %w", err)
	}
	return nil
}

// ReadReport reads a report written by [Report.WriteJSON] or bench/pytorch.
func ReadReport(path string) (Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Report{}, fmt.Errorf("bench: %w", err)
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return Report{}, fmt.Errorf("bench: %s: %w", path, err)
	}
	if r.Schema != Schema {
		return Report{}, fmt.Errorf("bench: %s: schema %q, want %q", path, r.Schema, Schema)
	}
	return r, nil
}
