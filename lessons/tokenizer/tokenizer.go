// Package tokenizer turns instructions ("reach the red target") into token
// ids for the vision-language-action policy of section 4.2.4.
//
// The model is WordPiece (BERT's tokenizer; Schuster & Nakajima 2012, Wu et
// al. 2016): text is lower-cased, split into words at white space and
// punctuation, and each word is cut greedily into the longest pieces in
// the vocabulary, from the left; pieces after the first carry the prefix
// "##". A word that cannot be cut ("zebra" when no piece has a "z") becomes
// the unknown token, [UNK], as BERT does.
//
// Train learns a vocabulary from a corpus the way Hugging Face's
// WordPieceTrainer does: byte-pair-encoding merges (Sennrich et al. 2016)
// of the most frequent adjacent pieces, kept as WordPiece vocabulary.
//
// Save and Load use the tokenizer.json format of Hugging Face's tokenizers
// library (model type "WordPiece", a BertNormalizer, a BertPreTokenizer),
// so a saved tokenizer opens there too, and the WordPiece tokenizer.json of
// a larger pretrained model (bert-base-uncased's, say) loads here. Load
// reads that subset and names what it does not support.
package tokenizer

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// Special tokens, with the ids Train gives them.
const (
	Pad = "[PAD]" // id 0: padding to a fixed length
	Unk = "[UNK]" // id 1: a word the vocabulary cannot spell
	Cls = "[CLS]" // id 2: starts a sequence
	Sep = "[SEP]" // id 3: ends a sequence
)

// Prefix marks a piece that continues a word.
const Prefix = "##"

// Tokenizer is a WordPiece tokenizer. It is safe for concurrent use once
// made.
type Tokenizer struct {
	vocab     map[string]int
	tokens    []string // by id
	lowercase bool
	// maxChars: longer words are unknown (BERT: 100).
	maxChars int
	special  map[string]bool
}

// TrainConfig sets Train.
type TrainConfig struct {
	// VocabSize caps the vocabulary, special tokens and single characters
	// included (default 1000).
	VocabSize int
	// MinFrequency: a merge must occur at least this often (default 2).
	MinFrequency int
}

// Train learns a WordPiece vocabulary from corpus: the special tokens,
// every character seen (as a word start and as a continuation), then the
// merges of the most frequent adjacent pieces, most frequent first (ties
// broken by the pieces' text, so training is deterministic), until
// VocabSize or no pair occurs MinFrequency times.
func Train(corpus []string, cfg TrainConfig) (*Tokenizer, error) {
	if cfg.VocabSize == 0 {
		cfg.VocabSize = 1000
	}
	if cfg.MinFrequency == 0 {
		cfg.MinFrequency = 2
	}
	if cfg.VocabSize < 5 || cfg.MinFrequency < 1 {
		return nil, fmt.Errorf("tokenizer: VocabSize %d (want >= 5) or MinFrequency %d (want >= 1)", cfg.VocabSize, cfg.MinFrequency)
	}
	t := newTokenizer(true)
	for _, s := range []string{Pad, Unk, Cls, Sep} {
		t.add(s)
		t.special[s] = true
	}
	counts := map[string]int{}
	for _, line := range corpus {
		for _, w := range t.words(line) {
			counts[w]++
		}
	}
	if len(counts) == 0 {
		return nil, fmt.Errorf("tokenizer: the corpus (%d lines) has no words", len(corpus))
	}
	type word struct {
		pieces []string
		n      int
	}
	var words []*word
	keys := make([]string, 0, len(counts))
	for w := range counts {
		keys = append(keys, w)
	}
	sort.Strings(keys)
	var alphabet []string
	seen := map[string]bool{}
	for _, w := range keys {
		var pieces []string
		for i, r := range []rune(w) {
			p := string(r)
			if i > 0 {
				p = Prefix + p
			}
			pieces = append(pieces, p)
			if !seen[p] {
				seen[p] = true
				alphabet = append(alphabet, p)
			}
		}
		words = append(words, &word{pieces: pieces, n: counts[w]})
	}
	sort.Strings(alphabet)
	for _, p := range alphabet {
		t.add(p)
	}
	for len(t.tokens) < cfg.VocabSize {
		pairs := map[[2]string]int{}
		for _, w := range words {
			for i := 0; i+1 < len(w.pieces); i++ {
				pairs[[2]string{w.pieces[i], w.pieces[i+1]}] += w.n
			}
		}
		var best [2]string
		bestN := 0
		for p, n := range pairs {
			if n > bestN || (n == bestN && p[0]+" "+p[1] < best[0]+" "+best[1]) {
				best, bestN = p, n
			}
		}
		if bestN < cfg.MinFrequency {
			break
		}
		merged := best[0] + strings.TrimPrefix(best[1], Prefix)
		for _, w := range words {
			out := w.pieces[:0]
			for i := 0; i < len(w.pieces); i++ {
				if i+1 < len(w.pieces) && w.pieces[i] == best[0] && w.pieces[i+1] == best[1] {
					out = append(out, merged)
					i++
					continue
				}
				out = append(out, w.pieces[i])
			}
			w.pieces = out
		}
		if _, ok := t.vocab[merged]; !ok {
			t.add(merged)
		}
	}
	return t, nil
}

