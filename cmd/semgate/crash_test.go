package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the crash test run this test binary as `semgate serve` in
// a child process it can SIGKILL.
func TestMain(m *testing.M) {
	if args := os.Getenv("SEMGATE_TEST_CHILD"); args != "" {
		os.Exit(run(context.Background(), strings.Split(args, "\x1f"), io.Discard, os.Stderr))
	}
	os.Exit(m.Run())
}

const crashConfig = `providers:
  - {name: mock, type: mock, mock: {ttft: 5ms, inter_token_delay: 1ms}}
models:
  - name: m
    deployments: [{provider: mock, model: mock-small}]
log: {requests: false, level: error}
`

// child is `semgate serve` in a child process.
type child struct {
	cmd  *exec.Cmd
	addr string
}

func startChild(t *testing.T, cfg, dataDir string) *child {
	t.Helper()
	addr := closedAddrFor(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SEMGATE_TEST_CHILD="+strings.Join([]string{"serve", "--config", cfg, "--listen", addr, "--data-dir", dataDir}, "\x1f"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, addr: "http://" + addr}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(c.addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return c
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the gateway did not become ready")
	return nil
}

func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
}

// ask sends one prompt and returns the x-semgate-cache header of a
// complete 200 answer, or "" when the answer did not complete.
func (c *child) ask(client *http.Client, prompt string, stream bool) string {
	body := `{"model":"m","messages":[{"role":"user","content":` + strconv.Quote(prompt) + `}]`
	if stream {
		body += `,"stream":true`
	}
	resp, err := client.Post(c.addr+"/v1/chat/completions", "application/json", strings.NewReader(body+"}"))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return ""
	}
	if stream && !strings.HasSuffix(string(b), "data: [DONE]\n\n") {
		return ""
	}
	return resp.Header.Get("X-Semgate-Cache")
}

// TestCrashKeepsAnsweredFills: `semgate serve` under write load is
// SIGKILLed at random moments; after each restart the store opens and
// every answer a client received in full is a cache hit. Rounds: 3, or
// SEMGATE_CRASH_ROUNDS (make crashtest runs 20).
func TestCrashKeepsAnsweredFills(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	rounds := 3
	if n, err := strconv.Atoi(os.Getenv("SEMGATE_CRASH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "semgate.yaml")
	if err := os.WriteFile(cfg, []byte(crashConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	client := &http.Client{Timeout: 10 * time.Second}
	var acked []string // prompts answered in full, over all rounds
	rng := rand.New(rand.NewPCG(1, 2))
	next := 0
	for round := range rounds {
		c := startChild(t, cfg, data)
		// Everything acknowledged before the last kill must be a hit.
		for _, p := range acked {
			if got := c.ask(client, p, false); got != "hit-exact" {
				t.Fatalf("round %d: %q was answered before a crash, now %q (of %d answered)", round, p, got, len(acked))
			}
		}
		// Write load: 4 clients asking new prompts, streamed and not,
		// until the kill at a random moment.
		var mu sync.Mutex
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					mu.Lock()
					p := fmt.Sprintf("crash round %d prompt %d: what is %d squared?", round, next, next)
					next++
					mu.Unlock()
					if got := c.ask(client, p, (w+i)%2 == 0); got == "miss" {
						mu.Lock()
						acked = append(acked, p)
						mu.Unlock()
					}
				}
			}()
		}
		time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond)
		c.kill()
		close(stop)
		wg.Wait()
	}
	c := startChild(t, cfg, data)
	for _, p := range acked {
		if got := c.ask(client, p, false); got != "hit-exact" {
			t.Fatalf("after the last crash: %q was answered, now %q (of %d answered)", p, got, len(acked))
		}
	}
	if len(acked) < rounds {
		t.Fatalf("only %d answers in %d rounds: the load did not run", len(acked), rounds)
	}
	t.Logf("%d rounds, %d answers acknowledged before kills, none lost", rounds, len(acked))
}
