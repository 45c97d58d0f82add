// Package auth holds semgate's virtual API keys: what a key allows (its
// tenant, models, rate limits, budget, expiry and cache rights), the
// store that keeps them, and the principal a request runs as.
//
// A key's secret ("sk-sg-" and 43 random base-62 characters, 256 bits) is
// shown once, when the key is created; the store keeps only its SHA-256.
// Every key is held in memory by that hash, loaded at start and updated on
// change, so checking a request's key costs a hash and a map lookup, no
// I/O. The lookup is by the secret's hash, so its time tells nothing about
// how much of a guessed secret is right.
//
// Rate limits and budgets are stored and returned, not enforced here: the
// gateway's limits step reads them from the request's Principal.
package auth

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// SecretPrefix starts every key's secret.
const SecretPrefix = "sk-sg-"

// secretChars is the number of random base-62 characters after the prefix:
// 43 carry 256 bits.
const secretChars = 43

// SecretLen is the length of a secret.
const SecretLen = len(SecretPrefix) + secretChars

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// DefaultTenant is the tenant of requests without a key, and of keys
// created without one.
const DefaultTenant = "default"

// Errors of presented keys (a request's credentials). They wrap nothing
// and never carry the secret.
var (
	// ErrMissing: the request carries no key.
	ErrMissing = errors.New("auth: no API key")
	// ErrMalformed: the credentials are not an "sk-sg-" secret of the right
	// length.
	ErrMalformed = errors.New("auth: malformed API key")
	// ErrUnknown: no key has this secret.
	ErrUnknown = errors.New("auth: unknown API key")
	// ErrRevoked: the key was revoked.
	ErrRevoked = errors.New("auth: API key revoked")
	// ErrExpired: the key is past its expiry.
	ErrExpired = errors.New("auth: API key expired")
)

// Errors of key management.
var (
	// ErrNotFound: no key has that id.
	ErrNotFound = errors.New("auth: no such key")
	// ErrInvalid is wrapped by every *InvalidError.
	ErrInvalid = errors.New("auth: invalid key settings")
)

// Key is one virtual API key, without its secret. A *Key a Store returns
// is shared and must not be modified; changes go through Store.Update.
type Key struct {
	// ID identifies the key in the admin API, spend totals and logs:
	// "key_" and 16 hex digits, random.
	ID string `json:"id"`
	// Name is a label for people.
	Name string `json:"name"`
	// Tenant owns the key's requests: their cache partition and spend.
	Tenant string `json:"tenant"`
	// Models are the model aliases the key may use; empty means all.
	Models []string `json:"models"`
	// RateLimit and Budget are the key's limits (0: none).
	RateLimit RateLimit `json:"rate_limit"`
	Budget    Budget    `json:"budget"`
	// ExpiresAt, when set, is when the key stops working.
	ExpiresAt *time.Time `json:"expires_at"`
	// Metadata is free-form, for the key's owner.
	Metadata map[string]string `json:"metadata"`
	// Cache is what the key may ask of the cache.
	Cache CacheRights `json:"cache"`
	// CreatedAt and UpdatedAt are when the key was made and last changed;
	// RevokedAt when it was revoked (it is then refused at once).
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	RevokedAt *time.Time `json:"revoked_at"`

	hash      [32]byte
	principal Principal // the key's requests' principal, built once
}

// RateLimit bounds a key's traffic; a zero field means no limit.
type RateLimit struct {
	// RequestsPerMinute and TokensPerMinute are the sustained rates.
	RequestsPerMinute int `json:"requests_per_minute"`
	TokensPerMinute   int `json:"tokens_per_minute"`
	// Burst is how many requests may arrive at once above the rate.
	// Default (0): one minute's requests.
	Burst int `json:"burst"`
}

// Budget bounds a key's spend per period; MaxUSD 0 means none.
type Budget struct {
	// MaxUSD is the most the key may spend per period, in US dollars.
	MaxUSD float64 `json:"max_usd"`
	// Period is "day" or "month" (UTC calendar periods). Default: month,
	// when MaxUSD is set.
	Period string `json:"period"`
}

// Budget periods.
const (
	PeriodDay   = "day"
	PeriodMonth = "month"
)

