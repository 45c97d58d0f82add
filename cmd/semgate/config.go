package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/semgate/semgate/gateway"
)

func cmdConfig(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintln(stdout, "Usage: semgate config check [--config FILE]")
			return nil
		}
		fmt.Fprintln(stderr, "Usage: semgate config check [--config FILE]")
		return errUsage
	}
	fs := newFlagSet("config check", "config check [--config FILE]", stderr)
	configPath := fs.String("config", defaultConfig, "configuration `file` to validate")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := gateway.LoadConfig(*configPath)
	var ce *gateway.ConfigError
	if errors.As(err, &ce) {
		fmt.Fprintln(stdout, ce.Error())
		return fmt.Errorf("%s is not valid", *configPath)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok\n", *configPath)
	for _, line := range gateway.Summary(cfg) {
		fmt.Fprintln(stdout, "  "+line)
	}
	return nil
}
