package route

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/semgate/semgate/providers"
)

// Policy chooses the order in which an alias's deployments are tried.
type Policy string

// The policies.
const (
	// PolicyCost: the cheapest eligible deployment (estimated from the
	// prompt's size and max_tokens), ties broken by observed latency.
	PolicyCost Policy = "cost"
	// PolicyLatency: the lowest time-to-first-token EWMA first.
	PolicyLatency Policy = "latency"
	// PolicyWeighted: a weighted random order.
	PolicyWeighted Policy = "weighted"
	// PolicyPriority: the configured order.
	PolicyPriority Policy = "priority"
	// PolicyAuto: a difficulty score picks a quality tier, then cost.
	PolicyAuto Policy = "auto"
)

// Validate accepts the policies and "" (cost).
func (p Policy) Validate() error {
	switch p {
	case "", PolicyCost, PolicyLatency, PolicyWeighted, PolicyPriority, PolicyAuto:
		return nil
	}
	return fmt.Errorf("policy: unknown policy %q (cost, latency, weighted, priority, auto)", string(p))
}

func (p Policy) orDefault() Policy {
	if p == "" {
		return PolicyCost
	}
	return p
}

// Sentinel errors, wrapped by *Error.
var (
	// ErrCapability: no deployment of the alias supports a feature the
	// request uses (tools, images, JSON schema, streaming).
	ErrCapability = errors.New("route: no deployment supports the request")
	// ErrContextLength: the prompt plus max_tokens exceeds every eligible
	// deployment's context window.
	ErrContextLength = errors.New("route: prompt exceeds every context window")
	// ErrUnavailable: every eligible deployment is out of rotation (circuit
	// open, rate-limited, over its rpm/tpm).
	ErrUnavailable = errors.New("route: no deployment available")
)

// Error is a routing failure for one request.
type Error struct {
	// Alias is the model alias.
	Alias string
	// Err is one of the sentinels above.
	Err error
	// Message explains it for the client.
	Message string
	// RetryAfter is when a deployment is expected back (ErrUnavailable);
	// 0 if unknown.
	RetryAfter time.Duration
	// RateLimited is true when every deployment sits out a 429.
	RateLimited bool
	// Last is the most recent upstream error among the deployments, if any.
	Last error
}

