package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/semgate/semgate/providers/mock"
)

// mockUpstream is the mock upstream over HTTP, with a call counter, the
// last request body, and a fault forced on every request while set.
type mockUpstream struct {
	h     *mock.Handler
	calls atomic.Int32
	fault atomic.Pointer[string]
	body  atomic.Pointer[[]byte]
	url   string
}

func newMockUpstream(t *testing.T, o mock.Options) *mockUpstream {
	t.Helper()
	h, err := mock.NewHandler(o)
	if err != nil {
		t.Fatal(err)
	}
	m := &mockUpstream{h: h}
	s := httptest.NewServer(m)
	t.Cleanup(func() { h.Close(); s.Close() })
	m.url = s.URL + "/v1"
	return m
}

func (m *mockUpstream) setFault(f string) { m.fault.Store(&f) }

func (m *mockUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.calls.Add(1)
	b, _ := io.ReadAll(r.Body)
	m.body.Store(&b)
	r.Body = io.NopCloser(bytes.NewReader(b))
	if f := m.fault.Load(); f != nil && *f != "" {
		r.Header.Set("X-Mock-Fault", *f)
	}
	m.h.ServeHTTP(w, r)
}

// testClock is a manual clock safe to read from handlers.
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC).UnixNano())
	return c
}
func (c *testClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// routeConfig declares providers upa, upb... for the upstreams, the cache
// off, then rest (models and routing sections).
func routeConfig(rest string, ups ...*mockUpstream) string {
	var b strings.Builder
	b.WriteString("cache: {disabled: true}\nproviders:\n")
	for i, u := range ups {
		fmt.Fprintf(&b, "  - {name: up%c, type: openai, base_url: %q, timeout: 2s, idle_timeout: 2s}\n", 'a'+i, u.url)
	}
	b.WriteString(rest)
	return b.String()
}

// newRouteServer serves yaml with the routing clock set to c (if not nil)
// in dir (a temp dir if "").
func newRouteServer(t *testing.T, yaml string, c *testClock, dir string) (*Server, string) {
	t.Helper()
	cfg, err := ParseConfig([]byte(yaml), noEnv)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	if dir == "" {
		dir = t.TempDir()
	}
	cfg.Storage.Dir = dir
	cfg.Routing.Seed = 1
	if c != nil {
		cfg.Routing.Now = c.now
	}
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return srv, hs.URL
}

func chatReq(model, content string, extra ...string) string {
	b := `{"model":"` + model + `","messages":[{"role":"user","content":` + jsonString(content) + `}]`
	for _, e := range extra {
		b += "," + e
	}
	return b + "}"
}

type routedAnswer struct {
	status   int
	header   http.Header
	trailer  http.Header
	body     []byte
	provider string
	attempts int
}

func do(t *testing.T, url, body string) routedAnswer {
	t.Helper()
	resp := post(t, url+"/v1/chat/completions", body)
	b := readBody(t, resp)
	n, _ := strconv.Atoi(resp.Header.Get("X-Semgate-Attempts"))
	return routedAnswer{resp.StatusCode, resp.Header, resp.Trailer, b, resp.Header.Get("X-Semgate-Provider"), n}
}

func TestFallbackRecoversEveryFault(t *testing.T) {
	t.Parallel()
	kinds := []string{"429", "500", "502", "503", "504", "reset", "stall", "truncate", "malformed"}
	for _, stream := range []bool{false, true} {
		for _, kind := range kinds {
			if stream && (kind == "stall" || kind == "truncate" || kind == "malformed") {
				continue // these fail after the first byte: no fallback by design (TestStreamFailureAfterFirstByte)
			}
			t.Run(fmt.Sprintf("%s/stream=%v", kind, stream), func(t *testing.T) {
				t.Parallel()
				bad, good := newMockUpstream(t, mock.Options{}), newMockUpstream(t, mock.Options{})
				bad.setFault(kind)
				_, url := newRouteServer(t, routeConfig(`models:
  - name: m
    policy: priority
    deployments:
      - {provider: upa, model: mock-small, timeout: 300ms}
      - {provider: upb, model: mock-small}
`, bad, good), nil, "")
				extra := []string{}
				if stream {
					extra = append(extra, `"stream":true`)
				}
				a := do(t, url, chatReq("m", "Hello", extra...))
				if a.status != 200 || a.provider != "upb" || a.attempts != 2 {
					t.Fatalf("status %d provider %q attempts %d: %s", a.status, a.provider, a.attempts, a.body)
				}
				if bad.calls.Load() != 1 || good.calls.Load() != 1 {
					t.Fatalf("calls bad %d good %d", bad.calls.Load(), good.calls.Load())
				}
				if r := a.header.Get("X-Semgate-Route"); !strings.HasPrefix(r, "priority: ") || !strings.Contains(r, "fell back after 1") {
					t.Fatalf("route header %q", r)
				}
			})
		}
	}
}

func TestStreamFailureAfterFirstByte(t *testing.T) {
	t.Parallel()
	bad, good := newMockUpstream(t, mock.Options{}), newMockUpstream(t, mock.Options{})
	bad.setFault("truncate")
	_, url := newRouteServer(t, routeConfig("models:\n  - {name: m, policy: priority, deployments: [{provider: upa, model: x, price: {input: 1, output: 1}}, {provider: upb, model: x}]}\n", bad, good), nil, "")
	a := do(t, url, chatReq("m", "Tell me a story", `"stream":true`))
	ev := readEvents(t, bytes.NewReader(a.body))
	if a.provider != "upa" || good.calls.Load() != 0 || len(ev) == 0 || !strings.Contains(ev[len(ev)-1], `"error"`) {
		t.Fatalf("provider %q, good calls %d, events %q", a.provider, good.calls.Load(), ev)
	}
	// What was relayed is still charged: counted, since no usage came.
	if c, _ := strconv.ParseFloat(a.trailer.Get("X-Semgate-Cost-Usd"), 64); c <= 0 {
		t.Fatalf("cost trailer %q", a.trailer.Get("X-Semgate-Cost-Usd"))
	}
}

func TestAllDeploymentsFail(t *testing.T) {
	t.Parallel()
	a, b := newMockUpstream(t, mock.Options{}), newMockUpstream(t, mock.Options{})
	a.setFault("503")
	b.setFault("500")
	_, url := newRouteServer(t, routeConfig("routing: {retry: {max_attempts: 2}}\nmodels:\n  - {name: m, policy: priority, deployments: [{provider: upa, model: x}, {provider: upb, model: x}]}\n", a, b), nil, "")
	r := do(t, url, chatReq("m", "Hello"))
	e := decodeError(t, r.body)
	if r.status != 502 || !strings.Contains(e.Message, "upstream upb failed (status 500)") || r.attempts != 2 {
		t.Fatalf("status %d attempts %d: %+v", r.status, r.attempts, e)
	}

	// Timeouts everywhere: 504.
	c, d := newMockUpstream(t, mock.Options{}), newMockUpstream(t, mock.Options{})
	c.setFault("stall")
	d.setFault("stall")
	_, url = newRouteServer(t, routeConfig("routing: {retry: {max_attempts: 2}}\nmodels:\n  - {name: m, deployments: [{provider: upa, model: x, timeout: 100ms}, {provider: upb, model: x, timeout: 100ms}]}\n", c, d), nil, "")
	r = do(t, url, chatReq("m", "Hello"))
	if e := decodeError(t, r.body); r.status != 504 || e.Type != typeTimeout {
		t.Fatalf("status %d: %+v", r.status, e)
	}
}

func TestBreakerOpensAndCloses(t *testing.T) {
	t.Parallel()
	a, b := newMockUpstream(t, mock.Options{}), newMockUpstream(t, mock.Options{})
	a.setFault("500")
	clk := newTestClock()
	_, url := newRouteServer(t, routeConfig(`routing:
  retry: {max_attempts: 2}
  breaker: {failures: 2, cooldown: 30s}
models:
  - {name: m, policy: priority, deployments: [{provider: upa, model: x}, {provider: upb, model: x}]}
`, a, b), clk, "")
	step := func(wantProvider string, wantACalls int32) {
		t.Helper()
		r := do(t, url, chatReq("m", "Hello"))
		if r.status != 200 || r.provider != wantProvider || a.calls.Load() != wantACalls {
			t.Fatalf("status %d provider %q (want %q), upa calls %d (want %d): %s", r.status, r.provider, wantProvider, a.calls.Load(), wantACalls, r.body)
		}
	}
	step("upb", 1)
	step("upb", 2) // second consecutive failure: open
	step("upb", 2) // skipped while open
	clk.advance(29 * time.Second)
	step("upb", 2)
	clk.advance(2 * time.Second)
	step("upb", 3) // half-open probe fails: open again
	step("upb", 3)
	a.setFault("")
	clk.advance(31 * time.Second)
	step("upa", 4) // probe succeeds: closed
	step("upa", 5)
}

func TestNoHealthyDeploymentIs503(t *testing.T) {
	t.Parallel()
	a := newMockUpstream(t, mock.Options{})
	a.setFault("500")
	clk := newTestClock()
	_, url := newRouteServer(t, routeConfig("routing: {retry: {max_attempts: 1}, breaker: {failures: 2, cooldown: 30s}}\nmodels:\n  - {name: m, deployments: [{provider: upa, model: x}]}\n", a), clk, "")
	do(t, url, chatReq("m", "Hello"))
	do(t, url, chatReq("m", "Hello"))
	r := do(t, url, chatReq("m", "Hello"))
	e := decodeError(t, r.body)
	if r.status != 503 || e.Code == nil || *e.Code != "no_deployment_available" || !strings.Contains(e.Message, "circuit open") ||
		!strings.Contains(e.Message, "last upstream error") || r.header.Get("Retry-After") != "30" || a.calls.Load() != 2 {
		t.Fatalf("status %d Retry-After %q calls %d: %+v", r.status, r.header.Get("Retry-After"), a.calls.Load(), e)
	}
}

func TestRateLimitCooldownSkipsDeployment(t *testing.T) {
	t.Parallel()
	a, b := newMockUpstream(t, mock.Options{RetryAfter: 10}), newMockUpstream(t, mock.Options{})
	a.setFault("429")
	clk := newTestClock()
	_, url := newRouteServer(t, routeConfig("models:\n  - {name: m, policy: priority, deployments: [{provider: upa, model: x}, {provider: upb, model: x}]}\n", a, b), clk, "")
	if r := do(t, url, chatReq("m", "Hello")); r.provider != "upb" || a.calls.Load() != 1 {
		t.Fatalf("%q %d", r.provider, a.calls.Load())
	}
	a.setFault("")
	if r := do(t, url, chatReq("m", "Hello")); r.provider != "upb" || a.calls.Load() != 1 {
		t.Fatalf("during Retry-After: %q %d", r.provider, a.calls.Load())
	}
	clk.advance(10 * time.Second)
	if r := do(t, url, chatReq("m", "Hello")); r.provider != "upa" {
		t.Fatalf("after Retry-After: %q", r.provider)
	}
}

func TestCostPolicyPicksCheapestEligible(t *testing.T) {
	t.Parallel()
	cheap, small, dear := newMockUpstream(t, mock.Options{}), newMockUpstream(t, mock.Options{}), newMockUpstream(t, mock.Options{})
	_, url := newRouteServer(t, routeConfig(`models:
  - name: m
    deployments:
      - {provider: upc, model: dear, price: {input: 2.5, output: 10}, context_window: 128000}
      - {provider: upa, model: cheap, price: {input: 0.1, output: 0.4}, context_window: 128000, capabilities: [tools, streaming]}
      - {provider: upb, model: small, price: {input: 0.5, output: 1.5}, context_window: 1000}
`, cheap, small, dear), nil, "")
	r := do(t, url, chatReq("m", "Hello"))
	if r.provider != "upa" || !strings.HasPrefix(r.header.Get("X-Semgate-Route"), "cost: cheapest of 3 eligible") {
		t.Fatalf("text: %q %q", r.provider, r.header.Get("X-Semgate-Route"))
	}
	// The cost header is the answer's usage at the deployment's price.
	var body struct {
		Usage struct{ PromptTokens, CompletionTokens int } `json:"usage"`
	}
	json.Unmarshal(r.body, &body)
	var u struct {
		Usage struct {
			P int `json:"prompt_tokens"`
			C int `json:"completion_tokens"`
		} `json:"usage"`
	}
	json.Unmarshal(r.body, &u)
	want := formatUSD(int64((float64(u.Usage.P)*0.1 + float64(u.Usage.C)*0.4) * 1e3))
	if got := r.header.Get("X-Semgate-Cost-Usd"); got != want || u.Usage.P == 0 {
		t.Fatalf("cost %q, want %q (usage %+v)", got, want, u.Usage)
	}
	// An image: cheap lacks vision.
	img := `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"data:,"}}]}]}`
	if r := do(t, url, img); r.provider != "upb" || !strings.Contains(r.header.Get("X-Semgate-Route"), "1 excluded (capabilities)") {
		t.Fatalf("image: %q %q", r.provider, r.header.Get("X-Semgate-Route"))
	}
	// Too long for small's window, and an image: only dear remains.
	long := strings.Replace(img, "What is this?", strings.Repeat("What is this? ", 300), 1)
	if r := do(t, url, long); r.provider != "upc" {
		t.Fatalf("long image: %q %s", r.provider, r.body)
	}
}

func TestRoutingClientErrors(t *testing.T) {
	t.Parallel()
	a := newMockUpstream(t, mock.Options{})
	_, url := newRouteServer(t, routeConfig("models:\n  - {name: m, deployments: [{provider: upa, model: x, context_window: 50, capabilities: [streaming]}]}\n", a), nil, "")
	r := do(t, url, chatReq("m", strings.Repeat("many words here ", 40)))
	if e := decodeError(t, r.body); r.status != 400 || e.Code == nil || *e.Code != "context_length_exceeded" {
		t.Fatalf("long prompt: %d %+v", r.status, e)
	}
	r = do(t, url, chatReq("m", "hi", `"tools":[{"type":"function","function":{"name":"f"}}]`))
	if e := decodeError(t, r.body); r.status != 400 || !strings.Contains(e.Message, "lacks tools") {
		t.Fatalf("tools: %d %+v", r.status, e)
	}
	if a.calls.Load() != 0 {
		t.Fatal("an ineligible request reached the upstream")
	}
}

// usageTotals fetches GET /admin/usage.
func usageTotals(t *testing.T, url, period string) usageReport {
	t.Helper()
	resp, err := http.Get(url + "/admin/usage?period=" + period)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep usageReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil || resp.StatusCode != 200 {
		t.Fatalf("usage: %d %v", resp.StatusCode, err)
	}
	return rep
}

func TestNoDoubleChargeOnRetryAndTotalsSurviveRestart(t *testing.T) {
	t.Parallel()
	a, b := newMockUpstream(t, mock.Options{}), newMockUpstream(t, mock.Options{})
	a.setFault("500")
	yaml := routeConfig("models:\n  - {name: m, policy: priority, deployments: [{provider: upa, model: x, price: {input: 1, output: 1}}, {provider: upb, model: y, price: {input: 2, output: 4}}]}\n", a, b)
	dir := t.TempDir()
	srv, url := newRouteServer(t, yaml, nil, dir)
	r := do(t, url, chatReq("m", "Hello there"))
	var u struct {
		Usage struct {
			P int `json:"prompt_tokens"`
			C int `json:"completion_tokens"`
		} `json:"usage"`
	}
	json.Unmarshal(r.body, &u)
	wantNano := int64(u.Usage.P*2000 + u.Usage.C*4000)
	rep := usageTotals(t, url, "total")
	m := rep.Models["m"]
	if m.Requests != 1 || m.Attempts != 2 || m.CostNano != wantNano || m.PromptTokens != int64(u.Usage.P) {
		t.Fatalf("model totals %+v, want cost %d", m, wantNano)
	}
	if _, charged := rep.Deployments["upa/x"]; charged || rep.Deployments["upb/y"].CostNano != wantNano {
		t.Fatalf("deployments %+v", rep.Deployments)
	}
	if rep.Keys["none"].Requests != 1 || rep.Tenants["default"].Requests != 1 || rep.Health["upa/x"].StateName != "closed" {
		t.Fatalf("keys %+v tenants %+v health %+v", rep.Keys, rep.Tenants, rep.Health)
	}
	if day := usageTotals(t, url, "day"); day.Models["m"].CostNano != wantNano {
		t.Fatalf("day %+v", day.Models)
	}
	// Prometheus: b's cost counted, a's not.
	resp, _ := http.Get(url + "/metrics")
	mb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(mb), `semgate_cost_usd_total{alias="m",provider="upb",model="y"} `) ||
		!strings.Contains(string(mb), `semgate_cost_usd_total{alias="m",provider="upa",model="x"} 0`) {
		t.Fatalf("metrics lack the cost counters")
	}
	// After a restart the totals are still there.
	srv.Close()
	_, url2 := newRouteServer(t, yaml, nil, dir)
	if m := usageTotals(t, url2, "total").Models["m"]; m.CostNano != wantNano || m.Requests != 1 {
		t.Fatalf("after restart %+v", m)
	}
}

