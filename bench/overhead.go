package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/semgate/semgate/bench/internal/harness"
)

// mode is one load shape of the overhead scenario.
type mode struct {
	name  string
	ttft  time.Duration // the mock's delay before answering
	about string
}

var overheadModes = []mode{
	{"low", 50 * time.Millisecond, "fixed low load: the mock answers after 50 ms, so the targets are far from busy and latency is what differs"},
	{"saturation", 0, "saturation: the mock answers at once, so every target runs flat out and throughput is what differs"},
}

// maxAttempts bounds how often --wait-quiet redoes a disturbed run.
const maxAttempts = 3

// settle is the pause between two wrk runs, so that one run's stragglers
// (closing connections, GC) do not land in the next.
const settle = 500 * time.Millisecond

// overheadOptions are the scenario's flags.
type overheadOptions struct {
	Rounds      int           `json:"rounds"`
	Duration    time.Duration `json:"-"`
	Warmup      time.Duration `json:"-"`
	Connections int           `json:"connections"`
	Threads     int           `json:"threads"`
	Modes       []string      `json:"modes"`
	Semgate     string        `json:"semgate,omitempty"`
	WaitQuiet   time.Duration `json:"-"`
	Out         string        `json:"-"`
	// Human-readable copies of the durations for the JSON report.
	DurationText  string `json:"duration"`
	WarmupText    string `json:"warmup"`
	WaitQuietText string `json:"wait_quiet"`
}

func parseOverheadFlags(args []string) (*overheadOptions, error) {
	o := &overheadOptions{}
	fs := flag.NewFlagSet("overhead", flag.ContinueOnError)
	fs.IntVar(&o.Rounds, "rounds", 3, "measured rounds; each round runs every target once, order rotated")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "length of each measured wrk run (whole seconds)")
	fs.DurationVar(&o.Warmup, "warmup", 3*time.Second, "length of the warm-up run per target before measuring (0 to skip; whole seconds)")
	fs.IntVar(&o.Connections, "connections", 32, "wrk connections (-c)")
	fs.IntVar(&o.Threads, "threads", 2, "wrk threads (-t)")
	modes := fs.String("modes", "low,saturation", "comma-separated modes to run: low, saturation")
	fs.StringVar(&o.Semgate, "semgate", "", "semgate binary to measure (default: build ./cmd/semgate into a temporary directory)")
	fs.DurationVar(&o.WaitQuiet, "wait-quiet", 0, "on a shared machine: before each run wait up to this long for other work to use at most 10% of the CPU, and redo a run it disturbed (up to twice); 0 disables")
	fs.StringVar(&o.Out, "out", "", "directory for the reports (default: bench/results in the source tree)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: go run ./bench overhead [flags]\n\nMeasures semgate serve (cache off) against the mock directly and a bare\nhttputil.ReverseProxy, with wrk. Flags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.Rounds < 1 {
		return nil, fmt.Errorf("--rounds %d: need at least 1", o.Rounds)
	}
	if o.Duration < time.Second || o.Duration%time.Second != 0 {
		return nil, fmt.Errorf("--duration %v: need whole seconds, at least 1s", o.Duration)
	}
	if o.Warmup < 0 || o.Warmup%time.Second != 0 {
		return nil, fmt.Errorf("--warmup %v: need whole seconds, or 0", o.Warmup)
	}
	if o.Threads < 1 || o.Connections < o.Threads {
		return nil, fmt.Errorf("need --threads >= 1 and --connections >= --threads")
	}
	for _, name := range strings.Split(*modes, ",") {
		name = strings.TrimSpace(name)
		if _, ok := findMode(name); !ok {
			return nil, fmt.Errorf("--modes: unknown mode %q (have low, saturation)", name)
		}
		o.Modes = append(o.Modes, name)
	}
	if o.WaitQuiet < 0 {
		return nil, fmt.Errorf("--wait-quiet %v: must not be negative", o.WaitQuiet)
	}
	o.DurationText, o.WarmupText, o.WaitQuietText = o.Duration.String(), o.Warmup.String(), o.WaitQuiet.String()
	return o, nil
}

func findMode(name string) (mode, bool) {
	for _, m := range overheadModes {
		if m.name == name {
			return m, true
		}
	}
	return mode{}, false
}

// runOverhead is the overhead scenario.
func runOverhead(ctx context.Context, args []string) error {
	opts, err := parseOverheadFlags(args)
	if err != nil {
		return err
	}
	wrkPath, err := harness.LookWrk()
	if err != nil {
		return err
	}
	root, rootErr := repoRoot()
	outDir := opts.Out
	if outDir == "" {
		if rootErr != nil {
			return fmt.Errorf("--out not given and %w", rootErr)
		}
		outDir = filepath.Join(root, "bench", "results")
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this benchmark's binary: %w", err)
	}
	tmp, err := os.MkdirTemp("", "semgate-bench-*")
	if err != nil {
		return fmt.Errorf("create scratch directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	semgate := opts.Semgate
	if semgate == "" {
		if rootErr != nil {
			return fmt.Errorf("--semgate not given and %w", rootErr)
		}
		logf("building ./cmd/semgate")
		if semgate, err = buildSemgate(ctx, root, tmp); err != nil {
			return err
		}
	}
	script, err := harness.WritePostScript(tmp, "post.lua", requestBody(), requestHeaders)
	if err != nil {
		return err
	}
	w := &harness.Wrk{Path: wrkPath, Threads: opts.Threads, Connections: opts.Connections, Duration: opts.Duration, Script: script}

	rep := newReport(opts, harness.DescribeMachine(root, wrkPath), w)
	for _, name := range opts.Modes {
		m, _ := findMode(name)
		mr, err := measureMode(ctx, m, opts, w, stackSpec{semgate: semgate, self: self, dir: tmp, ttft: m.ttft, label: m.name})
		if err != nil {
			return fmt.Errorf("mode %s: %w", m.name, err)
		}
		rep.Modes = append(rep.Modes, *mr)
	}
	rep.finish()

	md := rep.markdown()
	fmt.Print(md)
	mdPath, jsonPath, err := rep.write(outDir)
	if err != nil {
		return err
	}
	logf("wrote %s and %s", mdPath, jsonPath)
	return nil
}

// rotate returns xs rotated left by k.
func rotate(xs []string, k int) []string {
	k %= len(xs)
	return append(append([]string(nil), xs[k:]...), xs[:k]...)
}

// pct formats a percentage that may be unknown (negative).
func pct(v float64) string {
	if v < 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f%%", v)
}

func errNote(r *harness.WrkResult) string {
	if s := r.ErrorSummary(); s != "" {
		return "  ERRORS: " + s
	}
	return ""
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// logf prints progress to stderr; the report goes to stdout.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
