package hnsw_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/hnsw"
	"github.com/semgate/semgate/semcache/indextest"
)

// TestDeleteUpdateProperty runs random sequences of adds, updates,
// re-adds and deletes against the flat oracle, in graph, tiered and
// lean-graph configurations with a low repair fraction so that repair
// cycles run and slots are reused. After every batch: the structure is
// sound, Len/Has/IDs agree with the oracle, every live vector is its own
// nearest neighbour and no deleted id is ever returned.
func TestDeleteUpdateProperty(t *testing.T) {
	configs := map[string]hnsw.Options{
		"graph":  {FlatLimit: -1, RebuildFraction: 0.05},
		"tiered": {FlatLimit: 60, RebuildFraction: 0.05},
		"lean":   {FlatLimit: -1, M: 4, EfConstruction: 24, EfSearch: 24, RebuildFraction: 0.3},
	}
	seeds := 4
	if raceEnabled || testing.Short() {
		seeds = 1
	}
	for name, o := range configs {
		for seed := range seeds {
			t.Run(fmt.Sprintf("%s/seed=%d", name, seed), func(t *testing.T) {
				o.Seed = uint64(seed)
				propertyRun(t, o, uint64(seed))
			})
		}
	}
}

func propertyRun(t *testing.T, o hnsw.Options, seed uint64) {
	const dim, pool, batches, perBatch = 8, 400, 12, 150
	r := rand.New(rand.NewPCG(seed, 99))
	x := hnsw.New(dim, o)
	oracle := semcache.NewFlatIndex(dim)
	live := map[int][]float32{}
	cycles := 0
	for b := range batches {
		// Alternate growth-heavy and delete-heavy batches.
		pDelete := 0.2
		if b%3 == 2 {
			pDelete = 0.7
		}
		for range perBatch {
			i := r.IntN(pool)
			if r.Float64() < pDelete {
				x.Delete(id(i))
				oracle.Delete(id(i))
				delete(live, i)
				continue
			}
			v := indextest.RandomUnit(r, dim)
			if old, ok := live[i]; ok && r.IntN(4) == 0 {
				v = old // re-adding the same vector is a no-op
			}
			x.Add(id(i), v)
			oracle.Add(id(i), v)
			live[i] = v
		}
		if running, _ := hnsw.Cycles(x); running {
			cycles++
		}
		if err := hnsw.Check(x); err != nil {
			t.Fatalf("batch %d: %v", b, err)
		}
		if x.Len() != len(live) || oracle.Len() != len(live) {
			t.Fatalf("batch %d: Len %d, want %d", b, x.Len(), len(live))
		}
		ids := x.IDs()
		if len(ids) != len(live) {
			t.Fatalf("batch %d: %d IDs, want %d", b, len(ids), len(live))
		}
		for _, got := range ids {
			if _, ok := live[idNum(got)]; !ok {
				t.Fatalf("batch %d: IDs lists deleted %v", b, got)
			}
		}
		for i := range pool {
			_, want := live[i]
			if x.Has(id(i)) != want {
				t.Fatalf("batch %d: Has(%d) = %v", b, i, !want)
			}
		}
		keys := make([]int, 0, len(live))
		for i := range live {
			keys = append(keys, i)
		}
		slices.Sort(keys)
		for _, i := range keys {
			hits := x.Search(live[i], 1)
			if len(hits) != 1 || hits[0].ID != id(i) {
				t.Fatalf("batch %d: live vector %d not its own nearest: %v", b, i, hits)
			}
		}
		for range 20 {
			for _, h := range x.Search(indextest.RandomUnit(r, dim), 25) {
				if _, ok := live[idNum(h.ID)]; !ok {
					t.Fatalf("batch %d: deleted id %d returned", b, idNum(h.ID))
				}
			}
		}
	}
	st := x.Stats()
	t.Logf("live %d, tombstones %d, nodes %d, free %d, batches with a repair cycle running %d", st.Live, st.Tombstones, st.Nodes, hnsw.FreeSlots(x), cycles)
	if o.FlatLimit < 0 && hnsw.FreeSlots(x)+st.Nodes-st.Live-st.Tombstones == 0 {
		t.Errorf("no slot was ever freed: repair cycles did not complete")
	}
}
