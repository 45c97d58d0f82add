package gateway

import "net/http"

// healthz answers 200 while the process is alive.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"status":"ok"}`))
}

// readyz answers 200 when the configuration is loaded and storage is open,
// and 503 while shutting down or when storage fails.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if s.shuttingDown.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"shutting down"}`))
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
