package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
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
    deployments: [{provider: mock, model: mock-small, price: {input: 100, output: 100}}]
embed: {model: lexical}
limits: {reservation_lease: 2s}
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
	cache, _ := c.askAs(client, "", prompt, stream)
	return cache
}

// askAs sends one prompt with a virtual key (none if "") and returns the
// x-semgate-cache header of a complete 200 answer and its cost (header,
// or trailer for a stream) in nano-USD; "" when the answer did not
// complete.
func (c *child) askAs(client *http.Client, key, prompt string, stream bool) (cache string, costNano int64) {
	body := `{"model":"m","messages":[{"role":"user","content":` + strconv.Quote(prompt) + `}]`
	if stream {
		body += `,"stream":true`
	}
	req, _ := http.NewRequest(http.MethodPost, c.addr+"/v1/chat/completions", strings.NewReader(body+"}"))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", 0
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return "", 0
	}
	if stream && !strings.HasSuffix(string(b), "data: [DONE]\n\n") {
		return "", 0
	}
	cost := resp.Header.Get("X-Semgate-Cost-Usd")
	if stream {
		cost = resp.Trailer.Get("X-Semgate-Cost-Usd")
	}
	return resp.Header.Get("X-Semgate-Cache"), parseNanoUSD(cost)
}

// parseNanoUSD reads a decimal US dollar amount exactly, in nano-USD; -1
// when it is not one.
func parseNanoUSD(s string) int64 {
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 9 {
		return -1
	}
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return w*1e9 + f
}

