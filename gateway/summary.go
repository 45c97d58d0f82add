package gateway

import (
	"strconv"
	"strings"

	"github.com/semgate/semgate/gateway/cluster"
	"github.com/semgate/semgate/providers"
)

// Summary describes a loaded configuration in a few lines for
// `semgate config check`. It never includes secret values, only whether
// they are set.
func Summary(cfg *Config) []string {
	var lines []string
	enabled := map[string]bool{}
	for _, p := range cfg.Providers {
		enabled[p.Name] = p.enabled()
		var b strings.Builder
		b.WriteString("provider " + strconv.Quote(p.Name) + " (" + p.Type + ")")
		if p.BaseURL != "" {
			b.WriteString(" " + providers.RedactURL(p.BaseURL)) // its query may hold a key
		}
		if p.Type != TypeMock {
			if p.APIKey != "" {
				b.WriteString(", api_key set")
			} else {
				b.WriteString(", no api_key")
			}
		}
		if !p.enabled() {
			b.WriteString(": disabled (optional, api_key empty)")
		}
		lines = append(lines, b.String())
	}
	for _, m := range cfg.Models {
		var deps []string
		for _, d := range m.Deployments {
			upstream := d.Model
			if upstream == "" {
				upstream = m.Name
			}
			s := d.Provider + "/" + upstream
			if !enabled[d.Provider] {
				s += " (disabled)"
			}
			deps = append(deps, s)
		}
		lines = append(lines, "model "+strconv.Quote(m.Name)+" -> "+strings.Join(deps, ", "))
	}
	auth := "auth: keys optional (requests without one run as tenant \"default\")"
	if cfg.Auth.Required {
		auth = "auth: keys required"
	}
	if cfg.Auth.AdminToken != "" {
		auth += "; admin API: admin_token set"
	} else {
		auth += "; admin API: loopback clients only (no admin_token)"
	}
	lines = append(lines, auth)
	if c := &cfg.Cluster; c.Enabled() {
		lines = append(lines, cluster.Summary(c))
	}
	if len(cfg.Cache.Share) > 0 || cfg.Cache.PartitionByUser {
		lines = append(lines, "cache: "+strconv.Itoa(len(cfg.Cache.Share))+" share group(s), partition_by_user "+strconv.FormatBool(cfg.Cache.PartitionByUser))
	}
	return lines
}
