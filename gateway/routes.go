package gateway

import (
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/gorilla/mux"
	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/codec"
	"github.com/semgate/semgate/providers/sse"
)

// routes wires the HTTP API.
func (s *Server) routes() http.Handler {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(notFound)
	r.MethodNotAllowedHandler = http.HandlerFunc(methodNotAllowed)

	// The API: each request goes through the auth step first (auth.go).
	r.Handle("/v1/chat/completions", s.authenticate(s.endpoint(providers.EndpointChat))).Methods(http.MethodPost)
	r.Handle("/v1/completions", s.authenticate(s.endpoint(providers.EndpointCompletions))).Methods(http.MethodPost)
	r.Handle("/v1/embeddings", s.authenticate(s.endpoint(providers.EndpointEmbeddings))).Methods(http.MethodPost)
	// The Responses and Messages APIs, translated to chat (front.go).
	r.Handle("/v1/responses", s.serveFront(apiResponses, s.withBody(s.createResponse))).Methods(http.MethodPost)
	r.Handle("/v1/responses/{id}", s.serveFront(apiResponses, s.getResponse)).Methods(http.MethodGet)
	r.Handle("/v1/responses/{id}", s.serveFront(apiResponses, s.deleteResponse)).Methods(http.MethodDelete)
	r.Handle("/v1/messages", s.serveFront(apiMessages, s.withBody(s.createMessage))).Methods(http.MethodPost)
	r.Handle("/v1/messages/count_tokens", s.serveFront(apiMessages, s.withBody(s.countTokens))).Methods(http.MethodPost)
	r.Handle("/v1/models", s.authenticate(http.HandlerFunc(s.listModels))).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/v1/models/{model:.+}", s.authenticate(http.HandlerFunc(s.getModel))).Methods(http.MethodGet, http.MethodHead)

	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/metrics", s.serveMetrics).Methods(http.MethodGet)
	s.adminRoutes(r)
	return s.middleware(r)
}

// middleware wraps the API in what every request goes through, outermost
// first: its request id, discarding an unread body (linger), the count of
// running handlers (track), and panic recovery.
func (s *Server) middleware(h http.Handler) http.Handler {
	return withRequestID(s.closeWhenDraining(linger(s.track(s.recoverer(h)))))
}

// withRequestID gives every response an x-request-id, echoing the client's.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(headerRequestID, requestID(r))
		next.ServeHTTP(w, r)
	})
}

// recoverer logs a panic in a handler with its stack and request id, and
// answers it without ever sending a second status: before the response
// started, a 500 error; after, an SSE stream stopped between events ends
// with an error event (and no [DONE]), and any other response is aborted
// (http.ErrAbortHandler), so the client sees a failure rather than a short
// answer. It re-panics http.ErrAbortHandler, which net/http uses to abort
// a response on purpose.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &startedWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic serving request", "panic", v, "method", r.Method, "path", r.URL.Path,
				"request_id", w.Header().Get(headerRequestID), "response_started", tw.started,
				"stack", string(debug.Stack()))
			ae := &apiError{Status: http.StatusInternalServerError, Type: typeServer, Message: "internal error"}
			h := w.Header()
			if !tw.started {
				id := h.Get(headerRequestID)
				clear(h) // nothing the handler meant for its own answer
				h.Set(headerRequestID, id)
				writeError(w, ae)
				return
			}
			if isEventStream(h.Get("Content-Type")) && tw.betweenEvents() {
				if _, err := w.Write(sse.AppendEvent(nil, nil, appendErrorJSON(nil, ae))); err == nil {
					http.NewResponseController(w).Flush()
				}
				return
			}
			panic(http.ErrAbortHandler)
		}()
		next.ServeHTTP(tw, r)
	})
}

func isEventStream(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "text/event-stream")
}

// startedWriter records whether the response has started (status sent or
// body written) and the body's last two bytes, passing everything through,
// Flush included.
type startedWriter struct {
	http.ResponseWriter
	started bool
	wrote   int64
	last    [2]byte
}

// betweenEvents reports whether the body so far is whole SSE events: empty
// or ending with a blank line.
func (w *startedWriter) betweenEvents() bool {
	return w.wrote == 0 || (w.wrote >= 2 && w.last == [2]byte{'\n', '\n'})
}

func (w *startedWriter) WriteHeader(code int) {
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.started = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *startedWriter) Write(b []byte) (int, error) {
	w.started = true
	n, err := w.ResponseWriter.Write(b)
	switch {
	case n >= 2:
		w.last = [2]byte{b[n-2], b[n-1]}
	case n == 1:
		w.last = [2]byte{w.last[1], b[0]}
	}
	w.wrote += int64(n)
	return n, err
}

// Flush sends the status and what is buffered (http.Flusher).
func (w *startedWriter) Flush() {
	w.started = true
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (w *startedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func notFound(w http.ResponseWriter, r *http.Request) {
	writeRouteError(w, r, &apiError{Status: http.StatusNotFound, Type: typeInvalidRequest, Code: "unknown_url",
		Message: "Unknown request URL: " + r.Method + " " + r.URL.Path + ". semgate serves /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/responses, /v1/messages and /v1/models."})
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeRouteError(w, r, &apiError{Status: http.StatusMethodNotAllowed, Type: typeInvalidRequest, Code: "method_not_allowed",
		Message: "Method " + r.Method + " is not allowed on " + r.URL.Path + "."})
}

// writeRouteError answers a request no route takes: under /v1/messages in
// Anthropic's error shape (what its SDKs parse), elsewhere in OpenAI's.
func writeRouteError(w http.ResponseWriter, r *http.Request, ae *apiError) {
	if r.URL.Path == "/v1/messages" || strings.HasPrefix(r.URL.Path, "/v1/messages/") {
		typ := "invalid_request_error"
		if ae.Status == http.StatusNotFound {
			typ = "not_found_error"
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ae.Status)
		w.Write(codec.AnthropicErrorBody(ae.Status, typ, ae.Message))
		return
	}
	writeError(w, ae)
}

func (s *Server) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	s.metrics.set.WritePrometheus(w)
}
