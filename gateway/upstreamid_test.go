package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestUpstreamRequestID: a miss's response names the upstream's own id of
// the request (its x-request-id) in X-Semgate-Upstream-Request-Id, JSON
// and streamed, while X-Request-Id stays semgate's; a cache hit, which
// no upstream answered, names none.
func TestUpstreamRequestID(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "req_upstream_123")
		b, _ := io.ReadAll(r.Body)
		if strings.Contains(string(b), `"stream":true`) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Write([]byte("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"upstream-model\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"hi\"},\"finish_reason\":null}]}\n\n" +
				"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"upstream-model\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n" +
				"data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"upstream-model\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\n\ndata: [DONE]\n\n"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"c","object":"chat.completion","created":1,"model":"upstream-model","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`))
	}))
	defer up.Close()
	ts := newTestServer(t, upstreamConfig(up.URL), nil)
	for _, stream := range []string{"false", "true"} {
		body := `{"model":"up","stream":` + stream + `,"messages":[{"role":"user","content":"Say hi (` + stream + `)"}]}`
		resp := post(t, ts.URL+"/v1/chat/completions", body, "X-Request-Id", "req_client_1")
		readBody(t, resp)
		if resp.StatusCode != 200 || resp.Header.Get(headerUpstreamID) != "req_upstream_123" || resp.Header.Get(headerRequestID) != "req_client_1" {
			t.Fatalf("stream %s: %d upstream id %q, request id %q", stream, resp.StatusCode, resp.Header.Get(headerUpstreamID), resp.Header.Get(headerRequestID))
		}
		resp = post(t, ts.URL+"/v1/chat/completions", body)
		readBody(t, resp)
		if resp.Header.Get("X-Semgate-Cache") != "hit-exact" || resp.Header.Get(headerUpstreamID) != "" {
			t.Fatalf("stream %s: a hit: %q, upstream id %q", stream, resp.Header.Get("X-Semgate-Cache"), resp.Header.Get(headerUpstreamID))
		}
	}
}