func newTokenizer(lowercase bool) *Tokenizer {
	return &Tokenizer{vocab: map[string]int{}, lowercase: lowercase, maxChars: 100, special: map[string]bool{}}
}

func (t *Tokenizer) add(tok string) {
	t.vocab[tok] = len(t.tokens)
	t.tokens = append(t.tokens, tok)
}

// Size is the number of tokens.
func (t *Tokenizer) Size() int { return len(t.tokens) }

// ID is the id of a token, and whether the vocabulary has it.
func (t *Tokenizer) ID(token string) (int, bool) { id, ok := t.vocab[token]; return id, ok }

// Token is the text of an id ("" for an id out of range).
func (t *Tokenizer) Token(id int) string {
	if id < 0 || id >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// words normalizes text (lower case when the tokenizer is uncased) and
// splits it into words at white space and around punctuation, BERT's
// pre-tokenization.
func (t *Tokenizer) words(text string) []string {
	if t.lowercase {
		text = strings.ToLower(text)
	}
	var out []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for _, r := range text {
		switch {
		case unicode.IsSpace(r) || unicode.IsControl(r):
			flush()
		case unicode.IsPunct(r) || unicode.IsSymbol(r):
			flush()
			out = append(out, string(r))
		default:
			cur.WriteRune(r)
		}
	}
	flush()
	return out
}

// Tokens splits text into WordPiece tokens.
func (t *Tokenizer) Tokens(text string) []string {
	var out []string
	for _, w := range t.words(text) {
		out = append(out, t.pieces(w)...)
	}
	return out
}

// pieces cuts one word greedily into the longest known pieces from the
// left; the whole word is [UNK] when some part cannot be cut.
func (t *Tokenizer) pieces(w string) []string {
	if t.special[w] {
		return []string{w}
	}
	r := []rune(w)
	if len(r) > t.maxChars {
		return []string{Unk}
	}
	var out []string
	for start := 0; start < len(r); {
		end := len(r)
		found := ""
		for ; end > start; end-- {
			p := string(r[start:end])
			if start > 0 {
				p = Prefix + p
			}
			if _, ok := t.vocab[p]; ok {
				found = p
				break
			}
		}
		if found == "" {
			return []string{Unk}
		}
		out = append(out, found)
		start = end
	}
	return out
}

// Encode returns the ids of text's tokens.
func (t *Tokenizer) Encode(text string) []int {
	toks := t.Tokens(text)
	ids := make([]int, len(toks))
	unk := t.vocab[Unk]
	for i, tok := range toks {
		if id, ok := t.vocab[tok]; ok {
			ids[i] = id
		} else {
			ids[i] = unk
		}
	}
	return ids
}

// EncodeFixed returns exactly n ids: [CLS], text's tokens, [SEP], then
// [PAD]s, cut to n (the [SEP] stays last when cut), and a mask that is true
// for the ids that are not padding. The shape a model's token input has:
// [n] ids, [n] mask.
func (t *Tokenizer) EncodeFixed(text string, n int) ([]int, []bool, error) {
	cls, ok1 := t.vocab[Cls]
	sep, ok2 := t.vocab[Sep]
	pad, ok3 := t.vocab[Pad]
	if !ok1 || !ok2 || !ok3 {
		return nil, nil, fmt.Errorf("tokenizer: EncodeFixed needs %s, %s and %s in the vocabulary", Cls, Sep, Pad)
	}
	if n < 2 {
		return nil, nil, fmt.Errorf("tokenizer: EncodeFixed to %d ids: need room for %s and %s", n, Cls, Sep)
	}
	body := t.Encode(text)
	if len(body) > n-2 {
		body = body[:n-2]
	}
	ids := append(append([]int{cls}, body...), sep)
	mask := make([]bool, n)
	for i := range ids {
		mask[i] = true
	}
	for len(ids) < n {
		ids = append(ids, pad)
	}
	return ids, mask, nil
}

// Decode joins the tokens of ids back into text: pieces are glued to
// their word, special tokens are dropped.
func (t *Tokenizer) Decode(ids []int) string {
	var sb strings.Builder
	for _, id := range ids {
		tok := t.Token(id)
		if tok == "" || t.special[tok] && tok != Unk {
			continue
		}
		if rest, ok := strings.CutPrefix(tok, Prefix); ok && sb.Len() > 0 {
			sb.WriteString(rest)
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(tok)
	}
	return sb.String()
}
