package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gorilla/mux"
	"github.com/semgate/semgate/gateway/auth"
	"github.com/semgate/semgate/semcache"
)

// adminRoutes wires /admin, behind adminGuard (auth.go): the admin token
// when one is configured, else loopback clients only.
func (s *Server) adminRoutes(r *mux.Router) {
	a := r.PathPrefix("/admin").Subrouter()
	a.Use(s.adminGuard)
	s.adminKeyRoutes(a)
	a.HandleFunc("/cache/stats", s.adminCacheStats).Methods(http.MethodGet)
	a.HandleFunc("/cache/entries", s.adminCacheEntries).Methods(http.MethodGet)
	a.HandleFunc("/cache/entries/{key}", s.adminCacheDelete).Methods(http.MethodDelete)
	a.HandleFunc("/cache", s.adminCacheFlush).Methods(http.MethodDelete)
	a.HandleFunc("/cache/explain", s.adminCacheExplain).Methods(http.MethodPost)
	s.routingAdminRoutes(a)
	a.NotFoundHandler = http.HandlerFunc(notFound)
	a.MethodNotAllowedHandler = http.HandlerFunc(methodNotAllowed)
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
	f := semcache.Filter{Model: q.Get("model")}
	if v := q.Get("partition"); v != "" {
		id, err := semcache.ParseID(v)
		if err != nil {
			writeError(w, badRequest("partition", "partition must be a 32-character hex key"))
			return
		}
		f.Partition = &id
	}
	if !s.tenantQuery(w, q, &f) {
		return
	}
	entries := s.cache.ListWhere(f, limit)
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
	s.replicateDelete(id)
	writeJSON(w, http.StatusOK, map[string]any{"deleted": 1, "key": id.String()})
}

func (s *Server) adminCacheFlush(w http.ResponseWriter, r *http.Request) {
	if s.cacheOff(w) {
		return
	}
	q := r.URL.Query()
	f := semcache.Filter{Model: q.Get("model"), Namespace: q.Get("namespace")}
	if !s.tenantQuery(w, q, &f) {
		return
	}
	n, err := s.cache.FlushWhere(f)
	if err != nil {
		writeError(w, toAPIError(err))
		return
	}
	s.replicateFlush(f.Model, f.Namespace, q.Get("tenant"))
	writeJSON(w, http.StatusOK, map[string]any{"deleted": n})
}

// tenantQuery adds ?tenant= to f: the tenant's entries, those of its share
// group, whatever their end user (tenancy.go). It answers 400 and reports
// false for a name that is not a tenant's.
func (s *Server) tenantQuery(w http.ResponseWriter, q url.Values, f *semcache.Filter) bool {
	t := q.Get("tenant")
	if t == "" {
		return true
	}
	if !auth.ValidTenant(t) {
		writeError(w, badRequest("tenant", "tenant must be 1 to 64 letters, digits, '.', '_' or '-'"))
		return false
	}
	f.Tenant = s.tenantFilter(t)
	return true
}
