package main

// The text models (char-gpt, char-gru): their flags, gan train on text,
// and the text branches of gan sample and gan eval.

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"gan/nn"
	"gan/nn/model"
	"gan/nn/models/chargpt"
	"gan/nn/models/chargru"
	"gan/nn/models/textgan"
	"gan/nn/text"
)

// textFlags are gan train's flags of the text families.
type textFlags struct {
	text, cell                 string
	block, layers, heads, embd int
	dropout                    float64
	evalIters                  int
	tau                        float64
}

func (t *textFlags) register(fs *flag.FlagSet) {
	def, rnn := chargpt.DefaultConfig(), chargru.DefaultConfig()
	fs.StringVar(&t.text, "text", "", "text models: train on this UTF-8 text file (default: the fortunes corpus of Debian's fortunes package, "+text.DefaultDir+"); the first 90% trains, the last 10% validates")
	fs.IntVar(&t.block, "block", def.Context, fmt.Sprintf("char-gpt: context length in characters (nanoGPT's block_size; shakespeare_char: 256); char-gru: characters of backpropagation through time (default %d)", rnn.Context))
	fs.IntVar(&t.layers, "n-layer", def.Layers, fmt.Sprintf("char-gpt: Transformer blocks (shakespeare_char: 6); char-gru: stacked recurrent layers (default %d)", rnn.Layers))
	fs.IntVar(&t.heads, "n-head", def.Heads, "char-gpt: attention heads (shakespeare_char: 6)")
	fs.IntVar(&t.embd, "n-embd", def.Embd, fmt.Sprintf("char-gpt: embedding width, a multiple of --n-head (shakespeare_char: 384); char-gru: character embedding width (default %d; its recurrent width is --hidden, default %d)", rnn.Embd, rnn.Hidden))
	fs.Float64Var(&t.dropout, "dropout", float64(def.Dropout), "text models: dropout probability (shakespeare_char: 0.2; char-gru: on the embeddings, between recurrent layers and on the outputs)")
	fs.StringVar(&t.cell, "cell", rnn.Cell, "char-gru: recurrent cell, gru or lstm (PyTorch's nn.GRU and nn.LSTM)")
	fs.IntVar(&t.evalIters, "eval-iters", 20, "text models: validation batches per validation loss (nanoGPT's eval_iters)")
	fs.Float64Var(&t.tau, "tau", float64(textgan.DefaultConfig().Tau), fmt.Sprintf("text-gan: Gumbel-softmax temperature τ of G's relaxed characters, in (0, %d]", textgan.MaxTau))
}

// isTextModel reports whether the family trains on text.
func isTextModel(name string) bool {
	return name == chargpt.Name || name == chargru.Name || name == textgan.Name
}

// textOnlyFlags are the flags that mean nothing to an image family.
var textOnlyFlags = []string{"text", "block", "n-layer", "n-head", "n-embd", "dropout", "eval-iters", "cell", "tau"}

// checkNoTextFlags refuses text flags for an image family.
func checkNoTextFlags(model string, set map[string]bool) error {
	for _, name := range textOnlyFlags {
		if set[name] {
			return usagef("--%s: only for text models (--model %s, %s or %s), not %s", name, chargpt.Name, chargru.Name, textgan.Name, model)
		}
	}
	return nil
}

// resumesText reports whether --resume names a text model's checkpoint
// without --model (the run then takes the checkpoint's family).
func resumesText(f *trainFlags, set map[string]bool) bool {
	if f.resume == "" || set["model"] {
		return false
	}
	t, err := nn.ReadTensorsFile(f.resume)
	if err != nil || !model.IsCheckpoint(t) {
		return false
	}
	c, err := model.ConfigOf(t)
	return err == nil && isTextModel(c.Model)
}

