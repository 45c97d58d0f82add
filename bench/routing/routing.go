// Package routing is the `routing` benchmark scenario: a mixed workload of
// easy and hard prompts through an in-process semgate gateway over two
// tiers of mock upstreams (two deployments each, on loopback, with injected
// faults), once through the auto alias and once always on the strong tier.
// It reports the success rate, latency, cost per 1,000 requests and the
// share of requests each tier got.
package routing

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/semgate/semgate/gateway"
	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/mock"
	"github.com/semgate/semgate/providers/route"
)

// Options configure a run. The zero value means defaults.
type Options struct {
	// Requests per mode. Default 2000.
	Requests int `json:"requests"`
	// Concurrency is the number of clients. Default 8.
	Concurrency int `json:"concurrency"`
	// FaultRate is each mock upstream's share of faulty answers. Default
	// 0.05; negative means none.
	FaultRate float64 `json:"fault_rate"`
	// Faults are the fault kinds drawn. Default 429, 500, 503, reset,
	// stall, truncate, malformed.
	Faults []string `json:"faults"`
	// HardShare is the share of hard prompts in the workload. Default 0.3.
	HardShare float64 `json:"hard_share"`
	// StreamShare is the share of streamed requests. Default 0.2.
	StreamShare float64 `json:"stream_share"`
	// Threshold is the auto alias's threshold. Default 0.3.
	Threshold float64 `json:"threshold"`
	// TTFT is the mocks' time to first token. Default 5ms.
	TTFT time.Duration `json:"ttft"`
	// Seed seeds the workload and the mocks' faults. Default 1.
	Seed int64 `json:"seed"`
}

func (o *Options) defaults() {
	if o.Requests == 0 {
		o.Requests = 2000
	}
	if o.Concurrency == 0 {
		o.Concurrency = 8
	}
	if o.FaultRate == 0 {
		o.FaultRate = 0.05
	}
	if o.FaultRate < 0 {
		o.FaultRate = 0
	}
	if len(o.Faults) == 0 {
		o.Faults = []string{"429", "500", "503", "reset", "stall", "truncate", "malformed"}
	}
	if o.HardShare == 0 {
		o.HardShare = 0.3
	}
	if o.StreamShare == 0 {
		o.StreamShare = 0.2
	}
	if o.Threshold == 0 {
		o.Threshold = 0.3
	}
	if o.TTFT == 0 {
		o.TTFT = 5 * time.Millisecond
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
}

// Tier prices, USD per million tokens (gpt-4o-mini-like and gpt-4o-like).
var (
	cheapPrice  = providers.Price{Input: 0.15, Output: 0.60}
	strongPrice = providers.Price{Input: 2.50, Output: 10}
)

// Prompt is one workload item.
type Prompt struct {
	Body   string
	Hard   bool
	Stream bool
	Score  float64
}

// Result is one mode's figures.
type Result struct {
	Mode        string             `json:"mode"`
	Alias       string             `json:"alias"`
	Requests    int                `json:"requests"`
	OK          int                `json:"ok"`
	SuccessRate float64            `json:"success_rate"`
	FailedBy    map[int]int        `json:"failed_by_status"`
	MidStream   int                `json:"failed_mid_stream"`
	P50ms       float64            `json:"p50_ms"`
	P99ms       float64            `json:"p99_ms"`
	CostUSD     float64            `json:"cost_usd"`
	CostPer1k   float64            `json:"cost_per_1k_usd"`
	Attempts    float64            `json:"mean_attempts"`
	TierShares  map[string]float64 `json:"tier_shares"`
	// Misrouted counts hard prompts answered by the cheap tier and easy
	// ones by the strong tier (auto mode).
	HardOnCheap  int     `json:"hard_on_cheap"`
	EasyOnStrong int     `json:"easy_on_strong"`
	Seconds      float64 `json:"seconds"`
}

// Report is a whole run.
type Report struct {
	Scenario string    `json:"scenario"`
	Started  time.Time `json:"started"`
	Command  string    `json:"command"`
	Options  Options   `json:"options"`
	Results  []Result  `json:"results"`
	// Saving is 1 - auto's cost per 1k / strong-only's.
	Saving float64 `json:"saving"`
	// Scores is the histogram of difficulty scores over the workload,
	// in tenths: Scores[i] counts scores in [i/10, (i+1)/10).
	Scores [11]int `json:"score_histogram"`
	// HardScores is the same for the prompts labelled hard.
	HardScores [11]int `json:"hard_score_histogram"`
}

// Run runs both modes and returns the report.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.defaults()
	rep := &Report{Scenario: "routing", Started: time.Now().UTC(), Options: o}
	work := Workload(o)
	for _, p := range work {
		i := min(int(p.Score*10), 10)
		rep.Scores[i]++
		if p.Hard {
			rep.HardScores[i]++
		}
	}
	for _, mode := range []struct{ name, alias string }{{"auto", "auto"}, {"strong-only", "strong"}} {
		res, err := runMode(ctx, o, mode.name, mode.alias, work)
		if err != nil {
			return nil, err
		}
		rep.Results = append(rep.Results, *res)
	}
	if s := rep.Results[1].CostPer1k; s > 0 {
		rep.Saving = 1 - rep.Results[0].CostPer1k/s
	}
	return rep, nil
}

