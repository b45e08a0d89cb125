package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// corpus is the simulators' instructions, with repeats as a dataset has
// them.
var corpus = func() []string {
	var c []string
	for i := 0; i < 20; i++ {
		c = append(c, "reach the red target", "reach the blue target", "reach the target", "push the T onto the target")
	}
	return c
}()

func train(t *testing.T) *Tokenizer {
	t.Helper()
	tk, err := Train(corpus, TrainConfig{VocabSize: 200})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestTrainAndEncode(t *testing.T) {
	tk := train(t)
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"reach the red target", []string{"reach", "the", "red", "target"}},
		{"Reach the BLUE target.", []string{"reach", "the", "blue", "target", Unk}}, // cased input; "." was never seen
		{"push the t onto the target", []string{"push", "the", "t", "onto", "the", "target"}},
		{"reach the zebra", []string{"reach", "the", Unk}},             // no piece spells "z"
		{"retarget", []string{"re", "##t", "##arget"}},                 // a new word from known pieces
		{"  reach\tthe\n target ", []string{"reach", "the", "target"}}, // white space of any kind
	} {
		if got := tk.Tokens(tc.text); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Tokens(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
	for _, s := range []string{"reach the red target", "push the t onto the target", "retarget"} {
		if got := tk.Decode(tk.Encode(s)); got != s {
			t.Errorf("Decode(Encode(%q)) = %q", s, got)
		}
	}
	for i, s := range []string{Pad, Unk, Cls, Sep} {
		if id, ok := tk.ID(s); !ok || id != i {
			t.Errorf("%s has id %d (%v), want %d", s, id, ok, i)
		}
	}
	// Training is deterministic.
	again := train(t)
	if !reflect.DeepEqual(tk.tokens, again.tokens) {
		t.Error("two trainings on the same corpus differ")
	}
	if _, err := Train(nil, TrainConfig{}); err == nil {
		t.Error("an empty corpus trained")
	}
	if _, err := Train(corpus, TrainConfig{VocabSize: 3}); err == nil {
		t.Error("VocabSize 3 accepted")
	}
}

func TestEncodeFixed(t *testing.T) {
	tk := train(t)
	ids, mask, err := tk.EncodeFixed("reach the red target", 8)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{Cls, "reach", "the", "red", "target", Sep, Pad, Pad}
	for i, id := range ids {
		if tk.Token(id) != want[i] || mask[i] != (i < 6) {
			t.Fatalf("EncodeFixed: %v %v, want %v", ids, mask, want)
		}
	}
	ids, mask, _ = tk.EncodeFixed("reach the red target", 4)
	if len(ids) != 4 || tk.Token(ids[3]) != Sep || !mask[3] {
		t.Errorf("cut to 4: %v %v", ids, mask)
	}
	if _, _, err := tk.EncodeFixed("x", 1); err == nil {
		t.Error("n = 1 accepted")
	}
}

func TestSaveLoad(t *testing.T) {
	tk := train(t)
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := tk.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"reach the red target", "Push the T onto the target!", "zebra", "retarget"} {
		if a, b := tk.Encode(s), back.Encode(s); !reflect.DeepEqual(a, b) {
			t.Errorf("%q: %v before saving, %v after loading", s, a, b)
		}
	}
	// The file is Hugging Face's format.
	var f map[string]any
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if m := f["model"].(map[string]any); m["type"] != "WordPiece" || m["unk_token"] != Unk {
		t.Errorf("model %v", m["type"])
	}
}

// TestLoadBertStyle: a tokenizer.json laid out as bert-base-uncased's
// loads, and cuts the WordPiece paper's example word as BERT does.
func TestLoadBertStyle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	os.WriteFile(path, []byte(`{"version":"1.0","truncation":null,"padding":null,
 "added_tokens":[{"id":0,"content":"[PAD]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
  {"id":100,"content":"[UNK]","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}],
 "normalizer":{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":true},
 "pre_tokenizer":{"type":"BertPreTokenizer"},
 "post_processor":{"type":"TemplateProcessing"},
 "decoder":{"type":"WordPiece","prefix":"##","cleanup":true},
 "model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100,
  "vocab":`+bertVocab()+`}}`), 0o644)
	tk, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tk.Tokens("UNAFFABLE robots"), []string{"un", "##aff", "##able", Unk}; !reflect.DeepEqual(got, want) {
		t.Errorf("Tokens = %q, want %q", got, want)
	}
}

// bertVocab is a vocabulary of 101 ids with [PAD] at 0 and [UNK] at 100,
// as BERT numbers them.
func bertVocab() string {
	v := map[string]int{"[PAD]": 0, "[UNK]": 100, "un": 1, "##aff": 2, "##able": 3}
	for i := 4; i < 100; i++ {
		v["[unused"+string(rune('a'+i%26))+strings.Repeat("x", i/26)+"]"] = i
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "missing.json"), "missing.json"},
		{write("garbage.json", "{"), "garbage.json is not a tokenizer.json"},
		{write("bpe.json", `{"model":{"type":"BPE","vocab":{"a":0}}}`), `model type "BPE" is not supported`},
		{write("ids.json", `{"model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","vocab":{"[UNK]":0,"a":0}}}`), "taken twice"},
		{write("norm.json", `{"normalizer":{"type":"NFKC"},"model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","vocab":{"[UNK]":0}}}`), `normalizer "NFKC"`},
		{write("unk.json", `{"model":{"type":"WordPiece","unk_token":"<unk>","continuing_subword_prefix":"##","vocab":{"<unk>":0}}}`), "unk_token"},
	} {
		if _, err := Load(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s): %v, want an error with %q", filepath.Base(tc.path), err, tc.want)
		}
	}
}
