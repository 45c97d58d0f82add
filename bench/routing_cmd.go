package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/semgate/semgate/bench/routing"
)

// runRouting is the `routing` scenario: a mixed easy/hard workload through
// an in-process gateway over two tiers of faulty mock upstreams, via the
// auto alias and via the strong tier only; success rate, latency, cost per
// 1k requests and tier shares, as Markdown and JSON under bench/results.
func runRouting(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("routing", flag.ContinueOnError)
	var o routing.Options
	fs.IntVar(&o.Requests, "requests", 2000, "requests per mode")
	fs.IntVar(&o.Concurrency, "concurrency", 8, "concurrent clients")
	fs.Float64Var(&o.FaultRate, "fault-rate", 0.05, "share of faulty answers per mock upstream (negative: none)")
	faults := fs.String("faults", "429,500,503,reset,stall,truncate,malformed", "fault kinds")
	fs.Float64Var(&o.HardShare, "hard-share", 0.3, "share of hard prompts")
	fs.Float64Var(&o.StreamShare, "stream-share", 0.2, "share of streamed requests")
	fs.Float64Var(&o.Threshold, "threshold", 0.3, "the auto alias's difficulty threshold")
	fs.DurationVar(&o.TTFT, "ttft", 5*time.Millisecond, "mock time to first token")
	fs.Int64Var(&o.Seed, "seed", 1, "workload and fault seed")
	scores := fs.Bool("scores", false, "only print the workload's difficulty-score histogram (for calibrating thresholds)")
	out := fs.String("out", "", "report directory (default: bench/results)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Faults = strings.Split(*faults, ",")
	if *scores {
		var all, hard [11]int
		for _, p := range routing.Workload(o) {
			i := min(int(p.Score*10), 10)
			all[i]++
			if p.Hard {
				hard[i]++
			}
		}
		fmt.Println("score      all  hard")
		for i := range all {
			fmt.Printf("%.1f-%.1f  %5d %5d\n", float64(i)/10, float64(i+1)/10, all[i], hard[i])
		}
		return nil
	}
	if *out == "" {
		root, err := repoRoot()
		if err != nil {
			return err
		}
		*out = filepath.Join(root, "bench", "results")
	}
	fmt.Fprintf(os.Stderr, "routing: %d requests per mode...\n", o.Requests)
	rep, err := routing.Run(ctx, o)
	if err != nil {
		return err
	}
	rep.Command = "go run ./bench routing " + strings.Join(args, " ")
	var md strings.Builder
	routing.WriteMarkdown(&md, rep)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	base := filepath.Join(*out, "routing-"+rep.Started.Format("2006-01-02"))
	for i := 2; ; i++ {
		if _, err := os.Stat(base + ".md"); os.IsNotExist(err) {
			break
		}
		base = filepath.Join(*out, fmt.Sprintf("routing-%s-%d", rep.Started.Format("2006-01-02"), i))
	}
	js, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(base+".json", append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(base+".md", []byte(md.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(md.String())
	fmt.Fprintf(os.Stderr, "wrote %s.md and .json\n", base)
	return nil
}
