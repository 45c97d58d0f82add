// Package cluster is semgate's cluster mode: several gateway replicas,
// behind any load balancer, share state through one Redis.
//
//   - Keys: each key a replica creates, changes or revokes is written to
//     the Redis hash <prefix>:keys (field: the hex SHA-256 of the secret;
//     value: the key's JSON, never the secret) and published on the
//     channel <prefix>:keys:changes; every replica applies it to its own
//     key store (memory and Pebble) at once, and reloads the whole hash
//     every resync_interval and whenever its subscription or Redis comes
//     back, writing back the keys Redis lacks (after a Redis restart
//     without persistence, say). Replicas converge on one rule
//     (auth.Supersedes): a revocation is final, else the later updated_at
//     wins.
//
//   - Cache fills: a replica that stores an answer appends it to the
//     stream <prefix>:fills (XADD MAXLEN ~ stream_max_len, every field
//     binary-safe); every replica reads the stream from the last id it
//     applied, which it keeps in its own store (table
//     semcache.TableCluster), so one that was down catches up on restart,
//     skips its own fills, and stores the others' in its cache and index:
//     with the sender's vector when both use the same embedder, else with
//     one it computes. Deletions and flushes made through the admin API
//     travel on the same stream (PublishDelete, PublishFlush), and every
//     replica applies them to its own cache.
//
//   - Redis unreachable: a replica notices within a second (a PING every
//     500ms, and any failed call), logs it once, sets
//     semgate_cluster_redis_up to 0, and then either goes on from its own
//     state ("open": keys from memory, fills kept in a bounded outbox and
//     published later) or refuses API requests ("closed": Serving is
//     false). When Redis answers again it resyncs the keys, publishes the
//     outbox and reads the stream from where it stopped.
//
//   - Rate limits and budgets: RedisLimiter (limiter.go) and RedisBudgets
//     (budgets.go) implement limits.Limiter and limits.Budgets on Redis,
//     each decision one atomic Lua script, so a limit or a budget is the
//     cluster's, not each replica's; while Redis is unreachable they
//     decide on the replica alone (open) or refuse (closed).
//
// Client is the replica's Redis connection, Key names Redis keys under
// the cluster's prefix, Up/Serving/FailClosed tell the state,
// OnStateChange reports its changes, and Fail lets a caller report a
// failed Redis call.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/semgate/semgate/embed"
	"github.com/semgate/semgate/gateway/auth"
	"github.com/semgate/semgate/semcache"
)

// Deps are what a Cluster works on; Store is required.
type Deps struct {
	// Store is the replica's Pebble store: its replica id and stream
	// position live in table semcache.TableCluster.
	Store *semcache.Store
	// Keys is the replica's key store; nil: keys are not shared.
	Keys *auth.Store
	// Cache is the replica's cache; nil (cache disabled): fills are
	// neither published nor applied.
	Cache *semcache.Cache
	// Embedder computes vectors for fills from replicas whose embedder
	// differs; nil when the cache runs exact-only.
	Embedder embed.Embedder
	// Metrics receives the cluster's metrics; nil: a private set.
	Metrics *metrics.Set
	// Logger; nil: slog.Default().
	Logger *slog.Logger
	// TenantFilter selects the cache entries of a tenant for a flush
	// replicated from another replica (the gateway's rule: the tenant's
	// entries and its share group's); nil: entries of that tenant only.
	TenantFilter func(tenant string) func(entryTenant string) bool
}

// Timing of the health check and of the stream reader.
const (
	pingInterval = 500 * time.Millisecond
	pingTimeout  = time.Second
	readBlock    = 500 * time.Millisecond
	readCount    = 64
	retryDelay   = 250 * time.Millisecond
	closeFlush   = 2 * time.Second
)

// Records in table semcache.TableCluster.
var (
	kvReplica = []byte("replica") // this replica's id
	kvStream  = []byte("stream")  // the last fill-stream id applied
)

