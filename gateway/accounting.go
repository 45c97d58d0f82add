package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/route"
	"github.com/semgate/semgate/semcache"
)

// Spend totals are kept per period and dimension in the store's spend
// table (semcache.TableSpend):
//
//	s <period> 0x00 <dimension> <name>  ->  JSON Totals
//
// period is "total", a month "2026-11" or a day "2026-11-25" (UTC);
// dimension is one byte: 'm' model alias, 'd' deployment
// ("provider/model"), 'k' API key (its id; "none" for requests without a
// key), 't' tenant (the key's; "default" without a key); budgets in later
// issues read the same records.
const (
	dimModel      = 'm'
	dimDeployment = 'd'
	dimKey        = 'k'
	dimTenant     = 't'

	periodTotal = "total"
	keyNone     = "none"

	// spendFlushInterval is how often dirty totals are written, at most
	// (on the next request after it passes; and on Close).
	spendFlushInterval = time.Second
)

var dimNames = map[byte]string{dimModel: "models", dimDeployment: "deployments", dimKey: "keys", dimTenant: "tenants"}

// Totals are the usage and spend of one model, deployment, key or tenant
// over one period.
type Totals struct {
	// Requests counts client requests, cache hits and failures included.
	Requests int64 `json:"requests"`
	// CacheHits counts requests the cache answered.
	CacheHits int64 `json:"cache_hits"`
	// Failed counts requests that got an error.
	Failed int64 `json:"failed"`
	// Attempts counts upstream calls, retries and fallbacks included.
	Attempts int64 `json:"upstream_attempts"`
	// PromptTokens, CachedTokens (of PromptTokens, from the upstream's
	// prompt cache) and CompletionTokens are billed tokens.
	PromptTokens     int64 `json:"prompt_tokens"`
	CachedTokens     int64 `json:"cached_prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	// Counted is how many requests semgate had to count tokens for, the
	// upstream having reported no usage.
	Counted int64 `json:"counted_requests"`
	// CostNano is what upstreams charged, SavedNano what cache hits saved,
	// in billionths of a US dollar.
	CostNano  int64 `json:"cost_nano_usd"`
	SavedNano int64 `json:"saved_nano_usd"`
}

func (t *Totals) add(sp *spend) {
	t.Requests++
	if sp.hit {
		t.CacheHits++
	}
	if sp.failed {
		t.Failed++
	}
	t.Attempts += int64(sp.attempts)
	t.PromptTokens += int64(sp.usage.prompt)
	t.CachedTokens += int64(sp.usage.cached)
	t.CompletionTokens += int64(sp.usage.completion)
	if sp.usage.counted {
		t.Counted++
	}
	t.CostNano += sp.costNano
	t.SavedNano += sp.savedNano
}

// usage is what one answer used.
type usage struct {
	prompt, cached, completion int
	counted                    bool // semgate counted; the upstream gave none
	known                      bool // any usage was seen or counted
}

// spend is one finished request, as accounting sees it.
type spend struct {
	alias      string
	deployment string // "" when no upstream answered
	key        string
	tenant     string
	hit        bool
	failed     bool
	attempts   int
	usage      usage
	costNano   int64
	savedNano  int64
}

type spendKey struct {
	period string
	dim    byte
	name   string
}

func (k spendKey) bytes() []byte {
	b := make([]byte, 0, len(k.period)+2+len(k.name))
	b = append(b, k.period...)
	b = append(b, 0, k.dim)
	return append(b, k.name...)
}

// accountant keeps spend totals in memory for the current day, month and
// all time, and writes the changed ones to the store at most once per
// spendFlushInterval and on close. A crash loses at most that interval
// (budgets keep their own synced records: package limits). Writes happen
// outside mu, in order (fmu).
type accountant struct {
	kv  *semcache.KV
	log *slog.Logger
	now func() time.Time

	fmu sync.Mutex // one flush at a time, so the last written is the latest

	mu        sync.Mutex
	totals    map[spendKey]*Totals
	dirty     map[spendKey]struct{}
	carry     []semcache.Pair // records to write that are no longer in totals, or failed to
	lastFlush time.Time
	day       string
	month     string
	dayEnd    time.Time
	closed    bool

	metrics *spendMetrics
}

func newAccountant(store *semcache.Store, set *metrics.Set, router *providers.Router, log *slog.Logger, now func() time.Time) (*accountant, error) {
	kv, err := store.KV(semcache.TableSpend)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	a := &accountant{kv: kv, log: log, now: now, totals: map[spendKey]*Totals{}, dirty: map[spendKey]struct{}{},
		metrics: newSpendMetrics(set, router)}
	t := now()
	a.lastFlush = t
	a.setPeriods(t)
	for _, p := range []string{periodTotal, a.month, a.day} {
		if err := a.load(p); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (a *accountant) setPeriods(t time.Time) {
	u := t.UTC()
	a.day, a.month = u.Format("2006-01-02"), u.Format("2006-01")
	y, m, d := u.Date()
	a.dayEnd = time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
}

// load reads one period's totals from the store into memory.
func (a *accountant) load(period string) error {
	prefix := append([]byte(period), 0)
	return a.kv.Scan(prefix, func(k, v []byte) bool {
		if len(k) < len(prefix)+1 {
			return true
		}
		var t Totals
		if json.Unmarshal(v, &t) != nil {
			a.log.Warn("accounting: skipping an unreadable spend record", "key", string(k))
			return true
		}
		a.totals[spendKey{period, k[len(prefix)], string(k[len(prefix)+1:])}] = &t
		return true
	})
}

// record adds one finished request to the totals.
func (a *accountant) record(sp *spend) {
	now := a.now()
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	if !now.Before(a.dayEnd) {
		a.rollover(now)
	}
	for _, period := range [3]string{periodTotal, a.month, a.day} {
		a.addTo(spendKey{period, dimModel, sp.alias}, sp)
		if sp.deployment != "" {
			a.addTo(spendKey{period, dimDeployment, sp.deployment}, sp)
		}
		a.addTo(spendKey{period, dimKey, sp.key}, sp)
		a.addTo(spendKey{period, dimTenant, sp.tenant}, sp)
	}
	due := now.Sub(a.lastFlush) >= spendFlushInterval
	if due {
		a.lastFlush = now
	}
	a.mu.Unlock()
	if due {
		a.flush(false)
	}
}

// costIn is a key's or tenant's cost in a period held in memory (the
// current day or month), in nano-USD: the baseline of its budget.
func (a *accountant) costIn(dim byte, name, period string) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if t := a.totals[spendKey{period, dim, name}]; t != nil {
		return t.CostNano
	}
	return 0
}

func (a *accountant) addTo(k spendKey, sp *spend) {
	t := a.totals[k]
	if t == nil {
		t = &Totals{}
		a.totals[k] = t
	}
	t.add(sp)
	a.dirty[k] = struct{}{}
}

// rollover starts a new day (and maybe month): past periods are dropped
// from memory, their pending records carried to the next flush.
func (a *accountant) rollover(now time.Time) {
	a.carry = a.pendingLocked()
	a.lastFlush = time.Time{} // flush at the end of this record
	a.setPeriods(now)
	for k := range a.totals {
		if k.period != periodTotal && k.period != a.day && k.period != a.month {
			delete(a.totals, k)
		}
	}
}

// pendingLocked returns the records to write, carried ones first (a
// later one for the same key wins in the batch), and marks all clean.
func (a *accountant) pendingLocked() []semcache.Pair {
	pairs := a.carry
	a.carry = nil
	for k := range a.dirty {
		v, _ := json.Marshal(a.totals[k])
		pairs = append(pairs, semcache.Pair{Key: k.bytes(), Value: v})
	}
	clear(a.dirty)
	return pairs
}

// flush writes the pending records, outside mu; failed ones are carried
// to the next flush.
func (a *accountant) flush(sync bool) {
	a.fmu.Lock()
	defer a.fmu.Unlock()
	a.mu.Lock()
	pairs := a.pendingLocked()
	a.mu.Unlock()
	if len(pairs) == 0 {
		return
	}
	if err := a.kv.SetMany(pairs, sync); err != nil {
		a.log.Warn("accounting: writing spend totals failed; will retry", "error", err)
		a.mu.Lock()
		a.carry = append(pairs, a.carry...)
		a.mu.Unlock()
	}
}

// close writes every pending total, durably. Later records are dropped.
func (a *accountant) close() {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.closed = true
	a.mu.Unlock()
	a.flush(true)
}

// errBadPeriod: a usage query named a period that is not total, day,
// month, YYYY-MM or YYYY-MM-DD.
var errBadPeriod = errors.New("gateway: bad usage period")

// resolvePeriod turns a query's period into a stored period name.
func (a *accountant) resolvePeriod(q string) (string, error) {
	a.mu.Lock()
	day, month := a.day, a.month
	a.mu.Unlock()
	switch q {
	case "", periodTotal:
		return periodTotal, nil
	case "day", "today":
		return day, nil
	case "month":
		return month, nil
	}
	if _, err := time.Parse("2006-01-02", q); err == nil {
		return q, nil
	}
	if _, err := time.Parse("2006-01", q); err == nil {
		return q, nil
	}
	return "", fmt.Errorf("%w: %q", errBadPeriod, q)
}

// usageReport is GET /admin/usage's body.
type usageReport struct {
	Period      string                `json:"period"`
	PricesDate  string                `json:"prices_date"`
	Models      map[string]totalsView `json:"models"`
	Deployments map[string]totalsView `json:"deployments"`
	Keys        map[string]totalsView `json:"keys"`
	Tenants     map[string]totalsView `json:"tenants"`
	// Health is every deployment's passive health now, whatever the
	// period.
	Health map[string]route.Status `json:"health,omitempty"`
}

// totalsView adds dollar amounts to Totals.
type totalsView struct {
	Totals
	CostUSD  float64 `json:"cost_usd"`
	SavedUSD float64 `json:"saved_usd"`
}

func view(t *Totals) totalsView {
	return totalsView{Totals: *t, CostUSD: float64(t.CostNano) / 1e9, SavedUSD: float64(t.SavedNano) / 1e9}
}

// report returns a period's totals, read back from the store after
// writing the pending ones.
func (a *accountant) report(period string) (*usageReport, error) {
	a.flush(false)
	r := &usageReport{Period: period, Models: map[string]totalsView{}, Deployments: map[string]totalsView{},
		Keys: map[string]totalsView{}, Tenants: map[string]totalsView{}}
	byDim := map[byte]map[string]totalsView{dimModel: r.Models, dimDeployment: r.Deployments, dimKey: r.Keys, dimTenant: r.Tenants}
	prefix := append([]byte(period), 0)
	err := a.kv.Scan(prefix, func(k, v []byte) bool {
		if len(k) <= len(prefix) {
			return true
		}
		m := byDim[k[len(prefix)]]
		var t Totals
		if m == nil || json.Unmarshal(v, &t) != nil {
			return true
		}
		m[string(k[len(prefix)+1:])] = view(&t)
		return true
	})
	return r, err
}

// formatUSD renders nano-dollars as a decimal dollar amount, e.g.
// "0.000123" (no exponent, trailing zeros trimmed).
func formatUSD(nano int64) string {
	if nano == 0 {
		return "0"
	}
	neg := nano < 0
	if neg {
		nano = -nano
	}
	s := strconv.FormatInt(nano/1e9, 10) + "." + fmt.Sprintf("%09d", nano%1e9)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if neg {
		s = "-" + s
	}
	return s
}

// spendMetrics are the Prometheus counters of cost accounting, one series
// per alias and deployment, created at start-up.
type spendMetrics struct {
	deps  map[*providers.Deployment]*depSpendMetrics
	saved map[string]*metrics.FloatCounter // by alias
}

type depSpendMetrics struct {
	cost                       *metrics.FloatCounter
	prompt, cached, completion *metrics.Counter
}

func newSpendMetrics(set *metrics.Set, router *providers.Router) *spendMetrics {
	m := &spendMetrics{deps: map[*providers.Deployment]*depSpendMetrics{}, saved: map[string]*metrics.FloatCounter{}}
	for _, name := range router.Names() {
		model, _ := router.Lookup(name)
		m.saved[name] = set.GetOrCreateFloatCounter(`semgate_cache_saved_usd_total{alias=` + strconv.Quote(name) + `}`)
		for _, d := range model.Deployments {
			labels := `{alias=` + strconv.Quote(name) + `,provider=` + strconv.Quote(d.ProviderName) + `,model=` + strconv.Quote(d.Model)
			m.deps[d] = &depSpendMetrics{
				cost:       set.GetOrCreateFloatCounter(`semgate_cost_usd_total` + labels + `}`),
				prompt:     set.GetOrCreateCounter(`semgate_tokens_total` + labels + `,type="prompt"}`),
				cached:     set.GetOrCreateCounter(`semgate_tokens_total` + labels + `,type="cached_prompt"}`),
				completion: set.GetOrCreateCounter(`semgate_tokens_total` + labels + `,type="completion"}`),
			}
		}
	}
	return m
}

func (m *spendMetrics) observe(dep *providers.Deployment, alias string, sp *spend) {
	if sp.savedNano > 0 {
		if c := m.saved[alias]; c != nil {
			c.Add(float64(sp.savedNano) / 1e9)
		}
	}
	dm := m.deps[dep]
	if dep == nil || dm == nil {
		return
	}
	dm.cost.Add(float64(sp.costNano) / 1e9)
	dm.prompt.Add(sp.usage.prompt)
	dm.cached.Add(sp.usage.cached)
	dm.completion.Add(sp.usage.completion)
}
