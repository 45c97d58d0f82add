package semcache

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/semgate/semgate/semcache/verify"
)

// Defaults for Options.
const (
	// DefaultThreshold is the lowest embedding similarity at which a
	// candidate is verified (with the lexical embedder): retrieval is
	// permissive, and the verifier decides.
	DefaultThreshold     = 0.5
	DefaultTTL           = 24 * time.Hour
	DefaultMaxEntries    = 100_000
	DefaultMaxBytes      = 1 << 30
	DefaultSweepInterval = time.Minute
	DefaultCandidates    = 8
)

// Options configures the cache (the `cache:` section). The zero value means
// defaults: caching on, every successful request cacheable.
type Options struct {
	// Disabled turns the cache off entirely. Default: false.
	Disabled bool `yaml:"disabled"`
	// Threshold is the embedding similarity (0, 1] below which a
	// candidate is not even verified; a candidate at or above it is served
	// only when the verifier explains every difference. Default: 0.5 with
	// the lexical embedder, 0.6 with use-lite-en. 1 means exact hits only.
	Threshold float64 `yaml:"threshold"`
	// TTL is how long an entry may be served. Default: 24h.
	TTL time.Duration `yaml:"ttl"`
	// MaxTTL caps the lifetime a request may ask for with
	// x-semgate-cache-ttl; a larger value is clamped to it (the response's
	// x-semgate-cache-ttl says the TTL used). Default: the configured TTL
	// for the request's model (ttl, or the model's own).
	MaxTTL time.Duration `yaml:"max_ttl"`
	// MaxEntryBytes is the largest answer stored, in bytes (a JSON body,
	// or a stream's events); a larger one is relayed, not stored, and not
	// shared with coalesced requests. Default: 8 MiB (8388608).
	MaxEntryBytes int `yaml:"max_entry_bytes"`
	// NoSync stores answers without waiting for the disk: fills are
	// faster, and a crash may lose the answers stored in its last moments.
	// Default: false (an answer a client received is on disk).
	NoSync bool `yaml:"no_sync"`
	// MaxEntries caps the number of entries; past it the least recently
	// hit are evicted. Default: 100000.
	MaxEntries int `yaml:"max_entries"`
	// MaxBytes caps the stored size of entries in bytes. Default: 1 GiB.
	MaxBytes int64 `yaml:"max_bytes"`
	// DeterministicOnly caches only requests with temperature 0 or a seed.
	// Default: false (sampling parameters are part of the partition, so an
	// answer is only reused for requests with the same parameters).
	DeterministicOnly bool `yaml:"deterministic_only"`
	// MaxTurns: conversations with more non-system messages than this skip
	// the semantic tier (exact still applies). Default: 16.
	MaxTurns int `yaml:"max_turns"`
	// MaxSemanticBytes: prompts longer than this, in bytes, use the exact
	// tier only (verifying a near-duplicate costs time linear in the
	// prompt). Default: 262144 (256 KiB).
	MaxSemanticBytes int `yaml:"max_semantic_bytes"`
	// CacheTruncated also stores answers cut short by max_tokens
	// (finish_reason "length"). Default: false.
	CacheTruncated bool `yaml:"cache_truncated"`
	// Candidates is how many nearest entries (by embedding) are verified,
	// besides the word channel's. Default: 8.
	Candidates int `yaml:"candidates"`
	// SweepInterval is how often expired entries are deleted. Default: 1m.
	SweepInterval time.Duration `yaml:"sweep_interval"`
	// Guard configures the content guard, an extra veto on verified
	// semantic hits (on by default).
	Guard GuardOptions `yaml:"guard"`
	// Verify configures the verifier that must explain every difference
	// between a candidate's prompt and the request's before a semantic hit
	// is served.
	Verify verify.Options `yaml:"verify"`
	// Models overrides threshold and TTL per model alias.
	Models map[string]ModelOptions `yaml:"models"`
}

// ModelOptions overrides cache settings for one model alias; zero fields
// inherit the global ones.
type ModelOptions struct {
	// Threshold for this alias. Default: the global threshold.
	Threshold float64 `yaml:"threshold"`
	// TTL for this alias. Default: the global TTL.
	TTL time.Duration `yaml:"ttl"`
}