// Cluster is one replica's membership of a cluster. Create it with New;
// its goroutines run until Close.
type Cluster struct {
	o       Options
	rdb     *redis.Client
	log     *slog.Logger
	replica string
	kv      *semcache.KV
	keys    *auth.Store
	cache   *semcache.Cache
	emb     embed.Embedder
	m       *clusterMetrics
	tfilter func(string) func(string) bool

	// Redis key names.
	keysHash, keysChannel, fillStream string

	up      atomic.Bool // Redis answered and the keys were resynced since
	wasDown atomic.Bool // Redis was unreachable at some point
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	resync  chan struct{} // asks the monitor for a key resync
	kick    chan struct{} // wakes the publisher
	ps      *redis.PubSub
	closeMu sync.Mutex
	closed  bool

	omu       sync.Mutex
	keyOut    map[[32]byte]auth.Record // key changes to publish
	fillOut   []*fill                  // fills to publish, oldest first
	fillBytes int

	wmu      sync.Mutex
	watchers []func(up bool)

	// local is set while shared limits decide on this replica alone
	// (Redis unreachable, failing open): see localFallback.
	local atomic.Bool
}

// New connects the replica to its cluster: it reads (or makes) its
// replica id, registers for its key store's changes, tries Redis once
// (resyncing the keys if it answers) and starts the goroutines. Redis
// being unreachable is not an error: the replica starts in the state
// on_unreachable says and recovers when Redis answers.
func New(o Options, d Deps) (*Cluster, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if !o.Enabled() {
		return nil, errors.New("cluster: no redis_url")
	}
	if d.Store == nil {
		return nil, errors.New("cluster: no store")
	}
	ro, err := redis.ParseURL(o.RedisURL)
	if err != nil {
		return nil, errors.New("cluster: redis_url: not a valid Redis URL")
	}
	ro.DialTimeout = time.Second
	ro.ReadTimeout = 2 * time.Second
	ro.WriteTimeout = 2 * time.Second
	ro.MaxRetries = 1
	ro.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	logOnce.Do(func() { redis.SetLogger(redisLogger{}) })
	kv, err := d.Store.KV(semcache.TableCluster)
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		o: o, log: d.Logger, kv: kv, keys: d.Keys, cache: d.Cache, emb: d.Embedder, tfilter: d.TenantFilter,
		resync: make(chan struct{}, 1), kick: make(chan struct{}, 1),
		keyOut: map[[32]byte]auth.Record{},
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.log = c.log.With("component", "cluster")
	if c.replica, err = c.replicaID(); err != nil {
		return nil, err
	}
	p := o.keyPrefix()
	c.keysHash, c.keysChannel, c.fillStream = p+":keys", p+":keys:changes", p+":fills"
	set := d.Metrics
	if set == nil {
		set = metrics.NewSet()
	}
	c.m = newClusterMetrics(set, c)
	c.rdb = redis.NewClient(ro)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if c.keys != nil {
		c.keys.OnChange(c.enqueueKey)
	}

	// One try before serving, so a replica that can reach Redis starts
	// with every key of the cluster.
	if err := c.check(); err != nil {
		c.log.Error("cluster: redis unreachable at start-up; "+c.unreachableMode(), "replica", c.replica, "error", err)
		c.m.unreachable.Inc()
		c.wasDown.Store(true)
	} else {
		c.log.Info("cluster: joined", "replica", c.replica, "redis", redactURL(o.RedisURL), "prefix", p,
			"on_unreachable", c.mode())
	}
	c.ps = c.rdb.Subscribe(c.ctx) // connects lazily, in the subscriber
	c.wg.Add(3)
	go c.monitor()
	go c.subscriber()
	go c.publisher()
	if c.cache != nil {
		c.wg.Add(1)
		go c.reader()
	}
	return c, nil
}

// replicaID returns this replica's persistent id, making it at first.
func (c *Cluster) replicaID() (string, error) {
	if v, err := c.kv.Get(kvReplica); err == nil && len(v) > 0 {
		return string(v), nil
	} else if err != nil && !errors.Is(err, semcache.ErrNotFound) {
		return "", fmt.Errorf("cluster: reading the replica id: %w", err)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := "r_" + hex.EncodeToString(b[:])
	if err := c.kv.SetMany([]semcache.Pair{{Key: kvReplica, Value: []byte(id)}}, true); err != nil {
		return "", fmt.Errorf("cluster: writing the replica id: %w", err)
	}
	return id, nil
}

// Close stops the goroutines, publishes what is left in the outbox (for
// at most 2 seconds) and closes the Redis connections. Call it before
// closing the cache and the store.
func (c *Cluster) Close() error {
	c.closeMu.Lock()
	if c.closed {
		c.closeMu.Unlock()
		return nil
	}
	c.closed = true
	c.closeMu.Unlock()
	c.cancel()
	c.ps.Close() // unblocks the subscriber
	c.wg.Wait()
	if c.up.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), closeFlush)
		c.publishPending(ctx)
		cancel()
	}
	if n := c.pending(); n > 0 {
		c.log.Warn("cluster: closing with unpublished cache fills", "fills", n)
	}
	return c.rdb.Close()
}

