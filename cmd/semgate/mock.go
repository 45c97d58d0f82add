package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/semgate/semgate/gateway"
	"github.com/semgate/semgate/providers/mock"
)

func cmdMock(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("mock", "mock [--listen ADDR] [flags]", stderr)
	listen := fs.String("listen", "127.0.0.1:8081", "listen `address`")
	var opts mock.Options
	opts.RegisterFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	h, err := mock.NewHandler(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	log := newLogger(gateway.LogOptions{}, os.Stderr)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("semgate mock upstream listening", "addr", ln.Addr().String(), "base_url", "http://"+ln.Addr().String()+"/v1")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	h.Close() // release stalled requests so shutdown need not wait for them
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	srv.Close()
	<-errc
	slog.Debug("mock stopped")
	return nil
}
