package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/sse"
	"github.com/semgate/semgate/semcache"
	"github.com/tidwall/gjson"
)

// tenantDefault is the tenant of every request until API keys exist.
const tenantDefault = "default"

// cacheMetrics counts cache outcomes; series are created once.
type cacheMetrics struct {
	lookups     map[string]*metrics.Counter // by x-semgate-cache value
	embedErrors *metrics.Counter
	embedTime   *metrics.PrometheusHistogram
	stored      *metrics.Counter
}

func newCacheMetrics(set *metrics.Set) *cacheMetrics {
	m := &cacheMetrics{lookups: map[string]*metrics.Counter{}}
	for _, v := range []string{cacheHitExact, cacheHitSemantic, cacheMiss, cacheBypass, cacheRefresh} {
		m.lookups[v] = set.NewCounter(`semgate_cache_requests_total{result="` + v + `"}`)
	}
	m.embedErrors = set.NewCounter(`semgate_cache_embed_errors_total`)
	m.embedTime = set.NewPrometheusHistogram(`semgate_cache_embed_seconds`)
	m.stored = set.NewCounter(`semgate_cache_stores_total`)
	return m
}

// capture collects the answer relayed to the client so it can be stored.
type capture struct {
	body      []byte
	asm       *semcache.Assembler
	complete  bool
	streamErr error
}

func (c *capture) addChunk(data []byte) {
	if c.streamErr == nil {
		c.streamErr = c.asm.Add(data)
	}
}

func (c *capture) finishStream() {
	if c.streamErr != nil {
		return
	}
	c.body, c.streamErr = c.asm.Result()
	c.complete = c.streamErr == nil
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
// concurrent ones) and store a complete successful answer.
func (s *Server) serveCached(w http.ResponseWriter, r *http.Request, ex *exchange, model *providers.Model) error {
	opts := s.cache.Options()
	threshold := opts.ThresholdFor(model.Name)
	pol, err := parseCachePolicy(r.Header, threshold)
	if err != nil {
		return err
	}
	if pol.threshold > 0 {
		threshold = pol.threshold
	}
	h := w.Header()
	if pol.bypass {
		return s.bypassCache(w, r, ex, model)
	}
	key, err := semcache.MakeKey(semcache.KeyInput{
		Tenant: tenantDefault, Model: model.Name, Namespace: pol.namespace,
		Endpoint: ex.ep.String(), Body: ex.req.body,
	}, semcache.KeyOptions{MaxTurns: opts.MaxTurnsOrDefault()})
	if err != nil || (opts.DeterministicOnly && !key.Deterministic) {
		return s.bypassCache(w, r, ex, model)
	}
	lk := &cacheLookup{key: key, policy: pol}
	lk.id, _ = semcache.ParseID(key.Exact)
	lk.part, _ = semcache.ParseID(key.Partition)
	h.Set(headerCacheKey, key.Exact)

	if !pol.noCache {
		if served, err := s.lookup(w, r, ex, lk, float32(threshold)); served || err != nil {
			return err
		}
		leader, done, release := s.flights.join(lk.id)
		if !leader {
			if err := wait(r.Context(), done); err != nil {
				return errClientGone
			}
			if served, err := s.serveExact(w, ex, lk); served || err != nil {
				return err
			}
		} else {
			defer release()
		}
	}
	result := cacheMiss
	if pol.noCache {
		result = cacheRefresh
	}
	h.Set(headerCache, result)
	s.cacheMetrics.lookups[result].Inc()
	s.cache.Miss()

	cap := &capture{}
	if ex.req.stream {
		cap.asm = semcache.NewAssembler(ex.ep.String())
	}
	if err := s.forward(w, r, ex, model, cap); err != nil {
		return err
	}
	if cap.complete && !pol.noStore {
		s.storeAnswer(r.Context(), ex, lk, cap.body)
	}
	return nil
}

func (s *Server) bypassCache(w http.ResponseWriter, r *http.Request, ex *exchange, model *providers.Model) error {
	w.Header().Set(headerCache, cacheBypass)
	s.cacheMetrics.lookups[cacheBypass].Inc()
	return s.forward(w, r, ex, model, nil)
}

// lookup tries the exact tier, then the semantic tier. It reports whether
// it served the request.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, ex *exchange, lk *cacheLookup, threshold float32) (bool, error) {
	if served, err := s.serveExact(w, ex, lk); served || err != nil {
		return served, err
	}
	if !lk.key.Semantic || s.verifier == nil || threshold >= 1 {
		return false, nil
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
		return false, nil
	}
	if rejected != nil && cand == nil {
		s.log.Debug("cache: verifier refused the nearest candidate", "request_id", ex.id,
			"rule", string(rejected.Verdict.Rule), "diffs", rejected.Verdict.String(), "similarity", rejected.Score)
	}
	if cand == nil {
		return false, nil
	}
	w.Header().Set(headerVerify, cand.Verdict.Header())
	return true, s.serveHit(w, ex, cand.Entry, cacheHitSemantic, cand.Score)
}

