package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/route"
	"github.com/tidwall/gjson"
)

// exchange is one client request's progress through the pipeline; the
// access log and metrics read it at the end.
//
// The pipeline's steps return their results rather than write them here;
// the exchange is written in these places only:
//   - proxy.go: servePipeline creates it (ep, id, start, who, body, native,
//     front) and sets status for an error it answers or a client gone;
//     serveExchange sets req and records the cache's outcome (recordHit).
//   - outcome.go: record takes an attempt's relayOutcome (ttft, usage,
//     costNano, outText, wroteHeader, status); recordHit a cache hit's
//     hitOutcome (cacheHit, savedUSD, lim.hitTokens, wroteHeader, status).
//   - routing.go, the attempt bookkeeping: forward sets plan and, for each
//     attempt, dep, member and attempts; attempt sets stripUsage;
//     attemptOnce sets attemptStart and timer.
//   - limits.go: the limits step keeps lim (limitRequest, limitUpstream,
//     reserveBudget, settleLimits), but for lim.hitTokens (recordHit).
//
// Every other file only reads it. A value one step needs from another
// mid-step is passed as an argument: the cache store gets the answering
// deployment and the answer's cost from the relay, through the flight.
type exchange struct {
	ep          providers.Endpoint
	id          string
	start       time.Time
	who         caller // the principal and end user (auth.go, tenancy.go)
	req         *request
	body        []byte      // the body a front read and translated (serveEndpoint); nil: read it
	native      *nativeCall // a front's request as sent, for deployments that take it natively
	front       frontAPI    // the front the request came by; 0: the endpoint itself
	dep         *providers.Deployment
	attempts    int
	status      int
	wroteHeader bool
	cacheHit    bool

	// Routing and accounting (routing.go).
	plan         *route.Plan
	member       *route.Member
	attemptStart time.Time
	timer        *time.Timer   // the attempt's deadline, stopped at the first byte
	ttft         time.Duration // attempt start to first byte relayed
	stripUsage   bool          // semgate asked the upstream for a usage chunk the client did not
	usage        usage         // the relayed answer's usage
	outText      []byte        // streamed answer text, to count when no usage came
	costNano     int64         // the relayed answer's cost
	savedUSD     float64       // a cache hit's saved cost (serveHit, followStream; recordHit)

	lim limitUse // rate limits taken and budget held (limits.go)
}

// endpoint returns the handler for one OpenAI endpoint.
func (s *Server) endpoint(ep providers.Endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveEndpoint(w, r, ep, nil) })
}

// serveEndpoint runs one request through the pipeline for ep. body, when
// not nil, is the request body already read: the Chat Completions body a
// front (front.go: /v1/responses, /v1/messages) translated its API's
// request into, run exactly as if a client had sent it.
func (s *Server) serveEndpoint(w http.ResponseWriter, r *http.Request, ep providers.Endpoint, body []byte) {
	s.servePipeline(w, r, ep, body, 0, nil)
}

// servePipeline is serveEndpoint for a front's request (front), which
// the front admitted already (admitFront): metrics count it under its
// API, and deployments speaking that API take it as the client sent it
// (nat, when not nil; native.go).
func (s *Server) servePipeline(w http.ResponseWriter, r *http.Request, ep providers.Endpoint, body []byte, front frontAPI, nat *nativeCall) {
	if front == 0 { // a front admitted its request before reading it (admitFront)
		if !s.admit() {
			ae := errOverloaded(s.maxInFlight)
			w.Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
			writeError(w, ae)
			return
		}
		defer s.leave()
	}
	ex := exchange{ep: ep, id: w.Header().Get(headerRequestID), start: time.Now(), who: s.callerOf(r), body: body, native: nat, front: front}
	err := s.serveExchange(w, r, &ex)
	switch {
	case err == nil:
	case errors.Is(err, errClientGone) || (r.Context().Err() != nil && !ex.wroteHeader && ex.req != nil):
		// Once the request is read, a cancelled context means the
		// client left; before, net/http cancels it on a body read
		// error too (a 408 or 400 from readBody), which is answered.
		ex.status = 499 // nginx's "client closed request", for logs and metrics only
	case !ex.wroteHeader:
		ae := toAPIError(err)
		if ae.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
		}
		writeError(w, ae)
		ex.status = ae.Status
	}
	s.finish(w, r, &ex, err)
}

// serveExchange runs the pipeline's steps (after authenticate): read,
// decode and validate, resolve the model the key may use, forward with
// fallback and relay.
func (s *Server) serveExchange(w http.ResponseWriter, r *http.Request, ex *exchange) error {
	body, err := ex.body, error(nil)
	if body == nil {
		if body, err = s.readBody(w, r); err != nil {
			return err
		}
	}
	req, err := decodeRequest(ex.ep, body)
	if err != nil {
		return err
	}
	ex.req = req
	model, err := s.resolveModel(r, ex)
	if err != nil {
		return err
	}
	if err := s.limitRequest(w, r, ex, model); err != nil {
		return err
	}
	defer s.settleLimits(ex)
	if s.cache != nil && ex.ep != providers.EndpointEmbeddings {
		// A hit costs nothing; forward replaces this for a miss.
		w.Header().Set(headerCost, "0")
		hit, err := s.serveCached(w, r, ex, model)
		ex.recordHit(&hit)
		if ex.cacheHit {
			s.accountHit(ex, model)
		}
		return err
	}
	return s.forward(w, r, ex, model, nil)
}

