package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/semgate/semgate/gateway/auth"
	"github.com/semgate/semgate/gateway/limits"
	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/route"
	"github.com/semgate/semgate/providers/tokens"
)

// The limits step: rate limits and budgets (package limits).
//
//   - limitRequest, after the model step and before the cache: takes one
//     request from every request limit that applies (the key's, from its
//     record; its tenant's, its model alias's, and its client IP's for a
//     request without a key, from the configuration's limits section), so
//     cache hits count against request limits. With
//     limits.cache_hit_tokens it also takes the prompt's tokens here.
//   - limitUpstream, in forward once the route is planned and before the
//     first upstream call (cache misses, bypasses, embeddings): takes the
//     prompt's tokens from every token limit, then reserves the request's
//     worst-case cost against the key's and the tenant's budget (or, with
//     limits.over_budget: downgrade, routes it to the cheapest eligible
//     deployment when the budget no longer covers the plan).
//   - settleBudget, in the relays before the client receives an answer's
//     end: settles the reservation with the answer's cost, so that spend
//     a client was answered for survives a crash.
//   - settleLimits, when the exchange ends (deferred by serveExchange):
//     charges the completion tokens (the real usage less what was taken
//     before the call) and settles a reservation still held (a failure,
//     an answer cut short) with what reached the client.
//
// Each of these takes or charges its rate limits in one call of a
// limits.BatchLimiter (in cluster mode, one round trip to Redis), all or
// nothing; a Limiter without it is called once per limit, and what the
// limits checked before a refusal took is given back.
//
// Every response of a request that some rate limit applies to carries
// OpenAI's x-ratelimit-{limit,remaining,reset}-{requests,tokens} headers,
// for the limit with the least left. A request over a rate limit gets 429
// rate_limit_exceeded with Retry-After (and retry-after-ms); over budget,
// 429 insufficient_quota. What a refused request took is given back.

// tableBudgets is the store table of budget spend and reservations
// (limits.LocalBudgets): 'b'. The cache never touches it.
const tableBudgets = 'b'

// Response headers of the limits step.
const (
	headerRetryAfterMS = "retry-after-ms"
	headerShouldRetry  = "x-should-retry"
	headerBudget       = "X-Semgate-Budget"
)

// quota is the Server's rate limiters and budgets.
type quota struct {
	opts    *limits.Options
	lim     limits.Limiter
	batch   limits.BatchLimiter // lim, when it decides on several allowances at once
	budgets limits.Budgets
	now     func() time.Time
	log     *slog.Logger

	rejected   map[limits.Subject]*metrics.Counter // by scope and unit (Name "")
	overBudget map[limits.Scope]*metrics.Counter
	downgraded *metrics.Counter
}

// openQuota builds the limiter and opens the budgets' records.
func (s *Server) openQuota() error {
	o := &s.cfg.Limits
	kv, err := s.store.KV(tableBudgets)
	if err != nil {
		return err
	}
	acct := s.routing.acct
	b, err := limits.OpenBudgets(kv, limits.BudgetOptions{
		Baseline: func(b limits.Budget, period string) int64 { return acct.costIn(scopeDim(b.Scope), b.Name, period) },
		Lease:    o.ReservationLease,
		Log:      s.log,
	}, time.Now())
	if err != nil {
		return err
	}
	lim, budgets, err := s.quotaBackends(b)
	if err != nil {
		b.Close()
		return err
	}
	q := &quota{opts: o, budgets: budgets, now: time.Now, log: s.log,
		lim:        lim,
		rejected:   map[limits.Subject]*metrics.Counter{},
		overBudget: map[limits.Scope]*metrics.Counter{},
		downgraded: s.metrics.set.NewCounter(`semgate_budget_downgraded_total`),
	}
	for _, sc := range []limits.Scope{limits.ScopeKey, limits.ScopeTenant, limits.ScopeModel, limits.ScopeIP} {
		for _, u := range []limits.Unit{limits.Requests, limits.Tokens} {
			q.rejected[limits.Subject{Scope: sc, Unit: u}] = s.metrics.set.NewCounter(
				`semgate_ratelimit_rejected_total{scope="` + sc.String() + `",unit="` + u.String() + `"}`)
		}
	}
	for _, sc := range []limits.Scope{limits.ScopeKey, limits.ScopeTenant} {
		q.overBudget[sc] = s.metrics.set.NewCounter(`semgate_budget_rejected_total{scope="` + sc.String() + `"}`)
	}
	q.batch, _ = lim.(limits.BatchLimiter)
	s.quota = q
	return nil
}

