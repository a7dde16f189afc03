package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Run labels ("impl device") that [Compare] builds its ratios from.
const (
	OursGPU      = "gan cuda"
	OursCPU      = "gan cpu"
	TorchOpsGPU  = "pytorch cuda" // torch.matmul (cuBLAS, TF32 off) and elementwise ops
	TorchOpsCPU  = "pytorch cpu"
	TorchEager   = "pytorch-eager cuda"
	TorchGraphs  = "pytorch-graphs cuda"
	TorchCompile = "pytorch-compile cuda"
	TorchEagerC  = "pytorch-eager cpu"
)

// CompareInput is what [Compare] merges.
type CompareInput struct {
	Title string
	// Preamble is markdown placed under the title (how the figures were
	// made, on what machine, what else ran there).
	Preamble string
	Commit   string // overrides the reports' commit when set
	Reports  []Report
	GoBench  []GoBenchLine
	// PlotFile, when set, is linked from the page (a path relative to it).
	PlotFile string
}

// ratio is one ratio column: num's value over den's.
type ratio struct{ label, num, den string }

// Compare writes a markdown page with every run of the reports side by
// side, the ratios the project tracks (ours/PyTorch eager, ours/PyTorch
// CUDA graphs, our matmul/cuBLAS, GPU/CPU, ours/Gorgonia), the targets and
// the Go benchmarks.
func Compare(w io.Writer, in CompareInput) error {
	ew := &errWriter{w: w}
	runs := map[string]Run{}
	var order []string
	commit := in.Commit
	for _, r := range in.Reports {
		if commit == "" {
			commit = r.Commit
		}
		for _, run := range r.Runs {
			// Runs of one implementation and device from several reports
			// (PyTorch's seed and PixelCNN peers write separate files)
			// become one column: the first report's results, then the
			// keys it lacks from the others.
			if prev, dup := runs[run.Label()]; dup {
				for _, res := range run.Results {
					if _, ok := prev.Find(res.Key); !ok {
						prev.Results = append(prev.Results[:len(prev.Results):len(prev.Results)], res) // not into the first report's array
					}
				}
				runs[run.Label()] = prev
				continue
			}
			runs[run.Label()] = run
			order = append(order, run.Label())
		}
	}
	fmt.Fprintf(ew, "# %s\n\n", in.Title)
	if p := strings.TrimSpace(in.Preamble); p != "" {
		fmt.Fprintf(ew, "%s\n\n", p)
	}
	fmt.Fprintf(ew, "Commit `%s`. Every figure below comes from one run on one machine.\n\n", orDash(commit))
	for _, r := range in.Reports {
		minRep := FormatDuration(r.Settings.MinRepSecond)
		if st := r.Settings.StepMinRepSecond; st > 0 && st != r.Settings.MinRepSecond {
			minRep += " (training steps: ≥ " + FormatDuration(st) + ")"
		}
		fmt.Fprintf(ew, "- `%s` report of %s: %s (%d logical CPUs), %s; %d repetitions of ≥ %s after a warm-up, median per call.\n",
			r.Tool, r.Date, r.Host.CPU, r.Host.Cores, r.Host.Runtime, r.Settings.Reps, minRep)
	}
	for _, l := range order {
		run := runs[l]
		fmt.Fprintf(ew, "- **%s**", l)
		if run.DeviceName != "" {
			fmt.Fprintf(ew, ": %s", run.DeviceName)
		}
		if run.Threads > 0 {
			fmt.Fprintf(ew, ", %d threads", run.Threads)
		}
		if run.Error != "" {
			fmt.Fprintf(ew, ". **Not (fully) measured:** %s", run.Error)
		}
		for _, n := range run.Notes {
			fmt.Fprintf(ew, ". %s", n)
		}
		if run.PeakGFLOPS > 0 {
			fmt.Fprintf(ew, ". fp32 peak %s GFLOP/s: %s", FormatNumber(run.PeakGFLOPS), run.PeakSource)
		}
		fmt.Fprintln(ew)
	}
	gb := summarizeGoBench(in.GoBench)

	writeTargets(ew, runs, gb)
	if in.PlotFile != "" {
		fmt.Fprintf(ew, "\n![training steps/s against batch size](%s)\n", in.PlotFile)
	}
	groupTable(ew, runs, order, GroupStep, "Training step (steps/s, median)",
		"The seed's step: G forward, D step on real and fake, G step through the updated D, Adam on both. "+
			"Ours waits for the device once per step (it reads the losses); PyTorch eager runs the seed's code, which does not. "+
			"images/s = batch × steps/s.",
		[]ratio{{"ours/eager", OursGPU, TorchEager}, {"ours/graphs", OursGPU, TorchGraphs}, {"ours/compile", OursGPU, TorchCompile},
			{"GPU/CPU (ours)", OursGPU, OursCPU}, {"ours/PyTorch (cpu)", OursCPU, TorchEagerC}})
	dcganAt := dcganSizes(runs, order)
	groupTable(ew, runs, order, GroupDCGANStep, "DCGAN training step (steps/s, median)",
		"The dcgan family's step (pytorch/examples' DCGAN at "+dcganAt+", ngf = ndf = 64, batch norm, Adam 2e-4 (0.5, 0.999)): "+
			"D on the real batch and on G(z).detach() in separate passes, Adam on D, G through the updated D, Adam on G. "+
			"PyTorch runs the same architecture (bench/pytorch) in eager mode. images/s = batch × steps/s.",
		[]ratio{{"ours/PyTorch (cpu)", OursCPU, TorchEagerC}, {"ours/eager", OursGPU, TorchEager}, {"GPU/CPU (ours)", OursGPU, OursCPU}})
	groupTable(ew, runs, order, GroupPixelCNNStep, "PixelCNN training step (steps/s, median)",
		"The pixelcnn family's step at batch 64 (h 32, 5 blocks: 7×7 mask-A conv, residual blocks of 1×1, 3×3 mask-B, 1×1 convs, "+
			"1×1 head; dynamic binarisation, Bernoulli NLL, Adam 1e-3); PyTorch runs the same network (bench/pytorch/bench_pixelcnn.py) in eager mode.",
		[]ratio{{"ours/PyTorch (cpu)", OursCPU, TorchEagerC}, {"ours/eager", OursGPU, TorchEager}, {"GPU/CPU (ours)", OursGPU, OursCPU}})
	groupTable(ew, runs, order, GroupVAEStep, "VAE training step (steps/s, median)",
		"The vae family's step at batch 128 (pytorch/examples' VAE: MLP 784-400-(20, 20)-400-784, ReLU, grey-level data, "+
			"BCE summed over pixels plus the closed-form KL, Adam 1e-3); PyTorch runs the examples' own model and loss "+
			"(bench/pytorch/bench_vae.py) in eager mode.",
		[]ratio{{"ours/PyTorch (cpu)", OursCPU, TorchEagerC}, {"ours/eager", OursGPU, TorchEager}, {"GPU/CPU (ours)", OursGPU, OursCPU}})
	groupTable(ew, runs, order, GroupTextStep, "char-gpt training step (steps/s, median)",
		"The char-gpt family's step at its default shape (4 layers, 4 heads, width 128, block 64, batch 12; forward, backward, Adam); "+
			"PyTorch trains nanoGPT's model at the same shape (bench/pytorch/bench_chargpt.py) in eager mode, its median over runs of "+
			"consecutive steps after a warm-up.",
		[]ratio{{"ours/PyTorch (cpu)", OursCPU, TorchEagerC}, {"ours/eager", OursGPU, TorchEager}, {"GPU/CPU (ours)", OursGPU, OursCPU}})
	groupTable(ew, runs, order, GroupConv, "DCGAN convolution products (GFLOP/s = 2·m·n·k / s)",
		"Each convolution of the DCGAN (at "+dcganAt+") at batch 64 as the graph computes it, channels-last: Conv2d fwd Im2Col(x)·Wᵀ, "+
			"dx Col2Im(dy·W), dW dyᵀ·cols; ConvTranspose2d fwd Col2Im(x·W), dx Im2Col(dy)·Wᵀ, dW xᵀ·Im2Col(dy). "+
			"Times include the Im2Col or Col2Im; GFLOP/s counts the product alone. "+
			"PyTorch's figures are F.conv2d / F.conv_transpose2d forward and aten.convolution_backward with only dx or dW asked for "+
			"(oneDNN on the CPU where PyTorch picks it), NCHW. \"% of peak\" is the share of the run's fp32 peak (see above).",
		[]ratio{{"ours/PyTorch (cpu)", OursCPU, TorchOpsCPU}, {"ours/PyTorch (cuda)", OursGPU, TorchOpsGPU}, {"GPU/CPU (ours)", OursGPU, OursCPU}})
	groupTable(ew, runs, order, GroupEpoch, "Seconds per epoch of the seed configuration (derived)",
		"⌈60000/64⌉ = 938 steps at the median batch-64 step time. Lower is better.", nil)
	groupTable(ew, runs, order, GroupMatMul, "Matrix products (GFLOP/s = 2·m·n·k / s)",
		"fwd y = x·Wᵀ, dx = dz·W, dW = dzᵀ·x of every Linear layer (G1…G4, D1…D4) at each batch, and square products. "+
			"PyTorch's figures are torch.matmul in FP32 with TF32 off (cuBLAS on the GPU).",
		[]ratio{{"ours/cuBLAS", OursGPU, TorchOpsGPU}, {"GPU/CPU (ours)", OursGPU, OursCPU}, {"ours/PyTorch (cpu)", OursCPU, TorchOpsCPU}})
	groupTable(ew, runs, order, GroupElementwise, "Elementwise ops (GB/s)", BytesConvention+".",
		[]ratio{{"ours/PyTorch (cuda)", OursGPU, TorchOpsGPU}, {"GPU/CPU (ours)", OursGPU, OursCPU}, {"ours/PyTorch (cpu)", OursCPU, TorchOpsCPU}})
	writeGoBench(ew, gb)
	return ew.err
}

