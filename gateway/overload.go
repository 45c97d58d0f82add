package gateway

import (
	"net/http"
	"strconv"

	"github.com/VictoriaMetrics/metrics"
)

// errOverloaded: server.max_in_flight requests are already being handled.
func errOverloaded(limit int64) *apiError {
	return &apiError{Status: http.StatusServiceUnavailable, Type: typeServer, Code: "overloaded", RetryAfter: 1,
		Message: "semgate is handling its limit of " + strconv.FormatInt(limit, 10) + " requests at once; retry shortly"}
}

// admit counts an API request in, or reports that server.max_in_flight
// requests are already being handled. A request admitted must call
// s.leave.
func (s *Server) admit() bool {
	if s.inFlight.Add(1) > s.maxInFlight {
		s.inFlight.Add(-1)
		s.overloadRejected.Inc()
		return false
	}
	return true
}

func (s *Server) leave() { s.inFlight.Add(-1) }

// admitFront counts a front's request in before its body is read, as
// serveEndpoint does for the OpenAI endpoints, answering the overload in
// the front's API's shape; the pipeline it then runs does not count it
// again. A request admitted must call s.leave.
func (s *Server) admitFront(f *frontWriter) bool {
	if s.admit() {
		return true
	}
	f.writeAPIError(errOverloaded(s.maxInFlight))
	return false
}

// newOverloadMetrics registers the in-flight gauge and the rejection
// counter.
func (s *Server) newOverloadMetrics(set *metrics.Set) {
	set.NewGauge(`semgate_requests_in_flight`, func() float64 { return float64(s.inFlight.Load()) })
	s.overloadRejected = set.NewCounter(`semgate_requests_rejected_total{reason="overloaded"}`)
}
