package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"gan/bench"
	"gan/nn"
	"gan/nn/models/dcgan"
)

func init() {
	register(command{"bench", "time kernels and training steps on cpu and cuda: table, --json, plot", runBench})
	register(command{"bench-report", "merge gan bench, PyTorch and go test -bench results into markdown with ratios", runBenchReport})
}

type benchFlags struct {
	devices, batches, kernelBatches, squares, what string
	jsonPath, plotPath, commit                     string
	quick, full                                    bool
	reps                                           int
	minTime                                        time.Duration
	peakGFLOPS                                     float64
	peakSource                                     string
	dcganSize                                      int
}

// benchPlan is what the flags ask for, checked.
type benchPlan struct {
	benchFlags
	devices []string
	groups  []string
	// sizes set on the command line, by flag name (nil: the default)
	sizes map[string][]int
}

func parseBenchFlags(args []string, stderr io.Writer) (benchPlan, error) {
	var f benchFlags
	fs := newFlagSet("bench", stderr)
	fs.StringVar(&f.devices, "device", "cpu,cuda", "comma-separated devices to measure: cpu, cuda")
	fs.BoolVar(&f.quick, "quick", false, "a seconds-long subset (batch 64 kernels, steps at 64 and 128, short repetitions)")
	fs.BoolVar(&f.full, "full", false, "on the CPU too: the 4096 square product and the batch-4096 step (minutes)")
	fs.IntVar(&f.reps, "reps", 0, "timed repetitions per row (0: 5, or 3 with --quick)")
	fs.DurationVar(&f.minTime, "min-time", 0, "shortest repetition; calls are repeated until one lasts this long (0: 50ms for kernels and 1s for training steps, or 1ms with --quick)")
	fs.StringVar(&f.batches, "batches", "", "training-step batch sizes, e.g. 64,256 (default: 64,256,1024,4096; 4096 on the CPU only with --full)")
	fs.StringVar(&f.kernelBatches, "kernel-batches", "", "batch sizes of the matrix products and elementwise ops (default 64,256,1024)")
	fs.StringVar(&f.squares, "squares", "", "sizes of the square products, e.g. 1024,4096 (default: 1024,4096; 4096 on the CPU only with --full; 0 for none)")
	fs.StringVar(&f.what, "what", "", "comma-separated groups to run: matmul, elementwise, step, dcgan, text, pixelcnn, vae (default all)")
	fs.StringVar(&f.jsonPath, "json", "", "also write the results as JSON to this file")
	fs.StringVar(&f.plotPath, "plot", "", "write the steps/s-against-batch plot (PNG) here (default: the --json path with .png)")
	fs.StringVar(&f.commit, "commit", "", "commit to record (default: the binary's build information)")
	fs.Float64Var(&f.peakGFLOPS, "peak-gflops", 0, "the CPU's fp32 peak in GFLOP/s, for the DCGAN conv products' share of it (0: the best square product of the run)")
	fs.StringVar(&f.peakSource, "peak-source", "given with --peak-gflops", "how --peak-gflops was obtained, for the report")
	fs.IntVar(&f.dcganSize, "dcgan-size", bench.DCGANSize, "image size of the dcgan group's network: 28 (MNIST) or 32 (the padded digits of gan train --model dcgan --size 32); bench/pytorch takes the same flag")
	if err := parse(fs, args); err != nil {
		return benchPlan{}, err
	}
	p := benchPlan{benchFlags: f, sizes: map[string][]int{}}
	var err error
	if p.devices, err = splitDevices(f.devices); err != nil {
		return p, err
	}
	if f.quick && f.full {
		return p, usagef("--quick and --full exclude each other")
	}
	if f.reps < 0 || f.minTime < 0 || f.peakGFLOPS < 0 {
		return p, usagef("--reps, --min-time and --peak-gflops must not be negative")
	}
	for _, s := range []struct{ name, value string }{{"batches", f.batches}, {"kernel-batches", f.kernelBatches}, {"squares", f.squares}} {
		if s.value == "" {
			continue
		}
		v, err := parseSizes(s.value, s.name == "squares")
		if err != nil {
			return p, usagef("--%s: %v", s.name, err)
		}
		p.sizes[s.name] = v
	}
	if err := dcgan.CheckSize(f.dcganSize); err != nil {
		return p, usagef("--dcgan-size: %v", err)
	}
	if f.what != "" {
		for _, g := range strings.Split(f.what, ",") {
			g = strings.TrimSpace(g)
			if !slices.Contains(bench.Groups, g) {
				return p, usagef("--what %q: groups are %s", g, strings.Join(bench.Groups, ", "))
			}
			p.groups = append(p.groups, g)
		}
	}
	if p.plotPath == "" && p.jsonPath != "" {
		p.plotPath = strings.TrimSuffix(p.jsonPath, filepath.Ext(p.jsonPath)) + ".png"
	}
	return p, nil
}