// close stops the limiter's goroutine and closes the budgets.
func (q *quota) close() {
	if q != nil {
		q.lim.Close()
		q.budgets.Close()
	}
}

func scopeDim(sc limits.Scope) byte {
	if sc == limits.ScopeKey {
		return dimKey
	}
	return dimTenant
}

// maxSubjects: four scopes, two units.
const maxSubjects = 8

// limitUse is one exchange's use of limits.
type limitUse struct {
	subjects [maxSubjects]limitSubject
	n        int
	// tokens taken from token limits before the answer.
	tokens int
	// hitTokens are a cache hit's original usage (serveHit's outcome,
	// recorded by recordHit).
	hitTokens int
	upstream  bool // limitUpstream ran
	reserved  bool
	res       limits.Reservation
	// checks and ds are the limiter's calls' arguments and answers.
	checks [maxSubjects]limits.Check
	ds     [maxSubjects]limits.Decision
}

type limitSubject struct {
	s limits.Subject
	r limits.Rate
}

func (u *limitUse) add(sc limits.Scope, name string, rl limits.RateLimits) {
	if rl.RequestsPerMinute > 0 {
		u.subjects[u.n] = limitSubject{limits.Subject{Scope: sc, Unit: limits.Requests, Name: name}, rl.Requests()}
		u.n++
	}
	if rl.TokensPerMinute > 0 {
		u.subjects[u.n] = limitSubject{limits.Subject{Scope: sc, Unit: limits.Tokens, Name: name}, rl.Tokens()}
		u.n++
	}
}

func (u *limitUse) hasTokens() bool {
	for _, ls := range u.subjects[:u.n] {
		if ls.s.Unit == limits.Tokens {
			return true
		}
	}
	return false
}

func keyRate(k *auth.Key) limits.RateLimits {
	return limits.RateLimits{RequestsPerMinute: k.RateLimit.RequestsPerMinute, TokensPerMinute: k.RateLimit.TokensPerMinute, Burst: k.RateLimit.Burst}
}

// limitRequest is the limits step before the cache (see above).
func (s *Server) limitRequest(w http.ResponseWriter, r *http.Request, ex *exchange, model *providers.Model) error {
	q := s.quota
	if q == nil {
		return nil
	}
	u := &ex.lim
	p := ex.who.principal()
	if p.Key != nil {
		u.add(limits.ScopeKey, p.Key.ID, keyRate(p.Key))
	}
	u.add(limits.ScopeTenant, p.Tenant, q.opts.Tenant(p.Tenant).RateLimits)
	u.add(limits.ScopeModel, model.Name, q.opts.Model(model.Name))
	if p.Key == nil && !q.opts.IP.IsZero() {
		u.add(limits.ScopeIP, clientIP(r), q.opts.IP)
	}
	if u.n == 0 {
		return nil
	}
	ctx, now := r.Context(), q.now()
	var hs rateHeaders
	n := 0
	if q.opts.CacheHitTokens && u.hasTokens() {
		n = tokens.Prompt(model.Deployments[0].Model, ex.ep.String(), ex.req.body)
	}
	cs := u.checks[:0]
	for _, ls := range u.subjects[:u.n] {
		want := 1
		if ls.s.Unit == limits.Tokens {
			want = n // 0 (a look) unless hits count tokens
		}
		cs = append(cs, limits.Check{Subject: ls.s, Rate: ls.r, N: want})
	}
	refused, err := q.allow(ctx, ex.id, cs, u.ds[:], now)
	if err != nil {
		u.n = 0
		return s.limitsUnavailable()
	}
	hs.noteAll(cs, u.ds[:], refused)
	if refused >= 0 {
		u.n = 0
		hs.set(w.Header())
		return q.rateLimited(w, cs[refused].Subject, u.ds[refused])
	}
	u.tokens = n
	hs.set(w.Header())
	return nil
}

