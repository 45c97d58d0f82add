package cluster

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/semgate/semgate/gateway/limits"
)

// Shared rate limits.
//
// RedisLimiter keeps every allowance in Redis, so that a limit of N per
// minute is N for the whole cluster, not N per replica. Each Allow or
// Charge is one EVALSHA of limiter.lua (go-redis's Script runs EVALSHA and
// loads the script on NOSCRIPT), which reads and updates the allowance
// atomically, on Redis's clock (TIME inside the script): the replicas'
// clocks never enter into it.
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
// shared again once Redis is back); with "closed" Allow and Charge fail
// with limits.ErrUnavailable and the gateway refuses the request, as it
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

var _ limits.Limiter = (*RedisLimiter)(nil)

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

// key names s's allowance in Redis.
func (l *RedisLimiter) key(s limits.Subject) string {
	return l.prefix + string([]byte{byte(s.Scope), ':', byte(s.Unit), ':'}) + s.Name
}

// run runs the script: whether n was allowed and the tokens left.
func (l *RedisLimiter) run(ctx context.Context, s limits.Subject, r limits.Rate, n int, mode string, now time.Time) (bool, float64, error) {
	clock := ""
	if l.o.CallerClock {
		clock = strconv.FormatInt(now.UnixMicro(), 10)
	}
	res, err := limiterScript.Run(ctx, l.c.rdb, []string{l.key(s)}, r.PerMinute, r.Capacity(), n, mode, clock).Slice()
	if err != nil {
		return false, 0, err
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("cluster: limiter script answered %d values", len(res))
	}
	allowed, _ := res[0].(int64)
	str, _ := res[1].(string)
	tokens, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return false, 0, fmt.Errorf("cluster: limiter script answered tokens %q", str)
	}
	return allowed == 1, tokens, nil
}

// Allow implements limits.Limiter.
func (l *RedisLimiter) Allow(ctx context.Context, s limits.Subject, r limits.Rate, n int, now time.Time) (limits.Decision, error) {
	if l.c.Up() {
		ok, tokens, err := l.run(ctx, s, r, n, modeAllow, now)
		if err == nil {
			return limits.Decide(tokens, r, n, ok), nil
		}
		if ctx.Err() != nil || isReply(err) {
			return limits.Decision{}, err
		}
		l.c.Fail(err)
		if l.c.FailClosed() {
			return limits.Decision{}, fmt.Errorf("%w: %w", limits.ErrUnavailable, err)
		}
	} else if l.c.FailClosed() {
		return limits.Decision{}, errDown
	}
	l.c.localFallback(fallbackRateLimit)
	return l.local.Allow(ctx, s, r, n, now)
}

// Charge implements limits.Limiter.
func (l *RedisLimiter) Charge(ctx context.Context, s limits.Subject, r limits.Rate, n int, now time.Time) error {
	if n == 0 {
		return nil
	}
	if l.c.Up() {
		_, _, err := l.run(ctx, s, r, n, modeCharge, now)
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
	l.c.localFallback(fallbackRateLimit)
	return l.local.Charge(ctx, s, r, n, now)
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
