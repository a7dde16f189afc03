package text

// Measures of generated text that need no model of the generator: the
// diversity of its n-grams (distinct-n), and how well a character n-gram
// model fitted to the samples explains real text — the issue's
// "validation-set NLL under the best autoregressive model of samples'
// n-gram statistics". Samples that cover the language make a model that
// predicts the validation text well; samples that repeat a few phrases, or
// that are noise, make one that predicts it badly. Both measures apply to
// any generator of text (an autoregressive model or a GAN).

import (
	"errors"
	"fmt"
	"math"
)

// Distinct returns distinct-n of the samples: the number of different
// n-grams (n consecutive ids inside one sample; none spans two samples)
// over the number of n-grams, in [0, 1]. It is 0 when no sample has n ids.
func Distinct(samples [][]int32, n int) float64 {
	if n < 1 {
		return 0
	}
	seen := map[string]struct{}{}
	total := 0
	var buf []byte
	for _, s := range samples {
		for i := 0; i+n <= len(s); i++ {
			buf = appendKey(buf[:0], s[i:i+n])
			if _, ok := seen[string(buf)]; !ok {
				seen[string(buf)] = struct{}{}
			}
			total++
		}
	}
	if total == 0 {
		return 0
	}
	return float64(len(seen)) / float64(total)
}

// appendKey appends the ids as 4 bytes each: a map key of the n-gram.
func appendKey(b []byte, ids []int32) []byte {
	for _, id := range ids {
		b = append(b, byte(id), byte(id>>8), byte(id>>16), byte(id>>24))
	}
	return b
}

// NGram is an interpolated Kneser–Ney character model of order N (plain,
// one absolute discount D at every order; Chen & Goodman's "interpolated
// Kneser–Ney"): the highest order discounts the raw counts of the n-grams,
// each lower order the continuation counts (the number of different
// characters seen before the k-gram), the unigram level interpolates with
// the uniform distribution over the V characters of the vocabulary, so
// every character, seen or not, has a positive probability. A context the
// samples never show backs off to the next lower order whole.
type NGram struct {
	N, V int
	D    float64
	// levels[k-1] holds the k-grams: level N raw counts, lower levels
	// continuation counts.
	levels []ngramLevel
}

type ngramLevel struct {
	count map[string]int    // k-gram → count
	ctx   map[string]ctxSum // (k−1)-gram context → its totals
}

// ctxSum is Σ_w count(h w) and the number of w with count(h w) > 0.
type ctxSum struct{ total, types int }

// KNDiscount is the usual discount of interpolated Kneser–Ney.
const KNDiscount = 0.75

// FitNGram fits the order-n model to the samples (n-grams inside each
// sample) over a vocabulary of v characters, with discount d in (0, 1].
func FitNGram(samples [][]int32, n, v int, d float64) (*NGram, error) {
	if n < 1 || n > 16 {
		return nil, fmt.Errorf("n-gram order %d: must be between 1 and 16", n)
	}
	if v < 1 {
		return nil, errors.New("n-gram model: an empty vocabulary")
	}
	if !(d > 0 && d <= 1) {
		return nil, fmt.Errorf("n-gram discount %g: must be in (0, 1]", d)
	}
	m := &NGram{N: n, V: v, D: d, levels: make([]ngramLevel, n)}
	for k := range m.levels {
		m.levels[k] = ngramLevel{count: map[string]int{}, ctx: map[string]ctxSum{}}
	}
	var buf []byte
	for _, s := range samples {
		for _, id := range s {
			if id < 0 || int(id) >= v {
				return nil, fmt.Errorf("n-gram model: id %d outside the vocabulary of %d", id, v)
			}
		}
		// Level N: raw counts of the N-grams.
		for i := 0; i+n <= len(s); i++ {
			buf = appendKey(buf[:0], s[i:i+n])
			m.levels[n-1].count[string(buf)]++
		}
	}
	// Lower levels: the continuation count of a k-gram g is the number of
	// different (k+1)-grams x g, each counted once.
	for k := n - 1; k >= 1; k-- {
		for key := range m.levels[k].count {
			m.levels[k-1].count[key[4:]]++
		}
	}
	for k := range m.levels {
		lv := &m.levels[k]
		for key, c := range lv.count {
			h := key[:len(key)-4]
			s := lv.ctx[h]
			s.total += c
			s.types++
			lv.ctx[h] = s
		}
	}
	return m, nil
}

