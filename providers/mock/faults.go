package mock

import (
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// fault is a fault kind: an HTTP status code 400-599, one of the negative
// kinds below, or noFault.
type fault int

const (
	noFault        fault = 0
	faultReset     fault = -1
	faultStall     fault = -2
	faultTruncate  fault = -3
	faultMalformed fault = -4
)

func parseFault(s string) (fault, error) {
	switch s {
	case "reset":
		return faultReset, nil
	case "stall":
		return faultStall, nil
	case "truncate":
		return faultTruncate, nil
	case "malformed":
		return faultMalformed, nil
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 400 && n <= 599 {
		return fault(n), nil
	}
	return noFault, fmt.Errorf("unknown fault %q: want a status code 400-599, reset, stall, truncate or malformed", s)
}

// isStatus reports whether f is an HTTP status fault.
func (f fault) isStatus() bool { return f >= 400 }

// Stats counts what a Provider or Handler did.
type Stats struct {
	// Requests is the number of API requests received (not /healthz or
	// /v1/models).
	Requests uint64
	// BadRequests is how many of them were rejected with a 400.
	BadRequests uint64
	// Faults is how many got an injected fault.
	Faults uint64
}

// core is the state shared by Provider and Handler: resolved options,
// the fault sequence and the counters.
type core struct {
	ttft, itd      time.Duration
	minTok, maxTok int
	dims           int
	rate           float64
	kinds          []fault
	seed           uint64
	retryAfter     int
	models         []string

	seq                    atomic.Uint64
	requests, bad, faulted atomic.Uint64
}

func (c *core) stats() Stats {
	return Stats{Requests: c.requests.Load(), BadRequests: c.bad.Load(), Faults: c.faulted.Load()}
}

// draw decides the fault for a request: its override if it has one,
// otherwise the next draw of the seeded sequence.
func (c *core) draw(r *request) fault {
	f := noFault
	switch {
	case r.faultSet:
		f = r.fault
	case c.rate > 0:
		u := mix64(c.seed*0x9e3779b97f4a7c15 + mix64(c.seq.Add(1)))
		if float64(u>>11)*(1.0/(1<<53)) < c.rate {
			f = c.kinds[mix64(u)%uint64(len(c.kinds))]
		}
	}
	if f != noFault {
		c.faulted.Add(1)
	}
	return f
}

// latency is how long an answer of pieces tokens waits before it is sent
// (for streams, before the first chunk: pieces 0).
func (c *core) latency(r *request, pieces int) time.Duration {
	d := c.ttft
	if r.latencySet {
		d = r.latency
	}
	if pieces > 1 {
		d += c.itd * time.Duration(pieces-1)
	}
	return d
}

// statusInfo returns the OpenAI error type, code and message for a status
// fault.
func statusInfo(status int) (typ, code, msg string) {
	switch {
	case status == http.StatusTooManyRequests:
		return "requests", "rate_limit_exceeded", "Rate limit reached for requests (mock fault). Please try again later."
	case status == http.StatusInternalServerError:
		return "server_error", "", "The server had an error while processing your request. Sorry about that! (mock fault)"
	case status == http.StatusServiceUnavailable:
		return "server_error", "", "The engine is currently overloaded, please try again later. (mock fault)"
	case status == http.StatusUnauthorized:
		return "invalid_request_error", "invalid_api_key", "Incorrect API key provided (mock fault)."
	}
	text := http.StatusText(status)
	if text == "" {
		text = "Error " + strconv.Itoa(status)
	}
	if status >= 500 {
		return "server_error", "", text + " (mock fault)"
	}
	return "invalid_request_error", "", text + " (mock fault)"
}

// corruptBody applies a body fault to a complete JSON answer, in place.
func corruptBody(body []byte, f fault) []byte {
	switch f {
	case faultTruncate:
		return body[:len(body)/2]
	case faultMalformed:
		// `["id":…}`: unbalanced and an object member in an array.
		body[0] = '['
	}
	return body
}
