package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/semgate/semgate/providers/mock"
)

// Failing upstreams (issue 13): the mock upstream over HTTP as an
// openai-type provider, failing in every way it can, alone and mixed at
// random, with the cache on. With a healthy second deployment the client
// is served; with only the faulty one it gets a clear OpenAI-shaped error
// with the right status; no failure is ever stored; and nothing leaks.

// faultKinds are the mock's fault kinds (providers/mock/doc.go) that a
// second deployment can recover from: every one but the client errors
// (a 400 is the client's, passed on without fallback by design).
var faultKinds = []string{"429", "401", "500", "502", "503", "504", "reset", "stall", "truncate", "malformed"}

// midStream reports whether a fault strikes a stream after its first
// event reached the client: then there is no fallback, by design, and the
// stream ends with an error event and no [DONE].
func midStream(kind string, stream bool) bool {
	return stream && (kind == "stall" || kind == "truncate" || kind == "malformed")
}

// faultStatus is the status a client sees when the only deployment fails
// with kind before anything reached it.
func faultStatus(kind string) int {
	switch kind {
	case "429":
		return http.StatusTooManyRequests
	case "504", "stall":
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway // 401 (semgate's credentials), 5xx, reset, truncate, malformed
}

// faultConfig: alias "pair" tries the faulty upa, then the healthy upb;
// alias "solo" has only upa and one attempt. The cache is on; the breaker
// is off so that every request meets the fault, and no Retry-After is
// waited out (a rate-limited deployment is skipped, or its alias answers
// 429), so the tests' manual clock never holds a request.
func faultConfig(bad, good *mockUpstream) string {
	return "providers:\n" +
		fmt.Sprintf("  - {name: upa, type: openai, base_url: %q, timeout: 2s, idle_timeout: 1s}\n", bad.url) +
		fmt.Sprintf("  - {name: upb, type: openai, base_url: %q, timeout: 2s, idle_timeout: 1s}\n", good.url) +
		"models:\n" +
		"  - {name: pair, policy: priority, deployments: [{provider: upa, model: mock-small, timeout: 500ms}, {provider: upb, model: mock-small}]}\n" +
		"  - {name: solo, retry: {max_attempts: 1}, deployments: [{provider: upa, model: mock-small, timeout: 500ms}]}\n" +
		"routing: {breaker: {disabled: true}, retry: {max_retry_after: 1ms}}\n"
}

// outcome is one client request's result as the client saw it.
type outcome struct {
	status   int
	cache    string
	provider string
	complete bool   // a whole answer: JSON with choices, or a stream ending in [DONE]
	errEvent bool   // a stream that ended with an error event and no [DONE]
	body     []byte // the error body, for non-2xx
	header   http.Header
}

func sendChat(t *testing.T, url, body string) outcome {
	t.Helper()
	resp := post(t, url+"/v1/chat/completions", body)
	b := readBody(t, resp)
	o := outcome{status: resp.StatusCode, cache: resp.Header.Get("X-Semgate-Cache"),
		provider: resp.Header.Get("X-Semgate-Provider"), body: b, header: resp.Header}
	if resp.StatusCode != http.StatusOK {
		return o
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		ev := readEvents(t, bytes.NewReader(b))
		if len(ev) > 0 {
			last := ev[len(ev)-1]
			o.complete = last == "[DONE]"
			if !o.complete && strings.Contains(last, `"error"`) {
				decodeError(t, []byte(last))
				o.errEvent = true
			}
		}
		return o
	}
	var v struct {
		Choices []json.RawMessage `json:"choices"`
	}
	o.complete = json.Unmarshal(b, &v) == nil && len(v.Choices) > 0
	return o
}

// faultRequest is a chat request for alias with a prompt of its own.
func faultRequest(alias, prompt string, stream bool) string {
	if stream {
		return chatReq(alias, prompt, `"stream":true`)
	}
	return chatReq(alias, prompt)
}

// checkFailure checks a failed answer: want status (0: any of the
// upstream failure statuses), OpenAI's shape, never a 500.
func checkFailure(t *testing.T, what string, o outcome, want int) {
	t.Helper()
	switch {
	case want != 0 && o.status != want:
		t.Errorf("%s: status %d, want %d: %s", what, o.status, want, o.body)
		return
	case want == 0 && o.status != 429 && o.status != 502 && o.status != 503 && o.status != 504:
		t.Errorf("%s: status %d, want an upstream failure status: %s", what, o.status, o.body)
		return
	}
	if ct := o.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	e := decodeError(t, o.body)
	if o.status == 429 && o.header.Get("Retry-After") == "" {
		t.Errorf("%s: a 429 without Retry-After", what)
	}
	if strings.Contains(e.Message, "sk-") {
		t.Errorf("%s: the message carries a key: %q", what, e.Message)
	}
	if o.cache != "" && o.cache != cacheMiss {
		t.Errorf("%s: a failure marked %q", what, o.cache)
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// checkNoLeaks polls until the goroutines and open descriptors are back
// near their numbers before the test (the servers' idle connections take
// a moment to close).
func checkNoLeaks(t *testing.T, goroutines, fds int) {
	t.Helper()
	const slack = 8
	deadline := time.Now().Add(15 * time.Second)
	for {
		g, f := runtime.NumGoroutine(), openFDs(t)
		if g <= goroutines+slack && f <= fds+slack {
			t.Logf("goroutines %d (before %d), open fds %d (before %d)", g, goroutines, f, fds)
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("leak: goroutines %d (before %d), open fds %d (before %d)\n%s",
				g, goroutines, f, fds, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFaultEachKind: for every fault kind, streamed and not, the healthy
// second deployment serves the client (a mid-stream failure ends with an
// error event instead); the faulty one alone gives the right status in
// OpenAI's shape; once the upstream is healthy the same requests are
// misses served whole, then hits: no failure was stored.
func TestFaultEachKind(t *testing.T) {
	goroutines, fds := runtime.NumGoroutine(), openFDs(t)
	for _, kind := range faultKinds {
		t.Run(kind, func(t *testing.T) {
			bad, good := newMockUpstream(t, mock.Options{}), newMockUpstream(t, mock.Options{})
			clk := newTestClock()
			_, url := newRouteServer(t, faultConfig(bad, good), clk, "")
			bad.setFault(kind)
			for _, stream := range []bool{false, true} {
				what := fmt.Sprintf("%s stream=%v", kind, stream)
				pair := faultRequest("pair", "Tell me about "+what, stream)
				o := sendChat(t, url, pair)
				switch {
				case midStream(kind, stream):
					if o.status != 200 || !o.errEvent || o.provider != "upa" {
						t.Errorf("%s, pair: status %d provider %q, error event %v", what, o.status, o.provider, o.errEvent)
					}
				case o.status != 200 || !o.complete || o.provider != "upb":
					t.Errorf("%s, pair: status %d provider %q complete %v: %s", what, o.status, o.provider, o.complete, o.body)
				}

				solo := faultRequest("solo", "Tell me about "+what, stream)
				for range 2 { // twice: a stored failure would show on the second
					o = sendChat(t, url, solo)
					if midStream(kind, stream) {
						if o.status != 200 || !o.errEvent || o.cache != cacheMiss {
							t.Errorf("%s, solo: status %d cache %q, error event %v", what, o.status, o.cache, o.errEvent)
						}
						continue
					}
					checkFailure(t, what+", solo", o, faultStatus(kind))
				}

				// Healthy again (past any rate-limit cooldown): the same
				// requests are misses, then hits.
				bad.setFault("")
				clk.advance(time.Hour)
				for _, body := range []string{solo, pair} {
					if midStream(kind, stream) || strings.Contains(body, `"solo"`) {
						if o := sendChat(t, url, body); o.status != 200 || !o.complete || o.cache != cacheMiss {
							t.Errorf("%s, healthy again: status %d cache %q complete %v: a failure was stored?", what, o.status, o.cache, o.complete)
						}
					}
					if o := sendChat(t, url, body); o.status != 200 || !o.complete || !strings.HasPrefix(o.cache, "hit") {
						t.Errorf("%s, healthy again, repeated: status %d cache %q complete %v", what, o.status, o.cache, o.complete)
					}
				}
				bad.setFault(kind)
			}
		})
	}
	checkNoLeaks(t, goroutines, fds)
}

// TestFaultMixedRandom: the upstream fails half its requests with a kind
// drawn at random (seeded), requests streamed and not: with a
// healthy second deployment every request is served (a mid-stream failure
// ends with an error event); with the faulty one alone every failure is an
// OpenAI-shaped upstream error; then, healthy, each failed request is a
// miss answered whole, and nothing leaks.
func TestFaultMixedRandom(t *testing.T) {
	goroutines, fds := runtime.NumGoroutine(), openFDs(t)
	t.Run("run", func(t *testing.T) {
		bad := newMockUpstream(t, mock.Options{FaultRate: 0.5, Faults: faultKinds, Seed: 13})
		good := newMockUpstream(t, mock.Options{})
		clk := newTestClock()
		_, url := newRouteServer(t, faultConfig(bad, good), clk, "")
		const n = 50
		served, errEvents := 0, 0
		statuses := map[int]int{}
		for i := range n {
			stream := i%2 == 1
			clk.advance(time.Minute) // past the cooldown of a 429
			o := sendChat(t, url, faultRequest("pair", fmt.Sprintf("Mixed question %d", i), stream))
			switch {
			case o.status == 200 && o.complete:
				served++
			case o.status == 200 && o.errEvent && stream && o.provider == "upa":
				errEvents++
			default:
				t.Errorf("pair %d (stream %v): status %d provider %q complete %v: %s", i, stream, o.status, o.provider, o.complete, o.body)
			}
		}
		if served < n/2 {
			t.Errorf("only %d of %d served whole", served, n)
		}

		var failed []string
		for i := range n {
			stream := i%2 == 1
			body := faultRequest("solo", fmt.Sprintf("Solo question %d", i), stream)
			clk.advance(time.Minute)
			o := sendChat(t, url, body)
			statuses[o.status]++
			switch {
			case o.status == 200 && o.complete:
			case o.status == 200 && o.errEvent && stream:
				failed = append(failed, body)
			default:
				checkFailure(t, fmt.Sprintf("solo %d (stream %v)", i, stream), o, 0)
				failed = append(failed, body)
			}
		}
		if len(failed) == 0 {
			t.Fatal("no request failed: the fault rate did not apply")
		}
		if st := bad.h.Stats(); st.Faults == 0 {
			t.Fatalf("the mock injected no faults: %+v", st)
		}
		t.Logf("pair: %d served, %d error events; solo: %d of %d failed, statuses %v", served, errEvents, len(failed), n, statuses)

		bad.setFault("none")
		clk.advance(time.Hour) // past breaker cooldowns and Retry-After
		for _, body := range failed {
			if o := sendChat(t, url, body); o.status != 200 || !o.complete || o.cache != cacheMiss {
				t.Errorf("after recovery: status %d cache %q complete %v: %s", o.status, o.cache, o.complete, o.body)
			}
		}
	})
	checkNoLeaks(t, goroutines, fds)
}
