// Command semgate is a self-hosted, OpenAI-compatible LLM gateway with a
// semantic cache.
//
// Usage:
//
//	semgate serve   [--config FILE] [--listen ADDR] [--data-dir DIR]
//	semgate config check [--config FILE]
//	semgate mock    [--listen ADDR] [mock flags]
//	semgate cache   stats|flush [--addr URL]
//	semgate keys    create|list|show|revoke [--addr URL] [--token TOKEN]
//	semgate calibrate [--config FILE] [--pairs FILE|DIR] [--target-fhr R]
//	semgate version
//
// Run any command with --help for its flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `semgate: a self-hosted, OpenAI-compatible LLM gateway with a semantic cache.

Usage:
  semgate serve        run the gateway
  semgate config check validate a configuration file
  semgate mock         run the deterministic mock upstream (an OpenAI-compatible server)
  semgate cache        show cache statistics or flush the cache of a running gateway
  semgate keys         create, list, show or revoke the API keys of a running gateway
  semgate calibrate    measure the embedder and verifier on labelled pairs; pick a threshold
  semgate version      print the version

Run "semgate COMMAND --help" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal starts a graceful shutdown (drain, then finish
		// the requests in flight); a second one ends the process at once.
		// Nothing acknowledged is lost: cache fills are on disk before
		// their answers complete.
		<-ctx.Done()
		stop()
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		<-again
		fmt.Fprintln(os.Stderr, "semgate: second signal; exiting now")
		os.Exit(130)
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks a command-line mistake (exit status 2).
var errUsage = errors.New("usage")

// run executes one command and returns the process exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(ctx, args[1:], stderr)
	case "config":
		err = cmdConfig(args[1:], stdout, stderr)
	case "mock":
		err = cmdMock(ctx, args[1:], stderr)
	case "cache":
		err = cmdCache(ctx, args[1:], stdout, stderr)
	case "keys":
		err = cmdKeys(ctx, args[1:], stdout, stderr)
	case "calibrate":
		err = cmdCalibrate(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "semgate", version())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "semgate: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintln(stderr, "semgate:", err)
		return 1
	}
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: semgate %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, mapping flag errors to errUsage.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %q\n", fs.Args())
		fs.Usage()
		return errUsage
	}
	return nil
}