func (s *Server) serveExact(w http.ResponseWriter, ex *exchange, lk *cacheLookup) (bool, error) {
	e, err := s.cache.GetExact(lk.id, lk.policy.maxAge)
	if errors.Is(err, semcache.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		s.log.Warn("cache: exact lookup failed; serving as a miss", "request_id", ex.id, "error", err)
		return false, nil
	}
	return true, s.serveHit(w, ex, e, cacheHitExact, 1)
}

// embed returns the text's vector, or nil when the embedder fails: the
// request then falls back to exact-only caching and is still served.
func (s *Server) embed(ctx context.Context, ex *exchange, text string) []float32 {
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

// serveHit writes a cached answer in the form the client asked for.
func (s *Server) serveHit(w http.ResponseWriter, ex *exchange, e *semcache.Entry, result string, score float32) error {
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
	ex.cacheHit = true
	ex.savedUSD = e.CostUSD
	if !ex.req.stream {
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(e.Body)))
		w.WriteHeader(http.StatusOK)
		ex.wroteHeader, ex.status = true, http.StatusOK
		if _, err := w.Write(e.Body); err != nil {
			return errClientGone
		}
		return nil
	}
	events, err := semcache.Replay(e.Kind, e.Body, ex.req.includeUsage)
	if err != nil {
		return err
	}
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	ex.wroteHeader, ex.status = true, http.StatusOK
	flusher, _ := w.(http.Flusher)
	buf := make([]byte, 0, 512)
	for _, data := range events {
		buf = sse.AppendEvent(buf[:0], nil, data)
		if _, err := w.Write(buf); err != nil {
			return errClientGone
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
	return nil
}

// storeAnswer saves a complete, successful answer unless it is one the cache
// must not keep: an error body, or one cut short (finish_reason "length"
// unless cache_truncated, "content_filter").
func (s *Server) storeAnswer(ctx context.Context, ex *exchange, lk *cacheLookup, body []byte) {
	if ex.status < 200 || ex.status > 299 || ex.dep == nil || !storable(body, s.cache.Options().CacheTruncated) {
		return
	}
	if lk.vec == nil && lk.key.Semantic && s.embedder != nil {
		lk.vec = s.embed(ctx, ex, lk.key.Normalized)
	}
	usage := gjson.GetBytes(body, "usage")
	pt := int(usage.Get("prompt_tokens").Int())
	ct := int(usage.Get("completion_tokens").Int())
	e := &semcache.Entry{
		ID: lk.id, Partition: lk.part, Kind: ex.ep.String(), Model: ex.req.model, Namespace: lk.policy.namespace,
		Provider: ex.dep.ProviderName, UpstreamModel: ex.dep.Model, Prompt: lk.key.Prompt,
		Body: body, Stream: ex.req.stream, PromptTokens: pt, CompletionTokens: ct,
		CostUSD:  float64(ex.costNano) / 1e9, // what the routing step charged, cached-token aware
		Semantic: lk.key.Semantic,
	}
	if lk.policy.ttl > 0 {
		e.Expires = time.Now().Add(lk.policy.ttl)
	}
	if err := s.cache.Put(e, lk.vec); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "cache: storing an answer failed", slog.String("request_id", ex.id), slog.String("error", err.Error()))
		return
	}
	s.cacheMetrics.stored.Inc()
}

// storable reports whether a 2xx answer body is complete enough to reuse.
func storable(body []byte, truncatedOK bool) bool {
	if !gjson.ValidBytes(body) || gjson.GetBytes(body, "error").Exists() {
		return false
	}
	choices := gjson.GetBytes(body, "choices")
	if !choices.IsArray() || len(choices.Array()) == 0 {
		return false
	}
	ok := true
	choices.ForEach(func(_, c gjson.Result) bool {
		switch c.Get("finish_reason").Str {
		case "stop", "tool_calls", "function_call", "end_turn":
		case "length":
			ok = truncatedOK
		default:
			ok = false
		}
		return ok
	})
	return ok
}
