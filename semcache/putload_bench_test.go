package semcache_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/hnsw"
)

// BenchmarkExactHitDuringPuts: exact lookups of a large graph partition's
// entries while another goroutine keeps putting new entries (with
// vectors) into it, as under a fill-heavy load. Reports the lookups'
// p50, p99 and max in ns.
func BenchmarkExactHitDuringPuts(b *testing.B) {
	const n, dim = 20_000, 128
	rng := rand.New(rand.NewPCG(3, 4))
	vec := func() []float32 {
		v := make([]float32, dim)
		var s float32
		for i := range v {
			v[i] = rng.Float32()*2 - 1
			s += v[i] * v[i]
		}
		inv := 1 / float32(math.Sqrt(float64(s)))
		for i := range v {
			v[i] *= inv
		}
		return v
	}
	st, err := semcache.OpenStore(semcache.StoreOptions{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	o := hnsw.Options{FlatLimit: 256}
	c, err := semcache.Open(st, semcache.Options{NoSync: true}, semcache.CacheConfig{EmbedderID: "emb", Dim: dim, Logger: quietLog,
		NewIndex: func(dim int) semcache.Index { return hnsw.New(dim, o) }})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	vecs := make([][]float32, n+200_000)
	for i := range vecs {
		vecs[i] = vec()
	}
	for i := range n {
		if err := c.Put(newEntry(i, 1), vecs[i]); err != nil {
			b.Fatal(err)
		}
	}
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := n; !stop.Load() && i < len(vecs); i++ {
			c.Put(newEntry(i, 1), vecs[i])
		}
	}()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if _, err := c.GetExact(eid(i%n), 0); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		time.Sleep(50 * time.Microsecond) // lookups spread over the puts
	}
	b.StopTimer()
	stop.Store(true)
	<-done
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2]), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100]), "p99-ns")
	b.ReportMetric(float64(lat[len(lat)-1]), "max-ns")
}
