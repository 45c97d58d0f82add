package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/semgate/semgate/gateway/cluster/redistest"
)

// clusterConfig is the configuration both replicas share; %s is the
// Redis URL, %m the cluster's on_unreachable.
const clusterConfig = `server: {drain_delay: -1s}
log: {requests: false, level: warn}
auth: {required: true}
embed: {model: lexical}
providers:
  - {name: mock, type: mock}
models:
  - name: m
    deployments: [{provider: mock, model: mock-small}]
cluster: {redis_url: "%s", resync_interval: 2s, on_unreachable: %m}
`

func writeClusterConfig(t *testing.T, dir, name, url, mode string) string {
	t.Helper()
	cfg := strings.NewReplacer("%s", url, "%m", mode).Replace(clusterConfig)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// call sends one request with the key (if any) and returns its status,
// x-semgate-cache header and body.
func call(t *testing.T, method, url, key, body string, h ...string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Semgate-Cache"), string(b)
}

func chatBody(prompt string) string {
	return `{"model":"m","messages":[{"role":"user","content":` + strconv.Quote(prompt) + `}]}`
}

// createKey makes a key on c through the admin API and returns its id and
// secret.
func createKey(t *testing.T, c *child, name string) (id, secret string) {
	t.Helper()
	code, _, body := call(t, "POST", c.addr+"/admin/keys", "", `{"name":"`+name+`","tenant":"team-a"}`)
	var k struct{ ID, Key string }
	if code != 201 || json.Unmarshal([]byte(body), &k) != nil || k.Key == "" {
		t.Fatalf("creating a key: %d %s", code, body)
	}
	return k.ID, k.Key
}

// eventually polls cond every 20ms for up to d and reports how long it
// took to hold.
func eventually(d time.Duration, cond func() bool) (time.Duration, bool) {
	t0 := time.Now()
	for {
		if cond() {
			return time.Since(t0), true
		}
		if time.Since(t0) > d {
			return time.Since(t0), false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterTwoReplicas: two `semgate serve` processes sharing one real
// redis-server. A key created on A is accepted by B within a second (the
// time is logged; the test allows 5 s on a loaded machine), its rate limit
// is one limit for both replicas, a revocation on A is refused by B as
// fast, a fill on A is a hit on B (exact
// and semantic). Then Redis is killed: both replicas go on serving
// (fail-open) with their keys from memory, while a third, fail-closed
// replica answers 503; a key and a fill made on A during the outage
// reach B once Redis is back (restarted empty), and the fail-closed
// replica serves again. Last, B is stopped, A fills, and B catches up
// from the stream on restart.
func TestClusterTwoReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	srv := redistest.Start(t)
	dir := t.TempDir()
	cfg := writeClusterConfig(t, dir, "open.yaml", srv.URL(), "open")
	cfgClosed := writeClusterConfig(t, dir, "closed.yaml", srv.URL(), "closed")
	a := startChild(t, cfg, filepath.Join(dir, "a"))
	b := startChild(t, cfg, filepath.Join(dir, "b"))
	cl := startChild(t, cfgClosed, filepath.Join(dir, "c"))

	// A key created on A is accepted by B within a second.
	id, secret := createKey(t, a, "ci")
	if took, ok := eventually(5*time.Second, func() bool {
		code, _, _ := call(t, "GET", b.addr+"/v1/models", secret, "")
		return code == 200
	}); !ok {
		t.Fatal("a key created on A was not accepted by B within 5s (the pub/sub takes about 25 ms)")
	} else {
		t.Logf("key created on A accepted by B after %v", took)
	}

	// A shared rate limit: 4 requests a minute for the key, whichever
	// replica they reach. 8 requests alternating between A and B: 4 pass,
	// 4 are refused, by both replicas.
	code, _, body := call(t, "POST", a.addr+"/admin/keys", "", `{"name":"limited","tenant":"team-a","rate_limit":{"requests_per_minute":4}}`)
	var lk struct{ Key string }
	if code != 201 || json.Unmarshal([]byte(body), &lk) != nil || lk.Key == "" {
		t.Fatalf("creating a limited key: %d %s", code, body)
	}
	if _, ok := eventually(5*time.Second, func() bool {
		code, _, _ := call(t, "GET", b.addr+"/v1/models", lk.Key, "")
		return code == 200
	}); !ok {
		t.Fatal("the limited key did not reach B")
	}
	refused := map[string]int{}
	passed := 0
	for i := range 8 {
		c := a
		if i%2 == 1 {
			c = b
		}
		code, _, body := call(t, "POST", c.addr+"/v1/chat/completions", lk.Key, chatBody("limited question "+strconv.Itoa(i)), "Cache-Control", "no-store")
		switch {
		case code == 200:
			passed++
		case code == 429 && strings.Contains(body, "rate_limit_exceeded"):
			refused[c.addr]++
		default:
			t.Fatalf("request %d: %d %s", i, code, body)
		}
	}
	if passed != 4 || refused[a.addr] == 0 || refused[b.addr] == 0 {
		t.Fatalf("a limit of 4 a minute shared by A and B: %d passed, refused %v", passed, refused)
	}

	// A fill on A is a hit on B: exact, and semantic for a variant.
	const q = "What is the tallest mountain in Europe?"
	if code, cache, body := call(t, "POST", a.addr+"/v1/chat/completions", secret, chatBody(q)); code != 200 || cache != "miss" {
		t.Fatalf("A: %d %s %s", code, cache, body)
	}
	// no-store: a miss on B must not fill B's cache itself.
	if took, ok := eventually(5*time.Second, func() bool {
		_, cache, _ := call(t, "POST", b.addr+"/v1/chat/completions", secret, chatBody(q), "Cache-Control", "no-store")
		return cache == "hit-exact"
	}); !ok {
		t.Fatal("a fill on A was not a hit on B within 5s")
	} else {
		t.Logf("fill on A a hit on B after %v", took)
	}
	if _, cache, _ := call(t, "POST", b.addr+"/v1/chat/completions", secret, chatBody("what is the tallest mountain in europe")); cache != "hit-semantic" {
		t.Fatalf("a variant of A's fill on B: %q, want hit-semantic", cache)
	}

	// A revocation on A is refused by B within a second.
	id2, secret2 := createKey(t, a, "second")
	if code, _, body := call(t, "DELETE", a.addr+"/admin/keys/"+id, "", ""); code != 200 {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if took, ok := eventually(5*time.Second, func() bool {
		code, _, _ := call(t, "GET", b.addr+"/v1/models", secret, "")
		return code == 401
	}); !ok {
		t.Fatal("a key revoked on A was still accepted by B after 5s")
	} else {
		t.Logf("revocation on A refused by B after %v", took)
	}
	if _, ok := eventually(5*time.Second, func() bool {
		code, _, _ := call(t, "GET", cl.addr+"/v1/models", secret2, "")
		return code == 200
	}); !ok {
		t.Fatal("the fail-closed replica does not accept the second key")
	}

	// Redis killed mid-test.
	srv.Kill()
	if _, ok := eventually(5*time.Second, func() bool {
		code, _, _ := call(t, "GET", cl.addr+"/v1/models", secret2, "")
		return code == 503
	}); !ok {
		t.Fatal("the fail-closed replica still serves with Redis down")
	}
	if code, _, _ := call(t, "GET", cl.addr+"/readyz", "", ""); code != 503 {
		t.Fatalf("fail-closed /readyz with Redis down: %d", code)
	}
	for _, c := range []*child{a, b} {
		if code, _, body := call(t, "GET", c.addr+"/v1/models", secret2, ""); code != 200 {
			t.Fatalf("fail-open replica with Redis down: %d %s", code, body)
		}
		if code, _, _ := call(t, "GET", c.addr+"/v1/models", secret, ""); code != 401 {
			t.Fatalf("the revoked key with Redis down: %d", code)
		}
		if code, _, _ := call(t, "GET", c.addr+"/readyz", "", ""); code != 200 {
			t.Fatalf("fail-open /readyz with Redis down: %d", code)
		}
	}
	if _, cache, _ := call(t, "POST", b.addr+"/v1/chat/completions", secret2, chatBody(q)); cache != "hit-exact" {
		t.Fatalf("B's replicated entry with Redis down: %q", cache)
	}
	_, secret3 := createKey(t, a, "during")
	const q2 = "Name three rivers of Africa."
	if code, cache, body := call(t, "POST", a.addr+"/v1/chat/completions", secret2, chatBody(q2)); code != 200 || cache != "miss" {
		t.Fatalf("A during the outage: %d %s %s", code, cache, body)
	}
	if _, ok := eventually(5*time.Second, func() bool { // A notices on its next health check
		_, _, m := call(t, "GET", a.addr+"/metrics", "", "")
		return strings.Contains(m, "semgate_cluster_redis_up 0")
	}); !ok {
		t.Fatal("semgate_cluster_redis_up is not 0 on A during the outage")
	}

	// Redis back, empty.
	srv.Restart()
	if took, ok := eventually(5*time.Second, func() bool {
		code, _, _ := call(t, "GET", b.addr+"/v1/models", secret3, "")
		return code == 200
	}); !ok {
		t.Fatal("a key created on A during the outage did not reach B")
	} else {
		t.Logf("key made during the outage accepted by B %v after Redis restarted", took)
	}
	if _, ok := eventually(10*time.Second, func() bool {
		_, cache, _ := call(t, "POST", b.addr+"/v1/chat/completions", secret2, chatBody(q2), "Cache-Control", "no-store")
		return cache == "hit-exact"
	}); !ok {
		t.Fatal("a fill made on A during the outage is not a hit on B after Redis returned")
	}
	if _, ok := eventually(10*time.Second, func() bool {
		code, _, _ := call(t, "GET", cl.addr+"/v1/models", secret2, "")
		return code == 200
	}); !ok {
		t.Fatal("the fail-closed replica did not serve again once Redis returned")
	}
	if code, _, _ := call(t, "GET", b.addr+"/v1/models", secret, ""); code != 401 {
		t.Fatalf("the revoked key after Redis restarted empty: %d", code)
	}
	if code, _, _ := call(t, "GET", cl.addr+"/v1/models", secret3, ""); code != 200 {
		t.Fatalf("the fail-closed replica refuses the key made during the outage: %d", code)
	}

	// B down; a fill on A; B catches up from the stream on restart.
	b.kill()
	const q3 = "How many moons does Mars have?"
	if code, cache, _ := call(t, "POST", a.addr+"/v1/chat/completions", secret2, chatBody(q3)); code != 200 || cache != "miss" {
		t.Fatalf("A: %d %s", code, cache)
	}
	time.Sleep(200 * time.Millisecond)
	b = startChild(t, cfg, filepath.Join(dir, "b"))
	if _, ok := eventually(5*time.Second, func() bool {
		_, cache, _ := call(t, "POST", b.addr+"/v1/chat/completions", secret2, chatBody(q3), "Cache-Control", "no-store")
		return cache == "hit-exact"
	}); !ok {
		t.Fatal("B did not catch up from the stream after its restart")
	}
	_ = id2
}
