package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"gan/nn"
	"gan/nn/eval"
)

// baseHeader names the first columns of metrics.csv, those every version
// of this program writes; the divergence watch's gradient norms and the
// --eval-every metrics follow (empty where not measured).
const baseHeader = "step,epoch,d_loss,g_loss,D(x),D(G(z)),seconds"

// metricsHeader is the full header this version writes.
const metricsHeader = baseHeader + ",grad_norm_G,grad_norm_D,fid,inception_score,class_kl,classes_covered,confident,nn_distance"

// metricRow is one line of metrics.csv. Optional values are NaN where
// they were not measured: the gradient norms without the divergence watch,
// the evaluation metrics except on rows of --eval-every epochs.
type metricRow struct {
	step, epoch                    int
	dLoss, gLoss, dx, dgz, seconds float64
	gradG, gradD                   float64
	ev                             evalPoint
}

// evalPoint holds the metrics of one --eval-every evaluation.
type evalPoint struct {
	fid, is, kl, covered, confident, nnDist float64
}

// noEval is an evalPoint of a row without evaluation.
var noEval = evalPoint{math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()}

// has reports whether the row carries an evaluation.
func (e evalPoint) has() bool { return !math.IsNaN(e.fid) }

func (e evalPoint) values() []float64 {
	return []float64{e.fid, e.is, e.kl, e.covered, e.confident, e.nnDist}
}

// metricsLog collects one row per step for metrics.csv and keeps the rows
// in memory for the plots. Rows are written out on flush, so that an
// evaluation at the end of an epoch can still complete the epoch's last row.
type metricsLog struct {
	path    string
	f       *os.File
	w       *bufio.Writer
	rows    []metricRow
	written int // rows already handed to w
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
	return m, seconds, nil
}

func (m *metricsLog) write(r metricRow) {
	fmt.Fprintf(m.w, "%d,%d,%.6g,%.6g,%.6g,%.6g,%.3f", r.step, r.epoch, r.dLoss, r.gLoss, r.dx, r.dgz, r.seconds)
	for _, v := range append([]float64{r.gradG, r.gradD}, r.ev.values()...) {
		if math.IsNaN(v) {
			m.w.WriteString(",")
		} else {
			fmt.Fprintf(m.w, ",%.6g", v)
		}
	}
	m.w.WriteString("\n")
}

// add appends the row of a finished step; gradG and gradD are the
// gradient norms (NaN when not measured).
func (m *metricsLog) add(p nn.Progress, seconds, gradG, gradD float64) error {
	s := p.Stats
	r := metricRow{p.Step, p.Epoch + 1, float64(s.DLoss), float64(s.GLoss), float64(s.DX), float64(s.DGZ), seconds, gradG, gradD, noEval}
	m.rows = append(m.rows, r)
	return nil
}

// setEval records an evaluation on the last row.
func (m *metricsLog) setEval(e evalPoint) {
	if len(m.rows) > 0 {
		m.rows[len(m.rows)-1].ev = e
	}
}

// flush writes the rows not yet written and flushes the file.
func (m *metricsLog) flush() error {
	for _, r := range m.rows[m.written:] {
		m.write(r)
	}
	m.written = len(m.rows)
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
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: empty, not a metrics file of this program", path)
	}
	header := strings.Join(recs[0], ",")
	if header != metricsHeader && header != baseHeader { // baseHeader: files of earlier versions
		return nil, fmt.Errorf("%s: not a metrics file of this program (header %q)", path, metricsHeader)
	}
	rows := make([]metricRow, 0, len(recs)-1)
	for i, rec := range recs[1:] {
		r := metricRow{gradG: math.NaN(), gradD: math.NaN(), ev: noEval}
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
		opt := []*float64{&r.gradG, &r.gradD, &r.ev.fid, &r.ev.is, &r.ev.kl, &r.ev.covered, &r.ev.confident, &r.ev.nnDist}
		for k, field := range rec[7:] {
			if field == "" || k >= len(opt) {
				continue
			}
			v, err := strconv.ParseFloat(field, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: line %d: %w", path, i+2, err)
			}
			*opt[k] = v
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// warningsFile is the divergence watch's log in the run directory: one
// JSON object (an eval.Warning) per line.
const warningsFile = "warnings.jsonl"

// warningsLog appends the divergence watch's warnings to warnings.jsonl.
type warningsLog struct {
	path string
	f    *os.File
	w    *bufio.Writer
}

// openWarnings opens path for a run that continues after step, keeping
// only the warnings of earlier steps (as openMetrics does for rows).
func openWarnings(path string, step int) (*warningsLog, error) {
	var keep []eval.Warning
	if step > 0 {
		ws, err := readWarnings(path)
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		for _, w := range ws {
			if w.Step <= step {
				keep = append(keep, w)
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("warnings: %w", err)
	}
	l := &warningsLog{path: path, f: f, w: bufio.NewWriter(f)}
	for _, w := range keep {
		if err := l.add(w); err != nil {
			f.Close()
			return nil, err
		}
	}
	return l, nil
}

func (l *warningsLog) add(w eval.Warning) error {
	b, err := json.Marshal(w)
	if err != nil {
		return fmt.Errorf("warnings: %w", err)
	}
	l.w.Write(b)
	l.w.WriteByte('\n')
	return nil
}

func (l *warningsLog) flush() error {
	if err := l.w.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", l.path, err)
	}
	return nil
}

func (l *warningsLog) close() {
	l.flush()
	l.f.Close()
}

// readWarnings parses a warnings.jsonl written by this program.
func readWarnings(path string) ([]eval.Warning, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ws []eval.Warning
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var w eval.Warning
		if err := json.Unmarshal(sc.Bytes(), &w); err != nil {
			return nil, fmt.Errorf("%s: line %d: %w", path, line, err)
		}
		ws = append(ws, w)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ws, nil
}
