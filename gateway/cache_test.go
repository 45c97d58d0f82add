package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/semgate/semgate/embed"
	"github.com/semgate/semgate/providers/mock"
	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/answer"
)

// countingMock is the real mock upstream over HTTP, counting calls.
type countingMock struct {
	calls atomic.Int32
	h     *mock.Handler
	delay time.Duration
}

func (c *countingMock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.calls.Add(1)
	if c.delay > 0 {
		time.Sleep(c.delay)
	}
	c.h.ServeHTTP(w, r)
}

func newCountingMock(t *testing.T, delay time.Duration) (*countingMock, string) {
	h, err := mock.NewHandler(mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cm := &countingMock{h: h, delay: delay}
	s := httptest.NewServer(cm)
	t.Cleanup(func() { s.Close(); h.Close() })
	return cm, s.URL + "/v1"
}

func cacheConfig(url, extra string) string {
	return "providers:\n  - {name: up, type: openai, base_url: \"" + url + "\"}\n" +
		"models:\n  - {name: m, deployments: [{provider: up, model: mock-small, price: {input: 1, output: 2}}]}\n" +
		"  - {name: m2, deployments: [{provider: up, model: mock-small}]}\n" + extra
}

func chatBody(content string, extra ...string) string {
	b := `{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":` + jsonString(content) + `}]`
	for _, e := range extra {
		b += "," + e
	}
	return b + "}"
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

func chat(t *testing.T, ts *testServer, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	resp := post(t, ts.URL+"/v1/chat/completions", body, hdr...)
	return resp, string(readBody(t, resp))
}

// The exact tier folds only what cannot change the meaning (outer white
// space, line endings, NFC); other formatting variants are semantic hits
// that the verifier explains, and variants whose difference can matter are
// misses.
func TestCacheFormattingVariants(t *testing.T) {
	up, url := newCountingMock(t, 0)
	ts := newTestServer(t, cacheConfig(url, ""), nil)
	r1, b1 := chat(t, ts, chatBody("What is the capital of France?"))
	if r1.Header.Get("X-Semgate-Cache") != "miss" || r1.Header.Get("X-Semgate-Cache-Key") == "" {
		t.Fatalf("first: %v", r1.Header)
	}
	if r, b := chat(t, ts, chatBody("  What is the capital of France?\n")); r.Header.Get("X-Semgate-Cache") != "hit-exact" || b != b1 {
		t.Fatalf("outer white space: %s", r.Header.Get("X-Semgate-Cache"))
	}
	for _, variant := range []string{"what is the capital of france", "  WHAT IS THE CAPITAL OF   FRANCE ?? ", "What is the capital of France"} {
		r, b := chat(t, ts, chatBody(variant))
		if r.Header.Get("X-Semgate-Cache") != "hit-semantic" || b != b1 {
			t.Fatalf("%q: %s %v", variant, r.Header.Get("X-Semgate-Cache"), b)
		}
		if v := r.Header.Get("X-Semgate-Verify"); !strings.Contains(v, "formatting(") || strings.ContainsAny(v, "\r\n") {
			t.Fatalf("%q: X-Semgate-Verify %q", variant, v)
		}
		if r.Header.Get("Age") == "" || r.Header.Get("X-Semgate-Provider") != "up" {
			t.Fatalf("hit headers %v", r.Header)
		}
	}
	if up.calls.Load() != 1 {
		t.Fatalf("upstream called %d times", up.calls.Load())
	}
}

// Pairs that the old exact tier folded together (NFKC, case folding, inner
// white space) but that ask different things: each is a miss.
func TestCacheMeaningfulFormattingMisses(t *testing.T) {
	for _, p := range [][2]string{
		{"Solve x² = 4", "Solve x2 = 4"},
		{"Is the Go identifier myVar exported?", "Is the Go identifier MyVar exported?"},
		{"Was bedeutet Maße?", "Was bedeutet Masse?"},
		{`What does print("a b") output?`, `What does print("a  b") output?`},
		{"Is HF dangerous to touch?", "Is Hf dangerous to touch?"},
		{"How many lines?\n\nroses are red\nviolets are blue", "How many lines?\n\nroses are red violets are blue"},
	} {
		_, url := newCountingMock(t, 0)
		ts := newTestServer(t, cacheConfig(url, ""), nil)
		chat(t, ts, chatBody(p[0]))
		if r, _ := chat(t, ts, chatBody(p[1])); r.Header.Get("X-Semgate-Cache") != "miss" {
			t.Errorf("%q after %q: %s (%s)", p[1], p[0], r.Header.Get("X-Semgate-Cache"), r.Header.Get("X-Semgate-Verify"))
		}
	}
}

func TestCachePartitionsNeverCross(t *testing.T) {
	up, url := newCountingMock(t, 0)
	ts := newTestServer(t, cacheConfig(url, ""), nil)
	base := chatBody("Tell me a joke")
	chat(t, ts, base)
	variants := map[string]string{
		"model":       strings.Replace(base, `"model":"m"`, `"model":"m2"`, 1),
		"temperature": chatBody("Tell me a joke", `"temperature":0.7`),
		"system":      strings.Replace(base, "be brief", "be verbose", 1),
		"tools":       chatBody("Tell me a joke", `"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]`),
		"history":     `{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"},{"role":"user","content":"Tell me a joke"}]}`,
		"max_tokens":  chatBody("Tell me a joke", `"max_tokens":50`),
		"seed":        chatBody("Tell me a joke", `"seed":7`),
	}
	for name, body := range variants {
		r, _ := chat(t, ts, body)
		if got := r.Header.Get("X-Semgate-Cache"); got != "miss" {
			t.Errorf("%s: cache %q, want miss", name, got)
		}
	}
	r, _ := chat(t, ts, base, "X-Semgate-Cache-Namespace", "team-b")
	if r.Header.Get("X-Semgate-Cache") != "miss" {
		t.Error("namespace: hit across namespaces")
	}
	if want := int32(2 + len(variants)); up.calls.Load() != want {
		t.Fatalf("upstream calls %d, want %d", up.calls.Load(), want)
	}
}

// semanticServer returns a server whose threshold sits just below the
// lexical similarity of a and b, measured with the real embedder.
func semanticServer(t *testing.T, url, a, b string) (*testServer, float32) {
	t.Helper()
	e, err := embed.New(embed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.Embed(context.Background(), []string{semcache.Normalize(a), semcache.Normalize(b)})
	if err != nil {
		t.Fatal(err)
	}
	sim := semcache.Dot(v[0], v[1])
	if sim < 0.3 || sim > 0.999 {
		t.Fatalf("pair similarity %v is not usable for this test", sim)
	}
	thr := float64(sim) - 0.01
	return newTestServer(t, cacheConfig(url, "cache:\n  threshold: "+strings.TrimRight(strings.TrimRight(jsonFloat(thr), "0"), ".")+"\n"), nil), sim
}

func jsonFloat(f float64) string { b, _ := json.Marshal(f); return string(b) }

func TestCacheSemanticHit(t *testing.T) {
	up, url := newCountingMock(t, 0)
	a, b := "How do I reset my password on the website?", "How can I reset my password on the website?"
	ts, sim := semanticServer(t, url, a, b)
	_, first := chat(t, ts, chatBody(a))
	r, second := chat(t, ts, chatBody(b))
	if r.Header.Get("X-Semgate-Cache") != "hit-semantic" || second != first {
		t.Fatalf("cache %q (similarity %v)", r.Header.Get("X-Semgate-Cache"), sim)
	}
	if r.Header.Get("X-Semgate-Similarity") == "" {
		t.Fatal("no similarity header")
	}
	if up.calls.Load() != 1 {
		t.Fatalf("upstream calls %d", up.calls.Load())
	}
	// A request may raise the threshold above the pair's similarity, and
	// then it misses.
	r, _ = chat(t, ts, chatBody(b), "X-Semgate-Cache-Threshold", "0.9999")
	if r.Header.Get("X-Semgate-Cache") != "miss" {
		t.Fatalf("raised threshold still hit: %s", r.Header.Get("X-Semgate-Cache"))
	}
	// ... but not lower it.
	r, body := chat(t, ts, chatBody(b), "X-Semgate-Cache-Threshold", "0.01")
	if r.StatusCode != 400 {
		t.Fatalf("lowering the threshold: %d %s", r.StatusCode, body)
	}
	decodeError(t, []byte(body))
}

func TestCacheGuardRejectsNearDuplicate(t *testing.T) {
	up, url := newCountingMock(t, 0)
	a, b := "List the top 5 programming languages of 2024", "List the top 10 programming languages of 2024"
	ts, _ := semanticServer(t, url, a, b)
	chat(t, ts, chatBody(a))
	r, _ := chat(t, ts, chatBody(b))
	if r.Header.Get("X-Semgate-Cache") != "miss" || up.calls.Load() != 2 {
		t.Fatalf("guard let %q answer %q: %s", a, b, r.Header.Get("X-Semgate-Cache"))
	}
}

func TestCacheControlHeaders(t *testing.T) {
	up, url := newCountingMock(t, 0)
	ts := newTestServer(t, cacheConfig(url, ""), nil)
	q := chatBody("What is HTTP?")
	r, _ := chat(t, ts, q, "Cache-Control", "no-store")
	if r.Header.Get("X-Semgate-Cache") != "miss" {
		t.Fatal(r.Header.Get("X-Semgate-Cache"))
	}
	if r, _ = chat(t, ts, q); r.Header.Get("X-Semgate-Cache") != "miss" {
		t.Fatal("no-store answer was stored")
	}
	if r, _ = chat(t, ts, q); r.Header.Get("X-Semgate-Cache") != "hit-exact" {
		t.Fatal("not stored")
	}
	if r, _ = chat(t, ts, q, "Cache-Control", "no-cache"); r.Header.Get("X-Semgate-Cache") != "refresh" {
		t.Fatalf("no-cache: %s", r.Header.Get("X-Semgate-Cache"))
	}
	if r, _ = chat(t, ts, q, "X-Semgate-Cache", "off"); r.Header.Get("X-Semgate-Cache") != "bypass" {
		t.Fatalf("off: %s", r.Header.Get("X-Semgate-Cache"))
	}
	if r, _ = chat(t, ts, q, "Cache-Control", "max-age=3600"); r.Header.Get("X-Semgate-Cache") != "hit-exact" {
		t.Fatalf("max-age=3600: %s", r.Header.Get("X-Semgate-Cache"))
	}
	if want := int32(4); up.calls.Load() != want {
		t.Fatalf("upstream calls %d, want %d", up.calls.Load(), want)
	}
	for _, h := range [][2]string{{"Cache-Control", "max-age=abc"}, {"X-Semgate-Cache-Ttl", "-5"}, {"X-Semgate-Cache", "maybe"}, {"X-Semgate-Cache-Threshold", "2"}} {
		r, body := chat(t, ts, q, h[0], h[1])
		if r.StatusCode != 400 {
			t.Fatalf("%s: %s: %d", h[0], h[1], r.StatusCode)
		}
		decodeError(t, []byte(body))
	}
}

func TestCacheStreamAndJSONForms(t *testing.T) {
	up, url := newCountingMock(t, 0)
	ts := newTestServer(t, cacheConfig(url, ""), nil)
	// A streamed miss, then a JSON hit from the assembled entry.
	sr := post(t, ts.URL+"/v1/chat/completions", chatBody("Explain TCP", `"stream":true`))
	if sr.Header.Get("X-Semgate-Cache") != "miss" {
		t.Fatal(sr.Header.Get("X-Semgate-Cache"))
	}
	streamed := readEvents(t, sr.Body)
	r, body := chat(t, ts, chatBody("Explain TCP"))
	if r.Header.Get("X-Semgate-Cache") != "hit-exact" {
		t.Fatalf("JSON after stream: %s", r.Header.Get("X-Semgate-Cache"))
	}
	var c struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	json.Unmarshal([]byte(body), &c)
	var text strings.Builder
	for _, e := range streamed[:len(streamed)-1] {
		var ch struct {
			Choices []struct {
				Delta struct{ Content string } `json:"delta"`
			} `json:"choices"`
		}
		json.Unmarshal([]byte(e), &ch)
		for _, x := range ch.Choices {
			text.WriteString(x.Delta.Content)
		}
	}
	if len(c.Choices) != 1 || c.Choices[0].Message.Content != text.String() || text.Len() == 0 {
		t.Fatalf("hit %q != streamed %q", body, text.String())
	}
	// A JSON miss, then a streamed hit.
	_, jbody := chat(t, ts, chatBody("Explain UDP"))
	sr = post(t, ts.URL+"/v1/chat/completions", chatBody("Explain UDP", `"stream":true`, `"stream_options":{"include_usage":true}`))
	if sr.Header.Get("X-Semgate-Cache") != "hit-exact" || sr.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream after JSON: %v", sr.Header)
	}
	events := readEvents(t, sr.Body)
	if events[len(events)-1] != "[DONE]" || !strings.Contains(events[len(events)-2], `"usage"`) {
		t.Fatalf("replay: %q", events)
	}
	asm := answer.NewAssembler("chat")
	for _, e := range events[:len(events)-1] {
		if err := asm.Add([]byte(e)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := asm.Result()
	if err != nil {
		t.Fatal(err)
	}
	// The stream form cannot carry every message field (annotations), so
	// compare what it does carry.
	type answer struct {
		Choices []struct {
			Message struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage json.RawMessage `json:"usage"`
	}
	var a, b answer
	json.Unmarshal(got, &a)
	json.Unmarshal([]byte(jbody), &b)
	ac, _ := json.Marshal(a.Choices)
	bc, _ := json.Marshal(b.Choices)
	if len(a.Choices) != 1 || string(ac) != string(bc) || !jsonEqual(t, a.Usage, b.Usage) {
		t.Fatalf("replayed stream\n%s\n!= stored\n%s", got, jbody)
	}
	if up.calls.Load() != 2 {
		t.Fatalf("upstream calls %d", up.calls.Load())
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

func TestCacheNeverStoresFailures(t *testing.T) {
	up, url := newCountingMock(t, 0)
	// One attempt per request and no breaker: this counts cache stores.
	ts := newTestServer(t, cacheConfig(url, "routing: {retry: {max_attempts: 1}, breaker: {disabled: true}}\n"), nil)
	for _, tc := range []struct{ name, body string }{
		{"upstream 500", chatBody("q1", `"mock_fault":"500"`)},
		{"truncated stream", chatBody("q2", `"stream":true`, `"mock_fault":"truncate"`)},
		{"malformed", chatBody("q3", `"mock_fault":"malformed"`)},
		{"length", chatBody("q4 tell me everything", `"max_tokens":2`)},
	} {
		r := post(t, ts.URL+"/v1/chat/completions", tc.body)
		io.Copy(io.Discard, r.Body)
		r2 := post(t, ts.URL+"/v1/chat/completions", tc.body)
		io.Copy(io.Discard, r2.Body)
		if got := r2.Header.Get("X-Semgate-Cache"); got != "miss" {
			t.Errorf("%s: second request %q: a failure was stored", tc.name, got)
		}
	}
	if up.calls.Load() != 8 {
		t.Fatalf("upstream calls %d, want 8", up.calls.Load())
	}
}

func TestCacheCoalescesConcurrentMisses(t *testing.T) {
	up, url := newCountingMock(t, 200*time.Millisecond)
	ts := newTestServer(t, cacheConfig(url, ""), nil)
	var wg sync.WaitGroup
	bodies := make([]string, 8)
	results := make([]string, 8)
	for i := range bodies {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, b := chat(t, ts, chatBody("Same question at the same time"))
			bodies[i], results[i] = b, r.Header.Get("X-Semgate-Cache")
		}(i)
	}
	wg.Wait()
	if up.calls.Load() != 1 {
		t.Fatalf("8 identical concurrent requests made %d upstream calls (results %v)", up.calls.Load(), results)
	}
	for i := range bodies {
		if bodies[i] != bodies[0] {
			t.Fatal("coalesced requests got different answers")
		}
	}
}

func TestCacheEmbedderFailureFallsBackToExact(t *testing.T) {
	up, url := newCountingMock(t, 0)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"error":{"message":"down"}}`, 503)
	}))
	defer broken.Close()
	ts := newTestServer(t, cacheConfig(url, "embed:\n  model: openai\n  dimensions: 8\n  openai:\n    base_url: "+broken.URL+"/v1\n    model: e\n"), nil)
	r, _ := chat(t, ts, chatBody("Will this be served?"))
	if r.StatusCode != 200 || r.Header.Get("X-Semgate-Cache") != "miss" {
		t.Fatalf("%d %s", r.StatusCode, r.Header.Get("X-Semgate-Cache"))
	}
	r, _ = chat(t, ts, chatBody("Will this be served?"))
	if r.StatusCode != 200 || r.Header.Get("X-Semgate-Cache") != "hit-exact" {
		t.Fatalf("exact tier after embedder failure: %d %s", r.StatusCode, r.Header.Get("X-Semgate-Cache"))
	}
	// The word channel needs no embedder: a formatting variant is still
	// found and verified.
	r, _ = chat(t, ts, chatBody("will this be served"))
	if r.StatusCode != 200 || r.Header.Get("X-Semgate-Cache") != "hit-semantic" || r.Header.Get("X-Semgate-Similarity") != "" {
		t.Fatalf("word channel after embedder failure: %d %s %v", r.StatusCode, r.Header.Get("X-Semgate-Cache"), r.Header)
	}
	if up.calls.Load() != 1 {
		t.Fatalf("upstream calls %d", up.calls.Load())
	}
}

func TestCacheSurvivesRestart(t *testing.T) {
	_, url := newCountingMock(t, 0)
	dir := t.TempDir()
	open := func() (*Server, *httptest.Server) {
		cfg, err := ParseConfig([]byte(cacheConfig(url, "")), noEnv)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Storage.Dir = dir
		srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		return srv, httptest.NewServer(srv.Handler())
	}
	srv, hs := open()
	ts := &testServer{Server: srv, URL: hs.URL}
	_, first := chat(t, ts, chatBody("Persist me"))
	hs.Close()
	srv.Close()

	srv, hs = open()
	defer func() { hs.Close(); srv.Close() }()
	ts = &testServer{Server: srv, URL: hs.URL}
	r, second := chat(t, ts, chatBody("Persist me"))
	if r.Header.Get("X-Semgate-Cache") != "hit-exact" || second != first {
		t.Fatalf("after restart: %s", r.Header.Get("X-Semgate-Cache"))
	}
	r, second = chat(t, ts, chatBody("persist me!"))
	if r.Header.Get("X-Semgate-Cache") != "hit-semantic" || second != first {
		t.Fatalf("variant after restart: %s", r.Header.Get("X-Semgate-Cache"))
	}
}

func TestAdminCache(t *testing.T) {
	_, url := newCountingMock(t, 0)
	ts := newTestServer(t, cacheConfig(url, ""), nil)
	r, _ := chat(t, ts, chatBody("one"), "X-Semgate-Cache-Ttl", "90")
	key := r.Header.Get("X-Semgate-Cache-Key")
	chat(t, ts, chatBody("two"))
	chat(t, ts, chatBody("one"))

	get := func(path string) map[string]any {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, err)
		}
		return m
	}
	st := get("/admin/cache/stats")
	if st["entries"].(float64) != 2 || st["exact_hits"].(float64) != 1 || st["misses"].(float64) != 2 {
		t.Fatalf("stats %v", st)
	}
	list := get("/admin/cache/entries?limit=10")["data"].([]any)
	if len(list) != 2 {
		t.Fatalf("entries %v", list)
	}
	for _, it := range list {
		e := it.(map[string]any)
		if e["key"] == key {
			created, _ := time.Parse(time.RFC3339Nano, e["created"].(string))
			expires, _ := time.Parse(time.RFC3339Nano, e["expires"].(string))
			if d := expires.Sub(created); d < 89*time.Second || d > 91*time.Second {
				t.Fatalf("x-semgate-cache-ttl 90 gave a lifetime of %v", d)
			}
		}
	}
	del := func(path string) int {
		req, _ := http.NewRequest(http.MethodDelete, ts.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if del("/admin/cache/entries/"+key) != 200 || del("/admin/cache/entries/"+key) != 404 || del("/admin/cache/entries/zz") != 400 {
		t.Fatal("delete by key")
	}
	if r, _ := chat(t, ts, chatBody("one")); r.Header.Get("X-Semgate-Cache") != "miss" {
		t.Fatal("deleted entry still served")
	}
	if del("/admin/cache?model=m") != 200 || get("/admin/cache/stats")["entries"].(float64) != 0 {
		t.Fatal("flush by model")
	}
}

// TestCacheUseLiteForeignWords: with the built-in neural encoder (the
// shipped default), a paraphrase hits, but questions that differ only in
// words of a non-Latin script, which use-lite-en reads as one unknown
// token (cosine 1.0 between them), never share an answer.
func TestCacheUseLiteForeignWords(t *testing.T) {
	up, url := newCountingMock(t, 0)
	ts := newTestServer(t, cacheConfig(url, "embed:\n  model: use-lite-en\n"), nil)
	_, first := chat(t, ts, chatBody("How do I reset my password?"))
	r, second := chat(t, ts, chatBody("How can I reset my password?"))
	if r.Header.Get("X-Semgate-Cache") != "hit-semantic" || second != first {
		t.Fatalf("paraphrase: cache %q", r.Header.Get("X-Semgate-Cache"))
	}
	for _, p := range [][2]string{
		{"What does 심하잖아 mean?", "What does 任せてほしい mean?"},
		{"How do I translate 意思意思 into English?", "How do I translate 扣帽子 into English?"},
	} {
		_, a := chat(t, ts, chatBody(p[0]))
		r, b := chat(t, ts, chatBody(p[1]))
		if got := r.Header.Get("X-Semgate-Cache"); got != "miss" || a == b {
			t.Errorf("%q after %q: cache %q (similarity %s)", p[1], p[0], got, r.Header.Get("X-Semgate-Similarity"))
		}
	}
	if want := int32(5); up.calls.Load() != want {
		t.Fatalf("upstream calls %d, want %d", up.calls.Load(), want)
	}
}

func TestAdminCacheExplain(t *testing.T) {
	_, url := newCountingMock(t, 0)
	ts := newTestServer(t, cacheConfig(url, ""), nil)
	explain := func(body string) (int, map[string]any) {
		resp := post(t, ts.URL+"/admin/cache/explain", body)
		var out map[string]any
		json.Unmarshal(readBody(t, resp), &out)
		return resp.StatusCode, out
	}
	code, out := explain(`{"a":"How do I reverse a list in Python?","b":"How do I revrese a list in Python?"}`)
	if code != 200 || out["decision"] != "hit-semantic" || out["reason"] != "verified" || out["explanation"] != "typo(reverse→revrese)" {
		t.Fatalf("typo: %d %v", code, out)
	}
	if ch := out["channels"].(map[string]any); ch["words"] != true {
		t.Fatalf("channels %v", ch)
	}
	if sim := out["similarity"].(map[string]any); sim["lexical"] == nil {
		t.Fatalf("similarity %v", sim)
	}
	code, out = explain(`{"a":"Top 10 customers by revenue","b":"Top 5 customers by revenue"}`)
	v := out["verdict"].(map[string]any)
	if code != 200 || out["decision"] != "miss" || out["reason"] != "verifier" || v["rule"] != "number" {
		t.Fatalf("number: %d %v", code, out)
	}
	code, out = explain(`{"a":"Hello there","b":"  Hello there\n"}`)
	if code != 200 || out["decision"] != "hit-exact" {
		t.Fatalf("exact: %d %v", code, out)
	}
	for _, bad := range []string{`{"a":"x"}`, `{"a":1,"b":"y"}`, `[1]`, `{"a":"x","b":"y","c":1}`, `not json`} {
		if code, out := explain(bad); code != 400 || out["error"] == nil {
			t.Errorf("%s: %d %v", bad, code, out)
		}
	}
}

// use-lite-en reads the first 128 tokens; the verifier compares whole
// prompts, so a long shared document followed by a different question, or
// with one change in the middle, is a miss even at similarity 1, while a
// typo in the question still hits.
func TestCacheUseLiteLongPrompts(t *testing.T) {
	up, url := newCountingMock(t, 0)
	ts := newTestServer(t, cacheConfig(url, "embed:\n  model: use-lite-en\n"), nil)
	doc := strings.Repeat("Our team ships a payments service written in Go; it runs on three regions and handles card refunds, disputes and payouts for merchants. ", 6)
	_, first := chat(t, ts, chatBody(doc+"\n\nWhat are the main risks in this design?"))
	for _, b := range []string{
		doc + "\n\nHow would you reduce the cost of this design?",
		strings.Replace(doc, "three regions", "two regions", 1) + "\n\nWhat are the main risks in this design?",
	} {
		r, body := chat(t, ts, chatBody(b))
		if r.Header.Get("X-Semgate-Cache") != "miss" || body == first {
			t.Errorf("long prompt, other question or one change: %s (similarity %s, %s)", r.Header.Get("X-Semgate-Cache"),
				r.Header.Get("X-Semgate-Similarity"), r.Header.Get("X-Semgate-Verify"))
		}
	}
	r, body := chat(t, ts, chatBody(doc+"\n\nWhat are the main rsiks in this design?"))
	if r.Header.Get("X-Semgate-Cache") != "hit-semantic" || body != first || r.Header.Get("X-Semgate-Verify") != "typo(risks->rsiks)" {
		t.Fatalf("typo in the question: %s %q", r.Header.Get("X-Semgate-Cache"), r.Header.Get("X-Semgate-Verify"))
	}
	if up.calls.Load() != 3 {
		t.Fatalf("upstream calls %d, want 3", up.calls.Load())
	}
}