// apply puts the flags given into cfg and names the corpus.
func (t *textFlags) apply(cfg *model.Config, set map[string]bool) error {
	for _, name := range []string{"data", "images", "dataset", "channels", "size", "loss", "arch", "n-critic", "hidden", "blocks", "eval-every"} {
		if set[name] && !(name == "hidden" && (cfg.Model == chargru.Name || cfg.Model == textgan.Name)) {
			return usagef("--%s: not for --model %s (a text model takes --text)", name, cfg.Model)
		}
	}
	if set["cell"] {
		if cfg.Model != chargru.Name {
			return usagef("--cell: only for --model %s, not %s", chargru.Name, cfg.Model)
		}
		if t.cell != "gru" && t.cell != "lstm" {
			return usagef("--cell %q: gru or lstm", t.cell)
		}
		cfg.Cell = t.cell
	}
	if set["tau"] {
		if cfg.Model != textgan.Name {
			return usagef("--tau: only for --model %s, not %s", textgan.Name, cfg.Model)
		}
		if !(t.tau > 0) || t.tau > textgan.MaxTau {
			return usagef("--tau %g: the Gumbel-softmax temperature must be in (0, %d]", t.tau, textgan.MaxTau)
		}
		cfg.Tau = float32(t.tau)
	}
	if set["text"] {
		if t.text == "" {
			return usagef("--text: give a file")
		}
		cfg.Dataset = t.text
	}
	if set["block"] {
		cfg.Context = t.block
	}
	if set["n-layer"] {
		cfg.Layers = t.layers
	}
	if set["n-head"] {
		cfg.Heads = t.heads
	}
	if set["n-embd"] {
		cfg.Embd = t.embd
	}
	if set["dropout"] {
		cfg.Dropout = float32(t.dropout)
	}
	if t.evalIters < 1 || t.evalIters > 10000 {
		return usagef("--eval-iters %d: must be between 1 and 10000", t.evalIters)
	}
	return nil
}

// applyText is textFlags.apply and --hidden (a flag of arFlags: char-gru's
// recurrent width; apply refuses it for the other text models).
func (f *trainFlags) applyText(cfg *model.Config, set map[string]bool) error {
	if err := f.text.apply(cfg, set); err != nil {
		return err
	}
	if set["hidden"] {
		cfg.Hidden = f.ar.hidden
	}
	return nil
}