// Workload returns the deterministic mix of prompts, scored.
func Workload(o Options) []Prompt {
	o.defaults()
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 42))
	out := make([]Prompt, o.Requests)
	for i := range out {
		hard := rng.Float64() < o.HardShare
		stream := rng.Float64() < o.StreamShare
		var body string
		if hard {
			body = hardPrompts[rng.IntN(len(hardPrompts))]
		} else {
			body = easyPrompts[rng.IntN(len(easyPrompts))]
		}
		text := fmt.Sprintf(body, i)
		req := map[string]any{"model": "MODEL", "messages": []map[string]any{{"role": "user", "content": text}}}
		if hard && rng.IntN(3) == 0 {
			req["max_tokens"] = 1500
		}
		if stream {
			req["stream"] = true
		}
		b, _ := json.Marshal(req)
		f := route.Inspect(providers.EndpointChat, b)
		out[i] = Prompt{Body: string(b), Hard: hard, Stream: stream, Score: route.Difficulty(f).Value}
	}
	return out
}

var easyPrompts = []string{
	"What is the capital of France? (#%d)",
	"Say hello to my friend Anna. (#%d)",
	"Translate 'good morning' into Spanish. (#%d)",
	"Give me a synonym for happy. (#%d)",
	"What does HTTP stand for? (#%d)",
	"Name three colours of the rainbow. (#%d)",
	"Is a tomato a fruit? (#%d)",
	"Summarise in one sentence: the meeting moved to Tuesday. (#%d)",
	"What time zone is Tokyo in? (#%d)",
	"Suggest a name for a grey cat. (#%d)",
}

var hardPrompts = []string{
	"Implement a thread-safe LRU cache in Go with generics and TTL expiry. Explain the trade-offs of your locking strategy. (#%d)\n```go\ntype Cache[K comparable, V any] struct{}\n```",
	"Solve for x and show every step: 3x^2 + 12x - 15 = 0, then compute the derivative of f(x) = 3x^2 + 12x at x = 2. (#%d)",
	"Design a rate limiter for a multi-region API.\n1. Compare token bucket and sliding window\n2. Explain how to keep regions consistent\n3. Analyze failure modes\nWhy would you choose one over the other? (#%d)",
	"Write a detailed, comprehensive report on the trade-offs between PostgreSQL and Cassandra for a time-series workload, with a migration plan. (#%d)",
	"Debug this Python function and explain why it fails for empty lists:\n```python\ndef avg(xs):\n    return sum(xs) / len(xs)\n```\nThen write unit tests for it. (#%d)",
	"Prove that the sum of the first n odd numbers is n^2, then calculate the probability that two dice sum to 7. (#%d)",
}