// ReplicaID is this replica's id, kept in its store across restarts.
func (c *Cluster) ReplicaID() string { return c.replica }

// Client is the replica's Redis client, for shared state built on the
// cluster (rate limits, budgets). Its calls fail fast (1s dial, 2s
// read/write timeouts); report failures with Fail.
func (c *Cluster) Client() *redis.Client { return c.rdb }

// Key returns the Redis key named by parts under the cluster's prefix:
// Key("limits", "key_0123") is "semgate:limits:key_0123".
func (c *Cluster) Key(parts ...string) string {
	return c.o.keyPrefix() + ":" + strings.Join(parts, ":")
}

// Up reports whether Redis is reachable (and the keys were resynced since
// it last was not).
func (c *Cluster) Up() bool { return c.up.Load() }

// FailClosed reports whether API requests must be refused while Redis is
// unreachable (on_unreachable: closed).
func (c *Cluster) FailClosed() bool { return c.o.failClosed() }

// Serving reports whether the replica may answer API requests: always
// when failing open, else only while Redis is up.
func (c *Cluster) Serving() bool { return c.up.Load() || !c.o.failClosed() }

// CountRefused counts an API request refused because Redis is
// unreachable and the replica fails closed.
func (c *Cluster) CountRefused() { c.m.refused.Inc() }

// OnStateChange registers fn to be called, from the cluster's goroutine,
// each time Redis becomes unreachable (false) or is back and resynced
// (true). fn must not block.
func (c *Cluster) OnStateChange(fn func(up bool)) {
	c.wmu.Lock()
	c.watchers = append(c.watchers, fn)
	c.wmu.Unlock()
}

// Fail reports a failed Redis call: unless ctx was cancelled (or err is
// redis.Nil or a transaction conflict), the replica counts Redis as
// unreachable until the health check succeeds again.
func (c *Cluster) Fail(err error) {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, redis.TxFailedErr) ||
		errors.Is(err, context.Canceled) || c.ctx.Err() != nil {
		return
	}
	c.setDown(err)
}

func (c *Cluster) mode() string { return c.o.mode() }

func (c *Cluster) unreachableMode() string {
	if c.o.failClosed() {
		return "refusing API requests until it is back (on_unreachable: closed)"
	}
	return "serving from local state until it is back (on_unreachable: open)"
}

func (c *Cluster) setDown(err error) {
	if !c.up.CompareAndSwap(true, false) {
		return
	}
	c.m.unreachable.Inc()
	c.wasDown.Store(true)
	c.log.Error("cluster: redis unreachable; "+c.unreachableMode(), "error", err)
	c.notify(false)
}

func (c *Cluster) setUp() {
	if !c.up.CompareAndSwap(false, true) {
		return
	}
	if c.wasDown.Load() {
		c.log.Info("cluster: redis reachable again; keys resynced, publishing the outbox", "pending_fills", c.pending())
	}
	if c.local.CompareAndSwap(true, false) {
		c.log.Info("cluster: rate limits and budgets shared through redis again")
	}
	c.notify(true)
	c.wake()
}

func (c *Cluster) notify(up bool) {
	c.wmu.Lock()
	ws := c.watchers
	c.wmu.Unlock()
	for _, fn := range ws {
		fn(up)
	}
}

// check pings Redis and, when it answers, resyncs the keys; the replica
// is up when both succeed.
func (c *Cluster) check() error {
	ctx, cancel := context.WithTimeout(c.ctx, pingTimeout)
	err := c.rdb.Ping(ctx).Err()
	cancel()
	if err == nil {
		err = c.resyncKeys()
	}
	if err != nil {
		c.setDown(err)
		return err
	}
	c.setUp()
	return nil
}

// monitor pings Redis every 500ms, resyncs the keys every resync
// interval and when asked, and moves the replica between up and down.
func (c *Cluster) monitor() {
	defer c.wg.Done()
	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	resync := time.NewTicker(c.o.resyncInterval())
	defer resync.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-ping.C:
			if c.up.Load() {
				ctx, cancel := context.WithTimeout(c.ctx, pingTimeout)
				err := c.rdb.Ping(ctx).Err()
				cancel()
				if err != nil {
					c.Fail(err)
				}
				continue
			}
			c.check() // down: try to come back
		case <-resync.C:
			if c.up.Load() {
				c.check()
			}
		case <-c.resync:
			if c.up.Load() {
				c.check()
			}
		}
	}
}