// CacheRights are what a key may ask of the semantic cache beyond using
// it. Default: neither.
type CacheRights struct {
	// Bypass allows skipping the cache: x-semgate-cache: off, and
	// Cache-Control no-cache or max-age=0 (which skip the lookup and
	// refresh the tenant's entry).
	Bypass bool `json:"bypass"`
	// LowerThreshold allows x-semgate-cache-threshold below the configured
	// similarity threshold.
	LowerThreshold bool `json:"lower_threshold"`
}

// Status is "active", "revoked" or "expired" at now.
func (k *Key) Status(now time.Time) string {
	switch {
	case k.RevokedAt != nil:
		return "revoked"
	case k.expired(now):
		return "expired"
	}
	return "active"
}

func (k *Key) expired(now time.Time) bool { return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) }

// MayUse reports whether the key may use the model alias.
func (k *Key) MayUse(model string) bool {
	return len(k.Models) == 0 || slices.Contains(k.Models, model)
}

// Principal is who a request runs as: a key and its tenant, or, without a
// key, the default tenant (Anonymous).
type Principal struct {
	// Tenant is the key's tenant, or DefaultTenant.
	Tenant string
	// Key is the request's key; nil without one.
	Key *Key
}

// Anonymous is the principal of requests without a key.
var Anonymous = &Principal{Tenant: DefaultTenant}

// KeyID is the key's id, or "" without a key.
func (p *Principal) KeyID() string {
	if p.Key == nil {
		return ""
	}
	return p.Key.ID
}

// MayUse reports whether the principal may use the model alias.
func (p *Principal) MayUse(model string) bool { return p.Key == nil || p.Key.MayUse(model) }

// Models returns the aliases the principal is limited to; nil means all.
func (p *Principal) Models() []string {
	if p.Key == nil || len(p.Key.Models) == 0 {
		return nil
	}
	return p.Key.Models
}

// MayBypass reports whether the principal may skip the cache: always
// without a key (the behaviour before keys existed), else per the key.
func (p *Principal) MayBypass() bool { return p.Key == nil || p.Key.Cache.Bypass }

// MayLowerThreshold reports whether the principal may ask for a
// similarity threshold below the configured one.
func (p *Principal) MayLowerThreshold() bool { return p.Key != nil && p.Key.Cache.LowerThreshold }

// Spec is what a key is created from (POST /admin/keys). Zero fields mean
// defaults: tenant DefaultTenant, all models, no limits, no expiry.
type Spec struct {
	Name      string            `json:"name"`
	Tenant    string            `json:"tenant"`
	Models    []string          `json:"models"`
	RateLimit RateLimit         `json:"rate_limit"`
	Budget    Budget            `json:"budget"`
	ExpiresAt *time.Time        `json:"expires_at"`
	Metadata  map[string]string `json:"metadata"`
	Cache     CacheRights       `json:"cache"`
}

// Patch changes a key (PATCH /admin/keys/{id}): each member present
// replaces the key's whole setting (rate_limit and budget as objects);
// null clears it (no expiry, no metadata, all models). A key's tenant
// cannot change.
type Patch struct {
	Name      Field[string]            `json:"name"`
	Tenant    Field[string]            `json:"tenant"`
	Models    Field[[]string]          `json:"models"`
	RateLimit Field[RateLimit]         `json:"rate_limit"`
	Budget    Field[Budget]            `json:"budget"`
	ExpiresAt Field[*time.Time]        `json:"expires_at"`
	Metadata  Field[map[string]string] `json:"metadata"`
	Cache     Field[CacheRights]       `json:"cache"`
}

// Field is a Patch member: Set when the JSON named it, null included.
type Field[T any] struct {
	Set   bool
	Value T
}

// UnmarshalJSON records that the member was present.
func (f *Field[T]) UnmarshalJSON(b []byte) error {
	f.Set = true
	return json.Unmarshal(b, &f.Value)
}

// FieldError is one problem with a key's settings.
type FieldError struct {
	Field   string
	Message string
}

// InvalidError lists every problem with a Spec or Patch.
type InvalidError struct{ Problems []FieldError }

