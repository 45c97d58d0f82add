package gateway

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/semgate/semgate/gateway/auth"
)

// numberingUpstream answers every chat call with a new number ("answer
// N"), so a cached answer tells which upstream call, and so which request,
// produced it.
func numberingUpstream(t *testing.T, delay time.Duration) (string, *atomic.Int64) {
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		time.Sleep(delay)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"chatcmpl-%d","object":"chat.completion","created":1,"model":"up","choices":[{"index":0,"message":{"role":"assistant","content":"answer %d"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`, i, i)
	}))
	t.Cleanup(s.Close)
	return s.URL + "/v1", &n
}

// answerOf returns the content of a chat answer.
func answerOf(t *testing.T, body string) string {
	t.Helper()
	var c struct {
		Choices []struct{ Message struct{ Content string } }
	}
	if err := json.Unmarshal([]byte(body), &c); err != nil || len(c.Choices) != 1 {
		t.Fatalf("not a chat answer: %s", body)
	}
	return c.Choices[0].Message.Content
}

func bearer(secret string) []string { return []string{"Authorization", "Bearer " + secret} }

// TestTenantIsolation: under concurrent mixed traffic of two tenants
// asking the same prompts (and formatting variants, which are semantic
// hits within a tenant), no answer produced for one tenant is served to
// the other, and the cache keys one tenant sees are never the other's.
func TestTenantIsolation(t *testing.T) {
	url, calls := numberingUpstream(t, 5*time.Millisecond)
	ts := newTestServer(t, cacheConfig(url, authRequired), nil)
	secrets := map[string]string{}
	for _, tenant := range []string{"a", "b"} {
		_, secrets[tenant] = createKey(t, ts.URL, `{"tenant":"`+tenant+`"}`)
	}
	// In sequence first: a variant that is a semantic hit for tenant a is
	// a miss for tenant b.
	for i, c := range []struct{ tenant, prompt, want string }{
		{"a", "Where is the Eiffel Tower?", "miss"}, {"b", "where is the eiffel tower", "miss"},
		{"a", "where is the eiffel tower", "hit-semantic"}, {"b", "Where is the Eiffel Tower?", "hit-semantic"},
	} {
		if r, _ := chat(t, ts, chatBody(c.prompt), bearer(secrets[c.tenant])...); r.Header.Get("X-Semgate-Cache") != c.want {
			t.Fatalf("%d: tenant %s %q: %s, want %s", i, c.tenant, c.prompt, r.Header.Get("X-Semgate-Cache"), c.want)
		}
	}
	prompts := []string{"What is the capital of France?", "what is the capital of france", "Name three colours.",
		"name three colours", "How do I reverse a list in Python?", "Explain TCP slow start."}

	type result struct{ tenant, cache, key, answer string }
	var mu sync.Mutex
	var results []result
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range 30 {
				tenant := []string{"a", "b"}[rng.IntN(2)]
				resp := post(t, ts.URL+"/v1/chat/completions", chatBody(prompts[rng.IntN(len(prompts))]), bearer(secrets[tenant])...)
				body := string(readBody(t, resp))
				if resp.StatusCode != 200 {
					t.Errorf("%d %s", resp.StatusCode, body)
					return
				}
				mu.Lock()
				results = append(results, result{tenant, resp.Header.Get("X-Semgate-Cache"), resp.Header.Get("X-Semgate-Cache-Key"), answerOf(t, body)})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	producer := map[string]string{} // answer -> the tenant whose miss produced it
	keys := map[string]string{}     // cache key -> tenant
	hits := 0
	for _, r := range results {
		if r.cache == cacheMiss {
			producer[r.answer] = r.tenant
		}
	}
	cross := 0
	for _, r := range results {
		if owner, ok := keys[r.key]; ok && owner != r.tenant {
			t.Errorf("tenants %s and %s both saw cache key %s", owner, r.tenant, r.key)
		}
		keys[r.key] = r.tenant
		if !strings.HasPrefix(r.cache, "hit") {
			continue
		}
		hits++
		if p, ok := producer[r.answer]; !ok || p != r.tenant {
			cross++
			t.Errorf("tenant %s got %q (%s), produced for %q", r.tenant, r.answer, r.cache, p)
		}
	}
	if cross != 0 || hits < len(results)/2 {
		t.Fatalf("%d cross-tenant hits; %d hits of %d requests, %d upstream calls", cross, hits, len(results), calls.Load())
	}
	t.Logf("%d requests, %d hits, %d upstream calls, 0 cross-tenant hits", len(results), hits, calls.Load())
}

// TestShareGroups: tenants in one share group use one cache; the others
// do not see it.
func TestShareGroups(t *testing.T) {
	url, _ := numberingUpstream(t, 0)
	ts := newTestServer(t, cacheConfig(url, authRequired+"  admin_token: ${T}\n")+"cache:\n  share: [[team-c, team-d]]\n",
		map[string]string{"T": "0123456789abcdef0123"})
	adm := []string{"Authorization", "Bearer 0123456789abcdef0123"}
	secrets := map[string]string{}
	for _, tenant := range []string{"team-c", "team-d", "team-e"} {
		_, secrets[tenant] = createKey(t, ts.URL, `{"tenant":"`+tenant+`"}`, adm...)
	}
	r1, b1 := chat(t, ts, chatBody("Which planet is largest?"), bearer(secrets["team-c"])...)
	r2, b2 := chat(t, ts, chatBody("Which planet is largest?"), bearer(secrets["team-d"])...)
	r3, b3 := chat(t, ts, chatBody("Which planet is largest?"), bearer(secrets["team-e"])...)
	if r1.Header.Get("X-Semgate-Cache") != "miss" || r2.Header.Get("X-Semgate-Cache") != "hit-exact" || b1 != b2 ||
		r1.Header.Get("X-Semgate-Cache-Key") != r2.Header.Get("X-Semgate-Cache-Key") {
		t.Fatalf("share group: %s %s", r1.Header.Get("X-Semgate-Cache"), r2.Header.Get("X-Semgate-Cache"))
	}
	if r3.Header.Get("X-Semgate-Cache") != "miss" || answerOf(t, b3) == answerOf(t, b1) || r3.Header.Get("X-Semgate-Cache-Key") == r1.Header.Get("X-Semgate-Cache-Key") {
		t.Fatalf("a tenant outside the group: %s", r3.Header.Get("X-Semgate-Cache"))
	}
	// ?tenant= on the admin cache API: team-d sees the group's entry.
	code, body := send(t, http.MethodGet, ts.URL+"/admin/cache/entries?tenant=team-d", "", adm...)
	var list struct {
		Data []struct{ Key, Tenant string }
	}
	json.Unmarshal(body, &list)
	if code != 200 || len(list.Data) != 1 || list.Data[0].Key != r1.Header.Get("X-Semgate-Cache-Key") || list.Data[0].Tenant != "share:team-c,team-d" {
		t.Fatalf("entries of team-d: %d %s", code, body)
	}
}

// TestPartitionByUser: with cache.partition_by_user, the end user (the
// body's "user", or the configured header) is part of the partition.
func TestPartitionByUser(t *testing.T) {
	url, _ := numberingUpstream(t, 0)
	t.Run("body", func(t *testing.T) {
		ts := newTestServer(t, cacheConfig(url, "cache:\n  partition_by_user: true\n"), nil)
		for i, c := range []struct{ user, want string }{
			{`"user":"u1"`, "miss"}, {`"user":"u2"`, "miss"}, {`"user":"u1"`, "hit-exact"},
			{"", "miss"}, {"", "hit-exact"}, {`"user":"` + strings.Repeat("x", 300) + `"`, "miss"}, {`"user":"` + strings.Repeat("x", 300) + `"`, "hit-exact"},
		} {
			var extra []string
			if c.user != "" {
				extra = append(extra, c.user)
			}
			if r, b := chat(t, ts, chatBody("Tell me a joke.", extra...)); r.Header.Get("X-Semgate-Cache") != c.want {
				t.Fatalf("%d %s: %s, want %s (%s)", i, c.user, r.Header.Get("X-Semgate-Cache"), c.want, b)
			}
		}
	})
	t.Run("header", func(t *testing.T) {
		ts := newTestServer(t, cacheConfig(url, "cache:\n  partition_by_user: true\n  user_header: X-End-User\n"), nil)
		for i, c := range []struct{ user, want string }{{"alice", "miss"}, {"bob", "miss"}, {"alice", "hit-exact"}} {
			if r, _ := chat(t, ts, chatBody("Tell me a joke.", `"user":"same-for-all"`), "X-End-User", c.user); r.Header.Get("X-Semgate-Cache") != c.want {
				t.Fatalf("%d %s: %s, want %s", i, c.user, r.Header.Get("X-Semgate-Cache"), c.want)
			}
		}
	})
}

// TestAdminCacheTenantFilter: ?tenant= lists and flushes one tenant's
// entries only, whatever their end user.
func TestAdminCacheTenantFilter(t *testing.T) {
	url, _ := numberingUpstream(t, 0)
	ts := newTestServer(t, cacheConfig(url, "cache:\n  partition_by_user: true\n"), nil)
	_, a := createKey(t, ts.URL, `{"tenant":"a"}`)
	_, b := createKey(t, ts.URL, `{"tenant":"b"}`)
	chat(t, ts, chatBody("one"), bearer(a)...)
	chat(t, ts, chatBody("two", `"user":"u1"`), bearer(a)...)
	chat(t, ts, chatBody("one"), bearer(b)...)
	chat(t, ts, chatBody("one")) // tenant default, no key
	count := func(q string) int {
		code, body := send(t, http.MethodGet, ts.URL+"/admin/cache/entries"+q, "")
		var list struct{ Data []struct{ Tenant string } }
		if code != 200 || json.Unmarshal(body, &list) != nil {
			t.Fatalf("%s: %d %s", q, code, body)
		}
		return len(list.Data)
	}
	if count("?tenant=a") != 2 || count("?tenant=b") != 1 || count("?tenant=default") != 1 || count("") != 4 || count("?tenant=c") != 0 {
		t.Fatalf("counts %d %d %d %d", count("?tenant=a"), count("?tenant=b"), count("?tenant=default"), count(""))
	}
	if code, _ := send(t, http.MethodGet, ts.URL+"/admin/cache/entries?tenant=a%7Cuser", ""); code != 400 {
		t.Fatalf("a bad tenant name: %d", code)
	}
	if code, body := send(t, http.MethodDelete, ts.URL+"/admin/cache?tenant=a", ""); code != 200 || !strings.Contains(string(body), `"deleted": 2`) {
		t.Fatalf("flush a: %d %s", code, body)
	}
	if r, _ := chat(t, ts, chatBody("one"), bearer(b)...); r.Header.Get("X-Semgate-Cache") != "hit-exact" {
		t.Fatal("flushing tenant a removed tenant b's entry")
	}
	if r, _ := chat(t, ts, chatBody("one"), bearer(a)...); r.Header.Get("X-Semgate-Cache") != "miss" {
		t.Fatal("tenant a's entry survived its flush")
	}
}

// TestCacheTenantStrings: the strings that partition the cache are
// distinct for distinct tenants, groups and users, and the tenant filter
// matches exactly a tenant's own.
func TestCacheTenantStrings(t *testing.T) {
	s := &Server{cfg: &Config{Cache: CacheConfig{PartitionByUser: true}}}
	s.acl.shared = shareTenants([][]string{{"y", "x"}})
	ct := func(tenant, user string) string {
		k := &auth.Key{ID: "k", Tenant: tenant}
		body := `{}`
		if user != "" {
			body = `{"user":` + strconv.Quote(user) + `}`
		}
		return s.cacheTenant(&exchange{who: caller{p: &auth.Principal{Tenant: tenant, Key: k}}, req: &request{body: []byte(body)}})
	}
	seen := map[string]string{}
	for _, c := range [][2]string{{"a", ""}, {"a", "u"}, {"a", "u|user:1:v"}, {"a.b", ""}, {"a", "|"}, {"x", ""}, {"x", "u"}, {"default", ""}} {
		got := ct(c[0], c[1])
		if prev, ok := seen[got]; ok {
			t.Fatalf("%v and %s share %q", c, prev, got)
		}
		seen[got] = fmt.Sprint(c)
	}
	if ct("x", "") != ct("y", "") || ct("x", "u") != ct("y", "u") {
		t.Fatal("a share group must use one cache tenant")
	}
	fa := s.tenantFilter("a")
	for tenant, want := range map[string]bool{"a": true, ct("a", "u"): true, "a.b": false, "ab": false, "": false, "b|user:1:a": false} {
		if fa(tenant) != want {
			t.Errorf("filter a on %q: %v", tenant, !want)
		}
	}
	if !s.tenantFilter("default")("") || !s.tenantFilter("x")(ct("y", "z")) {
		t.Fatal("old entries belong to default; a group's entries to each member")
	}
}

func TestCacheConfigValidate(t *testing.T) {
	_, err := ParseConfig([]byte(upstreamConfig()+"cache:\n  share: [[a], [b, c], [c, d], [\"e|f\", g]]\n  user_header: \"bad header\"\n"), func(string) (string, bool) { return "", false })
	for _, want := range []string{"share[0]", "share[2][0]", "share[3][0]", "user_header: only applies", "user_header: \"bad header\""} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("no problem about %s: %v", want, err)
		}
	}
}
