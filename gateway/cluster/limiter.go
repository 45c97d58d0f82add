package cluster

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/semgate/semgate/gateway/limits"
)

// Shared rate limits.
//
// RedisLimiter keeps every allowance in Redis, so that a limit of N per
// minute is N for the whole cluster, not N per replica. Each call is one
// EVALSHA of limiter.lua (go-redis's Script runs EVALSHA and loads the
// script on NOSCRIPT), which reads and updates the allowances atomically,
// on Redis's clock (TIME inside the script): the replicas' clocks never
// enter into it. It is a limits.BatchLimiter: AllowAll takes all of a
// request's allowances in that one call, all or nothing (a refused
// request holds none of them, even for a moment), and ChargeAll charges
// them; Allow and Charge are those of one allowance. A request's limits
// therefore cost one round trip to Redis, not one per allowance.
//
// Why a script of our own rather than github.com/go-redis/redis_rate:
// redis_rate is not among the modules this project may use (the module
// list has go-redis v9 only), and it would not fit limits.Limiter anyway:
// it has no Charge into debt nor a give-back capped at a whole allowance,
// it cannot allow a request larger than the burst, and its answers are
// rounded differently from the local limiter's. The script keeps an
// allowance exactly as golang.org/x/time/rate (LocalLimiter) does, tokens
// and the time they were counted at, and returns the tokens left, from
// which limits.Decide computes the Decision as LocalLimiter does: the
// x-ratelimit-* headers and Retry-After are the same whichever limiter
// decided. Package limitstest checks it.
//
// Redis unreachable (Up false, or a call that fails): with on_unreachable
// "open" the replica decides alone with a LocalLimiter of its own (counted
// in semgate_cluster_local_decisions_total, logged once per outage, and
// shared again once Redis is back; a call of several allowances counts
// one decision per allowance); with "closed" every call fails with
// limits.ErrUnavailable and the gateway refuses the request, as it
// refuses every request of a fail-closed replica while Redis is down.

//go:embed limiter.lua
var limiterLua string

var limiterScript = redis.NewScript(limiterLua)

// LimiterOptions configures a RedisLimiter; the zero value is the default.
type LimiterOptions struct {
	// Idle is how long the fallback LocalLimiter keeps an unused, whole
	// allowance (limits.LocalOptions.Idle); Redis expires its own once
	// whole. Default: limits.DefaultIdle.
	Idle time.Duration
	// CallerClock makes the script count time by the now passed to Allow
	// and Charge instead of Redis's clock: for tests with a controlled
	// clock (every replica's clock must then agree). Default: false.
	CallerClock bool
}

// Validate reports a negative Idle.
func (o LimiterOptions) Validate() error {
	if o.Idle < 0 {
		return errors.New("cluster: limiter idle time must not be negative")
	}
	return nil
}

// RedisLimiter is the cluster's limits.Limiter: allowances in Redis,
// under "<prefix>:rl:<scope>:<unit>:<name>".
type RedisLimiter struct {
	c      *Cluster
	o      LimiterOptions
	local  *limits.LocalLimiter
	prefix string // "<prefix>:rl:"
}

var _ limits.BatchLimiter = (*RedisLimiter)(nil)

// NewLimiter returns the cluster's shared limiter; Close stops its
// fallback's eviction goroutine (not the cluster).
func NewLimiter(c *Cluster, o LimiterOptions) (*RedisLimiter, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &RedisLimiter{c: c, o: o, prefix: c.Key("rl") + ":", local: limits.NewLocalLimiter(limits.LocalOptions{Idle: o.Idle})}, nil
}

// Script modes.
const (
	modeAllow  = "a"
	modeCharge = "c"
)

// modeArg is mode as a script argument, boxed once.
func modeArg(mode string) any {
	if mode == modeCharge {
		return argCharge
	}
	return argAllow
}

var argAllow, argCharge any = modeAllow, modeCharge

// maxBatch is how many checks a call's buffers hold on the stack (the
// limits step has at most eight).
const maxBatch = 8