// options are the measurements on dev, with notes on what is left out.
func (p benchPlan) options(dev string) (bench.Options, []string) {
	o, notes := bench.DefaultOptions(dev, p.quick, p.full)
	if p.reps > 0 {
		o.Timer.Reps, o.StepTimer.Reps = p.reps, p.reps
	}
	if p.minTime > 0 {
		o.Timer.MinRep, o.StepTimer.MinRep = p.minTime, p.minTime
	}
	if len(p.sizes) > 0 {
		notes = []string{"sizes set on the command line"}
		if p.quick {
			notes = append(notes, "--quick: short repetitions (not for comparisons)")
		}
	}
	for name, dst := range map[string]*[]int{"batches": &o.StepBatches, "kernel-batches": &o.KernelBatches, "squares": &o.Squares} {
		if v, ok := p.sizes[name]; ok {
			*dst = v
		}
	}
	o.Groups = p.groups
	o.DCGANSize = p.dcganSize
	if dev == "cpu" && p.peakGFLOPS > 0 {
		o.PeakGFLOPS, o.PeakSource = p.peakGFLOPS, p.peakSource
	}
	return o, notes
}

func runBench(args []string, stdout, stderr io.Writer) error {
	p, err := parseBenchFlags(args, stderr)
	if err != nil {
		return err
	}
	rep := bench.NewReport("gan", bench.Settings{Quick: p.quick, Full: p.full})
	rep.Date = time.Now().UTC().Format(time.RFC3339)
	rep.Commit = p.commit
	if rep.Commit == "" {
		rep.Commit = buildCommit()
	}
	measured, unavailable := 0, 0
	for _, dev := range p.devices {
		o, notes := p.options(dev)
		o.Progress = stderr
		rep.Settings.Reps, rep.Settings.MinRepSecond = o.Timer.Reps, o.Timer.MinRep.Seconds()
		rep.Settings.StepMinRepSecond = o.StepTimer.MinRep.Seconds()
		b, err := openDevice(dev, stderr)
		if err != nil {
			fmt.Fprintf(stdout, "%s: skipped: %v\n", dev, err)
			rep.Runs = append(rep.Runs, bench.Run{Device: dev, Impl: "gan", Error: err.Error()})
			unavailable++
			continue
		}
		run, runErr := bench.RunDevice(b, o)
		run.Notes = append(notes, run.Notes...)
		run.DeviceName, run.Threads = deviceDescription(b)
		if err := b.Close(); err != nil && runErr == nil {
			runErr = fmt.Errorf("closing %s: %w", dev, err)
			run.Error = runErr.Error()
		}
		rep.Runs = append(rep.Runs, run)
		if runErr != nil {
			fmt.Fprintf(stderr, "%s: stopped: %v\n", dev, runErr)
			continue
		}
		measured++
	}
	if err := writeBenchOutputs(p, rep, stdout); err != nil {
		return err
	}
	// An unavailable device is only reported; a device that failed while
	// being measured, or having nothing measured at all, is an error.
	if failed := len(p.devices) - measured - unavailable; failed > 0 || measured == 0 {
		return fmt.Errorf("%d of %d devices could not be measured (see above)", len(p.devices)-measured, len(p.devices))
	}
	return nil
}

// writeBenchOutputs prints the table and writes the JSON and the plot.
func writeBenchOutputs(p benchPlan, rep bench.Report, stdout io.Writer) error {
	if err := bench.WriteTable(stdout, rep); err != nil {
		return err
	}
	if p.jsonPath != "" {
		if err := nn.WriteFileAtomic(p.jsonPath, rep.WriteJSON); err != nil {
			return fmt.Errorf("--json %s: %w", p.jsonPath, err)
		}
		fmt.Fprintf(stdout, "\nJSON: %s\n", p.jsonPath)
	}
	switch {
	case p.plotPath == "":
		fmt.Fprintln(stdout, "\n(no plot: pass --plot FILE or --json FILE)")
	case !hasGroup(rep, bench.GroupStep):
		fmt.Fprintln(stdout, "(no plot: no training step was measured)")
	default:
		if err := bench.WriteStepPlot(p.plotPath, "gan bench: training steps/s", rep.Runs); err != nil {
			return fmt.Errorf("--plot %s: %w", p.plotPath, err)
		}
		fmt.Fprintf(stdout, "plot: %s\n", p.plotPath)
	}
	return nil
}

