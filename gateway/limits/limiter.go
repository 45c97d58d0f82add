// Package limits holds semgate's rate limits and budgets: the interfaces
// the gateway's limits step (gateway/limits.go) calls, and their
// single-replica implementations, a Limiter over golang.org/x/time/rate
// and Budgets over a key/value table. A shared implementation (e.g. over
// Redis, for several replicas) implements the same two interfaces.
//
// # Rate limits
//
// A Limiter keeps one allowance per Subject (a key, tenant, model alias
// or client IP, counting requests or tokens): a sustained rate per minute
// and a burst, the most that may be taken at once (GCRA, which is a token
// bucket of size burst refilled at the rate). Allow takes all or nothing;
// Charge takes whatever is asked, into debt if need be, or gives back.
//
// # Budgets
//
// Budgets keeps the spend of keys and tenants per UTC calendar day or
// month. Before an upstream call the gateway reserves the request's
// worst-case cost, capped by what is left of every budget that applies;
// after it, Settle replaces the reservation with the real cost. Because the
// reservation is taken under the same lock that checks what is left, and
// only one reservation capped by what is left may be in flight on a
// budget at a time, concurrent requests cannot together spend more than a
// budget, except for what the one request whose reservation was capped
// costs beyond it.
package limits

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Scope is what a limit or a budget applies to.
type Scope uint8

// The scopes.
const (
	ScopeKey    Scope = 'k' // a virtual key, by id
	ScopeTenant Scope = 't' // a tenant, by name
	ScopeModel  Scope = 'm' // a model alias, all callers together
	ScopeIP     Scope = 'i' // a client IP, for requests without a key
)

// String names the scope: "key", "tenant", "model" or "ip".
func (s Scope) String() string {
	switch s {
	case ScopeKey:
		return "key"
	case ScopeTenant:
		return "tenant"
	case ScopeModel:
		return "model"
	case ScopeIP:
		return "ip"
	}
	return "scope(" + string(rune(s)) + ")"
}

// Unit is what a rate limit counts.
type Unit uint8

// The units.
const (
	Requests Unit = 'r'
	Tokens   Unit = 't'
)

// String is "requests" or "tokens" (the suffix of OpenAI's x-ratelimit-*
// headers).
func (u Unit) String() string {
	if u == Tokens {
		return "tokens"
	}
	return "requests"
}

// Subject is one allowance: a scope's name counting one unit.
type Subject struct {
	Scope Scope
	Unit  Unit
	Name  string
}

// Rate is a limit: PerMinute units sustained, Burst at once. Burst 0
// means PerMinute (one minute's worth). PerMinute 0 means no limit; a
// Limiter is never asked about one.
type Rate struct {
	PerMinute int
	Burst     int
}

// Capacity is the burst in effect: Burst, or PerMinute when 0.
func (r Rate) Capacity() int {
	if r.Burst > 0 {
		return r.Burst
	}
	return r.PerMinute
}

// Decision is a Limiter's answer, and the state of the allowance after
// it, for the x-ratelimit-* headers.
type Decision struct {
	// Allowed is whether the units were taken.
	Allowed bool
	// Limit is the allowance's capacity (the burst).
	Limit int
	// Remaining is how many units could be taken now, 0 to Limit.
	Remaining int
	// Reset is how long until the allowance is whole again.
	Reset time.Duration
	// RetryAfter, when not Allowed, is how long until the units asked for
	// can be taken.
	RetryAfter time.Duration
}

// Limiter keeps rate-limit allowances. Implementations are safe for
// concurrent use. now is the caller's clock (a shared implementation may
// use its own, e.g. its server's); ctx bounds a remote call.
type Limiter interface {
	// Allow takes n units of s's allowance under r if they are there
	// (all or nothing). n larger than the burst is allowed once the
	// allowance is whole, taking it all and the rest as debt. n 0 takes
	// nothing and reports the state.
	Allow(ctx context.Context, s Subject, r Rate, n int, now time.Time) (Decision, error)
	// Charge takes n units whatever is left, the allowance going into
	// debt if need be (later requests wait until it is paid back); n < 0
	// gives units back (at most up to a whole allowance). For tokens
	// reconciled after the call, and to undo an Allow.
	Charge(ctx context.Context, s Subject, r Rate, n int, now time.Time) error
	// Close releases the limiter's resources (its eviction goroutine).
	Close() error
}

// Check is one allowance a request takes from: N units of Subject's
// allowance under Rate.
type Check struct {
	Subject Subject
	Rate    Rate
	N       int
}

