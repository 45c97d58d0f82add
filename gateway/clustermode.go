package gateway

import (
	"net/http"

	"github.com/semgate/semgate/gateway/cluster"
)

// Cluster mode (package cluster): with cluster.redis_url set, the
// gateway's keys and cache fills are shared with the other replicas
// through Redis. openCluster joins after the keys and the cache are
// open; storeAnswer publishes each fill; Close leaves before the cache
// closes. Without redis_url nothing here runs.

// openCluster joins the cluster when one is configured.
func (s *Server) openCluster() error {
	if !s.cfg.Cluster.Enabled() {
		return nil
	}
	c, err := cluster.New(s.cfg.Cluster, cluster.Deps{
		Store: s.store, Keys: s.acl.keys, Cache: s.cache, Embedder: s.embedder,
		Metrics: s.metrics.set, Logger: s.log,
	})
	if err != nil {
		return err
	}
	s.cluster = c
	return nil
}

// clusterRefuses answers 503 when the replica must not serve: it fails
// closed (cluster.on_unreachable: closed) and Redis is unreachable, so a
// key revoked on another replica might still be accepted here.
func (s *Server) clusterRefuses(w http.ResponseWriter) bool {
	if s.cluster == nil || s.cluster.Serving() {
		return false
	}
	s.cluster.CountRefused()
	w.Header().Set("Retry-After", "1")
	writeError(w, &apiError{Status: http.StatusServiceUnavailable, Type: typeServer, Code: "cluster_unavailable",
		Message: "semgate cannot reach its cluster's Redis (cluster.on_unreachable: closed); retry on another instance"})
	return true
}

// closeCluster leaves the cluster: it publishes what is left to publish
// and stops applying the other replicas' fills. Before the cache closes.
func (s *Server) closeCluster() {
	if s.cluster != nil {
		s.cluster.Close()
	}
}
