package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/semgate/semgate/bench/internal/harness"
)

// Targets of the overhead scenario (from the issue that asked for it).
const (
	goalRPSPct        = 90.0 // semgate's req/s at saturation, % of the bare proxy's
	goalAddedP50Extra = 0.1  // ms semgate's added p50 may exceed the proxy's, at low load
	goalAddedP99      = 2.0  // ms semgate may add to p99 at low load

	// slack absorbs float rounding: wrk reports latency to 0.01 ms.
	slack = 1e-6

	// disturbedPct is the share of the machine's CPU used by other work
	// above which a run is flagged as disturbed.
	disturbedPct = 10.0
)

// report is everything one overhead run produced; it is written as JSON
// as is and rendered as Markdown.
type report struct {
	Scenario string           `json:"scenario"`
	Started  time.Time        `json:"started"`
	Command  string           `json:"command"`
	Argv     []string         `json:"argv"`
	Wrk      string           `json:"wrk_command"`
	Body     int              `json:"request_body_bytes"`
	Settings *overheadOptions `json:"settings"`
	Machine  harness.Machine  `json:"machine"`
	// 1-minute load averages when the run started and ended (-1: unknown).
	LoadStart float64      `json:"load_avg_start"`
	LoadEnd   float64      `json:"load_avg_end"`
	Modes     []modeResult `json:"modes"`
	Checks    []check      `json:"checks"`
	Warnings  []string     `json:"warnings,omitempty"`
}

// modeResult is one mode's raw runs and their summary.
type modeResult struct {
	Name     string          `json:"name"`
	About    string          `json:"about"`
	MockTTFT string          `json:"mock_ttft"`
	Warmup   []runResult     `json:"warmup"`
	Runs     []runResult     `json:"runs"`
	Summary  []targetSummary `json:"summary"`
}

// runResult is one wrk run. Round 0 is the warm-up; slot is the position in
// the round.
type runResult struct {
	Round    int     `json:"round"`
	Slot     int     `json:"slot"`
	Target   string  `json:"target"`
	RPS      float64 `json:"requests_per_sec"`
	Requests int64   `json:"requests"`
	Seconds  float64 `json:"seconds"`
	P50Ms    float64 `json:"p50_ms"`
	P75Ms    float64 `json:"p75_ms"`
	P90Ms    float64 `json:"p90_ms"`
	P99Ms    float64 `json:"p99_ms"`
	Errors   int64   `json:"errors"`
	ErrorsAt string  `json:"error_detail,omitempty"`
	// OtherCPUPct is the share of the machine's CPU capacity that processes
	// other than the benchmark's used during the run (-1: unknown).
	OtherCPUPct float64 `json:"other_cpu_pct"`
	// Attempts is how many times --wait-quiet ran it (0: no retries asked).
	Attempts int `json:"attempts,omitempty"`
}

func newRunResult(round, slot int, target string, r *harness.WrkResult) *runResult {
	return &runResult{
		Round: round, Slot: slot, Target: target,
		RPS: r.RequestsPerSec, Requests: r.Requests, Seconds: r.Elapsed.Seconds(),
		P50Ms: harness.Millis(r.P50), P75Ms: harness.Millis(r.P75),
		P90Ms: harness.Millis(r.P90), P99Ms: harness.Millis(r.P99),
		Errors: r.Errors(), ErrorsAt: r.ErrorSummary(),
		OtherCPUPct: -1,
	}
}

