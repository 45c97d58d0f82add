package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/semgate/semgate/gateway/auth"
	"github.com/semgate/semgate/gateway/limits"
)

// limitsConfig serves alias "m" from the mock at a price: $100 per million
// prompt tokens, $100 per million completion tokens.
func limitsConfig(extra string) string {
	return "providers:\n  - {name: mock, type: mock, mock: {ttft: 5ms}}\n" +
		"models:\n  - {name: m, deployments: [{provider: mock, model: mock-a, price: {input: 100, output: 100}}]}\n" + extra
}

// limitClock gives the limits step a manual clock (routing_test.go's
// testClock), starting now.
func limitClock(ts *testServer) *testClock {
	c := newTestClock()
	c.ns.Store(time.Now().UnixNano())
	ts.quota.now = c.now
	return c
}

// oneByOne hides the limiter's limits.BatchLimiter, so that the limits
// step calls Allow and Charge once per allowance, as with a Limiter
// without it.
func oneByOne(ts *testServer) {
	ts.quota.lim = struct{ limits.Limiter }{ts.quota.lim}
	ts.quota.batch = nil
}

// batchModes runs f with the limiter's batch calls and without them.
func batchModes(t *testing.T, f func(t *testing.T, batch bool)) {
	for _, batch := range []bool{true, false} {
		name := "batch"
		if !batch {
			name = "one_by_one"
		}
		t.Run(name, func(t *testing.T) { f(t, batch) })
	}
}

func newKey(t *testing.T, ts *testServer, spec auth.Spec) (*auth.Key, string) {
	t.Helper()
	k, secret, err := ts.acl.keys.Create(spec)
	if err != nil {
		t.Fatal(err)
	}
	return k, secret
}

