// Package limitstest holds conformance tests that every implementation of
// limits.Limiter and limits.Budgets must pass alike: the local ones
// (package limits) and the shared ones on Redis (package cluster). The
// same Decisions from the same calls are what keeps the x-ratelimit-*
// headers and Retry-After of a replica the same whether it decides alone
// or with its cluster.
package limitstest

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/semgate/semgate/gateway/limits"
)

// T0 is the clock the tests start at (the caller's clock: a shared
// implementation under test must be made to use it). It is in the future,
// so that what a shared implementation expires on its own clock at the
// end of T0's periods is still there.
var T0 = time.Date(2036, 11, 25, 12, 0, 0, 0, time.UTC)

// NewLimiter returns the Limiter under test. Each call may share state
// with the earlier ones (one Redis): the tests use subjects of their own.
type NewLimiter func(t *testing.T) limits.Limiter

func allow(t *testing.T, l limits.Limiter, s limits.Subject, r limits.Rate, n int, now time.Time) limits.Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), s, r, n, now)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// name makes a subject name unique to the running test.
func name(t *testing.T, s string) string {
	return strings.ReplaceAll(t.Name(), "/", ".") + "." + s
}

// Limiter runs the limiter conformance tests: limits at their edges, the
// default burst, tokens into debt and back, a changed limit, and
// concurrent takes. Batch runs those of a BatchLimiter.
func Limiter(t *testing.T, newLimiter NewLimiter) {
	t.Run("Edges", func(t *testing.T) { edges(t, newLimiter(t)) })
	t.Run("DefaultBurst", func(t *testing.T) { defaultBurst(t, newLimiter(t)) })
	t.Run("Tokens", func(t *testing.T) { tokensDebt(t, newLimiter(t)) })
	t.Run("Changed", func(t *testing.T) { changed(t, newLimiter(t)) })
	t.Run("Concurrent", func(t *testing.T) { concurrent(t, newLimiter(t)) })
}

// edges: a burst is allowed at once, the next request is refused with the
// wait the rate implies, and it is allowed exactly then.
func edges(t *testing.T, l limits.Limiter) {
	s := limits.Subject{Scope: limits.ScopeKey, Unit: limits.Requests, Name: name(t, "key_1")}
	r := limits.Rate{PerMinute: 60, Burst: 3} // one a second, three at once
	for i := range 3 {
		d := allow(t, l, s, r, 1, T0)
		if !d.Allowed || d.Limit != 3 || d.Remaining != 2-i {
			t.Fatalf("request %d: %+v", i, d)
		}
	}
	d := allow(t, l, s, r, 1, T0)
	if d.Allowed || d.Remaining != 0 || d.RetryAfter != time.Second || d.Reset != 3*time.Second {
		t.Fatalf("4th at once: %+v", d)
	}
	if d := allow(t, l, s, r, 1, T0.Add(time.Second-time.Millisecond)); d.Allowed {
		t.Fatalf("early: %+v", d)
	}
	if d := allow(t, l, s, r, 1, T0.Add(time.Second)); !d.Allowed || d.Remaining != 0 || d.Reset != 3*time.Second {
		t.Fatalf("on time: %+v", d)
	}
	if d := allow(t, l, s, r, 0, T0.Add(time.Hour)); !d.Allowed || d.Remaining != 3 || d.Reset != 0 {
		t.Fatalf("after an hour: %+v", d)
	}
	if d := allow(t, l, limits.Subject{Scope: limits.ScopeKey, Unit: limits.Requests, Name: name(t, "key_2")}, r, 3, T0); !d.Allowed {
		t.Fatalf("other key: %+v", d)
	}
	// The same name in another scope or unit is another allowance.
	if d := allow(t, l, limits.Subject{Scope: limits.ScopeTenant, Unit: limits.Requests, Name: s.Name}, r, 3, T0); !d.Allowed {
		t.Fatalf("same name, other scope: %+v", d)
	}
}