// BatchLimiter is a Limiter that also takes from, or charges, several
// allowances in one call: a shared one decides on all of a request's
// allowances in one round trip. The limits step uses it when its Limiter
// has it (a type assertion), and calls Allow and Charge one by one
// otherwise.
type BatchLimiter interface {
	Limiter
	// AllowAll is Allow on each check in turn, all or nothing: it stops
	// at the first check refused, and then none of the earlier checks'
	// units stay taken (a changed limit stays changed, as with Allow). It
	// fills ds[i], which must be there (len(ds) >= len(cs)), with check
	// i's Decision, for the checks up to and including the refused one
	// (the others are left as they were); a Subject named twice sees
	// what its first check took. It returns the index of the refused
	// check, or -1 when all were taken. On an error the decisions are
	// unknown and the call is to be taken as having taken nothing.
	AllowAll(ctx context.Context, cs []Check, ds []Decision, now time.Time) (refused int, err error)
	// ChargeAll is Charge on each check whose N is not 0.
	ChargeAll(ctx context.Context, cs []Check, now time.Time) error
}

var _ BatchLimiter = (*LocalLimiter)(nil)

// ErrUnavailable is wrapped by the errors of a shared Limiter or Budgets
// that can neither reach its shared state nor decide on its own (a
// cluster that fails closed while Redis is unreachable): the request must
// be refused, not let through.
var ErrUnavailable = errors.New("limits: shared state unreachable")

// LocalOptions configures a LocalLimiter; zero values mean defaults.
type LocalOptions struct {
	// Idle is how long an allowance must go unused, and be whole, before
	// it is dropped (a whole allowance is the same as a new one). Default:
	// 10 minutes.
	Idle time.Duration
	// Now is the clock the eviction goroutine reads. Default: time.Now.
	Now func() time.Time
	// NoEvictor starts no eviction goroutine; call Evict yourself.
	NoEvictor bool
}

// DefaultIdle is LocalOptions.Idle's default.
const DefaultIdle = 10 * time.Minute

const shards = 32 // a power of two