// run runs the script on cs in mode: one round trip. In modeAllow it
// fills ds as AllowAll does and returns the index of the refused check,
// or -1.
func (l *RedisLimiter) run(ctx context.Context, cs []limits.Check, ds []limits.Decision, mode string, now time.Time) (int, error) {
	// The keys, and the rates and units as one argument ("rate burst n
	// ..."), are substrings of one string: one allocation, whatever the
	// number of checks.
	var b [maxBatch * 80]byte
	buf := b[:0]
	for i := range cs {
		s := &cs[i].Subject
		buf = append(buf, l.prefix...)
		buf = append(buf, byte(s.Scope), ':', byte(s.Unit), ':')
		buf = append(buf, s.Name...)
	}
	keysLen := len(buf)
	for i := range cs {
		c := &cs[i]
		if i > 0 {
			buf = append(buf, ' ')
		}
		buf = strconv.AppendInt(buf, int64(c.Rate.PerMinute), 10)
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, int64(c.Rate.Capacity()), 10)
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, int64(c.N), 10)
	}
	all := string(buf)
	keys := make([]string, len(cs))
	off := 0
	for i := range cs {
		end := off + len(l.prefix) + 4 + len(cs[i].Subject.Name)
		keys[i] = all[off:end]
		off = end
	}
	var clock any = ""
	if l.o.CallerClock {
		clock = strconv.FormatInt(now.UnixMicro(), 10)
	}
	res, err := limiterScript.Run(ctx, l.c.rdb, keys, modeArg(mode), clock, all[keysLen:]).Text()
	if err != nil {
		return -1, err
	}
	// "i t1 .. tk": the refused check (1-based, 0 for none), then the
	// tokens left after each check decided.
	rest := res
	field := func() string {
		f := rest
		if j := strings.IndexByte(rest, ' '); j >= 0 {
			f, rest = rest[:j], rest[j+1:]
		} else {
			rest = ""
		}
		return f
	}
	refused, err := strconv.Atoi(field())
	if err != nil || refused < 0 || refused > len(cs) {
		return -1, fmt.Errorf("cluster: limiter script answered %q", res)
	}
	refused--
	if mode != modeAllow {
		return -1, nil
	}
	last := refused
	if refused < 0 {
		last = len(cs) - 1
	}
	for i := 0; i <= last; i++ {
		tokens, err := strconv.ParseFloat(field(), 64)
		if err != nil {
			return -1, fmt.Errorf("cluster: limiter script answered %q", res)
		}
		c := &cs[i]
		ds[i] = limits.Decide(tokens, c.Rate, c.N, i != refused)
	}
	return refused, nil
}

// Allow implements limits.Limiter: AllowAll of one check.
func (l *RedisLimiter) Allow(ctx context.Context, s limits.Subject, r limits.Rate, n int, now time.Time) (limits.Decision, error) {
	cs := [1]limits.Check{{Subject: s, Rate: r, N: n}}
	var ds [1]limits.Decision
	_, err := l.AllowAll(ctx, cs[:], ds[:], now)
	return ds[0], err
}

// AllowAll implements limits.BatchLimiter: one script call, which takes
// from the allowances atomically, all or nothing.
func (l *RedisLimiter) AllowAll(ctx context.Context, cs []limits.Check, ds []limits.Decision, now time.Time) (int, error) {
	_ = ds[:len(cs)]
	if len(cs) == 0 {
		return -1, nil
	}
	if l.c.Up() {
		refused, err := l.run(ctx, cs, ds, modeAllow, now)
		if err == nil {
			return refused, nil
		}
		if ctx.Err() != nil || isReply(err) {
			return -1, err
		}
		l.c.Fail(err)
		if l.c.FailClosed() {
			return -1, fmt.Errorf("%w: %w", limits.ErrUnavailable, err)
		}
	} else if l.c.FailClosed() {
		return -1, errDown
	}
	l.fallback(len(cs))
	return l.local.AllowAll(ctx, cs, ds, now)
}

// Charge implements limits.Limiter: ChargeAll of one check.
func (l *RedisLimiter) Charge(ctx context.Context, s limits.Subject, r limits.Rate, n int, now time.Time) error {
	cs := [1]limits.Check{{Subject: s, Rate: r, N: n}}
	return l.ChargeAll(ctx, cs[:], now)
}

// ChargeAll implements limits.BatchLimiter: one script call for the
// checks whose N is not 0.
func (l *RedisLimiter) ChargeAll(ctx context.Context, cs []limits.Check, now time.Time) error {
	if slices.ContainsFunc(cs, func(c limits.Check) bool { return c.N == 0 }) {
		nz := make([]limits.Check, 0, len(cs))
		for _, c := range cs {
			if c.N != 0 {
				nz = append(nz, c)
			}
		}
		cs = nz
	}
	if len(cs) == 0 {
		return nil
	}
	if l.c.Up() {
		_, err := l.run(ctx, cs, nil, modeCharge, now)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || isReply(err) {
			return err
		}
		l.c.Fail(err)
		if l.c.FailClosed() {
			return fmt.Errorf("%w: %w", limits.ErrUnavailable, err)
		}
	} else if l.c.FailClosed() {
		return errDown
	}
	l.fallback(len(cs))
	return l.local.ChargeAll(ctx, cs, now)
}

// fallback counts n decisions taken by the local limiter.
func (l *RedisLimiter) fallback(n int) {
	for range n {
		l.c.localFallback(fallbackRateLimit)
	}
}

// Close stops the fallback limiter's eviction goroutine.
func (l *RedisLimiter) Close() error { return l.local.Close() }

// errDown is the error of a fail-closed replica's limits while Redis is
// unreachable.
var errDown = fmt.Errorf("%w: redis is unreachable (cluster.on_unreachable: closed)", limits.ErrUnavailable)

// isReply reports whether err is an error Redis answered (a script that
// failed, say): Redis is reachable, so it is the call's error, not an
// outage to fall back from.
func isReply(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}
