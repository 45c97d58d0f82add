package semcache_test

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/indextest"
)

func TestFlatIndexConformance(t *testing.T) {
	indextest.Run(t, func(dim int) semcache.Index { return semcache.NewFlatIndex(dim) }, indextest.Options{})
}

func TestFlatIndexConcurrent(t *testing.T) {
	idx := semcache.NewFlatIndex(16)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for i := 0; i < 500; i++ {
				var id semcache.ID
				id[0], id[1] = byte(g), byte(i)
				v := indextest.RandomUnit(r, 16)
				idx.Add(id, v)
				idx.Search(v, 3)
				if i%3 == 0 {
					idx.Delete(id)
				}
			}
		}(g)
	}
	wg.Wait()
}

func BenchmarkFlatSearch10k(b *testing.B) {
	const dim = 512
	r := rand.New(rand.NewPCG(1, 2))
	idx := semcache.NewFlatIndex(dim)
	for i := 0; i < 10000; i++ {
		var id semcache.ID
		id[0], id[1] = byte(i>>8), byte(i)
		idx.Add(id, indextest.RandomUnit(r, dim))
	}
	q := indextest.RandomUnit(r, dim)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		idx.Search(q, 4)
	}
}
