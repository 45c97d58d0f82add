package semcache

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/semgate/semgate/semcache/wordkeys"
)

// Cache is the semantic cache over a Store: an in-memory record of every
// entry's metadata, one vector index per partition, TTL sweeping and
// size-capped eviction of the least recently hit entries.
//
// Lookups take a read lock; puts, deletes and hit bookkeeping a short write
// lock. The background sweeper is stopped by Close.
type Cache struct {
	store    *Store
	opts     Options
	embedder string // ID of the embedder whose vectors are indexed
	dim      int
	log      *slog.Logger
	now      func() time.Time
	newIndex func(dim int) Index

	loadIndex func(r io.Reader, embedderID string, dim int) (Index, error)
	snapDir   string

	mu    sync.RWMutex
	metas map[ID]*meta
	parts map[ID]Index
	bytes int64

	// words is the typo-robust channel: entries by their prompt's words
	// (one word substituted, inserted or deleted still finds them).
	words *wordkeys.Index

	stats cacheCounters

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type cacheCounters struct {
	exactHits, semanticHits, misses, stores, evictions, expirations, guardRejects atomic.Int64
	verifyRejects, wordCandidates                                                 atomic.Int64
	savedTokens                                                                   atomic.Int64
	savedMicroUSD                                                                 atomic.Int64
}

// CacheConfig gives Open what it needs besides Options.
type CacheConfig struct {
	// EmbedderID and Dim identify the vectors indexed; vectors stored by
	// another embedder are never compared (those entries stay exact-only).
	EmbedderID string
	Dim        int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now; tests move the clock.
	Now func() time.Time
	// NewIndex builds a partition's index; defaults to NewFlatIndex.
	NewIndex func(dim int) Index
	// LoadIndex reads a partition index snapshot written by an index's
	// WriteSnapshot (see Snapshotter); nil disables snapshots.
	LoadIndex func(r io.Reader, embedderID string, dim int) (Index, error)
	// SnapshotDir holds partition index snapshots, written on Close and
	// loaded by Open so large graphs need not be rebuilt; "" disables them.
	// The store stays the source of truth: entries written after a
	// snapshot are added at load, deleted ones removed, and a bad snapshot
	// only means a rebuild.
	SnapshotDir string
}

// Open loads the cache's state from store: metadata of every entry and the
// vectors of the configured embedder, rebuilding the partition indexes.
func Open(store *Store, o Options, cc CacheConfig) (*Cache, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	c := &Cache{
		store: store, opts: o, embedder: cc.EmbedderID, dim: cc.Dim,
		log: cc.Logger, now: cc.Now, newIndex: cc.NewIndex, loadIndex: cc.LoadIndex, snapDir: cc.SnapshotDir,
		metas: make(map[ID]*meta), parts: make(map[ID]Index), words: wordkeys.New(wordkeys.Options{}),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.newIndex == nil {
		c.newIndex = func(dim int) Index { return NewFlatIndex(dim) }
	}
	t0 := time.Now()
	if err := c.load(); err != nil {
		return nil, err
	}
	c.log.Info("cache loaded", "entries", len(c.metas), "partitions", len(c.parts),
		"embedder", c.embedder, "took", time.Since(t0).String())
	go c.sweeper()
	return c, nil
}

func (c *Cache) load() error {
	err := c.store.scanMetas(func(id ID, m *meta) {
		c.metas[id] = m
		c.bytes += int64(m.size)
	})
	if err != nil {
		return fmt.Errorf("semcache: load metadata: %w", err)
	}
	var wb []string
	err = c.store.scanWords(func(id, part ID, prompt string) {
		if _, ok := c.metas[id]; ok {
			wb = wordkeys.Words(prompt, wb[:0])
			c.words.Add(id, part, wb)
		}
	})
	if err != nil {
		return fmt.Errorf("semcache: load words: %w", err)
	}
	if c.embedder == "" || c.dim <= 0 {
		return nil
	}
	loaded := c.loadSnapshots()
	seen := make(map[ID]map[ID]bool, len(loaded))
	for p := range loaded {
		seen[p] = map[ID]bool{}
	}
	has := func(idx Index, id ID) bool {
		h, ok := idx.(interface{ Has(ID) bool })
		return ok && h.Has(id)
	}
	err = c.store.scanVectors(c.embedder, c.dim, func(part, id ID, vec []float32) {
		if _, ok := c.metas[id]; !ok {
			return // orphan vector of a deleted entry
		}
		if ids, ok := seen[part]; ok {
			ids[id] = true
			if has(c.parts[part], id) {
				return // already in the loaded snapshot
			}
		}
		c.indexFor(part).Add(id, vec)
	})
	if err != nil {
		return fmt.Errorf("semcache: load vectors: %w", err)
	}
	c.reconcile(seen)
	return nil
}

// indexFor returns the partition's index, creating it. Callers hold c.mu
// for writing, or are single-threaded (load).
func (c *Cache) indexFor(part ID) Index {
	idx, ok := c.parts[part]
	if !ok {
		idx = c.newIndex(c.dim)
		c.parts[part] = idx
	}
	return idx
}

// Options returns the options the cache was opened with.
func (c *Cache) Options() *Options { return &c.opts }

// EmbedderID returns the ID of the embedder whose vectors are indexed.
func (c *Cache) EmbedderID() string { return c.embedder }

// Close stops the background sweeper and writes index snapshots. It does
// not close the store.
func (c *Cache) Close() error {
	var err error
	c.once.Do(func() {
		close(c.stop)
		<-c.done
		err = c.WriteSnapshots()
	})
	return err
}

// usable reports whether an entry may be served now and is no older than
// maxAge (0: any age).
func (c *Cache) usable(m *meta, now int64, maxAge time.Duration) bool {
	if m.expired(now) {
		return false
	}
	return maxAge <= 0 || now-m.created <= maxAge.Milliseconds()
}

// GetExact returns the entry with exactly this key if it is live and no
// older than maxAge (0: any age). It does not count a hit; call Hit when
// the entry is served.
func (c *Cache) GetExact(id ID, maxAge time.Duration) (*Entry, error) {
	now := c.now().UnixMilli()
	c.mu.RLock()
	m, ok := c.metas[id]
	live := ok && c.usable(m, now, maxAge)
	c.mu.RUnlock()
	if !live {
		return nil, ErrNotFound
	}
	e, err := c.store.getEntry(id)
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Hit records that e was served, exactly or semantically.
func (c *Cache) Hit(e *Entry, semantic bool) {
	if semantic {
		c.stats.semanticHits.Add(1)
	} else {
		c.stats.exactHits.Add(1)
	}
	c.stats.savedTokens.Add(int64(e.PromptTokens + e.CompletionTokens))
	c.stats.savedMicroUSD.Add(int64(e.CostUSD * 1e6))
	now := c.now().UnixMilli()
	c.mu.Lock()
	m, ok := c.metas[e.ID]
	var rec []byte
	if ok {
		m.hits++
		m.lastHit = now
		rec = m.encode()
	}
	c.mu.Unlock()
	if rec != nil {
		if err := c.store.db.Set(metaKey(e.ID), rec, pebble.NoSync); err != nil {
			c.log.Warn("cache: recording a hit failed", "error", err)
		}
	}
}

// Miss counts a lookup that found nothing.
func (c *Cache) Miss() { c.stats.misses.Add(1) }

// Put stores an entry (replacing one with the same ID) with its vector
// (nil: exact-only). It sets Created, and Expires from the model's TTL when
// zero, and evicts the least recently hit entries when over the caps.
func (c *Cache) Put(e *Entry, vec []float32) error {
	now := c.now()
	if e.Created.IsZero() {
		e.Created = now
	}
	if e.Expires.IsZero() {
		e.Expires = e.Created.Add(c.opts.TTLFor(e.Model))
	}
	m := &meta{partition: e.Partition, created: e.Created.UnixMilli(), expires: unixMilli(e.Expires),
		model: e.Model, namespace: e.Namespace, words: e.Semantic && e.Prompt != ""}
	var words []string
	if m.words {
		words = wordkeys.Words(e.Prompt, nil)
	}
	if vec != nil && len(vec) == c.dim && c.embedder != "" {
		m.embedder = c.embedder
		e.Embedder = c.embedder
	} else {
		vec = nil
		e.Embedder = ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.metas[e.ID]; ok {
		c.removeLocked(e.ID, old)
	}
	if err := c.store.putEntry(e, m, vec); err != nil {
		return err
	}
	c.metas[e.ID] = m
	c.bytes += int64(m.size)
	if vec != nil {
		c.indexFor(e.Partition).Add(e.ID, vec)
	}
	if m.words {
		c.words.Add(e.ID, e.Partition, words)
	}
	c.stats.stores.Add(1)
	c.evictLocked()
	return nil
}

// removeLocked forgets an entry in memory and deletes its records.
func (c *Cache) removeLocked(id ID, m *meta) {
	if idx, ok := c.parts[m.partition]; ok {
		idx.Delete(id)
		if s, ok := idx.(Sizer); ok && s.Len() == 0 {
			delete(c.parts, m.partition)
		}
	}
	delete(c.metas, id)
	c.words.Delete(id)
	c.bytes -= int64(m.size)
	if err := c.store.deleteEntry(id, m); err != nil {
		c.log.Warn("cache: deleting an entry failed", "key", id.String(), "error", err)
	}
}

// evictLocked removes the least recently hit entries until the cache is
// at 95% of its caps. It sorts all entries, so it evicts in batches.
func (c *Cache) evictLocked() {
	maxN, maxB := c.opts.maxEntries(), c.opts.maxBytes()
	if len(c.metas) <= maxN && c.bytes <= maxB {
		return
	}
	targetN, targetB := maxN-maxN/20, maxB-maxB/20
	type victim struct {
		id ID
		m  *meta
	}
	all := make([]victim, 0, len(c.metas))
	for id, m := range c.metas {
		all = append(all, victim{id, m})
	}
	slices.SortFunc(all, func(a, b victim) int {
		if r := cmp.Compare(a.m.recency(), b.m.recency()); r != 0 {
			return r
		}
		return slices.Compare(a.id[:], b.id[:])
	})
	for _, v := range all {
		if len(c.metas) <= targetN && c.bytes <= targetB {
			break
		}
		c.removeLocked(v.id, v.m)
		c.stats.evictions.Add(1)
	}
}

// Delete removes the entry with this key.
func (c *Cache) Delete(id ID) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.metas[id]
	if !ok {
		return ErrNotFound
	}
	c.removeLocked(id, m)
	return nil
}

// Flush removes every entry, or with model and/or namespace set only the
// entries of that model alias and namespace. It returns how many went.
func (c *Cache) Flush(model, namespace string) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if model == "" && namespace == "" {
		n := len(c.metas)
		if err := c.store.deleteAll(); err != nil {
			return 0, fmt.Errorf("semcache: flush: %w", err)
		}
		c.metas = make(map[ID]*meta)
		c.parts = make(map[ID]Index)
		c.words = wordkeys.New(wordkeys.Options{})
		c.bytes = 0
		return n, nil
	}
	var ids []ID
	for id, m := range c.metas {
		if (model == "" || m.model == model) && (namespace == "" || m.namespace == namespace) {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		c.removeLocked(id, c.metas[id])
	}
	return len(ids), nil
}

// sweeper deletes expired entries every SweepInterval until Close.
func (c *Cache) sweeper() {
	defer close(c.done)
	t := time.NewTicker(orDur(c.opts.SweepInterval, DefaultSweepInterval))
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.Sweep()
		}
	}
}

// Sweep deletes expired entries now and returns how many.
func (c *Cache) Sweep() int {
	now := c.now().UnixMilli()
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for id, m := range c.metas {
		if m.expired(now) {
			c.removeLocked(id, m)
			n++
		}
	}
	c.stats.expirations.Add(int64(n))
	return n
}

// Stats is a snapshot of the cache's state and counters since start.
type Stats struct {
	Entries       int    `json:"entries"`
	Bytes         int64  `json:"bytes"`
	Partitions    int    `json:"partitions"`
	Embedder      string `json:"embedder"`
	ExactHits     int64  `json:"exact_hits"`
	SemanticHits  int64  `json:"semantic_hits"`
	Misses        int64  `json:"misses"`
	Stores        int64  `json:"stores"`
	Evictions     int64  `json:"evictions"`
	Expirations   int64  `json:"expirations"`
	GuardRejects  int64  `json:"guard_rejections"`
	VerifyRejects int64  `json:"verify_rejections"`
	// WordCandidates counts candidates only the word channel proposed.
	WordCandidates int64   `json:"word_candidates"`
	SavedTokens    int64   `json:"saved_tokens"`
	SavedCostUSD   float64 `json:"saved_cost_usd"`
	HitRate        float64 `json:"hit_rate"`
	MaxEntries     int     `json:"max_entries"`
	MaxBytes       int64   `json:"max_bytes"`
	ThresholdUsed  float64 `json:"threshold"`
}

// Stats returns a snapshot.
func (c *Cache) Stats() Stats {
	c.mu.RLock()
	s := Stats{Entries: len(c.metas), Bytes: c.bytes, Partitions: len(c.parts)}
	c.mu.RUnlock()
	s.Embedder = c.embedder
	s.ExactHits = c.stats.exactHits.Load()
	s.SemanticHits = c.stats.semanticHits.Load()
	s.Misses = c.stats.misses.Load()
	s.Stores = c.stats.stores.Load()
	s.Evictions = c.stats.evictions.Load()
	s.Expirations = c.stats.expirations.Load()
	s.GuardRejects = c.stats.guardRejects.Load()
	s.VerifyRejects = c.stats.verifyRejects.Load()
	s.WordCandidates = c.stats.wordCandidates.Load()
	s.SavedTokens = c.stats.savedTokens.Load()
	s.SavedCostUSD = float64(c.stats.savedMicroUSD.Load()) / 1e6
	if total := s.ExactHits + s.SemanticHits + s.Misses; total > 0 {
		s.HitRate = float64(s.ExactHits+s.SemanticHits) / float64(total)
	}
	s.MaxEntries, s.MaxBytes = c.opts.maxEntries(), c.opts.maxBytes()
	s.ThresholdUsed = c.opts.ThresholdFor("")
	return s
}

// EntryInfo describes an entry for listings.
type EntryInfo struct {
	Key       string    `json:"key"`
	Partition string    `json:"partition"`
	Model     string    `json:"model"`
	Namespace string    `json:"namespace,omitempty"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires,omitzero"`
	Hits      int64     `json:"hits"`
	LastHit   time.Time `json:"last_hit,omitzero"`
	Bytes     int       `json:"bytes"`
	Semantic  bool      `json:"semantic"`
}

// List returns up to limit entries, most recently created first, filtered
// by partition (nil: all) and model ("" : all).
func (c *Cache) List(part *ID, model string, limit int) []EntryInfo {
	c.mu.RLock()
	var all []EntryInfo
	for id, m := range c.metas {
		if (part != nil && m.partition != *part) || (model != "" && m.model != model) {
			continue
		}
		info := EntryInfo{Key: id.String(), Partition: m.partition.String(), Model: m.model, Namespace: m.namespace,
			Created: time.UnixMilli(m.created).UTC(), Hits: m.hits, Bytes: int(m.size), Semantic: m.embedder != ""}
		if m.expires != 0 {
			info.Expires = time.UnixMilli(m.expires).UTC()
		}
		if m.lastHit != 0 {
			info.LastHit = time.UnixMilli(m.lastHit).UTC()
		}
		all = append(all, info)
	}
	c.mu.RUnlock()
	slices.SortFunc(all, func(a, b EntryInfo) int {
		if r := b.Created.Compare(a.Created); r != 0 {
			return r
		}
		return cmp.Compare(a.Key, b.Key)
	})
	if len(all) > limit {
		all = all[:limit]
	}
	return slices.Clip(all)
}
