package semcache

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/semgate/semgate/semcache/wordkeys"
)

// Start-up and the background work on the semantic tier.
//
// Open loads the entries' metadata itself: from then on exact hits are
// served. The semantic tier (the word keys and the partition vector
// indexes, from their snapshots and the vectors in the store) is loaded
// within Open for caches of up to CacheConfig.BackgroundLoad entries, and
// by a goroutine for larger ones, so that a large cache serves at once
// (its metadata loads in about a second per million entries; the rest
// takes several more). Until a partition's index is loaded, writes to it go
// to a small exact index that the loaded one absorbs, and semantic lookups
// find only what is loaded so far: a miss, never a wrong hit.
//
// An index that is a Builder is filled with AddUnbuilt (a copy per vector)
// and built by the builder goroutine a few insertions at a time, smallest
// partition first; until its graph is complete it answers by an exact scan
// of its vectors (for 1M vectors of 512 dimensions, reading 2 GB a
// lookup). Stats.IndexesBuilding and IndexesReady tell when every graph is
// ready. A partition whose graph was built is snapshotted soon after, so a
// crash does not cost the build twice.
//
// Every change the loader makes to memory is checked under the cache lock
// against what writes did meanwhile: a loaded index absorbs the vectors
// written since Open and then drops the IDs whose entry is gone (or no
// longer has a vector in that partition); word keys are added only for
// entries no write has touched since Open; records found orphaned or
// unreadable are deleted in a turn of their own (see turn), and only if no
// write since Open has rewritten them.

// Work sizes of the background goroutines: each step holds a lock for
// about a millisecond or less.
const (
	buildStep        = 2    // graph insertions per Build call
	reconcileChunk   = 4096 // IDs checked per cache lock
	reconcileDeletes = 64   // and at most so many deleted (a delete may repair links)
	wordsChunk       = 256  // word-key records added per cache lock
)

// rebuild is the Cache's state for loading and building its indexes and
// writing their snapshots.
type rebuild struct {
	// loading is set while the partition indexes load (guarded by
	// Cache.mu).
	loading *loadState
	// loaded is closed when the loader is done (or stopped); loadedOK is
	// then set if it loaded everything.
	loaded   chan struct{}
	loadedOK atomic.Bool
	// wake (capacity 1) tells the builder there may be indexes to build;
	// built (capacity 1) tells the snapshotter a graph was completed.
	wake, built chan struct{}
	// wg counts the loader, builder and snapshotter goroutines.
	wg sync.WaitGroup

	snapMu sync.Mutex
	marks  map[ID]snapMark // last snapshot per partition; guarded by snapMu

	hooks testHooks
}

// testHooks let tests stop the background work at chosen points
// (CacheConfig.hooks; all nil otherwise).
type testHooks struct {
	// snapTick replaces the snapshot interval's ticker.
	snapTick <-chan time.Time
	// snapshot runs before a partition's snapshot is written (no cache
	// lock held), build before each Build step, install before a loaded
	// partition index is installed.
	snapshot, build, install func(part ID)
	// words runs before a batch of loaded word keys is added.
	words func()
}

// loadState is what writes need to know while the partition indexes load.
type loadState struct {
	// pending holds the exact indexes writes made for partitions not
	// installed yet; install moves their vectors into the loaded index.
	pending map[ID]*FlatIndex
	// done marks the partitions installed.
	done map[ID]bool
}

// loadRepairs collects what the loader found wrong in the store.
type loadRepairs struct {
	dropped     map[ID]bool // entries whose metadata was unreadable (counted already)
	orphanVecs  []vecRef    // vectors of no entry, or of another partition or embedder
	orphanWords []ID        // word keys of no entry, or of another partition
	badVecs     [][]byte    // unreadable vector records
	badWords    [][]byte    // unreadable word-key records
}

type vecRef struct{ part, id ID }

// errStopped: Close stopped the loader.
var errStopped = errors.New("semcache: stopped")

// stopping reports whether Close has begun.
func (c *Cache) stopping() bool {
	select {
	case <-c.stop:
		return true
	default:
		return false
	}
}

