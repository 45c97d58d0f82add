package hnsw_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/hnsw"
	"github.com/semgate/semgate/semcache/indextest"
)

func benchID(i int) semcache.ID {
	var id semcache.ID
	id[0], id[1], id[2], id[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
	return id
}

func randomVecs(seed uint64, n, dim int) [][]float32 {
	r := rand.New(rand.NewPCG(seed, seed))
	vs := make([][]float32, n)
	for i := range vs {
		vs[i] = indextest.RandomUnit(r, dim)
	}
	return vs
}

// built caches indexes across benchmarks: building 100k vectors takes a
// while.
var built = map[string]*hnsw.Index{}

func buildIndex(b *testing.B, n, dim int) *hnsw.Index {
	key := fmt.Sprint(n, dim)
	if x, ok := built[key]; ok {
		return x
	}
	b.Helper()
	x := hnsw.New(dim, hnsw.Options{FlatLimit: -1})
	for i, v := range randomVecs(1, n, dim) {
		x.Add(benchID(i), v)
	}
	built[key] = x
	return x
}

// BenchmarkAdd inserts into a graph of 10k random vectors (the graph keeps
// growing by b.N).
func BenchmarkAdd(b *testing.B) {
	for _, n := range []int{10_000} {
		b.Run(fmt.Sprintf("n=%dk/dim=256", n/1000), func(b *testing.B) {
			x := hnsw.New(256, hnsw.Options{FlatLimit: -1})
			for i, v := range randomVecs(1, n, 256) {
				x.Add(benchID(i), v)
			}
			vs := randomVecs(2, 4096, 256)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				x.Add(benchID(n+i), vs[i%len(vs)])
			}
		})
	}
}

// BenchmarkSearch searches graphs of 10k and 100k random vectors (default
// options, no flat tier) with random queries: the worst case, where the
// beam search explores the most. -short skips 100k (a build of minutes).
func BenchmarkSearch(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		for _, k := range []int{1, 10} {
			b.Run(fmt.Sprintf("n=%dk/dim=256/k=%d", n/1000, k), func(b *testing.B) {
				if testing.Short() && n > 10_000 {
					b.Skip("short")
				}
				x := buildIndex(b, n, 256)
				qs := randomVecs(3, 1024, 256)
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					x.Search(qs[i%len(qs)], k)
				}
			})
		}
	}
}