// groupTable writes one markdown table: a row per key of the group, a
// column per run that has any, then the ratio columns whose runs both exist.
func groupTable(w io.Writer, runs map[string]Run, order []string, group, title, note string, ratios []ratio) {
	var cols, keys []string
	labels := map[string]Result{}
	for _, l := range order {
		has := false
		for _, r := range runs[l].Results {
			if r.Group != group {
				continue
			}
			has = true
			if _, ok := labels[r.Key]; !ok {
				labels[r.Key] = r
				keys = append(keys, r.Key)
			}
		}
		if has {
			cols = append(cols, l)
		}
	}
	if len(keys) == 0 {
		return
	}
	var rs []ratio
	for _, r := range ratios {
		if slices.Contains(cols, r.num) && slices.Contains(cols, r.den) {
			rs = append(rs, r)
		}
	}
	fmt.Fprintf(w, "\n## %s\n\n%s\n\n", title, note)
	head := []string{"measurement"}
	products := group == GroupMatMul || group == GroupConv
	if products {
		head = []string{"product", "m×n×k", "A·B"}
	}
	head = append(head, cols...)
	for _, r := range rs {
		head = append(head, r.label)
	}
	// The share of the peak, for the products of runs that recorded one.
	var peaks []string
	if products {
		for _, c := range cols {
			if runs[c].PeakGFLOPS > 0 {
				peaks = append(peaks, c)
				head = append(head, c+" % of peak")
			}
		}
	}
	fmt.Fprintf(w, "| %s |\n| --- |%s\n", strings.Join(head, " | "), strings.Repeat(" ---: |", len(head)-1))
	for _, k := range keys {
		lr := labels[k]
		cells := []string{lr.Label}
		if products {
			cells = append(cells, fmt.Sprintf("%d×%d×%d", lr.M, lr.N, lr.K), transposes(lr))
		}
		for _, c := range cols {
			r, ok := runs[c].Find(k)
			cell := "–"
			if ok {
				cell = FormatNumber(r.Value)
				if group == GroupStep && r.ImagesPerS > 0 {
					cell += fmt.Sprintf(" (%s img/s)", FormatNumber(r.ImagesPerS))
				}
				if sp := r.Seconds.Spread(); sp > 0.1 {
					cell += fmt.Sprintf(" ±%.0f%%", 50*sp)
				}
			}
			cells = append(cells, cell)
		}
		for _, r := range rs {
			cells = append(cells, formatRatio(valueRatio(runs, r, k)))
		}
		for _, c := range peaks {
			cell := "–"
			if r, ok := runs[c].Find(k); ok && r.Value > 0 {
				cell = fmt.Sprintf("%.0f%%", 100*r.Value/runs[c].PeakGFLOPS)
			}
			cells = append(cells, cell)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	fmt.Fprintln(w, "\nA cell's ±x% is half the range of the repetitions, shown where it exceeds 5% of the median.")
}

// valueRatio is runs[num].key / runs[den].key, NaN when either is missing.
func valueRatio(runs map[string]Run, r ratio, key string) float64 {
	a, ok1 := runs[r.num].Find(key)
	b, ok2 := runs[r.den].Find(key)
	if !ok1 || !ok2 || a.Value <= 0 || b.Value <= 0 {
		return math.NaN()
	}
	return a.Value / b.Value
}

func formatRatio(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", x)
}

// dcganSizes says at which image size the runs with DCGAN results measured
// the network, e.g. "32×32", or each run's where they differ (their ratios
// then compare different networks, and the step's target is not judged).
func dcganSizes(runs map[string]Run, order []string) string {
	var parts []string
	sizes := map[int]bool{}
	for _, l := range order {
		run := runs[l]
		has := false
		for _, r := range run.Results {
			if r.Group == GroupDCGANStep || r.Group == GroupConv {
				has = true
				break
			}
		}
		if !has {
			continue
		}
		n := dcganSizeOr(run.DCGANSize)
		sizes[n] = true
		parts = append(parts, fmt.Sprintf("%d×%d (%s)", n, n, l))
	}
	switch len(sizes) {
	case 0:
		return fmt.Sprintf("%d×%d", DCGANSize, DCGANSize)
	case 1:
		for n := range sizes {
			return fmt.Sprintf("%d×%d", n, n)
		}
	}
	return strings.Join(parts, ", ") + " — different networks, whose ratios compare nothing"
}

// writeTargets checks the targets against the figures at hand.
func writeTargets(w io.Writer, runs map[string]Run, gb []goBenchRow) {
	type row struct{ target, figure, met string }
	var rows []row
	verdict := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}
	add := func(target string, x float64, want float64, how string) {
		if math.IsNaN(x) {
			rows = append(rows, row{target, "not measured", "–"})
			return
		}
		rows = append(rows, row{target, fmt.Sprintf("%.2f× %s", x, how), verdict(x >= want)})
	}
	add("GPU training step, batch 64: ≥ 5× PyTorch eager (seed code)", valueRatio(runs, ratio{"", OursGPU, TorchEager}, "step/b64"), 5, "PyTorch eager")
	add("GPU training step, batch 64: faster than PyTorch with CUDA graphs", valueRatio(runs, ratio{"", OursGPU, TorchGraphs}, "step/b64"), 1, "PyTorch graphs")
	add("SGEMM ≥ 70% of cuBLAS FP32 at 4096³", valueRatio(runs, ratio{"", OursGPU, TorchOpsGPU}, "matmul/square4096"), 0.7, "cuBLAS")

	var seed []float64
	worst, worstKey := math.Inf(1), ""
	for _, r := range runs[OursGPU].Results {
		if r.Group != GroupMatMul || r.Batch == 0 {
			continue
		}
		x := valueRatio(runs, ratio{"", OursGPU, TorchOpsGPU}, r.Key)
		if math.IsNaN(x) {
			continue
		}
		seed = append(seed, x)
		if x < worst {
			worst, worstKey = x, r.Label
		}
	}
	if len(seed) == 0 {
		rows = append(rows, row{"SGEMM ≥ 50% of cuBLAS FP32 at the seed's shapes", "not measured", "–"})
	} else {
		below := 0
		for _, x := range seed {
			if x < 0.5 {
				below++
			}
		}
		rows = append(rows, row{"SGEMM ≥ 50% of cuBLAS FP32 at the seed's shapes",
			fmt.Sprintf("median %.2f×, worst %.2f× (%s); %d of %d shapes below 0.5×", median(seed), worst, worstKey, below, len(seed)),
			verdict(below == 0)})
	}
	g := math.NaN()
	for _, r := range gb {
		if r.bench == "BenchmarkTrainStep" && r.base == "batch=64" {
			g = r.speedup("gorgonia")
		}
	}
	add("CPU training step, batch 64: faster than Gorgonia's (go test -bench)", g, 1, "Gorgonia")

	dcganRatio := valueRatio(runs, ratio{"", OursCPU, TorchEagerC}, "dcgan-step/b64")
	if dcganSizeOr(runs[OursCPU].DCGANSize) != dcganSizeOr(runs[TorchEagerC].DCGANSize) {
		dcganRatio = math.NaN() // two different networks
	}
	add("CPU DCGAN training step, batch 64: ≥ 1.5× PyTorch (cpu)", dcganRatio, 1.5, "PyTorch")
	rows = append(rows, convPeakRow(runs[OursCPU], verdict))

	fmt.Fprintf(w, "\n## Targets\n\n| target | figure | met |\n| --- | --- | --- |\n")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s |\n", r.target, r.figure, r.met)
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// GoBenchLine is one result line of `go test -bench` output.
type GoBenchLine struct {
	Name    string // without the -GOMAXPROCS suffix
	Procs   int
	N       int
	Metrics map[string]float64 // by unit: "ns/op", "GFLOP/s", …
}

var benchLine = regexp.MustCompile(`^(Benchmark\S*?)(?:-(\d+))?\s+(\d+)\s+(.+)$`)

// ParseGoBench reads the result lines of `go test -bench` output, ignoring
// everything else.
func ParseGoBench(r io.Reader) ([]GoBenchLine, error) {
	var out []GoBenchLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		l := GoBenchLine{Name: m[1], Metrics: map[string]float64{}}
		l.Procs, _ = strconv.Atoi(m[2])
		l.N, _ = strconv.Atoi(m[3])
		f := strings.Fields(m[4])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			l.Metrics[f[i+1]] = v
		}
		if _, ok := l.Metrics["ns/op"]; !ok {
			continue
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading go test -bench output: %w", err)
	}
	return out, nil
}

// goBenchRow is one benchmark configuration with the median ns/op of each
// implementation (the impl=… part of the sub-benchmark name).
type goBenchRow struct {
	bench, base string
	impls       []string
	ns          map[string]float64
	metric      map[string]float64 // median of the first custom metric
	unit        string
}

// speedup is impl's time over ours: how many times faster ours is.
func (r goBenchRow) speedup(impl string) float64 {
	a, b := r.ns["ours"], r.ns[impl]
	if a <= 0 || b <= 0 {
		return math.NaN()
	}
	return b / a
}

// summarizeGoBench groups lines by benchmark and configuration and takes
// the median over repeated runs (-count).
func summarizeGoBench(lines []GoBenchLine) []goBenchRow {
	type acc struct {
		ns, metric map[string][]float64
		row        *goBenchRow
	}
	var rows []*acc
	idx := map[string]*acc{}
	for _, l := range lines {
		parts := strings.Split(l.Name, "/")
		impl := "ours"
		var rest []string
		for _, p := range parts[1:] {
			if v, ok := strings.CutPrefix(p, "impl="); ok {
				impl = v
				continue
			}
			rest = append(rest, p)
		}
		base := strings.Join(rest, "/")
		id := parts[0] + "|" + base
		a := idx[id]
		if a == nil {
			a = &acc{ns: map[string][]float64{}, metric: map[string][]float64{}, row: &goBenchRow{bench: parts[0], base: base}}
			idx[id] = a
			rows = append(rows, a)
		}
		if !slices.Contains(a.row.impls, impl) {
			a.row.impls = append(a.row.impls, impl)
		}
		a.ns[impl] = append(a.ns[impl], l.Metrics["ns/op"])
		for _, u := range []string{UnitGFLOPS, UnitSteps} {
			if v, ok := l.Metrics[u]; ok {
				a.metric[impl] = append(a.metric[impl], v)
				a.row.unit = u
			}
		}
	}
	out := make([]goBenchRow, len(rows))
	for i, a := range rows {
		r := *a.row
		r.ns, r.metric = map[string]float64{}, map[string]float64{}
		for k, v := range a.ns {
			r.ns[k] = median(v)
		}
		for k, v := range a.metric {
			r.metric[k] = median(v)
		}
		out[i] = r
	}
	return out
}

func writeGoBench(w io.Writer, rows []goBenchRow) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n## Go benchmarks (`go test -bench` in bench/, CPU)\n\n"+
		"Median over `-count` runs. \"ours\" is the CPU backend's op (what training runs), \"ours-sgemm\" the gan/cpu/sgemm kernel called directly; "+
		"the \"ours vs\" columns are the other implementation's time over ours.\n")
	var benches []string
	for _, r := range rows {
		if !slices.Contains(benches, r.bench) {
			benches = append(benches, r.bench)
		}
	}
	for _, b := range benches {
		var impls []string
		unit := ""
		for _, r := range rows {
			if r.bench != b {
				continue
			}
			for _, i := range r.impls {
				if !slices.Contains(impls, i) {
					impls = append(impls, i)
				}
			}
			if r.unit != "" {
				unit = r.unit
			}
		}
		head := []string{b}
		for _, i := range impls {
			h := i + " time"
			if unit != "" {
				h += " (" + unit + ")"
			}
			head = append(head, h)
		}
		var others []string
		for _, i := range impls {
			if !strings.HasPrefix(i, "ours") && slices.Contains(impls, "ours") {
				others = append(others, i)
				head = append(head, "ours vs "+i)
			}
		}
		fmt.Fprintf(w, "\n| %s |\n| --- |%s\n", strings.Join(head, " | "), strings.Repeat(" ---: |", len(head)-1))
		for _, r := range rows {
			if r.bench != b {
				continue
			}
			cells := []string{r.base}
			for _, i := range impls {
				c := "–"
				if ns, ok := r.ns[i]; ok {
					c = FormatDuration(ns / 1e9)
					if v, ok := r.metric[i]; ok {
						c += " (" + FormatNumber(v) + ")"
					}
				}
				cells = append(cells, c)
			}
			for _, o := range others {
				cells = append(cells, formatRatio(r.speedup(o)))
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		}
	}
}

