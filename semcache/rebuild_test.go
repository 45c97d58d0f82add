package semcache

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/semgate/semgate/semcache/wordkeys"
)

// waitFor polls cond until it holds; the deadline only guards against a
// hang (the event is expected in milliseconds).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// within runs fn and fails the test if it has not returned after a
// generous time: fn must not wait for the background work that the test
// holds up.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s waited for the background work", what)
	}
}

func randUnit(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	var n float64
	for i := range v {
		f := r.NormFloat64()
		v[i] = float32(f)
		n += f * f
	}
	for i := range v {
		v[i] = float32(float64(v[i]) / math.Sqrt(n))
	}
	return v
}

// gatedIndex is a snapIndex that counts its changes (Versioned) and whose
// WriteSnapshot can be held at its start.
type gatedIndex struct {
	*snapIndex
	ver  atomic.Uint64
	gate *snapGate
}

type snapGate struct {
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
	writes  atomic.Int32
}

func (g *gatedIndex) Add(id ID, vec []float32) { g.snapIndex.Add(id, vec); g.ver.Add(1) }
func (g *gatedIndex) Delete(id ID)             { g.snapIndex.Delete(id); g.ver.Add(1) }
func (g *gatedIndex) Version() uint64          { return g.ver.Load() }

// WriteSnapshot copies the index (encodes it to memory) under its lock,
// as the Snapshotter contract asks, then waits at the gate and writes.
func (g *gatedIndex) WriteSnapshot(w io.Writer, embedderID string) error {
	g.gate.writes.Add(1)
	var copied bytes.Buffer
	if err := g.snapIndex.WriteSnapshot(&copied, embedderID); err != nil {
		return err
	}
	if g.gate.armed.Load() {
		g.gate.entered <- struct{}{}
		<-g.gate.release
	}
	_, err := w.Write(copied.Bytes())
	return err
}