// Prob returns P(w | ctx), using the last N−1 ids of ctx (fewer when ctx
// is shorter: the levels below).
func (m *NGram) Prob(ctx []int32, w int32) float64 {
	var buf [64]byte
	return m.prob(buf[:0], ctx, w)
}

func (m *NGram) prob(buf []byte, ctx []int32, w int32) float64 {
	p := 1 / float64(m.V)
	for k := 1; k <= m.N && k-1 <= len(ctx); k++ {
		h := ctx[len(ctx)-(k-1):]
		buf = appendKey(buf[:0], h)
		lv := &m.levels[k-1]
		s, ok := lv.ctx[string(buf)]
		if !ok || s.total == 0 {
			continue // an unseen context: the lower order's distribution
		}
		buf = appendKey(buf, []int32{w})
		c := lv.count[string(buf)]
		p = (max(float64(c)-m.D, 0) + m.D*float64(s.types)*p) / float64(s.total)
	}
	return p
}

// NLL is the mean negative log-likelihood in nats per character of ids
// under the model, each character after the first N−1 predicted from the
// N−1 before it.
func (m *NGram) NLL(ids []int32) (float64, error) {
	first := m.N - 1
	if len(ids) <= first {
		return 0, fmt.Errorf("n-gram NLL: %d characters, need more than %d", len(ids), first)
	}
	buf := make([]byte, 0, 4*m.N)
	sum := 0.0
	for i := first; i < len(ids); i++ {
		if ids[i] < 0 || int(ids[i]) >= m.V {
			return 0, fmt.Errorf("n-gram NLL: id %d outside the vocabulary of %d", ids[i], m.V)
		}
		sum -= math.Log(m.prob(buf, ids[i-first:i], ids[i]))
	}
	return sum / float64(len(ids)-first), nil
}

// SampleMeasures are the measures of generated text.
type SampleMeasures struct {
	// Chars is the number of characters measured.
	Chars int `json:"chars"`
	// Distinct[i] is distinct-(i+1).
	Distinct [4]float64 `json:"distinct_1_to_4"`
	// NGramOrder and NGramDiscount are the interpolated Kneser–Ney model's.
	NGramOrder    int     `json:"ngram_order"`
	NGramDiscount float64 `json:"ngram_discount"`
	// NGramNLL is the validation text's NLL (nats/char) under the model of
	// the samples.
	NGramNLL float64 `json:"ngram_val_nll"`
}

// DefaultNGramOrder is the order of the samples' n-gram model: with a few
// tens of thousands of characters of samples, 4-grams are seen often
// enough to count.
const DefaultNGramOrder = 4

// Measure returns the measures of the samples against the validation ids
// val, over a vocabulary of v characters, with an n-gram model of order
// n (discount KNDiscount).
func Measure(samples [][]int32, val []int32, v, n int) (SampleMeasures, error) {
	r := SampleMeasures{NGramOrder: n, NGramDiscount: KNDiscount}
	for _, s := range samples {
		r.Chars += len(s)
	}
	for i := range r.Distinct {
		r.Distinct[i] = Distinct(samples, i+1)
	}
	m, err := FitNGram(samples, n, v, KNDiscount)
	if err != nil {
		return r, err
	}
	if r.NGramNLL, err = m.NLL(val); err != nil {
		return r, err
	}
	return r, nil
}
