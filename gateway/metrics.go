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
	requests  sync.Map // uint32(clientAPI<<16 | status) -> *metrics.Counter
	durations [len(clientAPIs)]*metrics.PrometheusHistogram
	upstream  map[*providers.Deployment]*upstreamMetrics
}

type upstreamMetrics struct {
	ok, failed *metrics.Counter
	latency    *metrics.PrometheusHistogram
}

func newServerMetrics(router *providers.Router) *serverMetrics {
	m := &serverMetrics{set: metrics.NewSet(), upstream: map[*providers.Deployment]*upstreamMetrics{}}
	for api, name := range clientAPIs {
		if name != "" {
			m.durations[api] = m.set.NewPrometheusHistogram(`semgate_request_duration_seconds{endpoint="` + name + `"}`)
		}
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

// clientAPI is the API a client request came in by, the "endpoint" label
// of the request metrics: an OpenAI endpoint, or a front's API.
type clientAPI uint8

// The client APIs after the endpoints (whose values they share).
const (
	clientResponses clientAPI = iota + clientAPI(providers.EndpointEmbeddings) + 1 // POST /v1/responses
	clientMessages                                                                 // POST /v1/messages
)

// clientAPIs names each client API in metric labels.
var clientAPIs = [...]string{
	providers.EndpointChat:        "chat",
	providers.EndpointCompletions: "completions",
	providers.EndpointEmbeddings:  "embeddings",
	clientResponses:               "responses",
	clientMessages:                "messages",
}

// clientAPIOf returns the client API of a request served by a front
// (api), or by the endpoint ep itself (api 0).
func clientAPIOf(ep providers.Endpoint, api frontAPI) clientAPI {
	switch api {
	case apiResponses:
		return clientResponses
	case apiMessages:
		return clientMessages
	}
	return clientAPI(ep)
}

// request counts one finished client request by its client API (a
// front's requests under their own API, not the chat pipeline's).
func (m *serverMetrics) request(api clientAPI, status int, seconds float64) {
	if int(api) >= len(clientAPIs) || clientAPIs[api] == "" {
		return
	}
	key := uint32(api)<<16 | uint32(status)
	c, ok := m.requests.Load(key)
	if !ok {
		c, _ = m.requests.LoadOrStore(key, m.set.GetOrCreateCounter(
			`semgate_requests_total{endpoint="`+clientAPIs[api]+`",status="`+strconv.Itoa(status)+`"}`))
	}
	c.(*metrics.Counter).Inc()
	m.durations[api].Update(seconds)
}
