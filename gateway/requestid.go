package gateway

import (
	"math/rand/v2"
	"net/http"
)

// Response headers semgate sets.
const (
	headerRequestID = "X-Request-Id"
	headerProvider  = "X-Semgate-Provider"
	headerModel     = "X-Semgate-Model"
	// headerUpstreamID is the upstream's own id of the request that
	// answered (OpenAI's x-request-id, Anthropic's request-id), for
	// reports to the provider; semgate's id stays in X-Request-Id.
	headerUpstreamID = "X-Semgate-Upstream-Request-Id"
)

// setUpstreamID copies the upstream's request id from its response's
// safe headers (providers.Response.Header) to the client's response.
func setUpstreamID(h, upstream http.Header) {
	id := upstream.Get("X-Request-Id")
	if id == "" {
		id = upstream.Get("Request-Id")
	}
	if id != "" && len(id) <= 256 && printableASCII(id) {
		h.Set(headerUpstreamID, id)
	}
}

// requestID returns the client's x-request-id if it is a reasonable token,
// or a new random one.
func requestID(r *http.Request) string {
	if id := r.Header.Get(headerRequestID); id != "" && len(id) <= 128 && printableASCII(id) {
		return id
	}
	return newRequestID()
}

func newRequestID() string {
	var b [20]byte
	copy(b[:], "req_")
	v := rand.Uint64()
	for i := 19; i >= 4; i-- {
		b[i] = hexDigits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