// TestLimitRequests: a key's request limit at its edges, with the clock
// under control: the burst passes (cache hits count), the next request
// gets 429 with Retry-After and OpenAI's headers, and passes once the
// rate allows; other keys and keyless requests are not limited by it.
func TestLimitRequests(t *testing.T) {
	ts := newTestServer(t, limitsConfig(""), nil)
	clk := limitClock(ts)
	_, sk := newKey(t, ts, auth.Spec{RateLimit: auth.RateLimit{RequestsPerMinute: 2}})
	body := chatBody("what is a rate limit?")

	for i, wantCache := range []string{"miss", "hit-exact"} {
		resp, out := chat(t, ts, body, bearer(sk)...)
		h := resp.Header
		if resp.StatusCode != 200 || h.Get(headerCache) != wantCache {
			t.Fatalf("request %d: %d %s %s", i, resp.StatusCode, h.Get(headerCache), out)
		}
		if h.Get("X-Ratelimit-Limit-Requests") != "2" || h.Get("X-Ratelimit-Remaining-Requests") != strconv.Itoa(1-i) ||
			h.Get("X-Ratelimit-Reset-Requests") != (time.Duration(i+1)*30*time.Second).String() {
			t.Fatalf("request %d headers: %v", i, h)
		}
		if h.Get("X-Ratelimit-Limit-Tokens") != "" {
			t.Fatalf("token headers without a token limit: %v", h)
		}
	}
	resp, out := chat(t, ts, body, bearer(sk)...)
	h := resp.Header
	if resp.StatusCode != 429 || h.Get("Retry-After") != "30" || h.Get("Retry-After-Ms") != "30000" ||
		h.Get("X-Ratelimit-Remaining-Requests") != "0" || h.Get("X-Ratelimit-Reset-Requests") != "1m0s" {
		t.Fatalf("third: %d %v %s", resp.StatusCode, h, out)
	}
	if e := decodeError(t, []byte(out)); e.Code == nil || *e.Code != "rate_limit_exceeded" || e.Type != "requests" {
		t.Fatalf("third: %s", out)
	}

	// Another key and a keyless request are not limited by this key.
	_, other := newKey(t, ts, auth.Spec{})
	if resp, _ := chat(t, ts, body, bearer(other)...); resp.StatusCode != 200 || resp.Header.Get("X-Ratelimit-Limit-Requests") != "" {
		t.Fatalf("other key: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ := chat(t, ts, body); resp.StatusCode != 200 {
		t.Fatalf("keyless: %d", resp.StatusCode)
	}

	clk.advance(29 * time.Second)
	if resp, _ := chat(t, ts, body, bearer(sk)...); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("a second early: %d %v", resp.StatusCode, resp.Header)
	}
	clk.advance(time.Second)
	if resp, _ := chat(t, ts, body, bearer(sk)...); resp.StatusCode != 200 || resp.Header.Get("X-Ratelimit-Remaining-Requests") != "0" {
		t.Fatalf("on time: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestLimitTokens: prompt tokens are taken before the upstream call and
// completion tokens after it; once spent, misses get 429 (type tokens)
// while cache hits still pass, unless limits.cache_hit_tokens.
func TestLimitTokens(t *testing.T) { batchModes(t, testLimitTokens) }

func testLimitTokens(t *testing.T, batch bool) {
	for _, hitTokens := range []bool{false, true} {
		t.Run("cache_hit_tokens="+strconv.FormatBool(hitTokens), func(t *testing.T) {
			ts := newTestServer(t, limitsConfig("limits:\n  cache_hit_tokens: "+strconv.FormatBool(hitTokens)+"\n"), nil)
			if !batch {
				oneByOne(ts)
			}
			clk := limitClock(ts)
			const tpm = 300
			_, sk := newKey(t, ts, auth.Spec{RateLimit: auth.RateLimit{TokensPerMinute: tpm}})
			first := chatBody("tell me about token buckets")
			used, served := 0, 0
			var refused string
			for i := range 20 {
				resp, out := chat(t, ts, chatBody("question number "+strconv.Itoa(i)+" about token buckets"), bearer(sk)...)
				if i == 0 {
					resp, out = chat(t, ts, first, bearer(sk)...)
				}
				if resp.StatusCode == 429 {
					refused = out
					if resp.Header.Get("X-Ratelimit-Limit-Tokens") != strconv.Itoa(tpm) || resp.Header.Get("Retry-After") == "" {
						t.Fatalf("429 headers %v", resp.Header)
					}
					break
				}
				if resp.StatusCode != 200 || resp.Header.Get("X-Ratelimit-Limit-Tokens") != strconv.Itoa(tpm) {
					t.Fatalf("request %d: %d %v %s", i, resp.StatusCode, resp.Header, out)
				}
				var a struct {
					Usage struct {
						TotalTokens int `json:"total_tokens"`
					}
				}
				json.Unmarshal([]byte(out), &a)
				used += a.Usage.TotalTokens
				served++
			}
			if refused == "" || served < 2 {
				t.Fatalf("served %d (%d tokens), refused %q", served, used, refused)
			}
			if e := decodeError(t, []byte(refused)); e.Type != "tokens" || e.Code == nil || *e.Code != "rate_limit_exceeded" {
				t.Fatalf("refusal %s", refused)
			}
			// Served answers used at most the allowance and one answer's
			// completion beyond it (reconciled after the call).
			if used > tpm+64 {
				t.Fatalf("served %d tokens under %d per minute", used, tpm)
			}
			resp, out := chat(t, ts, first, bearer(sk)...)
			switch {
			case !hitTokens && (resp.StatusCode != 200 || resp.Header.Get(headerCache) != "hit-exact"):
				t.Fatalf("hit with tokens spent: %d %s", resp.StatusCode, out)
			case hitTokens && resp.StatusCode != 429:
				t.Fatalf("hit counting tokens, with tokens spent: %d %s", resp.StatusCode, out)
			}
			clk.advance(time.Minute)
			if resp, out := chat(t, ts, chatBody("a fresh question"), bearer(sk)...); resp.StatusCode != 200 {
				t.Fatalf("a minute later: %d %s", resp.StatusCode, out)
			}
		})
	}
}

// TestLimitScopes: tenant ("*" and named), model alias and client IP
// limits from the limits section; a refused request gives back what it
// took from the limits checked before the one that refused it (with a
// BatchLimiter, it takes nothing from any).
func TestLimitScopes(t *testing.T) { batchModes(t, testLimitScopes) }

func testLimitScopes(t *testing.T, batch bool) {
	ts := newTestServer(t, limitsConfig(`limits:
  tenants:
    "*": {requests_per_minute: 3}
    big: {requests_per_minute: 100}
  models:
    m: {requests_per_minute: 5}
  ip: {requests_per_minute: 1}
`), nil)
	if !batch {
		oneByOne(ts)
	}
	limitClock(ts)
	_, small := newKey(t, ts, auth.Spec{Tenant: "small"})
	_, big := newKey(t, ts, auth.Spec{Tenant: "big"})
	expect := func(hdr []string, code int, scope string) {
		t.Helper()
		resp, out := chat(t, ts, chatBody("scopes"), hdr...)
		if resp.StatusCode != code || (scope != "" && !strings.Contains(out, "Rate limit reached for "+scope)) {
			t.Fatalf("want %d %s: %d %s", code, scope, resp.StatusCode, out)
		}
	}
	expect(nil, 200, "")                       // ip 1/1, tenant default 1/3, model 1/5
	expect(nil, 429, "ip 127.0.0.1")           // gives back tenant default and model
	expect(bearer(small), 200, "")             // model 2/5
	expect(bearer(small), 200, "")             // model 3/5
	expect(bearer(small), 200, "")             // model 4/5
	expect(bearer(small), 429, "tenant small") // model untouched
	expect(bearer(big), 200, "")               // model 5/5
	expect(bearer(big), 429, "model m")
}

// TestBudgetConcurrent: 50 concurrent requests on a key with a small
// daily budget: the key's spend never exceeds its budget by more than one
// request's settled cost, and the refused get 429 insufficient_quota.
func TestBudgetConcurrent(t *testing.T) {
	ts := newTestServer(t, limitsConfig("cache:\n  disabled: true\n"), nil)
	k, sk := newKey(t, ts, auth.Spec{Budget: auth.Budget{MaxUSD: 0.03, Period: "day"}})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var served, quota, retryable int
	var maxCost float64
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := chatBody("concurrent question "+strconv.Itoa(i), `"max_tokens":64`)
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/chat/completions", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+sk)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			switch resp.StatusCode {
			case 200:
				served++
				c, _ := strconv.ParseFloat(resp.Header.Get(headerCost), 64)
				maxCost = max(maxCost, c)
			case 429:
				if !strings.Contains(string(out), `"code":"insufficient_quota"`) {
					t.Errorf("429: %s", out)
				}
				quota++
				if resp.Header.Get("Retry-After") != "" {
					retryable++ // requests in flight held part of the budget
				}
			default:
				t.Errorf("%d %s", resp.StatusCode, out)
			}
		}()
	}
	wg.Wait()
	b := ts.quota.budgetsOf(&auth.Principal{Tenant: k.Tenant, Key: k})
	// A JSON answer can reach its client before its handler settles.
	got, reserved, _ := ts.quota.budgets.Status(context.Background(), b[0], time.Now())
	for deadline := time.Now().Add(5 * time.Second); reserved != 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		got, reserved, _ = ts.quota.budgets.Status(context.Background(), b[0], time.Now())
	}
	spent := float64(ts.routing.acct.costIn(dimKey, k.ID, limits.PeriodOf(limits.PeriodDay, time.Now()))) / 1e9
	t.Logf("served %d, refused %d (%d while requests were in flight), spent $%.6f of $0.03, largest answer $%.6f", served, quota, retryable, spent, maxCost)
	if served == 0 || quota == 0 || served+quota != 50 {
		t.Fatalf("served %d, refused %d", served, quota)
	}
	if spent > 0.03+maxCost+1e-9 {
		t.Fatalf("spent $%.6f on a $0.03 budget (largest answer $%.6f)", spent, maxCost)
	}
	if reserved != 0 || float64(got)/1e9 != spent {
		t.Fatalf("budget spent %d reserved %d, accounting $%f", got, reserved, spent)
	}
}

