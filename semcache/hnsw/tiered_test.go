package hnsw_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/hnsw"
	"github.com/semgate/semgate/semcache/indextest"
)

// TestTieredMigrates: exact while at most FlatLimit vectors, exact while
// migrating, then on the graph with every vector still found.
func TestTieredMigrates(t *testing.T) {
	const dim, limit = 16, 200
	r := rand.New(rand.NewPCG(7, 7))
	x := hnsw.New(dim, hnsw.Options{FlatLimit: limit})
	oracle := semcache.NewFlatIndex(dim)
	vecs := map[int][]float32{}
	add := func(i int) {
		v := indextest.RandomUnit(r, dim)
		x.Add(id(i), v)
		oracle.Add(id(i), v)
		vecs[i] = v
	}
	exact := func(stage string) {
		t.Helper()
		for range 50 {
			q := indextest.RandomUnit(r, dim)
			if got, want := x.Search(q, 5), oracle.Search(q, 5); !sameHits(got, want) {
				t.Fatalf("%s: %v, want %v", stage, got, want)
			}
		}
	}
	for i := range limit {
		add(i)
	}
	if x.Stats().Graph || x.Stats().Levels != 0 {
		t.Fatalf("graph before the limit: %+v", x.Stats())
	}
	exact("flat")
	add(limit) // past the limit: migration starts, a few vectors per write
	if x.Stats().Graph {
		t.Fatal("migration finished in one write")
	}
	exact("migrating")
	x.Delete(id(3)) // deletes during migration
	oracle.Delete(id(3))
	delete(vecs, 3)
	for i := limit + 1; !x.Stats().Graph; i++ {
		if i > 2*limit {
			t.Fatal("migration does not finish")
		}
		add(i)
	}
	if err := hnsw.Check(x); err != nil {
		t.Fatal(err)
	}
	for i, v := range vecs {
		if hits := x.Search(v, 1); len(hits) != 1 || hits[0].ID != id(i) {
			t.Fatalf("vector %d lost in migration: %v", i, hits)
		}
	}
	if x.Len() != len(vecs) {
		t.Fatalf("Len %d, want %d", x.Len(), len(vecs))
	}
	qs := make([][]float32, 100)
	for i := range qs {
		qs[i] = indextest.RandomUnit(r, dim)
	}
	if got := recallAt(x, oracle, qs, 10); got < 0.95 {
		t.Fatalf("recall@10 after migration %.3f", got)
	}
}

func TestOptionsValidate(t *testing.T) {
	var zero hnsw.Options
	if err := zero.Validate(); err != nil {
		t.Fatalf("zero options: %v", err)
	}
	for _, ok := range []hnsw.Options{{SnapshotInterval: -1}, {SnapshotInterval: time.Second, SnapshotMinChanges: 1}} {
		if err := ok.Validate(); err != nil {
			t.Fatalf("%+v: %v", ok, err)
		}
	}
	bad := hnsw.Options{M: 1, EfConstruction: -1, EfSearch: 5000, FlatLimit: -2, RebuildFraction: 1,
		SnapshotInterval: 10 * time.Millisecond, SnapshotMinChanges: -1}
	err := bad.Validate()
	if !errors.Is(err, hnsw.ErrInvalidOptions) {
		t.Fatalf("got %v", err)
	}
	for _, f := range []string{"m:", "ef_construction", "ef_search", "flat_limit", "rebuild_fraction", "snapshot_interval", "snapshot_min_changes"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("%q not reported in %v", f, err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("New accepted invalid options")
		}
	}()
	hnsw.New(4, bad)
}

// sameHits compares ids exactly and scores to float rounding (the index's
// dot product is not the oracle's).
func sameHits(a, b []semcache.Hit) bool {
	return slices.EqualFunc(a, b, func(x, y semcache.Hit) bool {
		return x.ID == y.ID && math.Abs(float64(x.Score-y.Score)) < 1e-5
	})
}
