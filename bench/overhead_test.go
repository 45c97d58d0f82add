package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semgate/semgate/bench/internal/harness"
)

func TestRequestBody(t *testing.T) {
	var req struct {
		Model    string
		Stream   *bool
		Messages []struct{ Role, Content string }
	}
	if err := json.Unmarshal(requestBody(), &req); err != nil {
		t.Fatal(err)
	}
	if req.Model != benchModel || req.Stream == nil || *req.Stream || len(req.Messages) != 2 ||
		req.Messages[0].Role != "system" || req.Messages[1].Role != "user" {
		t.Errorf("unexpected body %s", requestBody())
	}
	if n := len(req.Messages[0].Content) + len(req.Messages[1].Content); n < 150 || n > 250 {
		t.Errorf("messages are %d bytes, want about 200", n)
	}
}

func TestParseOverheadFlags(t *testing.T) {
	o, err := parseOverheadFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.Rounds != 3 || o.Duration != 10*time.Second || o.Connections != 32 || o.Threads != 2 || strings.Join(o.Modes, ",") != "low,saturation" {
		t.Errorf("defaults %+v", o)
	}
	for _, bad := range [][]string{
		{"--rounds", "0"}, {"--duration", "1500ms"}, {"--modes", "low,fast"}, {"--threads", "4", "--connections", "2"}, {"extra"},
	} {
		if _, err := parseOverheadFlags(bad); err == nil {
			t.Errorf("parseOverheadFlags(%q): want an error", bad)
		}
	}
}

func TestRotate(t *testing.T) {
	for k, want := range []string{"direct proxy semgate", "proxy semgate direct", "semgate direct proxy", "direct proxy semgate"} {
		if got := strings.Join(rotate(targetNames, k), " "); got != want {
			t.Errorf("rotate %d = %s, want %s", k, got, want)
		}
	}
}

func TestNoWrk(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := runOverhead(context.Background(), []string{"--rounds", "1"})
	if !errors.Is(err, harness.ErrNoWrk) || !strings.Contains(err.Error(), "apt-get install -y wrk") {
		t.Errorf("runOverhead without wrk = %v", err)
	}
}

func runs(target string, rps []float64, p50, p99 []float64) []runResult {
	var out []runResult
	for i := range rps {
		out = append(out, runResult{Round: i + 1, Target: target, RPS: rps[i], P50Ms: p50[i], P99Ms: p99[i]})
	}
	return out
}

func testReport() *report {
	low := append(append(
		runs(targetDirect, []float64{620, 630, 625}, []float64{51.0, 51.2, 51.1}, []float64{52.0, 52.4, 52.2}),
		runs(targetProxy, []float64{600, 610, 605}, []float64{51.4, 51.5, 51.45}, []float64{53.0, 53.2, 53.1})...),
		runs(targetSemgate, []float64{600, 605, 602}, []float64{51.5, 51.6, 51.55}, []float64{53.5, 53.9, 53.6})...)
	sat := append(append(
		runs(targetDirect, []float64{60000, 61000, 59000}, []float64{0.4, 0.4, 0.4}, []float64{5, 5, 5}),
		runs(targetProxy, []float64{16000, 16800, 17000}, []float64{1.8, 1.8, 1.8}, []float64{5, 5, 5})...),
		runs(targetSemgate, []float64{14000, 15000, 14500}, []float64{2, 2, 2}, []float64{6, 6, 6})...)
	r := &report{
		Started:  time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC),
		Settings: &overheadOptions{Rounds: 3, DurationText: "10s", WarmupText: "3s"},
		Modes:    []modeResult{{Name: "low", Runs: low}, {Name: "saturation", Runs: sat}},
	}
	r.finish()
	return r
}

func TestSummaryAndChecks(t *testing.T) {
	r := testReport()
	low := r.Modes[0].Summary
	near := func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
	if px := find(low, targetProxy); !near(px.AddedP50Ms, 0.35) || !near(px.AddedP99Ms, 0.9) || !near(px.RPS, 605) {
		t.Errorf("proxy summary %+v", px)
	}
	if sg := find(r.Modes[1].Summary, targetSemgate); !near(sg.RPSPctOfPx, 100*14500/16800.0) || sg.RPSMin != 14000 || sg.RPSMax != 15000 {
		t.Errorf("semgate summary %+v", sg)
	}
	// 86% of the proxy's req/s fails; +0.10 ms over the proxy's added p50
	// and +1.4 ms added p99 pass.
	want := []string{"FAIL", "PASS", "PASS"}
	for i, c := range r.Checks {
		if c.Result != want[i] {
			t.Errorf("check %q = %s (%s), want %s", c.Name, c.Result, c.Measured, want[i])
		}
	}
}

func TestChecksNotRunAndErrors(t *testing.T) {
	r := testReport()
	r.Modes = r.Modes[:1]
	r.Modes[0].Runs[4].Errors = 3 // a proxy run
	r.Warnings = nil
	r.finish()
	if r.Checks[0].Result != "not run" || r.Checks[1].Result != "FAIL (errors)" || r.Checks[2].Result != "PASS" {
		t.Errorf("checks %+v", r.Checks)
	}
	if len(r.Warnings) != 1 {
		t.Errorf("warnings %q", r.Warnings)
	}
}

func TestWriteReport(t *testing.T) {
	r := testReport()
	dir := t.TempDir()
	md1, js1, err := r.write(dir)
	if err != nil {
		t.Fatal(err)
	}
	md2, _, err := r.write(dir)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(md1) != "overhead-2026-01-02.md" || filepath.Base(md2) != "overhead-2026-01-02-2.md" {
		t.Errorf("names %s, %s", md1, md2)
	}
	b, err := os.ReadFile(js1)
	if err != nil {
		t.Fatal(err)
	}
	var back report
	if err := json.Unmarshal(b, &back); err != nil || len(back.Modes) != 2 || len(back.Modes[0].Runs) != 9 {
		t.Errorf("JSON round trip: %v %+v", err, back.Modes)
	}
	md, _ := os.ReadFile(md1)
	for _, want := range []string{"| semgate | 602 |", "**FAIL**", "## Per-run figures"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestGatewayConfig(t *testing.T) {
	cfg := gatewayConfig("127.0.0.1:1234")
	for _, want := range []string{"base_url: http://127.0.0.1:1234/v1", "cache:\n  disabled: true\n", "- name: mock-small", "model: mock-small"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
}
