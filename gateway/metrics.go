package gateway

import (
	"strconv"
	"sync"

	"github.com/VictoriaMetrics/metrics"
	"github.com/semgate/semgate/providers"
)

// serverMetrics holds the gateway's Prometheus metrics. Every series is
// created once, at start-up or on its first use, never per request.
type serverMetrics struct {
	set       *metrics.Set
	requests  sync.Map // uint32(endpoint<<16 | status) -> *metrics.Counter
	durations [4]*metrics.PrometheusHistogram
	upstream  map[*providers.Deployment]*upstreamMetrics
}

type upstreamMetrics struct {
	ok, failed *metrics.Counter
	latency    *metrics.PrometheusHistogram
}

func newServerMetrics(router *providers.Router) *serverMetrics {
	m := &serverMetrics{set: metrics.NewSet(), upstream: map[*providers.Deployment]*upstreamMetrics{}}
	for _, ep := range []providers.Endpoint{providers.EndpointChat, providers.EndpointCompletions, providers.EndpointEmbeddings} {
		m.durations[ep] = m.set.NewPrometheusHistogram(`semgate_request_duration_seconds{endpoint="` + ep.String() + `"}`)
	}
	for _, name := range router.Names() {
		model, _ := router.Lookup(name)
		for _, d := range model.Deployments {
			labels := `{provider=` + strconv.Quote(d.ProviderName) + `,model=` + strconv.Quote(d.Model) + `,alias=` + strconv.Quote(name)
			m.upstream[d] = &upstreamMetrics{
				ok:      m.set.GetOrCreateCounter(`semgate_upstream_requests_total` + labels + `,outcome="ok"}`),
				failed:  m.set.GetOrCreateCounter(`semgate_upstream_requests_total` + labels + `,outcome="error"}`),
				latency: m.set.GetOrCreatePrometheusHistogram(`semgate_upstream_response_seconds` + labels + `}`),
			}
		}
	}
	return m
}

// request counts one finished client request.
func (m *serverMetrics) request(ep providers.Endpoint, status int, seconds float64) {
	key := uint32(ep)<<16 | uint32(status)
	c, ok := m.requests.Load(key)
	if !ok {
		c, _ = m.requests.LoadOrStore(key, m.set.GetOrCreateCounter(
			`semgate_requests_total{endpoint="`+ep.String()+`",status="`+strconv.Itoa(status)+`"}`))
	}
	c.(*metrics.Counter).Inc()
	if h := m.durations[ep]; h != nil {
		h.Update(seconds)
	}
}