func (e *Error) Error() string {
	if e.Last != nil {
		return e.Message + "; last upstream error: " + e.Last.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() []error {
	if e.Last != nil {
		return []error{e.Err, e.Last}
	}
	return []error{e.Err}
}

// Member is one deployment in a pool, with its routing attributes.
type Member struct {
	// Deployment is the upstream.
	Deployment *providers.Deployment
	// Caps are the capabilities it has.
	Caps Capability
	// Tier is its quality tier (0: none).
	Tier int
	// Weight is its weighted-policy share (at least 1).
	Weight int
	// Timeout bounds one attempt until the first byte (0: none).
	Timeout time.Duration
	// Health is its passive health, shared by every alias using the same
	// provider and upstream model.
	Health *Health

	index int // position in the configured list
}

// Label is "provider/model", the deployment's name in metrics and totals.
func (m *Member) Label() string { return Label(m.Deployment) }

// Label names a deployment "provider/model".
func Label(d *providers.Deployment) string { return d.ProviderName + "/" + d.Model }

// Engine routes requests over pools of deployments and keeps their health.
// Safe for concurrent use.
type Engine struct {
	opts Options
	now  func() time.Time

	rngMu sync.Mutex
	rng   *rand.Rand

	mu     sync.Mutex
	health map[string]*Health
	pools  map[*providers.Model]*Pool
}

// New returns an engine with no pools.
func New(opts Options) (*Engine, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{opts: opts, now: opts.Now, health: map[string]*Health{}, pools: map[*providers.Model]*Pool{}}
	if e.now == nil {
		e.now = time.Now
	}
	seed := uint64(opts.Seed)
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	e.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return e, nil
}

// Now returns the engine's clock reading.
func (e *Engine) Now() time.Time { return e.now() }

func (e *Engine) float() float64 {
	e.rngMu.Lock()
	defer e.rngMu.Unlock()
	return e.rng.Float64()
}

// AddPool makes model routable with the given options; members[i] are the
// attributes of model.Deployments[i] (missing ones are zero). Capabilities,
// context windows and prices left unset come from Options.Prices and the
// shipped model table (it sets them on the deployments).
func (e *Engine) AddPool(model *providers.Model, po PoolOptions, members []MemberOptions) (*Pool, error) {
	if err := po.Validate(); err != nil {
		return nil, fmt.Errorf("route: model %q: %w", model.Name, err)
	}
	p := &Pool{Name: model.Name, e: e, policy: po.Policy.orDefault(), auto: po.Auto}
	p.retry = po.Retry.merge(e.opts.Retry, len(model.Deployments))
	var errs []error
	for i, d := range model.Deployments {
		var mo MemberOptions
		if i < len(members) {
			mo = members[i]
		}
		if err := mo.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("route: model %q deployment %d: %w", model.Name, i, err))
			continue
		}
		caps, _ := ParseCapabilities(mo.Capabilities)
		known, isKnown := Lookup(d.Model)
		if mo.Capabilities == nil {
			caps = CapAll
			if isKnown {
				caps = known.Capabilities
			}
		}
		if d.ContextWindow == 0 && isKnown {
			d.ContextWindow = known.ContextWindow
		}
		if d.Price.IsZero() {
			d.Price, _ = PriceFor(d.Model, d.Price, e.opts.Prices)
		}
		m := &Member{Deployment: d, Caps: caps, Tier: mo.Tier, Weight: max(mo.Weight, 1), Timeout: mo.Timeout, index: i}
		m.Health = e.healthFor(Label(d), mo.RPM, mo.TPM)
		p.members = append(p.members, m)
		if m.Tier > 0 && !slices.Contains(p.tiers, m.Tier) {
			p.tiers = append(p.tiers, m.Tier)
		}
	}
	slices.Sort(p.tiers)
	if p.policy == PolicyAuto {
		for _, m := range p.members {
			if m.Tier == 0 {
				errs = append(errs, fmt.Errorf("route: model %q: every deployment of an auto alias needs a tier (%s has none)", model.Name, m.Label()))
			}
		}
		if len(p.tiers) != len(p.auto.Thresholds)+1 {
			errs = append(errs, fmt.Errorf("route: model %q: %d thresholds need %d tiers, the deployments have %d", model.Name, len(p.auto.Thresholds), len(p.auto.Thresholds)+1, len(p.tiers)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.pools[model] = p
	e.mu.Unlock()
	return p, nil
}

func (e *Engine) healthFor(label string, rpm, tpm int) *Health {
	e.mu.Lock()
	defer e.mu.Unlock()
	h := e.health[label]
	if h == nil {
		h = newHealth(e.opts.Breaker, e.opts.latencyAlpha(), rpm, tpm)
		e.health[label] = h
	}
	return h
}

// Pool returns model's pool, nil if it was never added.
func (e *Engine) Pool(model *providers.Model) *Pool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pools[model]
}

// Health returns the health of every deployment by label.
func (e *Engine) Health() map[string]*Health {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]*Health, len(e.health))
	for k, v := range e.health {
		out[k] = v
	}
	return out
}

// Pool is one alias's deployments and routing policy.
type Pool struct {
	// Name is the alias.
	Name    string
	e       *Engine
	policy  Policy
	retry   RetryOptions
	auto    *AutoOptions
	tiers   []int // distinct tiers, ascending
	members []*Member
}

// Policy returns the pool's policy.
func (p *Pool) Policy() Policy { return p.policy }

// Members returns the pool's members in configured order. The slice must
// not be modified.
func (p *Pool) Members() []*Member { return p.members }

// Tiers returns the pool's distinct tiers, ascending.
func (p *Pool) Tiers() []int { return p.tiers }

// Plan decides the order in which this request's attempts go to the
// pool's deployments. It fails with *Error when no deployment can serve
// the request at all.
func (p *Pool) Plan(f *Features) (*Plan, error) {
	now := p.e.now()
	pl := &Plan{pool: p, f: f, Policy: p.policy, retry: p.retry, start: now, deadline: now.Add(p.retry.Timeout)}
	var noCaps, noFit []string
	eligible := make([]*Member, 0, len(p.members))
	for _, m := range p.members {
		switch {
		case m.Caps&f.Needs != f.Needs:
			noCaps = append(noCaps, m.Label()+" lacks "+(f.Needs&^m.Caps).String())
		case !f.fits(m.Deployment.Model, m.Deployment.ContextWindow):
			noFit = append(noFit, m.Label()+" ("+strconv.Itoa(m.Deployment.ContextWindow)+")")
		default:
			eligible = append(eligible, m)
		}
	}
	if len(eligible) == 0 {
		if len(noFit) > 0 {
			return nil, &Error{Alias: p.Name, Err: ErrContextLength, Message: "This model's maximum context length is exceeded: the prompt (" +
				strconv.Itoa(f.promptTokens(p.members[0].Deployment.Model)) + " tokens) plus max_tokens (" + strconv.Itoa(f.MaxTokens) +
				") does not fit any deployment of " + strconv.Quote(p.Name) + ": " + strings.Join(noFit, ", ")}
		}
		return nil, &Error{Alias: p.Name, Err: ErrCapability, Message: "no deployment of model " + strconv.Quote(p.Name) +
			" supports this request: " + strings.Join(noCaps, "; ")}
	}
	excluded := len(noCaps) + len(noFit)
	pl.order, pl.Reason = p.order(pl, eligible, now)
	if excluded > 0 {
		pl.Reason += "; " + strconv.Itoa(excluded) + " excluded"
		if len(noCaps) > 0 {
			pl.Reason += " (capabilities)"
		} else {
			pl.Reason += " (context window)"
		}
	}
	pl.tries = make([]uint8, len(pl.order))
	pl.lastTry = make([]time.Time, len(pl.order))
	return pl, nil
}

// estCost is a member's expected cost for the request, in nano-USD.
func (p *Pool) estCost(m *Member, f *Features) int64 {
	out := f.MaxTokens
	if out == 0 {
		out = p.e.opts.expectedOutput()
	}
	return m.Deployment.Price.CostNanoUSD(f.estimatedPrompt(), 0, out)
}

// order sorts eligible members by the policy, members available now first,
// and says why.
func (p *Pool) order(pl *Plan, eligible []*Member, now time.Time) ([]*Member, string) {
	type ranked struct {
		m     *Member
		avail bool
		cost  int64
		ttft  float64
		key   float64
	}
	rs := make([]ranked, len(eligible))
	for i, m := range eligible {
		why, _ := m.Health.unavailable(now)
		rs[i] = ranked{m: m, avail: why == "", ttft: m.Health.ttftSeconds()}
		switch p.policy {
		case PolicyCost, PolicyAuto:
			rs[i].cost = p.estCost(m, pl.f)
		case PolicyWeighted:
			// Efraimidis-Spirakis: sorting by u^(1/w) descending draws a
			// weighted random order.
			rs[i].key = -math.Pow(p.e.float(), 1/float64(m.Weight))
		}
	}
	byCost := func(a, b ranked) int {
		if c := cmp.Compare(a.cost, b.cost); c != 0 {
			return c
		}
		if c := cmp.Compare(a.ttft, b.ttft); c != 0 {
			return c
		}
		return cmp.Compare(a.m.index, b.m.index)
	}
	tierRank := func(tier int) int { return 0 }
	var reason string
	switch p.policy {
	case PolicyAuto:
		sc := Difficulty(pl.f)
		ti := p.auto.tierFor(sc.Value, len(p.tiers))
		pl.Score, pl.Tier = &sc, p.tiers[ti]
		// the chosen tier, then stronger tiers upward, then weaker downward
		tierRank = func(tier int) int {
			i := slices.Index(p.tiers, tier)
			if i >= ti {
				return i - ti
			}
			return len(p.tiers) + ti - i
		}
		sig := strings.Join(sc.Signals, ",")
		if sig == "" {
			sig = "none"
		}
		reason = "auto: score " + strconv.FormatFloat(sc.Value, 'f', 2, 64) + " (" + sig + ") -> tier " + strconv.Itoa(pl.Tier)
	}
	slices.SortStableFunc(rs, func(a, b ranked) int {
		if a.avail != b.avail {
			if a.avail {
				return -1
			}
			return 1
		}
		switch p.policy {
		case PolicyCost:
			return byCost(a, b)
		case PolicyAuto:
			if c := cmp.Compare(tierRank(a.m.Tier), tierRank(b.m.Tier)); c != 0 {
				return c
			}
			return byCost(a, b)
		case PolicyLatency:
			if c := cmp.Compare(a.ttft, b.ttft); c != 0 {
				return c
			}
		case PolicyWeighted:
			if c := cmp.Compare(a.key, b.key); c != 0 {
				return c
			}
		}
		return cmp.Compare(a.m.index, b.m.index)
	})
	out := make([]*Member, len(rs))
	for i, r := range rs {
		out[i] = r.m
	}
	n := strconv.Itoa(len(rs))
	first := rs[0]
	switch p.policy {
	case PolicyCost:
		reason = "cost: cheapest of " + n + " eligible"
		if len(rs) > 1 && rs[1].avail && rs[1].cost == first.cost {
			reason += " (tie broken by latency)"
		}
	case PolicyLatency:
		reason = "latency: lowest ttft of " + n
		if first.ttft > 0 {
			reason += " (" + time.Duration(first.ttft*float64(time.Second)).Round(time.Millisecond).String() + ")"
		} else {
			reason += " (not yet measured)"
		}
	case PolicyWeighted:
		reason = "weighted: drawn from " + n
	case PolicyPriority:
		reason = "priority: first available of " + n
	}
	if !first.avail {
		reason += "; none available now"
	}
	return out, reason
}

// Plan is one request's routing: the deployments in the order to try them,
// and the bookkeeping that bounds retries. Not safe for concurrent use.
type Plan struct {
	// Policy is the pool's policy.
	Policy Policy
	// Reason says which policy chose the order and why, for the
	// x-semgate-route header.
	Reason string
	// Tier is the tier the auto policy chose (0 for other policies).
	Tier int
	// Score is the auto policy's difficulty score (nil for others).
	Score *Score

	pool     *Pool
	f        *Features
	retry    RetryOptions
	start    time.Time
	deadline time.Time
	order    []*Member
	tries    []uint8
	lastTry  []time.Time
	pos      int
	cur      int
	skipped  int
	attempts int
}

// Keep narrows the plan, before its first attempt, to the members keep
// accepts, in their order (the gateway's budgets keep only the cheapest
// deployment for a request its budget no longer covers otherwise). It
// changes nothing and reports false when keep accepts none, or an attempt
// already began.
func (pl *Plan) Keep(keep func(*Member) bool) bool { return pl.KeepFor("budget", keep) }

// KeepFor is Keep with the reason the plan's Reason gives for the
// narrowing ("budget" for Keep).
func (pl *Plan) KeepFor(reason string, keep func(*Member) bool) bool {
	if pl.attempts > 0 {
		return false
	}
	var kept []*Member
	for _, m := range pl.order {
		if keep(m) {
			kept = append(kept, m)
		}
	}
	if len(kept) == 0 {
		return false
	}
	if len(kept) < len(pl.order) {
		pl.Reason += "; narrowed to " + strconv.Itoa(len(kept)) + " of " + strconv.Itoa(len(pl.order)) + " by " + reason
	}
	pl.order, pl.tries, pl.lastTry = kept, pl.tries[:len(kept)], pl.lastTry[:len(kept)]
	pl.pos, pl.skipped = 0, 0
	return true
}

// Attempts returns how many attempts began.
func (pl *Plan) Attempts() int { return pl.attempts }

// Order returns the members in the order they are tried. The slice must
// not be modified.
func (pl *Plan) Order() []*Member { return pl.order }

// Remaining returns the time left in the request's retry budget.
func (pl *Plan) Remaining() time.Duration { return pl.deadline.Sub(pl.pool.e.now()) }

// Next returns the member to try next and how long to wait before trying
// it: nothing for a deployment not yet tried, a jittered exponential
// backoff for one that already failed this request, at least until its
// rate-limit cooldown ends. ok is false when no further attempt fits the
// attempt limit, the time budget or MaxRetryAfter.
func (pl *Plan) Next() (m *Member, wait time.Duration, ok bool) {
	if pl.attempts >= pl.retry.MaxAttempts {
		return nil, 0, false
	}
	now := pl.pool.e.now()
	for pl.skipped < len(pl.order) {
		if pl.pos == len(pl.order) {
			pl.pos = 0
		}
		i := pl.pos
		pl.pos++
		m := pl.order[i]
		wait = 0
		if n := pl.tries[i]; n > 0 {
			wait = pl.lastTry[i].Add(pl.retry.backoff(int(n), pl.pool.e.float())).Sub(now)
		}
		if why, until := m.Health.unavailable(now); why != "" {
			if until.IsZero() || until.Sub(now) > pl.retry.MaxRetryAfter {
				pl.skipped++
				continue
			}
			wait = max(wait, until.Sub(now))
		}
		wait = max(wait, 0)
		if now.Add(wait).After(pl.deadline) {
			pl.skipped++
			continue
		}
		pl.cur = i
		return m, wait, true
	}
	return nil, 0, false
}

// Begin admits an attempt on m, the member Next returned, after the wait.
// It returns false when m became unavailable meanwhile (e.g. another
// request took its half-open probe); call Next again.
func (pl *Plan) Begin(m *Member) bool {
	now := pl.pool.e.now()
	if why := m.Health.acquire(now, pl.f.estimatedPrompt()); why != "" {
		pl.skipped++
		return false
	}
	pl.skipped = 0
	pl.attempts++
	pl.tries[pl.cur]++
	pl.lastTry[pl.cur] = now
	return true
}

// Succeeded records that m answered, ttft after the attempt began.
func (pl *Plan) Succeeded(m *Member, ttft time.Duration) { m.Health.success(ttft) }

// Failed records an upstream failure of m. A 429 puts m in cooldown for
// its Retry-After instead of counting against its breaker.
func (pl *Plan) Failed(m *Member, err error) {
	now := pl.pool.e.now()
	pl.lastTry[pl.cur] = now
	var pe *providers.Error
	if errors.As(err, &pe) && pe.Status == 429 {
		m.Health.rateLimited(now, time.Duration(pe.RetryAfter)*time.Second, err)
		return
	}
	m.Health.failure(now, err)
}

// Released ends an attempt on m that says nothing about its health: the
// client went away, or the upstream rejected the client's request.
func (pl *Plan) Released(m *Member) { m.Health.release() }

// Completed charges an answer's completion tokens to m's tpm budget.
func (pl *Plan) Completed(m *Member, completionTokens int) {
	m.Health.addTokens(pl.pool.e.now(), completionTokens)
}

// Unavailable is the error for a request that could not make a single
// attempt: every eligible deployment is out of rotation.
func (pl *Plan) Unavailable() *Error {
	now := pl.pool.e.now()
	e := &Error{Alias: pl.pool.Name, Err: ErrUnavailable, RateLimited: true}
	var reasons []string
	var lastAt time.Time
	for _, m := range pl.order {
		why, until := m.Health.unavailable(now)
		if why == "" {
			why = "retry budget exhausted"
		}
		if why != "rate-limited" {
			e.RateLimited = false
		}
		reasons = append(reasons, m.Label()+": "+why)
		if d := until.Sub(now); !until.IsZero() && (e.RetryAfter == 0 || d < e.RetryAfter) {
			e.RetryAfter = d
		}
		if err, at := m.Health.lastError(); err != nil && at.After(lastAt) {
			e.Last, lastAt = err, at
		}
	}
	e.Message = "no deployment of model " + strconv.Quote(pl.pool.Name) + " is available: " + strings.Join(reasons, "; ")
	return e
}
