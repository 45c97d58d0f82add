package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/semcache"
)

// cacheMetrics counts cache outcomes; series are created once.
type cacheMetrics struct {
	lookups     map[string]*metrics.Counter // by x-semgate-cache value
	embedErrors *metrics.Counter
	// embedSkipped counts requests that found every embedding slot busy
	// (server.max_embeds) and did without.
	embedSkipped *metrics.Counter
	embedTime    *metrics.PrometheusHistogram
	stored       *metrics.Counter
}

func newCacheMetrics(set *metrics.Set) *cacheMetrics {
	m := &cacheMetrics{lookups: map[string]*metrics.Counter{}}
	for _, v := range []string{cacheHitExact, cacheHitSemantic, cacheHitCoalesced, cacheMiss, cacheBypass, cacheRefresh} {
		m.lookups[v] = set.NewCounter(`semgate_cache_requests_total{result="` + v + `"}`)
	}
	m.embedErrors = set.NewCounter(`semgate_cache_embed_errors_total`)
	m.embedSkipped = set.NewCounter(`semgate_cache_embed_skipped_total`)
	m.embedTime = set.NewPrometheusHistogram(`semgate_cache_embed_seconds`)
	m.stored = set.NewCounter(`semgate_cache_stores_total`)
	return m
}

// cacheLookup is the state of one request's trip through the cache.
type cacheLookup struct {
	key    semcache.Key
	id     semcache.ID
	part   semcache.ID
	policy cachePolicy
	vec    []float32
}

// serveCached is the cache's part of the pipeline: key the request, serve
// an exact or semantic hit, or forward the miss (coalescing identical
// concurrent ones) and store a complete successful answer. It returns the
// outcome of a request the cache served, for the caller to record
// (exchange.recordHit); a miss's relay is recorded by forward.
func (s *Server) serveCached(w http.ResponseWriter, r *http.Request, ex *exchange, model *providers.Model) (hitOutcome, error) {
	opts := s.cache.Options()
	threshold := opts.ThresholdFor(model.Name)
	pol, err := parseCachePolicyFor(r.Header, threshold, ex.who.principal().MayLowerThreshold())
	if err != nil {
		return hitOutcome{}, err
	}
	if pol.threshold > 0 {
		threshold = pol.threshold
	}
	h := w.Header()
	if pol.bypass {
		return hitOutcome{}, s.bypassCache(w, r, ex, model)
	}
	key, err := semcache.MakeKey(semcache.KeyInput{
		Tenant: s.cacheTenant(ex), Model: model.Name, Namespace: pol.namespace,
		Endpoint: ex.ep.String(), Body: ex.req.body,
	}, semcache.KeyOptions{MaxTurns: opts.MaxTurnsOrDefault(), MaxSemanticBytes: opts.MaxSemanticBytes})
	if err != nil || (opts.DeterministicOnly && !key.Deterministic) {
		return hitOutcome{}, s.bypassCache(w, r, ex, model)
	}
	lk := &cacheLookup{key: key, policy: pol}
	lk.id, _ = semcache.ParseID(key.Exact)
	lk.part, _ = semcache.ParseID(key.Partition)
	h.Set(headerCacheKey, key.Exact)

	if !pol.noCache {
		if hit, err := s.lookup(w, r, ex, lk, float32(threshold)); hit.served || err != nil {
			return hit, err
		}
	}

	// A miss: join the identical request in flight, if any, or lead one.
	// The upstream call runs on a context of its own, cancelled only when
	// neither the leader's client nor any follower still wants the answer.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	fl := newFlight(ex.ep.String(), ex.req.stream, opts.MaxEntryBytesOrDefault())
	fl.refs, fl.cancel = 1, cancel
	if !pol.noCache { // a refresh must reach the upstream itself
		for tries := 0; ; tries++ {
			other := s.flights.lead(lk.id, fl)
			if other == nil {
				defer s.flights.remove(lk.id, fl)
				break
			}
			if hit, err := s.follow(w, r, ex, other); hit.served || err != nil {
				return hit, err
			}
			// The leader failed before its first byte, or its answer cannot
			// be served in this form: look again, then lead or follow the
			// next leader (one of the followers).
			if hit, err := s.serveExact(w, ex, lk); hit.served || err != nil {
				return hit, err
			}
			if tries == maxFollows {
				break // go alone
			}
		}
	}
	result := cacheMiss
	if pol.noCache {
		result = cacheRefresh
	}
	h.Set(headerCache, result)
	s.cacheMetrics.lookups[result].Inc()
	s.cache.Miss()

	ttl := opts.EntryTTL(model.Name, pol.ttl)
	if !pol.noStore {
		h.Set(headerCacheTTL, strconv.FormatInt(int64(ttl/time.Second), 10))
		fl.onComplete = func(dep *providers.Deployment, costNano int64) {
			s.storeAnswer(ctx, ex, lk, fl, ttl, dep, costNano)
		}
	}
	lw := &leaderWriter{ResponseWriter: w, f: fl}
	stop := context.AfterFunc(r.Context(), func() { lw.gone.Do(fl.unref) })
	defer stop()
	err = s.forward(lw, r.WithContext(ctx), ex, model, fl)
	fl.end(err == nil && ex.status >= 200 && ex.status <= 299, ex.costNano)
	return hitOutcome{}, err
}

