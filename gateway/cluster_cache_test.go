package gateway

import (
	"net/http"
	"testing"
	"time"

	"github.com/semgate/semgate/gateway/cluster/redistest"
)

// TestClusterCacheRemovals: an entry deleted through A's admin API, and a
// flush made through it, are gone from B too.
func TestClusterCacheRemovals(t *testing.T) {
	srv := redistest.Start(t)
	cfg := limitsConfig("cluster: {redis_url: \"" + srv.URL() + "\"}\n")
	a := newTestServer(t, cfg, nil)
	b := newTestServer(t, cfg, nil)
	// cached asks b without storing, and reports its x-semgate-cache.
	cached := func(prompt string) string {
		resp, _ := chat(t, b, chatBody(prompt), "Cache-Control", "no-store")
		return resp.Header.Get(headerCache)
	}
	eventually := func(cond func() bool) bool {
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if cond() {
				return true
			}
		}
		return false
	}
	prompts := []string{"what is deleted?", "what is flushed?", "what else is flushed?"}
	keys := map[string]string{}
	for _, p := range prompts {
		resp, out := chat(t, a, chatBody(p))
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
		keys[p] = resp.Header.Get(headerCacheKey)
		if !eventually(func() bool { return cached(p) == "hit-exact" }) {
			t.Fatalf("%q filled on A is not a hit on B", p)
		}
	}

	if code, body := send(t, http.MethodDelete, a.URL+"/admin/cache/entries/"+keys[prompts[0]], ""); code != 200 {
		t.Fatalf("delete on A: %d %s", code, body)
	}
	if !eventually(func() bool { return cached(prompts[0]) == "miss" }) {
		t.Fatal("an entry deleted on A is still a hit on B")
	}
	if got := cached(prompts[1]); got != "hit-exact" {
		t.Fatalf("another entry after the deletion: %s", got)
	}

	if code, body := send(t, http.MethodDelete, a.URL+"/admin/cache?tenant=default&model=m", ""); code != 200 {
		t.Fatalf("flush on A: %d %s", code, body)
	}
	if !eventually(func() bool { return cached(prompts[1]) == "miss" && cached(prompts[2]) == "miss" }) {
		t.Fatal("entries flushed on A are still hits on B")
	}
}
