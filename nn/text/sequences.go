package text

import "fmt"

// Sequences is the number of sequences of t+1 token ids in tokens (the
// layout of model.Batch.Tokens for the text models: each a block and the
// character after it), checked to lie in 1…maxN; family names the model in
// the error.
func Sequences(family string, tokens []int32, t, maxN int) (int, error) {
	n := len(tokens) / (t + 1)
	if n < 1 || n > maxN || len(tokens) != n*(t+1) {
		return 0, fmt.Errorf("%s: %d token ids: want 1 to %d sequences of %d", family, len(tokens), maxN, t+1)
	}
	return n, nil
}

// NextChars splits the sequences of t+1 ids in tokens into the inputs,
// ids 0…t−1 of each, and the targets, ids 1…t (the next characters),
// writing them to inputs and targets sequence-major (row i·t + j) or, with
// timeMajor, step-major (row j·n + i, as a recurrent network reads them).
// Every id must be a token of a vocabulary of vocab characters; family
// names the model in the error.
func NextChars(family string, tokens []int32, t, vocab int, timeMajor bool, inputs, targets []int32) error {
	n := len(tokens) / (t + 1)
	for i := range n {
		for j := range t {
			a, b := tokens[i*(t+1)+j], tokens[i*(t+1)+j+1]
			if a < 0 || int(a) >= vocab || b < 0 || int(b) >= vocab {
				return fmt.Errorf("%s: token id outside the vocabulary of %d", family, vocab)
			}
			r := i*t + j
			if timeMajor {
				r = j*n + i
			}
			inputs[r], targets[r] = a, b
		}
	}
	return nil
}
