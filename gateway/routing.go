package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/route"
	"github.com/semgate/semgate/providers/tokens"
	"github.com/semgate/semgate/semcache"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
)

// Response headers of routing and accounting.
const (
	headerAttempts = "X-Semgate-Attempts"
	headerRoute    = "X-Semgate-Route"
	headerCost     = "X-Semgate-Cost-Usd"
)

// routing is the gateway's cost-aware routing and accounting: the route
// engine (policies, health, retries) and the spend totals.
type routing struct {
	engine *route.Engine
	acct   *accountant
	labels map[*providers.Deployment]string // "provider/model", built once
	tiers  map[*providers.Model]map[int]*metrics.Counter
}

// newRouting builds the route engine's pools from the configuration (the
// router's deployments are the enabled ones, in configured order) and
// opens the spend totals in store.
func newRouting(cfg *Config, router *providers.Router, store *semcache.Store, set *metrics.Set, log *slog.Logger) (*routing, error) {
	eng, err := route.New(cfg.Routing)
	if err != nil {
		return nil, err
	}
	rt := &routing{engine: eng, labels: map[*providers.Deployment]string{}, tiers: map[*providers.Model]map[int]*metrics.Counter{}}
	for i := range cfg.Models {
		mc := &cfg.Models[i]
		model, err := router.Lookup(mc.Name)
		if err != nil {
			continue // disabled: no enabled provider
		}
		dcs := enabledDeployments(cfg, mc)
		members := make([]route.MemberOptions, len(dcs))
		for j := range dcs {
			members[j] = dcs[j].MemberOptions
		}
		pool, err := eng.AddPool(model, mc.PoolOptions, members)
		if err != nil {
			return nil, err
		}
		for _, d := range model.Deployments {
			rt.labels[d] = route.Label(d)
		}
		if pool.Policy() == route.PolicyAuto {
			byTier := map[int]*metrics.Counter{}
			for _, t := range pool.Tiers() {
				byTier[t] = set.GetOrCreateCounter(`semgate_route_tier_requests_total{alias=` + strconv.Quote(mc.Name) + `,tier="` + strconv.Itoa(t) + `"}`)
			}
			rt.tiers[model] = byTier
		}
	}
	for label, h := range eng.Health() {
		h := h
		set.GetOrCreateGauge(`semgate_deployment_circuit_state{deployment=`+strconv.Quote(label)+`}`, func() float64 {
			return float64(h.Status().State)
		})
	}
	rt.acct, err = newAccountant(store, set, router, log, nil)
	if err != nil {
		return nil, err
	}
	return rt, nil
}

// close writes the pending spend totals.
func (rt *routing) close() {
	if rt != nil && rt.acct != nil {
		rt.acct.close()
	}
}

// errAttemptTimeout is the cause an attempt is cancelled with when it
// outlives its deployment's timeout or the request's retry budget.
var errAttemptTimeout = fmt.Errorf("%w: attempt deadline", providers.ErrTimeout)

// forward routes the request over the model's pool: the policy orders the
// deployments, each attempt that fails before anything reached the client
// falls back to the next (waiting out backoff and Retry-After when it
// comes back to one that already failed), and the answer is relayed and
// accounted for.
//
// When fl is not nil it receives the answer relayed to the client, for the
// cache and for coalesced followers.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, ex *exchange, model *providers.Model, fl *flight) error {
	ctx := r.Context()
	pool := s.routing.engine.Pool(model)
	f := route.Inspect(ex.ep, ex.req.body)
	plan, err := pool.Plan(f)
	if err != nil {
		s.account(ex, model, err)
		return err
	}
	ex.plan = plan
	if err := ex.native.narrow(plan); err != nil {
		s.account(ex, model, err)
		return err
	}
	if c := s.routing.tiers[model]; c != nil {
		c[plan.Tier].Inc()
	}
	if err := s.limitUpstream(w, ex, plan, f); err != nil {
		return err
	}
	// A stream the client did not ask usage for: semgate asks for it to
	// price the stream (where the provider accepts that), and relayStream
	// strips it again.
	var withUsage []byte
	if ex.req.stream && !ex.req.includeUsage && ex.ep != providers.EndpointEmbeddings {
		if b, err := withIncludeUsage(ex.req.body); err == nil {
			withUsage = b
		}
	}
	var lastErr error
	for {
		m, wait, ok := plan.Next()
		if !ok {
			break
		}
		if wait > 0 && sleep(ctx, wait) != nil {
			s.account(ex, model, errClientGone)
			return errClientGone
		}
		if !plan.Begin(m) {
			continue
		}
		dep := m.Deployment
		ex.dep, ex.member = dep, m
		ex.attempts++
		t0 := time.Now()
		err := s.attempt(ctx, w, ex, plan, m, withUsage, fl)
		um := s.metrics.upstream[dep]
		if err == nil {
			plan.Succeeded(m, ex.ttft)
			plan.Completed(m, ex.usage.completion)
			um.ok.Inc()
			um.latency.UpdateDuration(t0)
			s.account(ex, model, nil)
			return nil
		}
		if ctx.Err() != nil || errors.Is(err, errClientGone) {
			plan.Released(m)
			s.account(ex, model, errClientGone)
			return errClientGone
		}
		if !upstreamFault(err) {
			plan.Released(m)
			s.account(ex, model, err)
			return err
		}
		plan.Failed(m, err)
		um.failed.Inc()
		lastErr = err
		if ex.wroteHeader || !shouldFallback(err, ex.attempts < len(plan.Order())) {
			s.account(ex, model, err)
			return err
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "upstream failed; trying the next deployment",
			slog.String("request_id", ex.id), slog.String("provider", dep.ProviderName),
			slog.String("upstream_model", dep.Model), slog.String("error", err.Error()))
	}
	if lastErr == nil {
		lastErr = plan.Unavailable()
	}
	s.setRouteHeaders(w.Header(), ex)
	s.account(ex, model, lastErr)
	return lastErr
}

