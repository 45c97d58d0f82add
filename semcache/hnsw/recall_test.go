package hnsw_test

import (
	"math/rand/v2"
	"testing"

	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/hnsw"
	"github.com/semgate/semgate/semcache/indextest"
)

// TestRecall builds a graph with the default options on a fixed seed and
// holds it to the targets the cache needs: recall@10 ≥ 0.95 on clustered
// vectors (the shape of real embeddings), near-duplicates found first
// ≥ 99% of the time, and recall@10 ≥ 0.90 on uniformly random vectors,
// the hardest case for any graph index. Under the race detector the set
// is smaller.
func TestRecall(t *testing.T) {
	n, dim := 20_000, 64
	if raceEnabled || testing.Short() {
		n = 2_000
	}
	r := rand.New(rand.NewPCG(42, 42))
	vecs := clustered(r, n, dim, n/20, 0.6)
	x := hnsw.New(dim, hnsw.Options{FlatLimit: -1})
	oracle := semcache.NewFlatIndex(dim)
	for i, v := range vecs {
		x.Add(id(i), v)
		oracle.Add(id(i), v)
	}
	qs := clustered(r, 200, dim, 200, 0.6)
	if got := recallAt(x, oracle, qs, 10); got < 0.95 {
		t.Errorf("clustered recall@10 %.3f < 0.95", got)
	} else {
		t.Logf("clustered recall@10 %.3f", got)
	}
	hits := 0
	for range 500 {
		q := perturb(r, vecs[r.IntN(n)], 0.3)
		want := oracle.Search(q, 1)
		if got := x.Search(q, 1); len(got) == 1 && got[0].ID == want[0].ID {
			hits++
		}
	}
	if got := float64(hits) / 500; got < 0.99 {
		t.Errorf("near-duplicate recall@1 %.3f < 0.99", got)
	} else {
		t.Logf("near-duplicate recall@1 %.3f", got)
	}

	rx := hnsw.New(dim, hnsw.Options{FlatLimit: -1})
	ro := semcache.NewFlatIndex(dim)
	for i := range n / 2 {
		v := indextest.RandomUnit(r, dim)
		rx.Add(id(i), v)
		ro.Add(id(i), v)
	}
	rq := make([][]float32, 200)
	for i := range rq {
		rq[i] = indextest.RandomUnit(r, dim)
	}
	if got := recallAt(rx, ro, rq, 10); got < 0.90 {
		t.Errorf("random recall@10 %.3f < 0.90", got)
	} else {
		t.Logf("random recall@10 %.3f", got)
	}
}