func (e *InvalidError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Field)
		b.WriteString(": ")
		b.WriteString(p.Message)
	}
	return b.String()
}

// Unwrap makes every *InvalidError an ErrInvalid.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// Limits on a key's settings.
const (
	maxName          = 256
	maxModels        = 256
	maxMetadata      = 64
	maxMetadataKey   = 128
	maxMetadataValue = 1024
)

// tenantRE is a tenant name: letters, digits, '.', '_' and '-', starting
// with a letter or digit, at most 64 characters. Other characters are left
// for the gateway to build cache partitions from tenant names
// unambiguously.
var tenantRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidTenant reports whether name is a valid tenant name.
func ValidTenant(name string) bool { return tenantRE.MatchString(name) }

// checker collects FieldErrors.
type checker struct {
	ps    []FieldError
	known func(string) bool // model aliases; nil accepts any
	now   time.Time
}

func (c *checker) add(field, format string, args ...any) {
	c.ps = append(c.ps, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) err() error {
	if len(c.ps) == 0 {
		return nil
	}
	return &InvalidError{Problems: c.ps}
}

func (c *checker) name(s string) {
	if len(s) > maxName || !utf8.ValidString(s) {
		c.add("name", "must be valid UTF-8 of at most %d bytes", maxName)
	}
}

func (c *checker) models(ms []string) {
	if len(ms) > maxModels {
		c.add("models", "at most %d aliases", maxModels)
		return
	}
	for i, m := range ms {
		switch {
		case m == "":
			c.add(fmt.Sprintf("models[%d]", i), "empty")
		case slices.Contains(ms[:i], m):
			c.add(fmt.Sprintf("models[%d]", i), "%q is listed twice", m)
		case c.known != nil && !c.known(m):
			c.add(fmt.Sprintf("models[%d]", i), "unknown model alias %q", m)
		}
	}
}

func (c *checker) rateLimit(r RateLimit) {
	if r.RequestsPerMinute < 0 {
		c.add("rate_limit.requests_per_minute", "must not be negative")
	}
	if r.TokensPerMinute < 0 {
		c.add("rate_limit.tokens_per_minute", "must not be negative")
	}
	if r.Burst < 0 {
		c.add("rate_limit.burst", "must not be negative")
	}
}

func (c *checker) budget(b Budget) {
	if b.MaxUSD < 0 || math.IsNaN(b.MaxUSD) || math.IsInf(b.MaxUSD, 0) {
		c.add("budget.max_usd", "must be a non-negative number")
	}
	switch b.Period {
	case "", PeriodDay, PeriodMonth:
	default:
		c.add("budget.period", "must be %q or %q", PeriodDay, PeriodMonth)
	}
}

func (c *checker) expiry(t *time.Time) {
	if t != nil && !t.After(c.now) {
		c.add("expires_at", "must be in the future")
	}
}

func (c *checker) metadata(m map[string]string) {
	if len(m) > maxMetadata {
		c.add("metadata", "at most %d entries", maxMetadata)
		return
	}
	for k, v := range m {
		if k == "" || len(k) > maxMetadataKey || len(v) > maxMetadataValue || !utf8.ValidString(k) || !utf8.ValidString(v) {
			c.add("metadata", "keys must be 1 to %d bytes and values at most %d bytes of UTF-8", maxMetadataKey, maxMetadataValue)
			return
		}
	}
}

// normalBudget fills in the default period.
func normalBudget(b Budget) Budget {
	if b.MaxUSD > 0 && b.Period == "" {
		b.Period = PeriodMonth
	}
	return b
}

// newSecret returns a fresh secret and its hash.
func newSecret() (string, error) {
	var b [SecretLen]byte
	copy(b[:], SecretPrefix)
	out := b[len(SecretPrefix):]
	var rnd [64]byte
	for n := 0; n < len(out); {
		if _, err := rand.Read(rnd[:]); err != nil {
			return "", err
		}
		for _, r := range rnd {
			if r >= 248 { // 248 = 4*62: keep the draw uniform
				continue
			}
			out[n] = base62[r%62]
			if n++; n == len(out) {
				break
			}
		}
	}
	return string(b[:]), nil
}