// TestBudgetDowngrade: with over_budget: downgrade, a request whose
// budget no longer covers the planned deployment goes to the cheapest
// one; with reject, to the planned one (its reservation capped).
func TestBudgetDowngrade(t *testing.T) {
	cfg := func(mode string) string {
		return "providers:\n  - {name: mock, type: mock}\n" +
			"models:\n  - name: m\n    policy: priority\n    deployments:\n" +
			"      - {provider: mock, model: big, price: {input: 1000, output: 1000}}\n" +
			"      - {provider: mock, model: small, price: {input: 1, output: 1}}\n" +
			"cache:\n  disabled: true\nlimits:\n  over_budget: " + mode + "\n"
	}
	body := chatBody("downgrade me", `"max_tokens":64`)
	for _, mode := range []string{"downgrade", "reject"} {
		ts := newTestServer(t, cfg(mode), nil)
		_, sk := newKey(t, ts, auth.Spec{Budget: auth.Budget{MaxUSD: 0.05}})
		resp, out := chat(t, ts, body, bearer(sk)...)
		want := "big"
		if mode == "downgrade" {
			want = "small"
		}
		if resp.StatusCode != 200 || resp.Header.Get(headerModel) != want || (mode == "downgrade") != (resp.Header.Get(headerBudget) == "downgraded") {
			t.Fatalf("%s: %d %v %s", mode, resp.StatusCode, resp.Header, out)
		}
	}
}