// limitUpstream is the limits step before the first upstream call (see
// above). plan is the request's route; f its features.
func (s *Server) limitUpstream(w http.ResponseWriter, ex *exchange, plan *route.Plan, f *route.Features) error {
	q := s.quota
	u := &ex.lim
	if q == nil || u.upstream {
		return nil
	}
	u.upstream = true
	ctx, now := context.Background(), q.now()
	if !q.opts.CacheHitTokens && u.hasTokens() {
		n := tokens.Prompt(plan.Order()[0].Deployment.Model, ex.ep.String(), ex.req.body)
		var hs rateHeaders
		cs := u.checks[:0]
		for _, ls := range u.subjects[:u.n] {
			if ls.s.Unit == limits.Tokens {
				cs = append(cs, limits.Check{Subject: ls.s, Rate: ls.r, N: n})
			}
		}
		refused, err := q.allow(ctx, ex.id, cs, u.ds[:], now)
		if err != nil {
			q.giveBack(ctx, u, 1, 0, now)
			u.n = 0
			return s.limitsUnavailable()
		}
		hs.noteAll(cs, u.ds[:], refused)
		if refused >= 0 {
			sub, d := cs[refused].Subject, u.ds[refused] // giveBack reuses cs
			q.giveBack(ctx, u, 1, 0, now)
			u.n = 0
			hs.set(w.Header())
			return q.rateLimited(w, sub, d)
		}
		u.tokens = n
		hs.set(w.Header())
	}
	return s.reserveBudget(w, ex, plan, f, now)
}

// budgetsOf returns the budgets that apply to a principal.
func (q *quota) budgetsOf(p *auth.Principal) []limits.Budget {
	var bs []limits.Budget
	if k := p.Key; k != nil && k.Budget.MaxUSD > 0 {
		period := k.Budget.Period
		if period == "" {
			period = limits.PeriodMonth
		}
		bs = append(bs, limits.Budget{Scope: limits.ScopeKey, Name: k.ID, MaxNano: limits.USDToNano(k.Budget.MaxUSD), Period: period})
	}
	if tb := q.opts.Tenant(p.Tenant).Budget; tb.MaxUSD > 0 {
		bs = append(bs, limits.Budget{Scope: limits.ScopeTenant, Name: p.Tenant, MaxNano: tb.Nano(), Period: tb.PeriodOrDefault()})
	}
	return bs
}

// worstCost is what a request can cost on a deployment at most: its
// prompt's byte bound (at least its tokens) at the input price, and its
// max_tokens (else limits.default_output_tokens, at most the context
// window) at the output price.
func (q *quota) worstCost(d *providers.Deployment, f *route.Features) int64 {
	out := f.MaxTokens
	if out <= 0 {
		out = q.opts.OutputTokens()
		if d.ContextWindow > 0 {
			out = min(out, d.ContextWindow)
		}
	}
	if f.Endpoint == providers.EndpointEmbeddings {
		out = 0
	}
	return d.Price.CostNanoUSD(f.PromptBound, 0, out)
}

