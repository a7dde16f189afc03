package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"gan/nn"
	"gan/nn/eval"
	"gan/nn/model"
)

// metrics.csv has one row per training step. Its columns are
//
//	step,epoch,<each statistic of the model>,seconds,grad_norm_<each network>,fid,inception_score,class_kl,classes_covered,confident,nn_distance
//
// where the statistics are the model's [model.Stat] names in order (for the
// seed GAN d_loss,g_loss,D(x),D(G(z))) and the networks its [model.Net]
// names. Gradient norms are empty without the divergence watch, the
// evaluation metrics except on rows of --eval-every evaluations. A
// conditional model's files end with its per-class columns (condColumns:
// label_acc,label_acc_min,class_fid_mean,label_acc_0…,class_fid_0…).
// Files of earlier versions end at seconds.

// evalColumns name the --eval-every metrics, in the order of evalPoint.values.
var evalColumns = []string{"fid", "inception_score", "class_kl", "classes_covered", "confident", "nn_distance"}

// gradPrefix starts the name of a gradient-norm column.
const gradPrefix = "grad_norm_"

// metricsLayout names the model-dependent columns of metrics.csv.
type metricsLayout struct {
	stats []string // statistics, between epoch and seconds
	nets  []string // networks whose gradient norms follow seconds
	// classes is a conditional model's number of classes, whose columns
	// (condColumns) end the file; 0 for other models.
	classes int
}

// layoutOf is the layout of m's metrics.
func layoutOf(m model.Model) metricsLayout {
	var l metricsLayout
	for _, s := range m.Stats() {
		l.stats = append(l.stats, s.Name)
	}
	for _, n := range m.Nets() {
		l.nets = append(l.nets, n.Name)
	}
	if g, ok := m.(model.ConditionalGenerator); ok {
		l.classes = g.Classes()
	}
	return l
}

// columns lists every column name in file order.
func (l metricsLayout) columns() []string {
	cols := append([]string{"step", "epoch"}, l.stats...)
	cols = append(cols, "seconds")
	for _, n := range l.nets {
		cols = append(cols, gradPrefix+n)
	}
	return append(append(cols, evalColumns...), condColumns(l.classes)...)
}

// header is the file's first line, without the newline.
func (l metricsLayout) header() string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(l.columns())
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

// metricRow is one line of metrics.csv. Optional values are NaN where
// they were not measured: the gradient norms without the divergence watch,
// the evaluation metrics except on rows of --eval-every epochs.
type metricRow struct {
	step, epoch int
	stats       []float64 // in the order of the layout's stats
	seconds     float64
	grads       []float64 // in the order of the layout's nets
	ev          evalPoint
}

// evalPoint holds the metrics of one --eval-every evaluation.
type evalPoint struct {
	fid, is, kl, covered, confident, nnDist float64
	cond                                    []float64 // a conditional model's condColumns (NaN: not measured)
}

// noEval is an evalPoint of a row without evaluation.
var noEval = evalPoint{math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), nil}

// has reports whether the row carries an evaluation.
func (e evalPoint) has() bool { return !math.IsNaN(e.fid) }

func (e evalPoint) values() []float64 {
	return []float64{e.fid, e.is, e.kl, e.covered, e.confident, e.nnDist}
}

func (e *evalPoint) fields() []*float64 {
	return []*float64{&e.fid, &e.is, &e.kl, &e.covered, &e.confident, &e.nnDist}
}

// appendRow appends r as one line of metrics.csv.
func appendRow(b []byte, r metricRow) []byte {
	b = strconv.AppendInt(b, int64(r.step), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(r.epoch), 10)
	opt := func(v float64) {
		b = append(b, ',')
		if !math.IsNaN(v) {
			b = fmt.Appendf(b, "%.6g", v)
		}
	}
	for _, v := range r.stats {
		opt(v)
	}
	b = fmt.Appendf(b, ",%.3f", r.seconds)
	for _, v := range r.grads {
		opt(v)
	}
	for _, v := range r.ev.values() {
		opt(v)
	}
	for _, v := range r.ev.cond {
		opt(v)
	}
	return append(b, '\n')
}

// metricsTable is the contents of a metrics.csv.
type metricsTable struct {
	metricsLayout
	head []string // the columns as read (nil for a table not read from a file)
	rows []metricRow
}

// stat returns the value of the statistic named name (NaN when absent).
func (t *metricsTable) stat(r metricRow, name string) float64 {
	if i := slices.Index(t.stats, name); i >= 0 {
		return r.stats[i]
	}
	return math.NaN()
}

// convert returns r with the columns of layout l, matched by name (NaN
// where r has no such column).
func (t *metricsTable) convert(r metricRow, l metricsLayout) metricRow {
	out := metricRow{step: r.step, epoch: r.epoch, seconds: r.seconds, ev: r.ev,
		stats: make([]float64, len(l.stats)), grads: make([]float64, len(l.nets))}
	for i, name := range l.stats {
		out.stats[i] = t.stat(r, name)
	}
	for i, name := range l.nets {
		out.grads[i] = math.NaN()
		if k := slices.Index(t.nets, name); k >= 0 {
			out.grads[i] = r.grads[k]
		}
	}
	out.ev.cond = nanValues(len(condColumns(l.classes)))
	if t.classes == l.classes {
		copy(out.ev.cond, r.ev.cond)
	}
	return out
}

