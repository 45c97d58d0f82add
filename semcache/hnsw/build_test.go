package hnsw_test

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/hnsw"
	"github.com/semgate/semgate/semcache/indextest"
)

// TestAddUnbuiltThenBuild: vectors stored with AddUnbuilt are searched
// exactly until Build has linked them all, writes in between neither link
// the stored ones nor get lost, and the built graph holds every vector.
func TestAddUnbuiltThenBuild(t *testing.T) {
	const dim, n = 16, 1500
	r := rand.New(rand.NewPCG(3, 9))
	x := hnsw.New(dim, hnsw.Options{FlatLimit: 100, M: 8, EfConstruction: 64})
	oracle := semcache.NewFlatIndex(dim)
	vecs := map[int][]float32{}
	for i := range n {
		v := indextest.RandomUnit(r, dim)
		x.AddUnbuilt(id(i), v)
		oracle.Add(id(i), v)
		vecs[i] = v
	}
	if x.Built() || x.Stats().Graph || x.Stats().Levels != 0 {
		t.Fatalf("AddUnbuilt linked vectors: built %v, %+v", x.Built(), x.Stats())
	}
	if v := x.Version(); v != n {
		t.Fatalf("Version %d after %d adds", v, n)
	}
	exact := func(stage string) {
		t.Helper()
		for range 40 {
			q := indextest.RandomUnit(r, dim)
			if got, want := x.Search(q, 5), oracle.Search(q, 5); !sameHits(got, want) {
				t.Fatalf("%s: %v, want %v", stage, got, want)
			}
		}
	}
	exact("stored")
	if x.Build(10) {
		t.Fatal("built in one step")
	}
	levels := x.Stats().Levels
	// Writes during the build: an add is linked at once, a delete
	// tombstones, neither advances the build.
	extra := indextest.RandomUnit(r, dim)
	x.Add(id(n), extra)
	oracle.Add(id(n), extra)
	vecs[n] = extra
	x.Delete(id(5))
	oracle.Delete(id(5))
	delete(vecs, 5)
	if x.Built() {
		t.Fatal("a write finished the deferred build")
	}
	exact("building")
	v0 := x.Version()
	steps := 0
	for !x.Build(7) {
		if steps++; steps > n {
			t.Fatal("Build does not finish")
		}
	}
	if !x.Built() || !x.Stats().Graph || x.Stats().Levels < levels {
		t.Fatalf("after Build: built %v, %+v", x.Built(), x.Stats())
	}
	if d := x.Version() - v0; d < n-20 || d > n {
		t.Fatalf("Version moved by %d while linking about %d vectors", d, n)
	}
	if err := hnsw.Check(x); err != nil {
		t.Fatal(err)
	}
	for i, v := range vecs {
		if hits := x.Search(v, 1); len(hits) != 1 || hits[0].ID != id(i) {
			t.Fatalf("vector %d not found after the build: %v", i, hits)
		}
	}
	qs := make([][]float32, 100)
	for i := range qs {
		qs[i] = indextest.RandomUnit(r, dim)
	}
	if got := recallAt(x, oracle, qs, 10); got < 0.9 {
		t.Fatalf("recall@10 after the build %.3f", got)
	}
	// Writes migrate again once built: past the flat limit from scratch
	// is the usual tiered path.
	x.Add(id(n+1), indextest.RandomUnit(r, dim))
	if !x.Built() {
		t.Fatal("an add to a built graph left it unbuilt")
	}
}

// TestAddUnbuiltOnGraph: a vector stored into a built graph (a loaded
// snapshot absorbing newer entries) is found at once, by exact scan, and
// linked by Build; an identical vector changes nothing.
func TestAddUnbuiltOnGraph(t *testing.T) {
	const dim = 8
	x, live := churned(t, dim, 400, hnsw.Options{FlatLimit: -1})
	y, err := hnsw.ReadSnapshot(bytes.NewReader(snapshot(t, x)), embedder, dim, hnsw.Options{FlatLimit: -1})
	if err != nil || !y.Built() {
		t.Fatalf("loaded: %v, built %v", err, y.Built())
	}
	v0 := y.Version()
	for i, v := range live {
		y.AddUnbuilt(id(i), v) // what the store holds already
	}
	if y.Version() != v0 || !y.Built() {
		t.Fatal("re-adding the snapshot's own vectors changed the index")
	}
	r := rand.New(rand.NewPCG(5, 5))
	fresh := indextest.RandomUnit(r, dim)
	y.AddUnbuilt(id(10_000), fresh)
	if y.Built() {
		t.Fatal("an unlinked vector in a graph reported built")
	}
	if hits := y.Search(fresh, 1); len(hits) != 1 || hits[0].ID != id(10_000) {
		t.Fatalf("unbuilt vector not found: %v", hits)
	}
	for !y.Build(1) {
	}
	if err := hnsw.Check(y); err != nil {
		t.Fatal(err)
	}
	if hits := y.Search(fresh, 1); len(hits) != 1 || hits[0].ID != id(10_000) {
		t.Fatalf("built vector not found: %v", hits)
	}
}

