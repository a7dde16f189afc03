package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// FormatDuration prints seconds with a unit that keeps 3–4 significant
// digits: "12.3 µs", "4.56 ms", "1.23 s".
func FormatDuration(sec float64) string {
	switch {
	case sec <= 0:
		return "-"
	case sec < 1e-6:
		return fmt.Sprintf("%.3g ns", sec*1e9)
	case sec < 1e-3:
		return fmt.Sprintf("%.3g µs", sec*1e6)
	case sec < 1:
		return fmt.Sprintf("%.3g ms", sec*1e3)
	}
	return fmt.Sprintf("%.3g s", sec)
}

// FormatValue prints a value with its unit and about 3 significant digits.
func FormatValue(v float64, unit string) string {
	return FormatNumber(v) + " " + unit
}

// FormatNumber prints v with about 3 significant digits and no exponent
// below 10⁷.
func FormatNumber(v float64) string {
	switch a := max(v, -v); {
	case a == 0:
		return "0"
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.1f", v)
	case a >= 10:
		return fmt.Sprintf("%.2f", v)
	case a >= 0.01:
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// transposes spells the transposes of a product: "N·T" is A·Bᵀ.
func transposes(r Result) string {
	t := func(b bool) string {
		if b {
			return "T"
		}
		return "N"
	}
	return t(r.TransA) + "·" + t(r.TransB)
}

// WriteTable prints every run of r as a text table, one section per group.
func WriteTable(w io.Writer, r Report) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "gan bench, %s, commit %s\n", r.Date, orDash(r.Commit))
	fmt.Fprintf(ew, "host: %s, %d logical CPUs, %s/%s, %s\n", r.Host.CPU, r.Host.Cores, r.Host.OS, r.Host.Arch, r.Host.Runtime)
	fmt.Fprintf(ew, "method: per row, back-to-back calls are counted until one repetition lasts ≥ %s; one warm-up repetition, then %d timed ones,\n",
		FormatDuration(r.Settings.MinRepSecond), r.Settings.Reps)
	fmt.Fprintln(ew, "each followed by a single wait for the device (Sync). Times are medians per call; spread = (max − min) / median.")
	for _, run := range r.Runs {
		fmt.Fprintf(ew, "\n== %s", run.Device)
		if run.DeviceName != "" {
			fmt.Fprintf(ew, ": %s", run.DeviceName)
		}
		if run.Threads > 0 {
			fmt.Fprintf(ew, ", %d threads", run.Threads)
		}
		fmt.Fprintln(ew, " ==")
		for _, n := range run.Notes {
			fmt.Fprintf(ew, "note: %s\n", n)
		}
		writeGroups(ew, run)
		switch {
		case run.Error != "" && len(run.Results) == 0:
			fmt.Fprintf(ew, "%s: not measured: %s\n", run.Device, run.Error)
		case run.Error != "":
			fmt.Fprintf(ew, "%s: stopped early: %s\n", run.Device, run.Error)
		}
	}
	return ew.err
}

func writeGroups(w io.Writer, run Run) {
	sections := []struct {
		group, title, header string
		row                  func(Result) string
	}{
		{GroupMatMul, "matrix products C = op(A)·op(B), GFLOP/s = 2·m·n·k / s (fwd y = x·Wᵀ, dx = dz·W, dW = dzᵀ·x)",
			"op\tm×n×k\tA·B\tmedian\tGFLOP/s\tspread",
			func(r Result) string {
				return fmt.Sprintf("%s\t%d×%d×%d\t%s\t%s\t%s\t%s", r.Label, r.M, r.N, r.K, transposes(r), FormatDuration(r.Seconds.Median), FormatNumber(r.Value), pct(r.Seconds.Spread()))
			}},
		{GroupElementwise, BytesConvention,
			"op\telements\tmedian\tGB/s\tspread",
			func(r Result) string {
				return fmt.Sprintf("%s\t%d\t%s\t%s\t%s", r.Label, r.Elements, FormatDuration(r.Seconds.Median), FormatNumber(r.Value), pct(r.Seconds.Spread()))
			}},
		{GroupStep, "training step (seed-mlp-gan TrainStep: G forward, D step, G step, both Adam updates; random images uploaded once)",
			"batch\tmedian\tsteps/s\timages/s\tspread",
			func(r Result) string {
				return fmt.Sprintf("%d\t%s\t%s\t%s\t%s", r.Batch, FormatDuration(r.Seconds.Median), FormatNumber(r.Value), FormatNumber(r.ImagesPerS), pct(r.Seconds.Spread()))
			}},
		{GroupConv, "DCGAN convolution products with their Im2Col or Col2Im, GFLOP/s = 2·m·n·k / s of the product (see bench.ConvProducts)",
			"op\tm×n×k\tA·B\tmedian\tGFLOP/s\tspread",
			func(r Result) string {
				return fmt.Sprintf("%s\t%d×%d×%d\t%s\t%s\t%s\t%s", r.Label, r.M, r.N, r.K, transposes(r), FormatDuration(r.Seconds.Median), FormatNumber(r.Value), pct(r.Seconds.Spread()))
			}},
		{GroupDCGANStep, "DCGAN training step (dcgan TrainStep at " + fmt.Sprintf("%d×%d", dcganSizeOr(run.DCGANSize), dcganSizeOr(run.DCGANSize)) + ": D on real and fake, Adam on D, G through the updated D, Adam on G)",
			"batch\tmedian\tsteps/s\timages/s\tspread",
			func(r Result) string {
				return fmt.Sprintf("%d\t%s\t%s\t%s\t%s", r.Batch, FormatDuration(r.Seconds.Median), FormatNumber(r.Value), FormatNumber(r.ImagesPerS), pct(r.Seconds.Spread()))
			}},
		{GroupTextStep, "char-gpt training step (TrainStep at the family's default shape: 4 layers, 4 heads, width 128; forward, backward, Adam)",
			"op\tmedian\tsteps/s\tchars/s\tspread",
			func(r Result) string {
				return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", r.Label, FormatDuration(r.Seconds.Median), FormatNumber(r.Value), FormatNumber(r.ImagesPerS), pct(r.Seconds.Spread()))
			}},
		{GroupPixelCNNStep, "PixelCNN training step (TrainStep of the default network, h 32, 5 blocks: binarisation, forward, backward, Adam)",
			"op\tmedian\tsteps/s\timages/s\tspread",
			func(r Result) string {
				return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", r.Label, FormatDuration(r.Seconds.Median), FormatNumber(r.Value), FormatNumber(r.ImagesPerS), pct(r.Seconds.Spread()))
			}},
		{GroupEpoch, "seconds per epoch of the seed configuration, derived: ⌈60000/batch⌉ steps × median step time",
			"batch\tsteps\ts/epoch\tspread",
			func(r Result) string {
				return fmt.Sprintf("%d\t%d\t%s\t%s", r.Batch, (SeedEpochImages+r.Batch-1)/r.Batch, FormatNumber(r.Value), pct(r.Seconds.Spread()))
			}},
	}
	for _, sec := range sections {
		var rows []string
		for _, r := range run.Results {
			if r.Group == sec.group {
				rows = append(rows, sec.row(r))
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s\n", sec.title)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, sec.header+"\t")
		fmt.Fprintln(tw, strings.Join(rows, "\t\n")+"\t")
		tw.Flush()
	}
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, nil
}
