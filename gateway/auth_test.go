package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/semgate/semgate/gateway/auth"
	"github.com/semgate/semgate/semcache"
)

// do sends one request with optional headers ("Host" sets the Host
// header) and returns its status and body.
func send(t *testing.T, method, url, body string, hdr ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// createKey makes a key through the admin API and returns its id and
// secret.
func createKey(t *testing.T, url, spec string, hdr ...string) (id, secret string) {
	t.Helper()
	code, body := send(t, http.MethodPost, url+"/admin/keys", spec, hdr...)
	var k struct{ ID, Key string }
	if code != http.StatusCreated || json.Unmarshal(body, &k) != nil || k.ID == "" || !strings.HasPrefix(k.Key, "sk-sg-") {
		t.Fatalf("create %s: %d %s", spec, code, body)
	}
	return k.ID, k.Key
}

const authRequired = "auth:\n  required: true\n"

// TestAuthTable: every way a request's key can be wrong, sent as OpenAI's
// SDKs send it (Authorization: Bearer) and as Anthropic's (x-api-key),
// gets 401 in OpenAI's error shape; a model the key may not use gets 403.
func TestAuthTable(t *testing.T) {
	dir := t.TempDir()
	// An expired key, made on the same store before the gateway starts.
	expired := func() string {
		st, err := semcache.OpenStore(semcache.StoreOptions{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		kv, _ := st.KV(semcache.TableKeys)
		past := time.Now().Add(-time.Hour)
		ks, _ := auth.Open(kv, auth.StoreOptions{Now: func() time.Time { return past }})
		exp := past.Add(time.Minute)
		_, secret, err := ks.Create(auth.Spec{Name: "old", ExpiresAt: &exp})
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}()
	up, url := newCountingMock(t, 0)
	ts := newTestServerAt(t, cacheConfig(url, authRequired), nil, dir)
	_, good := createKey(t, ts.URL, `{"name":"ci","tenant":"team-a","models":["m"]}`)
	revokedID, revoked := createKey(t, ts.URL, `{"name":"gone"}`)
	if code, _ := send(t, http.MethodDelete, ts.URL+"/admin/keys/"+revokedID, ""); code != 200 {
		t.Fatal("revoke")
	}
	unknown := "sk-sg-" + strings.Repeat("A", len(good)-len("sk-sg-"))

	cases := []struct {
		name   string
		key    string // "" sends none
		model  string
		status int
		code   string
	}{
		{"missing", "", "m", 401, "missing_api_key"},
		{"malformed", "not-a-semgate-key", "m", 401, "invalid_api_key"},
		{"truncated", good[:len(good)-1], "m", 401, "invalid_api_key"},
		{"unknown", unknown, "m", 401, "invalid_api_key"},
		{"revoked", revoked, "m", 401, "invalid_api_key"},
		{"expired", expired, "m", 401, "invalid_api_key"},
		{"wrong model", good, "m2", 403, "model_not_allowed"},
		{"unknown model", good, "nope", 404, "model_not_found"},
		{"valid", good, "m", 200, ""},
	}
	for _, via := range []string{"Authorization", "x-api-key"} {
		for _, c := range cases {
			t.Run(via+"/"+c.name, func(t *testing.T) {
				var hdr []string
				if c.key != "" {
					v := c.key
					if via == "Authorization" {
						v = "Bearer " + v
					}
					hdr = []string{via, v}
				}
				code, body := send(t, http.MethodPost, ts.URL+"/v1/chat/completions",
					`{"model":"`+c.model+`","messages":[{"role":"user","content":"hi"}]}`, hdr...)
				if code != c.status {
					t.Fatalf("status %d, want %d: %s", code, c.status, body)
				}
				if c.status == 200 {
					return
				}
				e := decodeError(t, body)
				if e.Code == nil || *e.Code != c.code {
					t.Fatalf("code %v, want %s: %s", e.Code, c.code, body)
				}
				if c.key != "" && strings.Contains(string(body), c.key) {
					t.Fatalf("the error echoes a key: %s", body)
				}
				if c.name == "unknown model" && !strings.HasSuffix(e.Message, "Available models: m") {
					t.Fatalf("the 404 must list only the key's models: %s", e.Message)
				}
			})
		}
	}
	if code, body := send(t, http.MethodPost, ts.URL+"/v1/chat/completions", `{"model":"m","messages":[]}`, "Authorization", "Basic dXNlcjpwYXNz"); code != 401 {
		t.Fatalf("Basic auth: %d %s", code, body)
	}
	if n := up.calls.Load(); n != 1 {
		t.Fatalf("refused requests reached the upstream: %d calls", n)
	}

	// The models list shows only the key's models; others are 404.
	code, body := send(t, http.MethodGet, ts.URL+"/v1/models", "", "Authorization", "Bearer "+good)
	if code != 200 || !strings.Contains(string(body), `"id":"m"`) || strings.Contains(string(body), `"m2"`) {
		t.Fatalf("models: %d %s", code, body)
	}
	if code, _ := send(t, http.MethodGet, ts.URL+"/v1/models/m2", "", "Authorization", "Bearer "+good); code != 404 {
		t.Fatalf("a model the key may not use: %d", code)
	}
	if code, _ := send(t, http.MethodGet, ts.URL+"/v1/models/m", "", "x-api-key", good); code != 200 {
		t.Fatalf("its own model: %d", code)
	}
	if code, _ := send(t, http.MethodGet, ts.URL+"/v1/models", ""); code != 401 {
		t.Fatalf("models without a key: %d", code)
	}
}

// TestKeyLifecycle: create, use, read back (never the secret), change,
// revoke, refused at once; no endpoint returns the secret or an upstream
// provider key.
func TestKeyLifecycle(t *testing.T) {
	_, url := newCountingMock(t, 0)
	cfg := strings.Replace(cacheConfig(url, authRequired), `base_url: "`+url+`"}`, `base_url: "`+url+`", api_key: sk-upstream-TOPSECRET}`, 1)
	ts := newTestServer(t, cfg, nil)
	var seen bytes.Buffer // every admin answer
	admin := func(method, path, body string) (int, []byte) {
		code, b := send(t, method, ts.URL+path, body)
		seen.Write(b)
		return code, b
	}

	code, body := admin(http.MethodPost, "/admin/keys", `{"name":"svc","tenant":"team-a","models":["m"],
		"rate_limit":{"requests_per_minute":60,"tokens_per_minute":10000,"burst":10},
		"budget":{"max_usd":25,"period":"day"},"expires_at":"`+time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339)+`",
		"metadata":{"owner":"ops"},"cache":{"bypass":true}}`)
	var created struct {
		ID, Key, Tenant, Status string
		RateLimit               auth.RateLimit `json:"rate_limit"`
		Budget                  auth.Budget
		Models                  []string
	}
	if code != 201 || json.Unmarshal(body, &created) != nil || created.Status != "active" || created.Tenant != "team-a" ||
		created.RateLimit != (auth.RateLimit{RequestsPerMinute: 60, TokensPerMinute: 10000, Burst: 10}) ||
		created.Budget != (auth.Budget{MaxUSD: 25, Period: "day"}) || len(created.Models) != 1 {
		t.Fatalf("create: %d %s", code, body)
	}
	secret := created.Key
	seen.Reset() // the one answer that shows the secret
	use := func() int {
		code, _ := send(t, http.MethodPost, ts.URL+"/v1/chat/completions", chatBody("hello"), "Authorization", "Bearer "+secret)
		return code
	}
	if c := use(); c != 200 {
		t.Fatalf("use: %d", c)
	}
	for _, path := range []string{"/admin/keys", "/admin/keys/" + created.ID, "/admin/keys?tenant=team-a"} {
		code, body := admin(http.MethodGet, path, "")
		if code != 200 || !strings.Contains(string(body), created.ID) || strings.Contains(string(body), secret) || strings.Contains(string(body), `"key":`) {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
	}
	if code, body := admin(http.MethodGet, "/admin/keys?tenant=team-b", ""); code != 200 || strings.Contains(string(body), created.ID) {
		t.Fatalf("tenant filter: %s", body)
	}
	// PATCH: take m away; the key can no longer use it, at once.
	if code, body := admin(http.MethodPatch, "/admin/keys/"+created.ID, `{"models":["m2"],"name":"svc2"}`); code != 200 || !strings.Contains(string(body), `"svc2"`) {
		t.Fatalf("patch: %d %s", code, body)
	}
	if c := use(); c != 403 {
		t.Fatalf("after patch: %d", c)
	}
	for _, c := range []struct{ body, param string }{
		{`{"tenant":"other"}`, "tenant"},
		{`{"models":["nope"]}`, "models[0]"},
		{`{"budget":{"max_usd":-1}}`, "budget.max_usd"},
		{`{"colour":"red"}`, ""},
	} {
		code, body := admin(http.MethodPatch, "/admin/keys/"+created.ID, c.body)
		e := decodeError(t, body)
		if code != 400 || (c.param != "" && (e.Param == nil || *e.Param != c.param)) {
			t.Fatalf("patch %s: %d %s", c.body, code, body)
		}
	}
	admin(http.MethodPatch, "/admin/keys/"+created.ID, `{"models":null}`)
	if c := use(); c != 200 {
		t.Fatalf("models cleared: %d", c)
	}
	// Revocation takes effect at once.
	if code, body := admin(http.MethodDelete, "/admin/keys/"+created.ID, ""); code != 200 || !strings.Contains(string(body), `"revoked"`) {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if c := use(); c != 401 {
		t.Fatalf("revoked key: %d", c)
	}
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{http.MethodGet, "/admin/keys/key_0000", "", 404},
		{http.MethodDelete, "/admin/keys/key_0000", "", 404},
		{http.MethodPatch, "/admin/keys/key_0000", `{}`, 404},
		{http.MethodPost, "/admin/keys", `{"name":"x","tenant":"has space"}`, 400},
		{http.MethodPost, "/admin/keys", `{"expires_at":"2001-01-01T00:00:00Z"}`, 400},
		{http.MethodPost, "/admin/keys", `{"models":["m"]} trailing`, 400},
		{http.MethodGet, "/admin/keys?tenant=a|b", "", 400},
	} {
		if code, body := admin(c.method, c.path, c.body); code != c.status {
			t.Fatalf("%s %s: %d %s", c.method, c.path, code, body)
		}
	}
	for _, path := range []string{"/admin/usage", "/admin/cache/stats", "/admin/cache/entries", "/metrics"} {
		admin(http.MethodGet, path, "")
	}
	if strings.Contains(seen.String(), "TOPSECRET") || strings.Contains(seen.String(), secret[6:]) {
		t.Fatal("an admin answer holds an upstream key or a key's secret")
	}
}

// TestAuthOptional: with auth.required false, requests without a key (or
// with an SDK's placeholder) run as tenant "default"; a valid key runs as
// its own tenant and key; an sk-sg- key that is not valid is refused.
func TestAuthOptional(t *testing.T) {
	_, url := newCountingMock(t, 0)
	ts := newTestServer(t, cacheConfig(url, ""), nil)
	id, secret := createKey(t, ts.URL, `{"tenant":"team-a"}`)
	for _, hdr := range [][]string{nil, {"Authorization", "Bearer unused"}, {"x-api-key", "anything"}, {"Authorization", "Bearer " + secret}} {
		if r, _ := chat(t, ts, chatBody("one"), hdr...); r.StatusCode != 200 {
			t.Fatalf("%v: %d", hdr, r.StatusCode)
		}
	}
	if r, b := chat(t, ts, chatBody("one"), "Authorization", "Bearer sk-sg-"+strings.Repeat("x", 43)); r.StatusCode != 401 {
		t.Fatalf("an unknown sk-sg- key: %d %s", r.StatusCode, b)
	}
	// The official SDK with a key, and with a placeholder.
	for _, key := range []string{secret, "sk-placeholder"} {
		client := openai.NewClient(option.WithBaseURL(ts.URL+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
		if _, err := client.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{Model: "m",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("one")}}); err != nil {
			t.Fatal(err)
		}
	}
	// Spend is charged to the key and its tenant.
	code, body := send(t, http.MethodGet, ts.URL+"/admin/usage", "")
	var rep usageReport
	if code != 200 || json.Unmarshal(body, &rep) != nil {
		t.Fatalf("%d %s", code, body)
	}
	if rep.Keys[id].Requests != 2 || rep.Tenants["team-a"].Requests != 2 || rep.Keys[keyNone].Requests != 4 || rep.Tenants["default"].Requests != 4 {
		t.Fatalf("usage by key %v by tenant %v", rep.Keys, rep.Tenants)
	}
}

// TestAdminGuard: without a token, the admin API answers loopback clients
// that name a loopback host, not a rebinding page (Host: evil.example)
// nor a remote client; with a token, only requests carrying it, from
// anywhere.
func TestAdminGuard(t *testing.T) {
	t.Run("no token", func(t *testing.T) {
		ts := newTestServer(t, upstreamConfig(), nil)
		port := ts.URL[strings.LastIndexByte(ts.URL, ':'):]
		for host, want := range map[string]int{
			"127.0.0.1" + port: 200, "localhost" + port: 200, "LOCALHOST": 200, "[::1]" + port: 200, "127.0.0.2": 200,
			"evil.example" + port: 403, "evil.example": 403, "127.0.0.1.evil.example": 403, "localhost.evil.example" + port: 403,
		} {
			if code, body := send(t, http.MethodGet, ts.URL+"/admin/keys", "", "Host", host); code != want {
				t.Errorf("Host %s: %d, want %d: %s", host, code, want, body)
			}
		}
		code, body := send(t, http.MethodPost, ts.URL+"/admin/keys", `{}`, "Host", "evil.example")
		if code != 403 || decodeError(t, body).Type != "permission_error" || ts.acl.keys.Len() != 0 {
			t.Fatalf("a rebinding page made a key: %d %s", code, body)
		}
		// A remote client naming a loopback host.
		req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/admin/keys", nil)
		req.RemoteAddr = "192.0.2.7:40000"
		rec := httptest.NewRecorder()
		ts.Handler().ServeHTTP(rec, req)
		if rec.Code != 403 {
			t.Fatalf("remote client: %d", rec.Code)
		}
	})
	t.Run("token", func(t *testing.T) {
		const token = "adm-0123456789abcdef"
		ts := newTestServer(t, upstreamConfig()+"auth:\n  admin_token: ${SEMGATE_ADMIN_TOKEN}\n", map[string]string{"SEMGATE_ADMIN_TOKEN": token})
		_, secret := createKey(t, ts.URL, `{}`, "Authorization", "Bearer "+token)
		for _, c := range []struct {
			hdr  []string
			want int
		}{
			{nil, 401},
			{[]string{"Authorization", "Bearer wrong-0123456789abcdef"}, 401},
			{[]string{"Authorization", "Bearer " + token[:len(token)-1]}, 401},
			{[]string{"Authorization", "Bearer " + secret}, 401}, // a virtual key is not the admin token
			{[]string{"Authorization", token}, 401},
			{[]string{"Authorization", "Bearer " + token}, 200},
			{[]string{"Authorization", "bearer " + token, "Host", "admin.example.com"}, 200},
		} {
			if code, body := send(t, http.MethodGet, ts.URL+"/admin/cache/stats", "", c.hdr...); code != c.want {
				t.Errorf("%v: %d, want %d: %s", c.hdr, code, c.want, body)
			}
		}
		req := httptest.NewRequest(http.MethodGet, "http://gw.example/admin/keys", nil)
		req.RemoteAddr = "192.0.2.7:40000"
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		ts.Handler().ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("remote client with the token: %d", rec.Code)
		}
	})
	t.Run("unset env", func(t *testing.T) {
		// ${SEMGATE_ADMIN_TOKEN} unset: no token, loopback only; not a
		// configuration error.
		ts := newTestServer(t, upstreamConfig()+"auth:\n  admin_token: ${SEMGATE_ADMIN_TOKEN}\n", nil)
		if code, _ := send(t, http.MethodGet, ts.URL+"/admin/keys", ""); code != 200 {
			t.Fatal(code)
		}
	})
}

// TestCacheRights: a key without the bypass right cannot skip or refresh
// the cache; one with it can.
func TestCacheRights(t *testing.T) {
	_, url := newCountingMock(t, 0)
	ts := newTestServer(t, cacheConfig(url, authRequired), nil)
	_, plain := createKey(t, ts.URL, `{}`)
	_, bypass := createKey(t, ts.URL, `{"cache":{"bypass":true}}`)
	for _, h := range [][]string{{"X-Semgate-Cache", "off"}, {"Cache-Control", "no-cache"}, {"Cache-Control", "max-age=0"}} {
		r, b := chat(t, ts, chatBody("q"), "Authorization", "Bearer "+plain, h[0], h[1])
		if r.StatusCode != 403 || *decodeError(t, []byte(b)).Code != "cache_bypass_not_allowed" {
			t.Fatalf("%v without the right: %d %s", h, r.StatusCode, b)
		}
		if r, _ := chat(t, ts, chatBody("q"), "Authorization", "Bearer "+bypass, h[0], h[1]); r.StatusCode != 200 {
			t.Fatalf("%v with the right: %d", h, r.StatusCode)
		}
	}
	if r, _ := chat(t, ts, chatBody("q"), "Authorization", "Bearer "+plain, "Cache-Control", "no-store, max-age=60"); r.StatusCode != 200 {
		t.Fatalf("no-store and max-age need no right: %d", r.StatusCode)
	}
}

// TestKeysSurviveRestart: keys made through the API work after the
// gateway restarts on the same data directory, and no secret is in its
// files.
func TestKeysSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := upstreamConfig() + authRequired
	start := func() (*Server, *httptest.Server) {
		c, err := ParseConfig([]byte(cfg), func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatal(err)
		}
		c.Storage.Dir = dir
		srv, err := New(c, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		return srv, httptest.NewServer(srv.Handler())
	}
	srv, hs := start()
	id, secret := createKey(t, hs.URL, `{"tenant":"t1","models":["mock-small"]}`)
	revokedID, revoked := createKey(t, hs.URL, `{}`)
	send(t, http.MethodDelete, hs.URL+"/admin/keys/"+revokedID, "")
	hs.Close()
	srv.Close()

	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(path)
		for _, s := range []string{secret, revoked} {
			if bytes.Contains(b, []byte(s[len("sk-sg-"):])) {
				t.Errorf("%s holds a secret in clear", path)
			}
		}
		return nil
	})

	srv, hs = start()
	defer func() { hs.Close(); srv.Close() }()
	body := `{"model":"mock-small","messages":[{"role":"user","content":"hi"}]}`
	if code, b := send(t, http.MethodPost, hs.URL+"/v1/chat/completions", body, "x-api-key", secret); code != 200 {
		t.Fatalf("after restart: %d %s", code, b)
	}
	if code, _ := send(t, http.MethodPost, hs.URL+"/v1/chat/completions", body, "x-api-key", revoked); code != 401 {
		t.Fatalf("revoked key after restart: %d", code)
	}
	if code, b := send(t, http.MethodGet, hs.URL+"/admin/keys/"+id, ""); code != 200 || !strings.Contains(string(b), `"t1"`) {
		t.Fatalf("%d %s", code, b)
	}
}

