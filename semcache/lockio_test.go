package semcache

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/semgate/semgate/semcache/wordkeys"
)

// The cache writes to the store outside its lock, one batch per change, in
// the order it changed its memory. These tests use Cache.commitHook, which
// runs where each store write starts.

// hookedCache opens a cache whose sweeper never runs on its own, so only
// the test's calls write.
func hookedCache(t *testing.T, dir string, o Options, clk *clock) (*Store, *Cache) {
	t.Helper()
	o.SweepInterval = time.Hour
	return openTestCache(t, dir, o, clk, "emb")
}

// heldLock reports whether c.mu stays held (for reading or writing) for
// longer than a background goroutine would hold it: the cache's builder and
// loader take the lock briefly on their own, so a single TryLock would blame
// them on the caller. A lock the caller holds is never released while the
// caller waits here, so it reports true after the grace period.
func heldLock(c *Cache) bool {
	got := make(chan struct{})
	go func() {
		c.mu.Lock()
		c.mu.Unlock()
		close(got)
	}()
	select {
	case <-got:
		return false
	case <-time.After(2 * time.Second):
		return true
	}
}

func TestCacheWritesOutsideLock(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	_, c := hookedCache(t, t.TempDir(), Options{MaxEntries: 10, TTL: time.Hour}, clk)
	writes := map[string]int{}
	locked := map[string]int{}
	op := ""
	c.commitHook = func() { // every call below runs on this goroutine
		writes[op]++
		if heldLock(c) {
			locked[op]++
		}
	}
	op = "put+evict"
	for i := range 12 {
		clk.add(time.Second)
		e := entry(byte(i), 1, fmt.Sprint("prompt ", i))
		e.Semantic = true
		if err := c.Put(e, unit(1, float32(i), 0, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if c.Stats().Evictions == 0 {
		t.Fatal("no eviction")
	}
	op = "hit"
	e, err := c.GetExact(tid(11), 0)
	if err != nil {
		t.Fatal(err)
	}
	c.Hit(e, false)
	c.writeHits() // a hit is written with the next flush
	op = "delete"
	if err := c.Delete(tid(11)); err != nil {
		t.Fatal(err)
	}
	op = "sweep"
	clk.add(2 * time.Hour)
	if n := c.Sweep(); n == 0 {
		t.Fatal("nothing swept")
	}
	op = "flush"
	c.Put(entry(20, 1, "a"), nil)
	if n, err := c.Flush("m", ""); n != 1 || err != nil {
		t.Fatalf("flush by model: %d %v", n, err)
	}
	c.Put(entry(21, 1, "b"), nil)
	if n, err := c.Flush("", ""); n != 1 || err != nil {
		t.Fatalf("flush all: %d %v", n, err)
	}
	for _, o := range []string{"put+evict", "hit", "delete", "sweep", "flush"} {
		if writes[o] == 0 {
			t.Errorf("%s: no store write seen", o)
		}
		if locked[o] != 0 {
			t.Errorf("%s: %d of %d store writes ran under the cache lock", o, locked[o], writes[o])
		}
	}
}

// TestCacheLookupsProceedDuringCommit parks a Put in its commit and looks
// up, lists and reads stats meanwhile.
func TestCacheLookupsProceedDuringCommit(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	_, c := hookedCache(t, t.TempDir(), Options{}, clk)
	if err := c.Put(entry(1, 1, "a"), unit(1, 0, 0, 0)); err != nil {
		t.Fatal(err)
	}
	parked, release := parkFirstWrite(c)
	defer release()
	done := make(chan error, 1)
	go func() { done <- c.Put(entry(2, 1, "b"), unit(0, 1, 0, 0)) }()
	<-parked
	if heldLock(c) {
		release()
		<-done
		t.Fatal("Put holds the cache lock while its batch commits")
	}
	if _, err := c.GetExact(tid(1), 0); err != nil {
		t.Errorf("exact lookup during a commit: %v", err)
	}
	if s := c.Stats(); s.Entries != 2 {
		t.Errorf("stats during a commit: %+v", s)
	}
	if cand, _, err := c.FindSemantic(&Query{Verify: acceptAll{}, Part: tid(1), Vec: unit(1, 0, 0, 0), Threshold: 0.9, Prompt: "a"}); err != nil || cand == nil {
		t.Errorf("semantic lookup during a commit: %+v %v", cand, err)
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetExact(tid(2), 0); err != nil {
		t.Fatal(err)
	}
}

// TestCacheEvictsInOneBatch: the put that goes over the cap writes itself
// and its victims in one batch.
func TestCacheEvictsInOneBatch(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	st, c := hookedCache(t, t.TempDir(), Options{MaxEntries: 20}, clk)
	for i := range 20 {
		clk.add(time.Second)
		c.Put(entry(byte(i), 1, "p"), unit(1, float32(i), 0, 0))
	}
	writes := 0
	c.commitHook = func() { writes++ }
	clk.add(time.Second)
	if err := c.Put(entry(100, 1, "p"), nil); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.Evictions != 2 || writes != 1 {
		t.Fatalf("evictions %d in %d writes, want 2 in 1", s.Evictions, writes)
	}
	for _, id := range []byte{0, 1} {
		if hasKey(t, st, entryKey(tid(id))) || hasKey(t, st, metaKey(tid(id))) || hasKey(t, st, vecKey("emb", tid(1), tid(id))) {
			t.Fatalf("victim %d has records left", id)
		}
	}
}

// TestEvictionPicksLeastRecent compares the heap selection with sorting
// every entry, for random entries (with ties) and caps.
func TestEvictionPicksLeastRecent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		n := 1 + rng.IntN(200)
		c := &Cache{metas: map[ID]*meta{}, parts: map[ID]Index{}, words: wordkeys.New(wordkeys.Options{})}
		c.opts.MaxEntries = 1 + rng.IntN(n+5)
		type item struct {
			id ID
			m  *meta
		}
		var all []item
		for i := range n {
			var id ID
			id[0], id[1] = byte(i), byte(i>>8)
			id[2] = byte(rng.IntN(256))
			m := &meta{created: int64(rng.IntN(50)), size: int32(1 + rng.IntN(100))}
			if rng.IntN(3) == 0 {
				m.lastHit = int64(rng.IntN(80))
			}
			c.metas[id] = m
			c.bytes += int64(m.size)
			all = append(all, item{id, m})
		}
		c.opts.MaxBytes = 1 + rng.Int64N(c.bytes+100)
		maxN, maxB := c.opts.maxEntries(), c.opts.maxBytes()
		tN, tB := maxN-maxN/20, maxB-maxB/20
		var want []ID
		if len(all) > maxN || c.bytes > maxB {
			slices.SortFunc(all, func(a, b item) int {
				if r := cmp.Compare(a.m.recency(), b.m.recency()); r != 0 {
					return r
				}
				return bytes.Compare(a.id[:], b.id[:])
			})
			left, lb := len(all), c.bytes
			for _, it := range all {
				if left <= tN && lb <= tB {
					break
				}
				want = append(want, it.id)
				left--
				lb -= int64(it.m.size)
			}
		}
		var got []ID
		for _, v := range c.evictLocked() {
			got = append(got, v.id)
		}
		less := func(a, b ID) int { return bytes.Compare(a[:], b[:]) }
		slices.SortFunc(want, less)
		slices.SortFunc(got, less)
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d (n %d, caps %d/%d): evicted %d entries, want %d", trial, n, maxN, maxB, len(got), len(want))
		}
		if len(c.metas) != n-len(want) {
			t.Fatalf("trial %d: %d entries left", trial, len(c.metas))
		}
	}
}

func hasKey(t *testing.T, st *Store, key []byte) bool {
	t.Helper()
	_, closer, err := st.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	closer.Close()
	return true
}

func inMemory(c *Cache, id ID) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.metas[id]
	return ok
}

