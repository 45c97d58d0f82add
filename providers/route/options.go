package route

import (
	"errors"
	"fmt"
	"time"

	"github.com/semgate/semgate/providers"
)

// Options is the routing section of the configuration: defaults every
// alias shares. The zero value means defaults.
type Options struct {
	// Retry bounds the attempts of one request; an alias may override it.
	Retry RetryOptions `yaml:"retry"`
	// Breaker configures passive health: when a deployment is taken out of
	// rotation and how it comes back.
	Breaker BreakerOptions `yaml:"breaker"`
	// Prices add to or override the shipped price table, by upstream model
	// name (USD per million tokens). A deployment's own price wins over
	// both. Default: none.
	Prices map[string]providers.Price `yaml:"prices"`
	// ExpectedOutput is the completion length, in tokens, the cost policy
	// assumes for a request that sets no max_tokens. Default: 256.
	ExpectedOutput int `yaml:"expected_output"`
	// LatencyAlpha is the weight of a new sample in the time-to-first-token
	// moving average (EWMA), 0 to 1. Default: 0.3.
	LatencyAlpha float64 `yaml:"latency_alpha"`
	// Seed seeds the random draws of the weighted policy and of backoff
	// jitter. Default: 0, seeded from the clock.
	Seed int64 `yaml:"seed"`

	// Now is the clock. Default: time.Now. For tests.
	Now func() time.Time `yaml:"-"`
}

// Defaults for Options.
const (
	DefaultExpectedOutput = 256
	DefaultLatencyAlpha   = 0.3
)

// Validate reports every problem at once.
func (o *Options) Validate() error {
	var errs []error
	if err := o.Retry.Validate(); err != nil {
		errs = append(errs, prefixed("retry", err))
	}
	if err := o.Breaker.Validate(); err != nil {
		errs = append(errs, prefixed("breaker", err))
	}
	for name, p := range o.Prices {
		if p.Input < 0 || p.CachedInput < 0 || p.Output < 0 {
			errs = append(errs, fmt.Errorf("prices.%s: prices must not be negative", name))
		}
	}
	if o.ExpectedOutput < 0 {
		errs = append(errs, errors.New("expected_output: must not be negative"))
	}
	if !(o.LatencyAlpha >= 0 && o.LatencyAlpha <= 1) {
		errs = append(errs, errors.New("latency_alpha: must be between 0 and 1"))
	}
	return errors.Join(errs...)
}

func (o *Options) expectedOutput() int {
	if o.ExpectedOutput > 0 {
		return o.ExpectedOutput
	}
	return DefaultExpectedOutput
}

func (o *Options) latencyAlpha() float64 {
	if o.LatencyAlpha > 0 {
		return o.LatencyAlpha
	}
	return DefaultLatencyAlpha
}

// PoolOptions are one alias's routing settings. The zero value means
// defaults.
type PoolOptions struct {
	// Policy picks the deployment: cost, latency, weighted, priority or
	// auto. Default: cost.
	Policy Policy `yaml:"policy"`
	// Retry overrides Options.Retry field by field for this alias.
	Retry RetryOptions `yaml:"retry"`
	// Auto configures the auto policy. Required with policy auto, invalid
	// otherwise.
	Auto *AutoOptions `yaml:"auto"`
}

// Validate reports every problem at once.
func (o *PoolOptions) Validate() error {
	var errs []error
	if err := o.Policy.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := o.Retry.Validate(); err != nil {
		errs = append(errs, prefixed("retry", err))
	}
	switch {
	case o.Policy == PolicyAuto && o.Auto == nil:
		errs = append(errs, errors.New("auto: required with policy auto (auto: {thresholds: [0.5]})"))
	case o.Policy != PolicyAuto && o.Auto != nil:
		errs = append(errs, errors.New("auto: only applies to policy auto"))
	case o.Auto != nil:
		if err := o.Auto.Validate(); err != nil {
			errs = append(errs, prefixed("auto", err))
		}
	}
	return errors.Join(errs...)
}

// MemberOptions are one deployment's routing attributes. The zero value
// means defaults.
type MemberOptions struct {
	// Capabilities the deployment has: tools, vision, json_schema,
	// streaming. Default: the shipped model table's entry for the upstream
	// model, or every capability for a model it does not know.
	Capabilities []string `yaml:"capabilities"`
	// Tier is the quality tier, 1 (cheapest, weakest) and up; the auto
	// policy sends harder requests to higher tiers. Default: 0 (none;
	// required in an auto alias).
	Tier int `yaml:"tier"`
	// Weight is the deployment's share under the weighted policy. Default: 1.
	Weight int `yaml:"weight"`
	// RPM is the upstream account's requests-per-minute limit: past it, the
	// deployment is skipped until the minute ends. Default: 0 (none).
	RPM int `yaml:"rpm"`
	// TPM is the upstream account's tokens-per-minute limit (prompt
	// estimate plus completion), enforced like RPM. Default: 0 (none).
	TPM int `yaml:"tpm"`
	// Timeout bounds one attempt until its first byte reaches the client
	// (for a non-streamed answer, the whole answer); past it the next
	// deployment is tried. Default: 0, the provider's own timeouts only.
	Timeout time.Duration `yaml:"timeout"`
}

// Validate reports every problem at once.
func (o *MemberOptions) Validate() error {
	var errs []error
	if _, err := ParseCapabilities(o.Capabilities); err != nil {
		errs = append(errs, fmt.Errorf("capabilities: %w", err))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"tier", o.Tier}, {"weight", o.Weight}, {"rpm", o.RPM}, {"tpm", o.TPM}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative", f.name))
		}
	}
	if o.Timeout < 0 {
		errs = append(errs, errors.New("timeout: must not be negative"))
	}
	return errors.Join(errs...)
}

// prefixed puts name in front of every joined error of err.
func prefixed(name string, err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, prefixed(name, e))
		}
		return errors.Join(out...)
	}
	return fmt.Errorf("%s.%w", name, err)
}
