package hnsw

import (
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/semgate/semgate/semcache"
)

// BenchmarkSnapshotHold measures what a snapshot costs the index's
// writers: the copy made under the writer lock (hold-ms, all a write waits
// for) against encoding the whole snapshot (encode-ms, to io.Discard: what
// the lock was held for before), at n stored vectors of 512 dimensions
// (the default embedder's) with the graph started, so that layer 0 is
// allocated for every node and the copy is its full size. n is
// SEMGATE_SNAPBENCH_N, default 100000; 1000000 needs about 3 GB:
//
//	SEMGATE_SNAPBENCH_N=1000000 go test -run '^$' -bench 'SearchWhileBuilding|SnapshotHold' -benchtime 3x ./semcache/hnsw/

func BenchmarkSnapshotHold(b *testing.B) {
	x := unbuiltIndex(b)
	x.Build(1) // layer 0 for every node
	b.ResetTimer()
	var hold, encode time.Duration
	for range b.N {
		t0 := time.Now()
		f := x.freeze()
		t1 := time.Now()
		if err := f.writeSnapshot(io.Discard, "bench"); err != nil {
			b.Fatal(err)
		}
		encode += time.Since(t1)
		hold += t1.Sub(t0)
		x.thaw()
	}
	b.ReportMetric(float64(hold.Microseconds())/1e3/float64(b.N), "hold-ms")
	b.ReportMetric(float64(encode.Microseconds())/1e3/float64(b.N), "encode-ms")
}

// BenchmarkSearchWhileBuilding is a search of an index whose graph is not
// built yet (SEMGATE_SNAPBENCH_N vectors of 512 dimensions, as above): the
// exact scan a partition answers with until the background build is done.
func BenchmarkSearchWhileBuilding(b *testing.B) {
	x := unbuiltIndex(b)
	q := x.vec(7)
	b.ResetTimer()
	for range b.N {
		x.Search(q, 8)
	}
}

var unbuilt *Index

// unbuiltIndex returns SEMGATE_SNAPBENCH_N (default 100000) random vectors
// of 512 dimensions stored with AddUnbuilt, made once per process.
func unbuiltIndex(b *testing.B) *Index {
	if unbuilt != nil {
		return unbuilt
	}
	n := 100_000
	if s := os.Getenv("SEMGATE_SNAPBENCH_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	const dim = 512
	x := New(dim, Options{})
	x.Reserve(n)
	r := rand.New(rand.NewPCG(1, 2))
	v := make([]float32, dim)
	for i := range n {
		var sum float64
		for j := range v {
			f := r.Float64() - 0.5
			v[j] = float32(f)
			sum += f * f
		}
		inv := float32(1 / math.Sqrt(sum))
		for j := range v {
			v[j] *= inv
		}
		var id semcache.ID
		id[0], id[1], id[2], id[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		x.AddUnbuilt(id, v)
	}
	unbuilt = x
	return x
}