func TestStreamUsageRequestedAndStripped(t *testing.T) {
	t.Parallel()
	a := newMockUpstream(t, mock.Options{})
	_, url := newRouteServer(t, routeConfig("models:\n  - {name: m, deployments: [{provider: upa, model: x, price: {input: 1, output: 1}}]}\n", a), nil, "")
	r := do(t, url, chatReq("m", "Hello", `"stream":true`))
	if !strings.Contains(string(*a.body.Load()), `"stream_options":{"include_usage":true}`) {
		t.Fatalf("upstream body %s", *a.body.Load())
	}
	for _, ev := range readEvents(t, bytes.NewReader(r.body)) {
		if strings.Contains(ev, `"usage":{`) {
			t.Fatalf("usage chunk relayed to a client that did not ask: %s", ev)
		}
	}
	if c, _ := strconv.ParseFloat(r.trailer.Get("X-Semgate-Cost-Usd"), 64); c <= 0 || r.header.Get("X-Semgate-Cost-Usd") != "" {
		t.Fatalf("cost trailer %q header %q", r.trailer.Get("X-Semgate-Cost-Usd"), r.header.Get("X-Semgate-Cost-Usd"))
	}
	r = do(t, url, chatReq("m", "Hello", `"stream":true`, `"stream_options":{"include_usage":true}`))
	ev := readEvents(t, bytes.NewReader(r.body))
	if len(ev) < 2 || !strings.Contains(ev[len(ev)-2], `"usage":{`) {
		t.Fatalf("usage chunk missing for a client that asked: %q", ev)
	}
}

