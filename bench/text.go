package bench

import (
	"fmt"

	"gan/nn"
	"gan/nn/model"
	"gan/nn/models/chargpt"
	"gan/nn/text"
)

// The text group: the char-gpt training step at the family's default
// shape, the peer of bench/pytorch/bench_chargpt.py.
const (
	// GroupText selects the group in [Options.Groups] (`gan bench --what text`).
	GroupText = "text"
	// GroupTextStep holds the char-gpt training step (Value in steps/s;
	// ImagesPerS holds characters/s, Batch × block × steps/s).
	GroupTextStep = "text-step"
)

// TextVocabFallback is the vocabulary of the text group when the default
// corpus (Debian's fortunes) is missing: printable ASCII, a newline and a
// tab (97 characters; the fortunes corpus has about 110).
var TextVocabFallback = func() string {
	s := "\t\n"
	for c := ' '; c <= '~'; c++ {
		s += string(c)
	}
	return s
}()

// textStep times [chargpt.GPT.TrainStep] at the family's default
// configuration (nanoGPT's CPU shape of shakespeare_char: 4 layers, 4
// heads, width 128, block 64, batch 12) on random blocks of the default
// corpus's training text, or of random ids over [TextVocabFallback] when
// the corpus is not installed. Blocks are drawn for 4 steps ahead of the
// timing and reused in turn.
func (s *suite) textStep() error {
	cfg := chargpt.DefaultConfig()
	var ids []int32
	source := text.DefaultName
	if c, err := text.LoadDefault(); err == nil {
		cfg.Vocab, ids = c.Vocab.String(), c.Train
	} else {
		cfg.Vocab, source = TextVocabFallback, "random ids"
		ids = make([]int32, 1<<16)
		key := nn.RandKey{Seed: 0xbe4c, Stream: nn.StreamID(nn.PurposeTextBlocks, 0)}
		v := uint32(len([]rune(cfg.Vocab)))
		for i := range ids {
			ids[i] = int32(nn.Uniform32n(key.Uint32(uint64(i)), v))
		}
	}
	g, err := chargpt.New(s.b, cfg)
	if err != nil {
		return err
	}
	defer g.Free()
	n := cfg.Batch * (cfg.Context + 1)
	tokens := make([]int32, stepWindows*n)
	for w := range stepWindows {
		if err := text.Blocks(tokens[w*n:(w+1)*n], ids, cfg.Batch, cfg.Context, text.BlocksKey(0xbe4c, w, false)); err != nil {
			return err
		}
	}
	batch := &model.Batch{}
	st, err := s.timeSteps(func(w int) error {
		batch.Tokens = tokens[w*n : (w+1)*n]
		_, err := g.TrainStep(batch)
		return err
	})
	if err != nil {
		return err
	}
	sps := 1 / st.Median
	s.add(Result{Key: fmt.Sprintf("char-gpt-step/b%d", cfg.Batch), Group: GroupTextStep,
		Label: fmt.Sprintf("char-gpt step b%d×%d (%s, V %d)", cfg.Batch, cfg.Context, source, g.V),
		Batch: cfg.Batch, Seconds: st, Value: sps, Unit: UnitSteps, ImagesPerS: sps * float64(cfg.Batch*cfg.Context)})
	return nil
}
