package tokenizer_test

import (
	"fmt"

	"github.com/policylab/policylab/lessons/tokenizer"
)

// Train a vocabulary on the simulators' instructions and tokenize one
// they never said.
func ExampleTrain() {
	var corpus []string
	for i := 0; i < 10; i++ {
		corpus = append(corpus, "reach the red target", "reach the blue target", "push the T onto the target")
	}
	tk, err := tokenizer.Train(corpus, tokenizer.TrainConfig{VocabSize: 100})
	if err != nil {
		panic(err)
	}
	fmt.Println(tk.Tokens("Reach the green target"))
	// Output:
	// [reach the [UNK] target]
}
