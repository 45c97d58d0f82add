package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// TestRouteErrorsInTheAPIsShape: a request no route takes is answered in
// the shape its API's SDKs parse: Anthropic's under /v1/messages, OpenAI's
// elsewhere.
func TestRouteErrorsInTheAPIsShape(t *testing.T) {
	ts := newTestServer(t, upstreamConfig(), nil)
	for _, tc := range []struct {
		method, path string
		status       int
		anthropic    bool
	}{
		{"GET", "/v1/messages", 405, true},
		{"PUT", "/v1/messages/count_tokens", 405, true},
		{"POST", "/v1/messages/batches", 404, true},
		{"GET", "/v1/chat/completions", 405, false},
		{"POST", "/v1/nothing", 404, false},
		{"GET", "/v1/messagesx", 404, false},
	} {
		req, _ := http.NewRequest(tc.method, ts.URL+tc.path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		g := gjson.ParseBytes(body)
		if tc.anthropic {
			if g.Get("type").Str != "error" || g.Get("error.type").Str == "" || g.Get("error.message").Str == "" {
				t.Errorf("%s %s: not Anthropic's shape: %s", tc.method, tc.path, body)
			}
		} else if g.Get("error.message").Str == "" || g.Get("type").Exists() {
			t.Errorf("%s %s: not OpenAI's shape: %s", tc.method, tc.path, body)
		}
	}
}
