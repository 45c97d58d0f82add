package wordkeys

import (
	"errors"
	"fmt"
)

// Defaults for Options.
const (
	DefaultMaxCandidates = 32
	DefaultMaxPerKey     = 64
	DefaultLongWords     = 24
)

// Bounds Validate enforces.
const (
	maxMaxCandidates = 4096
	maxMaxPerKey     = 4096
	minLongWords     = blocks - 1
	maxLongWords     = 64
)

// ErrInvalidOptions: an Options value failed Validate.
var ErrInvalidOptions = errors.New("wordkeys: invalid options")

// Options tunes an Index. The zero value means the defaults.
type Options struct {
	// MaxCandidates caps the entry IDs one Lookup returns (fewest word
	// edits first, then by ID). Range 1..4096. Default: 32.
	MaxCandidates int `yaml:"max_candidates"`
	// MaxPerKey caps the entries indexed under one key: an entry whose key
	// already has this many live entries is not indexed under that key
	// (it stays findable through its other keys). It bounds both the work
	// of a lookup (at most MaxPerKey entries per key it probes) and the
	// length of the table's probe runs, which very common keys (the
	// single-word deletion keys of two-word prompts, a template's shared
	// words) would otherwise make unbounded. Range 1..4096. Default: 64.
	MaxPerKey int `yaml:"max_per_key"`
	// LongWords is the word count up to which a prompt gets one deletion
	// key per word (finding one word substituted, inserted or deleted);
	// longer prompts get 4 block keys instead, which find one substituted
	// word only. Range 3..64. Default: 24.
	LongWords int `yaml:"long_words"`
}

// Validate reports every problem at once; each error wraps
// ErrInvalidOptions.
func (o *Options) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidOptions, field, fmt.Sprintf(format, args...)))
	}
	if o.MaxCandidates != 0 && (o.MaxCandidates < 1 || o.MaxCandidates > maxMaxCandidates) {
		bad("max_candidates", "%d is not in 1..%d", o.MaxCandidates, maxMaxCandidates)
	}
	if o.MaxPerKey != 0 && (o.MaxPerKey < 1 || o.MaxPerKey > maxMaxPerKey) {
		bad("max_per_key", "%d is not in 1..%d", o.MaxPerKey, maxMaxPerKey)
	}
	if o.LongWords != 0 && (o.LongWords < minLongWords || o.LongWords > maxLongWords) {
		bad("long_words", "%d is not in %d..%d", o.LongWords, minLongWords, maxLongWords)
	}
	return errors.Join(errs...)
}

// withDefaults returns o with zero fields replaced by their defaults.
func (o Options) withDefaults() Options {
	if o.MaxCandidates == 0 {
		o.MaxCandidates = DefaultMaxCandidates
	}
	if o.MaxPerKey == 0 {
		o.MaxPerKey = DefaultMaxPerKey
	}
	if o.LongWords == 0 {
		o.LongWords = DefaultLongWords
	}
	return o
}
