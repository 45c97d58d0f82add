package gateway

import "net/http"

// healthz answers 200 while the process is alive.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"status":"ok"}`))
}

// readyz answers 200 when the configuration is loaded and storage is open,
// and 503 when storage fails or once shutdown has begun: through the drain
// delay (server.drain_delay), while requests are still served, so a load
// balancer stops sending new ones before the listener closes.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if s.shuttingDown.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"shutting down"}`))
		return
	}
	if s.cluster != nil && !s.cluster.Serving() {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"cluster unavailable","cluster":"redis unreachable (on_unreachable: closed)"}`))
		return
	}
	if err := s.store.Ping(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write(appendJSONString([]byte(`{"status":"storage unavailable","error":`), err.Error()))
		w.Write([]byte(`}`))
		return
	}
	w.Write([]byte(`{"status":"ready","storage":"open","config":"loaded"}`))
}

// closeWhenDraining asks clients to close their connection after each
// response once shutdown has begun, so that during the drain delay a
// keep-alive connection is never closed under a request the client is
// already sending on it (what turning keep-alives off does to idle ones).
func (s *Server) closeWhenDraining(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.shuttingDown.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}
