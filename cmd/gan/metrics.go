package main

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"os"
	"strconv"
	"strings"

	"gan/nn"
)

const metricsHeader = "step,epoch,d_loss,g_loss,D(x),D(G(z)),seconds"

// metricRow is one line of metrics.csv.
type metricRow struct {
	step, epoch                    int
	dLoss, gLoss, dx, dgz, seconds float64
}

// metricsLog appends one row per step to metrics.csv and keeps the rows in
// memory for the loss plot.
type metricsLog struct {
	path string
	f    *os.File
	w    *bufio.Writer
	rows []metricRow
}

// openMetrics opens path for a run that continues after step: rows of later
// steps (written after the checkpoint a resumed run starts from) are
// dropped, so that the log matches the checkpoint. It also returns the
// training seconds recorded so far.
func openMetrics(path string, step int) (*metricsLog, float64, error) {
	m := &metricsLog{path: path}
	var seconds float64
	if step > 0 {
		rows, err := readMetrics(path)
		if err != nil && !os.IsNotExist(err) {
			return nil, 0, err
		}
		for _, r := range rows {
			if r.step <= step {
				m.rows = append(m.rows, r)
				seconds = r.seconds
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, 0, fmt.Errorf("metrics: %w", err)
	}
	m.f, m.w = f, bufio.NewWriter(f)
	fmt.Fprintln(m.w, metricsHeader)
	for _, r := range m.rows {
		m.write(r)
	}
	return m, seconds, nil
}

func (m *metricsLog) write(r metricRow) {
	fmt.Fprintf(m.w, "%d,%d,%.6g,%.6g,%.6g,%.6g,%.3f\n", r.step, r.epoch, r.dLoss, r.gLoss, r.dx, r.dgz, r.seconds)
}

func (m *metricsLog) add(p nn.Progress, seconds float64) error {
	s := p.Stats
	r := metricRow{p.Step, p.Epoch + 1, float64(s.DLoss), float64(s.GLoss), float64(s.DX), float64(s.DGZ), seconds}
	m.rows = append(m.rows, r)
	m.write(r)
	return nil
}

func (m *metricsLog) flush() error {
	if err := m.w.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", m.path, err)
	}
	return nil
}

func (m *metricsLog) close() {
	m.flush()
	m.f.Close()
}

// readMetrics parses a metrics.csv written by this program.
func readMetrics(path string) ([]metricRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) == 0 || strings.Join(recs[0], ",") != metricsHeader {
		return nil, fmt.Errorf("%s: not a metrics file of this program (header %q)", path, metricsHeader)
	}
	rows := make([]metricRow, 0, len(recs)-1)
	for i, rec := range recs[1:] {
		var r metricRow
		var errs [7]error
		r.step, errs[0] = strconv.Atoi(rec[0])
		r.epoch, errs[1] = strconv.Atoi(rec[1])
		r.dLoss, errs[2] = strconv.ParseFloat(rec[2], 64)
		r.gLoss, errs[3] = strconv.ParseFloat(rec[3], 64)
		r.dx, errs[4] = strconv.ParseFloat(rec[4], 64)
		r.dgz, errs[5] = strconv.ParseFloat(rec[5], 64)
		r.seconds, errs[6] = strconv.ParseFloat(rec[6], 64)
		for _, e := range errs {
			if e != nil {
				return nil, fmt.Errorf("%s: line %d: %w", path, i+2, e)
			}
		}
		rows = append(rows, r)
	}
	return rows, nil
}
