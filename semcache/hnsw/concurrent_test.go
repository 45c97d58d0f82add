package hnsw_test

import (
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/semgate/semgate/semcache/hnsw"
	"github.com/semgate/semgate/semcache/indextest"
)

// TestConcurrent runs writers (adds, updates, deletes) against searches,
// size queries and snapshots; run it with -race. Afterwards the graph
// must be sound and every live vector its own nearest neighbour.
func TestConcurrent(t *testing.T) {
	const dim, writers, searchers = 16, 2, 3
	ops := 1500
	if raceEnabled {
		ops = 300
	}
	x := hnsw.New(dim, hnsw.Options{FlatLimit: 100, RebuildFraction: 0.05})
	finals := make([]map[int][]float32, writers)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			live := map[int][]float32{}
			for range ops {
				i := w*100_000 + r.IntN(ops/2)
				if r.IntN(4) == 0 {
					x.Delete(id(i))
					delete(live, i)
					continue
				}
				v := indextest.RandomUnit(r, dim)
				x.Add(id(i), v)
				live[i] = v
			}
			finals[w] = live
		}()
	}
	var readers sync.WaitGroup
	for s := range searchers {
		readers.Add(1)
		go func() {
			defer readers.Done()
			r := rand.New(rand.NewPCG(uint64(s), 2))
			for {
				select {
				case <-stop:
					return
				default:
				}
				hits := x.Search(indextest.RandomUnit(r, dim), 1+r.IntN(20))
				for j := 1; j < len(hits); j++ {
					if hits[j].Score > hits[j-1].Score {
						t.Errorf("unsorted hits %v", hits)
						return
					}
				}
			}
		}()
	}
	readers.Add(1)
	go func() {
		defer readers.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = x.Len()
			_ = x.Stats()
			for _, i := range x.IDs() {
				_ = x.Has(i)
			}
			if err := x.WriteSnapshot(io.Discard, "e"); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	readers.Wait()
	if err := hnsw.Check(x); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, live := range finals {
		for i, v := range live {
			n++
			if hits := x.Search(v, 1); len(hits) != 1 || hits[0].ID != id(i) {
				t.Fatalf("live vector %d not its own nearest: %v", i, hits)
			}
		}
	}
	if x.Len() != n {
		t.Fatalf("Len %d, want %d", x.Len(), n)
	}
	if !x.Stats().Graph {
		t.Errorf("index never migrated to the graph")
	}
}
