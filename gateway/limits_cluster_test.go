package gateway

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/semgate/semgate/gateway/auth"
	"github.com/semgate/semgate/gateway/cluster/redistest"
)

// clusterLimitsConfig is limitsConfig in cluster mode on url, without the
// cache (every request goes upstream and costs).
func clusterLimitsConfig(url, mode string) string {
	return limitsConfig("cache:\n  disabled: true\ncluster: {redis_url: \"" + url + "\", on_unreachable: " + mode + "}\n")
}

// replicated waits until ts accepts secret.
func replicated(t *testing.T, ts *testServer, secret string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		if _, err := ts.acl.keys.Authenticate(secret); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the key did not reach the other replica")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClusterSharedLimits: two gateways on one Redis share a key's rate
// limit (requests alternating between them are refused beyond it, and
// each one's headers count the other's requests) and its budget (50
// concurrent requests split between them spend at most the budget and
// one request's settled cost).
func TestClusterSharedLimits(t *testing.T) {
	srv := redistest.Start(t)
	a := newTestServer(t, clusterLimitsConfig(srv.URL(), "open"), nil)
	b := newTestServer(t, clusterLimitsConfig(srv.URL(), "open"), nil)

	_, sk := newKey(t, a, auth.Spec{RateLimit: auth.RateLimit{RequestsPerMinute: 3}})
	replicated(t, b, sk)
	passed := 0
	for i := range 6 {
		ts := []*testServer{a, b}[i%2]
		resp, out := chat(t, ts, chatBody("shared limit "+strconv.Itoa(i)), bearer(sk)...)
		switch resp.StatusCode {
		case 200:
			if got := resp.Header.Get("X-Ratelimit-Remaining-Requests"); got != strconv.Itoa(2-i) {
				t.Fatalf("request %d: remaining %s, want %d", i, got, 2-i)
			}
			passed++
		case 429:
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(out, "rate_limit_exceeded") {
				t.Fatalf("request %d: %v %s", i, resp.Header, out)
			}
		default:
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, out)
		}
	}
	if passed != 3 {
		t.Fatalf("%d of 6 requests passed a limit of 3 a minute shared by two replicas", passed)
	}

	k, sk2 := newKey(t, a, auth.Spec{Budget: auth.Budget{MaxUSD: 0.03, Period: "day"}})
	replicated(t, b, sk2)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var served, refused int
	var maxCost, sumCost float64
	for i := range 50 {
		ts := []*testServer{a, b}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/chat/completions",
				strings.NewReader(chatBody("concurrent question "+strconv.Itoa(i), `"max_tokens":64`)))
			req.Header.Set("Authorization", "Bearer "+sk2)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			switch {
			case resp.StatusCode == 200:
				served++
				c, _ := strconv.ParseFloat(resp.Header.Get(headerCost), 64)
				maxCost, sumCost = max(maxCost, c), sumCost+c
			case resp.StatusCode == 429 && strings.Contains(string(out), `"code":"insufficient_quota"`):
				refused++
			default:
				t.Errorf("%d %s", resp.StatusCode, out)
			}
		}()
	}
	wg.Wait()
	bu := a.quota.budgetsOf(&auth.Principal{Tenant: k.Tenant, Key: k})[0]
	spent, reserved, _ := b.quota.budgets.Status(context.Background(), bu, time.Now())
	for deadline := time.Now().Add(5 * time.Second); reserved != 0 && time.Now().Before(deadline); { // handlers still settling
		time.Sleep(10 * time.Millisecond)
		spent, reserved, _ = b.quota.budgets.Status(context.Background(), bu, time.Now())
	}
	t.Logf("served %d, refused %d, spent $%.6f of $0.03 (answers $%.6f, largest $%.6f)", served, refused, float64(spent)/1e9, sumCost, maxCost)
	if served == 0 || refused == 0 || served+refused != 50 {
		t.Fatalf("served %d, refused %d", served, refused)
	}
	if float64(spent)/1e9 > 0.03+maxCost+1e-9 || reserved != 0 {
		t.Fatalf("spent $%.6f (reserved %d) on a $0.03 budget shared by two replicas (largest answer $%.6f)", float64(spent)/1e9, reserved, maxCost)
	}
	// Each replica's key API shows the cluster's spend.
	for _, ts := range []*testServer{a, b} {
		if d := keyStatus(t, ts, k.ID); len(d.Budgets) != 1 || !near(d.Budgets[0].SpentUSD, float64(spent)/1e9) || !near(d.Budgets[0].SpentUSD, sumCost) {
			t.Fatalf("GET /admin/keys/%s: %+v, want spent $%f", k.ID, d.Budgets, sumCost)
		}
	}
}

// TestClusterLimitsClosed: a fail-closed gateway whose Redis was just
// killed refuses a limited request with 503 cluster_unavailable, whether
// its health check noticed already or the limiter's call failed first.
func TestClusterLimitsClosed(t *testing.T) {
	srv := redistest.Start(t)
	c := newTestServer(t, clusterLimitsConfig(srv.URL(), "closed"), nil)
	_, sk := newKey(t, c, auth.Spec{RateLimit: auth.RateLimit{RequestsPerMinute: 100}, Budget: auth.Budget{MaxUSD: 1}})
	if resp, out := chat(t, c, chatBody("before"), bearer(sk)...); resp.StatusCode != 200 {
		t.Fatalf("with Redis up: %d %s", resp.StatusCode, out)
	}
	srv.Kill()
	resp, out := chat(t, c, chatBody("after"), bearer(sk)...)
	if resp.StatusCode != 503 || !strings.Contains(out, "cluster_unavailable") || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("Redis just killed, failing closed: %d %v %s", resp.StatusCode, resp.Header, out)
	}
}

// TestClusterLimitsWrongType: when Redis refuses one of a request's
// allowances (its key holds something else), the request's other limits
// still count: the limits step takes them one by one.
func TestClusterLimitsWrongType(t *testing.T) {
	srv := redistest.Start(t)
	ts := newTestServer(t, limitsConfig("cache:\n  disabled: true\ncluster: {redis_url: \""+srv.URL()+"\"}\n"+
		"limits:\n  models:\n    m: {requests_per_minute: 1000}\n"), nil)
	_, sk := newKey(t, ts, auth.Spec{RateLimit: auth.RateLimit{RequestsPerMinute: 2}})
	if got := srv.Do("SET", "semgate:rl:m:r:m", "x"); got != "+OK" {
		t.Fatal(got)
	}
	for i, want := range []int{200, 200, 429} {
		resp, out := chat(t, ts, chatBody("wrong type "+strconv.Itoa(i)), bearer(sk)...)
		if resp.StatusCode != want {
			t.Fatalf("request %d: %d %s, want %d", i, resp.StatusCode, out, want)
		}
	}
}
