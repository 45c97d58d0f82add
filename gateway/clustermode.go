package gateway

import (
	"net/http"

	"github.com/semgate/semgate/gateway/cluster"
	"github.com/semgate/semgate/gateway/limits"
	"github.com/semgate/semgate/semcache"
)

// Cluster mode (package cluster): with cluster.redis_url set, the
// gateway's keys, cache fills (and admin deletes and flushes), rate
// limits and budgets are shared with
// the other replicas through Redis. openCluster joins after the keys and
// the cache are open; openQuota then takes the cluster's limiter and
// budgets (quotaBackends); storeAnswer publishes each fill; Close leaves
// before the cache closes. Without redis_url nothing here runs.

// openCluster joins the cluster when one is configured.
func (s *Server) openCluster() error {
	if !s.cfg.Cluster.Enabled() {
		return nil
	}
	c, err := cluster.New(s.cfg.Cluster, cluster.Deps{
		Store: s.store, Keys: s.acl.keys, Cache: s.cache, Embedder: s.embedder,
		Metrics: s.metrics.set, Logger: s.log, TenantFilter: s.tenantFilter,
	})
	if err != nil {
		return err
	}
	s.cluster = c
	return nil
}

// quotaBackends returns the rate limiter and the budgets of the limits
// step: the replica's own (a LocalLimiter, and local, its budgets kept in
// its store), or, in cluster mode, the cluster's, shared through Redis
// (cluster.RedisLimiter, and cluster.RedisBudgets over local, which keep
// deciding alone while Redis is unreachable and the cluster fails open).
func (s *Server) quotaBackends(local *limits.LocalBudgets) (limits.Limiter, limits.Budgets, error) {
	o := &s.cfg.Limits
	if s.cluster == nil {
		return limits.NewLocalLimiter(limits.LocalOptions{Idle: o.IdleTimeout}), local, nil
	}
	lim, err := cluster.NewLimiter(s.cluster, cluster.LimiterOptions{Idle: o.IdleTimeout})
	if err != nil {
		return nil, nil, err
	}
	b, err := cluster.NewBudgets(s.cluster, local, cluster.BudgetOptions{Lease: o.ReservationLease})
	if err != nil {
		lim.Close()
		return nil, nil, err
	}
	return lim, b, nil
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
	e := clusterUnavailable
	writeError(w, &e)
	return true
}

// limitsUnavailable is the error of a request that the cluster's shared
// rate limits or budgets could not decide on: Redis became unreachable
// and the replica fails closed (the request came in before the health
// check noticed). The same 503 as clusterRefuses.
func (s *Server) limitsUnavailable() error {
	if s.cluster != nil {
		s.cluster.CountRefused()
	}
	e := clusterUnavailable
	return &e
}

// clusterUnavailable is the 503 of a fail-closed replica without Redis.
var clusterUnavailable = apiError{Status: http.StatusServiceUnavailable, Type: typeServer, Code: "cluster_unavailable", RetryAfter: 1,
	Message: "semgate cannot reach its cluster's Redis (cluster.on_unreachable: closed); retry on another instance"}

// replicateDelete sends a cache entry deleted through the admin API to
// the other replicas, which delete it too.
func (s *Server) replicateDelete(id semcache.ID) {
	if s.cluster != nil {
		s.cluster.PublishDelete(id)
	}
}

// replicateFlush sends a flush made through the admin API (?model=,
// ?namespace=, ?tenant=) to the other replicas, which flush the same
// entries.
func (s *Server) replicateFlush(model, namespace, tenant string) {
	if s.cluster != nil {
		s.cluster.PublishFlush(cluster.Flush{Model: model, Namespace: namespace, Tenant: tenant})
	}
}

// closeCluster leaves the cluster: it publishes what is left to publish
// and stops applying the other replicas' fills. Before the cache closes.
func (s *Server) closeCluster() {
	if s.cluster != nil {
		s.cluster.Close()
	}
}