// LocalLimiter is the single-replica Limiter: one rate.Limiter per
// Subject in a sharded map, dropped by a goroutine of its own once idle
// and whole.
type LocalLimiter struct {
	shards [shards]limiterShard
	idle   time.Duration
	now    func() time.Time
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

type limiterShard struct {
	mu sync.RWMutex
	m  map[Subject]*allowance
	_  [40]byte // keep shards on separate cache lines
}

type allowance struct {
	lim  *rate.Limiter
	rate atomic.Uint64 // PerMinute<<32 | Capacity, to notice a changed limit
	used atomic.Int64  // last use, Unix nanoseconds
}

// NewLocalLimiter returns a LocalLimiter; Close stops its eviction
// goroutine.
func NewLocalLimiter(o LocalOptions) *LocalLimiter {
	l := &LocalLimiter{idle: o.Idle, now: o.Now, stop: make(chan struct{}), done: make(chan struct{})}
	if l.idle <= 0 {
		l.idle = DefaultIdle
	}
	if l.now == nil {
		l.now = time.Now
	}
	for i := range l.shards {
		l.shards[i].m = map[Subject]*allowance{}
	}
	if o.NoEvictor {
		close(l.done)
	} else {
		go l.evictLoop()
	}
	return l
}

// shardOf spreads subjects over the shards by their name's last bytes
// (key ids and IPs differ there), its length, scope and unit: cheaper than
// hashing the whole name, which the shard's map does anyway.
func shardOf(s Subject) uint32 {
	h := uint32(2166136261) ^ uint32(len(s.Name)) ^ uint32(s.Scope)<<8 ^ uint32(s.Unit)<<16
	n := s.Name
	if len(n) > 8 {
		n = n[len(n)-8:]
	}
	for i := 0; i < len(n); i++ {
		h = (h ^ uint32(n[i])) * 16777619
	}
	return (h ^ h>>15) & (shards - 1)
}

func packRate(r Rate) uint64 { return uint64(uint32(r.PerMinute))<<32 | uint64(uint32(r.Capacity())) }

func perSecond(r Rate) rate.Limit { return rate.Limit(float64(r.PerMinute) / 60) }

// get returns s's allowance under r, made whole when new.
func (l *LocalLimiter) get(s Subject, r Rate, now time.Time) *allowance {
	sh := &l.shards[shardOf(s)]
	packed := packRate(r)
	sh.mu.RLock()
	a := sh.m[s]
	sh.mu.RUnlock()
	if a != nil && a.rate.Load() == packed {
		return a
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	a = sh.m[s]
	switch {
	case a == nil:
		a = &allowance{lim: rate.NewLimiter(perSecond(r), r.Capacity())}
		a.lim.SetLimitAt(now, perSecond(r)) // starts whole at now
		a.rate.Store(packed)
		sh.m[s] = a
	case a.rate.Load() != packed:
		// The limit changed (e.g. a key's was edited): keep what is left,
		// at most the new burst.
		a.lim.SetLimitAt(now, perSecond(r))
		a.lim.SetBurstAt(now, r.Capacity())
		a.rate.Store(packed)
	}
	return a
}

// Allow implements Limiter.
func (l *LocalLimiter) Allow(_ context.Context, s Subject, r Rate, n int, now time.Time) (Decision, error) {
	a := l.get(s, r, now)
	a.used.Store(now.UnixNano())
	burst := r.Capacity()
	if n <= 0 { // a look: rate.Limiter would refuse even 0 units while in debt
		d := decide(a.lim.TokensAt(now), r, burst)
		d.Allowed = true
		return d, nil
	}
	take := min(n, burst)
	ok := a.lim.AllowN(now, take)
	if ok && n > take {
		a.charge(now, n-take, burst)
	}
	return Decide(a.lim.TokensAt(now), r, n, ok), nil
}

// Decide is the Decision of an Allow of n units under r that left an
// allowance holding tokens (negative: in debt), for implementations that
// keep allowances as x/time/rate does (tokens and the time they were
// counted at), so that every Limiter answers alike. A refusal waits for
// min(n, burst) units.
func Decide(tokens float64, r Rate, n int, allowed bool) Decision {
	burst := r.Capacity()
	d := decide(tokens, r, burst)
	d.Allowed = allowed || n <= 0
	if !d.Allowed {
		d.RetryAfter = durationFor(float64(min(n, burst))-tokens, r)
	}
	return d
}

// Charge implements Limiter.
func (l *LocalLimiter) Charge(_ context.Context, s Subject, r Rate, n int, now time.Time) error {
	a := l.get(s, r, now)
	a.used.Store(now.UnixNano())
	a.charge(now, n, r.Capacity())
	return nil
}

// AllowAll implements BatchLimiter: Allow on each check; on a refusal,
// Charge gives back what the earlier checks took (so a concurrent
// request may be refused meanwhile, as if they had come first).
func (l *LocalLimiter) AllowAll(ctx context.Context, cs []Check, ds []Decision, now time.Time) (int, error) {
	_ = ds[:len(cs)]
	for i := range cs {
		c := &cs[i]
		d, _ := l.Allow(ctx, c.Subject, c.Rate, c.N, now)
		ds[i] = d
		if !d.Allowed {
			for j := range cs[:i] {
				if c := &cs[j]; c.N > 0 {
					l.Charge(ctx, c.Subject, c.Rate, -c.N, now)
				}
			}
			return i, nil
		}
	}
	return -1, nil
}

// ChargeAll implements BatchLimiter.
func (l *LocalLimiter) ChargeAll(ctx context.Context, cs []Check, now time.Time) error {
	for i := range cs {
		if c := &cs[i]; c.N != 0 {
			l.Charge(ctx, c.Subject, c.Rate, c.N, now)
		}
	}
	return nil
}

// charge takes n units into debt, in steps of at most the burst (what
// rate.Limiter reserves at once); n < 0 gives back.
func (a *allowance) charge(now time.Time, n, burst int) {
	if n < 0 {
		a.lim.ReserveN(now, n) // never more than whole: the next use caps at the burst
		return
	}
	for n > 0 {
		step := min(n, burst)
		a.lim.ReserveN(now, step)
		n -= step
	}
}

func decide(tokens float64, r Rate, burst int) Decision {
	d := Decision{Limit: burst}
	if tokens > 0 {
		d.Remaining = int(min(tokens, float64(burst)))
	}
	d.Reset = durationFor(float64(burst)-tokens, r)
	return d
}

// durationFor is how long the rate takes to bring in units.
func durationFor(units float64, r Rate) time.Duration {
	if units <= 0 || r.PerMinute <= 0 {
		return 0
	}
	secs := units * 60 / float64(r.PerMinute)
	if secs > float64(math.MaxInt64/int64(time.Second)) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(math.Ceil(secs * float64(time.Second)))
}

// Len is how many allowances are held.
func (l *LocalLimiter) Len() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}

// Evict drops the allowances unused for the idle time and whole at now.
// It returns how many it dropped.
func (l *LocalLimiter) Evict(now time.Time) int {
	cutoff := now.Add(-l.idle).UnixNano()
	dropped := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for s, a := range sh.m {
			if a.used.Load() <= cutoff && a.lim.TokensAt(now) >= float64(a.lim.Burst()) {
				delete(sh.m, s)
				dropped++
			}
		}
		sh.mu.Unlock()
	}
	return dropped
}

func (l *LocalLimiter) evictLoop() {
	defer close(l.done)
	t := time.NewTicker(min(max(l.idle/2, time.Second), time.Minute))
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.Evict(l.now())
		}
	}
}

// Close stops the eviction goroutine and waits for it.
func (l *LocalLimiter) Close() error {
	l.once.Do(func() { close(l.stop) })
	<-l.done
	return nil
}
