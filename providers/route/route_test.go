package route

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/semgate/semgate/providers"
)

// clock is a manual clock for tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func dep(name string, in, out float64, window int) *providers.Deployment {
	return &providers.Deployment{ProviderName: "p", Model: name, Price: providers.Price{Input: in, Output: out}, ContextWindow: window}
}

func engine(t *testing.T, c *clock, o Options) *Engine {
	t.Helper()
	o.Now, o.Seed = c.now, 7
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func chat(body string) *Features {
	return Inspect(providers.EndpointChat, []byte(body))
}

func labels(ms []*Member) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Deployment.Model)
	}
	return strings.Join(s, ",")
}

func TestBreakerOpensAndCloses(t *testing.T) {
	c := newClock()
	h := newHealth(BreakerOptions{Failures: 3, Cooldown: 10 * time.Second}, 0.3, 0, 0)
	boom := errors.New("boom")
	for i := 0; i < 2; i++ {
		if why := h.acquire(c.now(), 1); why != "" {
			t.Fatalf("closed breaker refused: %s", why)
		}
		h.failure(c.now(), boom)
	}
	// A client cancellation is not a failure.
	h.acquire(c.now(), 1)
	h.release()
	if h.Status().State != Closed {
		t.Fatal("opened before 3 consecutive failures")
	}
	h.acquire(c.now(), 1)
	h.failure(c.now(), boom)
	if st := h.Status(); st.State != Open || st.LastError != "boom" {
		t.Fatalf("state %v after 3 failures", st)
	}
	if why, until := h.unavailable(c.now()); why != "circuit open" || !until.Equal(c.now().Add(10*time.Second)) {
		t.Fatalf("open: %q until %v", why, until)
	}
	c.advance(10 * time.Second)
	// Cooldown over: exactly one half-open probe.
	if why := h.acquire(c.now(), 1); why != "" {
		t.Fatalf("probe refused: %s", why)
	}
	if why := h.acquire(c.now(), 1); why == "" {
		t.Fatal("a second request went through while the probe is in flight")
	}
	h.failure(c.now(), boom) // probe failed: open again
	if h.Status().State != Open {
		t.Fatal("failed probe did not reopen")
	}
	c.advance(10 * time.Second)
	h.acquire(c.now(), 1)
	h.release() // a cancelled probe decides nothing
	if h.Status().State != HalfOpen {
		t.Fatalf("state %v after a cancelled probe", h.Status().State)
	}
	h.acquire(c.now(), 1)
	h.success(50 * time.Millisecond)
	if st := h.Status(); st.State != Closed || st.Consecutive != 0 {
		t.Fatalf("successful probe: %v", st)
	}
}

func TestBreakerErrorRate(t *testing.T) {
	c := newClock()
	h := newHealth(BreakerOptions{Failures: 100, ErrorRate: 0.5, Window: 10}, 0.3, 0, 0)
	for i := 0; i < 10; i++ {
		h.acquire(c.now(), 1)
		if i%2 == 1 { // the 10th outcome, a failure, fills the window
			h.failure(c.now(), errors.New("x"))
		} else {
			h.success(time.Millisecond)
		}
	}
	if h.Status().State != Open {
		t.Fatalf("5 of 10 failed, state %v", h.Status())
	}
}

func TestRateLimitCooldown(t *testing.T) {
	c := newClock()
	h := newHealth(BreakerOptions{}, 0.3, 0, 0)
	h.acquire(c.now(), 1)
	h.rateLimited(c.now(), 7*time.Second, errors.New("429"))
	if why, until := h.unavailable(c.now()); why != "rate-limited" || until.Sub(c.now()) != 7*time.Second {
		t.Fatalf("%q %v", why, until)
	}
	if h.Status().State != Closed {
		t.Fatal("a 429 counted against the breaker")
	}
	c.advance(7 * time.Second)
	if why, _ := h.unavailable(c.now()); why != "" {
		t.Fatalf("still out after Retry-After: %s", why)
	}
}

