package semcache_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/hnsw"
	"github.com/semgate/semgate/semcache/indextest"
	"github.com/semgate/semgate/semcache/verify"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

type acceptAll struct{}

func (acceptAll) Verify(string, string, float32) verify.Verdict {
	return verify.Verdict{OK: true, Rule: verify.Explained}
}

func eid(i int) semcache.ID {
	var id semcache.ID
	binary.BigEndian.PutUint32(id[:], uint32(i))
	id[15] = 0x5A
	return id
}

func pid(i int) semcache.ID {
	var id semcache.ID
	id[0], id[15] = byte(i), 0xC3
	return id
}

func newEntry(i, part int) *semcache.Entry {
	return &semcache.Entry{ID: eid(i), Partition: pid(part), Kind: "chat", Model: "m",
		Prompt: fmt.Sprintf("prompt %d", i), Body: []byte(`{"id":"x","object":"chat.completion","choices":[]}`)}
}

// hnswConfig is the gateway's wiring of the HNSW index (gateway/index.go),
// small enough for tests; loads counts the snapshots loaded.
func hnswConfig(dir string, o hnsw.Options, loads *atomic.Int32) semcache.CacheConfig {
	return semcache.CacheConfig{EmbedderID: "emb", Dim: 16, Logger: quietLog,
		SnapshotDir: filepath.Join(dir, "snapshots"), SnapshotInterval: -1,
		NewIndex: func(dim int) semcache.Index { return hnsw.New(dim, o) },
		LoadIndex: func(r io.Reader, e string, dim int) (semcache.Index, error) {
			loads.Add(1)
			return hnsw.ReadSnapshot(r, e, dim, o)
		}}
}

