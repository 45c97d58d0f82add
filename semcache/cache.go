package semcache

import (
	"bytes"
	"cmp"
	"errors"
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
// lock that covers memory only: no store I/O happens under mu. A change is
// decided and applied to memory under mu, which also hands it a turn (see
// turn); its batch is then committed outside mu, in turn order, so the
// store applies changes in the order memory did and agrees with it once
// the writes in flight land (a Put racing a Delete or an eviction of the
// same ID ends the same way in both). Meanwhile a lookup may see an entry
// in memory whose records are not committed yet, which is a miss.
//
// The background goroutines (the sweeper, and the loader, builder and
// snapshotter of rebuild.go) are stopped by Close.
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
	// lastTurn is the done channel of the latest turn handed out (nil:
	// none yet).
	lastTurn chan struct{}
	// hitsDirty holds the entries hit since their metadata was last
	// written; writeHits writes them in one batch (see Hit).
	hitsDirty map[ID]struct{}

	// commitHook, if set (tests only, before any use), runs before each
	// store write, in turn order and outside mu.
	commitHook func()

	// words is the typo-robust channel: entries by their prompt's words
	// (one word substituted, inserted or deleted still finds them).
	words *wordkeys.Index

	stats cacheCounters

	// rb loads and builds the indexes and writes their snapshots.
	rb rebuild

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type cacheCounters struct {
	exactHits, semanticHits, misses, stores, evictions, expirations, guardRejects atomic.Int64
	verifyRejects, wordCandidates, skipped                                        atomic.Int64
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
	// SnapshotDir holds partition index snapshots, written every
	// SnapshotInterval and on Close and loaded at start-up, so large
	// graphs need not be rebuilt; "" disables them. The store stays the
	// source of truth: entries written after a snapshot (say, before a
	// crash) are added at load, deleted ones removed, and a bad snapshot
	// only means a rebuild.
	SnapshotDir string
	// SnapshotInterval is how often the snapshots of partition indexes
	// that changed by SnapshotMinChanges are written while the cache
	// runs; negative: only on Close. At least MinSnapshotInterval (1s).
	// Default: DefaultSnapshotInterval (5m).
	SnapshotInterval time.Duration
	// SnapshotMinChanges is how many changes (vectors added or deleted,
	// graph insertions) a partition index needs since its last snapshot
	// to be written again periodically (Close writes every change).
	// Default: DefaultSnapshotMinChanges (1000).
	SnapshotMinChanges int
	// BackgroundLoad: with more entries than this, Open returns once their
	// metadata is loaded (exact hits are served at once) and a goroutine
	// loads the semantic tier (see rebuild.go; Stats.SemanticLoading and
	// IndexesReady tell when it is done). 0: Open loads everything. Either
	// way graphs are built in the background (see Builder).
	BackgroundLoad int

	hooks testHooks // tests only
}

// Open loads the cache's state from store: metadata of every entry and,
// within Open or in the background (see CacheConfig.BackgroundLoad), the
// word keys and vectors of the configured embedder, loading the partition
// indexes from their snapshots or rebuilding them. Graphs are built in the
// background: Open does not wait for them.
func Open(store *Store, o Options, cc CacheConfig) (*Cache, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if err := cc.validate(); err != nil {
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
	if err := openAnswers(store, c.log); err != nil {
		return nil, err
	}
	dropped, err := c.load()
	if err != nil {
		return nil, err
	}
	if err := c.startIndexes(dropped, &cc); err != nil {
		return nil, err
	}
	c.log.Info("cache loaded", "entries", len(c.metas), "partitions", c.Stats().Partitions,
		"embedder", c.embedder, "semantic_loading", c.semanticLoading(), "took", time.Since(t0).String())
	go c.sweeper()
	return c, nil
}

// load reads the metadata records (the word keys and vectors are the
// loader's, see rebuild.go; answer bodies are never read). It does not
// depend on every record being readable: a metadata record that does not
// decode is skipped, counted in Stats.SkippedRecords, logged and deleted
// with the entry's other records (its vector is an orphan to the loader).
// It returns the entries so dropped. Only an error of the store itself
// fails it.
func (c *Cache) load() (map[ID]bool, error) {
	rep := repairs{b: c.store.newBatch(), dropped: map[ID]bool{}}
	err := c.store.scanMetas(func(id ID, m *meta) {
		c.metas[id] = m
		c.bytes += int64(m.size)
	})
	if err = rep.note(err, func(key []byte) {
		rep.b.Delete(key, nil)
		if id, ok := recordID(key); ok {
			rep.dropped[id] = true
			addDelete(rep.b, id, &meta{}) // its entry and word records; a vector is an orphan to the loader
		}
	}); err != nil {
		rep.b.Close()
		return nil, fmt.Errorf("semcache: load metadata: %w", err)
	}
	if rep.n == 0 {
		rep.b.Close()
		return rep.dropped, nil
	}
	c.stats.skipped.Add(rep.n)
	c.log.Warn("cache: skipped unreadable metadata records at start-up and removed them", "records", rep.n)
	if err := c.store.commit(rep.b, false); err != nil {
		c.log.Warn("cache: removing unreadable records failed; they are skipped again next time", "error", err)
	}
	return rep.dropped, nil
}

// repairs collects what load skips: the deletes that remove bad records
// (committed once, at the end) and how many records were skipped.
type repairs struct {
	b       *pebble.Batch
	n       int64
	dropped map[ID]bool // entries whose metadata was unreadable
}

// note handles a scan's error: unreadable records are counted and passed
// to drop; any other error is returned.
func (r *repairs) note(err error, drop func(key []byte)) error {
	var bad *badRecordsError
	if !errors.As(err, &bad) {
		return err
	}
	for _, k := range bad.keys {
		r.n++
		drop(k)
	}
	return nil
}

// indexFor returns the partition's index, creating it. Callers hold c.mu
// for writing. While the partition indexes load, a partition whose index
// is not installed yet gets an exact index that the loaded one absorbs
// (see install).
func (c *Cache) indexFor(part ID) Index {
	idx, ok := c.parts[part]
	if !ok {
		if ld := c.rb.loading; ld != nil && !ld.done[part] {
			f := NewFlatIndex(c.dim)
			ld.pending[part] = f
			idx = f
		} else {
			idx = c.newIndex(c.dim)
		}
		c.parts[part] = idx
	}
	return idx
}

// Options returns the options the cache was opened with.
func (c *Cache) Options() *Options { return &c.opts }

// EmbedderID returns the ID of the embedder whose vectors are indexed.
func (c *Cache) EmbedderID() string { return c.embedder }

// Close stops the background goroutines (a loader in the middle of a
// store scan runs it out without using it, a snapshot being written is
// finished) and writes the snapshots of the indexes that changed. It does
// not close the store.
func (c *Cache) Close() error {
	var err error
	c.once.Do(func() {
		close(c.stop)
		<-c.done
		c.rb.wg.Wait()
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

// turn is a change's place in the order of store writes: takeTurnLocked
// hands one out under c.mu together with the memory change it belongs to;
// write waits for the previous turn to end, writes and ends this one.
type turn struct{ prev, done chan struct{} }

func (c *Cache) takeTurnLocked() turn {
	t := turn{prev: c.lastTurn, done: make(chan struct{})}
	c.lastTurn = t.done
	return t
}

// wait blocks until every earlier turn has ended.
func (t turn) wait() {
	if t.prev != nil {
		<-t.prev
	}
}

// write runs apply, the store write of t's change, in t's turn. It must
// not be called with c.mu held.
func (c *Cache) write(t turn, apply func() error) error {
	defer close(t.done)
	t.wait()
	if c.commitHook != nil {
		c.commitHook()
	}
	return apply()
}

// GetExact returns the entry with exactly this key if it is live and no
// older than maxAge (0: any age). It does not count a hit; call Hit when
// the entry is served. An entry whose answer record is missing or
// unreadable is dropped (see dropUnreadable) and not found.
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
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrCorrupt) {
		c.dropUnreadable(id, m)
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// dropUnreadable removes the entry m when its answer record is missing or
// unreadable: damage from outside, since start-up reads no answer records
// (an entry's records are written and deleted together). The record of an
// entry just put may not be committed yet, so it first lets the writes
// handed out before it land, then reads the record again.
func (c *Cache) dropUnreadable(id ID, m *meta) {
	c.mu.Lock()
	if c.metas[id] != m {
		c.mu.Unlock()
		return // replaced or removed meanwhile
	}
	barrier := c.takeTurnLocked()
	c.mu.Unlock()
	barrier.wait()
	close(barrier.done)
	if _, err := c.store.getEntry(id); !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrCorrupt) {
		return // readable after all, or the store failed
	}
	c.mu.Lock()
	if c.metas[id] != m {
		c.mu.Unlock()
		return
	}
	c.forgetLocked(id, m)
	t := c.takeTurnLocked()
	c.mu.Unlock()
	c.stats.skipped.Add(1)
	c.log.Warn("cache: dropped an entry whose answer record is missing or unreadable", "key", id.String())
	if err := c.write(t, func() error { return c.store.deleteEntry(id, m) }); err != nil {
		c.log.Warn("cache: deleting an entry failed", "key", id.String(), "error", err)
	}
}

// Hit records that e was served, exactly or semantically. The entry's hit
// count and last hit (which order evictions) change in memory at once and
// reach the store with the next writeHits, within hitWriteInterval: a hit
// does no storage I/O.
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
	if !ok {
		c.mu.Unlock()
		return
	}
	m.hits++
	m.lastHit = now
	if c.hitsDirty == nil {
		c.hitsDirty = make(map[ID]struct{})
	}
	c.hitsDirty[e.ID] = struct{}{}
	c.mu.Unlock()
}

// hitWriteInterval is how often the hits counted since the last write
// are written to the store (see Hit).
const hitWriteInterval = time.Second

// writeHits writes the metadata of the entries hit since the last such write
// (their hit counts and last hits, which order evictions) in one batch,
// in its turn among the store writes. Hit only marks the entry, so a hit
// does no storage I/O; a crash loses at most the last interval's counts.
func (c *Cache) writeHits() {
	c.mu.Lock()
	if len(c.hitsDirty) == 0 {
		c.mu.Unlock()
		return
	}
	recs := make([]metaRecord, 0, len(c.hitsDirty))
	for id := range c.hitsDirty {
		if m, ok := c.metas[id]; ok { // a removed entry's metadata is gone
			recs = append(recs, metaRecord{id, *m})
		}
	}
	clear(c.hitsDirty)
	t := c.takeTurnLocked()
	c.mu.Unlock()
	if err := c.write(t, func() error { return c.store.putMetas(recs) }); err != nil {
		c.log.Warn("cache: recording hits failed", "entries", len(recs), "error", err)
	}
}

// Miss counts a lookup that found nothing.
func (c *Cache) Miss() { c.stats.misses.Add(1) }

// Put stores an entry (replacing one with the same ID) with its vector
// (nil: exact-only). It sets Created, and Expires from the model's TTL when
// zero, and evicts the least recently hit entries when over the caps. The
// entry, the removal of the one it replaces and the evictions are one
// batch, encoded before and committed after the lock.
func (c *Cache) Put(e *Entry, vec []float32) error {
	now := c.now()
	if e.Created.IsZero() {
		e.Created = now
	}
	if e.Expires.IsZero() {
		e.Expires = e.Created.Add(c.opts.TTLFor(e.Model))
	}
	m := &meta{partition: e.Partition, created: e.Created.UnixMilli(), expires: unixMilli(e.Expires),
		model: e.Model, namespace: e.Namespace, tenant: e.Tenant, words: e.Semantic && e.Prompt != ""}
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
	recs, err := encodeRecords(e, m, vec) // sets m.size
	if err != nil {
		return err
	}
	c.mu.Lock()
	old := c.metas[e.ID]
	if old != nil {
		c.forgetLocked(e.ID, old)
	}
	c.metas[e.ID] = m
	c.bytes += int64(m.size)
	var idx Index
	if vec != nil {
		idx = c.indexFor(e.Partition) // the vector goes in, in the turn (indexInTurn)
	}
	if m.words {
		c.words.Add(e.ID, e.Partition, words)
	}
	victims := c.evictLocked()
	t := c.takeTurnLocked()
	c.mu.Unlock()
	c.stats.evictions.Add(int64(len(victims)))

	b := c.store.newBatch()
	if old != nil {
		addDelete(b, e.ID, old)
	}
	recs.addTo(b)
	for _, v := range victims {
		addDelete(b, v.id, v.m) // after the puts: a victim may be e itself
	}
	err = c.write(t, func() error {
		if idx != nil {
			c.indexInTurn(e.ID, m, idx, vec)
		}
		return c.store.commit(b, false)
	})
	if err != nil {
		c.mu.Lock()
		if c.metas[e.ID] == m { // not replaced or removed by a later change
			c.forgetLocked(e.ID, m)
		}
		c.mu.Unlock()
		return fmt.Errorf("semcache: write entry: %w", err)
	}
	if !c.opts.NoSync {
		// Outside the turn: concurrent fills share one sync.
		if err := c.store.syncWAL(); err != nil {
			return fmt.Errorf("semcache: write entry: %w", err)
		}
	}
	c.stats.stores.Add(1)
	return nil
}

// forgetLocked removes an entry from memory; the caller deletes its
// records (in the turn it takes under the same lock).
func (c *Cache) forgetLocked(id ID, m *meta) {
	if idx, ok := c.parts[m.partition]; ok {
		idx.Delete(id)
		if s, ok := idx.(Sizer); ok && s.Len() == 0 {
			delete(c.parts, m.partition)
		}
	}
	delete(c.metas, id)
	c.words.Delete(id)
	c.bytes -= int64(m.size)
}

// indexInTurn adds a put entry's vector to its partition's index, in the
// put's turn and outside c.mu: a graph insert takes milliseconds in a
// large partition, and the index's own locks let lookups (and the other
// partitions' writes) proceed meanwhile, where c.mu would hold them all.
// The turns keep the adds of one ID in the order of its puts. What
// changed under c.mu since the put is reconciled: a vector whose entry was
// removed (or replaced by one without a vector) is deleted again, and one
// that went into an index since replaced (a loaded one installed, an
// emptied one dropped) is added to the current one. An entry replaced by
// a later put with a vector is left to that put's turn.
func (c *Cache) indexInTurn(id ID, m *meta, idx Index, vec []float32) {
	idx.Add(id, vec)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch cur := c.metas[id]; {
	case cur == m:
		if c.parts[m.partition] != idx {
			c.indexFor(m.partition).Add(id, vec)
		}
	case cur == nil || cur.embedder == "":
		idx.Delete(id)
	}
}

// victim is an entry chosen for removal.
type victim struct {
	id ID
	m  *meta
}

// evictsAfter reports whether a is evicted after b: hit or created more
// recently, ties broken by ID.
func evictsAfter(a, b victim) bool {
	if ra, rb := a.m.recency(), b.m.recency(); ra != rb {
		return ra > rb
	}
	return bytes.Compare(a.id[:], b.id[:]) > 0
}

// evictLocked forgets the least recently hit entries until the cache is
// at 95% of its caps, and returns them for the caller to delete in one
// batch. It picks them exactly (no sampling) without sorting every entry:
// one pass keeps a max-heap of the oldest entries seen, dropping its newest
// while the rest still cover the excess in entries and bytes, so it costs
// O(n log k) for k victims and allocates only the heap.
func (c *Cache) evictLocked() []victim {
	maxN, maxB := c.opts.maxEntries(), c.opts.maxBytes()
	if len(c.metas) <= maxN && c.bytes <= maxB {
		return nil
	}
	needN := len(c.metas) - (maxN - maxN/20)
	needB := c.bytes - (maxB - maxB/20)
	var h []victim // max-heap by evictsAfter: h[0] is the newest chosen
	var sumB int64
	covers := func(n int, b int64) bool { return n >= needN && b >= needB }
	for id, m := range c.metas {
		v := victim{id, m}
		if len(h) > 0 && covers(len(h), sumB) && !evictsAfter(h[0], v) {
			continue // newer than every entry needed
		}
		h = append(h, v)
		sumB += int64(m.size)
		for i := len(h) - 1; i > 0; { // sift up
			p := (i - 1) / 2
			if !evictsAfter(h[i], h[p]) {
				break
			}
			h[i], h[p] = h[p], h[i]
			i = p
		}
		for len(h) > 1 && covers(len(h)-1, sumB-int64(h[0].m.size)) { // pop the newest
			sumB -= int64(h[0].m.size)
			last := len(h) - 1
			h[0] = h[last]
			h = h[:last]
			for i := 0; ; { // sift down
				l, big := 2*i+1, i
				if l < len(h) && evictsAfter(h[l], h[big]) {
					big = l
				}
				if r := l + 1; r < len(h) && evictsAfter(h[r], h[big]) {
					big = r
				}
				if big == i {
					break
				}
				h[i], h[big] = h[big], h[i]
				i = big
			}
		}
	}
	for _, v := range h {
		c.forgetLocked(v.id, v.m)
	}
	return h
}

// Delete removes the entry with this key.
func (c *Cache) Delete(id ID) error {
	c.mu.Lock()
	m, ok := c.metas[id]
	if !ok {
		c.mu.Unlock()
		return ErrNotFound
	}
	c.forgetLocked(id, m)
	t := c.takeTurnLocked()
	c.mu.Unlock()
	if err := c.write(t, func() error { return c.store.deleteEntry(id, m) }); err != nil {
		return fmt.Errorf("semcache: delete: %w", err)
	}
	return nil
}

// removeAllUnlock forgets the victims and deletes their records in one
// batch. The caller holds c.mu, which it releases before writing.
func (c *Cache) removeAllUnlock(victims []victim) error {
	for _, v := range victims {
		c.forgetLocked(v.id, v.m)
	}
	t := c.takeTurnLocked()
	c.mu.Unlock()
	b := c.store.newBatch()
	for _, v := range victims {
		addDelete(b, v.id, v.m)
	}
	return c.write(t, func() error { return c.store.commit(b, false) })
}

// Flush removes every entry, or with model and/or namespace set only the
// entries of that model alias and namespace. It returns how many went.
func (c *Cache) Flush(model, namespace string) (int, error) {
	return c.FlushWhere(Filter{Model: model, Namespace: namespace})
}

// Filter selects entries for List and Flush; its zero value selects all.
type Filter struct {
	// Partition, when not nil, selects that partition's entries.
	Partition *ID
	// Model and Namespace, when not "", select entries of that model
	// alias and namespace.
	Model, Namespace string
	// Tenant, when not nil, selects entries whose Entry.Tenant it accepts
	// ("" for entries stored before tenants were recorded).
	Tenant func(tenant string) bool
}

func (f *Filter) all() bool {
	return f.Partition == nil && f.Model == "" && f.Namespace == "" && f.Tenant == nil
}

func (f *Filter) match(m *meta) bool {
	return (f.Partition == nil || m.partition == *f.Partition) &&
		(f.Model == "" || m.model == f.Model) &&
		(f.Namespace == "" || m.namespace == f.Namespace) &&
		(f.Tenant == nil || f.Tenant(m.tenant))
}

// FlushWhere removes the entries f selects (every entry for the zero
// Filter) and returns how many went.
func (c *Cache) FlushWhere(f Filter) (int, error) {
	c.mu.Lock()
	if f.all() {
		n := len(c.metas)
		c.metas = make(map[ID]*meta)
		c.parts = make(map[ID]Index)
		c.words = wordkeys.New(wordkeys.Options{})
		c.bytes = 0
		t := c.takeTurnLocked()
		c.mu.Unlock()
		if err := c.write(t, c.store.deleteAll); err != nil {
			return 0, fmt.Errorf("semcache: flush: %w", err)
		}
		return n, nil
	}
	var victims []victim
	for id, m := range c.metas {
		if f.match(m) {
			victims = append(victims, victim{id, m})
		}
	}
	if len(victims) == 0 {
		c.mu.Unlock()
		return 0, nil
	}
	if err := c.removeAllUnlock(victims); err != nil {
		return 0, fmt.Errorf("semcache: flush: %w", err)
	}
	return len(victims), nil
}

// sweeper deletes expired entries every SweepInterval and writes the
// hits counted every hitWriteInterval, until Close (which writes the last
// ones).
func (c *Cache) sweeper() {
	defer close(c.done)
	t := time.NewTicker(orDur(c.opts.SweepInterval, DefaultSweepInterval))
	defer t.Stop()
	h := time.NewTicker(hitWriteInterval)
	defer h.Stop()
	for {
		select {
		case <-c.stop:
			c.writeHits()
			return
		case <-t.C:
			c.Sweep()
		case <-h.C:
			c.writeHits()
		}
	}
}

// Sweep deletes expired entries now and returns how many.
func (c *Cache) Sweep() int {
	now := c.now().UnixMilli()
	c.mu.Lock()
	var victims []victim
	for id, m := range c.metas {
		if m.expired(now) {
			victims = append(victims, victim{id, m})
		}
	}
	if len(victims) == 0 {
		c.mu.Unlock()
		return 0
	}
	if err := c.removeAllUnlock(victims); err != nil {
		c.log.Warn("cache: deleting expired entries failed", "error", err)
	}
	c.stats.expirations.Add(int64(len(victims)))
	return len(victims)
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
	WordCandidates int64 `json:"word_candidates"`
	// SkippedRecords counts stored records found unreadable or
	// inconsistent (at start-up, or an entry's answer record when read);
	// they were removed.
	SkippedRecords int64   `json:"skipped_records"`
	SavedTokens    int64   `json:"saved_tokens"`
	SavedCostUSD   float64 `json:"saved_cost_usd"`
	HitRate        float64 `json:"hit_rate"`
	MaxEntries     int     `json:"max_entries"`
	MaxBytes       int64   `json:"max_bytes"`
	ThresholdUsed  float64 `json:"threshold"`

	// SemanticLoading: the word keys and vectors are still loading (see
	// CacheConfig.BackgroundLoad); semantic lookups find only part of the
	// entries meanwhile.
	SemanticLoading bool `json:"semantic_loading"`
	// IndexesBuilding counts the partition indexes whose graph is being
	// built; they answer semantic lookups by exact scan meanwhile.
	IndexesBuilding int `json:"indexes_building"`
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
	s.SkippedRecords = c.stats.skipped.Load()
	s.SemanticLoading = c.semanticLoading()
	s.IndexesBuilding = c.indexesBuilding()
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
	Tenant    string    `json:"tenant,omitempty"`
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
	return c.ListWhere(Filter{Partition: part, Model: model}, limit)
}

// ListWhere returns up to limit of the entries f selects, most recently
// created first.
func (c *Cache) ListWhere(f Filter, limit int) []EntryInfo {
	c.mu.RLock()
	var all []EntryInfo
	for id, m := range c.metas {
		if !f.match(m) {
			continue
		}
		info := EntryInfo{Key: id.String(), Partition: m.partition.String(), Model: m.model, Namespace: m.namespace,
			Tenant: m.tenant, Created: time.UnixMilli(m.created).UTC(), Hits: m.hits, Bytes: int(m.size), Semantic: m.embedder != ""}
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