// metricsLog appends one row per step to metrics.csv and keeps the rows in
// memory for the plots. A row is written (and handed to the operating
// system) as soon as it is complete, so that a killed run loses at most
// the row being written; the last row of an epoch with an evaluation is
// held back until the evaluation has filled its columns.
type metricsLog struct {
	metricsTable
	path    string
	f       *os.File
	buf     []byte
	written int // rows already in the file
}

// openMetrics opens path for a run of layout l that continues after step.
// A fresh run (step 0) starts an empty log. A resumed run appends to the
// rows of steps up to its checkpoint's. Rows of later steps (written after
// that checkpoint by a run that was then killed) are dropped so that no
// step appears twice, as is a last line cut short by a kill; the file is
// then rewritten atomically with the rows it keeps before anything is
// appended, as it is when it has the columns of another layout (an earlier
// version's). It also returns the training seconds recorded so far.
func openMetrics(path string, l metricsLayout, step int) (*metricsLog, float64, error) {
	m := &metricsLog{path: path, metricsTable: metricsTable{metricsLayout: l}}
	var seconds float64
	rewrite := true
	if step > 0 {
		raw, err := os.ReadFile(path)
		if err != nil && !os.IsNotExist(err) {
			return nil, 0, fmt.Errorf("metrics: %w", err)
		}
		if complete := raw[:bytes.LastIndexByte(raw, '\n')+1]; len(complete) > 0 {
			old, err := parseMetrics(complete, path)
			if err != nil {
				return nil, 0, fmt.Errorf("resuming the metrics log (move it away to start a new one): %w", err)
			}
			for _, r := range old.rows {
				if r.step <= step {
					m.rows = append(m.rows, old.convert(r, l))
					seconds = r.seconds
				}
			}
			rewrite = len(complete) != len(raw) || len(m.rows) != len(old.rows) || !slices.Equal(old.head, l.columns())
		}
	}
	if rewrite {
		err := nn.WriteFileAtomic(path, func(w io.Writer) error {
			b := append([]byte(l.header()), '\n')
			for _, r := range m.rows {
				b = appendRow(b, r)
			}
			_, err := w.Write(b)
			return err
		})
		if err != nil {
			return nil, 0, fmt.Errorf("metrics: %w", err)
		}
	}
	m.written = len(m.rows)
	var err error
	if m.f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0); err != nil {
		return nil, 0, fmt.Errorf("metrics: %w", err)
	}
	return m, seconds, nil
}

// add records the row of a finished step; grads are the gradient norms in
// the order of the layout's nets (nil when not measured). Unless hold is
// set, the row is written at once with any row held before it; a held row
// waits for [metricsLog.setEval] and [metricsLog.flush].
func (m *metricsLog) add(p model.Progress, seconds float64, grads []float64, hold bool) error {
	r := metricRow{step: p.Step, epoch: p.Epoch + 1, stats: slices.Clone(p.Stats), seconds: seconds, ev: noEval}
	r.ev.cond = nanValues(len(condColumns(m.classes)))
	r.grads = make([]float64, len(m.nets))
	for i := range r.grads {
		r.grads[i] = math.NaN()
		if i < len(grads) {
			r.grads[i] = grads[i]
		}
	}
	m.rows = append(m.rows, r)
	if hold {
		return nil
	}
	return m.flush()
}

// setEval records an evaluation on the last row, which must not have been
// written yet.
func (m *metricsLog) setEval(e evalPoint) {
	if len(m.rows) > m.written {
		m.rows[len(m.rows)-1].ev = e
	}
}

// flush writes the rows not yet written.
func (m *metricsLog) flush() error {
	if m.written == len(m.rows) {
		return nil
	}
	m.buf = m.buf[:0]
	for _, r := range m.rows[m.written:] {
		m.buf = appendRow(m.buf, r)
	}
	if _, err := m.f.Write(m.buf); err != nil {
		return fmt.Errorf("writing %s: %w", m.path, err)
	}
	m.written = len(m.rows)
	return nil
}

func (m *metricsLog) close() error {
	err := m.flush()
	if cerr := m.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing %s: %w", m.path, cerr)
	}
	return err
}

// readMetrics parses a metrics.csv written by this program: columns are
// found by name (see the top of this file), so files of every model and of
// earlier versions (which end at seconds) read alike.
func readMetrics(path string) (*metricsTable, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseMetrics(raw, path)
}