// attempt makes one upstream call and relays its answer. The attempt's
// deadline (the deployment's timeout, capped by the retry budget) runs
// until the first byte reaches the client. withUsage, when not nil, is the
// body with stream_options.include_usage added; it is sent where the
// provider's stream_usage allows, and an upstream that refuses the field is
// asked once more without it.
func (s *Server) attempt(ctx context.Context, w http.ResponseWriter, ex *exchange, plan *route.Plan, m *route.Member, withUsage []byte, fl *flight) error {
	dep := m.Deployment
	su := s.streamUsage[dep.ProviderName]
	base := ex.req.body
	ex.stripUsage = false
	if withUsage != nil && su.inject() {
		base, ex.stripUsage = withUsage, true
	}
	err := s.attemptOnce(ctx, w, ex, plan, m, base, fl)
	if err != nil && ex.stripUsage && !ex.wroteHeader && ctx.Err() == nil && su.retryWithout(err) {
		s.log.LogAttrs(ctx, slog.LevelWarn, "upstream refuses stream_options; asking it without them from now on",
			slog.String("provider", dep.ProviderName))
		ex.stripUsage = false
		err = s.attemptOnce(ctx, w, ex, plan, m, ex.req.body, fl)
	}
	return err
}

func (s *Server) attemptOnce(ctx context.Context, w http.ResponseWriter, ex *exchange, plan *route.Plan, m *route.Member, base []byte, fl *flight) error {
	dep := m.Deployment
	up := &providers.Request{
		Endpoint:  ex.ep,
		Model:     dep.Model,
		Body:      bodyWithModel(base, ex.req.model, dep.Model),
		Stream:    ex.req.stream,
		RequestID: ex.id,
	}
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timeout := plan.Remaining()
	if m.Timeout > 0 && m.Timeout < timeout {
		timeout = m.Timeout
	}
	ex.attemptStart, ex.timer = time.Now(), nil
	var out relayOutcome
	ex.timer = time.AfterFunc(max(timeout, 0), func() { cancel(errAttemptTimeout) })
	var (
		resp *providers.Response
		err  error
	)
	if np, ok := ex.native.nativeFor(dep.Provider); ok {
		// The deployment speaks the client's API: pass its request through.
		n := ex.native
		n.begin(true, ex.req.stream)
		resp, err = np.DoNative(actx, &providers.NativeRequest{
			API: n.api, Model: dep.Model, Body: bodyWithModel(n.body, n.alias, dep.Model),
			Stream: ex.req.stream, Header: n.header, RequestID: ex.id, Raw: n,
		})
	} else {
		ex.native.begin(false, ex.req.stream)
		resp, err = dep.Provider.Do(actx, up)
	}
	if err == nil {
		if ex.req.stream {
			out, err = s.relayStream(w, ex, resp, fl)
		} else {
			out, err = s.relayJSON(w, ex, resp, fl)
		}
	}
	ex.record(&out)
	ex.timer.Stop()
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(actx), errAttemptTimeout) && !ex.wroteHeader {
		err = &providers.Error{Provider: dep.ProviderName, Type: typeTimeout,
			Message: "no answer within " + timeout.Round(time.Millisecond).String(), Err: providers.ErrTimeout}
	}
	return err
}

// firstByte is called just before an answer's headers are written: it
// stops the attempt's deadline and returns the time to the first byte, or
// reports that the deadline already passed.
func (ex *exchange) firstByte() (time.Duration, error) {
	if ex.timer != nil && !ex.timer.Stop() {
		return 0, &providers.Error{Provider: ex.dep.ProviderName, Type: typeTimeout,
			Message: "no answer within the attempt's deadline", Err: providers.ErrTimeout}
	}
	return time.Since(ex.attemptStart), nil
}

// upstreamFault reports whether err counts against the deployment's
// health: connection failures, timeouts, 5xx, 429, malformed answers and
// rejected credentials. The client's own mistakes (other 4xx,
// unsupported features) do not.
func upstreamFault(err error) bool {
	if errors.Is(err, providers.ErrUnsupported) {
		return false
	}
	var pe *providers.Error
	if errors.As(err, &pe) {
		return pe.Retryable() || errors.Is(pe, providers.ErrBadResponse) || pe.Status == 401 || pe.Status == 403
	}
	return errors.Is(err, providers.ErrBadResponse)
}