// targetSummary is the median over rounds of one target in one mode, and
// its difference to the direct and proxy targets.
type targetSummary struct {
	Target     string  `json:"target"`
	RPS        float64 `json:"requests_per_sec"`
	RPSMin     float64 `json:"requests_per_sec_min"`
	RPSMax     float64 `json:"requests_per_sec_max"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
	AddedP50Ms float64 `json:"added_p50_ms"` // over direct; 0 for direct
	AddedP99Ms float64 `json:"added_p99_ms"`
	RPSPctOfPx float64 `json:"requests_per_sec_pct_of_proxy"`
	Errors     int64   `json:"errors"`
}

// check is one target of the issue, judged.
type check struct {
	Name     string `json:"name"`
	Measured string `json:"measured"`
	Goal     string `json:"goal"`
	Result   string `json:"result"` // PASS, FAIL or "not run"
}

func newReport(opts *overheadOptions, m harness.Machine, w *harness.Wrk) *report {
	return &report{
		Scenario: "overhead",
		Started:  time.Now(),
		Command:  commandLine(os.Args[1:]),
		Argv:     os.Args,
		Wrk:      w.CommandLine("URL"),
		Body:     len(requestBody()),
		Settings: opts,
		Machine:  m,

		LoadStart: harness.LoadAvg(),
	}
}

// commandLine shows how to repeat the run.
func commandLine(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$\\*?;&|<>()") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.TrimSpace("go run ./bench " + strings.Join(q, " "))
}

// finish computes the summaries, the checks and the warnings.
func (r *report) finish() {
	r.LoadEnd = harness.LoadAvg()
	// The load at the end includes the benchmark's own; only the load at the
	// start says whether other work was running.
	if r.Machine.CPUs > 0 && r.LoadStart > float64(r.Machine.CPUs) {
		r.Warnings = append(r.Warnings, fmt.Sprintf("1-minute load average was %.1f on %d CPUs when the run started: other work was competing, so the figures are noisier than usual", r.LoadStart, r.Machine.CPUs))
	}
	for i := range r.Modes {
		r.Modes[i].Summary = summarize(r.Modes[i].Runs)
		for _, s := range r.Modes[i].Summary {
			if s.Errors > 0 {
				r.Warnings = append(r.Warnings, fmt.Sprintf("%s/%s: %d errors (non-2xx responses or socket errors) over the measured runs; its figures are suspect", r.Modes[i].Name, s.Target, s.Errors))
			}
		}
	}
	for _, mr := range r.Modes {
		var disturbed []string
		for _, run := range mr.Runs {
			if run.OtherCPUPct > disturbedPct {
				disturbed = append(disturbed, fmt.Sprintf("round %d %s (%.0f%%)", run.Round, run.Target, run.OtherCPUPct))
			}
		}
		if len(disturbed) > 0 {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s: %d of %d measured runs had more than %.0f%% of the machine's CPU taken by other work: %s", mr.Name, len(disturbed), len(mr.Runs), disturbedPct, strings.Join(disturbed, ", ")))
		}
	}
	r.Checks = r.checks()
}

// summarize takes the median of each figure over the rounds per target.
func summarize(runs []runResult) []targetSummary {
	by := map[string]*targetSummary{}
	var rps, p50, p99 = map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	for _, run := range runs {
		rps[run.Target] = append(rps[run.Target], run.RPS)
		p50[run.Target] = append(p50[run.Target], run.P50Ms)
		p99[run.Target] = append(p99[run.Target], run.P99Ms)
		if by[run.Target] == nil {
			by[run.Target] = &targetSummary{Target: run.Target}
		}
		by[run.Target].Errors += run.Errors
	}
	var out []targetSummary
	for _, name := range targetNames {
		s := by[name]
		if s == nil {
			continue
		}
		s.RPS = harness.Median(rps[name])
		s.RPSMin, s.RPSMax = harness.MinMax(rps[name])
		s.P50Ms, s.P99Ms = harness.Median(p50[name]), harness.Median(p99[name])
		out = append(out, *s)
	}
	direct, proxy := find(out, targetDirect), find(out, targetProxy)
	for i := range out {
		if direct != nil {
			out[i].AddedP50Ms = out[i].P50Ms - direct.P50Ms
			out[i].AddedP99Ms = out[i].P99Ms - direct.P99Ms
		}
		if proxy != nil && proxy.RPS > 0 {
			out[i].RPSPctOfPx = 100 * out[i].RPS / proxy.RPS
		}
	}
	return out
}

func find(ss []targetSummary, target string) *targetSummary {
	for i := range ss {
		if ss[i].Target == target {
			return &ss[i]
		}
	}
	return nil
}

func (r *report) mode(name string) *modeResult {
	for i := range r.Modes {
		if r.Modes[i].Name == name {
			return &r.Modes[i]
		}
	}
	return nil
}

// checks judges the three targets: throughput at saturation,
// latency at low load.
func (r *report) checks() []check {
	rpsCheck := check{Name: "semgate req/s at saturation, % of the bare proxy's", Goal: fmt.Sprintf("≥ %.0f%%", goalRPSPct), Result: "not run"}
	p50Check := check{Name: "semgate added p50 at low load, minus the bare proxy's", Goal: fmt.Sprintf("≤ +%.2f ms", goalAddedP50Extra), Result: "not run"}
	p99Check := check{Name: "semgate added p99 at low load", Goal: fmt.Sprintf("≤ +%.2f ms", goalAddedP99), Result: "not run"}

	if m := r.mode("saturation"); m != nil {
		if sg, px := find(m.Summary, targetSemgate), find(m.Summary, targetProxy); sg != nil && px != nil {
			rpsCheck.Measured = fmt.Sprintf("%.1f%% (%.0f vs %.0f req/s)", sg.RPSPctOfPx, sg.RPS, px.RPS)
			rpsCheck.Result = verdict(sg.RPSPctOfPx >= goalRPSPct-slack, sg.Errors+px.Errors)
		}
	}
	if m := r.mode("low"); m != nil {
		sg, px, dir := find(m.Summary, targetSemgate), find(m.Summary, targetProxy), find(m.Summary, targetDirect)
		if sg != nil && px != nil && dir != nil {
			extra := sg.AddedP50Ms - px.AddedP50Ms
			p50Check.Measured = fmt.Sprintf("%s ms (semgate %s, proxy %s)", signed(extra), signed(sg.AddedP50Ms), signed(px.AddedP50Ms))
			p50Check.Result = verdict(extra <= goalAddedP50Extra+slack, sg.Errors+px.Errors+dir.Errors)
		}
		if sg != nil && dir != nil {
			p99Check.Measured = signed(sg.AddedP99Ms) + " ms"
			p99Check.Result = verdict(sg.AddedP99Ms <= goalAddedP99+slack, sg.Errors+dir.Errors)
		}
	}
	return []check{rpsCheck, p50Check, p99Check}
}

// verdict is PASS or FAIL; runs with errors cannot pass.
func verdict(ok bool, errs int64) string {
	switch {
	case errs > 0:
		return "FAIL (errors)"
	case ok:
		return "PASS"
	default:
		return "FAIL"
	}
}

func signed(ms float64) string { return fmt.Sprintf("%+.2f", ms) }

// markdown renders the report.
func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	s := r.Settings
	p("# semgate overhead benchmark, %s\n\n", r.Started.Format("2006-01-02 15:04 MST"))
	p("- Command: `%s`\n", r.Command)
	p("- Load: `%s`, POST %s, non-streamed, %d-byte body, model %s\n", r.Wrk, chatPath, r.Body, benchModel)
	rounds := "rounds"
	if s.Rounds == 1 {
		rounds = "round"
	}
	p("- Runs: %d %s per mode, each target once per round in rotated order, %s per run after a %s warm-up per target; figures are medians over rounds%s\n", s.Rounds, rounds, s.DurationText, s.WarmupText, quietNote(s))
	m := r.Machine
	commit := m.GitCommit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if m.GitDirty {
		commit += " (uncommitted changes)"
	}
	p("- Machine: %d CPUs (%s), %s/%s, kernel %s, %s, %s; commit %s; load generator shares the CPUs with the servers; load average %.1f at start, %.1f at end\n\n", m.CPUs, m.CPUModel, m.OS, m.Arch, m.Kernel, m.GoVersion, m.Wrk, commit, r.LoadStart, r.LoadEnd)

	for _, mr := range r.Modes {
		p("## %s (mock ttft %s)\n\n%s.\n\n", mr.Name, mr.MockTTFT, capitalize(mr.About))
		p("| target | req/s | req/s range | p50 | p99 | added p50 | added p99 | req/s vs proxy | errors |\n")
		p("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, t := range mr.Summary {
			added50, added99 := "", ""
			if t.Target != targetDirect {
				added50, added99 = signed(t.AddedP50Ms)+" ms", signed(t.AddedP99Ms)+" ms"
			}
			p("| %s | %.0f | %.0f–%.0f | %.2f ms | %.2f ms | %s | %s | %.1f%% | %d |\n",
				t.Target, t.RPS, t.RPSMin, t.RPSMax, t.P50Ms, t.P99Ms, added50, added99, t.RPSPctOfPx, t.Errors)
		}
		p("\n")
	}

	p("## Targets\n\n| target | measured | goal | result |\n|---|---|---|---|\n")
	for _, c := range r.Checks {
		measured := c.Measured
		if measured == "" {
			measured = "–"
		}
		p("| %s | %s | %s | **%s** |\n", c.Name, measured, c.Goal, c.Result)
	}
	p("\n")
	if len(r.Warnings) > 0 {
		p("## Warnings\n\n")
		for _, w := range r.Warnings {
			p("- %s\n", w)
		}
		p("\n")
	}

	p("## Per-run figures\n\nRound 0 is the warm-up (not counted). *Other CPU* is the share of the machine's CPU that processes other than the benchmark's used (or the hypervisor stole) during the run; above %.0f%% the run was disturbed.\n\n", disturbedPct)
	for _, mr := range r.Modes {
		p("### %s\n\n| round | target | req/s | p50 | p75 | p90 | p99 | errors | other CPU |\n|---:|---|---:|---:|---:|---:|---:|---|---:|\n", mr.Name)
		for _, run := range append(append([]runResult(nil), mr.Warmup...), mr.Runs...) {
			errs := fmt.Sprint(run.Errors)
			if run.ErrorsAt != "" {
				errs = run.ErrorsAt
			}
			p("| %d | %s | %.0f | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %s | %s |\n", run.Round, run.Target, run.RPS, run.P50Ms, run.P75Ms, run.P90Ms, run.P99Ms, errs, pct(run.OtherCPUPct))
		}
		p("\n")
	}
	return b.String()
}

func quietNote(s *overheadOptions) string {
	if s.WaitQuiet <= 0 {
		return ""
	}
	return fmt.Sprintf("; each run waited up to %v for a quiet machine and disturbed runs were redone (up to %d attempts)", s.WaitQuiet, maxAttempts)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// write stores the Markdown and JSON reports in dir as
// overhead-DATE[-N].{md,json}, never overwriting an earlier run.
func (r *report) write(dir string) (mdPath, jsonPath string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("create %s: %w", dir, err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", "", fmt.Errorf("encode report: %w", err)
	}
	base := "overhead-" + r.Started.Format("2006-01-02")
	for n := 1; ; n++ {
		name := base
		if n > 1 {
			name = fmt.Sprintf("%s-%d", base, n)
		}
		mdPath, jsonPath = filepath.Join(dir, name+".md"), filepath.Join(dir, name+".json")
		if !exists(mdPath) && !exists(jsonPath) {
			break
		}
	}
	if err := os.WriteFile(mdPath, []byte(r.markdown()), 0o644); err != nil {
		return "", "", fmt.Errorf("write report: %w", err)
	}
	if err := os.WriteFile(jsonPath, append(js, '\n'), 0o644); err != nil {
		return "", "", fmt.Errorf("write report: %w", err)
	}
	return mdPath, jsonPath, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