// TestPeriodicSnapshotDoesNotBlockLookups: on the interval's tick a
// changed partition is snapshotted; while its snapshot is being written,
// lookups, puts and deletes complete; a partition that changed by fewer
// than SnapshotMinChanges is not written again, and Close writes only
// what changed.
func TestPeriodicSnapshotDoesNotBlockLookups(t *testing.T) {
	dir := t.TempDir()
	snaps := filepath.Join(dir, "snapshots")
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	gate := &snapGate{entered: make(chan struct{}), release: make(chan struct{})}
	tick := make(chan time.Time) // unbuffered: a second send waits for the first tick's work
	cc := CacheConfig{EmbedderID: "emb", Dim: 4, Now: clk.now, Logger: quiet, SnapshotDir: snaps,
		SnapshotMinChanges: 2,
		NewIndex: func(dim int) Index {
			return &gatedIndex{snapIndex: &snapIndex{FlatIndex: NewFlatIndex(dim)}, gate: gate}
		},
		LoadIndex: readSnapIndex}
	cc.hooks.snapTick = tick
	st, err := OpenStore(StoreOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c, err := Open(st, Options{}, cc)
	if err != nil {
		t.Fatal(err)
	}
	c.Put(entry(1, 1, "a"), unit(1, 0, 0, 0))
	c.Put(entry(2, 1, "b"), unit(0, 1, 0, 0))
	path := filepath.Join(snaps, tid(1).String()+snapshotExt)

	gate.armed.Store(true)
	tick <- time.Now()
	<-gate.entered // the periodic snapshot is being written
	within(t, "a lookup, a put and a delete during a snapshot write", func() {
		cand, _, err := c.FindSemantic(&Query{Verify: acceptAll{}, Part: tid(1), Vec: unit(1, 0, 0, 0), Threshold: 0.99})
		if err != nil || cand == nil || cand.Entry.ID != tid(1) {
			t.Errorf("lookup during the snapshot: %+v %v", cand, err)
		}
		if _, err := c.GetExact(tid(2), 0); err != nil {
			t.Errorf("exact lookup during the snapshot: %v", err)
		}
		if err := c.Put(entry(3, 1, "c"), unit(0, 0, 1, 0)); err != nil {
			t.Errorf("put during the snapshot: %v", err)
		}
		_ = c.Stats()
	})
	gate.armed.Store(false)
	close(gate.release)
	tick <- time.Now() // once taken, the first write is done; 1 change since: not written
	tick <- time.Now() // and the second tick's work is done
	if n := gate.writes.Load(); n != 1 {
		t.Fatalf("%d snapshot writes, want 1 (one change is below the minimum)", n)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no periodic snapshot: %v", err)
	}
	idx, err := readSnapIndex(f, "emb", 4)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := idx.(*snapIndex).IDs(); len(got) != 2 || !idx.(*snapIndex).Has(tid(1)) || !idx.(*snapIndex).Has(tid(2)) {
		t.Fatalf("snapshot holds %v, want entries 1 and 2 (as when it was taken)", got)
	}

	c.Put(entry(4, 1, "d"), unit(1, 1, 0, 0)) // second change since the snapshot
	tick <- time.Now()
	tick <- time.Now()
	if n := gate.writes.Load(); n != 2 {
		t.Fatalf("%d snapshot writes after two changes, want 2", n)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if n := gate.writes.Load(); n != 2 {
		t.Fatalf("Close rewrote an unchanged snapshot (%d writes)", n)
	}
}

// TestBackgroundLoad: with more entries than BackgroundLoad, Open returns
// before the semantic tier is loaded: exact hits work at once, and writes
// made while the loader runs (a new entry, a delete, a replacement with
// another vector and prompt, one without a vector, an entry of a new
// partition) are all reflected once it is done, in memory and in the
// store, with nothing taken for an orphan.
func TestBackgroundLoad(t *testing.T) {
	const dim, n = 8, 40
	dir := t.TempDir()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	r := rand.New(rand.NewPCG(4, 2))
	cc := CacheConfig{EmbedderID: "emb", Dim: dim, Now: clk.now, Logger: quiet,
		NewIndex: func(dim int) Index { return &snapIndex{FlatIndex: NewFlatIndex(dim)} }}
	open := func(cc CacheConfig) (*Store, *Cache) {
		st, err := OpenStore(StoreOptions{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		c, err := Open(st, Options{}, cc)
		if err != nil {
			t.Fatal(err)
		}
		return st, c
	}
	prompt := func(i int) string { return fmt.Sprintf("question %d about %d", i, i*7) }
	vecs := map[ID][]float32{}
	prompts := map[ID]string{}
	put := func(c *Cache, id, part byte, p string, vec []float32) {
		t.Helper()
		e := entry(id, part, p)
		e.Semantic = true
		if err := c.Put(e, vec); err != nil {
			t.Fatal(err)
		}
		if vec != nil {
			vecs[tid(id)] = vec
		} else {
			delete(vecs, tid(id))
		}
		prompts[tid(id)] = p
	}
	st, c := open(cc)
	for i := 1; i <= n; i++ {
		put(c, byte(i), 1, prompt(i), randUnit(r, dim))
	}
	c.Close()
	st.Close()

	paused, release := make(chan struct{}), make(chan struct{})
	cc.BackgroundLoad = 1
	cc.hooks.install = func(part ID) {
		if part == tid(1) {
			close(paused)
			<-release
		}
	}
	wordsPaused, wordsRelease := make(chan struct{}), make(chan struct{})
	var wordsOnce atomic.Bool
	cc.hooks.words = func() {
		if wordsOnce.CompareAndSwap(false, true) {
			close(wordsPaused)
			<-wordsRelease
		}
	}
	st, c = open(cc)
	<-paused // partition 1's index is loaded, not installed; no word keys yet
	if s := c.Stats(); !s.SemanticLoading || c.IndexesReady() || s.Entries != n {
		t.Fatalf("while loading: %+v, ready %v", s, c.IndexesReady())
	}
	if _, err := c.GetExact(tid(7), 0); err != nil {
		t.Fatalf("exact hit while loading: %v", err)
	}
	old3 := vecs[tid(3)]
	within(t, "writes while loading", func() {
		put(c, 100, 1, "a new question while loading", randUnit(r, dim))
		c.Delete(tid(2))
		delete(vecs, tid(2))
		delete(prompts, tid(2))
		put(c, 3, 1, "a replaced question entirely", randUnit(r, dim))
		put(c, 4, 1, prompt(4), nil) // exact-only now
		put(c, 200, 9, "a question in a partition of its own", randUnit(r, dim))
	})
	if cand, _, _ := c.FindSemantic(&Query{Verify: acceptAll{}, Part: tid(1), Vec: vecs[tid(100)], Threshold: 0.999}); cand == nil || cand.Entry.ID != tid(100) {
		t.Fatal("an entry put while loading is not found while loading")
	}
	close(release)
	<-wordsPaused // the word keys are read, not added
	within(t, "writes while loading word keys", func() {
		put(c, 5, 1, "another replaced question", randUnit(r, dim))
		c.Delete(tid(6))
		delete(vecs, tid(6))
		delete(prompts, tid(6))
	})
	close(wordsRelease)
	waitFor(t, "the load", func() bool { return !c.Stats().SemanticLoading })
	check := func(c *Cache, stage string) {
		t.Helper()
		for id, v := range vecs {
			part := tid(1)
			if id == tid(200) {
				part = tid(9)
			}
			hits := c.parts[part].Search(v, 1)
			if len(hits) != 1 || hits[0].ID != id || hits[0].Score < 0.9999 {
				t.Fatalf("%s: entry %d not found by its vector: %v", stage, id[0], hits)
			}
			ws := wordkeys.Words(prompts[id], nil)
			if !slices.Contains(c.words.Lookup(part, ws, nil), wordkeys.ID(id)) {
				t.Fatalf("%s: entry %d not found by its words", stage, id[0])
			}
		}
		for _, id := range []ID{tid(2), tid(4)} {
			if _, ok := c.parts[tid(1)].(Scorer).Score(id, old3); ok {
				t.Fatalf("%s: entry %d has a vector in the index", stage, id[0])
			}
		}
		if hits := c.parts[tid(1)].Search(old3, 1); len(hits) == 1 && hits[0].ID == tid(3) && hits[0].Score > 0.9999 {
			t.Fatalf("%s: entry 3 is indexed by its old vector", stage)
		}
		for _, id := range []byte{2, 3, 5, 6} { // replaced or deleted
			if slices.Contains(c.words.Lookup(tid(1), wordkeys.Words(prompt(int(id)), nil), nil), wordkeys.ID(tid(id))) {
				t.Fatalf("%s: entry %d is found by its old words", stage, id)
			}
		}
		if _, ok := c.parts[tid(9)].(*snapIndex); !ok {
			t.Fatalf("%s: partition 9's index is a %T, not the configured kind", stage, c.parts[tid(9)])
		}
		if s := c.Stats(); s.SkippedRecords != 0 || s.Entries != n {
			t.Fatalf("%s: %+v", stage, s)
		}
	}
	check(c, "after the background load")
	c.Close()
	st.Close()

	cc.BackgroundLoad, cc.hooks = 0, testHooks{}
	st, c = open(cc) // everything written while loading is in the store
	defer func() { c.Close(); st.Close() }()
	check(c, "after a second start")
}

// TestCloseDuringBackgroundLoad: Close stops a loader in the middle and
// leaves the snapshots on disk alone (the indexes are incomplete).
func TestCloseDuringBackgroundLoad(t *testing.T) {
	dir := t.TempDir()
	snaps := filepath.Join(dir, "snapshots")
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	cc := CacheConfig{EmbedderID: "emb", Dim: 4, Now: clk.now, Logger: quiet, SnapshotDir: snaps,
		NewIndex:  func(dim int) Index { return &snapIndex{FlatIndex: NewFlatIndex(dim)} },
		LoadIndex: readSnapIndex}
	st, _ := OpenStore(StoreOptions{Dir: dir})
	c, _ := Open(st, Options{}, cc)
	for i := byte(1); i <= 3; i++ {
		c.Put(entry(i, 1, "a"), unit(1, float32(i), 0, 0))
		c.Put(entry(10+i, 2, "b"), unit(0, 1, float32(i), 0))
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	before := map[string][]byte{}
	files, _ := filepath.Glob(filepath.Join(snaps, "*"+snapshotExt))
	for _, f := range files {
		before[f], _ = os.ReadFile(f)
	}
	if len(before) != 2 {
		t.Fatalf("snapshots %v", files)
	}

	paused, release := make(chan struct{}), make(chan struct{})
	var once atomic.Bool
	cc.BackgroundLoad = 1
	cc.hooks.install = func(ID) {
		if once.CompareAndSwap(false, true) {
			close(paused)
			<-release
		}
	}
	st, _ = OpenStore(StoreOptions{Dir: dir})
	defer st.Close()
	c, err := Open(st, Options{}, cc)
	if err != nil {
		t.Fatal(err)
	}
	<-paused
	c.Put(entry(50, 2, "c"), unit(0, 0, 0, 1)) // a change a snapshot would record
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	for !c.stopping() { // Close has begun before the loader goes on
		time.Sleep(time.Millisecond)
	}
	close(release)
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not stop the loader")
	}
	for f, b := range before {
		if now, err := os.ReadFile(f); err != nil || !bytes.Equal(now, b) {
			t.Fatalf("snapshot %s changed by a Close during the load: %v", f, err)
		}
	}
}

func TestCacheConfigValidate(t *testing.T) {
	st, err := OpenStore(StoreOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = Open(st, Options{}, CacheConfig{SnapshotInterval: time.Millisecond, SnapshotMinChanges: -1, BackgroundLoad: -1})
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Open: %v", err)
	}
	for _, want := range []string{"interval", "minimum changes", "background"} {
		if !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("%q not reported: %v", want, err)
		}
	}
	for _, cc := range []CacheConfig{{}, {SnapshotInterval: -1}, {SnapshotInterval: time.Second, SnapshotMinChanges: 1, BackgroundLoad: 10}} {
		if err := cc.validate(); err != nil {
			t.Errorf("%+v: %v", cc, err)
		}
	}
}
