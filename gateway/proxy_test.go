package gateway

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/semgate/semgate/providers/sse"
)

const recordedCompletion = `{"id":"chatcmpl-AbC123","object":"chat.completion","created":1732000000,"model":"upstream-model","system_fingerprint":"fp_1","choices":[{"index":0,"message":{"role":"assistant","content":"Hello there!","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":0}},"x_vendor_extra":{"kept":[1,2,3]}}`

var recordedStream = []string{
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1732000000,"model":"upstream-model","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`,
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1732000000,"model":"upstream-model","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}]}`,
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1732000000,"model":"upstream-model","choices":[{"index":0,"delta":{"content":" there!"},"logprobs":null,"finish_reason":null}]}`,
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1732000000,"model":"upstream-model","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}`,
	`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1732000000,"model":"upstream-model","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}`,
}

// recorder is an upstream that remembers the last request body and
// answers with a handler.
type recorder struct {
	body  atomic.Pointer[[]byte]
	auth  atomic.Pointer[string]
	calls atomic.Int32
	h     http.HandlerFunc
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.calls.Add(1)
	b, _ := io.ReadAll(r.Body)
	rc.body.Store(&b)
	a := r.Header.Get("Authorization")
	rc.auth.Store(&a)
	rc.h(w, r)
}

func upstream(t *testing.T, h http.HandlerFunc) (*recorder, string) {
	rc := &recorder{h: h}
	s := httptest.NewServer(rc)
	t.Cleanup(s.Close)
	return rc, s.URL + "/v1"
}

func jsonAnswer(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}
}

func sseAnswer(events []string, done bool) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, e := range events {
			io.WriteString(w, "data: "+e+"\n\n")
			w.(http.Flusher).Flush()
		}
		if done {
			io.WriteString(w, "data: [DONE]\n\n")
		}
	}
}