// defaultBurst: burst 0 is one minute's worth.
func defaultBurst(t *testing.T, l limits.Limiter) {
	s := limits.Subject{Scope: limits.ScopeTenant, Unit: limits.Requests, Name: name(t, "acme")}
	r := limits.Rate{PerMinute: 10}
	for i := range 10 {
		if d := allow(t, l, s, r, 1, T0); !d.Allowed {
			t.Fatalf("request %d refused: %+v", i, d)
		}
	}
	if d := allow(t, l, s, r, 1, T0); d.Allowed || d.RetryAfter != 6*time.Second || d.Reset != time.Minute {
		t.Fatalf("11th: %+v", d)
	}
}

// tokensDebt: a prompt larger than the burst passes once the allowance is
// whole and leaves a debt; completions charged after the call go into
// debt; giving back restores at most a whole allowance.
func tokensDebt(t *testing.T, l limits.Limiter) {
	ctx := context.Background()
	s := limits.Subject{Scope: limits.ScopeKey, Unit: limits.Tokens, Name: name(t, "key_1")}
	r := limits.Rate{PerMinute: 600} // 10 a second, burst 600
	if d := allow(t, l, s, r, 1000, T0); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("oversized prompt on a whole allowance: %+v", d)
	}
	if d := allow(t, l, s, r, 1, T0); d.Allowed || d.RetryAfter != 40100*time.Millisecond || d.Reset != 100*time.Second {
		t.Fatalf("in debt: %+v", d)
	}
	if err := l.Charge(ctx, s, r, -5000, T0); err != nil { // more than was taken
		t.Fatal(err)
	}
	if d := allow(t, l, s, r, 0, T0); d.Remaining != 600 || d.Reset != 0 {
		t.Fatalf("after giving back: %+v", d)
	}
	if err := l.Charge(ctx, s, r, 2000, T0); err != nil {
		t.Fatal(err)
	}
	if d := allow(t, l, s, r, 1, T0.Add(140*time.Second)); d.Allowed {
		t.Fatalf("1400 in debt, 140 s later: %+v", d)
	}
	if d := allow(t, l, s, r, 1, T0.Add(140*time.Second+100*time.Millisecond)); !d.Allowed {
		t.Fatalf("debt paid: %+v", d)
	}
}

// changed: a limit changed between calls takes effect at once: what is
// left stays, at most the new burst.
func changed(t *testing.T, l limits.Limiter) {
	s := limits.Subject{Scope: limits.ScopeKey, Unit: limits.Requests, Name: name(t, "key_1")}
	for range 5 {
		allow(t, l, s, limits.Rate{PerMinute: 10}, 1, T0)
	}
	for i := range 3 {
		if d := allow(t, l, s, limits.Rate{PerMinute: 3}, 1, T0); !d.Allowed || d.Limit != 3 || d.Remaining != 2-i {
			t.Fatalf("lowered to 3, request %d: %+v", i, d)
		}
	}
	if d := allow(t, l, s, limits.Rate{PerMinute: 3}, 1, T0); d.Allowed || d.RetryAfter != 20*time.Second {
		t.Fatalf("4th under 3: %+v", d)
	}
	if d := allow(t, l, s, limits.Rate{PerMinute: 60}, 1, T0); d.Allowed || d.RetryAfter != time.Second {
		t.Fatalf("raised to 60: %+v", d)
	}
}

