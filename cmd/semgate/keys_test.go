package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKeysCommands: semgate keys create, list, show and revoke against a
// running gateway that requires keys and an admin token, reading the
// address and token from the configuration.
func TestKeysCommands(t *testing.T) {
	addr := closedAddrFor(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "semgate.yaml")
	os.WriteFile(cfg, []byte(`server: {listen: "`+addr+`", drain_delay: -1s}
storage: {data_dir: "`+filepath.Join(dir, "data")+`"}
log: {requests: false}
auth: {required: true, admin_token: "${SEMGATE_ADMIN_TOKEN}"}
embed: {model: lexical}
providers: [{name: mock, type: mock}]
models:
  - {name: mock-small, deployments: [{provider: mock}]}
  - {name: mock-large, deployments: [{provider: mock}]}
`), 0o644)
	t.Setenv("SEMGATE_ADMIN_TOKEN", "cli-test-token-0123456789")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "--config", cfg}, io.Discard, io.Discard) }()
	defer func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d", code)
			}
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop")
		}
	}()
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i == 100 {
			t.Fatalf("server never came up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	chat := func(key, model string) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/chat/completions",
			strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	code, out, errOut := runCmd(t, "keys", "create", "--config", cfg, "--name", "ci", "--tenant", "team-a",
		"--model", "mock-small", "--rpm", "60", "--budget", "10", "--expires", "720h", "--metadata", "owner=ops")
	var k struct {
		ID, Key, Tenant string
		Models          []string
		Budget          struct{ Period string }
		Metadata        map[string]string
	}
	if code != 0 || json.Unmarshal([]byte(out), &k) != nil || !strings.HasPrefix(k.Key, "sk-sg-") || k.Tenant != "team-a" ||
		len(k.Models) != 1 || k.Budget.Period != "month" || k.Metadata["owner"] != "ops" || !strings.Contains(errOut, "shown this once") {
		t.Fatalf("create: %d %s %s", code, out, errOut)
	}
	if c := chat(k.Key, "mock-small"); c != 200 {
		t.Fatalf("chat with the new key: %d", c)
	}
	if c := chat(k.Key, "mock-large"); c != 403 {
		t.Fatalf("a model the key may not use: %d", c)
	}
	code, out, errOut = runCmd(t, "keys", "list", "--config", cfg)
	if code != 0 || !strings.Contains(out, k.ID) || !strings.Contains(out, "team-a") || !strings.Contains(out, "active") || strings.Contains(out, k.Key) {
		t.Fatalf("list: %d %s %s", code, out, errOut)
	}
	code, out, _ = runCmd(t, "keys", "list", "--config", cfg, "--tenant", "team-b", "--json")
	if code != 0 || strings.Contains(out, k.ID) || !strings.Contains(out, `"data": []`) {
		t.Fatalf("list --tenant team-b: %d %s", code, out)
	}
	code, out, _ = runCmd(t, "keys", "show", k.ID, "--config", cfg)
	if code != 0 || !strings.Contains(out, k.ID) || strings.Contains(out, k.Key) {
		t.Fatalf("show: %d %s", code, out)
	}
	code, out, _ = runCmd(t, "cache", "flush", "--config", cfg, "--tenant", "team-a")
	if code != 0 || !strings.Contains(out, `"deleted": 1`) {
		t.Fatalf("cache flush --tenant: %d %s", code, out)
	}
	code, out, _ = runCmd(t, "keys", "revoke", "--config", cfg, k.ID)
	if code != 0 || !strings.Contains(out, `"revoked"`) {
		t.Fatalf("revoke: %d %s", code, out)
	}
	if c := chat(k.Key, "mock-small"); c != 401 {
		t.Fatalf("a revoked key: %d", c)
	}

	// The token from the environment with --addr; a wrong one is refused.
	if code, out, errOut := runCmd(t, "keys", "list", "--addr", "http://"+addr); code != 0 || !strings.Contains(out, k.ID) {
		t.Fatalf("token from the environment: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := runCmd(t, "keys", "list", "--addr", "http://"+addr, "--token", "wrong-token-0123456789"); code != 1 || !strings.Contains(errOut, "admin token") {
		t.Fatalf("wrong token: %d %s", code, errOut)
	}
	for _, args := range [][]string{{"keys"}, {"keys", "show"}, {"keys", "frobnicate"}, {"keys", "create", "--expires", "soon"}, {"keys", "show", "a", "b"}} {
		if code, _, _ := runCmd(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
