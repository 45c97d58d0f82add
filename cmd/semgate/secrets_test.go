package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/semgate/semgate/gateway/auth"
	"github.com/semgate/semgate/providers/mock"
)

// Secrets (issue 13): a whole session of `semgate serve` in a child
// process, logging at debug level, whose configuration holds upstream keys
// (from ${ENV}), a key in a base_url's query and in a query parameter, and
// the admin token; requests that succeed, fail upstream with 401 and 500
// (echoing the key and the URL they got), time out, and cannot connect; a
// virtual key; `semgate config check`, `semgate keys`, /metrics and the
// admin API. Nothing captured may contain a secret.

const (
	secretUpstreamKey = "sk-test-SECRET-upstream-123"
	secretInQuery     = "sk-secret-in-query"
	secretQueryParam  = "qp-SECRET-param-789"
	secretAdminToken  = "adm-SECRET-token-456"
)

// lockedBuffer collects the child's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// echoUpstream answers status with an OpenAI error whose message repeats
// what semgate sent: its credentials and the URL with its query, as some
// upstreams and proxies do.
func echoUpstream(t *testing.T, status int) string {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		msg := fmt.Sprintf("rejected %s %s (api-key header %q)", r.Header.Get("Authorization"), r.URL.RequestURI(), r.Header.Get("Api-Key"))
		b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error", "param": nil, "code": "invalid_api_key"}})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s.URL
}

