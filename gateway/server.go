package gateway

import (
	"context"
	"errors"
	"fmt"
	"github.com/VictoriaMetrics/metrics"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/semgate/semgate/embed"
	"github.com/semgate/semgate/gateway/cluster"
	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/verify"
)

// Server is a running semgate gateway: configuration, upstreams, storage
// and the HTTP handler. Create it with New, run it with Serve, and release
// it with Close.
type Server struct {
	cfg     *Config
	log     *slog.Logger
	router  *providers.Router
	store   *semcache.Store
	metrics *serverMetrics
	handler http.Handler

	// The cache; nil when disabled. embedder is nil when the cache runs
	// exact-only; guard is nil when the content guard is off.
	cache        *semcache.Cache
	embedder     embed.Embedder
	guard        semcache.Checker
	verifier     semcache.Verifier
	lexical      embed.Embedder
	flights      flights
	cacheMetrics *cacheMetrics

	routing *routing // cost-aware routing and spend totals (routing.go)
	acl     access   // keys, the admin guard, tenancy (auth.go)
	quota   *quota   // rate limits and budgets (limits.go)

	cluster *cluster.Cluster // nil unless cluster.redis_url is set (clustermode.go)

	streamUsage map[string]*streamUsage // by provider name (streamusage.go)

	inFlight         atomic.Int64 // API requests being handled (overload.go)
	overloadRejected *metrics.Counter
	maxInFlight      int64         // server.max_in_flight
	embeds           chan struct{} // cache embedding slots (server.max_embeds)
	maxUpstream      int64         // server.max_upstream_bytes

	maxBody      int64
	logRequests  bool
	started      time.Time
	modelsList   []byte // GET /v1/models body, built once
	shuttingDown atomic.Bool
	handlers     handlerGate // running handlers, which Close waits for
}

// New builds a Server from a validated configuration: it constructs the
// upstream adapters and opens the store. logger may be nil.
func New(cfg *Config, logger *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	router, err := buildRouter(cfg, logger)
	if err != nil {
		return nil, err
	}
	storeOpts := cfg.Storage
	storeOpts.Logger = logger
	store, err := semcache.OpenStore(storeOpts)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:         cfg,
		log:         logger,
		router:      router,
		store:       store,
		metrics:     newServerMetrics(router),
		maxBody:     cfg.Server.maxBodyBytes(),
		logRequests: cfg.Log.requests(),
		started:     time.Now(),
	}
	s.cacheMetrics = newCacheMetrics(s.metrics.set)
	s.maxInFlight = int64(cfg.Server.maxInFlight())
	s.newOverloadMetrics(s.metrics.set)
	s.embeds = make(chan struct{}, cfg.Server.maxEmbeds())
	s.maxUpstream = cfg.Server.maxUpstreamBytes()
	s.streamUsage = make(map[string]*streamUsage, len(cfg.Providers))
	for i := range cfg.Providers {
		if p := &cfg.Providers[i]; p.Type == TypeOpenAI {
			s.streamUsage[p.Name] = &streamUsage{mode: p.StreamUsage}
		}
	}
	if s.routing, err = newRouting(cfg, router, store, s.metrics.set, logger); err != nil {
		store.Close()
		return nil, err
	}
	if err := s.openAccess(); err != nil {
		store.Close()
		return nil, err
	}
	if err := s.openCache(); err != nil {
		store.Close()
		return nil, err
	}
	if err := s.openCluster(); err != nil {
		if s.cache != nil {
			s.cache.Close()
		}
		store.Close()
		return nil, err
	}
	if err := s.openQuota(); err != nil {
		s.closeCluster()
		if s.cache != nil {
			s.cache.Close()
		}
		store.Close()
		return nil, err
	}
	s.modelsList = s.buildModelsList()
	s.handler = s.routes()
	return s, nil
}

// openCache builds the embedder and loads the cache from the store.
func (s *Server) openCache() error {
	co := s.cfg.Cache.Options
	if co.Disabled {
		s.log.Info("cache disabled")
		return nil
	}
	cc := semcache.CacheConfig{Logger: s.log}
	indexConfig(s.cfg.Index, s.cfg.Storage.DirOrDefault(), &cc)
	if co.Threshold == 0 {
		co.Threshold = defaultThreshold(s.cfg.Embed.Model)
	}
	e, err := embed.New(s.cfg.Embed)
	if err != nil {
		return err
	}
	if p, ok := e.(embed.Prober); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := p.Probe(ctx)
		cancel()
		if err != nil {
			s.log.Warn("embedder unavailable at start-up; the cache runs exact-only", "error", err)
			e = nil
		}
	}
	if e != nil {
		s.embedder = e
		cc.EmbedderID, cc.Dim = e.ID(), e.Dim()
	}
	if co.Guard.Enabled && !co.Guard.Disabled {
		s.guard = semcache.NewGuard(co.Guard)
	}
	s.verifier = verify.New(co.Verify)
	if lx, err := embed.NewLexical(0, embed.LexicalOptions{}); err == nil {
		s.lexical = lx // the character n-gram similarity /admin/cache/explain reports
	}
	c, err := semcache.Open(s.store, co, cc)
	if err != nil {
		return err
	}
	s.cache = c
	return nil
}

