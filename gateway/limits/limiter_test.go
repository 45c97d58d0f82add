package limits

import (
	"context"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func newTestLimiter(t testing.TB) *LocalLimiter {
	l := NewLocalLimiter(LocalOptions{NoEvictor: true, Idle: time.Minute})
	t.Cleanup(func() { l.Close() })
	return l
}

func allow(t *testing.T, l Limiter, s Subject, r Rate, n int, now time.Time) Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), s, r, n, now)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestLimitEdges: a burst is allowed at once, the next request is refused
// with the wait the rate implies, and it is allowed exactly then.
func TestLimitEdges(t *testing.T) {
	l := newTestLimiter(t)
	s := Subject{ScopeKey, Requests, "key_1"}
	r := Rate{PerMinute: 60, Burst: 3} // one a second, three at once
	for i := range 3 {
		d := allow(t, l, s, r, 1, t0)
		if !d.Allowed || d.Limit != 3 || d.Remaining != 2-i {
			t.Fatalf("request %d: %+v", i, d)
		}
	}
	d := allow(t, l, s, r, 1, t0)
	if d.Allowed || d.Remaining != 0 || d.RetryAfter != time.Second || d.Reset != 3*time.Second {
		t.Fatalf("4th at once: %+v", d)
	}
	// A millisecond early is still too early; on time it passes.
	if d := allow(t, l, s, r, 1, t0.Add(time.Second-time.Millisecond)); d.Allowed {
		t.Fatalf("early: %+v", d)
	}
	if d := allow(t, l, s, r, 1, t0.Add(time.Second)); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("on time: %+v", d)
	}
	// Idle long enough, the allowance is whole again, and no more.
	if d := allow(t, l, s, r, 0, t0.Add(time.Hour)); !d.Allowed || d.Remaining != 3 || d.Reset != 0 {
		t.Fatalf("after an hour: %+v", d)
	}
	// Another subject is independent.
	if d := allow(t, l, Subject{ScopeKey, Requests, "key_2"}, r, 3, t0); !d.Allowed {
		t.Fatalf("other key: %+v", d)
	}
}

// TestLimitDefaultBurst: burst 0 is one minute's worth.
func TestLimitDefaultBurst(t *testing.T) {
	l := newTestLimiter(t)
	s := Subject{ScopeTenant, Requests, "acme"}
	r := Rate{PerMinute: 10}
	for i := range 10 {
		if d := allow(t, l, s, r, 1, t0); !d.Allowed {
			t.Fatalf("request %d refused: %+v", i, d)
		}
	}
	if d := allow(t, l, s, r, 1, t0); d.Allowed || d.RetryAfter != 6*time.Second {
		t.Fatalf("11th: %+v", d)
	}
}

// TestLimitTokens: a prompt larger than the burst passes once the
// allowance is whole and leaves a debt; completions charged after the
// call go into debt; giving back restores at most a whole allowance.
func TestLimitTokens(t *testing.T) {
	l := newTestLimiter(t)
	ctx := context.Background()
	s := Subject{ScopeKey, Tokens, "key_1"}
	r := Rate{PerMinute: 600} // 10 a second, burst 600
	if d := allow(t, l, s, r, 1000, t0); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("oversized prompt on a whole allowance: %+v", d)
	}
	// 400 in debt: 40 s until one token, 100 s until whole.
	if d := allow(t, l, s, r, 1, t0); d.Allowed || d.RetryAfter != 40100*time.Millisecond || d.Reset != 100*time.Second {
		t.Fatalf("in debt: %+v", d)
	}
	// Give the 1000 back (as when a request is refused elsewhere): whole.
	if err := l.Charge(ctx, s, r, -1000, t0); err != nil {
		t.Fatal(err)
	}
	if d := allow(t, l, s, r, 0, t0); d.Remaining != 600 {
		t.Fatalf("after giving back: %+v", d)
	}
	if err := l.Charge(ctx, s, r, 2000, t0); err != nil { // completion, reconciled after
		t.Fatal(err)
	}
	if d := allow(t, l, s, r, 1, t0.Add(140*time.Second)); d.Allowed {
		t.Fatalf("1400 in debt, 140 s later: %+v", d)
	}
	if d := allow(t, l, s, r, 1, t0.Add(140*time.Second+100*time.Millisecond)); !d.Allowed {
		t.Fatalf("debt paid: %+v", d)
	}
}

// TestLimitChanged: a limit changed between calls (a key edited) takes
// effect at once: what is left stays, at most the new burst.
func TestLimitChanged(t *testing.T) {
	l := newTestLimiter(t)
	s := Subject{ScopeKey, Requests, "key_1"}
	for range 5 {
		allow(t, l, s, Rate{PerMinute: 10}, 1, t0)
	}
	for i := range 3 { // 5 left, capped at the new burst of 3
		if d := allow(t, l, s, Rate{PerMinute: 3}, 1, t0); !d.Allowed || d.Limit != 3 || d.Remaining != 2-i {
			t.Fatalf("lowered to 3, request %d: %+v", i, d)
		}
	}
	if d := allow(t, l, s, Rate{PerMinute: 3}, 1, t0); d.Allowed || d.RetryAfter != 20*time.Second {
		t.Fatalf("4th under 3: %+v", d)
	}
	if d := allow(t, l, s, Rate{PerMinute: 60}, 1, t0); d.Allowed || d.RetryAfter != time.Second {
		t.Fatalf("raised to 60: %+v", d)
	}
}

