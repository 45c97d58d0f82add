package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/semgate/semgate/gateway"
	"golang.org/x/term"
)

// defaultConfig is the configuration file used when --config is not given.
const defaultConfig = "configs/semgate.yaml"

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("serve", "serve [--config FILE] [--listen ADDR] [--data-dir DIR]", stderr)
	configPath := fs.String("config", defaultConfig, "configuration `file`")
	listen := fs.String("listen", "", "listen `address`, overriding server.listen (default 127.0.0.1:8080)")
	dataDir := fs.String("data-dir", "", "data `directory`, overriding storage.data_dir (default ./data)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := gateway.LoadConfig(*configPath)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Server.Listen = *listen
	}
	if *dataDir != "" {
		cfg.Storage.Dir = *dataDir
	}
	log := newLogger(cfg.Log, os.Stderr)
	slog.SetDefault(log)

	t0 := time.Now()
	srv, err := gateway.New(cfg, log)
	if err != nil {
		return err
	}
	ln, err := srv.Listen()
	if err != nil {
		srv.Close()
		return err
	}
	log.Info("semgate started", "version", version(), "config", *configPath,
		"data_dir", cfg.Storage.DirOrDefault(), "startup", time.Since(t0).String())
	// Serve drains and shuts the listener down; Close then waits for the
	// handlers still returning before it closes the cache and the store.
	err = srv.Serve(ctx, ln)
	if cerr := srv.Close(); cerr != nil {
		log.Error("closing storage failed", "error", cerr)
		if err == nil {
			err = cerr
		}
	}
	if err != nil {
		return err
	}
	log.Info("semgate stopped")
	return nil
}

// newLogger builds the process logger: text on a terminal, JSON otherwise,
// unless the configuration says which.
func newLogger(o gateway.LogOptions, w *os.File) *slog.Logger {
	level := slog.LevelInfo
	switch strings.ToLower(o.Level) {
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	format := o.Format
	if format == "" || format == "auto" {
		format = "json"
		if term.IsTerminal(int(w.Fd())) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
