package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// hfFile is the part of Hugging Face's tokenizer.json this package reads
// and writes (https://huggingface.co/docs/tokenizers, the "Tokenizer"
// serialization of the tokenizers library).
type hfFile struct {
	Version       string          `json:"version"`
	Truncation    json.RawMessage `json:"truncation"`
	Padding       json.RawMessage `json:"padding"`
	AddedTokens   []hfAdded       `json:"added_tokens"`
	Normalizer    *hfNormalizer   `json:"normalizer"`
	PreTokenizer  *hfTyped        `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       *hfDecoder      `json:"decoder"`
	Model         hfModel         `json:"model"`
}

type hfAdded struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	Lstrip     bool   `json:"lstrip"`
	Rstrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type hfNormalizer struct {
	Type               string `json:"type"`
	CleanText          *bool  `json:"clean_text,omitempty"`
	HandleChineseChars *bool  `json:"handle_chinese_chars,omitempty"`
	StripAccents       *bool  `json:"strip_accents"`
	Lowercase          *bool  `json:"lowercase,omitempty"`
}

type hfTyped struct {
	Type string `json:"type"`
}

type hfDecoder struct {
	Type    string `json:"type"`
	Prefix  string `json:"prefix,omitempty"`
	Cleanup bool   `json:"cleanup"`
}

type hfModel struct {
	Type                    string         `json:"type"`
	UnkToken                string         `json:"unk_token"`
	ContinuingSubwordPrefix string         `json:"continuing_subword_prefix"`
	MaxInputCharsPerWord    int            `json:"max_input_chars_per_word"`
	Vocab                   map[string]int `json:"vocab"`
}

// Save writes the tokenizer as a Hugging Face tokenizer.json (WordPiece
// model, BertNormalizer, BertPreTokenizer, WordPiece decoder), atomically.
func (t *Tokenizer) Save(path string) error {
	b, err := t.MarshalJSON()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tokenizer-*.json")
	if err != nil {
		return fmt.Errorf("tokenizer: saving %s: %w", path, err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("tokenizer: saving %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("tokenizer: saving %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("tokenizer: saving %s: %w", path, err)
	}
	return nil
}

// MarshalJSON is the tokenizer as a Hugging Face tokenizer.json, the bytes
// Save writes (a model checkpoint can embed it).
func (t *Tokenizer) MarshalJSON() ([]byte, error) {
	yes := true
	f := hfFile{
		Version:       "1.0",
		Truncation:    json.RawMessage("null"),
		Padding:       json.RawMessage("null"),
		PostProcessor: json.RawMessage("null"),
		Normalizer:    &hfNormalizer{Type: "BertNormalizer", CleanText: &yes, HandleChineseChars: &yes, Lowercase: &t.lowercase},
		PreTokenizer:  &hfTyped{Type: "BertPreTokenizer"},
		Decoder:       &hfDecoder{Type: "WordPiece", Prefix: Prefix, Cleanup: true},
		Model: hfModel{Type: "WordPiece", UnkToken: Unk, ContinuingSubwordPrefix: Prefix,
			MaxInputCharsPerWord: t.maxChars, Vocab: t.vocab},
	}
	var specials []string
	for s := range t.special {
		specials = append(specials, s)
	}
	sort.Slice(specials, func(i, j int) bool { return t.vocab[specials[i]] < t.vocab[specials[j]] })
	for _, s := range specials {
		f.AddedTokens = append(f.AddedTokens, hfAdded{ID: t.vocab[s], Content: s, Special: true})
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return b, nil
}

// Load reads a tokenizer.json with a WordPiece model. The normalizer may be
// absent, BertNormalizer or Lowercase (accents are not stripped: a
// departure from BertNormalizer that only matters for accented text); the
// pre-tokenizer absent, BertPreTokenizer or Whitespace (both split as BERT
// does). Anything else is an error naming the file and the part.
func Load(path string) (*Tokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return Parse(b, path)
}

// Parse reads the bytes of a tokenizer.json as Load does; name (a file
// name, say) is what its errors call the input.
func Parse(b []byte, path string) (*Tokenizer, error) {
	var f hfFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("tokenizer: %s is not a tokenizer.json: %w", path, err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("tokenizer: %s: %s", path, fmt.Sprintf(format, a...))
	}
	m := f.Model
	if m.Type != "WordPiece" {
		return nil, bad("model type %q is not supported (only WordPiece)", m.Type)
	}
	if m.ContinuingSubwordPrefix != Prefix {
		return nil, bad("continuing_subword_prefix %q is not supported (only %q)", m.ContinuingSubwordPrefix, Prefix)
	}
	lowercase := false
	if n := f.Normalizer; n != nil {
		switch n.Type {
		case "BertNormalizer":
			lowercase = n.Lowercase == nil || *n.Lowercase
		case "Lowercase":
			lowercase = true
		default:
			return nil, bad("normalizer %q is not supported (BertNormalizer, Lowercase or none)", n.Type)
		}
	}
	if p := f.PreTokenizer; p != nil && p.Type != "BertPreTokenizer" && p.Type != "Whitespace" {
		return nil, bad("pre_tokenizer %q is not supported (BertPreTokenizer, Whitespace or none)", p.Type)
	}
	if len(m.Vocab) == 0 {
		return nil, bad("empty vocabulary")
	}
	t := newTokenizer(lowercase)
	if m.MaxInputCharsPerWord > 0 {
		t.maxChars = m.MaxInputCharsPerWord
	}
	t.tokens = make([]string, len(m.Vocab))
	for tok, id := range m.Vocab {
		if id < 0 || id >= len(m.Vocab) || t.tokens[id] != "" {
			return nil, bad("vocabulary id %d of %q is out of 0..%d or taken twice", id, tok, len(m.Vocab)-1)
		}
		t.tokens[id] = tok
		t.vocab[tok] = id
	}
	if _, ok := t.vocab[m.UnkToken]; !ok || m.UnkToken != Unk {
		return nil, bad("unk_token %q must be %q and in the vocabulary", m.UnkToken, Unk)
	}
	for _, a := range f.AddedTokens {
		if id, ok := t.vocab[a.Content]; !ok || id != a.ID {
			return nil, bad("added token %q has id %d, the vocabulary says %d", a.Content, a.ID, id)
		}
		if a.Special {
			t.special[a.Content] = true
		}
	}
	return t, nil
}
