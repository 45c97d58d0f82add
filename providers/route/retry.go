package route

import (
	"errors"
	"time"
)

// RetryOptions bound the attempts one request may make: fallbacks to other
// deployments and retries of ones already tried. The zero value means
// defaults; in an alias's options, zero fields inherit the routing
// section's.
type RetryOptions struct {
	// MaxAttempts is the most upstream calls one request makes, fallbacks
	// included. Default: 3, or the pool's size when that is larger.
	MaxAttempts int `yaml:"max_attempts"`
	// Timeout bounds the time a request spends on attempts and waits before
	// its first byte reaches the client; no attempt starts, and no wait
	// extends, past it. Default: 60s.
	Timeout time.Duration `yaml:"timeout"`
	// Backoff is the base delay before a deployment that already failed
	// this request is tried again; it doubles each round, with jitter
	// (half fixed, half random). Trying another deployment does not wait.
	// Default: 100ms.
	Backoff time.Duration `yaml:"backoff"`
	// MaxBackoff caps one backoff delay. Default: 2s.
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// MaxRetryAfter is the longest Retry-After semgate waits out within a
	// request; a longer one ends the attempts with the upstream's 429 (and
	// its Retry-After) unless another deployment can serve. Default: 5s.
	MaxRetryAfter time.Duration `yaml:"max_retry_after"`
}

// Defaults for RetryOptions.
const (
	DefaultMaxAttempts   = 3
	DefaultRetryTimeout  = 60 * time.Second
	DefaultBackoff       = 100 * time.Millisecond
	DefaultMaxBackoff    = 2 * time.Second
	DefaultMaxRetryAfter = 5 * time.Second
)

// Validate reports every problem at once.
func (o *RetryOptions) Validate() error {
	var errs []error
	if o.MaxAttempts < 0 || o.MaxAttempts > 100 {
		errs = append(errs, errors.New("max_attempts: must be between 0 and 100"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"timeout", o.Timeout}, {"backoff", o.Backoff}, {"max_backoff", o.MaxBackoff}, {"max_retry_after", o.MaxRetryAfter}} {
		if d.v < 0 {
			errs = append(errs, errors.New(d.name+": must not be negative"))
		}
	}
	return errors.Join(errs...)
}

// merge returns o with its zero fields taken from def, then defaults.
func (o RetryOptions) merge(def RetryOptions, poolSize int) RetryOptions {
	pick := func(a, b, c time.Duration) time.Duration {
		if a > 0 {
			return a
		}
		if b > 0 {
			return b
		}
		return c
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = def.MaxAttempts
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = max(DefaultMaxAttempts, poolSize)
	}
	o.Timeout = pick(o.Timeout, def.Timeout, DefaultRetryTimeout)
	o.Backoff = pick(o.Backoff, def.Backoff, DefaultBackoff)
	o.MaxBackoff = pick(o.MaxBackoff, def.MaxBackoff, DefaultMaxBackoff)
	o.MaxRetryAfter = pick(o.MaxRetryAfter, def.MaxRetryAfter, DefaultMaxRetryAfter)
	return o
}

// backoff returns the delay before round (1 and up) of retries: base
// doubled per round, capped, half of it fixed and half drawn by u in [0,1).
func (o *RetryOptions) backoff(round int, u float64) time.Duration {
	d := o.Backoff
	for i := 1; i < round && d < o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, o.MaxBackoff)
	return d/2 + time.Duration(u*float64(d/2))
}