// bodyFor returns the client's body with "model" set to the upstream's
// name, touching nothing else.
func (r *request) bodyFor(upstream string) []byte { return bodyWithModel(r.body, r.model, upstream) }

// bodyWithModel returns body with "model" (now alias) set to upstream.
func bodyWithModel(body []byte, alias, upstream string) []byte {
	if upstream == alias {
		return body
	}
	v := gjson.GetBytes(body, "model")
	if v.Index <= 0 || v.Index+len(v.Raw) > len(body) {
		// Not reachable for a body decodeRequest accepted.
		panic("gateway: model field not found in a validated body")
	}
	out := make([]byte, 0, len(body)+len(upstream))
	out = append(out, body[:v.Index]...)
	out = appendJSONString(out, upstream)
	return append(out, body[v.Index+len(v.Raw):]...)
}

// relayJSON reads a whole non-streamed answer, checks it is JSON, and
// writes it to the client. Nothing is written if the answer is bad, so the
// caller may still fall back. It returns what it relayed, also with an
// error.
func (s *Server) relayJSON(w http.ResponseWriter, ex *exchange, resp *providers.Response, fl *flight) (out relayOutcome, err error) {
	body, err := readUpstream(resp.Body, s.maxUpstream)
	resp.Body.Close()
	if err != nil {
		return out, upstreamBodyError(ex.dep, err)
	}
	if !gjson.ValidBytes(body) {
		return out, &providers.Error{Provider: ex.dep.ProviderName, Type: typeUpstream,
			Message: "the upstream returned malformed JSON", Err: providers.ErrBadResponse}
	}
	if out.ttft, err = ex.firstByte(); err != nil {
		return out, err
	}
	out.fromJSON(ex, body)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set(headerProvider, ex.dep.ProviderName)
	h.Set(headerModel, ex.dep.Model)
	setUpstreamID(h, resp.Header)
	h.Set(headerCost, formatUSD(out.costNano))
	s.setRouteHeaders(h, ex)
	status := resp.Status
	if status < 200 || status > 299 {
		status = http.StatusOK
	}
	// The answer is recorded (and stored, with its cost) and its cost
	// settled on the budgets before the client receives it.
	s.settleBudget(ex, out.costNano)
	fl.begin(ex.dep)
	if ex.native.isLossy() {
		fl.unshareable()
	} else {
		fl.setBody(body, status, out.costNano)
	}
	w.WriteHeader(status)
	out.headers(status)
	if _, err := w.Write(body); err != nil {
		return out, errClientGone
	}
	return out, nil
}

func readUpstream(rc io.Reader, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, errors.New("the upstream answer exceeds " + strconv.FormatInt(limit, 10) + " bytes (server.max_upstream_bytes)")
	}
	return buf.Bytes(), nil
}

// upstreamBodyError types an error met while reading an upstream body.
func upstreamBodyError(dep *providers.Deployment, err error) error {
	var pe *providers.Error
	if errors.As(err, &pe) || errors.Is(err, context.Canceled) {
		return err
	}
	return &providers.Error{Provider: dep.ProviderName, Type: typeUpstream,
		Message: "reading the upstream answer failed: " + err.Error(), Err: providers.ErrBadResponse}
}

// finish records metrics and the access log line for a finished request.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, ex *exchange, err error) {
	status := ex.status
	if status == 0 {
		status = http.StatusOK
	}
	elapsed := time.Since(ex.start)
	s.metrics.request(clientAPIOf(ex.ep, ex.front), status, elapsed.Seconds())
	if !s.logRequests && (err == nil || status < 500) {
		return
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelWarn
	}
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs,
		slog.String("request_id", ex.id),
		slog.String("endpoint", clientAPIs[clientAPIOf(ex.ep, ex.front)]),
		slog.Int("status", status),
		slog.Duration("duration", elapsed),
	)
	if ex.req != nil {
		attrs = append(attrs, slog.String("model", ex.req.model), slog.Bool("stream", ex.req.stream))
	}
	if ex.native.active() {
		attrs = append(attrs, slog.Bool("passthrough", true))
	}
	if c := w.Header().Get(headerCache); c != "" {
		attrs = append(attrs, slog.String("cache", c))
	}
	if ex.dep != nil && !ex.cacheHit {
		attrs = append(attrs, slog.String("provider", ex.dep.ProviderName),
			slog.String("upstream_model", ex.dep.Model), slog.Int("attempts", ex.attempts),
			slog.String("cost_usd", formatUSD(ex.costNano)))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	s.log.LogAttrs(r.Context(), level, "request", attrs...)
}