// config is the gateway configuration of a run: four mock deployments in
// two tiers.
func config(o Options, urls []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "log: {level: error, requests: false}\ncache: {disabled: true}\nproviders:\n")
	names := []string{"cheap-a", "cheap-b", "strong-a", "strong-b"}
	for i, u := range urls {
		fmt.Fprintf(&b, "  - {name: %s, type: openai, base_url: %q, timeout: 5s, idle_timeout: 1s}\n", names[i], u)
	}
	dep := func(name, model string, tier int, p providers.Price) string {
		return fmt.Sprintf("      - {provider: %s, model: %s, tier: %d, timeout: 500ms, context_window: 128000, price: {input: %g, output: %g}}\n", name, model, tier, p.Input, p.Output)
	}
	fmt.Fprintf(&b, "models:\n  - name: auto\n    policy: auto\n    auto: {thresholds: [%g]}\n    deployments:\n", o.Threshold)
	b.WriteString(dep("cheap-a", "mock-small", 1, cheapPrice))
	b.WriteString(dep("cheap-b", "mock-small", 1, cheapPrice))
	b.WriteString(dep("strong-a", "mock-large", 2, strongPrice))
	b.WriteString(dep("strong-b", "mock-large", 2, strongPrice))
	b.WriteString("  - name: strong\n    deployments:\n")
	b.WriteString(dep("strong-a", "mock-large", 2, strongPrice))
	b.WriteString(dep("strong-b", "mock-large", 2, strongPrice))
	return b.String()
}