// reserveBudget reserves the request's worst-case cost, over every
// deployment its plan may try (a fallback may cost more than the first
// choice), against the budgets that apply.
func (s *Server) reserveBudget(w http.ResponseWriter, ex *exchange, plan *route.Plan, f *route.Features, now time.Time) error {
	q := s.quota
	u := &ex.lim
	bs := q.budgetsOf(ex.who.principal())
	if len(bs) == 0 {
		return nil
	}
	ctx := context.Background()
	var want int64
	var cheapest *route.Member
	var cheapestCost int64
	for _, m := range plan.Order() {
		c := q.worstCost(m.Deployment, f)
		want = max(want, c)
		if cheapest == nil || c < cheapestCost {
			cheapest, cheapestCost = m, c
		}
	}
	if q.opts.Downgrade() && cheapestCost < want {
		left, err := q.budgets.Left(ctx, bs, now)
		if err == nil && left < want && plan.Keep(func(m *route.Member) bool { return m == cheapest }) {
			want = cheapestCost
			q.downgraded.Inc()
			w.Header().Set(headerBudget, "downgraded")
		}
	}
	res, err := q.budgets.Reserve(ctx, bs, want, now)
	var ob *limits.OverBudgetError
	switch {
	case errors.As(err, &ob):
		q.giveBack(ctx, u, 1, u.tokens, now)
		u.n = 0
		q.overBudget[ob.Budget.Scope].Inc()
		return q.insufficientQuota(w, ob)
	case errors.Is(err, limits.ErrUnavailable):
		q.giveBack(ctx, u, 1, u.tokens, now)
		u.n = 0
		return s.limitsUnavailable()
	case err != nil:
		// The reservation could not be written: refuse rather than
		// spend unaccounted.
		q.giveBack(ctx, u, 1, u.tokens, now)
		u.n = 0
		s.log.Error("limits: reserving budget failed", "request_id", ex.id, "error", err)
		return &apiError{Status: http.StatusServiceUnavailable, Type: typeServer, Code: "budget_unavailable", RetryAfter: 1,
			Message: "semgate could not record this request's budget reservation; retry shortly."}
	}
	u.res, u.reserved = res, true
	return nil
}

// settleLimits ends the exchange's use of limits: the completion's tokens
// are charged (the usage less what was taken before), and the budget
// reservation is settled with what the answer that reached the client
// cost (0 for a failure or a hit).
func (s *Server) settleLimits(ex *exchange) {
	q := s.quota
	u := &ex.lim
	if q == nil || (u.n == 0 && !u.reserved) {
		return
	}
	ctx, now := context.Background(), q.now()
	if u.hasTokens() {
		used := -1
		switch {
		case ex.cacheHit:
			if q.opts.CacheHitTokens && u.hitTokens > 0 { // a coalesced answer's usage is unknown: keep the prompt's
				used = u.hitTokens
			}
		case ex.usage.known:
			used = ex.usage.prompt + ex.usage.completion
		}
		if used >= 0 && used != u.tokens {
			cs := u.checks[:0]
			for _, ls := range u.subjects[:u.n] {
				if ls.s.Unit == limits.Tokens {
					cs = append(cs, limits.Check{Subject: ls.s, Rate: ls.r, N: used - u.tokens})
				}
			}
			if err := q.charge(ctx, cs, now); err != nil {
				q.log.Warn("limits: charging tokens failed", "request_id", ex.id, "error", err)
			}
		}
	}
	if u.reserved {
		var actual int64
		if ex.dep != nil && ex.wroteHeader && !ex.cacheHit {
			actual = ex.costNano
		}
		s.settleBudget(ex, actual)
	}
}

// settleBudget settles the exchange's budget reservation, if it still
// holds one, with costNano. The relays call it with an answer's cost where
// they record the answer in its flight, before the client receives the
// answer's end (a JSON body, a stream's [DONE]): a crash after a client
// has its answer never loses what it cost. settleLimits settles what is
// left (failures, answers cut short).
func (s *Server) settleBudget(ex *exchange, costNano int64) {
	q := s.quota
	u := &ex.lim
	if q == nil || !u.reserved {
		return
	}
	if err := q.budgets.Settle(context.Background(), u.res, costNano); err != nil {
		q.log.Warn("limits: settling a budget reservation failed", "request_id", ex.id, "error", err)
	}
	u.reserved = false
}

