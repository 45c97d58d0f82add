package hnsw

import (
	"cmp"
	"slices"

	"github.com/semgate/semgate/semcache"
)

// migrateBatch is how many stored vectors each write links into the graph
// while an index migrates from flat to graph mode.
const migrateBatch = 8

// Add stores vec under id. An id that is present is updated: its old node
// becomes a tombstone and the new vector is inserted (re-adding the same
// vector does nothing). A vector of the wrong dimension is ignored.
func (x *Index) Add(id semcache.ID, vec []float32) {
	if len(vec) != x.dim {
		return
	}
	x.wmu.Lock()
	defer x.wmu.Unlock()
	slot, ok := x.store(id, vec)
	if !ok {
		return
	}
	if x.mode != modeFlat {
		x.link(slot)
	}
	x.maintain()
}

// store keeps vec under id as a node not linked yet, tombstoning the node
// id had; false when id already has this very vector. The caller holds
// wmu.
func (x *Index) store(id semcache.ID, vec []float32) (uint32, bool) {
	old, had := x.pos[id]
	if had && slices.Equal(x.vec(old), vec) {
		return 0, false
	}
	slot, appended := x.allocSlot()
	x.mu.Lock()
	if had {
		x.tombstoneLocked(old)
	}
	if appended {
		x.extendLocked()
	}
	copy(x.vec(slot), vec)
	x.ids[slot] = id
	x.state[slot] = stLive | fUnlinked
	x.level[slot] = 0
	if x.links0 != nil {
		x.links0[int(slot)*x.stride] = 0
	}
	x.pos[id] = slot
	x.live++
	x.mu.Unlock()
	x.changes.Add(1)
	return slot, true
}

// allocSlot returns a free slot, or the next new one after making room for
// it (outside mu: the copies only read the current arrays). While a
// snapshot is being written (see freeze) it reuses no free slot.
func (x *Index) allocSlot() (slot uint32, appended bool) {
	if n := len(x.free); n > 0 && x.frozen == 0 {
		slot = x.free[n-1]
		x.free = x.free[:n-1]
		return slot, false
	}
	n := len(x.state)
	vecs, ids, state := grow(x.vecs, x.dim), grow(x.ids, 1), grow(x.state, 1)
	level, uoff := grow(x.level, 1), grow(x.upperOff, 1)
	var l0 []uint32
	if x.links0 != nil {
		l0 = grow(x.links0, x.stride)
	}
	x.mu.Lock()
	x.vecs, x.ids, x.state, x.level, x.upperOff = vecs, ids, state, level, uoff
	if l0 != nil {
		x.links0 = l0
	}
	x.mu.Unlock()
	return uint32(n), true
}

// extendLocked lengthens the per-node arrays by one node; allocSlot made
// the room.
func (x *Index) extendLocked() {
	n := len(x.state) + 1
	x.vecs = x.vecs[:n*x.dim]
	x.ids, x.state, x.level, x.upperOff = x.ids[:n], x.state[:n], x.level[:n], x.upperOff[:n]
	if x.links0 != nil {
		x.links0 = x.links0[:n*x.stride]
	}
}

// link inserts stored node q into the graph: the paper's Algorithm 1. The
// searches and neighbour selections run without mu; the new lists are
// published under it at the end. A new node takes up to as many links as
// a layer holds (2·M on layer 0, M above) where the paper takes M on every
// layer, as FAISS does: on hard data (uniformly spread vectors) the fuller
// layer 0 finds near-duplicates at a lower ef_search (bench/indexbench,
// results/layer0-links-2026-11-25.md).
func (x *Index) link(q uint32) {
	L := x.randomLevel()
	var off uint32
	if L > 0 {
		off = x.allocUpper(L)
	}
	vq := x.vec(q)
	x.pending = x.pending[:0]
	if x.maxLevel >= 0 {
		s := x.w
		ep := item{dot(vq, x.vec(x.entry)), x.entry}
		for l := x.maxLevel; l > L; l-- {
			ep = x.greedy(vq, ep, l)
		}
		eps := append(s.eps[:0], ep.node)
		for l := min(L, x.maxLevel); l >= 0; l-- {
			best := x.searchLayer(s, vq, eps, x.o.EfConstruction, l, q)
			x.cand = s.res.drainSorted(x.cand[:0])
			eps = eps[:0]
			for _, c := range x.cand {
				eps = append(eps, c.node)
			}
			if len(eps) == 0 {
				eps = append(eps, best.node)
			}
			x.sel = x.selectNeighbors(x.cand, x.maxLinks(l), x.sel[:0])
			x.addPending(q, l, x.sel)
			for _, e := range x.sel {
				x.backlink(e.node, l, q, e.sim)
			}
		}
		s.eps = eps
	}
	x.mu.Lock()
	x.level[q], x.upperOff[q] = uint8(L), off
	x.links0[int(q)*x.stride] = 0
	for l := 1; l <= L; l++ {
		x.upper[int(off)+(l-1)*x.ustr] = 0
	}
	x.publishLocked()
	x.state[q] = stLive
	if L > x.maxLevel {
		x.entry, x.maxLevel = q, L
	}
	x.mu.Unlock()
}

