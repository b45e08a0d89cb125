package paradigms

import (
	"hash/fnv"
	"strings"
	"unicode"

	"github.com/gomlx/gomlx/core/tensors"
)

// Tokenize turns an instruction into cfg.MaxTokens token ids and a mask.
//
// It lower-cases the text, splits it into words at every character that is
// neither a letter nor a digit, and maps each word to an id in
// [1, cfg.VocabSize) by feature hashing (FNV-1a of the word). The result is
// padded with id 0 (mask 0) or truncated to cfg.MaxTokens; mask[i] is 1 where
// ids[i] is a real word.
//
// This is a stand-in, good enough to feed the language encoder: hashing
// makes unrelated words collide and knows nothing of sub-words. The VLA
// lesson trains a real tokenizer. Tokenize returns nil slices when cfg has
// no room for tokens (MaxTokens < 1 or VocabSize < 2).
func Tokenize(instruction string, cfg ArchConfig) (ids []int32, mask []float32) {
	if cfg.MaxTokens < 1 || cfg.VocabSize < 2 {
		return nil, nil
	}
	ids = make([]int32, cfg.MaxTokens)
	mask = make([]float32, cfg.MaxTokens)
	for i, w := range words(instruction) {
		if i == cfg.MaxTokens {
			break
		}
		ids[i] = hashWord(w, cfg.VocabSize)
		mask[i] = 1
	}
	return ids, mask
}

// TokenizeBatch tokenizes one instruction per batch row and returns the
// tensors Policy.Forward takes: tokens int32 [batch, tokens] and mask
// float32 [batch, tokens].
func TokenizeBatch(instructions []string, cfg ArchConfig) (tokens, mask *tensors.Tensor) {
	n := cfg.MaxTokens
	if n < 1 || cfg.VocabSize < 2 {
		n = 0
	}
	flatIDs := make([]int32, 0, len(instructions)*n)
	flatMask := make([]float32, 0, len(instructions)*n)
	for _, s := range instructions {
		ids, m := Tokenize(s, cfg)
		flatIDs = append(flatIDs, ids...)
		flatMask = append(flatMask, m...)
	}
	return tensors.FromFlatDataAndDimensions(flatIDs, len(instructions), n),
		tensors.FromFlatDataAndDimensions(flatMask, len(instructions), n)
}

// words lower-cases s and splits it at non-alphanumeric characters.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// hashWord maps a word to an id in [1, vocabSize).
func hashWord(w string, vocabSize int) int32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(w))
	return int32(1 + h.Sum32()%uint32(vocabSize-1))
}
