package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/VictoriaMetrics/metrics"
	"github.com/semgate/semgate/gateway/auth"
	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/semcache"
)

// Access control. The auth step (authenticate, a middleware on the /v1
// routes) turns the request's key into its principal (auth.Principal:
// key id, tenant, the key's settings) and puts it in the request's
// context; the pipeline reads it into exchange.who, and resolveModel
// checks the key may use the model and the cache headers it sends; the
// cache step partitions by its tenant (cacheTenant), accounting charges
// its key and tenant. The admin API has its own guard (adminGuard).

// Errors of the auth step; toAPIError maps them (with auth's sentinels).
var (
	// errModelNotAllowed: the key may not use the model it named.
	errModelNotAllowed = errors.New("gateway: model not allowed for this key")
	// errBypassNotAllowed: the key may not bypass or refresh the cache.
	errBypassNotAllowed = errors.New("gateway: cache bypass not allowed for this key")
	// errAdminToken: the admin API needs the admin token.
	errAdminToken = errors.New("gateway: admin token missing or wrong")
	// errAdminLoopback: without an admin token the admin API answers only
	// loopback clients that name a loopback host.
	errAdminLoopback = errors.New("gateway: admin API is loopback-only")
)

// access is the Server's access-control state.
type access struct {
	keys       *auth.Store
	adminToken []byte            // SHA-256 of auth.admin_token; nil when unset
	shared     map[string]string // tenant -> its share group's cache tenant (tenancy.go)
	metrics    *authMetrics
}

// openAccess loads the keys from the store and prepares the admin guard
// and the tenancy settings.
func (s *Server) openAccess() error {
	kv, err := s.store.KV(semcache.TableKeys)
	if err != nil {
		return err
	}
	keys, err := auth.Open(kv, auth.StoreOptions{KnownModel: func(alias string) bool {
		_, err := s.router.Lookup(alias)
		return err == nil
	}})
	if err != nil {
		return err
	}
	if n := keys.Skipped(); n > 0 {
		s.log.Warn("auth: skipped unreadable key records; those keys are refused", "records", n)
	}
	s.acl = access{keys: keys, shared: shareTenants(s.cfg.Cache.Share), metrics: newAuthMetrics(s.metrics.set)}
	if t := s.cfg.Auth.AdminToken; t != "" {
		sum := sha256.Sum256([]byte(t))
		s.acl.adminToken = sum[:]
	}
	admin := "loopback clients only"
	if s.acl.adminToken != nil {
		admin = "admin token"
	}
	s.log.Info("access control", "auth_required", s.cfg.Auth.Required, "keys", keys.Len(), "admin_api", admin)
	return nil
}

type principalKey struct{}

// principalOf returns the request's principal; auth.Anonymous when the
// auth step set none.
func principalOf(ctx context.Context) *auth.Principal {
	if p, ok := ctx.Value(principalKey{}).(*auth.Principal); ok {
		return p
	}
	return auth.Anonymous
}

// credentials returns the key a request presents: "Authorization: Bearer
// KEY" (OpenAI's SDKs) or else "x-api-key: KEY" (Anthropic's SDKs). ok is
// false when an Authorization header is there but is not Bearer.
func credentials(h http.Header) (key string, ok bool) {
	if a := h.Get("Authorization"); a != "" {
		scheme, token, found := strings.Cut(strings.TrimSpace(a), " ")
		if !found || !strings.EqualFold(scheme, "Bearer") {
			return "", false
		}
		return strings.TrimSpace(token), true
	}
	return strings.TrimSpace(h.Get("x-api-key")), true
}

// authMetrics counts refused credentials by reason.
type authMetrics struct {
	refused map[error]*metrics.Counter
}

func newAuthMetrics(set *metrics.Set) *authMetrics {
	m := &authMetrics{refused: map[error]*metrics.Counter{}}
	for err, reason := range map[error]string{auth.ErrMissing: "missing", auth.ErrMalformed: "malformed",
		auth.ErrUnknown: "unknown", auth.ErrRevoked: "revoked", auth.ErrExpired: "expired"} {
		m.refused[err] = set.NewCounter(`semgate_auth_refused_total{reason="` + reason + `"}`)
	}
	return m
}

