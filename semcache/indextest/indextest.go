// Package indextest is the conformance suite every semcache.Index
// implementation runs. The exact FlatIndex is the oracle: an approximate
// index must agree with brute force on small sets and keep high recall on
// larger ones.
package indextest

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/semgate/semgate/semcache"
)

// Options tunes the suite for an implementation.
type Options struct {
	// MinRecall10 is the recall@10 against brute force required at N
	// random vectors. Default 1 (exact).
	MinRecall10 float64
	// N is the size of the recall test. Default 2000.
	N int
}

// RandomUnit returns a random unit vector.
func RandomUnit(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	var n float64
	for i := range v {
		f := r.NormFloat64()
		v[i] = float32(f)
		n += f * f
	}
	n = math.Sqrt(n)
	for i := range v {
		v[i] = float32(float64(v[i]) / n)
	}
	return v
}

func id(i int) semcache.ID {
	var x semcache.ID
	x[0], x[1], x[2], x[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
	x[15] = 0xA5
	return x
}

// Run checks an Index built by newIndex.
func Run(t *testing.T, newIndex func(dim int) semcache.Index, o Options) {
	if o.MinRecall10 == 0 {
		o.MinRecall10 = 1
	}
	if o.N == 0 {
		o.N = 2000
	}
	const dim = 32
	t.Run("empty", func(t *testing.T) {
		idx := newIndex(dim)
		if hits := idx.Search(RandomUnit(rand.New(rand.NewPCG(1, 1)), dim), 5); len(hits) != 0 {
			t.Fatalf("empty index returned %v", hits)
		}
	})
	t.Run("finds itself", func(t *testing.T) {
		r := rand.New(rand.NewPCG(2, 2))
		idx := newIndex(dim)
		vecs := make([][]float32, 200)
		for i := range vecs {
			vecs[i] = RandomUnit(r, dim)
			idx.Add(id(i), vecs[i])
		}
		for i, v := range vecs {
			hits := idx.Search(v, 1)
			if len(hits) != 1 || hits[0].ID != id(i) || math.Abs(float64(hits[0].Score)-1) > 1e-4 {
				t.Fatalf("vector %d: %v", i, hits)
			}
		}
	})
	t.Run("ordered and bounded", func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 3))
		idx := newIndex(dim)
		for i := 0; i < 50; i++ {
			idx.Add(id(i), RandomUnit(r, dim))
		}
		hits := idx.Search(RandomUnit(r, dim), 10)
		if len(hits) != 10 {
			t.Fatalf("%d hits", len(hits))
		}
		for i := 1; i < len(hits); i++ {
			if hits[i].Score > hits[i-1].Score {
				t.Fatalf("not sorted: %v", hits)
			}
		}
		if got := idx.Search(RandomUnit(r, dim), 100); len(got) != 50 {
			t.Fatalf("k > n returned %d", len(got))
		}
		if got := idx.Search(RandomUnit(r, dim), 0); len(got) != 0 {
			t.Fatal("k = 0 returned hits")
		}
	})
	t.Run("delete and update", func(t *testing.T) {
		r := rand.New(rand.NewPCG(4, 4))
		idx := newIndex(dim)
		oracle := semcache.NewFlatIndex(dim)
		live := map[int][]float32{}
		for step := 0; step < 2000; step++ {
			i := r.IntN(100)
			switch op := r.IntN(3); {
			case op < 2:
				v := RandomUnit(r, dim)
				idx.Add(id(i), v)
				oracle.Add(id(i), v)
				live[i] = v
			default:
				idx.Delete(id(i))
				oracle.Delete(id(i))
				delete(live, i)
			}
		}
		for i, v := range live {
			hits := idx.Search(v, 1)
			if len(hits) == 0 || hits[0].ID != id(i) {
				t.Fatalf("live vector %d not found first: %v", i, hits)
			}
		}
		q := RandomUnit(r, dim)
		got, want := idx.Search(q, 5), oracle.Search(q, 5)
		if len(got) != len(want) {
			t.Fatalf("got %d hits, oracle %d", len(got), len(want))
		}
		for _, h := range got {
			if _, ok := live[int(h.ID[0])<<24|int(h.ID[1])<<16|int(h.ID[2])<<8|int(h.ID[3])]; !ok {
				t.Fatalf("deleted vector returned: %v", h)
			}
		}
		if s, ok := idx.(semcache.Sizer); ok && s.Len() != len(live) {
			t.Fatalf("Len %d, want %d", s.Len(), len(live))
		}
	})
	t.Run("recall", func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 5))
		idx := newIndex(dim)
		oracle := semcache.NewFlatIndex(dim)
		for i := 0; i < o.N; i++ {
			v := RandomUnit(r, dim)
			idx.Add(id(i), v)
			oracle.Add(id(i), v)
		}
		found, total := 0, 0
		for q := 0; q < 100; q++ {
			v := RandomUnit(r, dim)
			want := map[semcache.ID]bool{}
			for _, h := range oracle.Search(v, 10) {
				want[h.ID] = true
			}
			for _, h := range idx.Search(v, 10) {
				if want[h.ID] {
					found++
				}
			}
			total += len(want)
		}
		if recall := float64(found) / float64(total); recall < o.MinRecall10 {
			t.Fatalf("recall@10 %.3f < %.3f", recall, o.MinRecall10)
		}
	})
	t.Run("wrong dimension ignored", func(t *testing.T) {
		idx := newIndex(dim)
		idx.Add(id(1), make([]float32, dim+1))
		if hits := idx.Search(RandomUnit(rand.New(rand.NewPCG(6, 6)), dim), 1); len(hits) != 0 {
			t.Fatalf("a wrong-dimension vector was stored: %v", hits)
		}
	})
}