func openCache(t *testing.T, dir string, cc semcache.CacheConfig) (*semcache.Store, *semcache.Cache) {
	t.Helper()
	st, err := semcache.OpenStore(semcache.StoreOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c, err := semcache.Open(st, semcache.Options{}, cc)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	return st, c
}

func waitReady(t *testing.T, c *semcache.Cache) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute) // a hang guard, not a speed test
	for !c.IndexesReady() {
		if time.Now().After(deadline) {
			t.Fatalf("indexes not ready: %+v", c.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// nearest is the cache's best semantic candidate for v in part (every
// candidate accepted, so the most similar one).
func nearest(t *testing.T, c *semcache.Cache, part int, v []float32) (semcache.ID, float32, bool) {
	t.Helper()
	cand, _, err := c.FindSemantic(&semcache.Query{Part: pid(part), Vec: v, Prompt: "q", Threshold: -1, Verify: acceptAll{}})
	if err != nil {
		t.Fatal(err)
	}
	if cand == nil {
		return semcache.ID{}, 0, false
	}
	return cand.Entry.ID, cand.Score, true
}

// TestRestartAfterCrashWithOlderSnapshot: a graph snapshotted while the
// cache ran, then more puts, deletes and replacements, then a crash (no
// snapshot on the way out): the restart serves exact hits at once, loads
// the snapshot, and once ready its semantic results are those of an exact
// index over the entries as they were at the crash (no deleted or stale
// vector found, every live vector found, nearest neighbours as the flat
// oracle's).
func TestRestartAfterCrashWithOlderSnapshot(t *testing.T) {
	const dim = 16
	dir := t.TempDir()
	var loads atomic.Int32
	o := hnsw.Options{FlatLimit: 50, M: 8, EfConstruction: 100, EfSearch: 64}
	cc := hnswConfig(dir, o, &loads)
	r := rand.New(rand.NewPCG(6, 1))
	live := map[semcache.ID][]float32{}
	partOf := map[semcache.ID]int{}
	var gone [][]float32 // vectors deleted or replaced
	put := func(c *semcache.Cache, i, part int) {
		t.Helper()
		v := indextest.RandomUnit(r, dim)
		if old, ok := live[eid(i)]; ok {
			gone = append(gone, old)
		}
		if err := c.Put(newEntry(i, part), v); err != nil {
			t.Fatal(err)
		}
		live[eid(i)] = v
		partOf[eid(i)] = part
	}
	st, c := openCache(t, dir, cc)
	for i := range 800 {
		put(c, i, 1)
	}
	for i := range 20 {
		put(c, 10_000+i, 2) // a small partition: no graph
	}
	waitReady(t, c)
	if err := c.WriteSnapshots(); err != nil { // as the periodic snapshot would
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "snapshots", pid(1).String()+".idx")); err != nil {
		t.Fatalf("no snapshot of the graph: %v", err)
	}
	for i := 800; i < 950; i++ {
		put(c, i, 1)
	}
	for i := 0; i < 120; i += 2 {
		gone = append(gone, live[eid(i)])
		delete(live, eid(i))
		if err := c.Delete(eid(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 301; i < 360; i += 2 {
		put(c, i, 1) // replaced with another vector
	}
	semcache.Crash(c)
	st.Close()

	cc.BackgroundLoad = 1 // the gateway's way: serve before the indexes load
	st, c = openCache(t, dir, cc)
	defer func() { c.Close(); st.Close() }()
	if _, err := c.GetExact(eid(900), 0); err != nil {
		t.Fatalf("exact hit at start-up: %v", err)
	}
	waitReady(t, c)
	if loads.Load() != 2 { // both partitions: this wiring snapshots flat ones too
		t.Fatalf("%d snapshots loaded, want 2", loads.Load())
	}
	if n, want := semcache.PartitionLen(c, pid(1)), len(live)-20; n != want {
		t.Fatalf("partition index holds %d vectors, want %d (the live entries)", n, want)
	}
	oracle := semcache.NewFlatIndex(dim)
	for id, v := range live {
		if partOf[id] == 1 {
			oracle.Add(id, v)
		}
		if got, score, ok := nearest(t, c, partOf[id], v); !ok || got != id || score < 0.9999 {
			t.Fatalf("entry %x not found by its vector after the restart: %x %v", id[:4], got[:4], score)
		}
	}
	for _, v := range gone {
		if _, score, ok := nearest(t, c, 1, v); ok && score > 0.9999 {
			t.Fatal("a deleted or replaced vector is still indexed")
		}
	}
	agree := 0
	const queries = 200
	for range queries {
		q := indextest.RandomUnit(r, dim)
		want := oracle.Search(q, 1)
		if got, _, ok := nearest(t, c, 1, q); ok && len(want) == 1 && got == want[0].ID {
			agree++
		}
	}
	if agree < queries*95/100 {
		t.Fatalf("nearest neighbour agrees with the exact oracle for %d of %d queries", agree, queries)
	}
	if s := c.Stats(); s.Entries != len(live) || s.SkippedRecords != 0 {
		t.Fatalf("stats after the restart: %+v", s)
	}
}

// TestRebuildingPartitionAnswersByScan: a partition whose graph is being
// rebuilt (no snapshot) serves exact hits, and semantic lookups by an
// exact scan of its vectors, new ones included; its graph is snapshotted
// once built.
func TestRebuildingPartitionAnswersByScan(t *testing.T) {
	const dim = 16
	dir := t.TempDir()
	var loads atomic.Int32
	o := hnsw.Options{FlatLimit: 20, M: 8, EfConstruction: 64, EfSearch: 16}
	cc := hnswConfig(dir, o, &loads)
	cc.SnapshotDir = "" // nothing to load: the graph is rebuilt
	r := rand.New(rand.NewPCG(9, 9))
	oracle := semcache.NewFlatIndex(dim)
	vecs := map[semcache.ID][]float32{}
	st, c := openCache(t, dir, cc)
	for i := range 400 {
		v := indextest.RandomUnit(r, dim)
		if err := c.Put(newEntry(i, 1), v); err != nil {
			t.Fatal(err)
		}
		oracle.Add(eid(i), v)
		vecs[eid(i)] = v
	}
	c.Close()
	st.Close()

	building, release := make(chan struct{}), make(chan struct{})
	var once atomic.Bool
	semcache.WithBuildHook(&cc, func(semcache.ID) {
		if once.CompareAndSwap(false, true) {
			close(building)
			<-release
		}
	})
	cc.SnapshotDir = filepath.Join(dir, "snapshots")
	cc.SnapshotInterval = time.Hour // no tick in the test: the snapshot follows the build
	st, c = openCache(t, dir, cc)
	defer func() { c.Close(); st.Close() }()
	released := false
	defer func() { // before Close, which waits for the builder
		if !released {
			close(release)
		}
	}()
	<-building // the builder is about to link the first vectors
	if s := c.Stats(); s.IndexesBuilding != 1 || s.SemanticLoading || c.IndexesReady() {
		t.Fatalf("while building: %+v, ready %v", s, c.IndexesReady())
	}
	if _, err := c.GetExact(eid(17), 0); err != nil {
		t.Fatalf("exact hit while building: %v", err)
	}
	v := indextest.RandomUnit(r, dim)
	if err := c.Put(newEntry(1000, 1), v); err != nil {
		t.Fatal(err)
	}
	oracle.Add(eid(1000), v)
	vecs[eid(1000)] = v
	for range 100 { // exact: the scan's nearest is the oracle's, score and all
		q := indextest.RandomUnit(r, dim)
		want := oracle.Search(q, 1)
		got, score, ok := nearest(t, c, 1, q)
		if !ok || got != want[0].ID || math.Abs(float64(score-want[0].Score)) > 1e-5 {
			t.Fatalf("while building: nearest %x %v, oracle %x %v", got[:4], score, want[0].ID[:4], want[0].Score)
		}
	}
	close(release)
	released = true
	waitReady(t, c)
	for id, v := range vecs {
		if got, _, ok := nearest(t, c, 1, v); !ok || got != id {
			t.Fatalf("entry %x not found after the build", id[:4])
		}
	}
	path := filepath.Join(dir, "snapshots", pid(1).String()+".idx")
	deadline := time.Now().Add(time.Minute)
	for _, err := os.Stat(path); err != nil; _, err = os.Stat(path) {
		if time.Now().After(deadline) {
			t.Fatal("the built graph was not snapshotted")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