func TestPassthroughUnknownFields(t *testing.T) {
	rc, url := upstream(t, jsonAnswer(recordedCompletion))
	ts := newTestServer(t, upstreamConfig(url), nil)
	in := `{"model":"up","messages":[{"role":"user","content":"hi","x_msg_extra":true}],"x_custom":{"a":[1,2.50,"é"]},"temperature":0.2}`
	resp := post(t, ts.URL+"/v1/chat/completions", in, "X-Request-Id", "client-id-42")
	body := readBody(t, resp)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	want := strings.Replace(in, `"model":"up"`, `"model":"upstream-model"`, 1)
	if got := string(*rc.body.Load()); got != want {
		t.Fatalf("upstream got\n%s\nwant\n%s", got, want)
	}
	if string(body) != recordedCompletion {
		t.Fatalf("client got\n%s\nwant the upstream's bytes", body)
	}
	if *rc.auth.Load() != "Bearer sk-test-SECRET" {
		t.Fatalf("upstream auth %q", *rc.auth.Load())
	}
	for k, v := range map[string]string{"X-Request-Id": "client-id-42", "X-Semgate-Provider": "upa", "X-Semgate-Model": "upstream-model", "Content-Type": "application/json"} {
		if got := resp.Header.Get(k); got != v {
			t.Fatalf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestRequestIDGenerated(t *testing.T) {
	ts := newTestServer(t, upstreamConfig(), nil)
	ids := map[string]bool{}
	for i := 0; i < 3; i++ {
		resp, err := http.Get(ts.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		id := resp.Header.Get("X-Request-Id")
		if !strings.HasPrefix(id, "req_") || ids[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		ids[id] = true
	}
	// A hostile id is replaced, not echoed.
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/healthz", nil)
	req.Header.Set("X-Request-Id", strings.Repeat("x", 500))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if id := resp.Header.Get("X-Request-Id"); len(id) > 128 {
		t.Fatalf("echoed an oversized id")
	}
}

func readEvents(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	rd := sse.NewReader(r)
	for {
		ev, err := rd.Next()
		if err != nil {
			if err != io.EOF {
				t.Fatalf("stream: %v", err)
			}
			return out
		}
		out = append(out, string(ev.Data))
	}
}

func TestStreamRelay(t *testing.T) {
	_, url := upstream(t, sseAnswer(recordedStream, true))
	ts := newTestServer(t, upstreamConfig(url), nil)
	resp := post(t, ts.URL+"/v1/chat/completions", `{"model":"up","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("X-Semgate-Provider") != "upa" {
		t.Fatal("no provider header on a stream")
	}
	got := readEvents(t, resp.Body)
	want := append(append([]string{}, recordedStream...), "[DONE]")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events\n%q\nwant\n%q", got, want)
	}
}

func TestStreamTruncatedEndsWithError(t *testing.T) {
	_, url := upstream(t, sseAnswer(recordedStream[:2], false))
	ts := newTestServer(t, upstreamConfig(url), nil)
	resp := post(t, ts.URL+"/v1/chat/completions", `{"model":"up","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	got := readEvents(t, resp.Body)
	if len(got) != 3 {
		t.Fatalf("events %q", got)
	}
	if got[len(got)-1] == "[DONE]" || !strings.Contains(got[2], `"error"`) {
		t.Fatalf("last event %q, want an error event and no [DONE]", got[2])
	}
	decodeError(t, []byte(got[2]))
}

func TestStreamMalformedFirstChunkFallsBack(t *testing.T) {
	_, bad := upstream(t, sseAnswer([]string{`{not json`}, true))
	_, good := upstream(t, sseAnswer(recordedStream, true))
	ts := newTestServer(t, upstreamConfig(bad, good), nil)
	resp := post(t, ts.URL+"/v1/chat/completions", `{"model":"up","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.Header.Get("X-Semgate-Provider") != "upb" {
		t.Fatalf("served by %q", resp.Header.Get("X-Semgate-Provider"))
	}
	if got := readEvents(t, resp.Body); got[len(got)-1] != "[DONE]" {
		t.Fatalf("events %q", got)
	}
}

func statusAnswer(status int, body string, hdr ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func TestFallbackToNextDeployment(t *testing.T) {
	first, bad := upstream(t, statusAnswer(503, `{"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}`))
	_, good := upstream(t, jsonAnswer(recordedCompletion))
	ts := newTestServer(t, upstreamConfig(bad, good), nil)
	resp := post(t, ts.URL+"/v1/chat/completions", `{"model":"up","messages":[{"role":"user","content":"hi"}]}`)
	body := readBody(t, resp)
	if resp.StatusCode != 200 || resp.Header.Get("X-Semgate-Provider") != "upb" || string(body) != recordedCompletion {
		t.Fatalf("status %d provider %q body %s", resp.StatusCode, resp.Header.Get("X-Semgate-Provider"), body)
	}
	if first.calls.Load() != 1 {
		t.Fatalf("first deployment called %d times", first.calls.Load())
	}
}

func TestNoFallbackOnClientError(t *testing.T) {
	_, bad := upstream(t, statusAnswer(400, `{"error":{"message":"context_length_exceeded: too long","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`))
	second, good := upstream(t, jsonAnswer(recordedCompletion))
	ts := newTestServer(t, upstreamConfig(bad, good), nil)
	resp := post(t, ts.URL+"/v1/chat/completions", `{"model":"up","messages":[{"role":"user","content":"hi"}]}`)
	e := decodeError(t, readBody(t, resp))
	if resp.StatusCode != 400 || e.Code == nil || *e.Code != "context_length_exceeded" || e.Param == nil || *e.Param != "messages" {
		t.Fatalf("status %d error %+v", resp.StatusCode, e)
	}
	if second.calls.Load() != 0 {
		t.Fatal("a client error was retried on another deployment")
	}
}

func TestUpstreamErrorMapping(t *testing.T) {
	tests := []struct {
		name       string
		h          http.HandlerFunc
		status     int
		retryAfter string
	}{
		{"400 passes", statusAnswer(400, `{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}}`), 400, ""},
		{"401 is gateway's problem", statusAnswer(401, `{"error":{"message":"Incorrect API key provided: sk-test-SECRET","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`), 502, ""},
		{"429 with retry-after", statusAnswer(429, `{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}`, "Retry-After", "7"), 429, "7"},
		{"500 becomes 502", statusAnswer(500, `{"error":{"message":"boom","type":"server_error","param":null,"code":null}}`), 502, ""},
		{"non-json error body", statusAnswer(503, `<html>bad gateway</html>`), 502, ""},
		{"malformed success", jsonAnswer(`{"id":`), 502, ""},
		{"timeout", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, 504, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, url := upstream(t, tt.h)
			ts := newTestServer(t, strings.Replace(upstreamConfig(url), "timeout: 2s", "timeout: 200ms", 1), nil)
			resp := post(t, ts.URL+"/v1/chat/completions", `{"model":"up","messages":[{"role":"user","content":"hi"}]}`)
			body := readBody(t, resp)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			e := decodeError(t, body)
			if strings.Contains(string(body), "SECRET") {
				// The upstream echoed our key in its message; the gateway
				// passes messages on, so it must scrub this one.
				t.Fatalf("error leaks the api key: %s", body)
			}
			if got := resp.Header.Get("Retry-After"); got != tt.retryAfter {
				t.Fatalf("Retry-After %q, want %q", got, tt.retryAfter)
			}
			_ = e
		})
	}
}

func TestUnreachableUpstream(t *testing.T) {
	ts := newTestServer(t, upstreamConfig("http://"+closedAddr(t)+"/v1"), nil)
	resp := post(t, ts.URL+"/v1/chat/completions", `{"model":"up","messages":[{"role":"user","content":"hi"}]}`)
	body := readBody(t, resp)
	if resp.StatusCode != 502 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	decodeError(t, body)
}

func TestClientDisconnectCancelsUpstream(t *testing.T) {
	cancelled := make(chan struct{})
	_, url := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: "+recordedStream[0]+"\n\n")
		w.(http.Flusher).Flush()
		for {
			select {
			case <-r.Context().Done():
				close(cancelled)
				return
			case <-time.After(20 * time.Millisecond):
				io.WriteString(w, "data: "+recordedStream[1]+"\n\n")
				w.(http.Flusher).Flush()
			}
		}
	})
	ts := newTestServer(t, upstreamConfig(url), nil)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"up","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream request was not cancelled after the client left")
	}
}

func TestMockProviderInProcess(t *testing.T) {
	ts := newTestServer(t, upstreamConfig(), nil)
	body := `{"model":"mock-small","messages":[{"role":"user","content":"What is semgate?"}]}`
	a := readBody(t, post(t, ts.URL+"/v1/chat/completions", body))
	b := readBody(t, post(t, ts.URL+"/v1/chat/completions", body))
	if string(a) != string(b) || !strings.Contains(string(a), `"chat.completion"`) {
		t.Fatalf("mock answers differ or are not completions:\n%s\n%s", a, b)
	}
	resp := post(t, ts.URL+"/v1/chat/completions", `{"model":"mock-small","stream":true,"messages":[{"role":"user","content":"What is semgate?"}]}`)
	if resp.Header.Get("X-Semgate-Provider") != "mock" || resp.Header.Get("X-Semgate-Model") != "mock-small" {
		t.Fatalf("headers %v", resp.Header)
	}
	if ev := readEvents(t, resp.Body); len(ev) < 3 || ev[len(ev)-1] != "[DONE]" {
		t.Fatalf("events %q", ev)
	}
}