// parkFirstWrite makes the cache's next store write wait, returning a
// channel closed when it is parked and a func that lets it go.
func parkFirstWrite(c *Cache) (parked <-chan struct{}, release func()) {
	p, r := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	c.commitHook = func() {
		if first.CompareAndSwap(false, true) { // later writes pass (sync.Once would hold them)
			close(p)
			<-r
		}
	}
	return p, sync.OnceFunc(func() { close(r) })
}

// TestCachePutRacingDelete forces the interleaving in which a Put of an ID
// has changed memory but not committed, and a Delete of the same ID then
// changes memory: the Delete must not reach the store first, or the store
// would keep an entry memory no longer has (and a restart would serve it
// again).
func TestCachePutRacingDelete(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	st, c := hookedCache(t, dir, Options{}, clk)
	parked, release := parkFirstWrite(c)
	defer release()
	e := entry(1, 1, "some prompt words")
	e.Semantic = true
	put := make(chan error, 1)
	go func() { put <- c.Put(e, unit(1, 0, 0, 0)) }()
	<-parked
	del := make(chan error, 1)
	go func() { del <- c.Delete(tid(1)) }()
	for inMemory(c, tid(1)) { // until the Delete has changed memory
		runtime.Gosched()
	}
	release()
	if err := <-put; err != nil {
		t.Fatal(err)
	}
	if err := <-del; err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string][]byte{"entry": entryKey(tid(1)), "meta": metaKey(tid(1)),
		"words": wordsKey(tid(1)), "vector": vecKey("emb", tid(1), tid(1))} {
		if hasKey(t, st, k) {
			t.Errorf("deleted entry's %s record is in the store", name)
		}
	}
}