// TestBudgetRestart: a reservation whose request never settled (the
// process died) survives a restart and holds the budget until its lease
// ends; then it is released and its record deleted.
func TestBudgetRestart(t *testing.T) {
	dir := t.TempDir()
	start := func() (*Server, *httptest.Server) {
		cfg, err := ParseConfig([]byte(limitsConfig("cache:\n  disabled: true\nlimits:\n  reservation_lease: 1m\n")), func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatal(err)
		}
		cfg.Storage.Dir = dir
		s, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		return s, httptest.NewServer(s.Handler())
	}
	s1, h1 := start()
	k, sk, err := s1.acl.keys.Create(auth.Spec{Budget: auth.Budget{MaxUSD: 0.01, Period: "day"}})
	if err != nil {
		t.Fatal(err)
	}
	bs := s1.quota.budgetsOf(&auth.Principal{Tenant: k.Tenant, Key: k})
	if _, err := s1.quota.budgets.Reserve(context.Background(), bs, limits.USDToNano(1), time.Now()); err != nil {
		t.Fatal(err)
	}
	// The process stops without settling it.
	h1.Close()
	s1.Close()

	s2, h2 := start()
	defer func() { h2.Close(); s2.Close() }()
	ts := &testServer{Server: s2, URL: h2.URL}
	clk := limitClock(ts)
	resp, out := chat(t, ts, chatBody("after the crash"), bearer(sk)...)
	if resp.StatusCode != 429 || !strings.Contains(out, "insufficient_quota") || !strings.Contains(out, "held by requests in flight") ||
		resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("within the lease: %d %v %s", resp.StatusCode, resp.Header, out)
	}
	clk.advance(61 * time.Second)
	if resp, out := chat(t, ts, chatBody("after the lease"), bearer(sk)...); resp.StatusCode != 200 {
		t.Fatalf("past the lease: %d %s", resp.StatusCode, out)
	}
	kv, _ := s2.store.KV(tableBudgets)
	n := 0
	kv.Scan([]byte{'r'}, func(_, _ []byte) bool { n++; return true })
	if n != 0 {
		t.Fatalf("%d reservation records left", n)
	}
}

// TestLimitSDK: the openai-go SDK sees semgate's 429s as OpenAI's: a
// rate limit (rate_limit_exceeded, retried by the SDK after Retry-After)
// and a spent budget (insufficient_quota, which it does not retry).
func TestLimitSDK(t *testing.T) {
	ts := newTestServer(t, limitsConfig("cache:\n  disabled: true\n"), nil)
	limitClock(ts)
	var attempts int
	var mu sync.Mutex
	count := option.WithMiddleware(func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		mu.Lock()
		attempts++
		mu.Unlock()
		return next(r)
	})
	params := openai.ChatCompletionNewParams{Model: "m", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
	ctx := context.Background()

	_, limited := newKey(t, ts, auth.Spec{RateLimit: auth.RateLimit{RequestsPerMinute: 1}})
	client := openai.NewClient(option.WithBaseURL(ts.URL+"/v1/"), option.WithAPIKey(limited), option.WithMaxRetries(0))
	if _, err := client.Chat.Completions.New(ctx, params); err != nil {
		t.Fatal(err)
	}
	_, err := client.Chat.Completions.New(ctx, params)
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 429 || ae.Code != "rate_limit_exceeded" || ae.Type != "requests" {
		t.Fatalf("rate limited: %v", err)
	}

	_, broke := newKey(t, ts, auth.Spec{Budget: auth.Budget{MaxUSD: 0.000001}})
	client = openai.NewClient(option.WithBaseURL(ts.URL+"/v1/"), option.WithAPIKey(broke), option.WithMaxRetries(2), count)
	if _, err := client.Chat.Completions.New(ctx, params); err != nil { // its capped reservation passes; the cost overruns
		t.Fatal(err)
	}
	attempts = 0
	_, err = client.Chat.Completions.New(ctx, params)
	if !errors.As(err, &ae) || ae.StatusCode != 429 || ae.Code != "insufficient_quota" || ae.Type != "insufficient_quota" {
		t.Fatalf("over budget: %v", err)
	}
	if attempts != 1 {
		t.Fatalf("the SDK tried %d times", attempts)
	}
}

