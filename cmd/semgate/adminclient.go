package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/semgate/semgate/gateway"
)

// adminClient talks to a running gateway's admin API.
type adminClient struct {
	base  string // "http://127.0.0.1:8080"
	token string // the admin token; "" sends none (loopback-only gateways)
}

// adminFlags adds --config, --addr and --token to fs; the function it
// returns, called after parsing, makes the client. The address and token
// come from the flags, else from the configuration (server.listen,
// auth.admin_token, which may read ${SEMGATE_ADMIN_TOKEN}), else from
// $SEMGATE_ADMIN_TOKEN and http://127.0.0.1:8080. Without --config, the
// default configuration file is read if it exists and is valid.
func adminFlags(fs *flag.FlagSet) func() (*adminClient, error) {
	configPath := fs.String("config", "", "read the gateway's address and admin token from this configuration `file` (default "+defaultConfig+" when it exists)")
	addr := fs.String("addr", "", "the gateway's base `URL` (default: from the configuration's server.listen, else http://127.0.0.1:8080)")
	token := fs.String("token", "", "the admin `token` (default: the configuration's auth.admin_token, else $SEMGATE_ADMIN_TOKEN)")
	return func() (*adminClient, error) {
		c := &adminClient{base: *addr, token: *token}
		var cfg *gateway.Config
		switch {
		case *configPath != "":
			var err error
			if cfg, err = gateway.LoadConfig(*configPath); err != nil {
				return nil, err
			}
		default:
			if _, err := os.Stat(defaultConfig); err == nil {
				cfg, _ = gateway.LoadConfig(defaultConfig) // best effort: flags and defaults still apply
			} else if !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
		}
		if c.base == "" && cfg != nil {
			c.base = baseURL(cfg.Server.Listen)
		}
		if c.base == "" {
			c.base = "http://" + gateway.DefaultListen
		}
		if !strings.Contains(c.base, "://") {
			c.base = "http://" + c.base
		}
		c.base = strings.TrimRight(c.base, "/")
		if c.token == "" && cfg != nil {
			c.token = cfg.Auth.AdminToken
		}
		if c.token == "" {
			c.token = os.Getenv("SEMGATE_ADMIN_TOKEN")
		}
		return c, nil
	}
}

// baseURL turns a listen address into the URL a local client dials: an
// unspecified host (":8080", "0.0.0.0", "[::]") becomes loopback.
func baseURL(listen string) string {
	if listen == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// do sends one admin request (body marshalled as JSON when not nil) and
// returns the answer's body; a non-2xx answer is an error carrying the
// gateway's message.
func (c *adminClient) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("is semgate running at %s? %w", c.base, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		if json.Unmarshal(out, &e) == nil && e.Error.Message != "" {
			return nil, fmt.Errorf("%s", e.Error.Message)
		}
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	return out, nil
}