// shouldFallback reports whether another deployment may succeed where one
// failed. untried says whether the plan still has deployments this
// request has not tried: an upstream rejecting one deployment's
// credentials (401, 403) is worth trying another's account, never the
// same one again.
func shouldFallback(err error, untried bool) bool {
	var pe *providers.Error
	if errors.As(err, &pe) {
		if pe.Retryable() {
			return true
		}
		if pe.Status == 401 || pe.Status == 403 {
			return untried
		}
	}
	return errors.Is(err, providers.ErrBadResponse)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// withIncludeUsage sets stream_options.include_usage in a body.
func withIncludeUsage(body []byte) ([]byte, error) {
	if gjson.GetBytes(body, "stream_options").IsObject() {
		return sjson.SetBytes(body, "stream_options.include_usage", true)
	}
	return sjson.SetRawBytes(body, "stream_options", []byte(`{"include_usage":true}`))
}

// setRouteHeaders sets x-semgate-attempts and x-semgate-route.
func (s *Server) setRouteHeaders(h http.Header, ex *exchange) {
	if ex.plan == nil {
		return
	}
	h.Set(headerAttempts, strconv.Itoa(ex.attempts))
	reason := ex.plan.Reason
	if ex.attempts > 1 {
		reason += "; fell back after " + strconv.Itoa(ex.attempts-1) + " failed attempt(s)"
	}
	h.Set(headerRoute, reason)
}

// usageFromJSON reads an answer's usage, or counts it when the upstream
// reported none.
func (ex *exchange) usageFromJSON(body []byte) usage {
	if u, ok := parseUsage(gjson.GetBytes(body, "usage")); ok {
		return u
	}
	text := make([]byte, 0, 256)
	gjson.GetBytes(body, "choices").ForEach(func(_, c gjson.Result) bool {
		text = appendAnswerText(text, c.Get("message"))
		if t := c.Get("text"); t.Type == gjson.String {
			text = append(text, t.Str...)
		}
		return true
	})
	return ex.countUsage(text)
}

// appendAnswerText appends a chat message's or delta's content and tool
// calls.
func appendAnswerText(b []byte, msg gjson.Result) []byte {
	if c := msg.Get("content"); c.Type == gjson.String {
		b = append(b, c.Str...)
	}
	if tc := msg.Get("tool_calls"); tc.Exists() {
		tc.ForEach(func(_, call gjson.Result) bool {
			b = append(b, call.Get("function.name").Str...)
			b = append(b, call.Get("function.arguments").Str...)
			return true
		})
	}
	return b
}

// parseUsage reads an OpenAI usage object.
func parseUsage(u gjson.Result) (usage, bool) {
	if !u.IsObject() {
		return usage{}, false
	}
	out := usage{known: true, prompt: int(u.Get("prompt_tokens").Int()), completion: int(u.Get("completion_tokens").Int())}
	out.cached = int(u.Get("prompt_tokens_details.cached_tokens").Int())
	return out, true
}

// countUsage counts the prompt and the given answer text with the
// deployment's tokenizer: the fallback when the upstream reports no usage.
func (ex *exchange) countUsage(answer []byte) usage {
	model := ex.dep.Model
	return usage{known: true, counted: true,
		prompt:     tokens.Prompt(model, ex.ep.String(), ex.req.body),
		completion: tokens.Count(model, string(answer))}
}

// account records a finished request's spend: the cost of the answer that
// reached the client (failed attempts before it are not charged), or a
// failure.
func (s *Server) account(ex *exchange, model *providers.Model, err error) {
	if s.routing == nil || s.routing.acct == nil {
		return
	}
	sp := spend{alias: model.Name, key: ex.who.keyID(), tenant: ex.who.tenant(), attempts: ex.attempts,
		failed: err != nil, usage: ex.usage}
	if ex.dep != nil && ex.wroteHeader {
		sp.deployment = s.routing.labels[ex.dep]
		sp.costNano = ex.costNano
	}
	s.routing.acct.record(&sp)
	s.routing.acct.metrics.observe(ex.dep, model.Name, &sp)
}

// accountHit records a cache hit: no cost, the saved cost (ex.savedUSD,
// the original answer's) and the original's tokens.
func (s *Server) accountHit(ex *exchange, model *providers.Model) {
	if s.routing == nil || s.routing.acct == nil {
		return
	}
	sp := spend{alias: model.Name, key: ex.who.keyID(), tenant: ex.who.tenant(), hit: true,
		savedNano: int64(ex.savedUSD*1e9 + 0.5)}
	s.routing.acct.record(&sp)
	s.routing.acct.metrics.observe(nil, model.Name, &sp)
}

// costOf prices usage (writes of it written to the upstream's prompt
// cache) at the deployment's price.
func (ex *exchange) costOf(u usage, writes int) int64 {
	if !u.known || ex.dep == nil {
		return 0
	}
	return ex.dep.Price.CostNanoUSD(u.prompt, u.cached, u.completion) + ex.dep.Price.CacheWriteNanoUSD(writes)
}
