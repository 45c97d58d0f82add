package cluster

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/semgate/semgate/gateway/cluster/redistest"
	"github.com/semgate/semgate/gateway/limits"
	"github.com/semgate/semgate/gateway/limits/limitstest"
	"github.com/semgate/semgate/semcache"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func cent(n float64) int64 { return limits.USDToNano(n / 100) }

// newBudgets returns shared budgets for m over local budgets kept in
// table (nil: in memory only).
func newBudgets(t testing.TB, m *member, table limits.Table, o BudgetOptions) *RedisBudgets {
	t.Helper()
	local, err := limits.OpenBudgets(table, limits.BudgetOptions{Log: quietLog, Lease: o.Lease}, limitstest.T0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBudgets(m.c, local, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestRedisBudgetsConformance: the shared budgets pass the tests the local
// ones pass.
func TestRedisBudgetsConformance(t *testing.T) {
	srv := redistest.Start(t)
	m := join(t, Options{RedisURL: srv.URL()})
	limitstest.Budgets(t, func(t *testing.T) limits.Budgets {
		return newBudgets(t, m, nil, BudgetOptions{CallerClock: true})
	})
}

// TestRedisBudgetsTwoReplicas: 50 concurrent reservations of up to 2
// cents each on a budget of 1 cent, from two replicas, spend at most the
// budget and one request's settled cost (on Redis's clock).
func TestRedisBudgetsTwoReplicas(t *testing.T) {
	srv := redistest.Start(t)
	o := Options{RedisURL: srv.URL()}
	a := newBudgets(t, join(t, o), nil, BudgetOptions{})
	b := newBudgets(t, join(t, o), nil, BudgetOptions{})
	limitstest.ConcurrentReservations(t, []limits.Budgets{a, b}, "key_two")
	// Each replica's share is its own field; the total is their sum.
	bu := limits.Budget{Scope: limits.ScopeKey, Name: "key_two", MaxNano: cent(1), Period: limits.PeriodMonth}
	period := limits.PeriodOf(limits.PeriodMonth, limitstest.T0)
	own := a.local.Spent(bu, period) + b.local.Spent(bu, period)
	if spent, _, _ := b.Status(context.Background(), bu, limitstest.T0); spent != own || spent == 0 {
		t.Fatalf("cluster spend %d, the replicas' own %d", spent, own)
	}
}

// TestRedisBudgetsLease: a reservation whose replica never settles it
// (it died) holds the budget on every replica until its lease ends, and
// nothing after.
func TestRedisBudgetsLease(t *testing.T) {
	srv := redistest.Start(t)
	o := Options{RedisURL: srv.URL()}
	bo := BudgetOptions{Lease: time.Minute, CallerClock: true}
	a := newBudgets(t, join(t, o), nil, bo)
	b := newBudgets(t, join(t, o), nil, bo)
	ctx := context.Background()
	bs := []limits.Budget{{Scope: limits.ScopeKey, Name: "key_lease", MaxNano: cent(10), Period: limits.PeriodDay}}
	r, err := a.Reserve(ctx, bs, cent(4), limitstest.T0)
	if err != nil || r.Nano != cent(4) || !r.Lease.Equal(limitstest.T0.Add(time.Minute)) {
		t.Fatalf("reserve %+v %v", r, err)
	}
	// A dies here: r is never settled.
	if left, err := b.Left(ctx, bs, limitstest.T0.Add(59*time.Second)); err != nil || left != cent(6) {
		t.Fatalf("within the lease, B sees %d left (%v)", left, err)
	}
	if left, err := b.Left(ctx, bs, limitstest.T0.Add(time.Minute)); err != nil || left != cent(10) {
		t.Fatalf("at the lease's end, B sees %d left (%v)", left, err)
	}
	if got := srv.Do("ZCARD", "semgate:budget:2036-11-25:k:key_lease:l"); got != ":0" {
		t.Fatalf("the released lease is still there: ZCARD %s", got)
	}
	// Settling it late (A came back) releases nothing twice.
	if err := a.Settle(ctx, r, cent(1)); err != nil {
		t.Fatal(err)
	}
	if spent, reserved, _ := b.Status(ctx, bs[0], limitstest.T0.Add(time.Minute)); spent != cent(1) || reserved != 0 {
		t.Fatalf("after a late settle: spent %d reserved %d", spent, reserved)
	}
}

// TestRedisBudgetsRestart: spend survives a Redis restarted empty (each
// replica brings its own back on its next call) and a replica's restart
// (its own spend is in its store).
func TestRedisBudgetsRestart(t *testing.T) {
	srv := redistest.Start(t)
	o := Options{RedisURL: srv.URL()}
	ma, mb := join(t, o), join(t, o)
	st, err := semcache.OpenStore(semcache.StoreOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kv, _ := st.KV('b')
	a := newBudgets(t, ma, kv, BudgetOptions{})
	b := newBudgets(t, mb, nil, BudgetOptions{})
	ctx := context.Background()
	bu := limits.Budget{Scope: limits.ScopeTenant, Name: "acme", MaxNano: cent(100), Period: limits.PeriodMonth}
	for _, x := range []*RedisBudgets{a, b, a} {
		r, err := x.Reserve(ctx, []limits.Budget{bu}, cent(5), limitstest.T0)
		if err != nil {
			t.Fatal(err)
		}
		if err := x.Settle(ctx, r, cent(3)); err != nil {
			t.Fatal(err)
		}
	}
	if spent, _, _ := b.Status(ctx, bu, limitstest.T0); spent != cent(9) {
		t.Fatalf("spent %d", spent)
	}

	restart(t, srv, ma, mb) // empty
	if spent, _, _ := a.Status(ctx, bu, limitstest.T0); spent != cent(6) {
		t.Fatalf("after Redis restarted empty, A's call brings back its own 6 cents: %d", spent)
	}
	if left, _ := b.Left(ctx, []limits.Budget{bu}, limitstest.T0); left != cent(91) {
		t.Fatalf("and B's call its 3: %d left", left)
	}

	// A restarts: its own spend comes from its store, and Redis, emptied
	// again, has it back.
	a.Close()
	restart(t, srv, ma, mb)
	a = newBudgets(t, ma, kv, BudgetOptions{})
	if spent, _, _ := a.Status(ctx, bu, limitstest.T0); spent != cent(6) {
		t.Fatalf("after A and Redis restarted: %d", spent)
	}
}

// TestRedisBudgetsOutage: Redis killed. Failing open, a replica reserves
// on its own against what is left once the others' spend it last saw is
// taken off, and its spend reaches Redis once it is back; failing closed,
// reserving fails with limits.ErrUnavailable, while settling a request
// already served still records its spend.
func TestRedisBudgetsOutage(t *testing.T) {
	srv := redistest.Start(t)
	o := Options{RedisURL: srv.URL()}
	mo := join(t, o)
	oc := o
	oc.OnUnreachable = FailClosed
	mc := join(t, oc)
	open := newBudgets(t, mo, nil, BudgetOptions{})
	closed := newBudgets(t, mc, nil, BudgetOptions{})
	ctx := context.Background()
	bs := []limits.Budget{{Scope: limits.ScopeKey, Name: "key_out", MaxNano: cent(10), Period: limits.PeriodMonth}}
	now := limitstest.T0
	// The closed replica spends 7 cents and holds 1; the open one sees it.
	r, _ := closed.Reserve(ctx, bs, cent(7), now)
	if err := closed.Settle(ctx, r, cent(7)); err != nil {
		t.Fatal(err)
	}
	held, err := closed.Reserve(ctx, bs, cent(1), now)
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := open.Left(ctx, bs, now); left != cent(2) {
		t.Fatalf("left %d", left)
	}

	srv.Kill()
	r1, err := open.Reserve(ctx, bs, cent(5), now)
	if err != nil || r1.Nano != cent(2) {
		t.Fatalf("open, during the outage: %+v %v (want 2 cents held: 10 less 7 spent and 1 held elsewhere)", r1, err)
	}
	if _, err := open.Reserve(ctx, bs, cent(1), now); !errors.Is(err, limits.ErrOverBudget) {
		t.Fatalf("open, nothing left during the outage: %v", err)
	} else if ob := new(limits.OverBudgetError); !errors.As(err, &ob) || ob.Budget.MaxNano != cent(10) || ob.Spent != cent(7) || ob.Reserved != cent(3) {
		t.Fatalf("the refusal names the budget as it is: %+v", ob)
	}
	if _, err := closed.Reserve(ctx, bs, cent(1), now); !errors.Is(err, limits.ErrUnavailable) {
		t.Fatalf("closed, during the outage: %v", err)
	}
	if !within(5*time.Second, func() bool { return !mo.c.Up() && !mc.c.Up() }) {
		t.Fatal("the outage was not noticed")
	}
	if _, err := closed.Left(ctx, bs, now); !errors.Is(err, limits.ErrUnavailable) {
		t.Fatalf("closed Left during the outage: %v", err)
	}
	if err := open.Settle(ctx, r1, cent(1.5)); err != nil {
		t.Fatal(err)
	}
	if err := closed.Settle(ctx, held, cent(0.5)); err != nil {
		t.Fatalf("settling a served request during the outage: %v", err)
	}
	if got := counter(mo.set, `semgate_cluster_local_decisions_total{kind="budget"}`); got != 2 {
		t.Fatalf("local budget decisions %v", got)
	}

	srv.Restart() // empty: the spend comes back from each replica
	if !within(10*time.Second, func() bool { return mo.c.Up() && mc.c.Up() }) {
		t.Fatal("not back")
	}
	open.Left(ctx, bs, now)
	if spent, reserved, err := closed.Status(ctx, bs[0], now); err != nil || spent != cent(9) || reserved != 0 {
		t.Fatalf("after the outage: spent %d reserved %d (%v), want 7+0.5+1.5 cents", spent, reserved, err)
	}
}

// restart restarts Redis, empty, once the members noticed it was gone,
// and waits for them to be back.
func restart(t *testing.T, srv *redistest.Server, ms ...*member) {
	t.Helper()
	srv.Kill()
	if !within(5*time.Second, func() bool {
		for _, m := range ms {
			if m.c.Up() {
				return false
			}
		}
		return true
	}) {
		t.Fatal("the outage was not noticed")
	}
	srv.Restart()
	if !within(10*time.Second, func() bool {
		for _, m := range ms {
			if !m.c.Up() {
				return false
			}
		}
		return true
	}) {
		t.Fatal("the members did not come back")
	}
}

// BenchmarkSharedBudgets is a request's budget cost: a reservation on its
// key's and its tenant's budgets, and its settlement, on the local
// budgets (in memory: no store) and on Redis (two round trips).
func BenchmarkSharedBudgets(b *testing.B) {
	srv := redistest.Start(b)
	m := join(b, Options{RedisURL: srv.URL()})
	for _, kind := range []string{"local", "redis"} {
		b.Run(kind, func(b *testing.B) {
			var bu limits.Budgets = newBudgets(b, m, nil, BudgetOptions{})
			if kind == "local" {
				bu = bu.(*RedisBudgets).local
			}
			ctx := context.Background()
			bs := []limits.Budget{{Scope: limits.ScopeKey, Name: "key_bench", MaxNano: 1 << 60, Period: limits.PeriodDay},
				{Scope: limits.ScopeTenant, Name: "acme", MaxNano: 1 << 60, Period: limits.PeriodMonth}}
			b.ReportAllocs()
			for b.Loop() {
				now := time.Now()
				r, err := bu.Reserve(ctx, bs, 1000, now)
				if err != nil {
					b.Fatal(err)
				}
				if err := bu.Settle(ctx, r, 500); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