// TestLimitEvict: idle, whole allowances are dropped; one in use or in
// debt is kept; the goroutine stops on Close.
func TestLimitEvict(t *testing.T) {
	l := newTestLimiter(t)
	r := Rate{PerMinute: 60}
	allow(t, l, Subject{ScopeIP, Requests, "10.0.0.1"}, r, 1, t0)
	allow(t, l, Subject{ScopeIP, Requests, "10.0.0.2"}, r, 60, t0.Add(50*time.Second))
	l.Charge(context.Background(), Subject{ScopeIP, Tokens, "10.0.0.3"}, Rate{PerMinute: 60}, 100000, t0)
	if l.Len() != 3 {
		t.Fatalf("len %d", l.Len())
	}
	if n := l.Evict(t0.Add(30 * time.Second)); n != 0 {
		t.Fatalf("evicted %d before the idle time", n)
	}
	// At t0+70s: the first is idle 70 s and whole; the second idle 20 s;
	// the third is still in debt.
	if n := l.Evict(t0.Add(70 * time.Second)); n != 1 || l.Len() != 2 {
		t.Fatalf("evicted %d, len %d", n, l.Len())
	}
	if n := l.Evict(t0.Add(2 * time.Minute)); n != 1 || l.Len() != 1 {
		t.Fatalf("evicted %d, len %d", n, l.Len())
	}

	g := NewLocalLimiter(LocalOptions{Idle: time.Millisecond})
	allow(t, g, Subject{ScopeIP, Requests, "x"}, r, 1, time.Now().Add(-time.Hour))
	deadline := time.Now().Add(5 * time.Second)
	for g.Len() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g.Len() != 0 {
		t.Fatal("the eviction goroutine dropped nothing")
	}
	g.Close()
	g.Close()
}

// TestLimitConcurrent: under concurrent use no more than the burst is
// allowed at one instant.
func TestLimitConcurrent(t *testing.T) {
	l := newTestLimiter(t)
	r := Rate{PerMinute: 60, Burst: 25}
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, _ := l.Allow(context.Background(), Subject{ScopeKey, Requests, "k"}, r, 1, t0)
			l.Allow(context.Background(), Subject{ScopeKey, Requests, strconv.Itoa(i % 7)}, r, 1, t0)
			if d.Allowed {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if allowed != 25 {
		t.Fatalf("allowed %d of 100 at once under burst 25", allowed)
	}
}

// BenchmarkLimiter is the limits step's cost per request: a request and
// a token allowance for a key, a request allowance for its tenant, over
// 10k keys. Target: under 1 µs, no allocations.
func BenchmarkLimiter(b *testing.B) { benchmarkLimiter(b, 10000) }

// BenchmarkLimiterFewKeys is BenchmarkLimiter with 100 keys, whose
// allowances stay in the CPU's caches: the difference is the cost of
// memory when many keys are in use.
func BenchmarkLimiterFewKeys(b *testing.B) { benchmarkLimiter(b, 100) }

func benchmarkLimiter(b *testing.B, keys int) {
	l := NewLocalLimiter(LocalOptions{NoEvictor: true})
	defer l.Close()
	ctx := context.Background()
	names := make([]string, keys)
	for i := range names {
		names[i] = "key_" + strconv.Itoa(i)
	}
	rr, tr := Rate{PerMinute: 1 << 30}, Rate{PerMinute: 1 << 30}
	now := t0
	b.ReportAllocs()
	cpu0 := cpuTime()
	n := 0
	for i := 0; b.Loop(); i++ {
		name := names[i%len(names)]
		l.Allow(ctx, Subject{ScopeKey, Requests, name}, rr, 1, now)
		l.Allow(ctx, Subject{ScopeTenant, Requests, "acme"}, rr, 1, now)
		l.Allow(ctx, Subject{ScopeKey, Tokens, name}, tr, 100, now)
		n++
	}
	reportCPU(b, cpu0, n)
}

// cpuTime is the process's CPU time (user and system): on a shared
// machine wall time per op includes waiting for a core; CPU time does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, cpu0 time.Duration, n int) {
	if n > 0 {
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(n), "cpu-ns/op")
	}
}

// BenchmarkLimiterParallel is BenchmarkLimiter from every core at once.
func BenchmarkLimiterParallel(b *testing.B) {
	l := NewLocalLimiter(LocalOptions{NoEvictor: true})
	defer l.Close()
	ctx := context.Background()
	names := make([]string, 10000)
	for i := range names {
		names[i] = "key_" + strconv.Itoa(i)
	}
	rr := Rate{PerMinute: 1 << 30}
	b.ReportAllocs()
	cpu0 := cpuTime()
	defer func() { reportCPU(b, cpu0, b.N) }()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			now := time.Now()
			name := names[i%len(names)]
			l.Allow(ctx, Subject{ScopeKey, Requests, name}, rr, 1, now)
			l.Allow(ctx, Subject{ScopeTenant, Requests, "acme"}, rr, 1, now)
			l.Allow(ctx, Subject{ScopeKey, Tokens, name}, rr, 100, now)
			i++
		}
	})
}
