package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/semgate/semgate/gateway/auth"
)

const keysUsage = `Usage:
  semgate keys create [--name N] [--tenant T] [--model ALIAS]... [--rpm N] [--tpm N] [--burst N]
                      [--budget USD] [--budget-period day|month] [--expires 720h|2027-01-01T00:00:00Z]
                      [--metadata k=v]... [--cache-bypass] [--cache-lower-threshold]
  semgate keys list   [--tenant T] [--json]
  semgate keys show   ID
  semgate keys revoke ID

Each also takes [--config FILE] [--addr URL] [--token TOKEN]: the commands talk to a running
gateway's admin API, at the configuration's server.listen with its auth.admin_token (or
$SEMGATE_ADMIN_TOKEN) unless the flags say otherwise. "create" prints the key's secret
("key"): it is shown this once.
`

func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return errUsage
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, keysUsage)
		return nil
	case "create":
		return keysCreate(ctx, args, stdout, stderr)
	case "list":
		return keysList(ctx, args, stdout, stderr)
	case "show", "revoke":
		return keysOne(ctx, sub, args, stdout, stderr)
	}
	fmt.Fprintf(stderr, "semgate keys: unknown command %q\n\n%s", sub, keysUsage)
	return errUsage
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func keysCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys create", "keys create [flags]", stderr)
	client := adminFlags(fs)
	var spec auth.Spec
	var models, metadata stringList
	fs.StringVar(&spec.Name, "name", "", "a `label` for people")
	fs.StringVar(&spec.Tenant, "tenant", "", "the key's `tenant` (default \"default\")")
	fs.Var(&models, "model", "a model `alias` the key may use (repeat; default: all)")
	fs.IntVar(&spec.RateLimit.RequestsPerMinute, "rpm", 0, "requests per minute (stored for rate limiting; 0: none)")
	fs.IntVar(&spec.RateLimit.TokensPerMinute, "tpm", 0, "tokens per minute (0: none)")
	fs.IntVar(&spec.RateLimit.Burst, "burst", 0, "requests at once above the rate (0: one minute's)")
	fs.Float64Var(&spec.Budget.MaxUSD, "budget", 0, "most the key may spend per period, in `USD` (0: none)")
	fs.StringVar(&spec.Budget.Period, "budget-period", "", "budget `period`: day or month (default month)")
	expires := fs.String("expires", "", "expiry: a `duration` from now (720h) or an RFC 3339 time")
	fs.Var(&metadata, "metadata", "`key=value` metadata (repeat)")
	fs.BoolVar(&spec.Cache.Bypass, "cache-bypass", false, "allow skipping the cache (x-semgate-cache: off, Cache-Control: no-cache)")
	fs.BoolVar(&spec.Cache.LowerThreshold, "cache-lower-threshold", false, "allow a similarity threshold below the configured one")
	if err := parse(fs, args); err != nil {
		return err
	}
	spec.Models = models
	if *expires != "" {
		t, err := parseExpiry(*expires)
		if err != nil {
			fmt.Fprintln(stderr, "--expires:", err)
			return errUsage
		}
		spec.ExpiresAt = &t
	}
	for _, kv := range metadata {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			fmt.Fprintf(stderr, "--metadata %q: want key=value\n", kv)
			return errUsage
		}
		if spec.Metadata == nil {
			spec.Metadata = map[string]string{}
		}
		spec.Metadata[k] = v
	}
	c, err := client()
	if err != nil {
		return err
	}
	out, err := c.do(ctx, http.MethodPost, "/admin/keys", spec)
	if err != nil {
		return err
	}
	fmt.Fprintln(stderr, "semgate: the key's secret (\"key\") is shown this once; store it now.")
	_, err = stdout.Write(out)
	return err
}

func parseExpiry(s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("%q is not in the future", s)
		}
		return time.Now().Add(d).UTC().Truncate(time.Second), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a duration (720h) nor an RFC 3339 time", s)
	}
	return t, nil
}

func keysList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys list", "keys list [--tenant T] [--json] [flags]", stderr)
	client := adminFlags(fs)
	tenant := fs.String("tenant", "", "only this `tenant`'s keys")
	asJSON := fs.Bool("json", false, "print the admin API's JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, err := client()
	if err != nil {
		return err
	}
	path := "/admin/keys"
	if *tenant != "" {
		path += "?tenant=" + url.QueryEscape(*tenant)
	}
	out, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil || *asJSON {
		if err == nil {
			_, err = stdout.Write(out)
		}
		return err
	}
	var list struct {
		Data []struct {
			auth.Key
			Status string `json:"status"`
		} `json:"data"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		return fmt.Errorf("unexpected answer: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tTENANT\tSTATUS\tMODELS\tEXPIRES\tCREATED")
	for _, k := range list.Data {
		models, expires := "all", "never"
		if len(k.Models) > 0 {
			models = strings.Join(k.Models, ",")
		}
		if k.ExpiresAt != nil {
			expires = k.ExpiresAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Tenant, k.Status, models, expires, k.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

// keysOne runs "show ID" and "revoke ID"; the id may come before or after
// the flags.
func keysOne(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys "+sub, "keys "+sub+" ID [flags]", stderr)
	client := adminFlags(fs)
	var id string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return errUsage
	}
	if id == "" && fs.NArg() == 1 {
		id = fs.Arg(0)
	} else if fs.NArg() > 0 || id == "" {
		fs.Usage()
		return errUsage
	}
	c, err := client()
	if err != nil {
		return err
	}
	method := http.MethodGet
	if sub == "revoke" {
		method = http.MethodDelete
	}
	out, err := c.do(ctx, method, "/admin/keys/"+url.PathEscape(id), nil)
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}
