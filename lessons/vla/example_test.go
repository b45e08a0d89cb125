package vla_test

import (
	"fmt"

	"github.com/policylab/policylab/lessons/vla"
)

// The lesson's tokenizer cuts the held-out instruction into words it knows
// from its corpus; the model reads their ids between [CLS] and [SEP],
// padded to its MaxTokens.
func ExampleNewTokenizer() {
	tok, err := vla.NewTokenizer()
	if err != nil {
		panic(err)
	}
	text := vla.HeldOutTask().Instruction
	ids, mask, err := tok.EncodeFixed(text, vla.DefaultConfig().MaxTokens)
	if err != nil {
		panic(err)
	}
	fmt.Println(tok.Tokens(text))
	fmt.Println(len(ids), mask)
	// A word the vocabulary cannot spell is unknown.
	fmt.Println(tok.Tokens("reach the purple target"))
	// Output:
	// [reach between the red and blue targets]
	// 12 [true true true true true true true true true false false false]
	// [reach the [UNK] target]
}

// A sequence is one readout token, the image patches, the instruction,
// the proprioception token and the object tokens.
func ExampleConfig_SeqLen() {
	c := vla.DefaultConfig()
	fmt.Println(c.Patches(), c.MaxTokens, c.SeqLen())
	// Output: 9 12 25
}