func TestSecretsNeverLeak(t *testing.T) {
	t.Setenv("SEMGATE_T_UPSTREAM_KEY", secretUpstreamKey)
	t.Setenv("SEMGATE_T_QUERY_KEY", secretInQuery)
	t.Setenv("SEMGATE_T_QUERY_PARAM", secretQueryParam)
	t.Setenv("SEMGATE_T_ADMIN_TOKEN", secretAdminToken)

	mh, err := mock.NewHandler(mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	good := httptest.NewServer(mh)
	t.Cleanup(func() { mh.Close(); good.Close() })
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	unauthorized, failing := echoUpstream(t, 401), echoUpstream(t, 500)
	closed := "http://" + closedAddrFor(t)

	addr := closedAddrFor(t)
	q := "?api-key=${SEMGATE_T_QUERY_KEY}"
	provider := func(name, base, extra string) string {
		return fmt.Sprintf("  - {name: %s, type: openai, base_url: %q, api_key: \"${SEMGATE_T_UPSTREAM_KEY}\", timeout: 300ms%s}\n", name, base, extra)
	}
	config := "providers:\n" +
		provider("good", good.URL+"/v1"+q, "") +
		provider("unauth", unauthorized+"/v1"+q, ", query: {sig: \"${SEMGATE_T_QUERY_PARAM}\"}") +
		provider("failing", failing+"/v1"+q, ", auth_header: api-key") +
		provider("slow", slow.URL+"/v1"+q, "") +
		provider("down", closed+"/v1"+q, ", query: {sig: \"${SEMGATE_T_QUERY_PARAM}\"}") +
		"models:\n" +
		"  - {name: good, deployments: [{provider: good, model: mock-small}]}\n" +
		"  - {name: unauth, deployments: [{provider: unauth, model: x}]}\n" +
		"  - {name: failing, deployments: [{provider: failing, model: x}]}\n" +
		"  - {name: slow, deployments: [{provider: slow, model: x}]}\n" +
		"  - {name: down, deployments: [{provider: down, model: x}]}\n" +
		"  - {name: down-then-good, policy: priority, retry: {max_attempts: 2}, deployments: [{provider: down, model: x}, {provider: good, model: mock-small}]}\n" +
		"routing: {retry: {max_attempts: 1}}\n" +
		"auth: {admin_token: \"${SEMGATE_T_ADMIN_TOKEN}\"}\n" +
		"log: {level: debug, format: json, requests: true}\n" +
		"server: {listen: \"" + addr + "\"}\n"
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "semgate.yaml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}

	// captured is everything a person or a program could see.
	var captured []string
	capture := func(what, s string) { captured = append(captured, what+":\n"+s) }

	// semgate config check, on the configuration and on a broken copy.
	code, out, errOut := runCmd(t, "config", "check", "--config", cfgPath)
	if code != 0 {
		t.Fatalf("config check: %d %s %s", code, out, errOut)
	}
	capture("config check", out+errOut)
	broken := filepath.Join(dir, "broken.yaml")
	os.WriteFile(broken, []byte(strings.Replace(config, "timeout: 300ms", "timeout: -1s, bogus: 1", 1)), 0o600)
	code, out, errOut = runCmd(t, "config", "check", "--config", broken)
	if code != 1 {
		t.Fatalf("broken config check: exit %d", code)
	}
	capture("config check (broken)", out+errOut)

	// semgate serve, in a child process logging at debug level.
	logs := &lockedBuffer{}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SEMGATE_TEST_CHILD="+strings.Join([]string{"serve", "--config", cfgPath, "--listen", addr, "--data-dir", filepath.Join(dir, "data")}, "\x1f"))
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := "http://" + addr
	ready := false
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if ready = resp.StatusCode == 200; ready {
				break
			}
		}
	}
	if !ready {
		t.Fatalf("the gateway did not become ready:\n%s", logs.String())
	}

	// A virtual key, through the CLI (its secret is printed this once, by
	// design: that output is not searched for it).
	code, out, errOut = runCmd(t, "keys", "create", "--config", cfgPath, "--name", "secrets-test")
	if code != 0 {
		t.Fatalf("keys create: %d %s %s", code, out, errOut)
	}
	var created struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || !strings.HasPrefix(created.Key, auth.SecretPrefix) {
		t.Fatalf("keys create printed %q (%v)", out, err)
	}
	virtualKey := created.Key
	capture("keys create (stderr)", errOut)
	for _, args := range [][]string{{"keys", "list"}, {"keys", "show", created.ID}, {"keys", "list", "--json"}} {
		code, out, errOut := runCmd(t, append(args, "--config", cfgPath)...)
		if code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, errOut)
		}
		capture(strings.Join(args, " "), out+errOut)
	}

	do := func(method, path, body string, hdr ...string) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var h strings.Builder
		resp.Header.Write(&h)
		resp.Trailer.Write(&h)
		capture(method+" "+path, fmt.Sprintf("%d\n%s\n%s", resp.StatusCode, h.String(), b))
		return resp.StatusCode
	}
	chat := func(model string, stream bool, hdr ...string) int {
		body := `{"model":"` + model + `","messages":[{"role":"user","content":"Hello from the secrets test"}]`
		if stream {
			body += `,"stream":true`
		}
		return do(http.MethodPost, "/v1/chat/completions", body+"}", hdr...)
	}
	withKey := []string{"Authorization", "Bearer " + virtualKey}
	for _, tc := range []struct {
		model  string
		stream bool
		hdr    []string
		want   int
	}{
		{"good", false, withKey, 200},
		{"good", true, withKey, 200},
		{"good", false, withKey, 200}, // a cache hit
		{"unauth", false, withKey, 502},
		{"unauth", true, withKey, 502},
		{"failing", false, withKey, 502},
		{"slow", false, withKey, 504},
		{"slow", true, withKey, 504},
		{"down", false, withKey, 502},
		{"down", true, withKey, 502},
		{"down-then-good", false, withKey, 200},
		// A client sending the upstream's key, or an unknown sk-sg- key.
		{"good", false, []string{"Authorization", "Bearer " + secretUpstreamKey}, 200},
		{"good", false, []string{"x-api-key", auth.SecretPrefix + strings.Repeat("A", auth.SecretLen-len(auth.SecretPrefix))}, 401},
	} {
		if got := chat(tc.model, tc.stream, tc.hdr...); got != tc.want {
			t.Errorf("%s (stream %v): status %d, want %d", tc.model, tc.stream, got, tc.want)
		}
	}
	admin := []string{"Authorization", "Bearer " + secretAdminToken}
	for _, path := range []string{"/metrics", "/v1/models", "/readyz", "/healthz"} {
		do(http.MethodGet, path, "")
	}
	for _, path := range []string{"/admin/cache/stats", "/admin/cache/entries", "/admin/keys", "/admin/keys/" + created.ID, "/admin/usage"} {
		if got := do(http.MethodGet, path, "", admin...); got != 200 {
			t.Errorf("GET %s: %d", path, got)
		}
	}
	do(http.MethodGet, "/admin/keys", "", "Authorization", "Bearer wrong-"+secretAdminToken)
	do(http.MethodPost, "/admin/cache/explain", `{"a":"Hello from the secrets test","b":"Hello from the secrets tests"}`, admin...)

	// Stop the gateway; its log is complete.
	cmd.Process.Kill()
	cmd.Wait()
	capture("the gateway's log (debug)", logs.String())
	if n := strings.Count(logs.String(), `"msg":"request"`); n < 12 {
		t.Fatalf("the access log has %d request lines:\n%.3000s", n, logs.String())
	}
	for _, s := range []string{secretUpstreamKey, secretInQuery, secretQueryParam, secretAdminToken, virtualKey} {
		for _, c := range captured {
			if i := strings.Index(c, s); i >= 0 {
				what, _, _ := strings.Cut(c, "\n")
				t.Errorf("secret %q leaked in %s: ...%s...", s, what, c[max(0, i-300):min(len(c), i+len(s)+100)])
			}
		}
	}
}
