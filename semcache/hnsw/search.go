package hnsw

import (
	"math"

	"github.com/semgate/semgate/semcache"
)

// noNode is an exclusion that matches no node.
const noNode = ^uint32(0)

// searcher is one search's scratch space, pooled so that a search
// allocates only its result.
type searcher struct {
	vis  visited
	cand maxHeap
	res  minHeap
	buf  []item
	eps  []uint32
	nb   []uint32
	sink float32
}

// lineFloats is the number of float32s in a 64-byte cache line.
const lineFloats = 16

// touch reads one word of every cache line of the nodes' vectors, so that
// the memory system fetches them in parallel.
func (x *Index) touch(s *searcher, nodes []uint32) {
	var acc float32
	for _, n := range nodes {
		v := x.vec(n)
		for i := 0; i < len(v); i += lineFloats {
			acc += v[i]
		}
	}
	s.sink += acc // kept, so the loads are not optimised away
}

// Search returns up to k live vectors most similar to q, best first. In
// flat mode (and while the graph is being built) it is exact; on the graph
// it explores max(EfSearch, k) candidates on layer 0.
func (x *Index) Search(q []float32, k int) []semcache.Hit {
	if k <= 0 || len(q) != x.dim {
		return nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.live == 0 {
		return nil
	}
	s := x.pool.Get().(*searcher)
	defer x.pool.Put(s)
	if x.mode != modeGraph || x.maxLevel < 0 {
		x.scan(s, q, k)
	} else {
		x.searchGraph(s, q, max(x.o.EfSearch, k))
		for len(s.res) > k {
			s.res.pop()
		}
	}
	s.buf = s.res.drainSorted(s.buf[:0])
	hits := make([]semcache.Hit, len(s.buf))
	for i, it := range s.buf {
		hits[i] = semcache.Hit{ID: x.ids[it.node], Score: it.sim}
	}
	return hits
}

// searchGraph leaves in s.res the ef best live nodes found for q.
func (x *Index) searchGraph(s *searcher, q []float32, ef int) {
	ep := item{dot(q, x.vec(x.entry)), x.entry}
	for l := x.maxLevel; l > 0; l-- {
		ep = x.greedy(q, ep, l)
	}
	s.eps = append(s.eps[:0], ep.node)
	x.searchLayer(s, q, s.eps, ef, 0, noNode)
}

// scan leaves in s.res the k live vectors most similar to q, by brute
// force.
func (x *Index) scan(s *searcher, q []float32, k int) {
	s.res = s.res[:0]
	for i, st := range x.state {
		if st&^fUnlinked != stLive {
			continue
		}
		sim := dot(q, x.vec(uint32(i)))
		if len(s.res) < k {
			s.res.push(item{sim, uint32(i)})
		} else if sim > s.res[0].sim {
			s.res.pop()
			s.res.push(item{sim, uint32(i)})
		}
	}
}

// greedy walks layer l from ep to a local optimum for q (the paper's
// SEARCH-LAYER with ef = 1). Tombstones route like any node.
func (x *Index) greedy(q []float32, ep item, l int) item {
	for changed := true; changed; {
		changed = false
		for _, n := range x.links(ep.node, l) {
			if sim := dot(q, x.vec(n)); sim > ep.sim {
				ep, changed = item{sim, n}, true
			}
		}
	}
	return ep
}

// searchLayer is the paper's Algorithm 2 on layer l from eps: it leaves in
// s.res (a min-heap) the ef most similar live nodes other than exclude and
// returns the most similar node visited, tombstones included, for when no
// live node was found. Tombstones are expanded like live nodes but never
// enter the results.
func (x *Index) searchLayer(s *searcher, q []float32, eps []uint32, ef, l int, exclude uint32) item {
	s.vis.reset(len(x.state))
	s.cand, s.res = s.cand[:0], s.res[:0]
	best := item{sim: float32(math.Inf(-1)), node: noNode}
	for _, e := range eps {
		if !s.vis.visit(e) {
			continue
		}
		it := item{dot(q, x.vec(e)), e}
		s.cand.push(it)
		if x.state[e] == stLive && e != exclude {
			s.res.push(it)
		}
		if it.sim > best.sim {
			best = it
		}
	}
	for len(s.res) > ef {
		s.res.pop()
	}
	for len(s.cand) > 0 {
		c := s.cand.pop()
		if len(s.res) >= ef && c.sim < s.res[0].sim {
			break
		}
		// Gather the unvisited neighbours and touch each one's vector
		// first: the loads are independent, so their cache misses overlap
		// instead of stalling one dot product at a time.
		nb := s.nb[:0]
		for _, n := range x.links(c.node, l) {
			if s.vis.visit(n) {
				nb = append(nb, n)
			}
		}
		s.nb = nb
		x.touch(s, nb)
		for _, n := range nb {
			sim := dot(q, x.vec(n))
			if len(s.res) >= ef && sim <= s.res[0].sim {
				continue
			}
			it := item{sim, n}
			s.cand.push(it)
			if x.state[n] == stLive && n != exclude {
				s.res.push(it)
				if len(s.res) > ef {
					s.res.pop()
				}
			}
			if sim > best.sim {
				best = it
			}
		}
	}
	return best
}
