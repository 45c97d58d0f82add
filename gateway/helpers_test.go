package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// testServer is a gateway on a temp data dir behind an httptest server.
type testServer struct {
	*Server
	URL string
}

// newTestServer parses yaml (with env from the map) and serves it.
func newTestServer(t *testing.T, yaml string, env map[string]string) *testServer {
	t.Helper()
	cfg, err := ParseConfig([]byte(yaml), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	cfg.Storage.Dir = t.TempDir()
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

// upstreamConfig is a config with one openai-type provider at url serving
// alias "up" as upstream model "upstream-model", and the mock provider.
func upstreamConfig(urls ...string) string {
	var b strings.Builder
	b.WriteString("providers:\n  - name: mock\n    type: mock\n")
	for i, u := range urls {
		b.WriteString("  - name: up" + string(rune('a'+i)) + "\n    type: openai\n    base_url: " + u + "\n    api_key: sk-test-SECRET\n    timeout: 2s\n    idle_timeout: 2s\n")
	}
	b.WriteString("models:\n  - name: mock-small\n    deployments:\n      - provider: mock\n")
	if len(urls) > 0 {
		b.WriteString("  - name: up\n    deployments:\n")
		for i := range urls {
			b.WriteString("      - provider: up" + string(rune('a'+i)) + "\n        model: upstream-model\n")
		}
	}
	return b.String()
}

func post(t *testing.T, url, body string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readBody(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openAIError decodes and checks an OpenAI-shaped error body: all four keys
// present, message non-empty.
type openAIError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func decodeError(t *testing.T, body []byte) openAIError {
	t.Helper()
	var raw struct {
		Error map[string]json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(body, &raw); err != nil || raw.Error == nil {
		t.Fatalf("not an OpenAI error body: %s (%v)", body, err)
	}
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := raw.Error[k]; !ok {
			t.Fatalf("error body lacks %q: %s", k, body)
		}
	}
	var e struct {
		Error openAIError `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatal(err)
	}
	if e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("empty message or type: %s", body)
	}
	return e.Error
}

// closedAddr returns an address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

var _ = context.Background
