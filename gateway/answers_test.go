package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/semgate/semgate/semcache/answer"
	"github.com/tidwall/gjson"
)

// fixtureUpstream answers every request with a recorded-style answer: the
// .json file for a non-streamed request, the .sse file for a streamed one.
func fixtureUpstream(t *testing.T, name string) (*atomic.Int32, string) {
	t.Helper()
	base := filepath.Join("..", "semcache", "answer", "testdata", name)
	js, err := os.ReadFile(base + ".json")
	if err != nil {
		t.Fatal(err)
	}
	sse, err := os.ReadFile(base + ".sse")
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var req struct{ Stream bool }
		json.NewDecoder(r.Body).Decode(&req)
		if req.Stream {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Write(sse)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(js)
	}))
	t.Cleanup(srv.Close)
	return &calls, srv.URL + "/v1"
}

func fixtureBytes(t *testing.T, name string) ([]byte, []string) {
	t.Helper()
	base := filepath.Join("..", "semcache", "answer", "testdata", name)
	js, err := os.ReadFile(base + ".json")
	if err != nil {
		t.Fatal(err)
	}
	sse, err := os.ReadFile(base + ".sse")
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, line := range strings.Split(string(sse), "\n") {
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			events = append(events, d)
		}
	}
	return js, events
}

// TestCachedAnswersAreTheUpstreams: for each recorded-style answer, stored
// from a JSON or a streamed miss, a hit in the same form is byte for byte
// what the upstream sent, and a hit in the other form carries every field
// (or, when the conversion cannot be lossless, is a miss).
func TestCachedAnswersAreTheUpstreams(t *testing.T) {
	names := []string{"chat_logprobs", "chat_tools", "chat_function_call", "chat_refusal", "chat_annotations",
		"chat_n2", "vllm_reasoning", "openrouter_reasoning", "completions_logprobs", "chat_audio"}
	for _, name := range names {
		for _, firstStream := range []bool{false, true} {
			t.Run(name+map[bool]string{false: "/json-first", true: "/stream-first"}[firstStream], func(t *testing.T) {
				calls, url := fixtureUpstream(t, name)
				ts := newTestServer(t, cacheConfig(url, ""), nil)
				path, body := "/v1/chat/completions", chatBody("Tell me something "+name)
				kind := answer.KindChat
				if strings.HasPrefix(name, "completions") {
					path, body, kind = "/v1/completions", `{"model":"m","prompt":"Once upon a time there"}`, answer.KindCompletions
				}
				streamBody := strings.TrimSuffix(body, "}") + `,"stream":true,"stream_options":{"include_usage":true}}`
				wantJSON, wantEvents := fixtureBytes(t, name)
				lossy := name == "chat_audio"

				get := func(stream bool) (*http.Response, []byte, []string) {
					b := body
					if stream {
						b = streamBody
					}
					resp := post(t, ts.URL+path, b)
					if resp.StatusCode != 200 {
						t.Fatalf("status %d: %s", resp.StatusCode, readBody(t, resp))
					}
					if stream {
						return resp, nil, readEvents(t, resp.Body)
					}
					return resp, readBody(t, resp), nil
				}
				check := func(resp *http.Response, js []byte, events []string, stream bool, sameForm bool) {
					t.Helper()
					switch {
					case stream && sameForm:
						if !reflect.DeepEqual(events, wantEvents) {
							t.Fatalf("stream not as the upstream sent it:\n%q\nwant\n%q", events, wantEvents)
						}
					case !stream && sameForm:
						if !bytes.Equal(js, wantJSON) {
							t.Fatalf("JSON not as the upstream sent it:\n%s", js)
						}
					case stream: // stored as JSON, served as a stream
						var chunks [][]byte
						for _, e := range events[:len(events)-1] {
							chunks = append(chunks, []byte(e))
						}
						got, err := answer.Assemble(kind, chunks)
						if err != nil || !answer.SameJSON(got, wantJSON) {
							t.Fatalf("stream from a stored JSON answer does not assemble into it (%v):\n%s", err, got)
						}
					default: // stored as a stream, served as JSON
						var chunks [][]byte
						for _, e := range wantEvents[:len(wantEvents)-1] {
							chunks = append(chunks, []byte(e))
						}
						want, err := answer.Assemble(kind, chunks)
						if err != nil || !answer.SameJSON(js, want) {
							t.Fatalf("JSON from a stored stream is not the stream's answer (%v):\n%s", err, js)
						}
					}
				}

				resp, js, events := get(firstStream)
				if resp.Header.Get("X-Semgate-Cache") != "miss" {
					t.Fatalf("first request: %s", resp.Header.Get("X-Semgate-Cache"))
				}
				check(resp, js, events, firstStream, true)
				resp, js, events = get(firstStream)
				if resp.Header.Get("X-Semgate-Cache") != "hit-exact" {
					t.Fatalf("same form: %s", resp.Header.Get("X-Semgate-Cache"))
				}
				check(resp, js, events, firstStream, true)
				resp, js, events = get(!firstStream)
				if lossy {
					if resp.Header.Get("X-Semgate-Cache") != "miss" || calls.Load() != 2 {
						t.Fatalf("an answer that cannot be converted was served in the other form: %s", resp.Header.Get("X-Semgate-Cache"))
					}
					return
				}
				if resp.Header.Get("X-Semgate-Cache") != "hit-exact" || calls.Load() != 1 {
					t.Fatalf("other form: %s, %d upstream calls", resp.Header.Get("X-Semgate-Cache"), calls.Load())
				}
				check(resp, js, events, !firstStream, false)
				// A client that did not ask for usage gets none.
				noUsage := post(t, ts.URL+path, strings.TrimSuffix(body, "}")+`,"stream":true}`)
				for _, e := range readEvents(t, noUsage.Body) {
					if strings.Contains(e, `"usage"`) {
						t.Fatalf("usage in a stream that did not ask for it: %s", e)
					}
				}
			})
		}
	}
}

// TestCacheTTLClamped: x-semgate-cache-ttl may not exceed cache.max_ttl
// (default: the configured ttl); the response says the TTL used.
func TestCacheTTLClamped(t *testing.T) {
	_, url := newCountingMock(t, 0)
	for _, tc := range []struct {
		extra, ask, want string
	}{
		{"", "", "86400"},
		{"", "60", "60"},
		{"", "2147483647", "86400"},
		{"cache:\n  ttl: 10m\n", "1h", "600"},
		{"cache:\n  ttl: 10m\n  max_ttl: 2h\n", "1h", "3600"},
		{"cache:\n  ttl: 10m\n  max_ttl: 2h\n", "100000", "7200"},
	} {
		ts := newTestServer(t, cacheConfig(url, tc.extra), nil)
		var hdr []string
		if tc.ask != "" {
			hdr = []string{"X-Semgate-Cache-Ttl", tc.ask}
		}
		r, _ := chat(t, ts, chatBody("How long will this live?"), hdr...)
		if got := r.Header.Get("X-Semgate-Cache-Ttl"); got != tc.want {
			t.Errorf("%q asking %q: ttl %q, want %q", tc.extra, tc.ask, got, tc.want)
		}
		infos := ts.cache.List(nil, "", 10)
		if len(infos) != 1 {
			t.Fatalf("%d entries", len(infos))
		}
		if left := time.Until(infos[0].Expires); left.Seconds() > gjson.Parse(tc.want).Float()+5 || left.Seconds() < gjson.Parse(tc.want).Float()-60 {
			t.Errorf("%q asking %q: entry expires in %v, want %ss", tc.extra, tc.ask, left, tc.want)
		}
	}
}