// splitDevices parses --device.
func splitDevices(s string) ([]string, error) {
	var out []string
	for _, d := range strings.Split(s, ",") {
		d = strings.TrimSpace(d)
		if d != "cpu" && d != "cuda" {
			return nil, usagef("--device %q: devices are cpu and cuda, e.g. --device cpu,cuda", d)
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out, nil
}

// parseSizes parses a comma-separated list of positive sizes ("0" alone
// means none where zeroOK).
func parseSizes(s string, zeroOK bool) ([]int, error) {
	if zeroOK && strings.TrimSpace(s) == "0" {
		return []int{}, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 1<<16 {
			return nil, fmt.Errorf("%q is not a size between 1 and 65536", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// deviceDescription names the processor of b and, on the CPU, its worker
// count. A backend may describe its device with a DeviceName method.
func deviceDescription(b nn.Backend) (string, int) {
	name := ""
	if d, ok := b.(interface{ DeviceName() string }); ok {
		name = d.DeviceName()
	}
	threads := 0
	if w, ok := b.(interface{ Workers() int }); ok {
		threads = w.Workers()
	}
	if name == "" && b.Name() == "cpu" {
		name = bench.CPUModel()
	}
	return name, threads
}

func hasGroup(r bench.Report, group string) bool {
	for _, run := range r.Runs {
		for _, x := range run.Results {
			if x.Group == group {
				return true
			}
		}
	}
	return false
}

// buildCommit returns the VCS revision stamped into the binary ("+dirty"
// when the tree had changes), or "" (e.g. under go run).
func buildCommit() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" && dirty {
		rev += "+dirty"
	}
	return rev
}

func runBenchReport(args []string, stdout, stderr io.Writer) error {
	var gans, torch, gobench, out, plotPath, title, commit, preamble string
	fs := newFlagSet("bench-report", stderr)
	fs.StringVar(&gans, "gan", "", "comma-separated JSON files written by gan bench --json")
	fs.StringVar(&torch, "torch", "", "comma-separated JSON files written by bench/pytorch/bench_torch.py")
	fs.StringVar(&gobench, "gobench", "", "comma-separated files of go test -bench output (bench/: ours vs gonum and Gorgonia)")
	fs.StringVar(&out, "out", "", "write the markdown here (default: stdout)")
	fs.StringVar(&plotPath, "plot", "", "write the steps/s-against-batch plot of every run (PNG) here")
	fs.StringVar(&title, "title", "Benchmarks", "title of the markdown page")
	fs.StringVar(&commit, "commit", "", "commit to name (default: the first report's)")
	fs.StringVar(&preamble, "preamble", "", "markdown file to put under the title (how and where the figures were made)")
	if err := parse(fs, args); err != nil {
		return err
	}
	in := bench.CompareInput{Title: title, Commit: commit}
	if preamble != "" {
		text, err := os.ReadFile(preamble)
		if err != nil {
			return fmt.Errorf("--preamble: %w", err)
		}
		in.Preamble = string(text)
	}
	for _, p := range splitList(gans + "," + torch) {
		r, err := bench.ReadReport(p)
		if err != nil {
			return err
		}
		in.Reports = append(in.Reports, r)
	}
	for _, p := range splitList(gobench) {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("--gobench: %w", err)
		}
		lines, err := bench.ParseGoBench(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--gobench %s: %w", p, err)
		}
		in.GoBench = append(in.GoBench, lines...)
	}
	if len(in.Reports) == 0 && len(in.GoBench) == 0 {
		return usagef("nothing to report: give --gan, --torch or --gobench")
	}
	// The plot is of the seed's training step against batch size: a report
	// without that group (e.g. --what dcgan) gets no plot, and says so.
	steps := false
	for _, r := range in.Reports {
		steps = steps || hasGroup(r, bench.GroupStep)
	}
	if plotPath != "" && !steps {
		fmt.Fprintf(stderr, "gan bench-report: no plot (%s): no seed training step was measured\n", plotPath)
	}
	if plotPath != "" && steps {
		in.PlotFile = filepath.Base(plotPath)
		var runs []bench.Run
		for _, r := range in.Reports {
			runs = append(runs, r.Runs...)
		}
		if err := bench.WriteStepPlot(plotPath, "training steps/s against batch size", runs); err != nil {
			return fmt.Errorf("--plot %s: %w", plotPath, err)
		}
	}
	write := func(w io.Writer) error { return bench.Compare(w, in) }
	if out == "" {
		return write(stdout)
	}
	if err := nn.WriteFileAtomic(out, write); err != nil {
		return fmt.Errorf("--out %s: %w", out, err)
	}
	fmt.Fprintf(stdout, "wrote %s\n", out)
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
