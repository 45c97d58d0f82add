package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const cacheUsage = `Usage:
  semgate cache stats [--addr URL]
  semgate cache flush [--addr URL] [--model ALIAS] [--namespace NS]

The commands talk to a running gateway's admin API (loopback only).
`

func cmdCache(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "stats" && args[0] != "flush") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, cacheUsage)
			return nil
		}
		fmt.Fprint(stderr, cacheUsage)
		return errUsage
	}
	sub := args[0]
	fs := newFlagSet("cache "+sub, "cache "+sub+" [flags]", stderr)
	addr := fs.String("addr", "http://127.0.0.1:8080", "the gateway's base `URL`")
	model := fs.String("model", "", "flush only this model `alias`")
	ns := fs.String("namespace", "", "flush only this cache `namespace`")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	method, path := http.MethodGet, "/admin/cache/stats"
	if sub == "flush" {
		q := url.Values{}
		if *model != "" {
			q.Set("model", *model)
		}
		if *ns != "" {
			q.Set("namespace", *ns)
		}
		method, path = http.MethodDelete, "/admin/cache"
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(*addr, "/")+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("is semgate running at %s? %w", *addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
			return fmt.Errorf("%s", e.Error.Message)
		}
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	_, err = stdout.Write(body)
	return err
}
