package gateway

import (
	"net/http"

	"github.com/gorilla/mux"
	"github.com/semgate/semgate/providers"
)

// routes wires the HTTP API.
func (s *Server) routes() http.Handler {
	r := mux.NewRouter()
	r.NotFoundHandler = http.HandlerFunc(notFound)
	r.MethodNotAllowedHandler = http.HandlerFunc(methodNotAllowed)

	r.Handle("/v1/chat/completions", s.endpoint(providers.EndpointChat)).Methods(http.MethodPost)
	r.Handle("/v1/completions", s.endpoint(providers.EndpointCompletions)).Methods(http.MethodPost)
	r.Handle("/v1/embeddings", s.endpoint(providers.EndpointEmbeddings)).Methods(http.MethodPost)
	r.HandleFunc("/v1/models", s.listModels).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/v1/models/{model:.+}", s.getModel).Methods(http.MethodGet, http.MethodHead)

	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/metrics", s.serveMetrics).Methods(http.MethodGet)
	s.adminRoutes(r)
	return s.recoverer(withRequestID(r))
}

// withRequestID gives every response an x-request-id, echoing the client's.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(headerRequestID, requestID(r))
		next.ServeHTTP(w, r)
	})
}

// recoverer turns a panic in a handler into a logged 500 instead of a
// dropped connection. It re-panics http.ErrAbortHandler, which net/http
// uses to abort a response on purpose.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "panic", v, "path", r.URL.Path,
					"request_id", w.Header().Get(headerRequestID))
				writeError(w, &apiError{Status: http.StatusInternalServerError, Type: typeServer, Message: "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, &apiError{Status: http.StatusNotFound, Type: typeInvalidRequest, Code: "unknown_url",
		Message: "Unknown request URL: " + r.Method + " " + r.URL.Path + ". semgate serves /v1/chat/completions, /v1/completions, /v1/embeddings and /v1/models."})
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Type: typeInvalidRequest, Code: "method_not_allowed",
		Message: "Method " + r.Method + " is not allowed on " + r.URL.Path + "."})
}

func (s *Server) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	s.metrics.set.WritePrometheus(w)
}