// runMode starts fresh mocks and a fresh gateway and sends the workload
// to alias.
func runMode(ctx context.Context, o Options, mode, alias string, work []Prompt) (*Result, error) {
	var urls []string
	for i := 0; i < 4; i++ {
		h, err := mock.NewHandler(mock.Options{TTFT: o.TTFT, FaultRate: o.FaultRate, Faults: o.Faults, Seed: o.Seed + int64(i), MaxTokens: 200})
		if err != nil {
			return nil, err
		}
		srv := httptest.NewServer(h)
		defer func() { h.Close(); srv.Close() }()
		urls = append(urls, srv.URL+"/v1")
	}
	cfg, err := gateway.ParseConfig([]byte(config(o, urls)), func(string) (string, bool) { return "", false })
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "semgate-routing-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cfg.Storage.Dir = dir
	cfg.Routing.Seed = o.Seed
	gw, err := gateway.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	defer gw.Close()
	front := httptest.NewServer(gw.Handler())
	defer front.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Concurrency * 2}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()

	type outcome struct {
		status    int
		midStream bool
		latency   time.Duration
		costNano  int64
		model     string
		attempts  int
	}
	outs := make([]outcome, len(work))
	next := make(chan int)
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < o.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				body := strings.Replace(work[i].Body, `"MODEL"`, strconv.Quote(alias), 1)
				start := time.Now()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, front.URL+"/v1/chat/completions", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					outs[i] = outcome{status: 599, latency: time.Since(start)}
					continue
				}
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				oc := outcome{status: resp.StatusCode, latency: time.Since(start), model: resp.Header.Get("X-Semgate-Model")}
				oc.attempts, _ = strconv.Atoi(resp.Header.Get("X-Semgate-Attempts"))
				cost := resp.Header.Get("X-Semgate-Cost-Usd")
				if work[i].Stream {
					cost = resp.Trailer.Get("X-Semgate-Cost-Usd")
					if oc.status == 200 && !bytes.HasSuffix(bytes.TrimSpace(data), []byte("[DONE]")) {
						oc.midStream = true
					}
				}
				if f, err := strconv.ParseFloat(cost, 64); err == nil {
					oc.costNano = int64(f*1e9 + 0.5)
				}
				outs[i] = oc
			}
		}()
	}
	for i := range work {
		select {
		case next <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := &Result{Mode: mode, Alias: alias, Requests: len(work), FailedBy: map[int]int{}, TierShares: map[string]float64{},
		Seconds: time.Since(t0).Seconds()}
	var lat []float64
	var costNano int64
	attempts := 0
	for i, oc := range outs {
		lat = append(lat, float64(oc.latency.Microseconds())/1000)
		costNano += oc.costNano
		attempts += oc.attempts
		switch {
		case oc.status == 200 && !oc.midStream:
			res.OK++
		case oc.midStream:
			res.MidStream++
		default:
			res.FailedBy[oc.status]++
		}
		if oc.model != "" {
			res.TierShares[oc.model]++
			if work[i].Hard && oc.model == "mock-small" {
				res.HardOnCheap++
			}
			if !work[i].Hard && oc.model == "mock-large" {
				res.EasyOnStrong++
			}
		}
	}
	answered := 0.0
	for _, n := range res.TierShares {
		answered += n
	}
	for k, n := range res.TierShares {
		res.TierShares[k] = n / answered
	}
	slices.Sort(lat)
	res.P50ms, res.P99ms = quantile(lat, 0.50), quantile(lat, 0.99)
	res.SuccessRate = float64(res.OK) / float64(len(work))
	res.CostUSD = float64(costNano) / 1e9
	res.CostPer1k = res.CostUSD / float64(len(work)) * 1000
	res.Attempts = float64(attempts) / float64(len(work))
	return res, nil
}

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// WriteMarkdown renders the report.
func WriteMarkdown(w io.Writer, r *Report) {
	o := r.Options
	fmt.Fprintf(w, "# routing: %s\n\n", r.Started.Format("2006-01-02 15:04:05 UTC"))
	if r.Command != "" {
		fmt.Fprintf(w, "Command: `%s`\n\n", r.Command)
	}
	fmt.Fprintf(w, "%d requests per mode, %d clients; %.0f%% hard prompts, %.0f%% streamed; every mock upstream fails %.1f%% of requests (%s); mock TTFT %s.\n",
		o.Requests, o.Concurrency, 100*o.HardShare, 100*o.StreamShare, 100*o.FaultRate, strings.Join(o.Faults, ", "), o.TTFT)
	fmt.Fprintf(w, "Tiers: cheap `mock-small` ($%g/$%g per 1M in/out) and strong `mock-large` ($%g/$%g), two deployments each; auto threshold %g.\n\n",
		cheapPrice.Input, cheapPrice.Output, strongPrice.Input, strongPrice.Output, o.Threshold)
	fmt.Fprintln(w, "| mode | success | failed (status: n) | failed mid-stream | p50 ms | p99 ms | mean attempts | cost / 1k req | tier shares |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, res := range r.Results {
		var failed []string
		for _, s := range sortedKeys(res.FailedBy) {
			failed = append(failed, fmt.Sprintf("%d: %d", s, res.FailedBy[s]))
		}
		var shares []string
		for _, m := range sortedKeys(res.TierShares) {
			shares = append(shares, fmt.Sprintf("%s %.1f%%", m, 100*res.TierShares[m]))
		}
		fmt.Fprintf(w, "| %s | %.2f%% | %s | %d | %.1f | %.1f | %.3f | $%.4f | %s |\n", res.Mode, 100*res.SuccessRate,
			orDash(strings.Join(failed, ", ")), res.MidStream, res.P50ms, res.P99ms, res.Attempts, res.CostPer1k, strings.Join(shares, ", "))
	}
	if len(r.Results) == 2 {
		a := r.Results[0]
		fmt.Fprintf(w, "\nauto costs **%.1f%% less** than always using the strong tier. Of the labelled workload, %d hard prompts went to the cheap tier and %d easy ones to the strong tier.\n",
			100*r.Saving, a.HardOnCheap, a.EasyOnStrong)
	}
	fmt.Fprintln(w, "\nDifficulty scores of the workload (all / labelled hard):\n\n| score | all | hard |\n|---|---|---|")
	for i := range r.Scores {
		if r.Scores[i] > 0 {
			fmt.Fprintf(w, "| %.1f-%.1f | %d | %d |\n", float64(i)/10, float64(i+1)/10, r.Scores[i], r.HardScores[i])
		}
	}
	fmt.Fprintln(w, "\nFailures mid-stream are streams whose upstream failed after the first byte reached the client: by design they end with an error event and are not retried.")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sortedKeys[K int | string, V any](m map[K]V) []K {
	var ks []K
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
