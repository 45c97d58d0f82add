package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

const cacheUsage = `Usage:
  semgate cache stats [--addr URL]
  semgate cache flush [--addr URL] [--model ALIAS] [--namespace NS] [--tenant T]

Both also take [--config FILE] [--token TOKEN]: the commands talk to a running gateway's
admin API, at the configuration's server.listen with its auth.admin_token (or
$SEMGATE_ADMIN_TOKEN) unless the flags say otherwise.
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
	client := adminFlags(fs)
	model := fs.String("model", "", "flush only this model `alias`")
	ns := fs.String("namespace", "", "flush only this cache `namespace`")
	tenant := fs.String("tenant", "", "flush only this `tenant`'s entries (its share group's, every end user's)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	c, err := client()
	if err != nil {
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
		if *tenant != "" {
			q.Set("tenant", *tenant)
		}
		method, path = http.MethodDelete, "/admin/cache"
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
	}
	body, err := c.do(ctx, method, path, nil)
	if err != nil {
		return err
	}
	_, err = stdout.Write(body)
	return err
}
