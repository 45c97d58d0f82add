package cluster

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options is the `cluster:` section of the configuration. The zero value
// (no redis_url) is the offline default: one gateway on its own, nothing
// shared.
type Options struct {
	// RedisURL turns cluster mode on: redis://[[user]:password@]host:port/db
	// (rediss:// for TLS). Usually ${SEMGATE_REDIS_URL}. Every replica of
	// one cluster names the same Redis and the same key_prefix. Default:
	// empty (cluster mode off).
	RedisURL string `yaml:"redis_url"`
	// KeyPrefix starts every Redis key semgate uses ("<prefix>:keys",
	// "<prefix>:fills", ...), so that several clusters can share one
	// Redis. Default: "semgate".
	KeyPrefix string `yaml:"key_prefix"`
	// StreamMaxLen bounds the stream of cache fills (XADD MAXLEN ~ N): a
	// replica down for longer than it takes the others to make this many
	// fills misses the oldest ones (counted in
	// semgate_cluster_stream_gaps_total). Default: 10000.
	StreamMaxLen int64 `yaml:"stream_max_len"`
	// ResyncInterval is how often each replica reloads every key from
	// Redis (and writes back any it has that Redis lacks), on top of the
	// changes it is sent at once. At least 1s. Default: 30s.
	ResyncInterval time.Duration `yaml:"resync_interval"`
	// OnUnreachable is what a replica does while Redis is unreachable:
	// "open" (the default) goes on serving from its own state (keys in
	// memory, its own cache; fills are kept, up to outbox_size, and
	// published when Redis returns), with a log line and
	// semgate_cluster_redis_up 0; "closed" answers API requests with 503
	// (and /readyz with 503) until Redis is back and the keys are resynced,
	// so a revocation made elsewhere meanwhile is never missed.
	OnUnreachable string `yaml:"on_unreachable"`
	// OutboxSize bounds the cache fills (and their bytes, at most 64 MiB)
	// a replica keeps while it cannot publish them; past it the oldest
	// are dropped from replication (still in the replica's own cache) and
	// counted. Default: 10000.
	OutboxSize int `yaml:"outbox_size"`
}

// Values of OnUnreachable.
const (
	FailOpen   = "open"
	FailClosed = "closed"
)

// Defaults.
const (
	DefaultKeyPrefix      = "semgate"
	DefaultStreamMaxLen   = 10000
	DefaultResyncInterval = 30 * time.Second
	DefaultOutboxSize     = 10000
	// maxOutboxBytes bounds the bytes of the fills waiting in the outbox.
	maxOutboxBytes = 64 << 20
)

// Enabled reports whether cluster mode is on.
func (o *Options) Enabled() bool { return o.RedisURL != "" }

// Validate reports every problem at once. Messages never contain the
// URL, which may hold a password.
func (o *Options) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if o.RedisURL != "" {
		u, err := url.Parse(o.RedisURL)
		switch {
		case err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix"):
			add("redis_url: must be redis://[[user]:password@]host:port/db, rediss://... or unix://...")
		default:
			if _, err := redis.ParseURL(o.RedisURL); err != nil {
				add("redis_url: not a valid Redis URL (check the host, port and database number)")
			}
		}
	}
	if p := o.KeyPrefix; p != "" && (strings.ContainsAny(p, " \t\r\n{}") || len(p) > 64) {
		add("key_prefix: at most 64 characters, without white space or braces")
	}
	if o.StreamMaxLen < 0 {
		add("stream_max_len: must not be negative")
	}
	if o.ResyncInterval < 0 || (o.ResyncInterval > 0 && o.ResyncInterval < time.Second) {
		add("resync_interval: must be at least 1s")
	}
	switch o.OnUnreachable {
	case "", FailOpen, FailClosed:
	default:
		add("on_unreachable: must be %q or %q", FailOpen, FailClosed)
	}
	if o.OutboxSize < 0 {
		add("outbox_size: must not be negative")
	}
	return errors.Join(errs...)
}

func (o *Options) keyPrefix() string {
	if o.KeyPrefix == "" {
		return DefaultKeyPrefix
	}
	return o.KeyPrefix
}

func (o *Options) streamMaxLen() int64 {
	if o.StreamMaxLen > 0 {
		return o.StreamMaxLen
	}
	return DefaultStreamMaxLen
}

func (o *Options) resyncInterval() time.Duration {
	if o.ResyncInterval > 0 {
		return o.ResyncInterval
	}
	return DefaultResyncInterval
}

func (o *Options) outboxSize() int {
	if o.OutboxSize > 0 {
		return o.OutboxSize
	}
	return DefaultOutboxSize
}

// failClosed reports whether API requests are refused while Redis is
// unreachable.
func (o *Options) failClosed() bool { return o.OnUnreachable == FailClosed }

// Summary describes the options in one line for `semgate config check`,
// without the URL's password.
func Summary(o *Options) string {
	return fmt.Sprintf("cluster: redis %s, key prefix %q, on_unreachable %s, stream_max_len %d, resync every %s",
		redactURL(o.RedisURL), o.keyPrefix(), o.mode(), o.streamMaxLen(), o.resyncInterval())
}

func (o *Options) mode() string {
	if o.failClosed() {
		return FailClosed
	}
	return FailOpen
}