// Validate reports every problem at once.
func (o *Options) Validate() error {
	var errs []error
	checkThreshold := func(name string, t float64) {
		if t < 0 || t > 1 {
			errs = append(errs, fmt.Errorf("%s: %v is not in (0, 1]", name, t))
		}
	}
	checkThreshold("threshold", o.Threshold)
	if o.TTL < 0 {
		errs = append(errs, errors.New("ttl: must not be negative"))
	}
	if o.MaxEntryBytes < 0 {
		errs = append(errs, errors.New("max_entry_bytes: must not be negative"))
	}
	if o.MaxTTL < 0 {
		errs = append(errs, errors.New("max_ttl: must not be negative"))
	}
	if o.MaxEntries < 0 {
		errs = append(errs, errors.New("max_entries: must not be negative"))
	}
	if o.MaxBytes < 0 {
		errs = append(errs, errors.New("max_bytes: must not be negative"))
	}
	if o.MaxTurns < 0 {
		errs = append(errs, errors.New("max_turns: must not be negative"))
	}
	if o.MaxSemanticBytes < 0 {
		errs = append(errs, errors.New("max_semantic_bytes: must not be negative"))
	}
	if o.Candidates < 0 || o.Candidates > 64 {
		errs = append(errs, errors.New("candidates: must be between 1 and 64"))
	}
	if o.SweepInterval < 0 {
		errs = append(errs, errors.New("sweep_interval: must not be negative"))
	}
	if err := o.Guard.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("guard: %w", err))
	}
	if err := o.Verify.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("verify: %w", err))
	}
	for _, name := range slices.Sorted(maps.Keys(o.Models)) {
		m := o.Models[name]
		checkThreshold("models."+name+".threshold", m.Threshold)
		if m.TTL < 0 {
			errs = append(errs, fmt.Errorf("models.%s.ttl: must not be negative", name))
		}
	}
	return errors.Join(errs...)
}

// ThresholdFor returns the threshold for a model alias.
func (o *Options) ThresholdFor(model string) float64 {
	if m, ok := o.Models[model]; ok && m.Threshold > 0 {
		return m.Threshold
	}
	if o.Threshold > 0 {
		return o.Threshold
	}
	return DefaultThreshold
}

// TTLFor returns the TTL for a model alias.
func (o *Options) TTLFor(model string) time.Duration {
	if m, ok := o.Models[model]; ok && m.TTL > 0 {
		return m.TTL
	}
	return orDur(o.TTL, DefaultTTL)
}

// DefaultMaxEntryBytes is MaxEntryBytes' default.
const DefaultMaxEntryBytes = 8 << 20

// MaxEntryBytesOrDefault returns MaxEntryBytes or its default.
func (o *Options) MaxEntryBytesOrDefault() int {
	if o.MaxEntryBytes > 0 {
		return o.MaxEntryBytes
	}
	return DefaultMaxEntryBytes
}

// EntryTTL returns the lifetime of an entry stored for model when the
// request asked for requested (0: nothing asked): the model's TTL, or the
// request's, clamped to MaxTTL.
func (o *Options) EntryTTL(model string, requested time.Duration) time.Duration {
	if requested <= 0 {
		return o.TTLFor(model)
	}
	limit := o.MaxTTL
	if limit <= 0 {
		limit = o.TTLFor(model)
	}
	return min(requested, limit)
}

func (o *Options) maxEntries() int {
	if o.MaxEntries > 0 {
		return o.MaxEntries
	}
	return DefaultMaxEntries
}

func (o *Options) maxBytes() int64 {
	if o.MaxBytes > 0 {
		return o.MaxBytes
	}
	return DefaultMaxBytes
}

func (o *Options) candidates() int {
	if o.Candidates > 0 {
		return o.Candidates
	}
	return DefaultCandidates
}

// MaxTurnsOrDefault returns MaxTurns or its default.
func (o *Options) MaxTurnsOrDefault() int {
	if o.MaxTurns > 0 {
		return o.MaxTurns
	}
	return 16
}

func orDur(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
