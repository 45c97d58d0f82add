package gateway

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/semgate/semgate/gateway/auth"
	"github.com/semgate/semgate/gateway/limits"
)

// keyStatus is GET /admin/keys/{id} on ts.
func keyStatus(t *testing.T, ts *testServer, id string) keyDetailJSON {
	t.Helper()
	code, body := send(t, http.MethodGet, ts.URL+"/admin/keys/"+id, "")
	var d keyDetailJSON
	if code != 200 || json.Unmarshal(body, &d) != nil || d.ID != id {
		t.Fatalf("GET /admin/keys/%s: %d %s", id, code, body)
	}
	return d
}

type keyDetailJSON struct {
	ID      string `json:"id"`
	Budgets []struct {
		Scope, Name, Period string
		Current             string    `json:"current_period"`
		MaxUSD              float64   `json:"max_usd"`
		SpentUSD            float64   `json:"spent_usd"`
		ReservedUSD         float64   `json:"reserved_usd"`
		LeftUSD             float64   `json:"left_usd"`
		RenewsAt            time.Time `json:"renews_at"`
	} `json:"budgets"`
	Usage struct {
		Requests  int64   `json:"requests"`
		CacheHits int64   `json:"cache_hits"`
		CostUSD   float64 `json:"cost_usd"`
		SavedUSD  float64 `json:"saved_usd"`
	} `json:"usage"`
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestKeyBudgetStatus: GET /admin/keys/{id} shows the key's budget and its
// tenant's in their current periods (spent, reserved, left), and what the
// key's cache hits saved.
func TestKeyBudgetStatus(t *testing.T) {
	ts := newTestServer(t, limitsConfig("limits:\n  tenants:\n    team-a: {budget: {max_usd: 10}}\n"), nil)
	k, sk := newKey(t, ts, auth.Spec{Tenant: "team-a", Budget: auth.Budget{MaxUSD: 1, Period: "day"}})
	d := keyStatus(t, ts, k.ID)
	if len(d.Budgets) != 2 || d.Budgets[0].Scope != "key" || d.Budgets[0].LeftUSD != 1 || d.Budgets[0].SpentUSD != 0 ||
		d.Budgets[1].Scope != "tenant" || d.Budgets[1].Name != "team-a" || d.Budgets[1].Period != "month" || d.Budgets[1].MaxUSD != 10 {
		t.Fatalf("before any request: %+v", d.Budgets)
	}
	body := chatBody("what does a budget show?")
	resp, out := chat(t, ts, body, bearer(sk)...)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
	cost, _ := strconv.ParseFloat(resp.Header.Get(headerCost), 64)
	// The fill is stored once the answer is sent: ask again until a hit.
	requests, misses := int64(1), 1
	for hit := false; !hit; requests++ {
		resp, _ := chat(t, ts, body, bearer(sk)...)
		switch hit = resp.Header.Get(headerCache) == "hit-exact"; {
		case !hit && requests > 50:
			t.Fatalf("no hit: %v", resp.Header)
		case !hit:
			misses++
			time.Sleep(10 * time.Millisecond)
		}
	}
	cost *= float64(misses)
	now := time.Now()
	// The JSON answer can reach the client before its handler settles.
	deadline := now.Add(5 * time.Second)
	for d = keyStatus(t, ts, k.ID); d.Budgets[0].SpentUSD < cost-1e-9 && time.Now().Before(deadline); d = keyStatus(t, ts, k.ID) {
		time.Sleep(10 * time.Millisecond)
	}
	kb, tb := d.Budgets[0], d.Budgets[1]
	if cost <= 0 || !near(kb.SpentUSD, cost) || kb.ReservedUSD != 0 || !near(kb.LeftUSD, 1-cost) ||
		kb.Current != limits.PeriodOf(limits.PeriodDay, now) || !kb.RenewsAt.Equal(limits.PeriodEnd(limits.PeriodDay, now)) {
		t.Fatalf("key budget after a $%f request: %+v", cost, kb)
	}
	if !near(tb.SpentUSD, cost) || !near(tb.LeftUSD, 10-cost) || tb.Current != limits.PeriodOf(limits.PeriodMonth, now) {
		t.Fatalf("tenant budget: %+v", tb)
	}
	if d.Usage.Requests != requests || d.Usage.CacheHits != 1 || !near(d.Usage.CostUSD, cost) || d.Usage.SavedUSD <= 0 {
		t.Fatalf("usage: %+v", d.Usage)
	}
	// A key without a budget shows none.
	k2, _ := newKey(t, ts, auth.Spec{Tenant: "team-b"})
	if d := keyStatus(t, ts, k2.ID); len(d.Budgets) != 0 {
		t.Fatalf("a key without budgets: %+v", d.Budgets)
	}
}
