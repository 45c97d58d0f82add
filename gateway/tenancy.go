package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/semgate/semgate/gateway/auth"
	"github.com/semgate/semgate/semcache"
	"github.com/tidwall/gjson"
)

// CacheConfig is the `cache:` section: the semantic cache's options and
// how tenants share it.
//
// Every request's cache partition includes its cache tenant, so no answer
// crosses tenants: a tenant's cache tenant is its own name, or, for a
// tenant in a share group, "share:" and the group's tenants sorted and
// joined by commas; with partition_by_user, "|user:", the end user's
// length and ":" and the user follow (a user longer than 128 bytes is
// replaced by "|userhash:" and its SHA-256). Tenant names cannot contain
// ':', ',' or '|', so no two of these strings are equal unless they are the
// same partition. The cache records each entry's cache tenant, which is
// what the admin API's ?tenant= filter matches.
type CacheConfig struct {
	semcache.Options `yaml:",inline"`
	// Share lists groups of tenants that use one cache: an answer cached
	// for one tenant of a group is served to the others (their spend stays
	// their own). A tenant may be in one group only; a group has at least
	// two tenants. Changing a group's tenants starts it a new, empty cache.
	// Default: none, every tenant has its own cache.
	Share [][]string `yaml:"share"`
	// PartitionByUser adds the request's end user to its partition: the
	// body's "user" field, or the user_header when set. Requests without a
	// user share the tenant's user-less partition. Default: false.
	PartitionByUser bool `yaml:"partition_by_user"`
	// UserHeader names the request header that carries the end user for
	// partition_by_user, instead of the body's "user" field. Default: "".
	UserHeader string `yaml:"user_header"`
}

// Validate reports every problem at once.
func (c *CacheConfig) Validate() error {
	errs := []error{c.Options.Validate()}
	seen := map[string]int{}
	for i, g := range c.Share {
		if len(g) < 2 {
			errs = append(errs, fmt.Errorf("share[%d]: a share group needs at least two tenants", i))
		}
		for j, t := range g {
			switch {
			case !auth.ValidTenant(t):
				errs = append(errs, fmt.Errorf("share[%d][%d]: %q is not a tenant name (letters, digits, '.', '_', '-')", i, j, t))
			case seen[t] > 0:
				errs = append(errs, fmt.Errorf("share[%d][%d]: tenant %q is already in share[%d]", i, j, t, seen[t]-1))
			default:
				seen[t] = i + 1
			}
		}
	}
	if c.UserHeader != "" {
		if !c.PartitionByUser {
			errs = append(errs, errors.New("user_header: only applies with partition_by_user: true"))
		}
		if strings.ContainsAny(c.UserHeader, " :\t\r\n") || !printableASCII(c.UserHeader) {
			errs = append(errs, fmt.Errorf("user_header: %q is not a header name", c.UserHeader))
		}
	}
	return errors.Join(errs...)
}

// shareTenants maps each tenant of a share group to the group's cache
// tenant.
func shareTenants(groups [][]string) map[string]string {
	m := map[string]string{}
	for _, g := range groups {
		sorted := slices.Clone(g)
		slices.Sort(sorted)
		name := "share:" + strings.Join(slices.Compact(sorted), ",")
		for _, t := range g {
			m[t] = name
		}
	}
	return m
}

// baseTenant is the cache tenant of a tenant, before any user.
func (s *Server) baseTenant(tenant string) string {
	if g, ok := s.acl.shared[tenant]; ok {
		return g
	}
	return tenant
}

// maxUserInTenant is the longest end user kept as is in a cache tenant;
// longer ones are hashed.
const maxUserInTenant = 128

// cacheTenant is the tenant string a request's cache key is made with (see
// CacheConfig).
func (s *Server) cacheTenant(ex *exchange) string {
	t := s.baseTenant(ex.who.tenant())
	if !s.cfg.Cache.PartitionByUser {
		return t
	}
	user := ex.who.user
	if s.cfg.Cache.UserHeader == "" && ex.req != nil {
		user = gjson.GetBytes(ex.req.body, "user").Str
	}
	if user == "" {
		return t
	}
	if len(user) > maxUserInTenant {
		sum := sha256.Sum256([]byte(user))
		return t + "|userhash:" + hex.EncodeToString(sum[:])
	}
	return t + "|user:" + strconv.Itoa(len(user)) + ":" + user
}

// tenantFilter selects the cache entries of a tenant, whatever their end
// user: those whose cache tenant is the tenant's, or starts with it and
// "|". Entries stored before tenants were recorded ("") were all the
// default tenant's.
func (s *Server) tenantFilter(tenant string) func(string) bool {
	base := s.baseTenant(tenant)
	return func(t string) bool {
		if t == "" {
			return base == auth.DefaultTenant
		}
		rest, ok := strings.CutPrefix(t, base)
		return ok && (rest == "" || rest[0] == '|')
	}
}

// caller is who sent a request: its principal, and the end user header's
// value for partition_by_user with user_header.
type caller struct {
	p    *auth.Principal
	user string
}

// callerOf reads the request's principal (set by authenticate) and, when
// configured, its end user header.
func (s *Server) callerOf(r *http.Request) caller {
	c := caller{p: principalOf(r.Context())}
	if h := s.cfg.Cache.UserHeader; h != "" {
		c.user = r.Header.Get(h)
	}
	return c
}

func (c caller) principal() *auth.Principal {
	if c.p == nil {
		return auth.Anonymous
	}
	return c.p
}

// tenant is the request's tenant.
func (c caller) tenant() string { return c.principal().Tenant }

// keyID is the request's key id for spend totals: keyNone without a key.
func (c caller) keyID() string {
	if id := c.principal().KeyID(); id != "" {
		return id
	}
	return keyNone
}
