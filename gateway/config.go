package gateway

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/semgate/semgate/embed"
	"github.com/semgate/semgate/gateway/auth"
	"github.com/semgate/semgate/gateway/cluster"
	"github.com/semgate/semgate/gateway/limits"
	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/mock"
	"github.com/semgate/semgate/providers/route"
	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/hnsw"
)

// Config is semgate's whole configuration, one YAML file. Each section is
// owned by the package that uses it; the zero value of every field means
// its default.
type Config struct {
	// Server is the HTTP listener.
	Server ServerOptions `yaml:"server"`
	// Log controls semgate's own logs.
	Log LogOptions `yaml:"log"`
	// Storage is the data directory and its Pebble database.
	Storage semcache.StoreOptions `yaml:"storage"`
	// Providers are the upstream accounts.
	Providers []ProviderConfig `yaml:"providers"`
	// Models are the public model aliases clients name in "model".
	Models []ModelConfig `yaml:"models"`
	// Cache is the semantic cache, and how tenants share it.
	Cache CacheConfig `yaml:"cache"`
	// Embed chooses the embedder the semantic cache uses.
	Embed embed.Options `yaml:"embed"`
	// Routing holds the defaults of cost-aware routing: retries, circuit
	// breakers, price overrides.
	Routing route.Options `yaml:"routing"`
	// Index tunes the cache's per-partition vector index (HNSW; an exact
	// flat scan for small partitions).
	Index hnsw.Options `yaml:"index"`
	// Auth is access control: whether API requests need a virtual key, and
	// the admin API's token.
	Auth auth.Options `yaml:"auth"`
	// Cluster is cluster mode: replicas sharing keys and cache fills
	// through Redis (package cluster). Off without redis_url.
	Cluster cluster.Options `yaml:"cluster"`
	// Limits are rate limits and budgets beyond each key's own: per
	// tenant, per model alias, per client IP (package limits).
	Limits limits.Options `yaml:"limits"`
}

// ServerOptions configures the HTTP server.
type ServerOptions struct {
	// Listen is the address to listen on. Default: "127.0.0.1:8080".
	Listen string `yaml:"listen"`
	// ReadHeaderTimeout bounds reading a request's headers. Default: 10s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included. Default: 60s.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// IdleTimeout closes keep-alive connections idle this long. Default: 120s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// ShutdownTimeout bounds how long shutdown, after the drain delay,
	// waits for in-flight requests (streams included) before closing their
	// connections; storage is closed once their handlers return, after at
	// most as long again. Default: 30s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// MaxBodyBytes is the largest request body accepted, in bytes; larger
	// bodies get 413. Default: 4 MiB (4194304).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// DrainDelay is how long, once shutdown starts (SIGINT/SIGTERM),
	// /readyz answers 503 while the listener still accepts and requests are
	// served as usual, so a load balancer notices before the listener
	// closes; shutdown_timeout counts from its end. A negative value (e.g.
	// -1s) means no delay. At most 5m. Default: 5s.
	DrainDelay time.Duration `yaml:"drain_delay"`
	// MaxInFlight caps the API requests (/v1/...) handled at once; past
	// it a request gets 503 with Retry-After: 1 at once, before its body
	// is read. Default: 4096.
	MaxInFlight int `yaml:"max_in_flight"`
	// MaxEmbeds caps the cache embeddings computed at once (lookups and
	// fills); a request that finds them all busy skips the semantic tier
	// (exact tier, then upstream) and semgate_cache_embed_skipped_total
	// counts it, so unique prompts cannot queue unbounded CPU work.
	// Default: 4 per CPU (GOMAXPROCS).
	MaxEmbeds int `yaml:"max_embeds"`
	// MaxUpstreamBytes bounds a non-streamed upstream answer, which is
	// read whole before it is relayed (so a bad one can still fall back);
	// a larger one is a 502. Streams are relayed as they come and stored
	// only up to cache.max_entry_bytes. Default: 32 MiB (33554432).
	MaxUpstreamBytes int64 `yaml:"max_upstream_bytes"`
}

// Defaults for ServerOptions.
const (
	DefaultListen            = "127.0.0.1:8080"
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultShutdownTimeout   = 30 * time.Second
	DefaultMaxBodyBytes      = 4 << 20
	DefaultDrainDelay        = 5 * time.Second
	DefaultMaxInFlight       = 4096
	DefaultMaxUpstreamBytes  = 32 << 20
	// MaxDrainDelay is the longest drain_delay accepted.
	MaxDrainDelay = 5 * time.Minute
)

func orDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func (o *ServerOptions) listen() string {
	if o.Listen == "" {
		return DefaultListen
	}
	return o.Listen
}

// drainDelay returns DrainDelay or its default; 0 when negative (none).
func (o *ServerOptions) drainDelay() time.Duration {
	switch {
	case o.DrainDelay < 0:
		return 0
	case o.DrainDelay == 0:
		return DefaultDrainDelay
	}
	return o.DrainDelay
}

func (o *ServerOptions) maxInFlight() int {
	if o.MaxInFlight > 0 {
		return o.MaxInFlight
	}
	return DefaultMaxInFlight
}

func (o *ServerOptions) maxEmbeds() int {
	if o.MaxEmbeds > 0 {
		return o.MaxEmbeds
	}
	return 4 * runtime.GOMAXPROCS(0)
}

func (o *ServerOptions) maxUpstreamBytes() int64 {
	if o.MaxUpstreamBytes > 0 {
		return o.MaxUpstreamBytes
	}
	return DefaultMaxUpstreamBytes
}

func (o *ServerOptions) maxBodyBytes() int64 {
	if o.MaxBodyBytes > 0 {
		return o.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

// Validate reports every problem at once.
func (o *ServerOptions) Validate() error {
	var errs []error
	if o.Listen != "" {
		if _, port, err := net.SplitHostPort(o.Listen); err != nil {
			errs = append(errs, fmt.Errorf("listen: %q is not host:port", o.Listen))
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			errs = append(errs, fmt.Errorf("listen: bad port %q", port))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"read_header_timeout", o.ReadHeaderTimeout},
		{"read_timeout", o.ReadTimeout},
		{"idle_timeout", o.IdleTimeout},
		{"shutdown_timeout", o.ShutdownTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative", d.name))
		}
	}
	if o.MaxBodyBytes < 0 {
		errs = append(errs, errors.New("max_body_bytes: must not be negative"))
	}
	if o.MaxInFlight < 0 {
		errs = append(errs, errors.New("max_in_flight: must not be negative"))
	}
	if o.MaxEmbeds < 0 {
		errs = append(errs, errors.New("max_embeds: must not be negative"))
	}
	if o.MaxUpstreamBytes < 0 {
		errs = append(errs, errors.New("max_upstream_bytes: must not be negative"))
	}
	if o.DrainDelay > MaxDrainDelay {
		errs = append(errs, fmt.Errorf("drain_delay: %s is longer than %s", o.DrainDelay, MaxDrainDelay))
	}
	return errors.Join(errs...)
}

// LogOptions configures logging.
type LogOptions struct {
	// Level is debug, info, warn or error. Default: info.
	Level string `yaml:"level"`
	// Format is text, json or auto (text on a terminal, JSON otherwise).
	// Default: auto.
	Format string `yaml:"format"`
	// Requests logs one line per request at info level. Default: true.
	Requests *bool `yaml:"requests"`
}

// Validate reports every problem at once.
func (o *LogOptions) Validate() error {
	var errs []error
	switch strings.ToLower(o.Level) {
	case "", "debug", "info", "warn", "warning", "error":
	default:
		errs = append(errs, fmt.Errorf("level: %q is not debug, info, warn or error", o.Level))
	}
	switch o.Format {
	case "", "auto", "text", "json":
	default:
		errs = append(errs, fmt.Errorf("format: %q is not auto, text or json", o.Format))
	}
	return errors.Join(errs...)
}

func (o *LogOptions) requests() bool { return o.Requests == nil || *o.Requests }

// Provider types.
const (
	TypeOpenAI    = "openai"
	TypeAnthropic = "anthropic"
	TypeMock      = "mock"
)

var providerTypes = []string{TypeAnthropic, TypeMock, TypeOpenAI}

// ProviderConfig is one upstream account.
type ProviderConfig struct {
	// Name identifies the provider in deployments, headers and metrics.
	// Required, unique.
	Name string `yaml:"name"`
	// Type is openai (any OpenAI-compatible API), anthropic or mock.
	// Required.
	Type string `yaml:"type"`
	// Optional disables the provider, and the deployments that use it,
	// when its api_key is empty after ${ENV} expansion, instead of
	// failing. Default: false.
	Optional bool `yaml:"optional"`

	providers.HTTPOptions `yaml:",inline"`

	// AuthHeader (openai only) is the header carrying the key; empty means
	// "Authorization: Bearer KEY", any other name (e.g. "api-key" for Azure
	// OpenAI) sends the bare key in that header. Default: "".
	AuthHeader string `yaml:"auth_header"`
	// Query (openai only) adds URL query parameters to every request, e.g.
	// api-version for Azure OpenAI. Default: none.
	Query map[string]string `yaml:"query"`
	// Responses (openai only) says the upstream serves the Responses API
	// (POST <base_url>/responses): /v1/responses requests routed to it are
	// passed through as sent (model rewritten) instead of translated to
	// Chat Completions. Default: false.
	Responses bool `yaml:"responses"`
	// Version (anthropic only) is the anthropic-version header. Default:
	// "2023-06-01".
	Version string `yaml:"version"`
	// DefaultMaxTokens (anthropic only) is sent when a request sets no
	// max_tokens, which Anthropic requires. Default: 4096.
	DefaultMaxTokens int `yaml:"default_max_tokens"`
	// Mock (mock only) tunes the built-in mock upstream.
	Mock mock.Options `yaml:"mock"`
	// StreamUsage (openai only) says whether semgate adds
	// stream_options.include_usage to streamed requests that lack it, to
	// price them from the upstream's usage: inject (always), never (count
	// the tokens instead; for servers that reject unknown fields) or auto
	// (add it, and stop once the upstream answers 400 naming the field,
	// retrying that request once without it). Default: auto.
	StreamUsage string `yaml:"stream_usage"`
}

// enabled reports whether the provider takes part after env expansion.
func (p *ProviderConfig) enabled() bool {
	return !(p.Optional && p.APIKey == "")
}

// ModelConfig is a public model alias.
type ModelConfig struct {
	// Name is what clients send as "model". Required, unique.
	Name string `yaml:"name"`
	// PoolOptions: policy (cost, latency, weighted, priority, auto;
	// default cost), retry (overrides routing.retry) and auto (the auto
	// policy's thresholds).
	route.PoolOptions `yaml:",inline"`
	// Deployments serve the alias; the policy orders them and the next is
	// tried when one fails. At least one is required.
	Deployments []DeploymentConfig `yaml:"deployments"`
}

// DeploymentConfig is one upstream model serving an alias.
type DeploymentConfig struct {
	// Provider names a configured provider. Required.
	Provider string `yaml:"provider"`
	// Model is the upstream's model name. Default: the alias name.
	Model string `yaml:"model"`
	// Price is the cost in USD per million tokens (input, cached_input,
	// output). Default: routing.prices[model], else the shipped table
	// (route.PricesDate), else 0 (unknown).
	Price providers.Price `yaml:"price"`
	// ContextWindow is the model's context size in tokens. Default: the
	// shipped table's, else 0 (unknown: every prompt fits).
	ContextWindow int `yaml:"context_window"`
	// MemberOptions: capabilities, tier, weight, rpm, tpm, timeout.
	route.MemberOptions `yaml:",inline"`
}

// Problem is one thing wrong with a configuration, located by its path in
// the YAML document ("providers[1].base_url") and, when known, its line.
type Problem struct {
	Path    string
	Line    int
	Message string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(p.Line))
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ErrConfig is wrapped by every *ConfigError.
var ErrConfig = errors.New("gateway: invalid configuration")

// ConfigError lists every problem found in a configuration.
type ConfigError struct {
	File     string
	Problems []Problem
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.File != "" {
		b.WriteString(": ")
	}
	b.WriteString(strconv.Itoa(len(e.Problems)))
	b.WriteString(" configuration problem(s):")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

func (e *ConfigError) Unwrap() error { return ErrConfig }

// problems collects Problems during validation.
type problems []Problem

func (ps *problems) add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// addErr adds each error joined in err as a problem at path.
func (ps *problems) addErr(path string, err error) {
	if err == nil {
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			ps.addErr(path, e)
		}
		return
	}
	*ps = append(*ps, Problem{Path: path, Message: err.Error()})
}

// Validate reports every problem with c at once as a *ConfigError.
func (c *Config) Validate() error {
	var ps problems
	ps.addErr("server", c.Server.Validate())
	ps.addErr("log", c.Log.Validate())
	ps.addErr("storage", c.Storage.Validate())
	ps.addErr("cache", c.Cache.Validate())
	ps.addErr("embed", c.Embed.Validate())
	ps.addErr("index", c.Index.Validate())
	ps.addErr("routing", c.Routing.Validate())
	ps.addErr("auth", c.Auth.Validate())
	ps.addErr("cluster", c.Cluster.Validate())

	names := map[string]int{}
	for i := range c.Providers {
		p := &c.Providers[i]
		path := fmt.Sprintf("providers[%d]", i)
		switch {
		case p.Name == "":
			ps.add(path+".name", "required")
		case names[p.Name] > 0:
			ps.add(path+".name", "%q is already used by providers[%d]", p.Name, names[p.Name]-1)
		default:
			names[p.Name] = i + 1
		}
		p.validate(path, &ps)
	}

	aliases := map[string]int{}
	for i := range c.Models {
		m := &c.Models[i]
		path := fmt.Sprintf("models[%d]", i)
		switch {
		case m.Name == "":
			ps.add(path+".name", "required")
		case aliases[m.Name] > 0:
			ps.add(path+".name", "%q is already defined by models[%d]", m.Name, aliases[m.Name]-1)
		default:
			aliases[m.Name] = i + 1
		}
		if len(m.Deployments) == 0 {
			ps.add(path+".deployments", "at least one deployment is required")
		}
		m.validateRouting(path, &ps)
		for j, d := range m.Deployments {
			dpath := fmt.Sprintf("%s.deployments[%d]", path, j)
			if d.Provider == "" {
				ps.add(dpath+".provider", "required")
			} else if names[d.Provider] == 0 {
				ps.add(dpath+".provider", "unknown provider %q (configured: %s)", d.Provider, quotedList(c.providerNames()))
			}
			ps.addErr(dpath, d.MemberOptions.Validate())
			if d.Price.Input < 0 || d.Price.CachedInput < 0 || d.Price.Output < 0 {
				ps.add(dpath+".price", "prices must not be negative")
			}
			if d.ContextWindow < 0 {
				ps.add(dpath+".context_window", "must not be negative")
			}
		}
	}
	if len(c.Models) == 0 {
		ps.add("models", "at least one model is required")
	}
	c.validateLimits(&ps, aliases)
	if len(ps) == 0 {
		return nil
	}
	return &ConfigError{Problems: ps}
}

func (p *ProviderConfig) validate(path string, ps *problems) {
	if !slices.Contains(providerTypes, p.Type) {
		if p.Type == "" {
			ps.add(path+".type", "required (one of %s)", quotedList(providerTypes))
		} else {
			ps.add(path+".type", "unknown type %q (one of %s)", p.Type, quotedList(providerTypes))
		}
	}
	ps.addErr(path, p.HTTPOptions.Validate())
	if p.BaseURL != "" {
		if !strings.HasPrefix(p.BaseURL, "http://") && !strings.HasPrefix(p.BaseURL, "https://") {
			ps.add(path+".base_url", "must start with http:// or https://")
		}
	}
	if p.Type != TypeOpenAI {
		if p.AuthHeader != "" {
			ps.add(path+".auth_header", "only applies to type openai")
		}
		if len(p.Query) > 0 {
			ps.add(path+".query", "only applies to type openai")
		}
		if p.StreamUsage != "" {
			ps.add(path+".stream_usage", "only applies to type openai")
		}
		if p.Responses {
			ps.add(path+".responses", "only applies to type openai (anthropic providers take Messages natively, the mock both APIs)")
		}
	}
	if err := validStreamUsage(p.StreamUsage); err != nil {
		ps.add(path+".stream_usage", "%s", strings.TrimPrefix(err.Error(), "stream_usage: "))
	}
	if p.Type != TypeAnthropic {
		if p.Version != "" {
			ps.add(path+".version", "only applies to type anthropic")
		}
		if p.DefaultMaxTokens != 0 {
			ps.add(path+".default_max_tokens", "only applies to type anthropic")
		}
	}
	if p.DefaultMaxTokens < 0 {
		ps.add(path+".default_max_tokens", "must not be negative")
	}
	if p.Type == TypeMock {
		ps.addErr(path+".mock", p.Mock.Validate())
		if p.BaseURL != "" || p.APIKey != "" {
			ps.add(path, "base_url and api_key do not apply to type mock")
		}
	} else if !reflect.ValueOf(p.Mock).IsZero() {
		ps.add(path+".mock", "only applies to type mock")
	}
}

func (c *Config) providerNames() []string {
	var out []string
	for _, p := range c.Providers {
		if p.Name != "" {
			out = append(out, p.Name)
		}
	}
	return out
}

func quotedList(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}
