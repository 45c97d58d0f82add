package hnsw_test

import (
	"math"
	"math/rand/v2"

	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/indextest"
)

func id(i int) semcache.ID { return benchID(i) }

func idNum(x semcache.ID) int {
	return int(x[0])<<24 | int(x[1])<<16 | int(x[2])<<8 | int(x[3])
}

// clustered returns n unit vectors around c random centres: the shape of
// real embeddings, where near neighbours are much nearer than the rest.
func clustered(r *rand.Rand, n, dim, c int, spread float64) [][]float32 {
	centres := make([][]float32, c)
	for i := range centres {
		centres[i] = indextest.RandomUnit(r, dim)
	}
	out := make([][]float32, n)
	for i := range out {
		out[i] = perturb(r, centres[r.IntN(c)], spread)
	}
	return out
}

// perturb returns v plus Gaussian noise of the given per-vector norm,
// normalised.
func perturb(r *rand.Rand, v []float32, noise float64) []float32 {
	u := indextest.RandomUnit(r, len(v))
	out := make([]float32, len(v))
	var n float64
	for i := range v {
		f := float64(v[i]) + noise*float64(u[i])
		out[i] = float32(f)
		n += f * f
	}
	n = math.Sqrt(n)
	for i := range out {
		out[i] = float32(float64(out[i]) / n)
	}
	return out
}

// recallAt returns the share of the oracle's top k that idx returns.
func recallAt(idx, oracle semcache.Index, qs [][]float32, k int) float64 {
	found, total := 0, 0
	for _, q := range qs {
		want := map[semcache.ID]bool{}
		for _, h := range oracle.Search(q, k) {
			want[h.ID] = true
		}
		for _, h := range idx.Search(q, k) {
			if want[h.ID] {
				found++
			}
		}
		total += len(want)
	}
	return float64(found) / float64(total)
}