// Handler returns the gateway's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Listen opens the configured listen address.
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.cfg.Server.listen())
	if err != nil {
		return nil, fmt.Errorf("gateway: listen: %w", err)
	}
	return ln, nil
}

// MaxHeaderBytes bounds a request's header section (request line
// included): 64 KiB, where net/http's default is 1 MiB (plus 4 KiB of
// slack). Larger headers get net/http's 431 before semgate sees the
// request. API clients send a few hundred bytes; the bound keeps what
// each open connection may hold, before max_in_flight applies, small.
const MaxHeaderBytes = 64 << 10

// Serve answers requests on ln until ctx is cancelled, then shuts down
// gracefully: for the drain delay /readyz answers 503 while ln still
// accepts and requests are served (without keep-alive), so a load balancer
// can stop sending traffic; then it stops accepting, lets in-flight
// requests (streams included) finish within the shutdown timeout, and
// closes the connections left. Handlers of closed connections may still be
// returning when Serve does; Close waits for them. Serve does not close the
// store; call Close after Serve returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	o := &s.cfg.Server
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: orDuration(o.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		ReadTimeout:       orDuration(o.ReadTimeout, DefaultReadTimeout),
		IdleTimeout:       orDuration(o.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("semgate listening", "addr", ln.Addr().String(), "models", len(s.router.Names()))
	s.warnOpen(ln.Addr())

	select {
	case err := <-errc:
		return fmt.Errorf("gateway: serve: %w", err)
	case <-ctx.Done():
	}
	s.shuttingDown.Store(true)
	if d := o.drainDelay(); d > 0 {
		s.log.Info("draining: /readyz answers 503 until the listener closes", "drain_delay", d.String())
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			return fmt.Errorf("gateway: serve: %w", err)
		}
	}
	timeout := orDuration(o.ShutdownTimeout, DefaultShutdownTimeout)
	s.log.Info("shutting down", "grace", timeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("shutdown grace period over; closing remaining connections")
		err = srv.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// Close shuts the gateway's storage down in order: it refuses new requests
// (503), waits for the running handlers (at most the shutdown timeout; past
// it, their storage calls fail with semcache.ErrClosed), stops the cache's
// background work, writes the spend totals, and closes the store. Call it
// after Serve has returned.
func (s *Server) Close() error {
	s.shuttingDown.Store(true)
	wait := orDuration(s.cfg.Server.ShutdownTimeout, DefaultShutdownTimeout)
	if n := s.handlers.close(wait); n > 0 {
		s.log.Error("closing storage under running handlers", "handlers", n, "waited", wait.String())
	}
	s.closeCluster()
	if s.cache != nil {
		s.cache.Close()
	}
	s.quota.close()
	s.routing.close()
	return s.store.Close()
}

// handlerGate counts the running handlers (Server.track) so that Close can
// wait for them before closing the cache and the store, and refuses new
// ones once closing.
type handlerGate struct {
	mu      sync.Mutex
	running int
	closed  bool
	idle    chan struct{} // made by close; closed once running drops to 0
}

// enter admits one handler; false once the gate is closing.
func (g *handlerGate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.running++
	return true
}

// leave ends a handler admitted by enter.
func (g *handlerGate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.running--
	if g.closed && g.running == 0 {
		close(g.idle)
	}
}

// close refuses new handlers and waits up to timeout for the running ones
// to return. It returns how many are still running.
func (g *handlerGate) close(timeout time.Duration) int {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		g.idle = make(chan struct{})
		if g.running == 0 {
			close(g.idle)
		}
	}
	idle := g.idle
	g.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-idle:
		return 0
	case <-t.C:
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.running
}

// track runs next between handlerGate.enter and leave; once Close has
// begun it answers 503 instead.
func (s *Server) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.handlers.enter() {
			w.Header().Set("Connection", "close")
			writeError(w, &apiError{Status: http.StatusServiceUnavailable, Type: typeServer, Code: "shutting_down",
				Message: "semgate is shutting down; retry on another instance"})
			return
		}
		defer s.handlers.leave()
		next.ServeHTTP(w, r)
	})
}