// parseMetrics parses the contents of the metrics.csv at path.
func parseMetrics(raw []byte, path string) (*metricsTable, error) {
	r := csv.NewReader(bytes.NewReader(raw))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: empty, not a metrics file of this program", path)
	}
	head := recs[0]
	sec := slices.Index(head, "seconds")
	if len(head) < 3 || head[0] != "step" || head[1] != "epoch" || sec < 2 {
		return nil, fmt.Errorf("%s: not a metrics file of this program (header %q, want step,epoch,<statistics>,seconds,…)", path, strings.Join(head, ","))
	}
	t := &metricsTable{head: head}
	t.stats = slices.Clone(head[2:sec])
	// Where each column after seconds goes: a gradient norm, an
	// evaluation metric, or nowhere (a column this version does not know).
	type dest struct{ grad, ev, cond int }
	dests := make([]dest, len(head))
	t.classes = condClasses(head)
	condCols := condColumns(t.classes)
	for k := sec + 1; k < len(head); k++ {
		dests[k] = dest{-1, -1, -1}
		if name, ok := strings.CutPrefix(head[k], gradPrefix); ok {
			dests[k].grad = len(t.nets)
			t.nets = append(t.nets, name)
		} else if i := slices.Index(evalColumns, head[k]); i >= 0 {
			dests[k].ev = i
		} else if i := slices.Index(condCols, head[k]); i >= 0 {
			dests[k].cond = i
		}
	}
	t.rows = make([]metricRow, 0, len(recs)-1)
	for i, rec := range recs[1:] {
		line := i + 2
		if len(rec) != len(head) {
			return nil, fmt.Errorf("%s: line %d: %d fields, the header has %d", path, line, len(rec), len(head))
		}
		row := metricRow{stats: make([]float64, sec-2), grads: make([]float64, len(t.nets)), ev: noEval}
		row.ev.cond = nanValues(len(condCols))
		var errs [3]error
		row.step, errs[0] = strconv.Atoi(rec[0])
		row.epoch, errs[1] = strconv.Atoi(rec[1])
		row.seconds, errs[2] = strconv.ParseFloat(rec[sec], 64)
		for _, e := range errs {
			if e != nil {
				return nil, fmt.Errorf("%s: line %d: %w", path, line, e)
			}
		}
		parse := func(field string) (float64, error) {
			if field == "" {
				return math.NaN(), nil
			}
			v, err := strconv.ParseFloat(field, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: line %d: %w", path, line, err)
			}
			return v, nil
		}
		var err error
		for k := 2; k < sec; k++ {
			if row.stats[k-2], err = parse(rec[k]); err != nil {
				return nil, err
			}
		}
		evs := row.ev.fields()
		for k := sec + 1; k < len(head); k++ {
			v, err := parse(rec[k])
			if err != nil {
				return nil, err
			}
			switch d := dests[k]; {
			case d.grad >= 0:
				row.grads[d.grad] = v
			case d.ev >= 0:
				*evs[d.ev] = v
			case d.cond >= 0:
				row.ev.cond[d.cond] = v
			}
		}
		t.rows = append(t.rows, row)
	}
	return t, nil
}

// warningsFile is the divergence watch's log in the run directory: one
// JSON object (an eval.Warning) per line.
const warningsFile = "warnings.jsonl"

// warningsLog appends the divergence watch's warnings to warnings.jsonl,
// each as soon as it is raised.
type warningsLog struct {
	path string
	f    *os.File
}

// openWarnings opens path for a run that continues after step. A fresh run
// (step 0) starts an empty file; a resumed one appends to the warnings of
// steps up to its checkpoint's, dropping later ones and a last line cut
// short by a kill as openMetrics does for rows (the file is then rewritten
// atomically first).
func openWarnings(path string, step int) (*warningsLog, error) {
	var keep []eval.Warning
	rewrite := true
	if step > 0 {
		raw, err := os.ReadFile(path)
		if err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("warnings: %w", err)
		}
		complete := raw[:bytes.LastIndexByte(raw, '\n')+1]
		ws, err := parseWarnings(complete, path)
		if err != nil {
			return nil, fmt.Errorf("resuming the warnings log (move it away to start a new one): %w", err)
		}
		for _, w := range ws {
			if w.Step <= step {
				keep = append(keep, w)
			}
		}
		rewrite = len(raw) == 0 || len(complete) != len(raw) || len(keep) != len(ws)
	}
	if rewrite {
		err := nn.WriteFileAtomic(path, func(w io.Writer) error {
			var b []byte
			for _, x := range keep {
				line, err := json.Marshal(x)
				if err != nil {
					return err
				}
				b = append(append(b, line...), '\n')
			}
			_, err := w.Write(b)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("warnings: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("warnings: %w", err)
	}
	return &warningsLog{path: path, f: f}, nil
}

// add appends one warning to the file.
func (l *warningsLog) add(w eval.Warning) error {
	b, err := json.Marshal(w)
	if err != nil {
		return fmt.Errorf("warnings: %w", err)
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("writing %s: %w", l.path, err)
	}
	return nil
}

func (l *warningsLog) close() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", l.path, err)
	}
	return nil
}

// readWarnings parses a warnings.jsonl written by this program.
func readWarnings(path string) ([]eval.Warning, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseWarnings(raw, path)
}

// parseWarnings parses the contents of the warnings.jsonl at path.
func parseWarnings(raw []byte, path string) ([]eval.Warning, error) {
	var ws []eval.Warning
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
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