// allocUpper returns the offset of an unused block for a node of level L.
func (x *Index) allocUpper(L int) uint32 {
	if fl := x.freeUpper[L]; len(fl) > 0 {
		x.freeUpper[L] = fl[:len(fl)-1]
		return fl[len(fl)-1]
	}
	n := L * x.ustr
	u := grow(x.upper, n)
	off := len(u)
	x.mu.Lock()
	x.upper = u[:off+n]
	x.mu.Unlock()
	return uint32(off)
}

// selectNeighbors is the paper's Algorithm 4 (without extending the
// candidates or keeping pruned ones): walking cands from the most similar
// to the base, it keeps a candidate only if it is more similar to the base
// than to every candidate already kept, until m are kept. This keeps links
// pointing in diverse directions, which is what lets clustered data stay
// connected.
func (x *Index) selectNeighbors(cands []item, m int, dst []item) []item {
	for _, c := range cands {
		if len(dst) >= m {
			break
		}
		vc := x.vec(c.node)
		good := true
		for _, s := range dst {
			if dot(vc, x.vec(s.node)) > c.sim {
				good = false
				break
			}
		}
		if good {
			dst = append(dst, c)
		}
	}
	return dst
}

// backlink queues e's list on layer l with q added, shrunk by the
// heuristic when full. sim is e·q. Condemned links are dropped on the way.
func (x *Index) backlink(e uint32, l int, q uint32, sim float32) {
	cur := x.links(e, l)
	if c := x.maxLinks(l); len(cur) >= c {
		ve := x.vec(e)
		tmp := x.tmp[:0]
		for _, n := range cur {
			if x.state[n] != stCondemned {
				tmp = append(tmp, item{dot(ve, x.vec(n)), n})
			}
		}
		tmp = append(tmp, item{sim, q})
		sortDesc(tmp)
		x.tmp = tmp
		x.sel2 = x.selectNeighbors(tmp, c, x.sel2[:0])
		x.addPending(e, l, x.sel2)
		return
	}
	x.pending = append(x.pending, e, uint32(l), uint32(len(cur)+1))
	x.pending = append(x.pending, cur...)
	x.pending = append(x.pending, q)
}

// addPending queues node's new list on layer l.
func (x *Index) addPending(node uint32, l int, ls []item) {
	x.pending = append(x.pending, node, uint32(l), uint32(len(ls)))
	for _, it := range ls {
		x.pending = append(x.pending, it.node)
	}
}

// publishLocked writes the queued lists. The caller holds mu.
func (x *Index) publishLocked() {
	p := x.pending
	for len(p) > 0 {
		node, l, n := p[0], int(p[1]), int(p[2])
		x.setLinks(node, l, p[3:3+n])
		p = p[3+n:]
	}
	x.pending = x.pending[:0]
}

// sortDesc orders items most similar first.
func sortDesc(s []item) {
	slices.SortFunc(s, func(a, b item) int { return cmp.Compare(b.sim, a.sim) })
}

// maintain does a writer's share of background work: it starts and
// advances the flat-to-graph migration and the tombstone repair cycle.
func (x *Index) maintain() {
	// A deferred build is Build's to do (see AddUnbuilt).
	if !x.deferred && x.mode == modeFlat && (x.o.FlatLimit < 0 || x.live > x.o.FlatLimit) {
		x.startMigration()
	}
	if !x.deferred && x.mode == modeMigrating {
		x.migrateStep(migrateBatch)
	}
	if !x.cycle && x.dead > 0 && float64(x.dead) > x.o.RebuildFraction*float64(x.live+x.dead) {
		x.startCycle()
	}
	if x.cycle {
		x.repairStep()
	}
}

// startMigration allocates layer 0 and starts linking the stored vectors.
func (x *Index) startMigration() {
	l0 := make([]uint32, len(x.state)*x.stride, cap(x.state)*x.stride)
	x.mu.Lock()
	x.links0, x.mode = l0, modeMigrating
	x.mu.Unlock()
	x.migCursor = 0
}

// migrateStep links up to n unlinked vectors and returns how many it
// linked; when none is left searches switch to the graph.
func (x *Index) migrateStep(n int) int {
	linked := 0
	for x.migCursor < len(x.state) && linked < n {
		i := uint32(x.migCursor)
		x.migCursor++
		if x.state[i] == stLive|fUnlinked {
			x.link(i)
			linked++
		}
	}
	if x.migCursor >= len(x.state) {
		x.mu.Lock()
		x.mode = modeGraph
		x.mu.Unlock()
	}
	return linked
}
