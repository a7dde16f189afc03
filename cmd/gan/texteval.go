package main

// gan eval's measures of a text model's samples (nn/text/metrics.go):
// distinct-n and the validation NLL of an n-gram model of the samples,
// beside the same measures of as much real training text.

import (
	"encoding/json"
	"fmt"
	"io"
	"math"

	"gan/nn"
	"gan/nn/model"
	"gan/nn/text"
)

// textEvalOptions are gan eval's flags for the samples of a text model.
type textEvalOptions struct {
	chars    int    // characters to generate
	seed     uint64 // of the draws (PurposeSample stream 0, as gan sample)
	jsonPath string // "" none, "-" stdout instead of the text
}

// textEvalResult is the JSON of gan eval for a text model.
type textEvalResult struct {
	Model       string  `json:"model"`
	Step        int     `json:"step"`
	Corpus      string  `json:"corpus"`
	ValLoss     float64 `json:"val_loss_nats,omitempty"`
	ValBPC      float64 `json:"val_bits_per_char,omitempty"`
	EvalBatches int     `json:"eval_batches,omitempty"`
	// NoValLoss says why a model has no validation loss (a GAN), in place
	// of the three above.
	NoValLoss   string  `json:"no_val_loss,omitempty"`
	Seed        uint64  `json:"seed"`
	Temperature float64 `json:"temperature"`
	Prompt      string  `json:"prompt"`
	// Samples are the measures of the model's text, Real those of as many
	// characters of the training text (20 evenly spaced stretches): the
	// figures a perfect model's samples would have.
	Samples text.SampleMeasures `json:"samples"`
	Real    text.SampleMeasures `json:"real_train_text"`
}

// textEvalTemperature is the temperature of the measured samples: the
// model's own distribution.
const textEvalTemperature = 1

// measureTextSamples draws o.chars characters from m after a newline (or
// the vocabulary's first character) and measures them and as much real
// training text against the validation text of corpus.
func measureTextSamples(m model.TextModel, corpus *text.Corpus, o textEvalOptions) (prompt string, samples, real text.SampleMeasures, err error) {
	v := corpus.Vocab
	prompt = "\n"
	ids, err := v.Encode(prompt)
	if err != nil {
		prompt, ids = string(v.Char(0)), []int32{0}
	}
	out := make([]int32, 0, o.chars)
	key := nn.RandKey{Seed: o.seed, Stream: nn.StreamID(nn.PurposeSample, 0)}
	if err := m.Sample(ids, o.chars, textEvalTemperature, key, func(id int32) error { out = append(out, id); return nil }); err != nil {
		return "", samples, real, fmt.Errorf("samples: %w", err)
	}
	if samples, err = text.Measure([][]int32{out}, corpus.Val, v.Size(), text.DefaultNGramOrder); err != nil {
		return "", samples, real, fmt.Errorf("samples: %w", err)
	}
	const stretches = 20
	var ref [][]int32
	per := max(o.chars/stretches, 1)
	for i := range stretches {
		start := min(i*len(corpus.Train)/stretches, len(corpus.Train)-per)
		ref = append(ref, corpus.Train[max(start, 0):min(max(start, 0)+per, len(corpus.Train))])
	}
	if real, err = text.Measure(ref, corpus.Val, v.Size(), text.DefaultNGramOrder); err != nil {
		return "", samples, real, fmt.Errorf("training text: %w", err)
	}
	return prompt, samples, real, nil
}

// writeTextMeasures prints the measures as two table rows.
func writeTextMeasures(w io.Writer, r textEvalResult) {
	fmt.Fprintf(w, "samples: %d characters at temperature %g from seed %d; distinct-n and the validation NLL of an interpolated Kneser–Ney %d-gram model (discount %g) fitted to them:\n",
		r.Samples.Chars, r.Temperature, r.Seed, r.Samples.NGramOrder, r.Samples.NGramDiscount)
	fmt.Fprintf(w, "  %-22s %8s %8s %8s %8s %14s\n", "text", "dist-1", "dist-2", "dist-3", "dist-4", "n-gram NLL")
	for _, row := range []struct {
		name string
		m    text.SampleMeasures
	}{{"samples", r.Samples}, {"training text (same n)", r.Real}} {
		fmt.Fprintf(w, "  %-22s %8.4f %8.4f %8.4f %8.4f %8.4f nats (%.4f bits)/char\n", row.name,
			row.m.Distinct[0], row.m.Distinct[1], row.m.Distinct[2], row.m.Distinct[3], row.m.NGramNLL, row.m.NGramNLL/math.Ln2)
	}
}

// writeTextEvalJSON writes r as indented JSON.
func writeTextEvalJSON(w io.Writer, r textEvalResult) error {
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
