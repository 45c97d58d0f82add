package cluster

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/semgate/semgate/gateway/limits"
)

// Shared budgets.
//
// RedisBudgets keeps the spend and the reservations of every budget
// period in Redis, so that a budget is one budget for the whole cluster.
// budget.lua checks what is left of every budget of a request and holds
// min(want, left) against all of them in one atomic step (EVALSHA), or
// refuses when one has nothing left (or when it would be capped by what
// is left while another capped reservation is in flight: see
// limits.Reservation.Capped); settling releases the hold. Keys,
// under "<prefix>:budget:<period>:<scope>:<name>":
//
//	base    hash  s: spend, r: reserved, s:<replica id>: that replica's own spend
//	base:l  zset  reservation id -> lease end (ms, Redis's clock)
//	base:a  hash  reservation id -> nano-USD held
//	base:c  set   the capped reservation in flight (limits.Reservation.Capped)
//
// all expiring two days after their period ends.
//
// A reservation holds until its lease ends (limits.reservation_lease):
// a replica that died before settling holds nothing after that; every
// script call on the budget releases those due first.
//
// Spend survives restarts of both sides. Each replica also settles its
// spend into its own limits.LocalBudgets (written to its Pebble store, as
// a single gateway does), and passes that total, its own spend, with each
// call: Redis's field for the replica is raised to it when lower (and the
// total with it). So a Redis restarted empty regains each replica's spend
// as soon as that replica uses the budget, and a replica that settled
// while Redis was unreachable brings its spend in when Redis returns.
//
// Redis unreachable: with on_unreachable "open" the replica reserves from
// its LocalBudgets, against the budget less what the other replicas had
// spent and held when it last heard from Redis (counted in
// semgate_cluster_local_decisions_total{kind="budget"}, logged once per
// outage); a reservation held in Redis that settles meanwhile stays held
// there until its lease ends. With "closed" Reserve and Left fail with
// limits.ErrUnavailable; Settle always records the spend locally.
//
// Budget periods are named by the caller's clock (PeriodOf); leases are
// counted on Redis's.

//go:embed budget.lua
var budgetLua string

var budgetScript = redis.NewScript(budgetLua)

// BudgetOptions configures RedisBudgets; the zero value is the default.
type BudgetOptions struct {
	// Lease is how long a reservation holds when its replica never
	// settles it. Default: limits.DefaultLease.
	Lease time.Duration
	// CallerClock counts leases by the now passed to each call instead of
	// Redis's clock: for tests with a controlled clock. Default: false.
	CallerClock bool
}

// Validate reports a negative Lease.
func (o BudgetOptions) Validate() error {
	if o.Lease < 0 {
		return errors.New("cluster: budget lease must not be negative")
	}
	return nil
}

// periodGrace is how long after its period ends a budget's keys stay in
// Redis: a request reserved before midnight settles into its period.
const periodGrace = 48 * time.Hour

// idPrefix starts the ids of reservations held in Redis (those of the
// local fallback are LocalBudgets's, hexadecimal).
const idPrefix = "c_"

// RedisBudgets is the cluster's limits.Budgets.
type RedisBudgets struct {
	c      *Cluster
	o      BudgetOptions
	local  *limits.LocalBudgets
	field  string // "s:<replica id>"
	prefix string // "<prefix>:budget:"
	idBase string
	seq    atomic.Uint64

	mu     sync.Mutex
	others map[periodKey]seen // by budget period: what the other replicas had, last heard
	day    string             // the day others was last pruned on
}

var _ limits.Budgets = (*RedisBudgets)(nil)

type periodKey struct {
	scope  limits.Scope
	name   string
	period string
}

// seen is what the other replicas had spent, and all replicas held, in a
// budget period when Redis last answered.
type seen struct{ spent, reserved int64 }

