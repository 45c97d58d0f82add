package gateway

import (
	"context"
	"log/slog"
	"time"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/answer"
	"github.com/tidwall/gjson"
)

// storeAnswer saves a complete, successful answer exactly as the upstream
// sent it, unless it is one the cache must not keep: an error body, or one
// cut short (finish_reason "length" unless cache_truncated,
// "content_filter"). It runs when the answer is whole, before its last
// bytes reach the client, so an answer a client received is in the store
// (see semcache's durability promise). dep and costNano are the relay's:
// the deployment that answered and the answer's cost (what the routing
// step charges, cached-token aware), passed rather than read from the
// exchange mid-relay: of the exchange the store reads only the request's
// own fields (endpoint, model, id, caller).
func (s *Server) storeAnswer(ctx context.Context, ex *exchange, lk *cacheLookup, fl *flight, ttl time.Duration, dep *providers.Deployment, costNano int64) {
	if dep == nil {
		return
	}
	a, ok := fl.forStore()
	if !ok || !storable(a.finishes, s.cache.Options().CacheTruncated) {
		return
	}
	if lk.vec == nil && lk.key.Semantic && s.embedder != nil {
		lk.vec = s.embed(ctx, ex, lk.key.Normalized)
	}
	e := &semcache.Entry{
		ID: lk.id, Partition: lk.part, Kind: ex.ep.String(), Model: ex.req.model, Namespace: lk.policy.namespace,
		Tenant:   s.cacheTenant(ex),
		Provider: dep.ProviderName, UpstreamModel: dep.Model, Prompt: lk.key.Prompt,
		Body: a.body, Stream: a.stream, Convertible: a.convertible,
		PromptTokens: int(a.usage.Get("prompt_tokens").Int()), CompletionTokens: int(a.usage.Get("completion_tokens").Int()),
		CostUSD:  float64(costNano) / 1e9, // what the routing step charges, cached-token aware
		Semantic: lk.key.Semantic,
		Expires:  time.Now().Add(ttl),
	}
	if err := s.cache.Put(e, lk.vec); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "cache: storing an answer failed", slog.String("request_id", ex.id), slog.String("error", err.Error()))
		return
	}
	s.cacheMetrics.stored.Inc()
	if s.cluster != nil {
		s.cluster.PublishFill(e, lk.vec)
	}
}

// answerToStore is a flight's answer in its stored form.
type answerToStore struct {
	body        []byte // the JSON body, or the encoded stream events
	stream      bool
	convertible bool
	finishes    []string
	usage       gjson.Result
}

// forStore returns the flight's answer for storing; ok is false when it is
// not a complete answer (or a JSON error body).
func (f *flight) forStore() (a answerToStore, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.complete {
		return a, false
	}
	a.stream = f.stream
	if !f.stream {
		if !gjson.ValidBytes(f.body) || f.status < 200 || f.status > 299 {
			return a, false
		}
		doc := gjson.ParseBytes(f.body)
		if !doc.IsObject() || doc.Get("error").Exists() {
			return a, false
		}
		doc.Get("choices").ForEach(func(_, c gjson.Result) bool {
			a.finishes = append(a.finishes, c.Get("finish_reason").Str)
			return true
		})
		a.body, a.usage = f.body, doc.Get("usage")
		a.convertible = answer.CheckSplit(f.kind, f.body) == nil
		return a, true
	}
	a.finishes = f.asm.FinishReasons()
	a.body = answer.EncodeEvents(f.events)
	if js, err := f.asm.Result(); err == nil {
		a.convertible = true
		a.usage = gjson.GetBytes(js, "usage")
	} else {
		for i := len(f.events) - 1; i >= 0; i-- {
			if u := gjson.GetBytes(f.events[i].Data, "usage"); u.IsObject() {
				a.usage = u
				break
			}
		}
	}
	return a, true
}

// storable reports whether an answer whose choices ended with these
// finish reasons is complete enough to reuse.
func storable(finishes []string, truncatedOK bool) bool {
	if len(finishes) == 0 {
		return false
	}
	for _, fr := range finishes {
		switch fr {
		case "stop", "tool_calls", "function_call", "end_turn":
		case "length":
			if !truncatedOK {
				return false
			}
		default:
			return false
		}
	}
	return true
}