// startIndexes loads the semantic tier, within Open or by a goroutine
// (see the comment at the top of this file), and starts the builder and
// the snapshotter. dropped holds the entries whose unreadable metadata
// load removed. It fails only if a synchronous load meets a store error.
func (c *Cache) startIndexes(dropped map[ID]bool, cc *CacheConfig) error {
	c.rb.hooks = cc.hooks
	c.rb.loaded = make(chan struct{})
	c.rb.wake = make(chan struct{}, 1)
	c.rb.built = make(chan struct{}, 1)
	c.rb.marks = map[ID]snapMark{}
	c.rb.loading = &loadState{pending: map[ID]*FlatIndex{}, done: map[ID]bool{}}
	if cc.BackgroundLoad > 0 && len(c.metas) > cc.BackgroundLoad {
		open := maps.Clone(c.metas) // the metadata as loaded: the loader's view of the store
		c.rb.wg.Add(1)
		go func() {
			defer c.rb.wg.Done()
			t0 := time.Now()
			err := c.loadIndexes(open, dropped)
			switch {
			case errors.Is(err, errStopped):
			case err != nil:
				c.log.Warn("cache: loading the semantic tier failed; semantic lookups find only later entries", "error", err)
			default:
				c.log.Info("cache: semantic tier loaded", "partitions", c.Stats().Partitions, "took", time.Since(t0).String())
			}
			c.endLoad(err == nil)
		}()
	} else {
		err := c.loadIndexes(c.metas, dropped) // nothing runs concurrently yet
		c.endLoad(err == nil)
		if err != nil {
			return err
		}
	}
	c.rb.wg.Add(1)
	go c.builder()
	every := cc.SnapshotInterval
	if every == 0 {
		every = DefaultSnapshotInterval
	}
	if c.snapDir != "" && c.embedder != "" && every > 0 {
		minChanges := cc.SnapshotMinChanges
		if minChanges == 0 {
			minChanges = DefaultSnapshotMinChanges
		}
		c.rb.wg.Add(1)
		go c.snapshotter(every, uint64(minChanges))
	}
	return nil
}

// endLoad marks the loader done.
func (c *Cache) endLoad(ok bool) {
	c.mu.Lock()
	c.endPartitionLoadLocked()
	c.mu.Unlock()
	c.rb.loadedOK.Store(ok)
	close(c.rb.loaded)
	c.wakeBuilder()
}

