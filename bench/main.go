// Command bench is semgate's benchmark suite. Each scenario starts the
// processes it measures on loopback, drives them with wrk, and writes a
// Markdown and a JSON report under bench/results.
//
// Usage:
//
//	go run ./bench overhead [flags]
//
// See bench/README.md for the scenarios and how to read their results.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// scenario is one benchmark: name, one-line description, entry point.
type scenario struct {
	name string
	help string
	run  func(ctx context.Context, args []string) error
}

var scenarios = []scenario{
	{"overhead", "the gateway's added latency and throughput against a bare Go reverse proxy", runOverhead},
	{"quality", "cache quality: replay the shared paraphrase pairs through the cache, sweep the threshold", runQuality},
	{"routing", "cost-aware routing: auto vs strong tier over faulty mock upstreams", runRouting},
}

// hidden subcommands used by the scenarios themselves.
var internalCommands = map[string]func(ctx context.Context, args []string) error{
	"proxy": runProxy,
}

func main() {
	os.Exit(realMain(os.Args[1:]))
}

func realMain(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	// The first Ctrl-C (or SIGTERM) cancels ctx: the running scenario stops
	// wrk and its child processes and returns. A second one kills us outright
	// (children then die with us, see harness.StartProc).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()

	run := internalCommands[args[0]]
	for _, s := range scenarios {
		if s.name == args[0] {
			run = s.run
		}
	}
	if run == nil {
		fmt.Fprintf(os.Stderr, "bench: unknown scenario %q\n\n", args[0])
		usage()
		return 2
	}
	if err := run(ctx, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "bench %s: %v\n", args[0], err)
		if errors.Is(err, context.Canceled) {
			return 130
		}
		return 1
	}
	return 0
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: go run ./bench SCENARIO [flags]\n\nscenarios:")
	for _, s := range scenarios {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", s.name, s.help)
	}
	fmt.Fprintln(os.Stderr, "\nRun `go run ./bench SCENARIO -h` for its flags; see bench/README.md.")
}
