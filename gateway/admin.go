package gateway

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"
	"github.com/semgate/semgate/semcache"
)

// adminRoutes wires /admin. Until API keys exist, the admin API answers
// only clients on the loopback interface.
func (s *Server) adminRoutes(r *mux.Router) {
	a := r.PathPrefix("/admin").Subrouter()
	a.Use(loopbackOnly)
	a.HandleFunc("/cache/stats", s.adminCacheStats).Methods(http.MethodGet)
	a.HandleFunc("/cache/entries", s.adminCacheEntries).Methods(http.MethodGet)
	a.HandleFunc("/cache/entries/{key}", s.adminCacheDelete).Methods(http.MethodDelete)
	a.HandleFunc("/cache", s.adminCacheFlush).Methods(http.MethodDelete)
	a.HandleFunc("/cache/explain", s.adminCacheExplain).Methods(http.MethodPost)
	s.routingAdminRoutes(a)
	a.NotFoundHandler = http.HandlerFunc(notFound)
	a.MethodNotAllowedHandler = http.HandlerFunc(methodNotAllowed)
}

func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			writeError(w, &apiError{Status: http.StatusForbidden, Type: "permission_error", Code: "admin_loopback_only",
				Message: "the admin API answers only loopback clients"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (s *Server) cacheOff(w http.ResponseWriter) bool {
	if s.cache == nil {
		writeError(w, &apiError{Status: http.StatusNotFound, Type: typeInvalidRequest, Code: "cache_disabled",
			Message: "the cache is disabled in the configuration"})
		return true
	}
	return false
}

func (s *Server) adminCacheStats(w http.ResponseWriter, _ *http.Request) {
	if s.cacheOff(w) {
		return
	}
	writeJSON(w, http.StatusOK, s.cache.Stats())
}

func (s *Server) adminCacheEntries(w http.ResponseWriter, r *http.Request) {
	if s.cacheOff(w) {
		return
	}
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, badRequest("limit", "limit must be an integer between 1 and 10000"))
			return
		}
		limit = n
	}
	var part *semcache.ID
	if v := q.Get("partition"); v != "" {
		id, err := semcache.ParseID(v)
		if err != nil {
			writeError(w, badRequest("partition", "partition must be a 32-character hex key"))
			return
		}
		part = &id
	}
	entries := s.cache.List(part, q.Get("model"), limit)
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": entries})
}

func (s *Server) adminCacheDelete(w http.ResponseWriter, r *http.Request) {
	if s.cacheOff(w) {
		return
	}
	id, err := semcache.ParseID(mux.Vars(r)["key"])
	if err != nil {
		writeError(w, badRequest("key", "the key must be 32 hex characters"))
		return
	}
	if err := s.cache.Delete(id); errors.Is(err, semcache.ErrNotFound) {
		writeError(w, &apiError{Status: http.StatusNotFound, Type: typeInvalidRequest, Code: "entry_not_found", Message: "no cache entry with key " + id.String()})
		return
	} else if err != nil {
		writeError(w, toAPIError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": 1, "key": id.String()})
}

func (s *Server) adminCacheFlush(w http.ResponseWriter, r *http.Request) {
	if s.cacheOff(w) {
		return
	}
	q := r.URL.Query()
	n, err := s.cache.Flush(q.Get("model"), q.Get("namespace"))
	if err != nil {
		writeError(w, toAPIError(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deleted": n})
}