// NewBudgets returns the cluster's shared budgets over local, the
// replica's own (its spend, and the fallback); Close closes local.
func NewBudgets(c *Cluster, local *limits.LocalBudgets, o BudgetOptions) (*RedisBudgets, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if local == nil {
		return nil, errors.New("cluster: shared budgets need the replica's local budgets")
	}
	if o.Lease == 0 {
		o.Lease = limits.DefaultLease
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	return &RedisBudgets{
		c: c, o: o, local: local, field: "s:" + c.ReplicaID(), prefix: c.Key("budget") + ":",
		idBase: idPrefix + hex.EncodeToString(b[:]) + "_", others: map[periodKey]seen{},
	}, nil
}

// call is one run of the script.
type call struct {
	mode    string
	id      string
	want    int64
	budgets []limits.Budget
	periods []string
}

// answer is the script's.
type answer struct {
	ok       bool
	held     int64
	lease    time.Time
	spent    []int64
	reserved []int64
}

func (b *RedisBudgets) run(ctx context.Context, cl call, now time.Time) (answer, error) {
	keys := make([]string, 0, 4*len(cl.budgets))
	args := make([]any, 0, 6+3*len(cl.budgets))
	clock := ""
	if b.o.CallerClock {
		clock = strconv.FormatInt(now.UnixMilli(), 10)
	}
	args = append(args, cl.mode, clock, b.field, cl.want, cl.id, b.o.Lease.Milliseconds())
	for i, bu := range cl.budgets {
		base := b.prefix + cl.periods[i] + ":" + string(rune(bu.Scope)) + ":" + bu.Name
		keys = append(keys, base, base+":l", base+":a", base+":c")
		end := limits.PeriodEnd(bu.Period, periodStart(cl.periods[i])).Add(periodGrace)
		args = append(args, bu.MaxNano, b.local.Spent(bu, cl.periods[i]), end.UnixMilli())
	}
	res, err := budgetScript.Run(ctx, b.c.rdb, keys, args...).Slice()
	if err != nil {
		return answer{}, err
	}
	if len(res) != 3+2*len(cl.budgets) {
		return answer{}, fmt.Errorf("cluster: budget script answered %d values", len(res))
	}
	var a answer
	ok, _ := res[0].(int64)
	a.ok = ok == 1
	a.held, _ = res[1].(int64)
	lease, _ := res[2].(int64)
	a.lease = time.UnixMilli(lease)
	a.spent, a.reserved = make([]int64, len(cl.budgets)), make([]int64, len(cl.budgets))
	for i := range cl.budgets {
		s, _ := res[3+2*i].(string)
		r, _ := res[4+2*i].(string)
		if a.spent[i], err = strconv.ParseInt(s, 10, 64); err == nil {
			a.reserved[i], err = strconv.ParseInt(r, 10, 64)
		}
		if err != nil {
			return answer{}, fmt.Errorf("cluster: budget script answered %q and %q", s, r)
		}
	}
	b.remember(cl, a, now)
	return a, nil
}

// periodStart is a time within a period named by limits.PeriodOf.
func periodStart(period string) time.Time {
	layout := "2006-01"
	if len(period) > len(layout) {
		layout = "2006-01-02"
	}
	t, err := time.Parse(layout, period)
	if err != nil {
		return time.Time{}
	}
	return t
}

// remember keeps what the other replicas had in each budget period, for
// the fallback, and forgets past periods once a day.
func (b *RedisBudgets) remember(cl call, a answer, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if day := limits.PeriodOf(limits.PeriodDay, now); day != b.day {
		month := limits.PeriodOf(limits.PeriodMonth, now)
		for k := range b.others {
			if k.period != day && k.period != month {
				delete(b.others, k)
			}
		}
		b.day = day
	}
	for i, bu := range cl.budgets {
		own := b.local.Spent(bu, cl.periods[i])
		b.others[periodKey{bu.Scope, bu.Name, cl.periods[i]}] = seen{spent: max(a.spent[i]-own, 0), reserved: a.reserved[i]}
	}
}

// othersOf is what the other replicas had in a budget's period.
func (b *RedisBudgets) othersOf(bu limits.Budget, period string) seen {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.others[periodKey{bu.Scope, bu.Name, period}]
}

// lessOthers returns bs with what the other replicas had spent and held
// taken off each budget, for the local fallback.
func (b *RedisBudgets) lessOthers(bs []limits.Budget, now time.Time) []limits.Budget {
	out := make([]limits.Budget, len(bs))
	for i, bu := range bs {
		o := b.othersOf(bu, limits.PeriodOf(bu.Period, now))
		bu.MaxNano -= o.spent + o.reserved
		out[i] = bu
	}
	return out
}

func periodsOf(bs []limits.Budget, now time.Time) []string {
	ps := make([]string, len(bs))
	for i, bu := range bs {
		ps[i] = limits.PeriodOf(bu.Period, now)
	}
	return ps
}

// shared reports whether to call Redis; when not, err is the error of a
// fail-closed replica (nil: fall back).
func (b *RedisBudgets) shared() (bool, error) {
	if b.c.Up() {
		return true, nil
	}
	if b.c.FailClosed() {
		return false, errDown
	}
	return false, nil
}

// failed handles a failed Redis call: the error to return (nil: fall
// back).
func (b *RedisBudgets) failed(ctx context.Context, err error) error {
	if ctx.Err() != nil || isReply(err) {
		return err
	}
	b.c.Fail(err)
	if b.c.FailClosed() {
		return fmt.Errorf("%w: %w", limits.ErrUnavailable, err)
	}
	return nil
}

// Reserve implements limits.Budgets.
func (b *RedisBudgets) Reserve(ctx context.Context, bs []limits.Budget, want int64, now time.Time) (limits.Reservation, error) {
	r := limits.Reservation{Budgets: bs, Periods: periodsOf(bs, now)}
	if len(bs) == 0 || want <= 0 {
		return r, nil
	}
	ok, err := b.shared()
	if ok {
		id := b.idBase + strconv.FormatUint(b.seq.Add(1), 36)
		var a answer
		a, err = b.run(ctx, call{mode: "reserve", id: id, want: want, budgets: bs, periods: r.Periods}, now)
		switch {
		case err == nil && a.ok:
			r.ID, r.Nano, r.Lease = id, a.held, a.lease
			return r, nil
		case err == nil:
			i := int(a.held) - 1
			return r, &limits.OverBudgetError{Budget: bs[i], Spent: a.spent[i], Reserved: a.reserved[i], Renews: limits.PeriodEnd(bs[i].Period, now)}
		}
		err = b.failed(ctx, err)
	}
	if err != nil {
		return r, err
	}
	b.c.localFallback(fallbackBudget)
	lr, err := b.local.Reserve(ctx, b.lessOthers(bs, now), want, now)
	var ob *limits.OverBudgetError
	if errors.As(err, &ob) { // name the budget as it is, with the others' spend
		for _, bu := range bs {
			if bu.Scope == ob.Budget.Scope && bu.Name == ob.Budget.Name {
				o := b.othersOf(bu, limits.PeriodOf(bu.Period, now))
				ob.Budget, ob.Spent, ob.Reserved = bu, ob.Spent+o.spent, ob.Reserved+o.reserved
			}
		}
		return r, ob
	}
	lr.Budgets = bs
	return lr, err
}

// Settle implements limits.Budgets: the spend is recorded in the
// replica's own budgets first (and its store), then in Redis, where the
// reservation is released. With Redis unreachable, a reservation held
// there stays held until its lease ends, and the spend reaches Redis with
// the replica's next call.
func (b *RedisBudgets) Settle(ctx context.Context, r limits.Reservation, actualNano int64) error {
	if len(r.Budgets) == 0 || (r.ID == "" && actualNano == 0) {
		return nil
	}
	inRedis := strings.HasPrefix(r.ID, idPrefix)
	lr := r
	if inRedis {
		lr.ID, lr.Nano, lr.Capped = "", 0, nil
	}
	lerr := b.local.Settle(ctx, lr, actualNano)
	if !b.c.Up() {
		return lerr
	}
	id := ""
	if inRedis {
		id = r.ID
	}
	_, err := b.run(ctx, call{mode: "settle", id: id, budgets: r.Budgets, periods: r.Periods}, time.Now())
	switch {
	case err == nil || ctx.Err() != nil:
	case isReply(err):
		return errors.Join(lerr, fmt.Errorf("cluster: settling in redis: %w", err))
	default:
		b.c.Fail(err)
	}
	return lerr
}

// Left implements limits.Budgets.
func (b *RedisBudgets) Left(ctx context.Context, bs []limits.Budget, now time.Time) (int64, error) {
	if len(bs) == 0 {
		return 0, nil
	}
	ok, err := b.shared()
	if ok {
		var a answer
		if a, err = b.run(ctx, call{mode: "left", budgets: bs, periods: periodsOf(bs, now)}, now); err == nil {
			var left int64
			for i, bu := range bs {
				if v := bu.MaxNano - a.spent[i] - a.reserved[i]; i == 0 || v < left {
					left = v
				}
			}
			return left, nil
		}
		err = b.failed(ctx, err)
	}
	if err != nil {
		return 0, err
	}
	b.c.localFallback(fallbackBudget)
	return b.local.Left(ctx, b.lessOthers(bs, now), now)
}

// Status implements limits.Budgets: the cluster's spend and holds, or,
// with Redis unreachable, the replica's own plus the others' when it last
// heard from Redis.
func (b *RedisBudgets) Status(ctx context.Context, bu limits.Budget, now time.Time) (spent, reserved int64, err error) {
	if b.c.Up() {
		period := limits.PeriodOf(bu.Period, now)
		a, err := b.run(ctx, call{mode: "left", budgets: []limits.Budget{bu}, periods: []string{period}}, now)
		if err == nil {
			return a.spent[0], a.reserved[0], nil
		}
		if ctx.Err() != nil || isReply(err) {
			return 0, 0, err
		}
		b.c.Fail(err)
	}
	spent, reserved, err = b.local.Status(ctx, bu, now)
	o := b.othersOf(bu, limits.PeriodOf(bu.Period, now))
	return spent + o.spent, reserved + o.reserved, err
}

// Close closes the replica's local budgets.
func (b *RedisBudgets) Close() error { return b.local.Close() }