// newTestServerAt is newTestServer on a given data directory.
func newTestServerAt(t *testing.T, yaml string, env map[string]string, dir string) *testServer {
	t.Helper()
	cfg, err := ParseConfig([]byte(yaml), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	cfg.Storage.Dir = dir
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return &testServer{Server: srv, URL: hs.URL}
}

// BenchmarkAuthStep is the auth step's cost per request with a valid key
// among 1,000 (the middleware: reading the header, hashing, the lookup,
// the principal in the context).
func BenchmarkAuthStep(b *testing.B) {
	cfg, err := ParseConfig([]byte(upstreamConfig()+authRequired), func(string) (string, bool) { return "", false })
	if err != nil {
		b.Fatal(err)
	}
	cfg.Storage.Dir = b.TempDir()
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	var secret string
	for range 1000 {
		_, secret, _ = srv.acl.keys.Create(auth.Spec{Tenant: "t"})
	}
	h := srv.authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if principalOf(r.Context()).Tenant != "t" {
			b.Fatal("no principal")
		}
	}))
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}

// TestWarnOpen: serving beyond loopback without required keys is logged
// loudly; on loopback, or with keys required, it is not.
func TestWarnOpen(t *testing.T) {
	for _, c := range []struct {
		ip       net.IP
		required bool
		warn     bool
	}{
		{net.IPv4zero, false, true}, {net.ParseIP("192.0.2.1"), false, true}, {net.IPv6unspecified, false, true},
		{net.IPv4(127, 0, 0, 1), false, false}, {net.IPv6loopback, false, false}, {net.IPv4zero, true, false},
	} {
		var buf bytes.Buffer
		s := &Server{cfg: &Config{Auth: auth.Options{Required: c.required}}, log: slog.New(slog.NewTextHandler(&buf, nil))}
		s.warnOpen(&net.TCPAddr{IP: c.ip, Port: 8080})
		if got := strings.Contains(buf.String(), "level=WARN") && strings.Contains(buf.String(), "auth.required: false"); got != c.warn {
			t.Errorf("%v required=%v: warned %v: %s", c.ip, c.required, got, buf.String())
		}
	}
}

