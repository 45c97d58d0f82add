package semcache

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
)

// FormatVersion is the on-disk key layout version this build reads and
// writes.
const FormatVersion = 1

// Sentinel errors.
var (
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("semcache: store closed")
	// ErrFormat: the data directory was written by an incompatible version.
	ErrFormat = errors.New("semcache: incompatible data format")
)

var formatKey = []byte("\x00format")

// StoreOptions configures the Pebble store. The zero value means defaults.
type StoreOptions struct {
	// Dir is the data directory. Default: "./data".
	Dir string `yaml:"data_dir"`
	// BlockCacheMB is Pebble's block cache size in MiB. Default: 64.
	BlockCacheMB int `yaml:"block_cache_mb"`
	// Logger receives Pebble's messages (info at debug level). Default:
	// slog.Default().
	Logger *slog.Logger `yaml:"-"`
}

// Validate reports every problem at once.
func (o *StoreOptions) Validate() error {
	var errs []error
	if o.BlockCacheMB < 0 {
		errs = append(errs, errors.New("block_cache_mb: must not be negative"))
	}
	return errors.Join(errs...)
}

// DirOrDefault returns Dir or its default.
func (o *StoreOptions) DirOrDefault() string {
	if o.Dir == "" {
		return "./data"
	}
	return o.Dir
}

// Store is the cache's Pebble database. Its methods may run concurrently
// with Close: a call that starts after Close returns ErrClosed, and Close
// waits for the calls already running (see acquire).
type Store struct {
	db     *pebble.DB
	closed atomic.Bool
	// mu is read-held by every call that touches db (acquire) and
	// write-held by Close, so Pebble is never used once closed (it panics).
	mu sync.RWMutex
}

// acquire read-locks the database for one call and reports ErrClosed once
// the store is closed; release with s.mu.RUnlock. The caller must not
// acquire again before releasing (a waiting Close would deadlock it).
func (s *Store) acquire() error {
	s.mu.RLock()
	if s.closed.Load() {
		s.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

// OpenStore opens (creating if needed) the store in o.Dir.
func OpenStore(o StoreOptions) (*Store, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	dir := filepath.Join(o.DirOrDefault(), "cache")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("semcache: %w", err)
	}
	mb := o.BlockCacheMB
	if mb == 0 {
		mb = 64
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.Default()
	}
	cache := pebble.NewCache(int64(mb) << 20)
	defer cache.Unref()
	opts := &pebble.Options{
		Cache:              cache,
		Logger:             pebbleLogger{logger.With("component", "pebble")},
		FormatMajorVersion: pebble.FormatNewest,
	}
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("semcache: open %s: %w", dir, err)
	}
	s := &Store{db: db}
	if err := s.checkFormat(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) checkFormat() error {
	v, closer, err := s.db.Get(formatKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return s.db.Set(formatKey, []byte(strconv.Itoa(FormatVersion)), pebble.Sync)
	}
	if err != nil {
		return fmt.Errorf("semcache: read format: %w", err)
	}
	defer closer.Close()
	if string(v) != strconv.Itoa(FormatVersion) {
		return fmt.Errorf("%w: data directory has format %q, this build reads %d", ErrFormat, v, FormatVersion)
	}
	return nil
}

// Ping reports whether the store is open and readable.
func (s *Store) Ping() error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	_, closer, err := s.db.Get(formatKey)
	if err != nil {
		return fmt.Errorf("semcache: ping: %w", err)
	}
	return closer.Close()
}

// Close flushes and closes the database, after the calls already running
// finish; later calls return ErrClosed. It is safe to call twice.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	return s.db.Close()
}

// pebbleLogger routes Pebble's chatter to slog: info at debug level so a
// default log stays quiet.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) { p.l.Debug(fmt.Sprintf(format, args...)) }
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...))
}
func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...))
	os.Exit(1)
}
