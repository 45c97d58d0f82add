package limits

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/semgate/semgate/semcache"
)

// Budget periods: UTC calendar days and months.
const (
	PeriodDay   = "day"
	PeriodMonth = "month"
)

// Budget is a spend limit: at most MaxNano billionths of a US dollar per
// Period ("day" or "month", UTC) for a key or a tenant.
type Budget struct {
	Scope   Scope
	Name    string
	MaxNano int64
	Period  string
}

// PeriodOf names the period of a budget that contains t: "2026-11-25"
// for a day, "2026-11" for a month (UTC), the names of cost accounting.
func PeriodOf(period string, t time.Time) string {
	if period == PeriodDay {
		return t.UTC().Format("2006-01-02")
	}
	return t.UTC().Format("2006-01")
}

// PeriodEnd is when the period of a budget that contains t ends.
func PeriodEnd(period string, t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	if period == PeriodDay {
		return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
}

// Reservation is money held against budgets for one request, from
// Reserve until Settle.
type Reservation struct {
	// ID identifies the reservation's record; "" when nothing is held
	// (no cost expected), though Settle still charges the spend.
	ID string
	// Nano is the amount held, in billionths of a US dollar.
	Nano int64
	// Budgets are the budgets it is held against, and Periods the period
	// of each (the spend is charged to these periods, even when Settle
	// comes after midnight).
	Budgets []Budget
	Periods []string
	// Lease is when the reservation's record stops holding anything if
	// it is never settled (its request's process died).
	Lease time.Time
	// Capped, by budget, says that the budget had less left than the
	// worst case wanted: the request may cost it more than it holds.
	// While such a reservation is in flight on a budget, no other capped
	// one is granted on it, so the requests together overrun a budget by
	// at most what one request costs beyond its reservation.
	Capped []bool
}

// ErrOverBudget is wrapped by every *OverBudgetError.
var ErrOverBudget = errors.New("limits: budget spent")

// OverBudgetError says which budget has nothing left.
type OverBudgetError struct {
	Budget Budget
	// Spent and Reserved are the budget's, in its current period.
	Spent, Reserved int64
	// Renews is when the period ends.
	Renews time.Time
}

func (e *OverBudgetError) Error() string {
	return fmt.Sprintf("limits: %s %s has spent its budget of %d nano-USD per %s", e.Budget.Scope, e.Budget.Name, e.Budget.MaxNano, e.Budget.Period)
}

// Unwrap makes it an ErrOverBudget.
func (e *OverBudgetError) Unwrap() error { return ErrOverBudget }

// Budgets keeps the spend and reservations of budgets. Implementations
// are safe for concurrent use; ctx bounds remote calls.
type Budgets interface {
	// Left is the least that is left (max minus spent minus reserved, in
	// their current periods at now) among bs; negative when overspent.
	Left(ctx context.Context, bs []Budget, now time.Time) (int64, error)
	// Reserve holds min(want, Left) against every budget of bs at once,
	// or fails with an *OverBudgetError when one has nothing left (and
	// want > 0), or when it would be capped on a budget that another
	// capped reservation is in flight on (Reservation.Capped). The hold is durable before Reserve returns: a restart
	// keeps it until its lease ends. want 0 holds nothing.
	Reserve(ctx context.Context, bs []Budget, want int64, now time.Time) (Reservation, error)
	// Settle ends a reservation: actualNano is added to the spend of its
	// budgets (in its periods) and the hold is released.
	Settle(ctx context.Context, r Reservation, actualNano int64) error
	// Status is a budget's spend and reservations in its period at now.
	Status(ctx context.Context, b Budget, now time.Time) (spent, reserved int64, err error)
	// Close releases the implementation's resources.
	Close() error
}

// Table is the storage LocalBudgets keeps its records in; *semcache.KV
// (table semcache.TableBudgets) implements it.
type Table interface {
	// SetMany writes pairs in one atomic batch; sync waits for the disk.
	SetMany(pairs []semcache.Pair, sync bool) error
	// Delete removes a key, without waiting for the disk.
	Delete(key []byte) error
	Scan(prefix []byte, fn func(key, value []byte) bool) error
}

// Records of LocalBudgets:
//
//	's' <period> 0x00 <scope byte> <name>  ->  spend, nano-USD, int64 big-endian
//	'r' <reservation id>                   ->  recordVersion, then JSON reservationRecord
//
// Reservation records are written synced before Reserve returns. When
// one settles, the spend records are written (without waiting for the
// disk: a process crash keeps them, a power loss may lose those written
// since the last synced write, as the next reservation syncs them), then
// the reservation record is deleted; a crash between the two leaves the
// reservation to be held until its lease ends.
const (
	recordSpend       = 's'
	recordReservation = 'r'
	recordVersion     = 1
)

type reservationRecord struct {
	Nano    int64            `json:"nano"`
	Lease   int64            `json:"lease"` // Unix nanoseconds
	Budgets []budgetInRecord `json:"budgets"`
}

type budgetInRecord struct {
	Scope  string `json:"scope"`
	Name   string `json:"name"`
	Period string `json:"period"`
	Capped bool   `json:"capped,omitempty"`
}

// BudgetOptions configures LocalBudgets.
type BudgetOptions struct {
	// Baseline is the spend already known for a budget's period (cost
	// accounting's total), read once when the period is first used; the
	// larger of it and the stored spend record counts. Default: 0.
	Baseline func(b Budget, period string) int64
	// Lease is how long a reservation's record holds after a crash.
	// Default: DefaultLease.
	Lease time.Duration
	// Log receives storage warnings. Default: slog.Default().
	Log *slog.Logger
}

// DefaultLease is BudgetOptions.Lease's default.
const DefaultLease = 10 * time.Minute

// LocalBudgets is the single-replica Budgets: spend and reservations in
// memory under one mutex (no I/O under it), reservations written synced
// to a Table before Reserve returns, spend written when they settle.
type LocalBudgets struct {
	t        Table
	o        BudgetOptions
	idPrefix [8]byte
	seq      atomic.Uint64

	mu      sync.Mutex
	states  map[budgetKey]*budgetState
	stored  map[budgetKey]int64 // spend records read at open, by budget and period
	orphans []orphan            // reservations of an earlier process, held until their lease
	nextEnd time.Time           // the earliest orphan lease; zero when none
	dayEnd  time.Time           // when the states of the current day become past ones

	wmu sync.Mutex // orders spend writes, so the last one written is the latest
}

type budgetKey struct {
	scope  Scope
	name   string
	period string
}

type budgetState struct {
	spent, reserved int64
	capped          int // capped reservations in flight
}

type orphan struct {
	id     []byte
	nano   int64
	keys   []budgetKey
	capped []bool
	lease  time.Time
}

// OpenBudgets reads the spend records and the reservations t holds:
// reservations past their lease at now are deleted, the others held until
// it ends.
func OpenBudgets(t Table, o BudgetOptions, now time.Time) (*LocalBudgets, error) {
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	b := &LocalBudgets{t: t, o: o, states: map[budgetKey]*budgetState{}, stored: map[budgetKey]int64{}}
	if _, err := rand.Read(b.idPrefix[:]); err != nil {
		return nil, err
	}
	if t == nil {
		return b, nil
	}
	b.dayEnd = PeriodEnd(PeriodDay, now)
	day, month := PeriodOf(PeriodDay, now), PeriodOf(PeriodMonth, now)
	var old [][]byte // spend records of past periods: cost accounting keeps the history
	err := t.Scan([]byte{recordSpend}, func(k, v []byte) bool {
		key, ok := parseSpendKey(k)
		switch {
		case !ok || len(v) != 8 || (key.period != day && key.period != month):
			old = append(old, append([]byte(nil), k...))
		default:
			b.stored[key] = int64(binary.BigEndian.Uint64(v))
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("limits: reading spend records: %w", err)
	}
	var expired [][]byte
	err = t.Scan([]byte{recordReservation}, func(k, v []byte) bool {
		var rec reservationRecord
		if len(v) < 1 || v[0] != recordVersion || json.Unmarshal(v[1:], &rec) != nil {
			o.Log.Warn("limits: deleting an unreadable reservation record")
			expired = append(expired, append([]byte(nil), k...))
			return true
		}
		lease := time.Unix(0, rec.Lease)
		if !lease.After(now) {
			expired = append(expired, append([]byte(nil), k...))
			return true
		}
		or := orphan{id: append([]byte(nil), k...), nano: rec.Nano, lease: lease}
		for _, bi := range rec.Budgets {
			if len(bi.Scope) == 1 {
				or.keys = append(or.keys, budgetKey{Scope(bi.Scope[0]), bi.Name, bi.Period})
				or.capped = append(or.capped, bi.Capped)
			}
		}
		b.orphans = append(b.orphans, or)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("limits: reading reservations: %w", err)
	}
	for _, or := range b.orphans {
		for i, k := range or.keys {
			st := b.stateLocked(k, nil)
			st.reserved += or.nano
			if or.capped[i] {
				st.capped++
			}
		}
		if b.nextEnd.IsZero() || or.lease.Before(b.nextEnd) {
			b.nextEnd = or.lease
		}
	}
	for _, k := range append(expired, old...) {
		if err := t.Delete(k); err != nil {
			return nil, fmt.Errorf("limits: deleting expired records: %w", err)
		}
	}
	if n := len(b.orphans); n > 0 {
		o.Log.Info("limits: holding reservations of requests cut short by the last stop until their lease ends",
			"reservations", n, "until", b.nextEnd.UTC().Format(time.RFC3339))
	}
	if n := len(expired); n > 0 {
		o.Log.Info("limits: released reservations past their lease", "reservations", n)
	}
	return b, nil
}

func spendKey(k budgetKey) []byte {
	b := make([]byte, 0, 3+len(k.period)+len(k.name))
	b = append(b, recordSpend)
	b = append(b, k.period...)
	b = append(b, 0, byte(k.scope))
	return append(b, k.name...)
}

func parseSpendKey(k []byte) (budgetKey, bool) {
	for i := 1; i < len(k); i++ {
		if k[i] == 0 {
			if i+1 >= len(k) {
				return budgetKey{}, false
			}
			return budgetKey{scope: Scope(k[i+1]), name: string(k[i+2:]), period: string(k[1:i])}, true
		}
	}
	return budgetKey{}, false
}

// stateLocked returns a budget period's state, made from the stored
// record and the baseline on first use. b may be nil (orphans at open).
func (l *LocalBudgets) stateLocked(k budgetKey, b *Budget) *budgetState {
	st := l.states[k]
	if st != nil {
		return st
	}
	st = &budgetState{spent: l.stored[k]}
	if l.o.Baseline != nil {
		bb := Budget{Scope: k.scope, Name: k.name}
		if b != nil {
			bb = *b
		}
		st.spent = max(st.spent, l.o.Baseline(bb, k.period))
	}
	l.states[k] = st
	return st
}

// releaseOrphansLocked releases the reservations of an earlier process
// whose lease ended by now, and returns their record keys to delete.
func (l *LocalBudgets) releaseOrphansLocked(now time.Time) [][]byte {
	if !now.Before(l.dayEnd) {
		l.forgetLocked(now)
	}
	if l.nextEnd.IsZero() || now.Before(l.nextEnd) {
		return nil
	}
	var done [][]byte
	kept := l.orphans[:0]
	l.nextEnd = time.Time{}
	for _, or := range l.orphans {
		if now.Before(or.lease) {
			kept = append(kept, or)
			if l.nextEnd.IsZero() || or.lease.Before(l.nextEnd) {
				l.nextEnd = or.lease
			}
			continue
		}
		for i, k := range or.keys {
			st := l.stateLocked(k, nil)
			st.reserved -= or.nano
			if or.capped[i] {
				st.capped--
			}
		}
		done = append(done, or.id)
	}
	l.orphans = kept
	return done
}

// Sweep releases the reservations of an earlier process whose lease ended
// by now, and forgets the states of past periods. Reserve and Left do it
// as they go.
func (l *LocalBudgets) Sweep(now time.Time) {
	l.mu.Lock()
	done := l.releaseOrphansLocked(now)
	l.mu.Unlock()
	l.deleteRecords(done)
}

func (l *LocalBudgets) deleteRecords(keys [][]byte) {
	if len(keys) == 0 || l.t == nil {
		return
	}
	for _, k := range keys {
		if err := l.t.Delete(k); err != nil {
			l.o.Log.Warn("limits: deleting a released reservation failed; the next start deletes it", "error", err)
			return
		}
	}
}

func (l *LocalBudgets) keysFor(bs []Budget, now time.Time) []budgetKey {
	keys := make([]budgetKey, len(bs))
	for i, b := range bs {
		keys[i] = budgetKey{b.Scope, b.Name, PeriodOf(b.Period, now)}
	}
	return keys
}

// leftLocked is the least left among bs, and the index of that budget.
func (l *LocalBudgets) leftLocked(bs []Budget, keys []budgetKey) (int64, int) {
	left, at := int64(0), -1
	for i := range bs {
		st := l.stateLocked(keys[i], &bs[i])
		if v := bs[i].MaxNano - st.spent - st.reserved; at < 0 || v < left {
			left, at = v, i
		}
	}
	return left, at
}

// Left implements Budgets.
func (l *LocalBudgets) Left(_ context.Context, bs []Budget, now time.Time) (int64, error) {
	if len(bs) == 0 {
		return 0, nil
	}
	keys := l.keysFor(bs, now)
	l.mu.Lock()
	done := l.releaseOrphansLocked(now)
	left, _ := l.leftLocked(bs, keys)
	l.mu.Unlock()
	l.deleteRecords(done)
	return left, nil
}

// Reserve implements Budgets.
func (l *LocalBudgets) Reserve(_ context.Context, bs []Budget, want int64, now time.Time) (Reservation, error) {
	keys := l.keysFor(bs, now)
	r := Reservation{Budgets: bs, Periods: make([]string, len(bs))}
	for i, k := range keys {
		r.Periods[i] = k.period
	}
	if len(bs) == 0 || want <= 0 {
		return r, nil
	}
	l.mu.Lock()
	done := l.releaseOrphansLocked(now)
	left, at := l.leftLocked(bs, keys)
	var capped []bool
	if left > 0 && want > left {
		// Capped: refused on a budget that another capped reservation is
		// in flight on (see Reservation.Capped).
		capped = make([]bool, len(bs))
		for i, k := range keys {
			st := l.states[k]
			if capped[i] = bs[i].MaxNano-st.spent-st.reserved < want; capped[i] && st.capped > 0 {
				left, at = 0, i
			}
		}
	}
	if left <= 0 {
		st := l.states[keys[at]]
		err := &OverBudgetError{Budget: bs[at], Spent: st.spent, Reserved: st.reserved, Renews: PeriodEnd(bs[at].Period, now)}
		l.mu.Unlock()
		l.deleteRecords(done)
		return r, err
	}
	r.Nano, r.Capped = min(want, left), capped
	for i, k := range keys {
		st := l.states[k]
		st.reserved += r.Nano
		if capped != nil && capped[i] {
			st.capped++
		}
	}
	l.mu.Unlock()
	l.deleteRecords(done)

	r.Lease = now.Add(l.o.Lease)
	var id [16]byte
	copy(id[:8], l.idPrefix[:])
	binary.BigEndian.PutUint64(id[8:], l.seq.Add(1))
	r.ID = hex.EncodeToString(id[:])
	if l.t != nil {
		rec := reservationRecord{Nano: r.Nano, Lease: r.Lease.UnixNano(), Budgets: make([]budgetInRecord, len(bs))}
		for i, b := range bs {
			rec.Budgets[i] = budgetInRecord{Scope: string(rune(b.Scope)), Name: b.Name, Period: keys[i].period, Capped: capped != nil && capped[i]}
		}
		v, _ := json.Marshal(rec)
		v = append([]byte{recordVersion}, v...)
		if err := l.t.SetMany([]semcache.Pair{{Key: reservationKey(r.ID), Value: v}}, true); err != nil {
			l.mu.Lock()
			for i, k := range keys {
				l.states[k].reserved -= r.Nano
				if capped != nil && capped[i] {
					l.states[k].capped--
				}
			}
			l.mu.Unlock()
			return Reservation{}, fmt.Errorf("limits: writing a reservation: %w", err)
		}
	}
	return r, nil
}

func reservationKey(id string) []byte { return append([]byte{recordReservation}, id...) }

// Settle implements Budgets.
func (l *LocalBudgets) Settle(_ context.Context, r Reservation, actualNano int64) error {
	if len(r.Budgets) == 0 || (r.ID == "" && actualNano == 0) {
		return nil
	}
	keys := make([]budgetKey, len(r.Budgets))
	for i, b := range r.Budgets {
		keys[i] = budgetKey{b.Scope, b.Name, r.Periods[i]}
	}
	l.mu.Lock()
	for i, k := range keys {
		st := l.stateLocked(k, &r.Budgets[i])
		st.reserved -= r.Nano
		if i < len(r.Capped) && r.Capped[i] {
			st.capped--
		}
		st.spent += max(actualNano, 0)
	}
	l.mu.Unlock()
	if l.t == nil {
		return nil
	}
	// Spend records are written in order (wmu), each with the latest
	// values, so the last one written is never older than another.
	l.wmu.Lock()
	defer l.wmu.Unlock()
	sets := make([]semcache.Pair, len(keys))
	l.mu.Lock()
	for i, k := range keys {
		v := make([]byte, 8)
		binary.BigEndian.PutUint64(v, uint64(l.states[k].spent))
		sets[i] = semcache.Pair{Key: spendKey(k), Value: v}
	}
	l.mu.Unlock()
	if err := l.t.SetMany(sets, false); err != nil {
		return fmt.Errorf("limits: writing spend: %w", err)
	}
	if r.ID != "" {
		if err := l.t.Delete(reservationKey(r.ID)); err != nil {
			return fmt.Errorf("limits: deleting a settled reservation: %w", err)
		}
	}
	return nil
}

// Status implements Budgets.
func (l *LocalBudgets) Status(_ context.Context, b Budget, now time.Time) (spent, reserved int64, err error) {
	k := budgetKey{b.Scope, b.Name, PeriodOf(b.Period, now)}
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.stateLocked(k, &b)
	return st.spent, st.reserved, nil
}

// Spent is a budget's spend in a period (as PeriodOf names it): what
// the stored record and the baseline said, and what settled since.
func (l *LocalBudgets) Spent(b Budget, period string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stateLocked(budgetKey{b.Scope, b.Name, period}, &b).spent
}

// forgetLocked drops the states of periods other than those containing
// now, for budgets with nothing reserved in them; Reserve and Left call it
// on the first use of a new day.
func (l *LocalBudgets) forgetLocked(now time.Time) {
	l.dayEnd = PeriodEnd(PeriodDay, now)
	day, month := PeriodOf(PeriodDay, now), PeriodOf(PeriodMonth, now)
	for k, st := range l.states {
		if k.period != day && k.period != month && st.reserved == 0 {
			delete(l.states, k)
		}
	}
	for k := range l.stored {
		if k.period != day && k.period != month {
			delete(l.stored, k)
		}
	}
}

// Close implements Budgets; LocalBudgets holds nothing to release.
func (l *LocalBudgets) Close() error { return nil }
