package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/semgate/semgate/embed"
	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/verify"
)

// POST /admin/cache/explain answers "why did this hit?" and "why did this
// miss?" for two prompts: their similarity per retrieval channel, whether
// each channel would propose the cached one, and the verifier's alignment
// with the rule that decided.

// explainRequest is the body: a is the cached prompt, b the incoming one.
type explainRequest struct {
	A *string `json:"a"`
	B *string `json:"b"`
	// Model, optional, picks the per-model threshold.
	Model string `json:"model,omitempty"`
}

// explainResponse is the answer.
type explainResponse struct {
	// Decision is what the semantic tier would do with b when a is cached
	// in the same partition: "hit-exact", "hit-semantic" or "miss".
	Decision string `json:"decision"`
	// Reason names the step that decided: "exact", "verified", "verifier",
	// "threshold" or "not-retrieved".
	Reason string `json:"reason"`
	// Threshold is the similarity floor applied.
	Threshold float64 `json:"threshold"`
	// Similarity per embedder: the configured one (by its ID) and the
	// character n-gram channel "lexical".
	Similarity map[string]float64 `json:"similarity"`
	// Channels says which retrieval channels would propose a.
	Channels explainChannels `json:"channels"`
	// Verdict is the verifier's decision with every difference found.
	Verdict     verify.Verdict `json:"verdict"`
	Explanation string         `json:"explanation"`
}

type explainChannels struct {
	Neural bool `json:"neural"` // similarity at or above the threshold
	Words  bool `json:"words"`  // same words, or one word substituted, inserted or deleted
}

// maxExplainBody bounds the request (two prompts).
const maxExplainBody = 1 << 20

func (s *Server) adminCacheExplain(w http.ResponseWriter, r *http.Request) {
	if s.cacheOff(w) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxExplainBody))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			writeError(w, &apiError{Status: http.StatusRequestEntityTooLarge, Type: typeInvalidRequest, Code: "request_too_large",
				Message: "the body is over 1 MiB"})
			return
		}
		writeError(w, badRequest("", "could not read the body"))
		return
	}
	var req explainRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, badRequest("", "the body must be a JSON object {\"a\": string, \"b\": string}: "+err.Error()))
		return
	}
	switch {
	case req.A == nil || *req.A == "":
		writeError(w, badRequest("a", "a (the cached prompt) must be a non-empty string"))
		return
	case req.B == nil || *req.B == "":
		writeError(w, badRequest("b", "b (the incoming prompt) must be a non-empty string"))
		return
	}
	writeJSON(w, http.StatusOK, s.explain(r, *req.A, *req.B, req.Model))
}

// explain runs the lookup's steps for one pair.
func (s *Server) explain(r *http.Request, a, b, model string) explainResponse {
	opts := s.cache.Options()
	out := explainResponse{Threshold: opts.ThresholdFor(model), Similarity: map[string]float64{}}
	var sim float32
	if s.embedder != nil {
		if vecs, err := s.embedder.Embed(r.Context(), []string{semcache.Normalize(a), semcache.Normalize(b)}); err == nil && len(vecs) == 2 {
			sim = semcache.Dot(vecs[0], vecs[1])
			out.Similarity[s.embedder.ID()] = round4(sim)
			out.Channels.Neural = float64(sim) >= out.Threshold
		}
	}
	if s.lexical != nil {
		if vecs, err := s.lexical.Embed(r.Context(), []string{semcache.Normalize(a), semcache.Normalize(b)}); err == nil && len(vecs) == 2 {
			out.Similarity[embed.ModelLexical] = round4(semcache.Dot(vecs[0], vecs[1]))
		}
	}
	out.Channels.Words = s.cache.WordChannelFinds(a, b)
	out.Verdict = s.verifier.Verify(a, b, sim)
	out.Explanation = out.Verdict.String()
	_, known := out.Similarity[s.embedderID()]
	switch {
	case verify.Lossless(a) == verify.Lossless(b):
		out.Decision, out.Reason = cacheHitExact, "exact"
	case !out.Channels.Neural && !out.Channels.Words:
		out.Decision, out.Reason = cacheMiss, "not-retrieved"
	case known && float64(sim) < out.Threshold:
		out.Decision, out.Reason = cacheMiss, "threshold"
	case !out.Verdict.OK:
		out.Decision, out.Reason = cacheMiss, "verifier"
	default:
		out.Decision, out.Reason = cacheHitSemantic, "verified"
	}
	return out
}

func (s *Server) embedderID() string {
	if s.embedder == nil {
		return ""
	}
	return s.embedder.ID()
}

func round4(f float32) float64 { return float64(int64(float64(f)*10000+0.5)) / 10000 }