// concurrent: 100 concurrent takes at one instant under burst 25: 25 pass.
func concurrent(t *testing.T, l limits.Limiter) {
	s := limits.Subject{Scope: limits.ScopeKey, Unit: limits.Requests, Name: name(t, "k")}
	r := limits.Rate{PerMinute: 60, Burst: 25}
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := l.Allow(context.Background(), s, r, 1, T0)
			if err != nil {
				t.Error(err)
			}
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

// Batch runs the conformance tests of limits.BatchLimiter on the
// limiters newLimiter returns, which must have it: a request's
// allowances taken at once at their edges, all or nothing, a subject
// named twice, a changed limit, charges, and concurrent requests.
func Batch(t *testing.T, newLimiter NewLimiter) {
	batch := func(t *testing.T) limits.BatchLimiter {
		l := newLimiter(t)
		b, ok := l.(limits.BatchLimiter)
		if !ok {
			t.Fatalf("%T is not a limits.BatchLimiter", l)
		}
		return b
	}
	t.Run("Edges", func(t *testing.T) { batchEdges(t, batch(t)) })
	t.Run("Twice", func(t *testing.T) { batchTwice(t, batch(t)) })
	t.Run("Changed", func(t *testing.T) { batchChanged(t, batch(t)) })
	t.Run("Charge", func(t *testing.T) { batchCharge(t, batch(t)) })
	t.Run("Concurrent", func(t *testing.T) {
		b := batch(t)
		if n := ConcurrentBatches(t, []limits.BatchLimiter{b, b}, name(t, "")); n > 20 {
			t.Fatalf("admitted %d requests under a limit of 20", n)
		}
	})
}

// allowAll is AllowAll, failing the test on an error.
func allowAll(t *testing.T, l limits.BatchLimiter, cs []limits.Check, now time.Time) (int, []limits.Decision) {
	t.Helper()
	ds := make([]limits.Decision, len(cs))
	refused, err := l.AllowAll(context.Background(), cs, ds, now)
	if err != nil {
		t.Fatal(err)
	}
	return refused, ds
}

// look is how many units s has left under r.
func look(t *testing.T, l limits.Limiter, s limits.Subject, r limits.Rate, now time.Time) int {
	t.Helper()
	return allow(t, l, s, r, 0, now).Remaining
}

// batchEdges: a key's requests and tokens and its tenant's requests taken
// at once answer as Allow would one by one; a refusal takes nothing, not
// even from the checks before it, and reports the first refused check.
func batchEdges(t *testing.T, l limits.BatchLimiter) {
	key := limits.Subject{Scope: limits.ScopeKey, Unit: limits.Requests, Name: name(t, "key_1")}
	tenant := limits.Subject{Scope: limits.ScopeTenant, Unit: limits.Requests, Name: name(t, "acme")}
	toks := limits.Subject{Scope: limits.ScopeKey, Unit: limits.Tokens, Name: name(t, "key_1")}
	kr, tr, tk := limits.Rate{PerMinute: 60, Burst: 3}, limits.Rate{PerMinute: 2}, limits.Rate{PerMinute: 600}
	cs := []limits.Check{{Subject: key, Rate: kr, N: 1}, {Subject: tenant, Rate: tr, N: 1}, {Subject: toks, Rate: tk, N: 100}}
	for i := range 2 {
		refused, ds := allowAll(t, l, cs, T0)
		if refused != -1 {
			t.Fatalf("request %d refused on %d: %+v", i, refused, ds)
		}
		want := []limits.Decision{
			{Allowed: true, Limit: 3, Remaining: 2 - i, Reset: time.Duration(i+1) * time.Second},
			{Allowed: true, Limit: 2, Remaining: 1 - i, Reset: time.Duration(i+1) * 30 * time.Second},
			{Allowed: true, Limit: 600, Remaining: 500 - 100*i, Reset: time.Duration(i+1) * 10 * time.Second},
		}
		for j := range ds {
			if ds[j] != want[j] {
				t.Fatalf("request %d, check %d: %+v, want %+v", i, j, ds[j], want[j])
			}
		}
	}
	// The tenant's two are spent: refused on it, with its wait; the key's
	// decision is the one it would have had.
	refused, ds := allowAll(t, l, cs, T0)
	if refused != 1 || !ds[0].Allowed || ds[0].Remaining != 0 || ds[1].Allowed || ds[1].RetryAfter != 30*time.Second || ds[1].Remaining != 0 {
		t.Fatalf("3rd: refused %d, %+v", refused, ds[:2])
	}
	if k, tn, tok := look(t, l, key, kr, T0), look(t, l, tenant, tr, T0), look(t, l, toks, tk, T0); k != 1 || tn != 0 || tok != 400 {
		t.Fatalf("after a refusal: key %d, tenant %d, tokens %d left; want 1, 0, 400", k, tn, tok)
	}
	// Refused on the last check: the first two keep nothing either.
	big := []limits.Check{cs[0], {Subject: toks, Rate: tk, N: 401}}
	if refused, ds := allowAll(t, l, big, T0); refused != 1 || ds[1].Allowed || ds[1].RetryAfter != 100*time.Millisecond {
		t.Fatalf("401 tokens of 400: refused %d, %+v", refused, ds)
	}
	if k := look(t, l, key, kr, T0); k != 1 {
		t.Fatalf("key %d left after a refusal on tokens, want 1", k)
	}
	// On time, the tenant's next request passes; looks (N 0) take
	// nothing and pass even in debt.
	later := T0.Add(30 * time.Second)
	if refused, ds := allowAll(t, l, cs, later); refused != -1 || ds[1].Remaining != 0 {
		t.Fatalf("on time: refused %d, %+v", refused, ds)
	}
	if refused, _ := allowAll(t, l, nil, later); refused != -1 {
		t.Fatalf("no checks: refused %d", refused)
	}
	looks := []limits.Check{{Subject: tenant, Rate: tr}, {Subject: key, Rate: kr}}
	if refused, ds := allowAll(t, l, looks, later); refused != -1 || !ds[0].Allowed || ds[0].Remaining != 0 || ds[1].Remaining != 2 {
		t.Fatalf("looks: refused %d, %+v", refused, ds)
	}
	// A prompt larger than the burst passes on a whole allowance, and is
	// not kept when a later check refuses.
	fresh := limits.Subject{Scope: limits.ScopeModel, Unit: limits.Tokens, Name: name(t, "gpt")}
	over := []limits.Check{{Subject: fresh, Rate: tk, N: 1000}, {Subject: tenant, Rate: tr, N: 1}}
	if refused, ds := allowAll(t, l, over, later); refused != 1 || !ds[0].Allowed || ds[0].Remaining != 0 {
		t.Fatalf("oversized, then refused: refused %d, %+v", refused, ds)
	}
	if n := look(t, l, fresh, tk, later); n != 600 {
		t.Fatalf("oversized prompt of a refused request: %d left, want 600", n)
	}
	if refused, ds := allowAll(t, l, over[:1], later); refused != -1 || ds[0].Remaining != 0 || ds[0].Reset != 100*time.Second {
		t.Fatalf("oversized alone: refused %d, %+v", refused, ds)
	}
}

// batchTwice: a subject named twice sees what its first check took.
func batchTwice(t *testing.T, l limits.BatchLimiter) {
	s := limits.Subject{Scope: limits.ScopeKey, Unit: limits.Requests, Name: name(t, "key_1")}
	r := limits.Rate{PerMinute: 60, Burst: 3}
	if refused, ds := allowAll(t, l, []limits.Check{{Subject: s, Rate: r, N: 2}, {Subject: s, Rate: r, N: 2}}, T0); refused != 1 ||
		ds[0].Remaining != 1 || ds[1].Allowed || ds[1].Remaining != 1 || ds[1].RetryAfter != time.Second {
		t.Fatalf("2 and 2 of 3: refused %d, %+v", refused, ds)
	}
	if n := look(t, l, s, r, T0); n != 3 {
		t.Fatalf("%d left after a refusal, want 3", n)
	}
	if refused, ds := allowAll(t, l, []limits.Check{{Subject: s, Rate: r, N: 1}, {Subject: s, Rate: r, N: 2}}, T0); refused != -1 ||
		ds[0].Remaining != 2 || ds[1].Remaining != 0 {
		t.Fatalf("1 and 2 of 3: refused %d, %+v", refused, ds)
	}
}

// batchChanged: a limit changed in a refused request stays changed, as
// Allow would have left it (what is left is at most the new burst).
func batchChanged(t *testing.T, l limits.BatchLimiter) {
	s := limits.Subject{Scope: limits.ScopeKey, Unit: limits.Requests, Name: name(t, "key_1")}
	spent := limits.Subject{Scope: limits.ScopeTenant, Unit: limits.Requests, Name: name(t, "acme")}
	r10, r3 := limits.Rate{PerMinute: 10}, limits.Rate{PerMinute: 3}
	for range 5 {
		allow(t, l, s, r10, 1, T0)
	}
	allow(t, l, spent, limits.Rate{PerMinute: 1}, 1, T0)
	cs := []limits.Check{{Subject: s, Rate: r3, N: 1}, {Subject: spent, Rate: limits.Rate{PerMinute: 1}, N: 1}}
	if refused, ds := allowAll(t, l, cs, T0); refused != 1 || ds[0].Limit != 3 || ds[0].Remaining != 2 {
		t.Fatalf("lowered to 3, then refused: refused %d, %+v", refused, ds)
	}
	if n := look(t, l, s, r10, T0); n != 3 {
		t.Fatalf("back to 10: %d left, want the 3 the lowered limit left", n)
	}
}

// batchCharge: ChargeAll charges each check into debt, gives back, and
// skips N 0.
func batchCharge(t *testing.T, l limits.BatchLimiter) {
	ctx := context.Background()
	a := limits.Subject{Scope: limits.ScopeKey, Unit: limits.Tokens, Name: name(t, "key_1")}
	b := limits.Subject{Scope: limits.ScopeTenant, Unit: limits.Tokens, Name: name(t, "acme")}
	c := limits.Subject{Scope: limits.ScopeModel, Unit: limits.Tokens, Name: name(t, "gpt")}
	r := limits.Rate{PerMinute: 600}
	if err := l.ChargeAll(ctx, []limits.Check{{Subject: a, Rate: r, N: 900}, {Subject: b, Rate: r, N: 100}, {Subject: c, Rate: r}}, T0); err != nil {
		t.Fatal(err)
	}
	if d := allow(t, l, a, r, 1, T0); d.Allowed || d.RetryAfter != 30100*time.Millisecond {
		t.Fatalf("300 in debt: %+v", d)
	}
	if n := look(t, l, b, r, T0); n != 500 {
		t.Fatalf("b: %d left, want 500", n)
	}
	if err := l.ChargeAll(ctx, []limits.Check{{Subject: a, Rate: r, N: -5000}, {Subject: b, Rate: r, N: -50}}, T0); err != nil {
		t.Fatal(err)
	}
	if na, nb, nc := look(t, l, a, r, T0), look(t, l, b, r, T0), look(t, l, c, r, T0); na != 600 || nb != 550 || nc != 600 {
		t.Fatalf("after giving back: %d, %d, %d left; want 600, 550, 600", na, nb, nc)
	}
	if err := l.ChargeAll(ctx, nil, T0); err != nil {
		t.Fatal(err)
	}
}

// ConcurrentBatches: 100 concurrent requests at one instant, spread over
// ls (one limiter per replica; the same one twice for a single replica),
// each taking at once one from its key's requests (burst 1), one from
// the tenant's (burst 25) and 10 tokens from the tenant's (burst 200,
// so 20 requests), subjects named after prefix. It returns how many were
// admitted, having checked that what is left is exactly what they took:
// the refused ones kept nothing. An atomic limiter admits 20; one that
// gives back on a refusal may admit fewer (a request can be refused on a
// unit that another, refused later, holds for a moment).
func ConcurrentBatches(t *testing.T, ls []limits.BatchLimiter, prefix string) int {
	ctx := context.Background()
	tenant := limits.Subject{Scope: limits.ScopeTenant, Unit: limits.Requests, Name: prefix + "acme"}
	toks := limits.Subject{Scope: limits.ScopeTenant, Unit: limits.Tokens, Name: prefix + "acme"}
	kr, rr, tr := limits.Rate{PerMinute: 1}, limits.Rate{PerMinute: 60, Burst: 25}, limits.Rate{PerMinute: 200}
	keyOf := func(i int) limits.Subject {
		return limits.Subject{Scope: limits.ScopeKey, Unit: limits.Requests, Name: prefix + "key_" + strconv.Itoa(i)}
	}
	admitted := make([]bool, 100)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range admitted {
		l := ls[i%len(ls)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			cs := []limits.Check{{Subject: keyOf(i), Rate: kr, N: 1}, {Subject: tenant, Rate: rr, N: 1}, {Subject: toks, Rate: tr, N: 10}}
			ds := make([]limits.Decision, len(cs))
			refused, err := l.AllowAll(ctx, cs, ds, T0)
			if err != nil {
				t.Error(err)
				return
			}
			admitted[i] = refused == -1
			// (Not RetryAfter: LocalLimiter reads what is left after its
			// refusal, when another request may have given back.)
			if refused != -1 && (refused == 0 || ds[refused].Allowed || ds[refused].Limit == 0) {
				t.Errorf("request %d: refused %d, %+v", i, refused, ds)
			}
		}()
	}
	close(start)
	wg.Wait()
	n := 0
	for i, ok := range admitted {
		want := 1
		if ok {
			n++
			want = 0
		}
		if d, err := ls[0].Allow(ctx, keyOf(i), kr, 0, T0); err != nil || d.Remaining != want {
			t.Fatalf("request %d (admitted %v): its key has %d left, %v", i, ok, d.Remaining, err)
		}
	}
	t.Logf("admitted %d of 100", n)
	if d, err := ls[0].Allow(ctx, tenant, rr, 0, T0); err != nil || d.Remaining != 25-n {
		t.Fatalf("%d admitted; the tenant's requests have %d left, want %d (%v)", n, d.Remaining, 25-n, err)
	}
	if d, err := ls[0].Allow(ctx, toks, tr, 0, T0); err != nil || d.Remaining != 200-10*n {
		t.Fatalf("%d admitted; the tenant's tokens have %d left, want %d (%v)", n, d.Remaining, 200-10*n, err)
	}
	if n < 1 || n > 20 {
		t.Fatalf("admitted %d of 100 under a limit of 20", n)
	}
	return n
}

// NewBudgets returns the Budgets under test, without any spend (a fresh
// baseline). Each call may share state with the earlier ones: the tests
// use budgets of their own.
type NewBudgets func(t *testing.T) limits.Budgets

// Budgets runs the budget conformance tests: reservations capped by what
// is left, settling, periods, and 50 concurrent reservations.
func Budgets(t *testing.T, newBudgets NewBudgets) {
	t.Run("ReserveCapped", func(t *testing.T) { reserveCapped(t, newBudgets(t)) })
	t.Run("Concurrent", func(t *testing.T) {
		b := newBudgets(t)
		ConcurrentReservations(t, []limits.Budgets{b, b}, name(t, "key_1"))
	})
}

func cent(n float64) int64 { return limits.USDToNano(n / 100) }

func reserveCapped(t *testing.T, b limits.Budgets) {
	ctx := context.Background()
	key := limits.Budget{Scope: limits.ScopeKey, Name: name(t, "key_1"), MaxNano: cent(1), Period: limits.PeriodDay}
	tenant := limits.Budget{Scope: limits.ScopeTenant, Name: name(t, "acme"), MaxNano: cent(100), Period: limits.PeriodMonth}
	bs := []limits.Budget{key, tenant}
	r1, err := b.Reserve(ctx, bs, cent(0.4), T0)
	if err != nil || r1.Nano != cent(0.4) || r1.ID == "" || r1.Periods[0] != "2036-11-25" || r1.Periods[1] != "2036-11" {
		t.Fatalf("r1 %+v, %v", r1, err)
	}
	r2, err := b.Reserve(ctx, bs, cent(5), T0) // capped at the 0.6 left
	if err != nil || r2.Nano != cent(0.6) {
		t.Fatalf("r2 %+v, %v", r2, err)
	}
	_, err = b.Reserve(ctx, bs, 1, T0)
	var ob *limits.OverBudgetError
	if !errors.As(err, &ob) || !errors.Is(err, limits.ErrOverBudget) || ob.Budget.Scope != limits.ScopeKey || ob.Reserved != cent(1) ||
		ob.Spent != 0 || !ob.Renews.Equal(time.Date(2036, 11, 26, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("third: %v %+v", err, ob)
	}
	if r, err := b.Reserve(ctx, bs, 0, T0); err != nil || r.Nano != 0 || r.ID != "" {
		t.Fatalf("free: %+v %v", r, err)
	}
	if err := b.Settle(ctx, r1, cent(0.1)); err != nil {
		t.Fatal(err)
	}
	if left, err := b.Left(ctx, bs, T0); err != nil || left != cent(0.3) {
		t.Fatalf("left %d %v", left, err)
	}
	// r2 is capped and in flight: another request that the 0.3 left would
	// cap is refused (so that at most one overruns the budget), one that
	// fits is not.
	if _, err := b.Reserve(ctx, bs, cent(5), T0); !errors.As(err, &ob) || ob.Budget.Scope != limits.ScopeKey || ob.Reserved != cent(0.6) {
		t.Fatalf("a second capped reservation: %v", err)
	}
	r3, err := b.Reserve(ctx, bs, cent(0.2), T0)
	if err != nil || r3.Nano != cent(0.2) {
		t.Fatalf("a reservation that fits, beside a capped one: %+v %v", r3, err)
	}
	if err := b.Settle(ctx, r3, 0); err != nil {
		t.Fatal(err)
	}
	if err := b.Settle(ctx, r2, cent(0.95)); err != nil { // beyond its capped hold
		t.Fatal(err)
	}
	if spent, reserved, err := b.Status(ctx, key, T0); err != nil || spent != cent(1.05) || reserved != 0 {
		t.Fatalf("key spent %d reserved %d %v", spent, reserved, err)
	}
	if spent, _, _ := b.Status(ctx, tenant, T0); spent != cent(1.05) {
		t.Fatalf("tenant spent %d", spent)
	}
	if left, _ := b.Left(ctx, bs, T0); left != -cent(0.05) {
		t.Fatalf("overspent left %d", left)
	}
	next := T0.Add(24 * time.Hour)
	if left, _ := b.Left(ctx, bs, next); left != cent(1) {
		t.Fatalf("next day left %d", left)
	}
	// r2 settled: a capped reservation is granted again (the key's budget
	// is new; the tenant's has 98.95 left).
	r4, err := b.Reserve(ctx, bs, cent(3), next)
	if err != nil || r4.Nano != cent(1) {
		t.Fatalf("capped once the last capped one settled: %+v %v", r4, err)
	}
	if err := b.Settle(ctx, r4, 0); err != nil {
		t.Fatal(err)
	}
	if left, _ := b.Left(ctx, []limits.Budget{tenant}, next); left != cent(100)-cent(1.05) {
		t.Fatalf("tenant left %d", left)
	}
	// A request without a reservation (want 0) still settles its spend.
	r0, _ := b.Reserve(ctx, []limits.Budget{tenant}, 0, next)
	if err := b.Settle(ctx, r0, cent(1)); err != nil {
		t.Fatal(err)
	}
	if spent, _, _ := b.Status(ctx, tenant, next); spent != cent(2.05) {
		t.Fatalf("tenant spent %d after a free reservation settled", spent)
	}
}

// ConcurrentReservations: 50 concurrent requests, spread over bs (one
// Budgets per replica; the same one twice for a single replica), each
// worth up to 2 cents on a budget of 1 cent named name, cannot together
// spend more than the budget and one request's settled cost (0.7 cents).
func ConcurrentReservations(t *testing.T, bs []limits.Budgets, name string) {
	ctx := context.Background()
	budget := []limits.Budget{{Scope: limits.ScopeKey, Name: name, MaxNano: cent(1), Period: limits.PeriodMonth}}
	var mu sync.Mutex
	var spent int64
	served, refused := 0, 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 50 {
		b := bs[i%len(bs)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := b.Reserve(ctx, budget, cent(2), T0)
			if errors.Is(err, limits.ErrOverBudget) {
				mu.Lock()
				refused++
				mu.Unlock()
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Millisecond) // the upstream call
			cost := cent(0.7)
			mu.Lock()
			spent += cost
			served++
			mu.Unlock()
			if err := b.Settle(ctx, r, cost); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	total, reserved, err := bs[0].Status(ctx, budget[0], T0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("served %d, refused %d, spent %d nano-USD of %d", served, refused, total, budget[0].MaxNano)
	if total != spent || reserved != 0 {
		t.Fatalf("status spent %d reserved %d, settled %d", total, reserved, spent)
	}
	if over := total - cent(1); over > cent(0.7) {
		t.Fatalf("overspent by %d nano-USD (served %d)", over, served)
	}
	if served < 1 || served+refused != 50 {
		t.Fatalf("served %d, refused %d", served, refused)
	}
}