// wake wakes the publisher.
func (c *Cluster) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// askResync asks the monitor for a key resync.
func (c *Cluster) askResync() {
	select {
	case c.resync <- struct{}{}:
	default:
	}
}

// sleep waits d, or less if the cluster closes; false once closing.
func (c *Cluster) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// logOnce sets go-redis's logger (a global) once.
var logOnce sync.Once

// redisLogger drops go-redis's own log lines (dial failures repeated
// while Redis is down): the cluster logs each change of state once.
type redisLogger struct{}

func (redisLogger) Printf(context.Context, string, ...any) {}

// redactURL drops the password from a Redis URL for logs.
func redactURL(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			return s[:i+3] + "***@" + rest[at+1:]
		}
	}
	return s
}

// tenantFilter selects a tenant's cache entries: Deps.TenantFilter's, or
// the tenant's own.
func (c *Cluster) tenantFilter(tenant string) func(string) bool {
	if c.tfilter != nil {
		return c.tfilter(tenant)
	}
	return func(t string) bool { return t == tenant }
}

// Kinds of shared limits, for localFallback.
const (
	fallbackRateLimit = iota
	fallbackBudget
	fallbackKinds
)

var fallbackNames = [fallbackKinds]string{"rate_limit", "budget"}

// localFallback records that a shared limit of kind decided on this
// replica alone because Redis is unreachable (failing open): counted in
// semgate_cluster_local_decisions_total{kind}, logged once per outage
// (setUp logs the return to shared limits).
func (c *Cluster) localFallback(kind int) {
	c.m.local[kind].Inc()
	if !c.local.Load() && c.local.CompareAndSwap(false, true) {
		c.log.Warn("cluster: redis unreachable; rate limits and budgets are enforced by each replica on its own until it is back",
			"first", fallbackNames[kind])
	}
}

// clusterMetrics are the cluster's Prometheus metrics.
type clusterMetrics struct {
	unreachable     *metrics.Counter
	resyncs         *metrics.Counter
	keysPublished   *metrics.Counter
	keysApplied     *metrics.Counter
	keysBad         *metrics.Counter
	fillsPub        *metrics.Counter
	fillsApplied    *metrics.Counter
	fillsDropped    *metrics.Counter
	fillsBad        *metrics.Counter
	removalsApplied *metrics.Counter
	gaps            *metrics.Counter
	refused         *metrics.Counter
	local           [fallbackKinds]*metrics.Counter
}

func newClusterMetrics(set *metrics.Set, c *Cluster) *clusterMetrics {
	set.NewGauge(`semgate_cluster_redis_up`, func() float64 {
		if c.up.Load() {
			return 1
		}
		return 0
	})
	set.NewGauge(`semgate_cluster_outbox_fills`, func() float64 { return float64(c.pending()) })
	set.NewGauge(`semgate_cluster_limits_local`, func() float64 {
		if c.local.Load() {
			return 1
		}
		return 0
	})
	m := &clusterMetrics{
		unreachable:     set.NewCounter(`semgate_cluster_redis_unreachable_total`),
		resyncs:         set.NewCounter(`semgate_cluster_key_resyncs_total`),
		keysPublished:   set.NewCounter(`semgate_cluster_keys_published_total`),
		keysApplied:     set.NewCounter(`semgate_cluster_keys_applied_total`),
		keysBad:         set.NewCounter(`semgate_cluster_keys_skipped_total`),
		fillsPub:        set.NewCounter(`semgate_cluster_fills_published_total`),
		fillsApplied:    set.NewCounter(`semgate_cluster_fills_applied_total`),
		fillsDropped:    set.NewCounter(`semgate_cluster_fills_dropped_total`),
		fillsBad:        set.NewCounter(`semgate_cluster_fills_skipped_total`),
		removalsApplied: set.NewCounter(`semgate_cluster_removals_applied_total`),
		gaps:            set.NewCounter(`semgate_cluster_stream_gaps_total`),
		refused:         set.NewCounter(`semgate_cluster_refused_total`),
	}
	for k, name := range fallbackNames {
		m.local[k] = set.NewCounter(`semgate_cluster_local_decisions_total{kind="` + name + `"}`)
	}
	return m
}
