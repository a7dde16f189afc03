package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gan/nn"
)

// progress shows how an epoch advances: a redrawn bar with steps/s and ETA
// on a terminal, a plain line every 10 seconds otherwise (logs, pipes).
type progress struct {
	w        io.Writer
	terminal bool
	last     time.Time
	lastStep int
	rate     float64 // steps/s, smoothed
	shown    bool
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, last: time.Now()}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

func (p *progress) step(pr nn.Progress) {
	now := time.Now()
	dt := now.Sub(p.last).Seconds()
	every := 10.0
	if p.terminal {
		every = 0.2
	}
	if dt < every {
		return
	}
	r := float64(pr.Step-p.lastStep) / dt
	if p.rate == 0 {
		p.rate = r
	} else {
		p.rate = 0.7*p.rate + 0.3*r
	}
	p.last, p.lastStep = now, pr.Step
	done := pr.Batch + 1
	eta := time.Duration(float64(pr.Batches-done)/p.rate) * time.Second
	if p.terminal {
		const width = 30
		fill := width * done / pr.Batches
		fmt.Fprintf(p.w, "\r\x1b[2Kepoch %d/%d [%s%s] %d/%d  %.1f steps/s  ETA %s  d_loss %.3f g_loss %.3f",
			pr.Epoch+1, pr.Epochs, strings.Repeat("=", fill), strings.Repeat(" ", width-fill),
			done, pr.Batches, p.rate, eta.Round(time.Second), pr.Stats.DLoss, pr.Stats.GLoss)
		p.shown = true
		return
	}
	fmt.Fprintf(p.w, "epoch %d/%d  step %d/%d  %.1f steps/s  ETA %s  d_loss %.4f  g_loss %.4f\n",
		pr.Epoch+1, pr.Epochs, done, pr.Batches, p.rate, eta.Round(time.Second), pr.Stats.DLoss, pr.Stats.GLoss)
}

// clear removes the bar before other output.
func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[2K")
		p.shown = false
	}
}