func TestRPMLimit(t *testing.T) {
	c := newClock()
	h := newHealth(BreakerOptions{}, 0.3, 2, 0)
	for i := 0; i < 2; i++ {
		if why := h.acquire(c.now(), 1); why != "" {
			t.Fatal(why)
		}
	}
	if why := h.acquire(c.now(), 1); why != "rpm/tpm limit" {
		t.Fatalf("third request in the minute: %q", why)
	}
	c.advance(time.Minute)
	if why := h.acquire(c.now(), 1); why != "" {
		t.Fatalf("next minute: %s", why)
	}
}

func TestCostPolicyPicksCheapestEligible(t *testing.T) {
	c := newClock()
	e := engine(t, c, Options{})
	big, cheap, cheapNoVision := dep("big", 2.5, 10, 128000), dep("small", 0.15, 0.6, 400), dep("tiny", 0.05, 0.2, 128000)
	m := &providers.Model{Name: "m", Deployments: []*providers.Deployment{big, cheap, cheapNoVision}}
	p, err := e.AddPool(m, PoolOptions{}, []MemberOptions{{}, {}, {Capabilities: []string{"tools", "streaming"}}})
	if err != nil {
		t.Fatal(err)
	}
	// Plain text: the cheapest.
	pl, err := p.Plan(chat(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil || labels(pl.Order()) != "tiny,small,big" || !strings.HasPrefix(pl.Reason, "cost: cheapest of 3") {
		t.Fatalf("%v %q %q", err, labels(pl.Order()), pl.Reason)
	}
	// An image excludes tiny (no vision).
	pl, _ = p.Plan(chat(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"what?"},{"type":"image_url","image_url":{"url":"data:,"}}]}]}`))
	if labels(pl.Order()) != "small,big" || !strings.Contains(pl.Reason, "1 excluded (capabilities)") {
		t.Fatalf("vision: %q %q", labels(pl.Order()), pl.Reason)
	}
	// A prompt plus max_tokens over small's 400-token window excludes it.
	pl, _ = p.Plan(chat(`{"model":"m","max_tokens":40,"messages":[{"role":"user","content":"` + strings.Repeat("word ", 400) + `"}]}`))
	if labels(pl.Order()) != "tiny,big" {
		t.Fatalf("context: %q", labels(pl.Order()))
	}
	// Nothing fits: a context-length error.
	m2 := &providers.Model{Name: "m2", Deployments: []*providers.Deployment{dep("a", 1, 1, 10)}}
	p2, _ := e.AddPool(m2, PoolOptions{}, nil)
	_, err = p2.Plan(chat(`{"model":"m2","messages":[{"role":"user","content":"` + strings.Repeat("word ", 30) + `"}]}`))
	if !errors.Is(err, ErrContextLength) {
		t.Fatalf("err %v", err)
	}
	// tools on a deployment without tools: a capability error.
	m3 := &providers.Model{Name: "m3", Deployments: []*providers.Deployment{dep("a", 1, 1, 0)}}
	p3, _ := e.AddPool(m3, PoolOptions{}, []MemberOptions{{Capabilities: []string{"streaming"}}})
	_, err = p3.Plan(chat(`{"model":"m3","tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":"x"}]}`))
	if !errors.Is(err, ErrCapability) {
		t.Fatalf("err %v", err)
	}
}

func TestCostTieBrokenByLatency(t *testing.T) {
	c := newClock()
	e := engine(t, c, Options{})
	a, b := dep("a", 1, 1, 0), dep("b", 1, 1, 0)
	p, _ := e.AddPool(&providers.Model{Name: "m", Deployments: []*providers.Deployment{a, b}}, PoolOptions{}, nil)
	p.Members()[0].Health.success(200 * time.Millisecond)
	p.Members()[1].Health.success(20 * time.Millisecond)
	pl, _ := p.Plan(chat(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	if labels(pl.Order()) != "b,a" || !strings.Contains(pl.Reason, "tie broken by latency") {
		t.Fatalf("%q %q", labels(pl.Order()), pl.Reason)
	}
}

func TestLatencyAndPriorityPolicies(t *testing.T) {
	c := newClock()
	e := engine(t, c, Options{})
	a, b, d := dep("a", 1, 1, 0), dep("b", 9, 9, 0), dep("c", 5, 5, 0)
	pl, _ := e.AddPool(&providers.Model{Name: "lat", Deployments: []*providers.Deployment{a, b, d}}, PoolOptions{Policy: PolicyLatency}, nil)
	pl.Members()[0].Health.success(300 * time.Millisecond)
	pl.Members()[1].Health.success(100 * time.Millisecond)
	pl.Members()[2].Health.success(200 * time.Millisecond)
	plan, _ := pl.Plan(chat(`{"model":"lat","messages":[{"role":"user","content":"hi"}]}`))
	if labels(plan.Order()) != "b,c,a" {
		t.Fatalf("latency order %q", labels(plan.Order()))
	}
	pp, _ := e.AddPool(&providers.Model{Name: "pri", Deployments: []*providers.Deployment{dep("b", 9, 9, 0), dep("a", 1, 1, 0)}}, PoolOptions{Policy: PolicyPriority}, nil)
	plan, _ = pp.Plan(chat(`{"model":"pri","messages":[{"role":"user","content":"hi"}]}`))
	if labels(plan.Order()) != "b,a" {
		t.Fatalf("priority order %q", labels(plan.Order()))
	}
	// An open breaker moves a deployment to the back.
	pp.Members()[0].Health.open(c.now())
	plan, _ = pp.Plan(chat(`{"model":"pri","messages":[{"role":"user","content":"hi"}]}`))
	if labels(plan.Order()) != "a,b" {
		t.Fatalf("priority with b open %q", labels(plan.Order()))
	}
}

func TestWeightedPolicyFollowsWeights(t *testing.T) {
	c := newClock()
	e := engine(t, c, Options{})
	p, _ := e.AddPool(&providers.Model{Name: "w", Deployments: []*providers.Deployment{dep("a", 1, 1, 0), dep("b", 1, 1, 0)}},
		PoolOptions{Policy: PolicyWeighted}, []MemberOptions{{Weight: 3}, {Weight: 1}})
	first := map[string]int{}
	for i := 0; i < 4000; i++ {
		plan, _ := p.Plan(chat(`{"model":"w","messages":[{"role":"user","content":"hi"}]}`))
		first[plan.Order()[0].Deployment.Model]++
	}
	if share := float64(first["a"]) / 4000; share < 0.70 || share > 0.80 {
		t.Fatalf("a first in %.3f of plans, want about 0.75 (%v)", share, first)
	}
}

func TestPlanRetriesWithBackoffAndLimits(t *testing.T) {
	c := newClock()
	e := engine(t, c, Options{Retry: RetryOptions{MaxAttempts: 4, Backoff: 100 * time.Millisecond, MaxBackoff: time.Second, Timeout: 10 * time.Second}})
	p, _ := e.AddPool(&providers.Model{Name: "m", Deployments: []*providers.Deployment{dep("a", 1, 1, 0), dep("b", 2, 2, 0)}},
		PoolOptions{}, nil)
	pl, _ := p.Plan(chat(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	fail := &providers.Error{Provider: "p", Status: 500, Err: providers.ErrStatus}
	var got []string
	for {
		m, wait, ok := pl.Next()
		if !ok {
			break
		}
		c.advance(wait)
		if !pl.Begin(m) {
			continue
		}
		got = append(got, m.Deployment.Model+"@"+wait.String())
		pl.Failed(m, fail)
	}
	// Fallback to b at once; retrying a waits 50-100ms (first round's
	// jittered backoff), counted from a's failure.
	if len(got) != 4 || got[0] != "a@0s" || got[1] != "b@0s" || !strings.HasPrefix(got[2], "a@") || got[2] == "a@0s" {
		t.Fatalf("attempts %q", got)
	}
	if pl.Attempts() != 4 {
		t.Fatalf("attempts %d", pl.Attempts())
	}
}

func TestPlanHonoursRetryAfter(t *testing.T) {
	c := newClock()
	e := engine(t, c, Options{Retry: RetryOptions{MaxAttempts: 3, MaxRetryAfter: 5 * time.Second}})
	p, _ := e.AddPool(&providers.Model{Name: "m", Deployments: []*providers.Deployment{dep("a", 1, 1, 0)}}, PoolOptions{}, nil)
	pl, _ := p.Plan(chat(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	m, _, _ := pl.Next()
	pl.Begin(m)
	pl.Failed(m, &providers.Error{Status: 429, RetryAfter: 2, Err: providers.ErrStatus})
	m, wait, ok := pl.Next()
	if !ok || wait != 2*time.Second {
		t.Fatalf("retry after a 2s Retry-After: ok %v wait %v", ok, wait)
	}
	c.advance(wait)
	pl.Begin(m)
	pl.Failed(m, &providers.Error{Status: 429, RetryAfter: 60, Err: providers.ErrStatus})
	if _, _, ok := pl.Next(); ok {
		t.Fatal("waited out a 60s Retry-After, over MaxRetryAfter")
	}
	// A new request finds the deployment rate-limited: a 429 routing error.
	pl2, _ := p.Plan(chat(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	if _, _, ok := pl2.Next(); ok {
		t.Fatal("a rate-limited deployment was offered")
	}
	ue := pl2.Unavailable()
	if !ue.RateLimited || ue.RetryAfter != 60*time.Second || !errors.Is(ue, ErrUnavailable) || ue.Last == nil {
		t.Fatalf("unavailable: %+v", ue)
	}
}

func TestAutoPolicyTiers(t *testing.T) {
	c := newClock()
	e := engine(t, c, Options{})
	model := &providers.Model{Name: "auto", Deployments: []*providers.Deployment{dep("strong", 2.5, 10, 0), dep("cheap", 0.15, 0.6, 0)}}
	p, err := e.AddPool(model, PoolOptions{Policy: PolicyAuto, Auto: &AutoOptions{Thresholds: []float64{0.3}}},
		[]MemberOptions{{Tier: 2}, {Tier: 1}})
	if err != nil {
		t.Fatal(err)
	}
	easy, _ := p.Plan(chat(`{"model":"auto","messages":[{"role":"user","content":"What is the capital of France?"}]}`))
	if easy.Tier != 1 || labels(easy.Order()) != "cheap,strong" {
		t.Fatalf("easy: tier %d order %q reason %q", easy.Tier, labels(easy.Order()), easy.Reason)
	}
	hard, _ := p.Plan(chat(`{"model":"auto","messages":[{"role":"user","content":"Implement a Go function that parses ISO 8601 durations.\n1. Handle weeks\n2. Handle fractions\nExplain the trade-offs and why.\n` + "```go\nfunc Parse(s string) (time.Duration, error)\n```" + `"}]}`))
	if hard.Tier != 2 || labels(hard.Order()) != "strong,cheap" || !strings.Contains(hard.Reason, "code") {
		t.Fatalf("hard: tier %d order %q reason %q", hard.Tier, labels(hard.Order()), hard.Reason)
	}
	// Thresholds must match the tiers.
	_, err = e.AddPool(&providers.Model{Name: "bad", Deployments: []*providers.Deployment{dep("x", 1, 1, 0)}},
		PoolOptions{Policy: PolicyAuto, Auto: &AutoOptions{Thresholds: []float64{0.3}}}, []MemberOptions{{Tier: 1}})
	if err == nil {
		t.Fatal("one tier with one threshold accepted")
	}
}

func TestDifficultySignals(t *testing.T) {
	for _, tt := range []struct {
		body   string
		min    float64
		max    float64
		signal string
	}{
		{`{"messages":[{"role":"user","content":"Hi there!"}]}`, 0, 0.05, ""},
		{`{"messages":[{"role":"user","content":"Solve for x: 3x^2 + 2x = 7 and compute the derivative."}]}`, 0.3, 1, "math"},
		{`{"max_tokens":4000,"messages":[{"role":"user","content":"Write an essay."}]}`, 0.2, 1, "long-output"},
		{`{"messages":[{"role":"user","content":"Why? How? When? Where?"}]}`, 0.25, 1, "multi-step"},
	} {
		s := Difficulty(chat(tt.body))
		if s.Value < tt.min || s.Value > tt.max || (tt.signal != "" && !strings.Contains(strings.Join(s.Signals, ","), tt.signal)) {
			t.Errorf("%s: score %.3f signals %v, want [%.2f, %.2f] with %q", tt.body, s.Value, s.Signals, tt.min, tt.max, tt.signal)
		}
	}
}

func TestLookupAndPrices(t *testing.T) {
	if k, ok := Lookup("gpt-4o-mini-2024-07-18"); !ok || k.Price.Input != 0.15 {
		t.Fatalf("dated snapshot: %+v %v", k, ok)
	}
	if k, ok := Lookup("gpt-4o-2024-08-06"); !ok || k.Price.Input != 2.5 {
		t.Fatalf("gpt-4o snapshot: %+v %v", k, ok)
	}
	if _, ok := Lookup("gpt-4ox"); ok {
		t.Fatal("matched a non-snapshot suffix")
	}
	p, ok := PriceFor("claude-haiku-4-5", providers.Price{}, nil)
	if !ok || p.Output != 5 {
		t.Fatalf("%+v", p)
	}
	p, _ = PriceFor("claude-haiku-4-5", providers.Price{}, map[string]providers.Price{"claude-haiku-4-5": {Input: 9}})
	if p.Input != 9 {
		t.Fatal("override ignored")
	}
	if got := (providers.Price{Input: 2.5, CachedInput: 1.25, Output: 10}).CostNanoUSD(1000, 400, 100); got != 1500000+500000+1000000 {
		t.Fatalf("cost %d", got)
	}
}

func TestValidate(t *testing.T) {
	o := Options{Retry: RetryOptions{MaxAttempts: -1}, Breaker: BreakerOptions{ErrorRate: 2}, LatencyAlpha: 3}
	err := o.Validate()
	for _, want := range []string{"retry.max_attempts", "breaker.error_rate", "latency_alpha"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%v lacks %q", err, want)
		}
	}
	po := PoolOptions{Policy: "fastest", Auto: &AutoOptions{Thresholds: []float64{0.6, 0.4}}}
	err = po.Validate()
	if err == nil || !strings.Contains(err.Error(), "unknown policy") || !strings.Contains(err.Error(), "auto: only applies") {
		t.Fatalf("%v", err)
	}
	mo := MemberOptions{Capabilities: []string{"telepathy"}, Tier: -1}
	if err := mo.Validate(); err == nil || !strings.Contains(err.Error(), "telepathy") || !strings.Contains(err.Error(), "tier") {
		t.Fatalf("%v", err)
	}
}

func BenchmarkPlanCost(b *testing.B) {
	e, _ := New(Options{Seed: 1})
	p, _ := e.AddPool(&providers.Model{Name: "m", Deployments: []*providers.Deployment{dep("a", 1, 1, 128000), dep("b", 2, 2, 128000), dep("c", 3, 3, 128000)}}, PoolOptions{}, nil)
	body := []byte(`{"model":"m","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"What is a mutex?"}]}`)
	b.ReportAllocs()
	for b.Loop() {
		pl, _ := p.Plan(Inspect(providers.EndpointChat, body))
		m, _, _ := pl.Next()
		pl.Begin(m)
		pl.Succeeded(m, time.Millisecond)
	}
}
