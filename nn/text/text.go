// Package text is the data of the character-level text models: a UTF-8
// corpus read from a file (or the default corpus of Debian's fortunes
// package), its character vocabulary, the fixed train/validation split,
// and random blocks of characters drawn from the run's counter-based
// generator.
//
// The vocabulary is of characters (Unicode code points), as nanoGPT's
// shakespeare_char: a byte-level model would spend several positions of
// its context and several sampling steps on each non-ASCII character and
// could emit invalid UTF-8, while the characters of a corpus are few (a
// hundred or so for English) and make the output always valid text. The
// vocabulary is the corpus's distinct characters in increasing code point
// order; a model stores it (as a string) in its checkpoint, so sampling
// needs no corpus.
//
// The split is nanoGPT's: the first 90% of the characters train, the last
// 10% validate.
package text

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"gan/nn"
)

// DefaultName is the --text value of the default corpus: the plain-text
// files of Debian's fortunes package.
const DefaultName = "fortunes"

// DefaultDir is where the fortunes package installs its files.
var DefaultDir = "/usr/share/games/fortunes"

// TrainFraction is the part of the corpus (in characters, from its start)
// that trains; the rest validates.
const TrainFraction = 0.9

// Vocab maps characters to token ids and back.
type Vocab struct {
	chars []rune
	ids   map[rune]int32
}

// NewVocab returns the vocabulary of the characters of s, which must be
// distinct; their order is the ids'.
func NewVocab(s string) (*Vocab, error) {
	if s == "" {
		return nil, errors.New("vocabulary: empty")
	}
	if !utf8.ValidString(s) {
		return nil, errors.New("vocabulary: not valid UTF-8")
	}
	v := &Vocab{chars: []rune(s), ids: map[rune]int32{}}
	for i, c := range v.chars {
		if _, dup := v.ids[c]; dup {
			return nil, fmt.Errorf("vocabulary: character %q twice", c)
		}
		v.ids[c] = int32(i)
	}
	return v, nil
}

// Size is the number of characters.
func (v *Vocab) Size() int { return len(v.chars) }

// String is the characters in id order (what a checkpoint stores).
func (v *Vocab) String() string { return string(v.chars) }

// Char returns the character of id.
func (v *Vocab) Char(id int32) rune { return v.chars[id] }

// Encode returns the ids of the characters of s, or an error naming the
// first character the vocabulary lacks.
func (v *Vocab) Encode(s string) ([]int32, error) {
	out := make([]int32, 0, len(s))
	for i, c := range s {
		id, ok := v.ids[c]
		if !ok {
			return nil, fmt.Errorf("character %q at byte %d is not in the model's vocabulary of %d characters", c, i, len(v.chars))
		}
		out = append(out, id)
	}
	return out, nil
}

// Decode returns the text of ids.
func (v *Vocab) Decode(ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteRune(v.chars[id])
	}
	return b.String()
}

// Corpus is a text split into training and validation tokens.
type Corpus struct {
	// Name says where the text came from (a file, or "fortunes").
	Name  string
	Vocab *Vocab
	// Train and Val are the token ids of the first TrainFraction of the
	// characters and of the rest.
	Train, Val []int32
}

// New builds the corpus of the text s (named name): its vocabulary, and
// the split. s must be valid UTF-8 with at least 2 characters in each
// part.
func New(name, s string) (*Corpus, error) {
	if s == "" {
		return nil, fmt.Errorf("%s: empty text", name)
	}
	if !utf8.ValidString(s) {
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n <= 1 {
				return nil, fmt.Errorf("%s: not valid UTF-8 (byte %d)", name, i)
			}
			i += n
		}
	}
	runes := []rune(s)
	seen := map[rune]bool{}
	var chars []rune
	for _, c := range runes {
		if !seen[c] {
			seen[c] = true
			chars = append(chars, c)
		}
	}
	slices.Sort(chars)
	v, err := NewVocab(string(chars))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	ids := make([]int32, len(runes))
	for i, c := range runes {
		ids[i] = v.ids[c]
	}
	cut := int(float64(len(ids)) * TrainFraction)
	c := &Corpus{Name: name, Vocab: v, Train: ids[:cut], Val: ids[cut:]}
	if len(c.Train) < 2 || len(c.Val) < 2 {
		return nil, fmt.Errorf("%s: %d characters: too short to split into training and validation text", name, len(ids))
	}
	return c, nil
}

// Load reads the corpus named by the --text flag: a UTF-8 file, or
// DefaultName for the fortunes package's files.
func Load(path string) (*Corpus, error) {
	if path == DefaultName {
		return LoadDefault()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--text: %w", err)
	}
	c, err := New(path, string(b))
	if err != nil {
		return nil, fmt.Errorf("--text %w", err)
	}
	return c, nil
}

// LoadDefault reads the default corpus: the plain-text fortune files of
// DefaultDir (its .dat indexes and .u8 links left out), concatenated in
// sorted order.
func LoadDefault() (*Corpus, error) {
	missing := fmt.Errorf("the default text corpus needs Debian's fortunes package (apt-get install fortunes: %s), or give a UTF-8 file with --text FILE", DefaultDir)
	entries, err := os.ReadDir(DefaultDir)
	if err != nil {
		return nil, missing
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || strings.HasSuffix(n, ".dat") || strings.HasSuffix(n, ".u8") || strings.HasPrefix(n, ".") {
			continue
		}
		if e.Type()&os.ModeSymlink != 0 {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, missing
	}
	var b strings.Builder
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(DefaultDir, n))
		if err != nil {
			return nil, fmt.Errorf("default corpus: %w", err)
		}
		b.Write(data)
	}
	return New(DefaultName, b.String())
}

// Validation batch i of an evaluation draws from index ValIndex | i of
// PurposeTextBlocks; training step s from index s.
const ValIndex = 1 << 40

// BlocksKey is the stream of the blocks of training step step (val false)
// or of validation batch step (val true).
func BlocksKey(seed uint64, step int, val bool) nn.RandKey {
	idx := uint64(step)
	if val {
		idx |= ValIndex
	}
	return nn.RandKey{Seed: seed, Stream: nn.StreamID(nn.PurposeTextBlocks, idx)}
}

// Blocks fills dst (n·(block+1) ids) with n blocks of block+1 consecutive
// tokens of ids, block i starting at a position drawn uniformly from
// word i of key (as nanoGPT's get_batch: torch.randint(len − block)).
// The first block tokens of a block are a model's input and the last
// block its next-character targets.
func Blocks(dst, ids []int32, n, block int, key nn.RandKey) error {
	if block < 1 || len(ids) < block+1 {
		return fmt.Errorf("--block %d: the text has %d characters, a block needs %d", block, len(ids), block+1)
	}
	if len(dst) != n*(block+1) {
		return fmt.Errorf("text blocks: %d ids for %d blocks of %d", len(dst), n, block+1)
	}
	span := uint32(len(ids) - block)
	for i := range n {
		start := int(nn.Uniform32n(key.Uint32(uint64(i)), span))
		copy(dst[i*(block+1):(i+1)*(block+1)], ids[start:start+block+1])
	}
	return nil
}