// admin calls the admin API (loopback needs no token) and decodes a 2xx
// answer's JSON into v; it reports whether the call was acknowledged.
func (c *child) admin(client *http.Client, method, path, body string, v any) bool {
	req, _ := http.NewRequest(method, c.addr+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode/100 != 2 {
		return false
	}
	return v == nil || json.Unmarshal(b, v) == nil
}

// budget is the spend and the reservations of a key's own budget.
func (c *child) budget(t *testing.T, client *http.Client, id string) (spent, reserved int64) {
	t.Helper()
	var d struct {
		Budgets []struct {
			Scope       string  `json:"scope"`
			SpentUSD    float64 `json:"spent_usd"`
			ReservedUSD float64 `json:"reserved_usd"`
		} `json:"budgets"`
	}
	if !c.admin(client, http.MethodGet, "/admin/keys/"+id, "", &d) || len(d.Budgets) == 0 || d.Budgets[0].Scope != "key" {
		t.Fatalf("GET /admin/keys/%s: %+v", id, d)
	}
	return int64(math.Round(d.Budgets[0].SpentUSD * 1e9)), int64(math.Round(d.Budgets[0].ReservedUSD * 1e9))
}

// crashKey is a virtual key the crash test created.
type crashKey struct {
	ID     string `json:"id"`
	Secret string `json:"key"`
}

// crashState is what clients were acknowledged, over every round.
type crashState struct {
	mu        sync.Mutex
	next      int
	fills     []string   // prompts answered in full
	keys      []crashKey // keys whose creation was answered
	revoked   []crashKey // keys whose revocation was answered
	spentNano int64      // what the spender's answers cost, by their cost headers
	spends    int        // answers the spender received
}

// TestCrashKeepsAcknowledgedWrites: `semgate serve` under write load is
// SIGKILLed at random moments. The load writes each kind of data the
// gateway keeps: cache fills (four clients, streamed and not), keys
// (created, and some revoked, through the admin API) and spend (a client
// with a budgeted key, whose requests reserve and settle). After each
// restart the store opens and nothing acknowledged is missing: every
// answered prompt is an exact hit, and a semantic hit in another case
// (the vector and word indexes agree with the store); every created key
// authenticates and every revoked one is refused; the key's budget holds
// at least what its answers cost, as spend or as reservations held
// after the crash. Those reservations are released when their lease
// (2 s here) ends, the spend then holding every answered cost. Rounds: 3,
// or SEMGATE_CRASH_ROUNDS (make crashtest runs 20).
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
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
	st := &crashState{}
	rng := rand.New(rand.NewPCG(1, 2))

	c := startChild(t, cfg, data)
	var spender crashKey
	if !c.admin(client, http.MethodPost, "/admin/keys", `{"name":"spender","budget":{"max_usd":1000,"period":"month"}}`, &spender) {
		t.Fatal("creating the spender's key failed")
	}
	for round := range rounds {
		if round > 0 {
			c = startChild(t, cfg, data)
			checkAcknowledged(t, c, client, st, spender, fmt.Sprintf("round %d", round))
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		worker := func(f func(i int)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					f(i)
				}
			}()
		}
		for w := range 4 {
			worker(func(i int) {
				st.mu.Lock()
				p := fmt.Sprintf("crash round %d prompt %d: what is %d squared?", round, st.next, st.next)
				st.next++
				st.mu.Unlock()
				if got := c.ask(client, p, (w+i)%2 == 0); got == "miss" {
					st.mu.Lock()
					st.fills = append(st.fills, p)
					st.mu.Unlock()
				}
			})
		}
		worker(func(i int) {
			var k crashKey
			if !c.admin(client, http.MethodPost, "/admin/keys", fmt.Sprintf(`{"name":"crash-%d-%d"}`, round, i), &k) {
				return
			}
			if i%3 == 2 {
				// A revocation cut short by the kill may or may not have
				// been applied: only an answered one is checked.
				if !c.admin(client, http.MethodDelete, "/admin/keys/"+k.ID, "", nil) {
					return
				}
				st.mu.Lock()
				st.revoked = append(st.revoked, k)
				st.mu.Unlock()
				return
			}
			st.mu.Lock()
			st.keys = append(st.keys, k)
			st.mu.Unlock()
		})
		worker(func(i int) {
			p := fmt.Sprintf("crash round %d spend %d: name a prime above %d", round, i, i*7)
			if got, cost := c.askAs(client, spender.Secret, p, i%2 == 1); got == "miss" && cost > 0 {
				st.mu.Lock()
				st.spentNano += cost
				st.spends++
				st.mu.Unlock()
			}
		})
		time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond)
		c.kill()
		close(stop)
		wg.Wait()
	}
	c = startChild(t, cfg, data)
	checkAcknowledged(t, c, client, st, spender, "after the last crash")
	if len(st.fills) < rounds || len(st.keys) == 0 || len(st.revoked) == 0 || st.spends == 0 {
		t.Fatalf("the load did not run: %d fills, %d keys, %d revoked, %d spends in %d rounds",
			len(st.fills), len(st.keys), len(st.revoked), st.spends, rounds)
	}
	// The reservations the last crash left are released when their lease
	// ends (the next reservation on the budget sweeps them); what the
	// answers cost stays spent.
	time.Sleep(2100 * time.Millisecond)
	if got, _ := c.askAs(client, spender.Secret, "crash test: one more prime, please", false); got != "miss" {
		t.Fatalf("a request after the leases ended: %q", got)
	}
	spent, reserved := c.budget(t, client, spender.ID)
	if reserved != 0 || spent < st.spentNano {
		t.Fatalf("after the leases ended: spent %d nano-USD, reserved %d; the %d answers cost %d", spent, reserved, st.spends, st.spentNano)
	}
	t.Logf("%d rounds acknowledged %d fills, %d keys created and %d revoked, %d budgeted answers costing %d nano-USD: none lost (spent %d after the leases ended)",
		rounds, len(st.fills), len(st.keys), len(st.revoked), st.spends, st.spentNano, spent)
}

// checkAcknowledged checks, after a restart, that everything st says was
// acknowledged is there.
func checkAcknowledged(t *testing.T, c *child, client *http.Client, st *crashState, spender crashKey, when string) {
	t.Helper()
	for _, p := range st.fills {
		if got := c.ask(client, p, false); got != "hit-exact" {
			t.Fatalf("%s: %q was answered before a crash, now %q (of %d answered)", when, p, got, len(st.fills))
		}
		if got := c.ask(client, "C"+p[1:], false); got != "hit-semantic" {
			t.Fatalf("%s: %q was answered before a crash, its case variant now %q", when, p, got)
		}
	}
	for _, k := range st.keys {
		if got, _ := c.askAs(client, k.Secret, "crash test: is my key known?", false); got == "" {
			t.Fatalf("%s: key %s was created before a crash, now refused", when, k.ID)
		}
	}
	for _, k := range st.revoked {
		if got, _ := c.askAs(client, k.Secret, "crash test: is my key known?", false); got != "" {
			t.Fatalf("%s: key %s was revoked before a crash, now accepted (%s)", when, k.ID, got)
		}
	}
	spent, reserved := c.budget(t, client, spender.ID)
	if spent+reserved < st.spentNano {
		t.Fatalf("%s: the spender's budget holds %d spent + %d reserved nano-USD; its %d answers cost %d",
			when, spent, reserved, st.spends, st.spentNano)
	}
}
