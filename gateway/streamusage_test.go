package gateway

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// strictUpstream streams chatChunks-like events, but answers 400 (as older
// Azure api-versions and some local servers do) to a body carrying
// stream_options. It records whether each request had the field.
func strictUpstream(t *testing.T) (*atomic.Int32, *atomic.Int32, string) {
	var calls, withOptions atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		if bytes.Contains(b, []byte(`"stream_options"`)) {
			withOptions.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			io.WriteString(w, `{"error":{"message":"Unrecognized request argument supplied: stream_options","type":"invalid_request_error","param":null,"code":null}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, c := range recordedStream[:4] { // no usage chunk
			io.WriteString(w, "data: "+c+"\n\n")
		}
		io.WriteString(w, "data: [DONE]\n\n")
	}))
	t.Cleanup(srv.Close)
	return &calls, &withOptions, srv.URL + "/v1"
}

func streamUsageConfig(url, mode string) string {
	cfg := "providers:\n  - {name: up, type: openai, base_url: \"" + url + "\""
	if mode != "" {
		cfg += ", stream_usage: " + mode
	}
	return cfg + "}\nmodels:\n  - {name: m, deployments: [{provider: up, model: upstream-model, price: {input: 1, output: 2}}]}\ncache: {disabled: true}\n"
}

func TestStreamUsageSetting(t *testing.T) {
	body := `{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`
	t.Run("auto retries once without the field, then stops adding it", func(t *testing.T) {
		calls, withOptions, url := strictUpstream(t)
		ts := newTestServer(t, streamUsageConfig(url, ""), nil)
		for i := range 2 {
			resp := post(t, ts.URL+"/v1/chat/completions", body)
			events := readEvents(t, resp.Body)
			if resp.StatusCode != 200 || events[len(events)-1] != "[DONE]" {
				t.Fatalf("request %d: status %d, %q", i, resp.StatusCode, events)
			}
			if c := resp.Trailer.Get("X-Semgate-Cost-Usd"); c == "" || c == "0" {
				t.Fatalf("request %d: stream not priced by counting: cost %q", i, c)
			}
		}
		if calls.Load() != 3 || withOptions.Load() != 1 {
			t.Fatalf("%d calls, %d with stream_options; want 3 and 1", calls.Load(), withOptions.Load())
		}
	})
	t.Run("never adds it", func(t *testing.T) {
		calls, withOptions, url := strictUpstream(t)
		ts := newTestServer(t, streamUsageConfig(url, "never"), nil)
		resp := post(t, ts.URL+"/v1/chat/completions", body)
		readEvents(t, resp.Body)
		if resp.StatusCode != 200 || calls.Load() != 1 || withOptions.Load() != 0 {
			t.Fatalf("status %d, %d calls, %d with stream_options", resp.StatusCode, calls.Load(), withOptions.Load())
		}
	})
	t.Run("inject always adds it", func(t *testing.T) {
		calls, _, url := strictUpstream(t)
		ts := newTestServer(t, streamUsageConfig(url, "inject"), nil)
		resp := post(t, ts.URL+"/v1/chat/completions", body)
		if resp.StatusCode != 400 || calls.Load() != 1 {
			t.Fatalf("status %d after %d calls, want the upstream's 400 after 1", resp.StatusCode, calls.Load())
		}
		decodeError(t, readBody(t, resp))
	})
	t.Run("invalid value", func(t *testing.T) {
		_, err := ParseConfig([]byte(streamUsageConfig("http://x", "sometimes")), noEnv)
		if err == nil || !strings.Contains(err.Error(), "stream_usage") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestStreamErrorFirstEvent: a stream whose first event is an error is a
// failed attempt: the next deployment serves, or the client gets an error
// status, never the error under a 200.
func TestStreamErrorFirstEvent(t *testing.T) {
	failing := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, `data: {"error":{"message":"model overloaded","type":"server_error","code":"overloaded"}}`+"\n\n")
	}
	good := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, c := range recordedStream {
			io.WriteString(w, "data: "+c+"\n\n")
		}
		io.WriteString(w, "data: [DONE]\n\n")
	}
	bad, badURL := upstream(t, failing)
	_, goodURL := upstream(t, good)
	body := `{"model":"up","messages":[{"role":"user","content":"hi"}],"stream":true}`

	ts := newTestServer(t, upstreamConfig(badURL, goodURL)+"cache: {disabled: true}\n", nil)
	resp := post(t, ts.URL+"/v1/chat/completions", body)
	events := readEvents(t, resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("X-Semgate-Provider") != "upb" || events[len(events)-1] != "[DONE]" || bad.calls.Load() == 0 {
		t.Fatalf("status %d from %q: %q", resp.StatusCode, resp.Header.Get("X-Semgate-Provider"), events)
	}

	only := newTestServer(t, upstreamConfig(badURL)+"cache: {disabled: true}\n", nil)
	resp = post(t, only.URL+"/v1/chat/completions", body)
	if resp.StatusCode < 500 || strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if e := decodeError(t, readBody(t, resp)); !strings.Contains(e.Message, "model overloaded") {
		t.Fatalf("error does not say what the upstream said: %+v", e)
	}
}
