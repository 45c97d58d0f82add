package embed

import (
	"errors"
	"fmt"
	"github.com/semgate/semgate/embed/use"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Model names for Options.Model.
const (
	ModelLexical = "lexical"
	ModelOpenAI  = "openai"
	// ModelUseLite is the built-in neural sentence encoder (package
	// embed/use): 512 dimensions, pure Go, offline, weights in the binary.
	ModelUseLite = "use-lite-en"
)

// DefaultCacheSize is the LRU size New uses when Options.CacheSize is 0.
const DefaultCacheSize = 10000

// Options configures the embedder New builds. The zero value is valid: the
// lexical embedder with 512 dimensions behind a 10000-entry LRU cache.
type Options struct {
	// Model selects the embedder: "lexical" (pure Go, offline, hashed
	// n-grams), "use-lite-en" (pure Go, offline, a neural sentence encoder
	// embedded in the binary) or "openai" (any OpenAI-compatible
	// /v1/embeddings endpoint). Default: "lexical".
	Model string `yaml:"model"`
	// Dimensions is the vector length. lexical: 256 to 1024, default 512.
	// openai: sent as the request's "dimensions" when set (only models that
	// support shortening accept it); default: the model's own size, learnt
	// from the first response.
	Dimensions int `yaml:"dimensions"`
	// CacheSize is the number of texts whose vectors an LRU cache in front
	// of the embedder keeps (see NewCached). 0 means DefaultCacheSize
	// (10000); a negative value disables the cache.
	CacheSize int `yaml:"cache_size"`
	// Lexical tunes the lexical embedder.
	Lexical LexicalOptions `yaml:"lexical"`
	// UseLite tunes the use-lite-en embedder (workers, batch size).
	UseLite use.Options `yaml:"use_lite"`
	// OpenAI configures the openai embedder; required when Model is
	// "openai", ignored otherwise.
	OpenAI OpenAIOptions `yaml:"openai"`
}

// LexicalOptions tunes the lexical embedder. The zero value is the
// default. Each feature kind (word unigrams, word bigrams, character
// n-grams) is first scaled to unit norm on its own, then the kinds are
// mixed by these weights, so a weight is the kind's share of the vector
// whatever the text's length. Any change of tuning changes the ID.
type LexicalOptions struct {
	// WordWeight weighs word unigrams. 0 means DefaultWordWeight (1.0); a
	// negative value turns the kind off.
	WordWeight float64 `yaml:"word_weight"`
	// BigramWeight weighs pairs of adjacent words. 0 means
	// DefaultBigramWeight (0.75); a negative value turns the kind off.
	BigramWeight float64 `yaml:"bigram_weight"`
	// CharWeight weighs character n-grams of words with boundary markers
	// ("<go>" gives "<go", "go>", "<go>"). 0 means DefaultCharWeight (2.0);
	// a negative value turns the kind off.
	CharWeight float64 `yaml:"char_weight"`
	// CharMinN and CharMaxN are the shortest and longest character n-grams,
	// in runes, boundary markers included, 1 <= min <= max <= 8. 0 means
	// DefaultCharMinN (3) and DefaultCharMaxN (5).
	CharMinN int `yaml:"char_min_n"`
	CharMaxN int `yaml:"char_max_n"`
}

// OpenAIOptions configures the remote embedder.
type OpenAIOptions struct {
	// BaseURL is the API root. Requests go to BaseURL + "/embeddings" when
	// it ends in "/v1" or has some other path, and to BaseURL +
	// "/v1/embeddings" when it has none (e.g. "http://127.0.0.1:11434").
	// Default: "https://api.openai.com/v1".
	BaseURL string `yaml:"base_url"`
	// APIKey is sent as "Authorization: Bearer <key>" when set. It never
	// prints. Default: none (Ollama, vLLM and TEI need none).
	APIKey Secret `yaml:"api_key"`
	// Model is the upstream's model name, e.g. "text-embedding-3-small" or
	// "nomic-embed-text". Required.
	Model string `yaml:"model"`
	// BatchSize is the most texts sent in one request; larger inputs are
	// split into several requests, sent one after another. 0 means
	// DefaultBatchSize (64); at most MaxBatchSize (2048).
	BatchSize int `yaml:"batch_size"`
	// Timeout bounds each request, response body included. 0 means
	// DefaultTimeout (10s).
	Timeout time.Duration `yaml:"timeout"`
	// HTTPClient sends the requests. Default: a client of the embedder's
	// own, whose idle connections Close releases.
	HTTPClient *http.Client `yaml:"-"`
}

// Defaults and limits of OpenAIOptions.
const (
	DefaultBaseURL   = "https://api.openai.com/v1"
	DefaultBatchSize = 64
	MaxBatchSize     = 2048
	DefaultTimeout   = 10 * time.Second
	// MaxOpenAIDim bounds Dimensions for openai (the largest public
	// models have 4096).
	MaxOpenAIDim = 65536
)

// Validate reports every problem with o at once (errors.Join); each wraps
// ErrInvalidOptions.
func (o *Options) Validate() error {
	var errs []error
	switch o.Model {
	case "", ModelLexical:
		errs = append(errs, o.Lexical.validate(o.Dimensions, "lexical."))
	case ModelOpenAI:
		if o.Dimensions < 0 || o.Dimensions > MaxOpenAIDim {
			errs = append(errs, optErr("dimensions", "must be 0 to %d for openai, not %d", MaxOpenAIDim, o.Dimensions))
		}
		errs = append(errs, o.OpenAI.validate("openai."))
	case ModelUseLite:
		if o.Dimensions != 0 && o.Dimensions != use.Dim {
			errs = append(errs, optErr("dimensions", "use-lite-en has %d dimensions, not %d", use.Dim, o.Dimensions))
		}
		if err := o.UseLite.Validate(); err != nil {
			errs = append(errs, optErr("use_lite", "%v", err))
		}
	default:
		errs = append(errs, optErr("model", "must be %q, %q or %q, not %q", ModelLexical, ModelUseLite, ModelOpenAI, o.Model))
	}
	return errors.Join(errs...)
}

func (o *LexicalOptions) validate(dim int, prefix string) error {
	var errs []error
	if dim != 0 && (dim < MinLexicalDim || dim > MaxLexicalDim) {
		errs = append(errs, optErr("dimensions", "must be %d to %d for lexical, not %d", MinLexicalDim, MaxLexicalDim, dim))
	}
	on := 0
	for _, w := range []struct {
		name string
		v    float64
	}{{"word_weight", o.WordWeight}, {"bigram_weight", o.BigramWeight}, {"char_weight", o.CharWeight}} {
		if math.IsNaN(w.v) || math.IsInf(w.v, 0) || math.Abs(w.v) > 1e6 {
			errs = append(errs, optErr(prefix+w.name, "must be a finite number of magnitude at most 1e6, not %v", w.v))
		} else if w.v >= 0 {
			on++
		}
	}
	if on == 0 {
		errs = append(errs, optErr(prefix+"word_weight", "at least one of word_weight, bigram_weight and char_weight must not be negative"))
	}
	lo, hi := orDefault(o.CharMinN, DefaultCharMinN), orDefault(o.CharMaxN, DefaultCharMaxN)
	if o.CharMinN < 0 || o.CharMinN > maxCharN {
		errs = append(errs, optErr(prefix+"char_min_n", "must be 1 to %d, not %d", maxCharN, o.CharMinN))
	}
	if o.CharMaxN < 0 || o.CharMaxN > maxCharN {
		errs = append(errs, optErr(prefix+"char_max_n", "must be 1 to %d, not %d", maxCharN, o.CharMaxN))
	}
	if lo > hi && o.CharMinN >= 0 && o.CharMaxN >= 0 {
		errs = append(errs, optErr(prefix+"char_min_n", "(%d) must not exceed char_max_n (%d)", lo, hi))
	}
	return errors.Join(errs...)
}

func (o *OpenAIOptions) validate(prefix string) error {
	var errs []error
	if o.BaseURL != "" {
		u, err := url.Parse(o.BaseURL)
		switch {
		case err != nil:
			errs = append(errs, optErr(prefix+"base_url", "%v", err))
		case u.Scheme != "http" && u.Scheme != "https":
			errs = append(errs, optErr(prefix+"base_url", "scheme must be http or https, not %q", u.Scheme))
		case u.Host == "":
			errs = append(errs, optErr(prefix+"base_url", "missing host"))
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			errs = append(errs, optErr(prefix+"base_url", "must not have a query, fragment or user info"))
		}
	}
	if strings.TrimSpace(o.Model) == "" {
		errs = append(errs, optErr(prefix+"model", "required"))
	}
	if o.BatchSize < 0 || o.BatchSize > MaxBatchSize {
		errs = append(errs, optErr(prefix+"batch_size", "must be 0 to %d, not %d", MaxBatchSize, o.BatchSize))
	}
	if o.Timeout < 0 {
		errs = append(errs, optErr(prefix+"timeout", "must not be negative"))
	}
	if k := o.APIKey.Reveal(); strings.ContainsAny(k, "\r\n\x00") {
		errs = append(errs, optErr(prefix+"api_key", "must not contain control characters"))
	}
	return errors.Join(errs...)
}

// OptionError is one problem Validate found. It wraps ErrInvalidOptions.
type OptionError struct {
	Field string // YAML path, e.g. "openai.model"
	Msg   string
}

func (e *OptionError) Error() string { return "embed: " + e.Field + ": " + e.Msg }

// Unwrap makes errors.Is(err, ErrInvalidOptions) true.
func (e *OptionError) Unwrap() error { return ErrInvalidOptions }

func optErr(field, format string, args ...any) error {
	return &OptionError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// New validates o and builds its embedder, wrapped in an LRU cache unless
// o.CacheSize is negative. It does no I/O.
func New(o Options) (Embedder, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	var e Embedder
	switch o.Model {
	case ModelOpenAI:
		oe, err := NewOpenAI(o.Dimensions, o.OpenAI)
		if err != nil {
			return nil, err
		}
		e = oe
	case ModelUseLite:
		ue, err := use.New(o.UseLite)
		if err != nil {
			return nil, err
		}
		e = ue
	default:
		le, err := NewLexical(o.Dimensions, o.Lexical)
		if err != nil {
			return nil, err
		}
		e = le
	}
	switch {
	case o.CacheSize < 0:
		return e, nil
	case o.CacheSize == 0:
		return NewCached(e, DefaultCacheSize), nil
	}
	return NewCached(e, o.CacheSize), nil
}

// Secret is a credential read from configuration. It formats as
// "[redacted]" everywhere (fmt's verbs, slog, JSON, YAML, text) so that it
// never reaches logs or error messages; Reveal returns the value.
type Secret string

// Reveal returns the secret's value, for building requests only.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]", or "" for an empty secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// Format makes every fmt verb (%s, %v, %q, %x, %d...) print String.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprint(f, s.String())
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler (JSON and YAML output).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