// allow takes cs's units, all or nothing (one call of a BatchLimiter;
// else Allow on each check in turn, what was taken given back on a
// refusal), and puts the decisions in ds, as BatchLimiter.AllowAll. It
// returns the index of the refused check, or -1; or, having taken
// nothing, an error wrapping limits.ErrUnavailable. A limiter's other
// failures let the request through the limits that failed (logged), which
// get no decision (ds[i].Limit 0): when a batch fails as a whole (say,
// Redis refused one allowance's key), the checks are taken one by one,
// so that the others still count.
func (q *quota) allow(ctx context.Context, id string, cs []limits.Check, ds []limits.Decision, now time.Time) (int, error) {
	if len(cs) == 0 {
		return -1, nil
	}
	if q.batch != nil {
		refused, err := q.batch.AllowAll(ctx, cs, ds, now)
		switch {
		case err == nil:
			return refused, nil
		case errors.Is(err, limits.ErrUnavailable):
			return -1, err
		case ctx.Err() != nil:
			q.log.Warn("limits: rate limiter failed; letting the request through", "request_id", id, "error", err)
			clear(ds[:len(cs)])
			return -1, nil
		}
	}
	for i := range cs {
		c := &cs[i]
		d, err := q.lim.Allow(ctx, c.Subject, c.Rate, c.N, now)
		if err != nil && !errors.Is(err, limits.ErrUnavailable) {
			q.log.Warn("limits: rate limiter failed; letting the request through", "request_id", id, "error", err)
			ds[i] = limits.Decision{}
			continue
		}
		if err == nil {
			ds[i] = d
			if d.Allowed {
				continue
			}
		}
		for _, c := range cs[:i] {
			if c.N > 0 {
				q.lim.Charge(ctx, c.Subject, c.Rate, -c.N, now)
			}
		}
		if err != nil {
			return -1, err
		}
		return i, nil
	}
	return -1, nil
}