// TestLowerThresholdRight: a request may lower the similarity threshold
// only with its key's cache.lower_threshold right.
func TestLowerThresholdRight(t *testing.T) {
	h := http.Header{}
	h.Set(headerCacheThreshold, "0.3")
	if _, err := parseCachePolicy(h, 0.6); err == nil {
		t.Fatal("lowered without the right")
	}
	if p, err := parseCachePolicyFor(h, 0.6, true); err != nil || p.threshold != 0.3 {
		t.Fatalf("%+v %v", p, err)
	}
	// Through the gateway: the key's right decides.
	ts := newTestServer(t, upstreamConfig()+authRequired, nil)
	_, plain := createKey(t, ts.URL, `{"tenant":"t"}`)
	_, lower := createKey(t, ts.URL, `{"tenant":"t","cache":{"lower_threshold":true}}`)
	body := `{"model":"mock-small","messages":[{"role":"user","content":"hi"}]}`
	if r := post(t, ts.URL+"/v1/chat/completions", body, "Authorization", "Bearer "+plain, headerCacheThreshold, "0.3"); r.StatusCode != 400 {
		t.Fatalf("a key without the right lowered the threshold: %d", r.StatusCode)
	}
	if r := post(t, ts.URL+"/v1/chat/completions", body, "Authorization", "Bearer "+lower, headerCacheThreshold, "0.3"); r.StatusCode != 200 {
		t.Fatalf("a key with the right could not lower the threshold: %d", r.StatusCode)
	}
}

// TestSDKWithKeys: the official openai-go client with a semgate key, and
// with a revoked one, which it reports as its own 401 error.
func TestSDKWithKeys(t *testing.T) {
	ts := newTestServer(t, upstreamConfig()+authRequired, nil)
	id, secret := createKey(t, ts.URL, `{"tenant":"sdk","models":["mock-small"]}`)
	client := openai.NewClient(option.WithBaseURL(ts.URL+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
	params := openai.ChatCompletionNewParams{Model: "mock-small", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
	if _, err := client.Chat.Completions.New(t.Context(), params); err != nil {
		t.Fatal(err)
	}
	page, err := client.Models.List(t.Context())
	if err != nil || len(page.Data) != 1 || page.Data[0].ID != "mock-small" {
		t.Fatalf("models: %+v %v", page, err)
	}
	send(t, http.MethodDelete, ts.URL+"/admin/keys/"+id, "")
	_, err = client.Chat.Completions.New(t.Context(), params)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || apiErr.Code != "invalid_api_key" {
		t.Fatalf("revoked key through the SDK: %v", err)
	}
}