// runTrainText is gan train for a text model: cfg holds the flags (not
// yet validated: the vocabulary comes from the corpus).
func runTrainText(f *trainFlags, cfg model.Config, set map[string]bool, stdout, stderr io.Writer) error {
	if err := f.applyText(&cfg, set); err != nil {
		return err
	}
	if f.resume != "" {
		t, err := nn.ReadTensorsFile(f.resume)
		if err != nil {
			return fmt.Errorf("--resume: %w", err)
		}
		ck, err := model.ConfigOf(t)
		if err != nil {
			return fmt.Errorf("--resume %s: %w", f.resume, err)
		}
		if !set["model"] && ck.Model != cfg.Model {
			// The checkpoint's family, with the flags given on top.
			f.model = ck.Model
			if cfg, err = f.config(set); err != nil {
				return err
			}
			if err := f.applyText(&cfg, set); err != nil {
				return err
			}
		}
		if !set["text"] {
			cfg.Dataset = ck.Dataset
		}
		cfg.Vocab = ck.Vocab
	}
	corpus, err := text.Load(cfg.Dataset)
	if err != nil {
		return err
	}
	if cfg.Vocab == "" {
		cfg.Vocab = corpus.Vocab.String()
	}
	if err := model.ValidateConfig(cfg); err != nil {
		return usagef("%v", err)
	}
	if len(corpus.Val) < cfg.Context+1 || len(corpus.Train) < cfg.Context+1 {
		return usagef("--block %d: the validation text of %s has %d characters, a block needs %d", cfg.Context, corpus.Name, min(len(corpus.Val), len(corpus.Train)), cfg.Context+1)
	}
	b, err := openDevice(f.device, stderr)
	if err != nil {
		return err
	}
	defer b.Close()
	var m model.Model
	if f.resume != "" {
		m, err = resumeModel(b, f.resume, cfg, set, stderr)
	} else {
		m, err = model.New(b, cfg)
	}
	if err != nil {
		return err
	}
	defer m.Free()
	tm, ok := m.(model.TextModel)
	if !ok {
		return fmt.Errorf("--model %s is not a text model", cfg.Model)
	}
	cfg = *m.Config()
	if cfg.Vocab != corpus.Vocab.String() {
		return fmt.Errorf("--text %s: its characters differ from the vocabulary of --resume %s (%d and %d characters)", corpus.Name, f.resume, corpus.Vocab.Size(), len([]rune(cfg.Vocab)))
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", f.out, err)
	}
	metrics, secondsBefore, err := openMetrics(filepath.Join(f.out, "metrics.csv"), layoutOf(m), m.Step())
	if err != nil {
		return err
	}
	defer metrics.close()
	ckpt := filepath.Join(f.out, "checkpoint.safetensors")
	fmt.Fprintf(stdout, "training %s on %s: %s (%d characters: %d train, %d validation; vocabulary of %d), %d epochs of %d steps, batch %d × block %d, lr %g, seed %d, from step %d; output in %s\n",
		cfg.Model, b.Name(), corpus.Name, len(corpus.Train)+len(corpus.Val), len(corpus.Train), len(corpus.Val), corpus.Vocab.Size(),
		cfg.Epochs, model.TextEpochSteps, cfg.Batch, cfg.Context, cfg.LR, cfg.Seed, m.Step(), f.out)
	stats := m.Stats()
	bar := newProgress(stderr, stats)
	bar.lastStep = m.Step()
	start := time.Now()
	ctx, stop := signal.NotifyContext(context.Background(), interruptSignals...)
	defer stop()
	trainErr := model.TrainText(ctx, tm, corpus, f.steps, f.text.evalIters, model.Hooks{
		OnStep: func(p model.Progress) error {
			bar.step(p)
			return metrics.add(p, secondsBefore+time.Since(start).Seconds(), nil, false)
		},
		OnEpoch: func(p model.Progress) error {
			bar.clear()
			if len(stats) > 1 && stats[1].Name == "val_loss" {
				fmt.Fprintf(stdout, "%s, val_bpc: %.4f\n", epochLine(p, stats), p.Stats[1]/math.Ln2)
			} else { // a GAN: no validation loss
				fmt.Fprintln(stdout, epochLine(p, stats))
			}
			return model.Save(m, ckpt)
		},
	})
	bar.clear()
	if err := metrics.flush(); err != nil {
		return err
	}
	if err := model.Save(m, ckpt); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if errors.Is(trainErr, context.Canceled) {
		fmt.Fprintf(stderr, "interrupted at step %d: checkpoint %s (--resume it to go on)\n", m.Step(), ckpt)
		return exitError{fmt.Errorf("interrupted at step %d", m.Step()), exitInterrupted}
	}
	if trainErr != nil {
		return trainErr
	}
	fmt.Fprintf(stdout, "done: %d steps in %.1f s; checkpoint %s\n", m.Step(), time.Since(start).Seconds(), ckpt)
	return nil
}

// textSampleFlags are gan sample's flags for text models.
type textSampleFlags struct {
	prompt      string
	chars       int
	temperature float64
}

func (t *textSampleFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.prompt, "prompt", "\n", "text models: the text to continue (its characters must be in the model's vocabulary)")
	fs.IntVar(&t.chars, "chars", 500, "text models: characters to generate after --prompt")
	fs.Float64Var(&t.temperature, "temperature", 1, "text models: divides the logits before the softmax (below 1: more likely characters)")
}

func (t *textSampleFlags) check() error {
	if t.chars < 0 || t.chars > 10_000_000 {
		return usagef("--chars %d: must be between 0 and 10000000", t.chars)
	}
	if !(t.temperature > 0) || t.temperature > 1e6 {
		return usagef("--temperature %g: must be positive (at most 1e6)", t.temperature)
	}
	return nil
}