// charge charges each check's N (one call of a BatchLimiter).
func (q *quota) charge(ctx context.Context, cs []limits.Check, now time.Time) error {
	if q.batch != nil {
		return q.batch.ChargeAll(ctx, cs, now)
	}
	var first error
	for _, c := range cs {
		if c.N == 0 {
			continue
		}
		if err := q.lim.Charge(ctx, c.Subject, c.Rate, c.N, now); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// giveBack returns what a refused request took: reqs from each of its
// request limits and toks from each of its token limits. It overwrites
// u.checks.
func (q *quota) giveBack(ctx context.Context, u *limitUse, reqs, toks int, now time.Time) {
	cs := u.checks[:0]
	for _, ls := range u.subjects[:u.n] {
		n := reqs
		if ls.s.Unit == limits.Tokens {
			n = toks
		}
		if n > 0 {
			cs = append(cs, limits.Check{Subject: ls.s, Rate: ls.r, N: -n})
		}
	}
	if len(cs) > 0 {
		q.charge(ctx, cs, now)
	}
}

// rateHeaders collects, per unit, the decision with the least left.
type rateHeaders struct {
	d   [2]limits.Decision
	ok  [2]bool // d[i] is set
	hit [2]bool // a refusal: it is the one reported
}

func unitIndex(u limits.Unit) int {
	if u == limits.Tokens {
		return 1
	}
	return 0
}

// noteAll notes the decisions of an allow up to the refused check (-1:
// all), skipping the checks the limiter failed on (Limit 0).
func (h *rateHeaders) noteAll(cs []limits.Check, ds []limits.Decision, refused int) {
	for i := range cs {
		switch {
		case i == refused:
			h.note(cs[i].Subject.Unit, ds[i], true)
			return
		case ds[i].Limit > 0:
			h.note(cs[i].Subject.Unit, ds[i], false)
		}
	}
}

func (h *rateHeaders) note(u limits.Unit, d limits.Decision, refused bool) {
	i := unitIndex(u)
	if h.hit[i] {
		return
	}
	if !h.ok[i] || refused || d.Remaining < h.d[i].Remaining {
		h.d[i], h.ok[i], h.hit[i] = d, true, refused
	}
}

var rateHeaderNames = [2][3]string{
	{"X-Ratelimit-Limit-Requests", "X-Ratelimit-Remaining-Requests", "X-Ratelimit-Reset-Requests"},
	{"X-Ratelimit-Limit-Tokens", "X-Ratelimit-Remaining-Tokens", "X-Ratelimit-Reset-Tokens"},
}

// set writes the headers: their names are canonical already, so they go
// straight into the map, all values in one allocation.
func (h *rateHeaders) set(hdr http.Header) {
	n := 0
	for i := range h.ok {
		if h.ok[i] {
			n += 3
		}
	}
	if n == 0 {
		return
	}
	vals := make([]string, 0, n)
	for i := range h.d {
		if !h.ok[i] {
			continue
		}
		d := &h.d[i]
		vals = append(vals, strconv.Itoa(d.Limit), strconv.Itoa(d.Remaining), formatReset(d.Reset))
		j := len(vals) - 3
		for k, name := range rateHeaderNames[i] {
			hdr[name] = vals[j+k : j+k+1 : j+k+1]
		}
	}
}

// formatReset renders a duration as OpenAI's reset headers do: "1s",
// "6m0s", "20ms".
func formatReset(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Millisecond:
		return "1ms"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

// rateLimited is the 429 of a rate limit.
func (q *quota) rateLimited(w http.ResponseWriter, s limits.Subject, d limits.Decision) error {
	if c := q.rejected[limits.Subject{Scope: s.Scope, Unit: s.Unit}]; c != nil {
		c.Inc()
	}
	secs := int((d.RetryAfter + time.Second - 1) / time.Second)
	secs = max(secs, 1)
	w.Header().Set(headerRetryAfterMS, strconv.FormatInt(max(d.RetryAfter.Milliseconds(), 1), 10))
	unit := "requests"
	short := "RPM"
	if s.Unit == limits.Tokens {
		unit, short = "tokens", "TPM"
	}
	return &apiError{Status: http.StatusTooManyRequests, Type: unit, Code: "rate_limit_exceeded", RetryAfter: secs,
		Message: "Rate limit reached for " + s.Scope.String() + " " + s.Name + " on " + unit + " per min (" + short + "): Limit " +
			strconv.Itoa(d.Limit) + ", Remaining " + strconv.Itoa(d.Remaining) + ". Please try again in " + formatReset(d.RetryAfter) + "."}
}

// insufficientQuota is the 429 of a spent budget: OpenAI's
// insufficient_quota. SDKs are told not to retry (x-should-retry: false)
// unless requests in flight hold part of it, which they may release.
func (q *quota) insufficientQuota(w http.ResponseWriter, ob *limits.OverBudgetError) error {
	b := ob.Budget
	msg := "You exceeded your current quota: the budget of " + b.Scope.String() + " " + b.Name + " ($" + formatUSD(b.MaxNano) +
		" per " + b.Period + ", UTC) is spent ($" + formatUSD(ob.Spent) + " spent"
	ae := &apiError{Status: http.StatusTooManyRequests, Type: "insufficient_quota", Code: "insufficient_quota"}
	if ob.Reserved > 0 {
		msg += ", $" + formatUSD(ob.Reserved) + " held by requests in flight"
		ae.RetryAfter = 1
	} else {
		w.Header().Set(headerShouldRetry, "false")
	}
	ae.Message = msg + "). It renews at " + ob.Renews.UTC().Format(time.RFC3339) + "."
	return ae
}

// clientIP is the connection's address, without the port.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// validateLimits checks the limits section against the rest: tenant names
// and model aliases it names.
func (c *Config) validateLimits(ps *problems, aliases map[string]int) {
	ps.addErr("limits", c.Limits.Validate())
	for name := range c.Limits.Tenants {
		if name != "*" && !auth.ValidTenant(name) {
			ps.add("limits.tenants."+name, "%q is not a tenant name (letters, digits, '.', '_', '-'), nor \"*\"", name)
		}
	}
	for name := range c.Limits.Models {
		if name != "*" && aliases[name] == 0 {
			ps.add("limits.models."+name, "unknown model alias %q", name)
		}
	}
}