// ConvPeakShare sums the convolution products of run: their total work
// over their total time, as a share of the run's peak (the whole set of
// products as one), and the median and worst product's share with the
// worst's label. ok is false without products or peak.
func ConvPeakShare(run Run) (total, med, worst float64, worstLabel string, ok bool) {
	if run.PeakGFLOPS <= 0 {
		return 0, 0, 0, "", false
	}
	var flops, secs float64
	var shares []float64
	worst = math.Inf(1)
	for _, r := range run.Results {
		if r.Group != GroupConv || r.Value <= 0 {
			continue
		}
		flops += r.Flops
		secs += r.Seconds.Median
		x := r.Value / run.PeakGFLOPS
		shares = append(shares, x)
		if x < worst {
			worst, worstLabel = x, r.Label
		}
	}
	if len(shares) == 0 || secs <= 0 {
		return 0, 0, 0, "", false
	}
	return flops / secs / 1e9 / run.PeakGFLOPS, median(shares), worst, worstLabel, true
}

// convPeakRow is the target row of the CPU convolution products.
func convPeakRow(run Run, verdict func(bool) string) struct{ target, figure, met string } {
	const target = "CPU DCGAN conv products at batch 64: ≥ 50% of the fp32 peak"
	total, med, worst, label, ok := ConvPeakShare(run)
	if !ok {
		return struct{ target, figure, met string }{target, "not measured", "–"}
	}
	return struct{ target, figure, met string }{target,
		fmt.Sprintf("%.0f%% over all products (work / time); median product %.0f%%, worst %.0f%% (%s); peak %s GFLOP/s",
			100*total, 100*med, 100*worst, label, FormatNumber(run.PeakGFLOPS)),
		verdict(total >= 0.5)}
}
