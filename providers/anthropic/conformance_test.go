package anthropic

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/providertest"
)

// errorFixtures maps an HTTP status to the recorded Anthropic error body
// Anthropic sends with it.
var errorFixtures = map[int]string{
	http.StatusBadRequest:      "error_invalid_request.json",
	http.StatusUnauthorized:    "error_authentication.json",
	http.StatusNotFound:        "error_not_found.json",
	http.StatusTooManyRequests: "error_rate_limit.json",
	StatusOverloaded:           "error_overloaded.json",
}

// serveError answers with status and the recorded Anthropic error body for
// it (api_error for statuses without a recording).
func serveError(t *testing.T, status int) http.Handler {
	name, ok := errorFixtures[status]
	if !ok {
		name = "error_api.json"
	}
	body := readFixture(t, name)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Request-Id", "req_conformance")
		w.WriteHeader(status)
		w.Write(bytes.Clone(body))
	})
}

func TestConformance(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		New: func(t *testing.T, name, baseURL string, opts providers.HTTPOptions) providers.Provider {
			opts.BaseURL = baseURL
			p, err := New(name, Options{HTTPOptions: opts})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		ChatPath:   "/v1/messages",
		Chat:       http.HandlerFunc(serveFixture(t, "chat_text.json", "application/json")),
		ChatStream: http.HandlerFunc(serveEvents(t, "stream_text.sse")),
		Error:      func(status int) http.Handler { return serveError(t, status) },
	})
}
