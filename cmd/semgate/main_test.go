package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelpAndVersion(t *testing.T) {
	if code, out, _ := runCmd(t, "version"); code != 0 || !strings.HasPrefix(out, "semgate ") {
		t.Fatalf("version: %d %q", code, out)
	}
	for _, cmd := range []string{"serve", "mock"} {
		code, _, errOut := runCmd(t, cmd, "--help")
		if code != 0 || !strings.Contains(errOut, "Usage: semgate "+cmd) || !strings.Contains(errOut, "-listen") {
			t.Fatalf("%s --help: %d %q", cmd, code, errOut)
		}
	}
	if code, _, errOut := runCmd(t, "config", "check", "--help"); code != 0 || !strings.Contains(errOut, "-config") {
		t.Fatalf("config check --help: %d %q", code, errOut)
	}
	if code, _, _ := runCmd(t, "bogus"); code != 2 {
		t.Fatalf("unknown command exit %d", code)
	}
	if code, _, _ := runCmd(t, "serve", "--no-such-flag"); code != 2 {
		t.Fatalf("bad flag exit %d", code)
	}
}

func TestConfigCheck(t *testing.T) {
	code, out, _ := runCmd(t, "config", "check", "--config", "../../configs/semgate.yaml")
	if code != 0 || !strings.Contains(out, "ok") || !strings.Contains(out, `model "mock-small"`) {
		t.Fatalf("shipped config: %d %s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("providers:\n  - name: o\n    type: openai\n    api_key: sk-do-not-print-me\n    timeout: -5s\n    bogus: 1\nmodels: []\n"), 0o644)
	code, out, errOut := runCmd(t, "config", "check", "--config", bad)
	if code != 1 {
		t.Fatalf("bad config exit %d", code)
	}
	all := out + errOut
	for _, want := range []string{"line 6", "bogus", "timeout", "models"} {
		if !strings.Contains(all, want) {
			t.Fatalf("%q missing from:\n%s", want, all)
		}
	}
	if strings.Contains(all, "sk-do-not-print-me") {
		t.Fatalf("config check printed the key:\n%s", all)
	}
}

// TestServeShippedConfig runs `semgate serve` on the default config, as
// `make run` does, answers a request, and stops on context cancellation
// (what SIGINT does).
func TestServeShippedConfig(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("ANTHROPIC_API_KEY", "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--config", "../../configs/semgate.yaml", "--listen", addr, "--data-dir", t.TempDir()}, io.Discard, io.Discard)
	}()
	var resp *http.Response
	for i := 0; i < 600; i++ { // up to 30 s on a loaded machine
		resp, err = http.Get("http://" + addr + "/readyz")
		if err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("server never came up: %v", err)
	}
	resp.Body.Close()
	resp, err = http.Post("http://"+addr+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"mock-large","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "chat.completion") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	// The cache commands talk to the running gateway.
	code, out, errOut := runCmd(t, "cache", "stats", "--addr", "http://"+addr)
	if code != 0 || !strings.Contains(out, `"entries": 1`) {
		t.Fatalf("cache stats: %d %s %s", code, out, errOut)
	}
	code, out, errOut = runCmd(t, "cache", "flush", "--addr", "http://"+addr, "--model", "mock-large")
	if code != 0 || !strings.Contains(out, `"deleted": 1`) {
		t.Fatalf("cache flush: %d %s %s", code, out, errOut)
	}
	if code, _, _ := runCmd(t, "cache", "stats", "--addr", "http://"+closedAddrFor(t)); code != 1 {
		t.Fatalf("cache stats against nothing exited %d", code)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func closedAddrFor(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestCalibrateFixture(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("providers:\n  - {name: mock, type: mock}\nmodels:\n  - name: m\n    deployments: [{provider: mock, model: mock-small}]\nembed:\n  model: lexical\n"), 0o644)
	code, out, errs := runCmd(t, "calibrate", "--config", cfg, "--pairs", "../../semcache/calibrate/testdata/pairs.jsonl", "--step", "0.1")
	if code != 0 || !strings.Contains(out, "threshold for a false-hit rate <= 0.500%") || !strings.Contains(out, "lexical") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if code, _, _ := runCmd(t, "calibrate", "--config", cfg, "--pairs", "/nonexistent"); code != 1 {
		t.Fatalf("missing pairs: exit %d", code)
	}
	if code, _, _ := runCmd(t, "calibrate", "--step", "0"); code != 2 {
		t.Fatalf("bad flags: exit %d", code)
	}
}