// TestCacheReplaceRacingReplace: two Puts of one ID, the first parked in
// its commit; the store ends with the second's records only.
func TestCacheReplaceRacingReplace(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	st, c := hookedCache(t, t.TempDir(), Options{}, clk)
	parked, release := parkFirstWrite(c)
	defer release()
	first := entry(1, 1, "first prompt here")
	first.Semantic = true
	second := entry(1, 2, "second")
	second.Model = "second"
	put1 := make(chan error, 1)
	go func() { put1 <- c.Put(first, unit(1, 0, 0, 0)) }()
	<-parked
	put2 := make(chan error, 1)
	go func() { put2 <- c.Put(second, nil) }()
	for {
		c.mu.RLock()
		m := c.metas[tid(1)]
		c.mu.RUnlock()
		if m.model == "second" {
			break
		}
		runtime.Gosched()
	}
	release()
	if err := <-put1; err != nil {
		t.Fatal(err)
	}
	if err := <-put2; err != nil {
		t.Fatal(err)
	}
	got, err := c.GetExact(tid(1), 0)
	if err != nil || got.Model != "second" || got.Partition != tid(2) {
		t.Fatalf("%+v %v", got, err)
	}
	if hasKey(t, st, vecKey("emb", tid(1), tid(1))) || hasKey(t, st, wordsKey(tid(1))) {
		t.Fatal("the replaced entry's vector or words record is left")
	}
}

// TestCacheGetExactDuringPutKeepsEntry: a lookup that finds an entry in
// memory whose record is still being committed is a miss; it must not
// take the entry for damaged and drop it.
func TestCacheGetExactDuringPutKeepsEntry(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	st, c := hookedCache(t, t.TempDir(), Options{}, clk)
	parked, release := parkFirstWrite(c)
	defer release()
	put := make(chan error, 1)
	go func() { put <- c.Put(entry(1, 1, "a"), nil) }()
	<-parked
	c.mu.RLock()
	putTurn := c.lastTurn
	c.mu.RUnlock()
	get := make(chan error, 1)
	go func() { _, err := c.GetExact(tid(1), 0); get <- err }()
	for { // until the lookup waits for the writes before it
		c.mu.RLock()
		waiting := c.lastTurn != putTurn
		c.mu.RUnlock()
		if waiting {
			break
		}
		runtime.Gosched()
	}
	release()
	if err := <-put; err != nil {
		t.Fatal(err)
	}
	if err := <-get; !errors.Is(err, ErrNotFound) {
		t.Fatalf("lookup during the commit: %v", err)
	}
	if _, err := c.GetExact(tid(1), 0); err != nil || !hasKey(t, st, metaKey(tid(1))) || c.Stats().SkippedRecords != 0 {
		t.Fatalf("entry dropped: %v, skipped %d", err, c.Stats().SkippedRecords)
	}
}

