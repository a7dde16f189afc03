package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gan/nn/model"
)

// progress shows how an epoch advances: a redrawn bar with steps/s, ETA
// and the model's losses on a terminal, a plain line every 10 seconds
// otherwise (logs, pipes).
type progress struct {
	w        io.Writer
	terminal bool
	last     time.Time
	lastStep int
	rate     float64 // steps/s, smoothed
	shown    bool
	losses   []int    // indices of the loss statistics
	names    []string // their names
}

func newProgress(w io.Writer, stats []model.Stat) *progress {
	p := &progress{w: w, last: time.Now()}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	for i, s := range stats {
		if s.Loss {
			p.losses = append(p.losses, i)
			p.names = append(p.names, s.Name)
		}
	}
	return p
}

// lossText formats the step's losses as "  name value", values with prec
// decimals, separated by sep.
func (p *progress) lossText(pr model.Progress, prec int, sep string) string {
	items := make([]string, len(p.losses))
	for k, i := range p.losses {
		items[k] = fmt.Sprintf("%s %.*f", p.names[k], prec, pr.Stats[i])
	}
	if len(items) == 0 {
		return ""
	}
	return "  " + strings.Join(items, sep)
}

func (p *progress) step(pr model.Progress) {
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
		fmt.Fprintf(p.w, "\r\x1b[2Kepoch %d/%d [%s%s] %d/%d  %.1f steps/s  ETA %s%s",
			pr.Epoch+1, pr.Epochs, strings.Repeat("=", fill), strings.Repeat(" ", width-fill),
			done, pr.Batches, p.rate, eta.Round(time.Second), p.lossText(pr, 3, " "))
		p.shown = true
		return
	}
	fmt.Fprintf(p.w, "epoch %d/%d  step %d/%d  %.1f steps/s  ETA %s%s\n",
		pr.Epoch+1, pr.Epochs, done, pr.Batches, p.rate, eta.Round(time.Second), p.lossText(pr, 4, "  "))
}

// clear removes the bar before other output.
func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[2K")
		p.shown = false
	}
}
