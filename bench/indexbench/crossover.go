package main

import (
	"log"
	"slices"
	"time"

	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/hnsw"
)

// runCrossover measures, by index size, the exact flat scan against the
// graph: where the graph's search gets faster is where FlatLimit belongs.
func runCrossover(c *config) report {
	var rep report
	sizes := []int{500, 1000, 2000, 4000, 8000, 16000, 32000}
	for _, dim := range c.dims {
		for _, n := range sizes {
			base := randomBase(c.seed, n, dim)
			qs := nearDup(c.seed+2, base, c.latQ, c.noiseCos)
			rq := randomQueries(c.seed+3, 200, dim)
			o := c.opts
			o.FlatLimit = -1
			g := hnsw.New(dim, o)
			start := time.Now()
			for i, v := range base {
				g.Add(toID(i), v)
			}
			gb := time.Since(start).Seconds()
			// The flat tier is the index itself below its flat limit: an
			// exact scan with the same dot product.
			f := hnsw.New(dim, hnsw.Options{FlatLimit: 1 << 30})
			start = time.Now()
			for i, v := range base {
				f.Add(toID(i), v)
			}
			fb := time.Since(start).Seconds()
			x := xrow{Dim: dim, N: n, BuildSec: gb, FlatBuildS: fb}
			x.FlatP50, x.FlatP99 = latency(semIndex{f}, qs, 4, c.runs)
			x.GraphP50, x.GraphP99 = latency(semIndex{g}, qs, 4, c.runs)
			found, total := 0, 0
			for _, q := range rq {
				want := f.Search(q, 4)
				got := g.Search(q, 4)
				for _, h := range got {
					if slices.ContainsFunc(want, func(w semcache.Hit) bool { return w.ID == h.ID }) {
						found++
					}
				}
				total += len(want)
			}
			x.Recall4 = float64(found) / float64(total)
			log.Printf("crossover dim %d n %d: flat p50 %.0fµs, graph p50 %.0fµs, recall@4 %.3f, build %.2fs", dim, n, x.FlatP50, x.GraphP50, x.Recall4, gb)
			rep.Crossover = append(rep.Crossover, x)
		}
	}
	return rep
}
