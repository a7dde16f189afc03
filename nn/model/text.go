package model

import (
	"context"
	"errors"
	"fmt"

	"gan/nn"
	"gan/nn/text"
)

// TextModel is a model of character sequences (char-gpt). Its Batch is
// Tokens (see [Batch]); its Config holds the vocabulary (Vocab) and the
// context length (Context). Its Stats start with the training loss and
// the latest validation loss, both mean nats per character.
type TextModel interface {
	Model
	// Loss returns the mean cross-entropy in nats of the next-character
	// predictions of the sequences in tokens (each Context+1 ids, at most
	// Batch of them), in evaluation mode (no dropout).
	Loss(tokens []int32) (float64, error)
	// SetValLoss records the latest validation loss: the statistic that
	// follows the training loss, from now on and in the slice the last
	// TrainStep returned.
	SetValLoss(v float64)
	// Sample draws n characters after the prompt (ids; at least one),
	// each from the softmax of the logits divided by temperature (> 0),
	// with the uniform numbers of key (word i for character i), and calls
	// emit with each as it is drawn. An error of emit stops it.
	Sample(prompt []int32, n int, temperature float32, key nn.RandKey, emit func(id int32) error) error
}

// ErrNoLikelihood is what the Loss of a text model without a likelihood
// (the text GAN: its generator assigns no probability to a given text)
// returns: such a model has no validation loss, and [TrainText] skips
// the measurement.
var ErrNoLikelihood = errors.New("no likelihood: a GAN's generator assigns no probability to given text, so it has no validation loss")

// TextEpochSteps is the number of steps of a text model's "epoch": the
// interval between validation measurements and checkpoints (nanoGPT's
// eval_interval for shakespeare_char), not a pass over the corpus (the
// batches are random blocks).
const TextEpochSteps = 250

// ValLoss estimates the validation loss of m as nanoGPT's estimate_loss:
// the mean over iters batches of random validation blocks (batch i from
// [text.BlocksKey] of the run's seed, so the estimate is a function of the
// weights alone).
func ValLoss(m TextModel, c *text.Corpus, iters int) (float64, error) {
	cfg := m.Config()
	tokens := make([]int32, cfg.Batch*(cfg.Context+1))
	sum := 0.0
	for i := range iters {
		if err := text.Blocks(tokens, c.Val, cfg.Batch, cfg.Context, text.BlocksKey(cfg.Seed, i, true)); err != nil {
			return 0, fmt.Errorf("validation text: %w", err)
		}
		l, err := m.Loss(tokens)
		if err != nil {
			return 0, err
		}
		sum += l
	}
	return sum / float64(iters), nil
}

// TrainText continues the text model m from m.Step() on the training
// split of c, as [Train] does for images: step s trains on Batch random
// blocks of the training text drawn from [text.BlocksKey](seed, s), so a
// resumed run continues exactly where the saved one was. An epoch is
// [TextEpochSteps] steps; the validation loss (over evalIters batches) is
// measured before the first step and after the last step of each epoch,
// before the hooks run.
func TrainText(ctx context.Context, m TextModel, c *text.Corpus, maxSteps, evalIters int, h Hooks) error {
	cfg := m.Config()
	if c.Vocab.String() != cfg.Vocab {
		return fmt.Errorf("text %s: its vocabulary differs from the model's (%d and %d characters)", c.Name, c.Vocab.Size(), len([]rune(cfg.Vocab)))
	}
	if evalIters < 1 {
		return fmt.Errorf("validation: %d batches", evalIters)
	}
	tokens := make([]int32, cfg.Batch*(cfg.Context+1))
	b := &Batch{Tokens: tokens}
	done := ctx.Done()
	measured := false
	for taken := 0; maxSteps <= 0 || taken < maxSteps; taken++ {
		select {
		case <-done:
			return ctx.Err()
		default:
		}
		step := m.Step()
		epoch, batch := step/TextEpochSteps, step%TextEpochSteps
		if epoch >= cfg.Epochs {
			return nil
		}
		if !measured {
			if err := measureValLoss(m, c, evalIters); err != nil {
				return err
			}
			measured = true
		}
		if err := text.Blocks(tokens, c.Train, cfg.Batch, cfg.Context, text.BlocksKey(cfg.Seed, step, false)); err != nil {
			return fmt.Errorf("training text: %w", err)
		}
		b.Epoch, b.Index = epoch, batch
		stats, err := m.TrainStep(b)
		if err != nil {
			return fmt.Errorf("epoch %d, step %d: %w", epoch+1, batch+1, err)
		}
		last := batch == TextEpochSteps-1
		if last {
			if err := measureValLoss(m, c, evalIters); err != nil {
				return err
			}
		}
		p := Progress{Step: m.Step(), Epoch: epoch, Epochs: cfg.Epochs, Batch: batch, Batches: TextEpochSteps, Stats: stats}
		if h.OnStep != nil {
			if err := h.OnStep(p); err != nil {
				return err
			}
		}
		if last && h.OnEpoch != nil {
			if err := h.OnEpoch(p); err != nil {
				return err
			}
		}
	}
	return nil
}

// measureValLoss records the validation loss of m, unless m has no
// likelihood ([ErrNoLikelihood]).
func measureValLoss(m TextModel, c *text.Corpus, iters int) error {
	v, err := ValLoss(m, c, iters)
	if errors.Is(err, ErrNoLikelihood) {
		return nil
	}
	if err != nil {
		return err
	}
	m.SetValLoss(v)
	return nil
}