// loadIndexes loads the vectors (with the snapshots) and the word keys,
// then repairs what it found wrong. open is the entries' metadata as Open
// loaded it (in the background, a copy: c.metas moves on).
func (c *Cache) loadIndexes(open map[ID]*meta, dropped map[ID]bool) error {
	rep := &loadRepairs{dropped: dropped}
	if c.embedder != "" && c.dim > 0 {
		if err := c.loadVectors(open, rep); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.endPartitionLoadLocked()
	c.mu.Unlock()
	c.wakeBuilder()
	if err := c.loadWords(open, rep); err != nil {
		return err
	}
	return c.repairLoaded(open, rep)
}

// addUnbuilt adds a vector to an index being loaded: stored only, if the
// index builds later.
func addUnbuilt(idx Index, id ID, vec []float32) {
	if b, ok := idx.(Builder); ok {
		b.AddUnbuilt(id, vec)
		return
	}
	idx.Add(id, vec)
}

// loadVectors builds each partition's index, from its snapshot if it has
// a usable one, with the vectors the store holds for it, and installs it.
// The store scan visits the partitions one after the other.
func (c *Cache) loadVectors(open map[ID]*meta, rep *loadRepairs) error {
	files := c.snapshotFiles()
	sizes := map[ID]int{} // vectors per partition, to size the indexes
	for _, m := range open {
		if m.embedder == c.embedder {
			sizes[m.partition]++
		}
	}
	var (
		cur  ID
		idx  Index
		have bool
	)
	err := c.store.scanVectors(c.embedder, c.dim, func(part, id ID, vec []float32) {
		if c.stopping() {
			return // let the scan run out
		}
		if !have || part != cur {
			if have {
				c.install(cur, idx)
			}
			cur, have, idx = part, true, nil
			if path, ok := files[part]; ok {
				idx = c.loadSnapshot(part, path)
			}
			if idx == nil {
				idx = c.newIndex(c.dim)
			}
			if r, ok := idx.(Reserver); ok {
				r.Reserve(sizes[part])
			}
		}
		if m := open[id]; m == nil || m.partition != part || m.embedder != c.embedder {
			rep.orphanVecs = append(rep.orphanVecs, vecRef{part, id})
			return
		}
		addUnbuilt(idx, id, vec)
	})
	if c.stopping() {
		return errStopped
	}
	var bad *badRecordsError
	if errors.As(err, &bad) {
		rep.badVecs, err = bad.keys, nil
	}
	if err != nil {
		return fmt.Errorf("semcache: load vectors: %w", err)
	}
	if have {
		c.install(cur, idx)
	}
	return nil
}

// install makes idx the partition's index: it absorbs the vectors written
// to the partition since Open, then drops the IDs no longer the
// partition's (reconcile).
func (c *Cache) install(part ID, idx Index) {
	if h := c.rb.hooks.install; h != nil {
		h(part)
	}
	c.mu.Lock()
	ld := c.rb.loading
	if f := ld.pending[part]; f != nil {
		if c.parts[part] == Index(f) {
			f.each(func(id ID, vec []float32) { addUnbuilt(idx, id, vec) })
		}
		delete(ld.pending, part)
	}
	c.parts[part] = idx
	ld.done[part] = true
	c.mu.Unlock()
	c.reconcile(part, idx)
	c.wakeBuilder()
}

// reconcile makes a loaded partition index agree with the entries: an ID
// whose entry is gone, or has no vector of this embedder in this
// partition, is deleted (a snapshot is older than the store, and writes
// went on while it loaded). It checks a chunk of IDs per cache lock.
func (c *Cache) reconcile(part ID, idx Index) {
	en, ok := idx.(Enumerator)
	if !ok {
		return
	}
	ids := en.IDs()
	for len(ids) > 0 {
		c.mu.Lock()
		if c.parts[part] != idx {
			c.mu.Unlock()
			return // flushed meanwhile
		}
		checked, deleted := 0, 0
		for checked < len(ids) && checked < reconcileChunk && deleted < reconcileDeletes {
			id := ids[checked]
			checked++
			if m := c.metas[id]; m == nil || m.partition != part || m.embedder != c.embedder {
				idx.Delete(id)
				deleted++
			}
		}
		if s, ok := idx.(Sizer); ok && s.Len() == 0 {
			delete(c.parts, part)
		}
		c.mu.Unlock()
		ids = ids[checked:]
	}
}

// endPartitionLoadLocked ends the partition load: the exact indexes writes
// made for partitions the store had no vectors for are replaced by
// regular ones. The caller holds c.mu.
func (c *Cache) endPartitionLoadLocked() {
	ld := c.rb.loading
	if ld == nil {
		return
	}
	for part, f := range ld.pending {
		if c.parts[part] == Index(f) {
			idx := c.newIndex(c.dim)
			f.each(func(id ID, vec []float32) { addUnbuilt(idx, id, vec) })
			c.parts[part] = idx
		}
	}
	c.rb.loading = nil
}

// loadWords adds the word keys of the entries no write has touched since
// Open (a write re-adds or removes its entry's keys itself).
func (c *Cache) loadWords(open map[ID]*meta, rep *loadRepairs) error {
	type rec struct {
		id, part ID
		words    []string
	}
	batch := make([]rec, 0, wordsChunk)
	flush := func() {
		if h := c.rb.hooks.words; h != nil {
			h()
		}
		c.mu.Lock()
		for _, r := range batch {
			if m := c.metas[r.id]; m != nil && m == open[r.id] && m.partition == r.part {
				c.words.Add(r.id, r.part, r.words)
			}
		}
		c.mu.Unlock()
		batch = batch[:0]
	}
	err := c.store.scanWords(func(id, part ID, prompt string) {
		if c.stopping() {
			return
		}
		if m := open[id]; m == nil || m.partition != part {
			rep.orphanWords = append(rep.orphanWords, id) // of no entry, or of another partition
			return
		}
		batch = append(batch, rec{id, part, wordkeys.Words(prompt, nil)})
		if len(batch) == wordsChunk {
			flush()
		}
	})
	if c.stopping() {
		return errStopped
	}
	var bad *badRecordsError
	if errors.As(err, &bad) {
		rep.badWords, err = bad.keys, nil
	}
	if err != nil {
		return fmt.Errorf("semcache: load words: %w", err)
	}
	flush()
	return nil
}

// repairLoaded deletes the orphaned and unreadable records the loader met,
// counts them in Stats.SkippedRecords, and makes an entry whose vector is
// unreadable exact-only. It decides under the cache lock, skipping records
// a write since Open may have rewritten, and commits in a turn of its own.
func (c *Cache) repairLoaded(open map[ID]*meta, rep *loadRepairs) error {
	b := c.store.newBatch()
	var n int64
	count := func(id ID) {
		if !rep.dropped[id] {
			n++
		}
	}
	c.mu.Lock()
	for _, v := range rep.orphanVecs {
		if m := c.metas[v.id]; m == nil || m.partition != v.part || m.embedder != c.embedder {
			b.Delete(vecKey(c.embedder, v.part, v.id), nil)
			count(v.id)
		}
	}
	for _, id := range rep.orphanWords {
		if c.metas[id] == open[id] { // no write since: still an orphan
			b.Delete(wordsKey(id), nil)
			count(id)
		}
	}
	for _, key := range rep.badWords {
		n++
		if id, ok := recordID(key); ok && c.metas[id] != open[id] {
			continue // a write since Open rewrote or removed the record
		}
		b.Delete(key, nil)
	}
	for _, key := range rep.badVecs {
		n++
		part, id, ok := vectorIDs(c.embedder, key)
		if !ok {
			b.Delete(key, nil)
			continue
		}
		m := c.metas[id]
		if m != open[id] {
			continue // a write since Open rewrote or removed the record
		}
		b.Delete(key, nil)
		if m != nil && m.partition == part && m.embedder == c.embedder {
			m.embedder = "" // exact-only from now on
			if idx := c.parts[part]; idx != nil {
				idx.Delete(id)
			}
			b.Set(metaKey(id), m.encode(), nil)
		}
	}
	if n == 0 {
		c.mu.Unlock()
		b.Close()
		return nil
	}
	t := c.takeTurnLocked()
	c.mu.Unlock()
	c.stats.skipped.Add(n)
	c.log.Warn("cache: skipped unreadable or inconsistent records at start-up and removed them", "records", n)
	if err := c.write(t, func() error { return c.store.commit(b, false) }); err != nil {
		c.log.Warn("cache: removing unreadable records failed; they are skipped again next time", "error", err)
	}
	return nil
}

// wakeBuilder tells the builder to look for indexes to build.
func (c *Cache) wakeBuilder() {
	select {
	case c.rb.wake <- struct{}{}:
	default:
	}
}

// builder builds the partition indexes that need it, whenever woken,
// until Close.
func (c *Cache) builder() {
	defer c.rb.wg.Done()
	select { // the semantic tier first: loading it is cheaper and serves more
	case <-c.stop:
		return
	case <-c.rb.loaded:
	}
	for {
		select {
		case <-c.stop:
			return
		case <-c.rb.wake:
		}
		for !c.stopping() {
			todo := c.unbuilt()
			if len(todo) == 0 {
				break
			}
			for _, p := range todo {
				c.build(p)
			}
		}
	}
}

// building is a partition index to build.
type building struct {
	part ID
	idx  Index
	b    Builder
	n    int
}

// unbuilt returns the partition indexes not built, smallest first: they
// finish soonest, and a large partition's exact scan costs the same
// whenever it ends.
func (c *Cache) unbuilt() []building {
	var todo []building
	c.mu.RLock()
	for part, idx := range c.parts {
		if b, ok := idx.(Builder); ok && !b.Built() {
			n := 0
			if s, ok := idx.(Sizer); ok {
				n = s.Len()
			}
			todo = append(todo, building{part, idx, b, n})
		}
	}
	c.mu.RUnlock()
	slices.SortFunc(todo, func(a, b building) int { return cmp.Compare(a.n, b.n) })
	return todo
}

// build builds one partition's index a step at a time, until it is built,
// replaced (a flush) or Close.
func (c *Cache) build(p building) {
	t0 := time.Now()
	for !c.stopping() {
		c.mu.RLock()
		cur := c.parts[p.part]
		c.mu.RUnlock()
		if cur != p.idx {
			return
		}
		if h := c.rb.hooks.build; h != nil {
			h(p.part)
		}
		if p.b.Build(buildStep) {
			c.log.Info("cache: partition index built", "partition", p.part.String(), "vectors", p.n, "took", time.Since(t0).String())
			select {
			case c.rb.built <- struct{}{}:
			default:
			}
			return
		}
	}
}

// IndexesReady reports whether the semantic tier is loaded and every
// partition index built: semantic lookups then find every entry, by graph.
// Exact hits are served from Open on, whatever it says.
func (c *Cache) IndexesReady() bool {
	select {
	case <-c.rb.loaded:
	default:
		return false
	}
	return c.indexesBuilding() == 0
}

// indexesBuilding counts the partition indexes that are not built (they
// answer by exact scan).
func (c *Cache) indexesBuilding() int {
	n := 0
	c.mu.RLock()
	for _, idx := range c.parts {
		if b, ok := idx.(Builder); ok && !b.Built() {
			n++
		}
	}
	c.mu.RUnlock()
	return n
}

// semanticLoading reports whether the loader is still running.
func (c *Cache) semanticLoading() bool {
	select {
	case <-c.rb.loaded:
		return false
	default:
		return true
	}
}