func TestCacheHitCostsNothing(t *testing.T) {
	t.Parallel()
	a := newMockUpstream(t, mock.Options{})
	yaml := strings.Replace(routeConfig("models:\n  - {name: m, deployments: [{provider: upa, model: x, price: {input: 1, output: 1}}]}\n", a), "cache: {disabled: true}\n", "", 1)
	_, url := newRouteServer(t, yaml, nil, "")
	first := do(t, url, chatReq("m", "Cache me"))
	second := do(t, url, chatReq("m", "Cache me"))
	if first.header.Get("X-Semgate-Cost-Usd") == "0" || second.header.Get("X-Semgate-Cache") != "hit-exact" || second.header.Get("X-Semgate-Cost-Usd") != "0" {
		t.Fatalf("miss cost %q, hit %q cost %q", first.header.Get("X-Semgate-Cost-Usd"), second.header.Get("X-Semgate-Cache"), second.header.Get("X-Semgate-Cost-Usd"))
	}
	m := usageTotals(t, url, "total").Models["m"]
	if m.Requests != 2 || m.CacheHits != 1 || m.Attempts != 1 {
		t.Fatalf("totals %+v", m)
	}
}

func TestAutoAliasRoutesByDifficulty(t *testing.T) {
	t.Parallel()
	cheap, strong := newMockUpstream(t, mock.Options{}), newMockUpstream(t, mock.Options{})
	_, url := newRouteServer(t, routeConfig(`models:
  - name: auto
    policy: auto
    auto: {thresholds: [0.3]}
    deployments:
      - {provider: upa, model: mock-small, tier: 1, price: {input: 0.15, output: 0.6}}
      - {provider: upb, model: mock-large, tier: 2, price: {input: 2.5, output: 10}}
`, cheap, strong), nil, "")
	if r := do(t, url, chatReq("auto", "What is the capital of France?")); r.provider != "upa" || !strings.Contains(r.header.Get("X-Semgate-Route"), "-> tier 1") {
		t.Fatalf("easy: %q %q", r.provider, r.header.Get("X-Semgate-Route"))
	}
	hard := "Implement a thread-safe LRU cache in Go.\n1. Use generics\n2. Add TTLs\nExplain the trade-offs.\n```go\nfunc New[K comparable, V any](n int) *Cache[K, V]\n```"
	if r := do(t, url, chatReq("auto", hard)); r.provider != "upb" || !strings.Contains(r.header.Get("X-Semgate-Route"), "-> tier 2") {
		t.Fatalf("hard: %q %q", r.provider, r.header.Get("X-Semgate-Route"))
	}
}

func TestRoutingConfigProblems(t *testing.T) {
	_, err := ParseConfig([]byte(`providers:
  - {name: p, type: mock}
routing:
  retry: {max_attempts: -1}
  breaker: {error_rate: 3}
models:
  - name: a
    policy: fastest
    deployments: [{provider: p, tier: -1, capabilities: [telepathy]}]
  - name: b
    policy: auto
    auto: {thresholds: [0.2, 0.5]}
    deployments: [{provider: p, tier: 1}, {provider: p}]
`), noEnv)
	for _, want := range []string{"routing: retry.max_attempts", "routing: breaker.error_rate", "unknown policy", "telepathy",
		"models[0].deployments[0]: tier", "models[1].deployments[1].tier: required", "models[1].auto.thresholds"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
}