// TestWriteSnapshotDoesNotHoldWriters: while a snapshot is being encoded
// (paused by the hook, after the copy), searches, adds and deletes
// complete; the snapshot is the index as copied, and a slot freed
// meanwhile is not reused under it.
func TestWriteSnapshotDoesNotHoldWriters(t *testing.T) {
	const dim = 8
	x, live := churned(t, dim, 300, hnsw.Options{FlatLimit: -1})
	paused, release := make(chan struct{}), make(chan struct{})
	hnsw.SetSnapHook(x, func() {
		close(paused)
		<-release
	})
	var buf bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- x.WriteSnapshot(&buf, embedder) }()
	<-paused
	r := rand.New(rand.NewPCG(8, 8))
	var victim int
	for i := range live {
		victim = i
		break
	}
	writes := make(chan struct{})
	go func() {
		defer close(writes)
		x.Search(live[victim], 3)
		x.Delete(id(victim))
		for i := range 50 {
			x.Add(id(20_000+i), indextest.RandomUnit(r, dim))
		}
	}()
	select {
	case <-writes:
	case <-time.After(30 * time.Second):
		t.Fatal("writes waited for the snapshot being written")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	y, err := hnsw.ReadSnapshot(bytes.NewReader(buf.Bytes()), embedder, dim, hnsw.Options{FlatLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if y.Len() != len(live) || !y.Has(id(victim)) || y.Has(id(20_000)) {
		t.Fatalf("snapshot is not the index as copied: %d live (want %d), victim %v, later add %v",
			y.Len(), len(live), y.Has(id(victim)), y.Has(id(20_000)))
	}
	for i, v := range live {
		if hits := y.Search(v, 1); len(hits) != 1 || hits[0].ID != id(i) {
			t.Fatalf("vector %d wrong in the snapshot: %v", i, hits)
		}
	}
}

// TestSnapshotReusesNoSlotWhileWriting: slots freed by a repair cycle are
// not reused while a snapshot shares the vectors, and are afterwards.
func TestSnapshotReusesNoSlotWhileWriting(t *testing.T) {
	const dim = 8
	r := rand.New(rand.NewPCG(2, 4))
	x := hnsw.New(dim, hnsw.Options{FlatLimit: 10}) // flat up to 10: deletes free slots at once
	vecs := map[int][]float32{}
	for i := range 8 {
		vecs[i] = indextest.RandomUnit(r, dim)
		x.Add(id(i), vecs[i])
	}
	paused, release := make(chan struct{}), make(chan struct{})
	hnsw.SetSnapHook(x, func() {
		close(paused)
		<-release
	})
	var buf bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- x.WriteSnapshot(&buf, embedder) }()
	<-paused
	x.Delete(id(0)) // an unlinked (flat) node: its slot is freed at once
	if hnsw.FreeSlots(x) != 1 {
		t.Fatalf("free slots %d", hnsw.FreeSlots(x))
	}
	x.Add(id(100), indextest.RandomUnit(r, dim)) // must not overwrite slot 0's vector
	if hnsw.FreeSlots(x) != 1 {
		t.Fatal("a freed slot was reused while a snapshot was being written")
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	y, err := hnsw.ReadSnapshot(bytes.NewReader(buf.Bytes()), embedder, dim, hnsw.Options{FlatLimit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vecs {
		if hits := y.Search(v, 1); len(hits) != 1 || hits[0].ID != id(i) || hits[0].Score < 0.9999 {
			t.Fatalf("vector %d changed under the snapshot: %v", i, hits)
		}
	}
	x.Add(id(101), indextest.RandomUnit(r, dim))
	if hnsw.FreeSlots(x) != 0 {
		t.Fatal("the freed slot is not reused after the snapshot")
	}
}

// TestReserve: after Reserve(n), storing n vectors copies no array.
func TestReserve(t *testing.T) {
	const dim, n = 8, 3000
	r := rand.New(rand.NewPCG(1, 1))
	for _, o := range []hnsw.Options{{}, {FlatLimit: -1}} {
		x := hnsw.New(dim, o)
		x.AddUnbuilt(id(0), indextest.RandomUnit(r, dim))
		x.Reserve(n)
		st := x.Stats()
		for i := 1; i < n; i++ {
			x.AddUnbuilt(id(i), indextest.RandomUnit(r, dim))
		}
		if after := x.Stats(); after.VectorBytes != st.VectorBytes || after.GraphBytes-st.GraphBytes != int64(n-1)*48 {
			t.Fatalf("%+v: arrays grew after Reserve: %+v, then %+v", o, st, after)
		}
		if x.Len() != n {
			t.Fatalf("Len %d", x.Len())
		}
	}
}
