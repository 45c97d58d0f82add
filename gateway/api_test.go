package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestModelsList(t *testing.T) {
	_, url := upstream(t, jsonAnswer(recordedCompletion))
	ts := newTestServer(t, upstreamConfig(url), nil)
	resp, err := http.Get(ts.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Object string `json:"object"`
		Data   []struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Created int64  `json:"created"`
			OwnedBy string `json:"owned_by"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if list.Object != "list" || len(list.Data) != 2 || list.Data[0].ID != "mock-small" || list.Data[1].ID != "up" {
		t.Fatalf("%+v", list)
	}
	for _, m := range list.Data {
		if m.Object != "model" || m.Created == 0 || m.OwnedBy == "" {
			t.Fatalf("%+v", m)
		}
	}
	one, err := http.Get(ts.URL + "/v1/models/up")
	if err != nil {
		t.Fatal(err)
	}
	defer one.Body.Close()
	if one.StatusCode != 200 || !strings.Contains(string(readBody(t, one)), `"id":"up"`) {
		t.Fatal("GET /v1/models/up failed")
	}
	missing, err := http.Get(ts.URL + "/v1/models/nope")
	if err != nil {
		t.Fatal(err)
	}
	defer missing.Body.Close()
	if missing.StatusCode != 404 {
		t.Fatalf("status %d", missing.StatusCode)
	}
	decodeError(t, readBody(t, missing))
}

func TestOptionalProvidersDisabledWithoutKey(t *testing.T) {
	cfg := `
providers:
  - {name: mock, type: mock}
  - {name: openai, type: openai, optional: true, api_key: "${OPENAI_API_KEY}"}
models:
  - {name: mock-small, deployments: [{provider: mock}]}
  - {name: gpt-4o, deployments: [{provider: openai}]}
`
	ts := newTestServer(t, cfg, nil)
	if got := ts.router.Names(); len(got) != 1 || got[0] != "mock-small" {
		t.Fatalf("models without key: %v", got)
	}
	ts = newTestServer(t, cfg, map[string]string{"OPENAI_API_KEY": "sk-x"})
	if got := ts.router.Names(); len(got) != 2 {
		t.Fatalf("models with key: %v", got)
	}
}

func TestHealthAndReady(t *testing.T) {
	ts := newTestServer(t, upstreamConfig(), nil)
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
	}
	ts.store.Close()
	resp, err := http.Get(ts.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz with closed storage: %d", resp.StatusCode)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	ts := newTestServer(t, upstreamConfig(), nil)
	post(t, ts.URL+"/v1/chat/completions", `{"model":"mock-small","messages":[{"role":"user","content":"hi"}]}`)
	post(t, ts.URL+"/v1/chat/completions", `{"model":"nope","messages":[{"role":"user","content":"hi"}]}`)
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body := string(readBody(t, resp))
	resp.Body.Close()
	for _, want := range []string{
		`semgate_requests_total{endpoint="chat",status="200"} 1`,
		`semgate_requests_total{endpoint="chat",status="404"} 1`,
		`semgate_upstream_requests_total{provider="mock",model="mock-small",alias="mock-small",outcome="ok"} 1`,
		`semgate_request_duration_seconds_bucket{endpoint="chat",le="`,
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("metrics lack %s:\n%s", want, body)
		}
	}
}

// TestGracefulShutdown starts a slow request, asks the server to stop, and
// checks the request still completes while new connections are refused.
func TestGracefulShutdown(t *testing.T) {
	started := make(chan struct{})
	_, url := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		jsonAnswer(recordedCompletion)(w, r)
	})
	cfg, err := ParseConfig([]byte(upstreamConfig(url)), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Storage.Dir = t.TempDir()
	cfg.Server.Listen = "127.0.0.1:0"
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	type result struct {
		status int
		body   string
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Post("http://"+ln.Addr().String()+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"up","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			res <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- result{status: resp.StatusCode, body: string(b)}
	}()
	<-started
	stop()
	r := <-res
	if r.err != nil || r.status != 200 || r.body != recordedCompletion {
		t.Fatalf("in-flight request during shutdown: %+v", r)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Fatal("still accepting after shutdown")
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
}
