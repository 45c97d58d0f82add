package harness

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// FreeAddr returns a loopback address ("127.0.0.1:PORT") whose port was free
// a moment ago. Another process may take it before it is used; a child that
// cannot bind exits, which WaitReady reports.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	return addr, nil
}

// WaitReady polls url with GET until it answers 200, the timeout passes, ctx
// ends, or p (when not nil) exits. Each poll has its own short timeout.
func WaitReady(ctx context.Context, url string, timeout time.Duration, p *Proc) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		status, err := getStatus(ctx, client, url)
		if err == nil && status == http.StatusOK {
			return nil
		}
		if err == nil {
			last = fmt.Errorf("status %d", status)
		} else {
			last = err
		}
		var exited <-chan struct{}
		if p != nil {
			exited = p.Done()
		}
		select {
		case <-exited:
			return exitedError(p)
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w (last attempt: %v)", url, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

func getStatus(ctx context.Context, client *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
