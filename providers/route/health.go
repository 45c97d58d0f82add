package route

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// BreakerOptions configure passive health checks: a circuit breaker per
// deployment. The zero value means defaults.
type BreakerOptions struct {
	// Disabled turns the breaker off: deployments are never taken out of
	// rotation for failing (429 cooldowns still apply). Default: false.
	Disabled bool `yaml:"disabled"`
	// Failures is how many consecutive failures open the breaker.
	// Default: 5.
	Failures int `yaml:"failures"`
	// ErrorRate opens the breaker when at least this share, 0 to 1, of the
	// last Window outcomes were failures. Default: 0.5.
	ErrorRate float64 `yaml:"error_rate"`
	// Window is the number of recent outcomes ErrorRate looks at; the rate
	// is judged only once that many were seen. Default: 20.
	Window int `yaml:"window"`
	// Cooldown is how long an open breaker keeps the deployment out before
	// letting one half-open probe through. Default: 30s.
	Cooldown time.Duration `yaml:"cooldown"`
	// RateLimitCooldown is how long a 429 without Retry-After keeps the
	// deployment out. Default: 1s.
	RateLimitCooldown time.Duration `yaml:"rate_limit_cooldown"`
}

// Defaults for BreakerOptions.
const (
	DefaultFailures          = 5
	DefaultErrorRate         = 0.5
	DefaultWindow            = 20
	DefaultCooldown          = 30 * time.Second
	DefaultRateLimitCooldown = time.Second
)

// Validate reports every problem at once.
func (o *BreakerOptions) Validate() error {
	var errs []error
	if o.Failures < 0 {
		errs = append(errs, errors.New("failures: must not be negative"))
	}
	if !(o.ErrorRate >= 0 && o.ErrorRate <= 1) {
		errs = append(errs, errors.New("error_rate: must be between 0 and 1"))
	}
	if o.Window < 0 || o.Window > 1000 {
		errs = append(errs, errors.New("window: must be between 0 and 1000"))
	}
	if o.Cooldown < 0 {
		errs = append(errs, errors.New("cooldown: must not be negative"))
	}
	if o.RateLimitCooldown < 0 {
		errs = append(errs, errors.New("rate_limit_cooldown: must not be negative"))
	}
	return errors.Join(errs...)
}

