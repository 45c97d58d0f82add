package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/semgate/semgate/gateway/cluster/redistest"
	"github.com/semgate/semgate/gateway/limits"
	"github.com/semgate/semgate/gateway/limits/limitstest"
	"github.com/semgate/semgate/semcache"
)

// member is a replica reduced to what shared limits use: a store and its
// cluster membership, with its metrics and log.
type member struct {
	c   *Cluster
	set *metrics.Set
	log *syncBuffer
}

// syncBuffer is a log sink safe for the cluster's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// count is how many lines contain sub.
func (s *syncBuffer) count(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), sub)
}

// join makes a member of the cluster on o's Redis, closed when the test
// ends.
func join(t testing.TB, o Options) *member {
	t.Helper()
	st, err := semcache.OpenStore(semcache.StoreOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	m := &member{set: metrics.NewSet(), log: &syncBuffer{}}
	m.c, err = New(o, Deps{Store: st, Metrics: m.set, Logger: slog.New(slog.NewTextHandler(m.log, nil))})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.c.Close()
		st.Close()
	})
	return m
}

func newLimiter(t testing.TB, c *Cluster, o LimiterOptions) *RedisLimiter {
	t.Helper()
	l, err := NewLimiter(c, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestRedisLimiterConformance: the Redis limiter answers every call of
// the conformance tests as the local one does (with the caller's clock,
// which the tests control).
func TestRedisLimiterConformance(t *testing.T) {
	srv := redistest.Start(t)
	m := join(t, Options{RedisURL: srv.URL()})
	newL := func(t *testing.T) limits.Limiter {
		return newLimiter(t, m.c, LimiterOptions{CallerClock: true})
	}
	limitstest.Limiter(t, newL)
	t.Run("Batch", func(t *testing.T) { limitstest.Batch(t, newL) })
	if got := srv.Do("EXISTS", "semgate:rl:k:r:TestRedisLimiterConformance.Edges.key_1"); got != ":1" {
		t.Fatalf("the allowance is not in Redis under its key: EXISTS %s", got)
	}
}

// TestRedisLimiterShared: two replicas share one limit: 40 concurrent
// requests split between them get exactly the burst, and each replica's
// answers count the other's requests. Redis's clock counts, not the
// callers'.
func TestRedisLimiterShared(t *testing.T) {
	srv := redistest.Start(t)
	o := Options{RedisURL: srv.URL()}
	ma := join(t, o)
	a := newLimiter(t, ma.c, LimiterOptions{})
	b := newLimiter(t, join(t, o).c, LimiterOptions{})
	ctx := context.Background()
	s := limits.Subject{Scope: limits.ScopeKey, Unit: limits.Requests, Name: "key_shared"}
	r := limits.Rate{PerMinute: 10} // burst 10, one more every 6 s
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := map[*RedisLimiter]int{}
	for i := range 40 {
		l := a
		if i%2 == 1 {
			l = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := l.Allow(ctx, s, r, 1, time.Now())
			if err != nil {
				t.Error(err)
				return
			}
			if d.Allowed {
				mu.Lock()
				allowed[l]++
				mu.Unlock()
			} else if d.RetryAfter <= 0 || d.RetryAfter > 6*time.Second || d.Remaining != 0 || d.Limit != 10 {
				t.Errorf("refused: %+v", d)
			}
		}()
	}
	wg.Wait()
	t.Logf("allowed on A %d, on B %d", allowed[a], allowed[b])
	if allowed[a]+allowed[b] != 10 || allowed[a] == 0 || allowed[b] == 0 {
		t.Fatalf("allowed %d on A and %d on B under one limit of 10", allowed[a], allowed[b])
	}
	// A caller whose clock is an hour ahead gains nothing: Redis's clock
	// counts.
	if d, err := a.Allow(ctx, s, r, 1, time.Now().Add(time.Hour)); err != nil || d.Allowed {
		t.Fatalf("a replica with a clock an hour ahead: %+v %v", d, err)
	}
	// Tokens charged on A are debt on B.
	ts := limits.Subject{Scope: limits.ScopeTenant, Unit: limits.Tokens, Name: "acme"}
	tr := limits.Rate{PerMinute: 6000}
	if err := a.Charge(ctx, ts, tr, 9000, time.Now()); err != nil {
		t.Fatal(err)
	}
	d, err := b.Allow(ctx, ts, tr, 1, time.Now())
	if err != nil || d.Allowed || d.Remaining != 0 || d.RetryAfter < 29*time.Second || d.RetryAfter > 31*time.Second {
		t.Fatalf("B after 9000 tokens charged on A: %+v %v", d, err)
	}
	if err := b.Charge(ctx, ts, tr, -20000, time.Now()); err != nil {
		t.Fatal(err)
	}
	if d, _ := a.Allow(ctx, ts, tr, 0, time.Now()); d.Remaining != 6000 || d.Reset != 0 {
		t.Fatalf("A after B gave back: %+v", d)
	}
	// An error Redis answers (here: a key of the wrong type) is the call's
	// error, not an outage: nothing falls back.
	if got := srv.Do("SET", "semgate:rl:k:r:key_wrongtype", "x"); got != "+OK" {
		t.Fatal(got)
	}
	if _, err := a.Allow(ctx, limits.Subject{Scope: limits.ScopeKey, Unit: limits.Requests, Name: "key_wrongtype"}, r, 1, time.Now()); err == nil ||
		errors.Is(err, limits.ErrUnavailable) || !a.c.Up() || counter(ma.set, `semgate_cluster_local_decisions_total{kind="rate_limit"}`) != 0 {
		t.Fatalf("a WRONGTYPE answer: %v, up %v", err, a.c.Up())
	}
	// A whole allowance expires from Redis.
	if ttl, _ := strconv.Atoi(strings.TrimPrefix(srv.Do("PTTL", "semgate:rl:t:t:acme"), ":")); ttl <= 0 || ttl > 1000 {
		t.Fatalf("a whole allowance's PTTL %d, want at most 1000 ms", ttl)
	}
}

// TestRedisLimiterSharedBatches: 100 concurrent requests split between
// two replicas, each taking three allowances in one call, are admitted
// exactly as far as the tightest limit goes (the script is atomic: a
// refused request never holds a unit, even for a moment), and what is
// left in Redis is exactly what the admitted ones took.
func TestRedisLimiterSharedBatches(t *testing.T) {
	srv := redistest.Start(t)
	o := Options{RedisURL: srv.URL()}
	a := newLimiter(t, join(t, o).c, LimiterOptions{CallerClock: true})
	b := newLimiter(t, join(t, o).c, LimiterOptions{CallerClock: true})
	if n := limitstest.ConcurrentBatches(t, []limits.BatchLimiter{a, b}, "shared."); n != 20 {
		t.Fatalf("admitted %d under a limit of 20", n)
	}
}

// TestRedisLimiterOutage: Redis killed. Failing open, a replica limits on
// its own (a metric, one log line per outage) and shares again once
// Redis is back; failing closed, it refuses with limits.ErrUnavailable.
func TestRedisLimiterOutage(t *testing.T) {
	srv := redistest.Start(t)
	open := join(t, Options{RedisURL: srv.URL()})
	closed := join(t, Options{RedisURL: srv.URL(), OnUnreachable: FailClosed})
	lo := newLimiter(t, open.c, LimiterOptions{})
	lc := newLimiter(t, closed.c, LimiterOptions{})
	ctx := context.Background()
	s := limits.Subject{Scope: limits.ScopeKey, Unit: limits.Requests, Name: "key_1"}
	r := limits.Rate{PerMinute: 60, Burst: 3}
	for _, l := range []*RedisLimiter{lo, lc} {
		if d, err := l.Allow(ctx, s, r, 1, time.Now()); err != nil || !d.Allowed {
			t.Fatalf("with Redis up: %+v %v", d, err)
		}
	}
	const line = "rate limits and budgets are enforced by each replica on its own"
	for outage := range 2 {
		srv.Kill()
		// At once, before the health check notices: the failed call itself
		// switches.
		d, err := lo.Allow(ctx, s, r, 1, time.Now())
		if err != nil || !d.Allowed || d.Limit != 3 {
			t.Fatalf("open, Redis just killed: %+v %v", d, err)
		}
		if _, err := lc.Allow(ctx, s, r, 1, time.Now()); !errors.Is(err, limits.ErrUnavailable) {
			t.Fatalf("closed, Redis just killed: %v", err)
		}
		if !within(5*time.Second, func() bool { return !open.c.Up() && !closed.c.Up() }) {
			t.Fatal("the outage was not noticed")
		}
		// Failing open, the local limiter limits: the burst of 3, once.
		n := 0
		for range 5 {
			if d, err := lo.Allow(ctx, limits.Subject{Scope: limits.ScopeKey, Unit: limits.Requests, Name: "key_local" + strconv.Itoa(outage)}, r, 1, time.Now()); err != nil {
				t.Fatal(err)
			} else if d.Allowed {
				n++
			}
		}
		if n != 3 {
			t.Fatalf("open during the outage: %d of 5 allowed under a burst of 3", n)
		}
		if err := lc.Charge(ctx, s, r, 1, time.Now()); !errors.Is(err, limits.ErrUnavailable) {
			t.Fatalf("closed charge during the outage: %v", err)
		}
		// A request's allowances at once: the same.
		cs := []limits.Check{{Subject: limits.Subject{Scope: limits.ScopeKey, Unit: limits.Requests, Name: "key_batch" + strconv.Itoa(outage)}, Rate: r, N: 3},
			{Subject: s, Rate: r}}
		ds := make([]limits.Decision, len(cs))
		if refused, err := lo.AllowAll(ctx, cs, ds, time.Now()); err != nil || refused != -1 || ds[0].Limit != 3 || ds[0].Remaining != 0 {
			t.Fatalf("open, a batch during the outage: %d %+v %v", refused, ds, err)
		}
		if refused, err := lo.AllowAll(ctx, cs, ds, time.Now()); err != nil || refused != 0 {
			t.Fatalf("open, a second batch during the outage: %d %+v %v", refused, ds, err)
		}
		if _, err := lc.AllowAll(ctx, cs, ds, time.Now()); !errors.Is(err, limits.ErrUnavailable) {
			t.Fatalf("closed, a batch during the outage: %v", err)
		}
		if err := lc.ChargeAll(ctx, cs, time.Now()); !errors.Is(err, limits.ErrUnavailable) {
			t.Fatalf("closed, charges during the outage: %v", err)
		}
		if got := counter(open.set, `semgate_cluster_local_decisions_total{kind="rate_limit"}`); got < 6 {
			t.Fatalf("local decisions counted: %v", got)
		}
		if got := counter(open.set, "semgate_cluster_limits_local"); got != 1 {
			t.Fatalf("semgate_cluster_limits_local %v during the outage", got)
		}
		if got := open.log.count(line); got != outage+1 {
			t.Fatalf("%d log lines after outage %d", got, outage+1)
		}
		if got := counter(closed.set, `semgate_cluster_local_decisions_total{kind="rate_limit"}`); got != 0 {
			t.Fatalf("a fail-closed replica decided locally %v times", got)
		}

		srv.Restart()
		if !within(10*time.Second, func() bool { return open.c.Up() && closed.c.Up() }) {
			t.Fatal("the replicas did not recover")
		}
		if got := counter(open.set, "semgate_cluster_limits_local"); got != 0 {
			t.Fatalf("semgate_cluster_limits_local %v after recovery", got)
		}
		// Shared again: both replicas take from the one allowance in Redis.
		shared := limits.Subject{Scope: limits.ScopeKey, Unit: limits.Requests, Name: "key_after" + strconv.Itoa(outage)}
		for i, l := range []*RedisLimiter{lo, lc, lo} {
			if d, err := l.Allow(ctx, shared, r, 1, time.Now()); err != nil || !d.Allowed || d.Remaining != 2-i {
				t.Fatalf("after recovery, request %d: %+v %v", i, d, err)
			}
		}
		if d, _ := lc.Allow(ctx, shared, r, 1, time.Now()); d.Allowed {
			t.Fatalf("4th after recovery: %+v", d)
		}
	}
	if got := open.log.count("shared through redis again"); got != 2 {
		t.Fatalf("%d recovery lines after two outages", got)
	}
}

// BenchmarkSharedLimiter is the limits step's limiter cost per request
// (BenchmarkLimiter's three allowances: a key's requests and tokens, its
// tenant's requests, over 10k keys), on the local limiter and on Redis (a
// redis-server on loopback): "one" calls Allow per allowance (on Redis,
// one round trip each), "batch" AllowAll once, as the limits step does
// (on Redis, one round trip).
func BenchmarkSharedLimiter(b *testing.B) {
	srv := redistest.Start(b)
	m := join(b, Options{RedisURL: srv.URL()})
	names := make([]string, 10000)
	for i := range names {
		names[i] = "key_" + strconv.Itoa(i)
	}
	benchLimiters(b, m, func(b *testing.B, l limits.BatchLimiter, batch bool) {
		cs, ds := benchChecks(), make([]limits.Decision, 3)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			name := names[i%len(names)]
			cs[0].Subject.Name, cs[2].Subject.Name = name, name
			if err := benchRequest(l, batch, cs, ds); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchLimiters runs f as a sub-benchmark for the local limiter and the
// Redis one (on m's client), each taking a request's allowances one by one
// and in a batch.
func benchLimiters(b *testing.B, m *member, f func(b *testing.B, l limits.BatchLimiter, batch bool)) {
	for _, kind := range []string{"local", "redis"} {
		for _, mode := range []string{"one", "batch"} {
			b.Run(kind+"/"+mode, func(b *testing.B) {
				var l limits.BatchLimiter = limits.NewLocalLimiter(limits.LocalOptions{NoEvictor: true})
				if kind == "redis" {
					l = newLimiter(b, m.c, LimiterOptions{})
				}
				defer l.Close()
				f(b, l, mode == "batch")
			})
		}
	}
}

// benchChecks are a request's three allowances; the key's name is to be
// filled in.
func benchChecks() []limits.Check {
	rr := limits.Rate{PerMinute: 1 << 30}
	return []limits.Check{{Subject: limits.Subject{Scope: limits.ScopeKey, Unit: limits.Requests}, Rate: rr, N: 1},
		{Subject: limits.Subject{Scope: limits.ScopeTenant, Unit: limits.Requests, Name: "acme"}, Rate: rr, N: 1},
		{Subject: limits.Subject{Scope: limits.ScopeKey, Unit: limits.Tokens}, Rate: rr, N: 100}}
}

// benchRequest takes a request's allowances: at once, or one by one.
func benchRequest(l limits.BatchLimiter, batch bool, cs []limits.Check, ds []limits.Decision) error {
	ctx, now := context.Background(), time.Now()
	if batch {
		if refused, err := l.AllowAll(ctx, cs, ds, now); err != nil || refused != -1 {
			return fmt.Errorf("refused %d %+v: %v", refused, ds, err)
		}
		return nil
	}
	for _, c := range cs {
		if d, err := l.Allow(ctx, c.Subject, c.Rate, c.N, now); err != nil || !d.Allowed {
			return fmt.Errorf("%+v: %v", d, err)
		}
	}
	return nil
}

// BenchmarkSharedLimiterParallel is BenchmarkSharedLimiter from 32
// goroutines per core, as a gateway under load calls it: the round trips
// overlap (go-redis's connection pool), so the cost per request is the
// throughput's, not the latency's.
func BenchmarkSharedLimiterParallel(b *testing.B) {
	srv := redistest.Start(b)
	m := join(b, Options{RedisURL: srv.URL()})
	benchLimiters(b, m, func(b *testing.B, l limits.BatchLimiter, batch bool) {
		b.ReportAllocs()
		b.SetParallelism(32)
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			name := "key_" + strconv.FormatInt(next.Add(1), 10)
			cs, ds := benchChecks(), make([]limits.Decision, 3)
			cs[0].Subject.Name, cs[2].Subject.Name = name, name
			for pb.Next() {
				if err := benchRequest(l, batch, cs, ds); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
