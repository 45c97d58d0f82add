package embed_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/semgate/semgate/embed"
)

func TestNewDefaults(t *testing.T) {
	e, err := embed.New(embed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := e.(*embed.Cached)
	if !ok {
		t.Fatalf("New(zero Options) = %T, want *embed.Cached", e)
	}
	if _, ok := c.Unwrap().(*embed.Lexical); !ok || e.ID() != "lexical-v1-512" || e.Dim() != 512 {
		t.Fatalf("wraps %T, ID %q, Dim %d", c.Unwrap(), e.ID(), e.Dim())
	}
	e, err = embed.New(embed.Options{CacheSize: -1, Dimensions: 256})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.(*embed.Lexical); !ok || e.Dim() != 256 {
		t.Fatalf("cache off: %T, Dim %d", e, e.Dim())
	}
	e, err = embed.New(embed.Options{Model: "openai", Dimensions: 1536, OpenAI: embed.OpenAIOptions{Model: "text-embedding-3-small"}})
	if err != nil {
		t.Fatal(err)
	}
	if e.ID() != "openai:api.openai.com/text-embedding-3-small/1536" {
		t.Fatalf("openai ID %q", e.ID())
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	o := embed.Options{
		Model:      "openai",
		Dimensions: -5,
		OpenAI: embed.OpenAIOptions{
			BaseURL:   "ftp://example.com",
			BatchSize: 5000,
			Timeout:   -time.Second,
			APIKey:    "sk\nx",
		},
	}
	err := o.Validate()
	if !errors.Is(err, embed.ErrInvalidOptions) {
		t.Fatalf("err = %v, want ErrInvalidOptions", err)
	}
	for _, f := range []string{"dimensions", "openai.base_url", "openai.model", "openai.batch_size", "openai.timeout", "openai.api_key"} {
		if !strings.Contains(err.Error(), "embed: "+f+":") {
			t.Errorf("no problem reported for %s in:\n%v", f, err)
		}
	}
	var oe *embed.OptionError
	if !errors.As(err, &oe) || oe.Field == "" {
		t.Errorf("errors.As(*OptionError) failed on %v", err)
	}
	if strings.Contains(err.Error(), "sk\nx") {
		t.Error("the key is in the error")
	}
	if _, err := embed.New(o); !errors.Is(err, embed.ErrInvalidOptions) {
		t.Errorf("New: err = %v", err)
	}
}

func TestValidateLexical(t *testing.T) {
	for name, c := range map[string]struct {
		o     embed.Options
		field string
	}{
		"unknown model":   {embed.Options{Model: "bert"}, "model"},
		"dims too small":  {embed.Options{Dimensions: 128}, "dimensions"},
		"dims too large":  {embed.Options{Model: "lexical", Dimensions: 2048}, "dimensions"},
		"NaN weight":      {embed.Options{Lexical: embed.LexicalOptions{CharWeight: math.NaN()}}, "lexical.char_weight"},
		"infinite weight": {embed.Options{Lexical: embed.LexicalOptions{WordWeight: math.Inf(1)}}, "lexical.word_weight"},
		"all off":         {embed.Options{Lexical: embed.LexicalOptions{WordWeight: -1, BigramWeight: -1, CharWeight: -1}}, "lexical.word_weight"},
		"n too large":     {embed.Options{Lexical: embed.LexicalOptions{CharMaxN: 9}}, "lexical.char_max_n"},
		"n negative":      {embed.Options{Lexical: embed.LexicalOptions{CharMinN: -1}}, "lexical.char_min_n"},
		"min above max":   {embed.Options{Lexical: embed.LexicalOptions{CharMinN: 6}}, "lexical.char_min_n"},
		"openai dims":     {embed.Options{Model: "openai", Dimensions: 1 << 20, OpenAI: embed.OpenAIOptions{Model: "m"}}, "dimensions"},
		"base_url query":  {embed.Options{Model: "openai", OpenAI: embed.OpenAIOptions{Model: "m", BaseURL: "http://h/v1?x=1"}}, "openai.base_url"},
		"base_url host":   {embed.Options{Model: "openai", OpenAI: embed.OpenAIOptions{Model: "m", BaseURL: "http:///v1"}}, "openai.base_url"},
	} {
		err := c.o.Validate()
		if !errors.Is(err, embed.ErrInvalidOptions) || !strings.Contains(err.Error(), "embed: "+c.field+":") {
			t.Errorf("%s: err = %v, want a problem with %s", name, err, c.field)
		}
	}
	// Valid ones, including the openai section being ignored for lexical.
	for _, o := range []embed.Options{
		{},
		{Model: "lexical", Dimensions: 1024, CacheSize: -1, OpenAI: embed.OpenAIOptions{BatchSize: -1}},
		{Lexical: embed.LexicalOptions{WordWeight: -1, BigramWeight: -1, CharMinN: 1, CharMaxN: 8}},
		{Model: "openai", OpenAI: embed.OpenAIOptions{Model: "nomic-embed-text", BaseURL: "http://127.0.0.1:11434"}},
	} {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

func TestOptionsYAML(t *testing.T) {
	const doc = `
model: openai
dimensions: 256
cache_size: -1
lexical:
  word_weight: 1
  bigram_weight: 0.5
  char_weight: 2
  char_min_n: 3
  char_max_n: 6
openai:
  base_url: http://127.0.0.1:11434/v1
  api_key: sk-from-yaml
  model: nomic-embed-text
  batch_size: 16
  timeout: 3s
`
	var o embed.Options
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&o); err != nil {
		t.Fatal(err)
	}
	want := embed.Options{
		Model: "openai", Dimensions: 256, CacheSize: -1,
		Lexical: embed.LexicalOptions{WordWeight: 1, BigramWeight: 0.5, CharWeight: 2, CharMinN: 3, CharMaxN: 6},
		OpenAI: embed.OpenAIOptions{BaseURL: "http://127.0.0.1:11434/v1", APIKey: "sk-from-yaml",
			Model: "nomic-embed-text", BatchSize: 16, Timeout: 3 * time.Second},
	}
	if o != want {
		t.Fatalf("decoded %+v\nwant    %+v", o, want)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "sk-from-yaml") || !strings.Contains(string(out), "[redacted]") {
		t.Fatalf("marshalled YAML shows the key or no placeholder:\n%s", out)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	const key = "sk-do-not-print"
	o := embed.Options{OpenAI: embed.OpenAIOptions{APIKey: key}}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("cfg", "key", o.OpenAI.APIKey, "opts", o)
	j, _ := json.Marshal(o)
	for _, s := range []string{
		fmt.Sprint(o), fmt.Sprintf("%v %+v %#v %s %q %x %X %d", o, o, o, o.OpenAI.APIKey, o.OpenAI.APIKey,
			o.OpenAI.APIKey, o.OpenAI.APIKey, o.OpenAI.APIKey),
		fmt.Sprintf("%#v", o.OpenAI.APIKey), string(j), logs.String(),
	} {
		if strings.Contains(s, key) || strings.Contains(s, fmt.Sprintf("%x", key)) {
			t.Errorf("key printed: %s", s)
		}
	}
	if o.OpenAI.APIKey.Reveal() != key {
		t.Error("Reveal")
	}
	if embed.Secret("").String() != "" {
		t.Error("an empty secret should print empty")
	}
}