// maxFollows is how many leaders in a row a request waits for before it
// goes upstream alone.
const maxFollows = 3

func (s *Server) bypassCache(w http.ResponseWriter, r *http.Request, ex *exchange, model *providers.Model) error {
	w.Header().Set(headerCache, cacheBypass)
	s.cacheMetrics.lookups[cacheBypass].Inc()
	return s.forward(w, r, ex, model, nil)
}

// lookup tries the exact tier, then the semantic tier. Its outcome says
// whether it served the request.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, ex *exchange, lk *cacheLookup, threshold float32) (hitOutcome, error) {
	if hit, err := s.serveExact(w, ex, lk); hit.served || err != nil {
		return hit, err
	}
	if !lk.key.Semantic || s.verifier == nil || threshold >= 1 {
		return hitOutcome{}, nil
	}
	if s.embedder != nil {
		lk.vec = s.embed(r.Context(), ex, lk.key.Normalized)
	}
	q := semcache.Query{
		Part:      lk.part,
		Vec:       lk.vec, // nil (no embedder, or it failed): the word channel alone
		Prompt:    lk.key.Prompt,
		Threshold: threshold,
		Verify:    s.verifier,
		Check:     s.guard,
		MaxAge:    lk.policy.maxAge,
	}
	cand, rejected, err := s.cache.FindSemantic(&q)
	if err != nil {
		s.log.Warn("cache: semantic lookup failed; serving as a miss", "request_id", ex.id, "error", err)
		return hitOutcome{}, nil
	}
	if rejected != nil && cand == nil {
		s.log.Debug("cache: verifier refused the nearest candidate", "request_id", ex.id,
			"rule", string(rejected.Verdict.Rule), "diffs", rejected.Verdict.String(), "similarity", rejected.Score)
	}
	if cand == nil || !servable(cand.Entry, ex.req.stream) {
		return hitOutcome{}, nil
	}
	w.Header().Set(headerVerify, cand.Verdict.Header())
	return s.serveHit(w, ex, cand.Entry, cacheHitSemantic, cand.Score)
}

// serveExact serves an exact hit, when there is one the client can get in
// the form it asked for.
func (s *Server) serveExact(w http.ResponseWriter, ex *exchange, lk *cacheLookup) (hitOutcome, error) {
	e, err := s.cache.GetExact(lk.id, lk.policy.maxAge)
	if errors.Is(err, semcache.ErrNotFound) {
		return hitOutcome{}, nil
	}
	if err != nil {
		s.log.Warn("cache: exact lookup failed; serving as a miss", "request_id", ex.id, "error", err)
		return hitOutcome{}, nil
	}
	if !servable(e, ex.req.stream) {
		return hitOutcome{}, nil
	}
	return s.serveHit(w, ex, e, cacheHitExact, 1)
}

// servable reports whether an entry can be served in the form the client
// asked for: the form it was stored in, or the other when the conversion
// was checked lossless when it was stored.
func servable(e *semcache.Entry, stream bool) bool { return e.Stream == stream || e.Convertible }

// embed returns the text's vector, or nil when the embedder fails: the
// request then falls back to exact-only caching and is still served.
func (s *Server) embed(ctx context.Context, ex *exchange, text string) []float32 {
	select {
	case s.embeds <- struct{}{}:
		defer func() { <-s.embeds }()
	default:
		// Every embedding slot is busy: this request does without (the
		// exact tier and the word channel still apply) rather than queue.
		s.cacheMetrics.embedSkipped.Inc()
		return nil
	}
	t0 := time.Now()
	vecs, err := s.embedder.Embed(ctx, []string{text})
	s.cacheMetrics.embedTime.UpdateDuration(t0)
	if err != nil || len(vecs) != 1 {
		s.cacheMetrics.embedErrors.Inc()
		if ctx.Err() == nil {
			s.log.Warn("cache: embedding failed; exact-only for this request", "request_id", ex.id, "error", err)
		}
		return nil
	}
	return vecs[0]
}

// serveHit writes a cached answer in the form the client asked for (the
// caller checked it is servable). Its outcome is served, also with an
// error.
func (s *Server) serveHit(w http.ResponseWriter, ex *exchange, e *semcache.Entry, result string, score float32) (out hitOutcome, err error) {
	h := w.Header()
	h.Set(headerCache, result)
	h.Set(headerCacheKey, e.ID.String())
	if result == cacheHitSemantic && score > 0 {
		h.Set(headerSimilarity, strconv.FormatFloat(float64(score), 'f', 4, 32))
	}
	h.Set("Age", strconv.FormatInt(max(0, int64(time.Since(e.Created).Seconds())), 10))
	h.Set(headerProvider, e.Provider)
	h.Set(headerModel, e.UpstreamModel)
	s.cacheMetrics.lookups[result].Inc()
	s.cache.Hit(e, result == cacheHitSemantic)
	out = hitOutcome{served: true, savedUSD: e.CostUSD, hitTokens: e.PromptTokens + e.CompletionTokens}
	out.wroteHeader, err = s.writeAnswer(w, ex, storedAnswer{kind: e.Kind, stream: e.Stream, body: e.Body})
	return out, err
}
