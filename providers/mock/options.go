package mock

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"
)

// Defaults and limits for Options.
const (
	DefaultMinTokens  = 16
	DefaultMaxTokens  = 64
	DefaultDimensions = 256
	DefaultSeed       = 1
	DefaultRetryAfter = 1
	DefaultFault      = "500"
	DefaultModel      = "mock"

	// MaxAnswerTokens bounds Options.MinTokens and Options.MaxTokens.
	MaxAnswerTokens = 1 << 20
	// MaxDimensions bounds embedding sizes.
	MaxDimensions = 1 << 16
)

// Options configures the mock upstream. The zero value means defaults.
type Options struct {
	// TTFT is the time to first token: a stream's first chunk, and the base
	// latency of every answer (see the package doc). Default 0.
	TTFT time.Duration `yaml:"ttft"`
	// InterTokenDelay is the wait before each streamed token after the
	// first; non-streamed answers wait as long as the stream would.
	// Default 0.
	InterTokenDelay time.Duration `yaml:"inter_token_delay"`
	// MinTokens is the shortest natural answer, in tokens, used when the
	// request sets no smaller max_tokens. Default 16.
	MinTokens int `yaml:"min_tokens"`
	// MaxTokens is the longest natural answer, in tokens. Default 64, or
	// MinTokens when that is larger.
	MaxTokens int `yaml:"max_tokens"`
	// Dimensions is the embedding size, in float32 values, when the request
	// gives no "dimensions". Default 256.
	Dimensions int `yaml:"dimensions"`
	// FaultRate is the share of requests, 0 to 1, that get a fault drawn
	// from Faults. Default 0.
	FaultRate float64 `yaml:"fault_rate"`
	// Faults are the fault kinds drawn from: a status code "400" to "599",
	// "reset", "stall", "truncate" or "malformed" (see the package doc).
	// Default ["500"].
	Faults []string `yaml:"faults"`
	// Seed seeds the fault PRNG. Default 1 (0 means the default).
	Seed int64 `yaml:"seed"`
	// RetryAfter is the Retry-After, in seconds, sent with a 429 fault.
	// Default 1 (0 means the default).
	RetryAfter int `yaml:"retry_after"`
	// Models are the model ids GET /v1/models lists; requests may name any
	// model. Default ["mock"].
	Models []string `yaml:"models"`
}

// Validate reports every problem with o at once.
func (o *Options) Validate() error {
	var errs []error
	if o.TTFT < 0 {
		errs = append(errs, errors.New("ttft: must not be negative"))
	}
	if o.InterTokenDelay < 0 {
		errs = append(errs, errors.New("inter_token_delay: must not be negative"))
	}
	if o.MinTokens < 0 || o.MinTokens > MaxAnswerTokens {
		errs = append(errs, fmt.Errorf("min_tokens: must be between 0 and %d", MaxAnswerTokens))
	}
	if o.MaxTokens < 0 || o.MaxTokens > MaxAnswerTokens {
		errs = append(errs, fmt.Errorf("max_tokens: must be between 0 and %d", MaxAnswerTokens))
	}
	if o.MinTokens > 0 && o.MaxTokens > 0 && o.MinTokens > o.MaxTokens {
		errs = append(errs, fmt.Errorf("min_tokens: %d is above max_tokens %d", o.MinTokens, o.MaxTokens))
	}
	if o.Dimensions < 0 || o.Dimensions > MaxDimensions {
		errs = append(errs, fmt.Errorf("dimensions: must be between 0 and %d", MaxDimensions))
	}
	if !(o.FaultRate >= 0 && o.FaultRate <= 1) {
		errs = append(errs, errors.New("fault_rate: must be between 0 and 1"))
	}
	for i, s := range o.Faults {
		if _, err := parseFault(s); err != nil {
			errs = append(errs, fmt.Errorf("faults[%d]: %w", i, err))
		}
	}
	if o.RetryAfter < 0 {
		errs = append(errs, errors.New("retry_after: must not be negative"))
	}
	for i, m := range o.Models {
		if m == "" {
			errs = append(errs, fmt.Errorf("models[%d]: must not be empty", i))
		}
	}
	return errors.Join(errs...)
}

// RegisterFlags registers a command-line flag for every option on fs, with
// o's current values as defaults: --ttft, --inter-token-delay,
// --min-tokens, --max-tokens, --dimensions, --fault-rate, --faults (comma
// separated, e.g. 429,500,reset), --seed, --retry-after and --models.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&o.TTFT, "ttft", o.TTFT, "time to first token, and base latency of every answer")
	fs.DurationVar(&o.InterTokenDelay, "inter-token-delay", o.InterTokenDelay, "delay before each streamed token after the first")
	fs.IntVar(&o.MinTokens, "min-tokens", o.MinTokens, "shortest natural answer in tokens (0: 16)")
	fs.IntVar(&o.MaxTokens, "max-tokens", o.MaxTokens, "longest natural answer in tokens (0: 64)")
	fs.IntVar(&o.Dimensions, "dimensions", o.Dimensions, "embedding size when the request gives none (0: 256)")
	fs.Float64Var(&o.FaultRate, "fault-rate", o.FaultRate, "share of requests, 0 to 1, that get a fault")
	fs.Var((*listFlag)(&o.Faults), "faults", "comma-separated fault kinds: status codes 400-599, reset, stall, truncate, malformed (default 500)")
	fs.Int64Var(&o.Seed, "seed", o.Seed, "fault PRNG seed (0: 1)")
	fs.IntVar(&o.RetryAfter, "retry-after", o.RetryAfter, "Retry-After seconds on 429 faults (0: 1)")
	fs.Var((*listFlag)(&o.Models), "models", "comma-separated model ids listed by /v1/models (default mock)")
}

// listFlag is a comma-separated flag; setting it replaces the list.
type listFlag []string

func (l *listFlag) String() string {
	if l == nil {
		return ""
	}
	return strings.Join(*l, ",")
}

func (l *listFlag) Set(s string) error {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	*l = out
	return nil
}

// newCore validates o and resolves its defaults.
func newCore(o Options) (*core, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOptions, err)
	}
	c := &core{
		ttft:       o.TTFT,
		itd:        o.InterTokenDelay,
		minTok:     o.MinTokens,
		maxTok:     o.MaxTokens,
		dims:       o.Dimensions,
		rate:       o.FaultRate,
		seed:       uint64(o.Seed),
		retryAfter: o.RetryAfter,
		models:     o.Models,
	}
	if c.minTok == 0 {
		c.minTok = DefaultMinTokens
		if c.maxTok > 0 {
			c.minTok = min(c.minTok, c.maxTok)
		}
	}
	if c.maxTok == 0 {
		c.maxTok = max(DefaultMaxTokens, c.minTok)
	}
	if c.dims == 0 {
		c.dims = DefaultDimensions
	}
	if c.seed == 0 {
		c.seed = DefaultSeed
	}
	if c.retryAfter == 0 {
		c.retryAfter = DefaultRetryAfter
	}
	if len(c.models) == 0 {
		c.models = []string{DefaultModel}
	}
	kinds := o.Faults
	if len(kinds) == 0 {
		kinds = []string{DefaultFault}
	}
	for _, s := range kinds {
		f, _ := parseFault(s) // validated above
		c.kinds = append(c.kinds, f)
	}
	return c, nil
}