// sampleText streams --chars characters after --prompt to stdout: the
// prompt first, then each character as it is drawn (from PurposeSample's
// stream 0 of seed, word i for character i).
func sampleText(m model.TextModel, t textSampleFlags, seed uint64, stdout io.Writer) error {
	vocab, err := text.NewVocab(m.Config().Vocab)
	if err != nil {
		return err
	}
	if t.prompt == "" {
		return usagef("--prompt: give at least one character")
	}
	ids, err := vocab.Encode(t.prompt)
	if err != nil {
		return usagef("--prompt: %v", err)
	}
	w := bufio.NewWriter(stdout)
	if _, err := w.WriteString(t.prompt); err != nil {
		return err
	}
	key := nn.RandKey{Seed: seed, Stream: nn.StreamID(nn.PurposeSample, 0)}
	err = m.Sample(ids, t.chars, float32(t.temperature), key, func(id int32) error {
		if _, err := w.WriteRune(vocab.Char(id)); err != nil {
			return err
		}
		if vocab.Char(id) == '\n' {
			return w.Flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if _, err := w.WriteString("\n"); err != nil {
		return err
	}
	return w.Flush()
}

// evalText prints a text model's validation loss on its corpus (or
// --text) in nats and bits per character, and the measures of its samples
// (texteval.go); o.jsonPath "-" writes JSON to stdout instead.
func evalText(m model.TextModel, path string, iters int, o textEvalOptions, stdout io.Writer) error {
	cfg := m.Config()
	if path == "" {
		path = cfg.Dataset
	}
	corpus, err := text.Load(path)
	if err != nil {
		return err
	}
	if corpus.Vocab.String() != cfg.Vocab {
		return fmt.Errorf("--text %s: its characters differ from the model's vocabulary (%d and %d characters)", corpus.Name, corpus.Vocab.Size(), len([]rune(cfg.Vocab)))
	}
	if len(corpus.Val) < cfg.Context+1 {
		return fmt.Errorf("--text %s: the validation text has %d characters, a block of the model needs %d", corpus.Name, len(corpus.Val), cfg.Context+1)
	}
	v, err := model.ValLoss(m, corpus, iters)
	noLik := errors.Is(err, model.ErrNoLikelihood) // a GAN: its samples only
	if err != nil && !noLik {
		return err
	}
	r := textEvalResult{Model: cfg.Model, Step: m.Step(), Corpus: corpus.Name, ValLoss: v, ValBPC: v / math.Ln2, EvalBatches: iters,
		Seed: o.seed, Temperature: textEvalTemperature}
	if noLik {
		r.EvalBatches, r.NoValLoss = 0, err.Error()
	}
	if r.Prompt, r.Samples, r.Real, err = measureTextSamples(m, corpus, o); err != nil {
		return err
	}
	if o.jsonPath == "-" {
		return writeTextEvalJSON(stdout, r)
	}
	if noLik {
		fmt.Fprintf(stdout, "%s at step %d on %s: validation loss: none (%s)\n", cfg.Model, m.Step(), corpus.Name, r.NoValLoss)
	} else {
		fmt.Fprintf(stdout, "%s at step %d on %s: validation loss %.4f nats/char, %.4f bits/char (%d batches of %d × %d characters)\n",
			cfg.Model, m.Step(), corpus.Name, v, v/math.Ln2, iters, cfg.Batch, cfg.Context)
	}
	writeTextMeasures(stdout, r)
	if o.jsonPath != "" {
		if err := nn.WriteFileAtomic(o.jsonPath, func(w io.Writer) error { return writeTextEvalJSON(w, r) }); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	return nil
}

// evalTextModel is gan eval's branch for text models: done reports
// whether m was one (and its validation loss printed). For an image model
// the text flags are usage errors.
func evalTextModel(m model.Model, path string, iters int, o textEvalOptions, set map[string]bool, stdout io.Writer) (done bool, err error) {
	tm, ok := m.(model.TextModel)
	if !ok {
		for _, name := range []string{"text", "eval-iters", "chars"} {
			if set[name] {
				return true, usagef("--%s: only for text models, not %s", name, m.Config().Model)
			}
		}
		return false, nil
	}
	if iters < 1 || iters > 100000 {
		return true, usagef("--eval-iters %d: must be between 1 and 100000", iters)
	}
	if o.chars < 100 || o.chars > 10_000_000 {
		return true, usagef("--chars %d: must be between 100 and 10000000", o.chars)
	}
	return true, evalText(tm, path, iters, o, stdout)
}