// TestCacheConcurrentChangesConsistent runs puts, replacements, deletes,
// hits, evictions, sweeps and flushes of a few IDs from many goroutines,
// then checks that memory and the store agree, and that a restart finds
// nothing to repair.
func TestCacheConcurrentChangesConsistent(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	st, c := hookedCache(t, dir, Options{MaxEntries: 24, TTL: time.Hour}, clk)
	const workers, ops = 8, 300
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range ops {
				id := byte(rng.IntN(32))
				switch r := rng.IntN(20); {
				case r < 9:
					e := entry(id, byte(1+rng.IntN(2)), fmt.Sprint("prompt number ", rng.IntN(5)))
					e.Semantic = rng.IntN(2) == 0
					if rng.IntN(4) == 0 {
						e.Expires = clk.now().Add(-time.Second) // expired: swept
					}
					var vec []float32
					if rng.IntN(3) > 0 {
						vec = unit(1, float32(rng.IntN(9)), 0, 0)
					}
					if err := c.Put(e, vec); err != nil {
						t.Error(err)
					}
				case r < 13:
					if e, err := c.GetExact(tid(id), 0); err == nil {
						c.Hit(e, false)
					}
					if rng.IntN(3) == 0 {
						c.writeHits()
					}
				case r < 17:
					if err := c.Delete(tid(id)); err != nil && !errors.Is(err, ErrNotFound) {
						t.Error(err)
					}
				case r < 19:
					c.Sweep()
				default:
					if _, err := c.Flush("m", ""); err != nil {
						t.Error(err)
					}
				}
				clk.add(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	c.writeHits() // the hits since the last flush
	checkConsistent(t, c, st)
	want := c.Stats().Entries
	c.Close()
	st.Close()
	_, c2 := openTestCache(t, dir, Options{MaxEntries: 24, TTL: time.Hour}, clk, "emb")
	if s := c2.Stats(); s.SkippedRecords != 0 || s.Entries != want {
		t.Fatalf("after restart: %d entries (want %d), %d records skipped", s.Entries, want, s.SkippedRecords)
	}
}

// checkConsistent compares the cache's memory with the store: the same
// entries with the same metadata, a vector record exactly for the entries
// indexed, word records only for entries, bytes summed right.
func checkConsistent(t *testing.T, c *Cache, st *Store) {
	t.Helper()
	c.mu.RLock()
	defer c.mu.RUnlock()
	stored := map[ID]*meta{}
	if err := st.scanMetas(func(id ID, m *meta) { stored[id] = m }); err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(c.metas) {
		t.Errorf("store has %d entries, memory %d", len(stored), len(c.metas))
	}
	var sum int64
	for id, m := range c.metas {
		sum += int64(m.size)
		sm, ok := stored[id]
		if !ok {
			t.Errorf("entry %x in memory only", id[0])
			continue
		}
		if sm.hits != m.hits || sm.partition != m.partition || sm.embedder != m.embedder || sm.size != m.size {
			t.Errorf("entry %x: stored meta %+v, memory %+v", id[0], sm, m)
		}
		if e, err := st.getEntry(id); err != nil || e.Partition != m.partition {
			t.Errorf("entry %x: record %v", id[0], err)
		}
		indexed := false
		if fi, ok := c.parts[m.partition].(*FlatIndex); ok {
			fi.mu.RLock()
			_, indexed = fi.pos[id]
			fi.mu.RUnlock()
		}
		if indexed != (m.embedder != "") {
			t.Errorf("entry %x: indexed %v, embedder %q", id[0], indexed, m.embedder)
		}
	}
	if sum != c.bytes {
		t.Errorf("bytes %d, entries sum to %d", c.bytes, sum)
	}
	vecs := 0
	if err := st.scanVectors("emb", 4, func(part, id ID, _ []float32) {
		vecs++
		if m, ok := c.metas[id]; !ok || m.partition != part || m.embedder == "" {
			t.Errorf("vector of %x without its entry", id[0])
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.scanWords(func(id, part ID, _ string) {
		if m, ok := c.metas[id]; !ok || m.partition != part {
			t.Errorf("words of %x without their entry", id[0])
		}
	}); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkCachePutEvict puts into a full cache: every 100th put evicts
// 5% of it.
func BenchmarkCachePutEvict(b *testing.B) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	st, err := OpenStore(StoreOptions{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	c, err := Open(st, Options{MaxEntries: 2000, SweepInterval: time.Hour}, CacheConfig{EmbedderID: "emb", Dim: 4, Now: clk.now, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	vec := unit(1, 2, 3, 4)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e := entry(0, 1, "prompt")
		e.ID[1], e.ID[2], e.ID[3] = byte(i), byte(i>>8), byte(i>>16)
		clk.add(time.Millisecond)
		if err := c.Put(e, vec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheHit records hits (the metadata write of a served entry).
func BenchmarkCacheHit(b *testing.B) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	st, err := OpenStore(StoreOptions{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	c, err := Open(st, Options{SweepInterval: time.Hour}, CacheConfig{EmbedderID: "emb", Dim: 4, Now: clk.now, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	e := entry(1, 1, "prompt")
	if err := c.Put(e, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		c.Hit(e, false)
	}
}
