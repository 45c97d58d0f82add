package limits

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// Options is the `limits:` section of the configuration: rate limits and
// budgets beyond those of each key (a key's own are in its record, set
// through the admin API). Zero values mean no limit; every limit that
// applies to a request must allow it.
type Options struct {
	// Tenants are limits per tenant, by tenant name: the tenant's requests
	// together, whatever their key. "*" applies to every tenant not
	// listed (each on its own). Default: none.
	Tenants map[string]TenantLimits `yaml:"tenants"`
	// Models are limits per model alias, for all callers together
	// (protecting the upstream accounts' quotas). "*" applies to every
	// alias not listed (each on its own). Default: none.
	Models map[string]RateLimits `yaml:"models"`
	// IP limits each client IP address (the connection's, not a
	// forwarded header), for requests without a key: those auth.required:
	// false lets in. Default: none.
	IP RateLimits `yaml:"ip"`
	// CacheHitTokens makes cache hits count against token limits too
	// (the cached answer's prompt and completion tokens; a request's
	// prompt is then checked before the cache lookup). Hits always count
	// against request limits, and never against budgets: they cost
	// nothing. Default: false.
	CacheHitTokens bool `yaml:"cache_hit_tokens"`
	// OverBudget is what happens to a request whose worst-case cost its
	// key's or tenant's budget no longer covers: "reject" (429,
	// insufficient_quota, once nothing is left) or "downgrade" (route it
	// to the alias's cheapest eligible deployment for this request, while
	// the budget still covers that; a free deployment, price 0, is used
	// even with nothing left). Default: reject.
	OverBudget string `yaml:"over_budget"`
	// DefaultOutputTokens is the worst-case completion a budget
	// reservation assumes for a request without max_tokens (or
	// max_completion_tokens) on a deployment whose context window is
	// unknown; with a known window, the window less the prompt. Default:
	// 4096.
	DefaultOutputTokens int `yaml:"default_output_tokens"`
	// ReservationLease is how long a budget reservation written before an
	// upstream call still holds money after semgate stopped without
	// settling it (a crash): a restart holds it until then, and releases
	// it after. Default: 10m.
	ReservationLease time.Duration `yaml:"reservation_lease"`
	// IdleTimeout is how long a rate-limit allowance must go unused (and
	// be whole) before its state is dropped from memory. Default: 10m.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

// RateLimits are a sustained rate and a burst, per minute; 0 is no limit.
type RateLimits struct {
	// RequestsPerMinute is the sustained request rate.
	RequestsPerMinute int `yaml:"requests_per_minute" json:"requests_per_minute"`
	// TokensPerMinute is the sustained token rate (prompt and completion
	// tokens; the prompt is counted before the upstream call, the
	// completion added after it). The token burst is one minute's.
	TokensPerMinute int `yaml:"tokens_per_minute" json:"tokens_per_minute"`
	// Burst is how many requests may be sent at once. Default: one
	// minute's (requests_per_minute).
	Burst int `yaml:"burst" json:"burst"`
}

// IsZero reports whether no limit is set.
func (r RateLimits) IsZero() bool { return r.RequestsPerMinute == 0 && r.TokensPerMinute == 0 }

// Requests is the request limit as a Rate.
func (r RateLimits) Requests() Rate { return Rate{PerMinute: r.RequestsPerMinute, Burst: r.Burst} }

// Tokens is the token limit as a Rate.
func (r RateLimits) Tokens() Rate { return Rate{PerMinute: r.TokensPerMinute} }

// TenantLimits are a tenant's rate limits and budget.
type TenantLimits struct {
	RateLimits `yaml:",inline"`
	// Budget bounds the tenant's spend, all its keys together.
	Budget BudgetLimit `yaml:"budget"`
}

// BudgetLimit is a spend limit.
type BudgetLimit struct {
	// MaxUSD is the most that may be spent per period, in US dollars; 0
	// is no budget.
	MaxUSD float64 `yaml:"max_usd"`
	// Period is "day" or "month", UTC calendar periods. Default: month.
	Period string `yaml:"period"`
}

// Nano is MaxUSD in billionths of a dollar.
func (b BudgetLimit) Nano() int64 { return USDToNano(b.MaxUSD) }

// PeriodOrDefault is Period, or month.
func (b BudgetLimit) PeriodOrDefault() string {
	if b.Period == "" {
		return PeriodMonth
	}
	return b.Period
}

// USDToNano converts dollars to billionths, rounded.
func USDToNano(usd float64) int64 {
	if usd >= math.MaxInt64/1e9 {
		return math.MaxInt64
	}
	return int64(math.Round(usd * 1e9))
}

// Over-budget behaviours.
const (
	OverBudgetReject    = "reject"
	OverBudgetDowngrade = "downgrade"
)

// Defaults.
const (
	DefaultOutputTokens = 4096
	// MaxPerMinute bounds every rate and burst.
	MaxPerMinute = 1 << 30
)

// Downgrade reports whether over_budget is downgrade.
func (o *Options) Downgrade() bool { return o.OverBudget == OverBudgetDowngrade }

// OutputTokens is DefaultOutputTokens or its default.
func (o *Options) OutputTokens() int {
	if o.DefaultOutputTokens > 0 {
		return o.DefaultOutputTokens
	}
	return DefaultOutputTokens
}

// Tenant returns the limits of a tenant: its own, or "*" (zero: none).
func (o *Options) Tenant(name string) TenantLimits {
	if t, ok := o.Tenants[name]; ok {
		return t
	}
	return o.Tenants["*"]
}

// Model returns the limits of a model alias: its own, or "*".
func (o *Options) Model(alias string) RateLimits {
	if m, ok := o.Models[alias]; ok {
		return m
	}
	return o.Models["*"]
}

// Validate reports every problem at once.
func (o *Options) Validate() error {
	var errs []error
	for _, name := range sortedKeys(o.Tenants) {
		t := o.Tenants[name]
		path := "tenants." + name
		errs = append(errs, t.RateLimits.validate(path)...)
		if b := t.Budget; b.MaxUSD < 0 || math.IsNaN(b.MaxUSD) || math.IsInf(b.MaxUSD, 0) {
			errs = append(errs, fmt.Errorf("%s.budget.max_usd: must be a non-negative number of US dollars", path))
		}
		switch t.Budget.Period {
		case "", PeriodDay, PeriodMonth:
		default:
			errs = append(errs, fmt.Errorf("%s.budget.period: %q is not day or month", path, t.Budget.Period))
		}
	}
	for _, name := range sortedKeys(o.Models) {
		errs = append(errs, o.Models[name].validate("models."+name)...)
	}
	errs = append(errs, o.IP.validate("ip")...)
	switch o.OverBudget {
	case "", OverBudgetReject, OverBudgetDowngrade:
	default:
		errs = append(errs, fmt.Errorf("over_budget: %q is not reject or downgrade", o.OverBudget))
	}
	if o.DefaultOutputTokens < 0 {
		errs = append(errs, errors.New("default_output_tokens: must not be negative"))
	}
	if o.ReservationLease < 0 {
		errs = append(errs, errors.New("reservation_lease: must not be negative"))
	}
	if o.IdleTimeout < 0 {
		errs = append(errs, errors.New("idle_timeout: must not be negative"))
	}
	return errors.Join(errs...)
}

func (r RateLimits) validate(path string) []error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"requests_per_minute", r.RequestsPerMinute}, {"tokens_per_minute", r.TokensPerMinute}, {"burst", r.Burst}} {
		if f.v < 0 || f.v > MaxPerMinute {
			errs = append(errs, fmt.Errorf("%s.%s: must be 0 to %d", path, f.name, MaxPerMinute))
		}
	}
	if r.Burst > 0 && r.RequestsPerMinute == 0 {
		errs = append(errs, fmt.Errorf("%s.burst: only applies with requests_per_minute", path))
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return slices.Clip(keys)
}
