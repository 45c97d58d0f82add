package limits

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/semgate/semgate/semcache"
)

func openKV(t *testing.T, dir string) (*semcache.Store, *semcache.KV) {
	t.Helper()
	st, err := semcache.OpenStore(semcache.StoreOptions{Dir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	kv, err := st.KV('b')
	if err != nil {
		t.Fatal(err)
	}
	return st, kv
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func cent(n float64) int64 { return USDToNano(n / 100) }

// TestBudgetReserveCapped: a reservation holds the worst case, capped by
// what is left; with nothing left the next one fails with the budget that
// is spent; settling releases the rest and counts the real cost.
func TestBudgetReserveCapped(t *testing.T) {
	b, err := OpenBudgets(nil, BudgetOptions{Log: quiet}, t0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := Budget{Scope: ScopeKey, Name: "key_1", MaxNano: cent(1), Period: PeriodDay}
	tenant := Budget{Scope: ScopeTenant, Name: "acme", MaxNano: cent(100), Period: PeriodMonth}
	bs := []Budget{key, tenant}
	r1, err := b.Reserve(ctx, bs, cent(0.4), t0)
	if err != nil || r1.Nano != cent(0.4) || r1.ID == "" || r1.Periods[0] != "2026-11-25" || r1.Periods[1] != "2026-11" {
		t.Fatalf("r1 %+v, %v", r1, err)
	}
	r2, err := b.Reserve(ctx, bs, cent(5), t0) // capped at the 0.6 left
	if err != nil || r2.Nano != cent(0.6) {
		t.Fatalf("r2 %+v, %v", r2, err)
	}
	_, err = b.Reserve(ctx, bs, 1, t0)
	var ob *OverBudgetError
	if !errors.As(err, &ob) || !errors.Is(err, ErrOverBudget) || ob.Budget.Scope != ScopeKey || ob.Reserved != cent(1) ||
		!ob.Renews.Equal(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("third: %v %+v", err, ob)
	}
	// Free requests pass whatever is left.
	if r, err := b.Reserve(ctx, bs, 0, t0); err != nil || r.Nano != 0 || r.ID != "" {
		t.Fatalf("free: %+v %v", r, err)
	}
	if err := b.Settle(ctx, r1, cent(0.1)); err != nil {
		t.Fatal(err)
	}
	if left, _ := b.Left(ctx, bs, t0); left != cent(0.3) {
		t.Fatalf("left %d", left)
	}
	if err := b.Settle(ctx, r2, cent(0.95)); err != nil { // beyond its capped hold
		t.Fatal(err)
	}
	if spent, reserved, _ := b.Status(ctx, key, t0); spent != cent(1.05) || reserved != 0 {
		t.Fatalf("key spent %d reserved %d", spent, reserved)
	}
	if spent, _, _ := b.Status(ctx, tenant, t0); spent != cent(1.05) {
		t.Fatalf("tenant spent %d", spent)
	}
	// The next day the daily key budget is whole again; the month's
	// tenant budget is not.
	next := t0.Add(24 * time.Hour)
	if left, _ := b.Left(ctx, bs, next); left != cent(1) {
		t.Fatalf("next day left %d", left)
	}
	if left, _ := b.Left(ctx, []Budget{tenant}, next); left != cent(100)-cent(1.05) {
		t.Fatalf("tenant left %d", left)
	}
}

// TestBudgetConcurrent: 50 concurrent requests, each worth up to 2 cents,
// on a budget with 1 cent left, cannot spend more than the budget and one
// request's settled cost.
func TestBudgetConcurrent(t *testing.T) {
	_, kv := openKV(t, t.TempDir())
	b, err := OpenBudgets(kv, BudgetOptions{Log: quiet, Baseline: func(Budget, string) int64 { return cent(9) }}, t0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	bs := []Budget{{Scope: ScopeKey, Name: "key_1", MaxNano: cent(10), Period: PeriodMonth}}
	var spent atomic.Int64
	var served, refused atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := b.Reserve(ctx, bs, cent(2), t0)
			if errors.Is(err, ErrOverBudget) {
				refused.Add(1)
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Millisecond) // the upstream call
			cost := cent(0.7)
			spent.Add(cost)
			served.Add(1)
			if err := b.Settle(ctx, r, cost); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	total, reserved, _ := b.Status(ctx, bs[0], t0)
	if total != cent(9)+spent.Load() || reserved != 0 {
		t.Fatalf("status %d/%d, spent %d", total, reserved, spent.Load())
	}
	if over := total - cent(10); over > cent(0.7) {
		t.Fatalf("overspent by %d nano-USD (served %d)", over, served.Load())
	}
	if served.Load() < 1 || served.Load()+refused.Load() != 50 {
		t.Fatalf("served %d, refused %d", served.Load(), refused.Load())
	}
}

// TestBudgetRestart: spend and held reservations survive a restart; a
// reservation never settled (its process died) holds until its lease
// ends, then is released and its record deleted; one past its lease at
// start-up is deleted at once.
func TestBudgetRestart(t *testing.T) {
	dir := t.TempDir()
	st, kv := openKV(t, dir)
	ctx := context.Background()
	bs := []Budget{{Scope: ScopeKey, Name: "key_1", MaxNano: cent(10), Period: PeriodMonth}}
	b, err := OpenBudgets(kv, BudgetOptions{Log: quiet, Lease: time.Minute}, t0)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := b.Reserve(ctx, bs, cent(3), t0)
	if err := b.Settle(ctx, r, cent(2)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Reserve(ctx, bs, cent(4), t0); err != nil { // never settled: a crash
		t.Fatal(err)
	}
	if _, err := b.Reserve(ctx, bs, cent(1), t0.Add(-2*time.Minute)); err != nil { // lease ends before t0+30s
		t.Fatal(err)
	}
	st.Close()

	st, kv = openKV(t, dir)
	b, err = OpenBudgets(kv, BudgetOptions{Log: quiet, Lease: time.Minute}, t0.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	spent, reserved, _ := b.Status(ctx, bs[0], t0)
	if spent != cent(2) || reserved != cent(4) {
		t.Fatalf("after restart: spent %d reserved %d", spent, reserved)
	}
	if left, _ := b.Left(ctx, bs, t0.Add(59*time.Second)); left != cent(4) {
		t.Fatalf("within the lease: left %d", left)
	}
	if left, _ := b.Left(ctx, bs, t0.Add(61*time.Second)); left != cent(8) {
		t.Fatalf("past the lease: left %d", left)
	}
	n := 0
	kv.Scan([]byte{recordReservation}, func(k, v []byte) bool { n++; return true })
	if n != 0 {
		t.Fatalf("%d reservation records left", n)
	}
	st.Close()

	// The stored spend counts even when cost accounting lost the last
	// second (a baseline below it); a higher baseline counts too.
	st, kv = openKV(t, dir)
	defer st.Close()
	b, _ = OpenBudgets(kv, BudgetOptions{Log: quiet, Baseline: func(Budget, string) int64 { return cent(1) }}, t0)
	if spent, _, _ := b.Status(ctx, bs[0], t0); spent != cent(2) {
		t.Fatalf("stored spend %d", spent)
	}
	b, _ = OpenBudgets(kv, BudgetOptions{Log: quiet, Baseline: func(Budget, string) int64 { return cent(5) }}, t0)
	if spent, _, _ := b.Status(ctx, bs[0], t0); spent != cent(5) {
		t.Fatalf("baseline spend %d", spent)
	}
	// A month later the old spend records are deleted at open.
	if _, err := OpenBudgets(kv, BudgetOptions{Log: quiet}, t0.AddDate(0, 2, 0)); err != nil {
		t.Fatal(err)
	}
	n = 0
	kv.Scan(nil, func(k, v []byte) bool { n++; return true })
	if n != 0 {
		t.Fatalf("%d records left two months on", n)
	}
}

// TestBudgetPeriods: calendar periods, UTC.
func TestBudgetPeriods(t *testing.T) {
	at := time.Date(2026, 12, 31, 23, 30, 0, 0, time.FixedZone("x", -3*3600)) // 2027-01-01 02:30 UTC
	if p := PeriodOf(PeriodDay, at); p != "2027-01-01" {
		t.Fatal(p)
	}
	if p := PeriodOf(PeriodMonth, at); p != "2027-01" {
		t.Fatal(p)
	}
	if e := PeriodEnd(PeriodMonth, at); !e.Equal(time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatal(e)
	}
	if e := PeriodEnd(PeriodDay, at); !e.Equal(time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Fatal(e)
	}
}

// TestLimitsOptions: every problem reported.
func TestLimitsOptions(t *testing.T) {
	o := Options{
		Tenants:    map[string]TenantLimits{"a": {RateLimits: RateLimits{RequestsPerMinute: -1, Burst: 3}, Budget: BudgetLimit{MaxUSD: -1, Period: "week"}}},
		Models:     map[string]RateLimits{"m": {Burst: 2}},
		OverBudget: "maybe", ReservationLease: -1,
	}
	err := o.Validate()
	for _, want := range []string{"tenants.a.requests_per_minute", "tenants.a.budget.max_usd", "tenants.a.budget.period", "models.m.burst", "over_budget", "reservation_lease"} {
		if err == nil || !contains(err.Error(), want) {
			t.Errorf("missing %s in %v", want, err)
		}
	}
	ok := Options{Tenants: map[string]TenantLimits{"*": {RateLimits: RateLimits{RequestsPerMinute: 5}}}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	if ok.Tenant("zzz").RequestsPerMinute != 5 || ok.Model("m").RequestsPerMinute != 0 {
		t.Fatal("defaults")
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestBudgetCappedRestart: a capped reservation left by a crash still
// keeps other capped ones off its budget after a restart, until its lease
// ends.
func TestBudgetCappedRestart(t *testing.T) {
	dir := t.TempDir()
	st, kv := openKV(t, dir)
	ctx := context.Background()
	bs := []Budget{{Scope: ScopeKey, Name: "key_1", MaxNano: cent(10), Period: PeriodMonth}}
	b, err := OpenBudgets(kv, BudgetOptions{Log: quiet, Lease: time.Minute}, t0)
	if err != nil {
		t.Fatal(err)
	}
	r1, _ := b.Reserve(ctx, bs, cent(6), t0)
	r2, err := b.Reserve(ctx, bs, cent(6), t0) // capped at 4, never settled: a crash
	if err != nil || r2.Nano != cent(4) || !r2.Capped[0] {
		t.Fatalf("capped: %+v %v", r2, err)
	}
	if err := b.Settle(ctx, r1, cent(1)); err != nil { // 5 released
		t.Fatal(err)
	}
	st.Close()

	st, kv = openKV(t, dir)
	defer st.Close()
	if b, err = OpenBudgets(kv, BudgetOptions{Log: quiet, Lease: time.Minute}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Reserve(ctx, bs, cent(6), t0.Add(30*time.Second)); !errors.Is(err, ErrOverBudget) {
		t.Fatalf("a second capped reservation beside the orphan: %v", err)
	}
	if r, err := b.Reserve(ctx, bs, cent(5), t0.Add(30*time.Second)); err != nil || r.Capped != nil {
		t.Fatalf("one that fits: %+v %v", r, err)
	} else {
		b.Settle(ctx, r, 0)
	}
	if r, err := b.Reserve(ctx, bs, cent(20), t0.Add(time.Minute)); err != nil || r.Nano != cent(9) {
		t.Fatalf("capped again once the orphan's lease ended: %+v %v", r, err)
	}
}