// authenticate is the auth step: it finds the request's principal, or
// answers 401. With auth.required false, a request without an sk-sg- key
// runs as auth.Anonymous (tenant "default"): SDKs must send some key, and
// a placeholder one is ignored; an sk-sg- key is always checked, and one
// that is unknown, revoked or expired is refused rather than silently run
// as the default tenant.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.clusterRefuses(w) {
			return
		}
		key, ok := credentials(r.Header)
		var err error
		switch {
		case !ok:
			err = auth.ErrMalformed
		case key == "" || (!s.cfg.Auth.Required && !strings.HasPrefix(key, auth.SecretPrefix)):
			if s.cfg.Auth.Required {
				err = auth.ErrMissing
			}
		default:
			var p *auth.Principal
			if p, err = s.acl.keys.Authenticate(key); err == nil {
				r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
			}
		}
		if err != nil {
			if c := s.acl.metrics.refused[err]; c != nil {
				c.Inc()
			}
			writeError(w, toAPIError(err))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// resolveModel is the pipeline's model step: the alias the request names,
// if it exists (404 listing the aliases the caller may use) and the
// caller's key may use it (403); and, for a request the cache will see,
// that the key may send the cache headers it sends (403).
func (s *Server) resolveModel(r *http.Request, ex *exchange) (*providers.Model, error) {
	p := ex.who.principal()
	name := ex.req.model
	model, err := s.router.Lookup(name)
	switch {
	case err != nil:
		return nil, s.unknownModelFor(p, name)
	case !p.MayUse(name):
		return nil, errModelNotAllowed
	}
	if !p.MayBypass() && s.cache != nil && ex.ep != providers.EndpointEmbeddings {
		// Errors in the headers are the cache step's to report.
		if pol, err := parseCachePolicy(r.Header, 0); err == nil && (pol.bypass || pol.noCache) {
			return nil, errBypassNotAllowed
		}
	}
	return model, nil
}

// adminGuard lets a request reach the admin API: with an admin token
// configured, only one carrying it ("Authorization: Bearer TOKEN",
// compared in constant time), from anywhere; without one, only a loopback
// client whose Host header names a loopback address, so neither a page
// that rebinds its DNS name to 127.0.0.1 nor a proxy on the same host
// passing on a remote client reaches it.
func (s *Server) adminGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var err error
		if s.acl.adminToken != nil {
			if !s.isAdminToken(r.Header.Get("Authorization")) {
				err = errAdminToken
			}
		} else if !loopbackClient(r) {
			err = errAdminLoopback
		}
		if err != nil {
			writeError(w, toAPIError(err))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isAdminToken compares the Authorization header with "Bearer" and the
// admin token in constant time (both hashed, so neither length leaks).
func (s *Server) isAdminToken(authz string) bool {
	scheme, token, found := strings.Cut(strings.TrimSpace(authz), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(sum[:], s.acl.adminToken) == 1
}

// loopbackClient reports whether the request comes from a loopback address
// and names a loopback host ("localhost" or a loopback IP, any port).
func loopbackClient(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return false
	}
	return loopbackHost(r.Host)
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// warnOpen logs, loudly, when API requests need no key on an address
// beyond loopback: anyone who reaches it spends the configured upstream
// accounts as tenant "default".
func (s *Server) warnOpen(addr net.Addr) {
	if s.cfg.Auth.Required {
		return
	}
	if ta, ok := addr.(*net.TCPAddr); ok && ta.IP.IsLoopback() {
		return
	}
	s.log.Warn("!!! semgate is listening beyond loopback with auth.required: false: anyone who reaches "+
		addr.String()+" can use the configured upstream accounts, as tenant \"default\". "+
		"Set auth.required: true and create keys (semgate keys create), or listen on 127.0.0.1.",
		"addr", addr.String())
}
