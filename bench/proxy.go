package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/semgate/semgate/providers"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

// runProxy is the hidden "proxy" subcommand: a bare httputil.ReverseProxy in
// front of one upstream, the practical floor for the cost of a Go proxy hop.
// It runs until ctx ends (SIGTERM or Ctrl-C).
func runProxy(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	upstream := fs.String("upstream", "", "upstream base URL, e.g. http://127.0.0.1:9000")
	if err := fs.Parse(args); err != nil {
		return err
	}
	target, err := url.Parse(*upstream)
	if err != nil || target.Scheme == "" || target.Host == "" {
		return fmt.Errorf("--upstream %q: need an absolute URL (%v)", *upstream, err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: newBareProxy(target), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// newBareProxy returns a reverse proxy that forwards every request to target
// and does nothing else.
func newBareProxy(target *url.URL) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: providers.NewTransport(), // the transport semgate uses upstream, so the comparison is fair
	}
}