func (o BreakerOptions) withDefaults() BreakerOptions {
	if o.Failures == 0 {
		o.Failures = DefaultFailures
	}
	if o.ErrorRate == 0 {
		o.ErrorRate = DefaultErrorRate
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.Cooldown == 0 {
		o.Cooldown = DefaultCooldown
	}
	if o.RateLimitCooldown == 0 {
		o.RateLimitCooldown = DefaultRateLimitCooldown
	}
	return o
}

// State is a circuit breaker's state.
type State uint8

// Breaker states.
const (
	Closed   State = iota // in rotation
	Open                  // out of rotation until its cooldown ends
	HalfOpen              // cooldown over: one probe request may go through
)

func (s State) String() string {
	switch s {
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return "closed"
}

// Health is one upstream deployment's passive health: its circuit breaker,
// rate-limit cooldown, rpm/tpm budget and time-to-first-token average. A
// deployment serving several aliases shares one Health. Safe for
// concurrent use.
type Health struct {
	opts  BreakerOptions
	alpha float64
	rpm   int
	tpm   int

	mu          sync.Mutex
	state       State
	until       time.Time // Open: end of the cooldown
	probing     bool      // HalfOpen: the probe is in flight
	consecutive int
	ring        []bool // recent outcomes, true = failure
	ringPos     int
	ringLen     int
	ringFails   int
	limited     time.Time // rate-limited until
	lastErr     error
	lastErrAt   time.Time
	ttft        float64 // EWMA, seconds; 0 = no sample yet
	minute      int64   // Unix minute of the rpm/tpm counters
	reqs, toks  int
}

func newHealth(opts BreakerOptions, alpha float64, rpm, tpm int) *Health {
	opts = opts.withDefaults()
	return &Health{opts: opts, alpha: alpha, rpm: rpm, tpm: tpm, ring: make([]bool, opts.Window)}
}

// unavailable says why a deployment cannot take a request now, and until
// when if that is known; "" when it can.
func (h *Health) unavailable(now time.Time) (why string, until time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.unavailableLocked(now)
}

func (h *Health) unavailableLocked(now time.Time) (string, time.Time) {
	if now.Before(h.limited) {
		return "rate-limited", h.limited
	}
	switch h.state {
	case Open:
		if now.Before(h.until) {
			return "circuit open", h.until
		}
	case HalfOpen:
		if h.probing {
			return "circuit half-open, probe in flight", time.Time{}
		}
	}
	if h.rpm > 0 || h.tpm > 0 {
		m := now.Unix() / 60
		if m == h.minute && ((h.rpm > 0 && h.reqs >= h.rpm) || (h.tpm > 0 && h.toks >= h.tpm)) {
			return "rpm/tpm limit", time.Unix((m+1)*60, 0)
		}
	}
	return "", time.Time{}
}

// acquire admits one attempt estimated at tokens tokens, or says why not.
// Past an open breaker's cooldown the first attempt becomes the half-open
// probe, and others are refused until it reports.
func (h *Health) acquire(now time.Time, tokens int) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if why, _ := h.unavailableLocked(now); why != "" {
		return why
	}
	if h.state == Open { // cooldown over
		h.state = HalfOpen
	}
	if h.state == HalfOpen {
		h.probing = true
	}
	if h.rpm > 0 || h.tpm > 0 {
		if m := now.Unix() / 60; m != h.minute {
			h.minute, h.reqs, h.toks = m, 0, 0
		}
		h.reqs++
		h.toks += tokens
	}
	return ""
}

// success records an attempt that answered, with its time to first byte.
func (h *Health) success(ttft time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch h.state {
	case HalfOpen:
		h.close()
	case Closed:
		h.push(false)
		h.consecutive = 0
	}
	h.probing = false
	s := ttft.Seconds()
	if h.ttft == 0 {
		h.ttft = s
	} else {
		h.ttft += h.alpha * (s - h.ttft)
	}
}

// failure records an attempt the upstream failed.
func (h *Health) failure(now time.Time, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastErr, h.lastErrAt = err, now
	if h.opts.Disabled {
		return
	}
	switch h.state {
	case HalfOpen:
		h.open(now)
		return
	case Open:
		return // a late answer from before the breaker opened
	}
	h.consecutive++
	h.push(true)
	if h.consecutive >= h.opts.Failures ||
		(h.ringLen == len(h.ring) && float64(h.ringFails) >= h.opts.ErrorRate*float64(len(h.ring))) {
		h.open(now)
	}
}

// rateLimited records a 429: the deployment sits out retryAfter (or the
// default cooldown). It does not count as a failure.
func (h *Health) rateLimited(now time.Time, retryAfter time.Duration, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastErr, h.lastErrAt = err, now
	if retryAfter <= 0 {
		retryAfter = h.opts.RateLimitCooldown
	}
	if t := now.Add(retryAfter); t.After(h.limited) {
		h.limited = t
	}
	h.probing = false
}

// release ends an attempt that told nothing about the upstream's health:
// the client left, or the request was the client's mistake.
func (h *Health) release() {
	h.mu.Lock()
	h.probing = false
	h.mu.Unlock()
}

// addTokens charges completion tokens to the tpm budget.
func (h *Health) addTokens(now time.Time, n int) {
	if h.tpm == 0 {
		return
	}
	h.mu.Lock()
	if now.Unix()/60 == h.minute {
		h.toks += n
	}
	h.mu.Unlock()
}

func (h *Health) open(now time.Time) {
	h.state, h.until, h.probing = Open, now.Add(h.opts.Cooldown), false
}

func (h *Health) close() {
	h.state, h.consecutive = Closed, 0
	h.ringPos, h.ringLen, h.ringFails = 0, 0, 0
	clear(h.ring)
}

func (h *Health) push(failed bool) {
	if len(h.ring) == 0 {
		return
	}
	if h.ringLen == len(h.ring) {
		if h.ring[h.ringPos] {
			h.ringFails--
		}
	} else {
		h.ringLen++
	}
	h.ring[h.ringPos] = failed
	if failed {
		h.ringFails++
	}
	h.ringPos = (h.ringPos + 1) % len(h.ring)
}

// Status is a snapshot of a Health for the admin API and metrics.
type Status struct {
	State       State         `json:"-"`
	StateName   string        `json:"state"`
	OpenUntil   time.Time     `json:"open_until,omitzero"`
	RateLimited time.Time     `json:"rate_limited_until,omitzero"`
	Consecutive int           `json:"consecutive_failures"`
	ErrorRate   float64       `json:"error_rate"`
	TTFT        time.Duration `json:"ttft_ewma_ns"`
	LastError   string        `json:"last_error,omitempty"`
}

// Status returns the current state.
func (h *Health) Status() Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := Status{State: h.state, StateName: h.state.String(), Consecutive: h.consecutive,
		TTFT: time.Duration(h.ttft * float64(time.Second))}
	if h.state == Open {
		s.OpenUntil = h.until
	}
	s.RateLimited = h.limited
	if h.ringLen > 0 {
		s.ErrorRate = float64(h.ringFails) / float64(h.ringLen)
	}
	if h.lastErr != nil {
		s.LastError = h.lastErr.Error()
	}
	return s
}

// ttftSeconds returns the EWMA, 0 before the first sample.
func (h *Health) ttftSeconds() float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ttft
}

func (h *Health) lastError() (error, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastErr, h.lastErrAt
}

func (s Status) String() string {
	return fmt.Sprintf("%s (%d consecutive failures, error rate %.2f)", s.StateName, s.Consecutive, s.ErrorRate)
}