// TestLimitsConfig: the limits section is validated with the rest.
func TestLimitsConfig(t *testing.T) {
	_, err := ParseConfig([]byte(limitsConfig(`limits:
  tenants:
    "bad name": {requests_per_minute: 1}
    ok: {budget: {max_usd: -1}}
  models:
    nope: {requests_per_minute: 1}
    m: {burst: 5}
  over_budget: sometimes
`)), func(string) (string, bool) { return "", false })
	for _, want := range []string{"limits.tenants.bad name", "tenants.ok.budget.max_usd", "limits.models.nope: unknown model alias", "models.m.burst", "over_budget"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}

// BenchmarkLimitStep is the limits step's whole cost for a request of a
// key with request and token limits, in a tenant with a request limit:
// limitRequest (allowances, x-ratelimit-* headers) and settleLimits.
func BenchmarkLimitStep(b *testing.B) {
	cfg, err := ParseConfig([]byte(limitsConfig("limits:\n  tenants:\n    \"*\": {requests_per_minute: 1000000000}\n")), func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	cfg.Storage.Dir = b.TempDir()
	s, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	k, _, err := s.acl.keys.Create(auth.Spec{RateLimit: auth.RateLimit{RequestsPerMinute: 1 << 30, TokensPerMinute: 1 << 30}})
	if err != nil {
		b.Fatal(err)
	}
	model, _ := s.router.Lookup("m")
	p := &auth.Principal{Tenant: k.Tenant, Key: k}
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	req := &request{model: "m", body: []byte(chatBody("hi"))}
	w := httptest.NewRecorder()
	b.ReportAllocs()
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	n := 0
	for b.Loop() {
		ex := exchange{ep: 0, who: caller{p: p}, req: req}
		if err := s.limitRequest(w, r, &ex, model); err != nil {
			b.Fatal(err)
		}
		s.settleLimits(&ex)
		n++
	}
	// CPU time per op: on a shared machine wall time includes waiting for a core.
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
	b.ReportMetric(float64(cpu)/float64(max(n, 1)), "cpu-ns/op")
}

// TestBudgetStream: a streamed answer settles its real cost, priced from
// the stream's usage, and carries the rate-limit headers.
func TestBudgetStream(t *testing.T) {
	ts := newTestServer(t, limitsConfig("cache:\n  disabled: true\n"), nil)
	k, sk := newKey(t, ts, auth.Spec{Budget: auth.Budget{MaxUSD: 1}, RateLimit: auth.RateLimit{RequestsPerMinute: 10, TokensPerMinute: 10000}})
	resp, out := chat(t, ts, chatBody("stream this", `"stream":true`), bearer(sk)...)
	if resp.StatusCode != 200 || !strings.Contains(out, "data: [DONE]") || resp.Header.Get("X-Ratelimit-Remaining-Requests") != "9" ||
		resp.Header.Get("X-Ratelimit-Limit-Tokens") != "10000" {
		t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, out)
	}
	b := ts.quota.budgetsOf(&auth.Principal{Tenant: k.Tenant, Key: k})
	spent, reserved, _ := ts.quota.budgets.Status(context.Background(), b[0], time.Now())
	acct := ts.routing.acct.costIn(dimKey, k.ID, limits.PeriodOf(limits.PeriodMonth, time.Now()))
	if spent == 0 || spent != acct || reserved != 0 {
		t.Fatalf("spent %d reserved %d, accounting %d", spent, reserved, acct)
	}
}
