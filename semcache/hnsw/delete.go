package hnsw

import (
	"slices"

	"github.com/semgate/semgate/semcache"
)

// Repair budget per write: a repair cycle checks up to repairScan nodes
// and rewrites up to repairLists link lists per Add or Delete, so a write
// never pays for more than a bounded slice of the cycle.
const (
	repairScan  = 1024
	repairLists = 16
)

// Delete removes id; deleting an absent id does nothing. In the graph the
// node becomes a tombstone: searches route through it but never return
// it. Once tombstones pass Options.RebuildFraction of the nodes a repair
// cycle starts (see the package documentation).
func (x *Index) Delete(id semcache.ID) {
	x.wmu.Lock()
	defer x.wmu.Unlock()
	i, ok := x.pos[id]
	if !ok {
		return
	}
	x.mu.Lock()
	x.tombstoneLocked(i)
	x.mu.Unlock()
	x.changes.Add(1)
	x.maintain()
}

// tombstoneLocked retires live node i: a node not in the graph is freed at
// once, a linked one becomes a tombstone. The caller holds wmu and mu.
func (x *Index) tombstoneLocked(i uint32) {
	if id := x.ids[i]; x.pos[id] == i {
		delete(x.pos, id)
	}
	x.live--
	if x.state[i]&fUnlinked != 0 {
		x.state[i] = stFree
		x.free = append(x.free, i)
		return
	}
	x.state[i] = stDead
	x.dead++
	x.deadList = append(x.deadList, i)
}

// startCycle condemns the current tombstones: the cycle will remove every
// link to them, then free their slots. Tombstones made during the cycle
// wait for the next one.
func (x *Index) startCycle() {
	x.condemned, x.deadList = x.deadList, x.condemned[:0]
	x.mu.Lock()
	for _, c := range x.condemned {
		x.state[c] = stCondemned
	}
	x.mu.Unlock()
	x.cycle, x.cursor = true, 0
}

// repairStep advances the repair cycle by one write's budget. Invariant:
// nodes before the cursor have no link to a condemned node, and no new
// link to one is ever made (insertions select live nodes only and drop
// condemned links when they shrink a list), so when the cursor reaches the
// end the condemned nodes are unreferenced.
func (x *Index) repairStep() {
	scanned, repaired := 0, 0
	x.pending = x.pending[:0]
	for x.cursor < len(x.state) && scanned < repairScan && repaired < repairLists {
		u := uint32(x.cursor)
		x.cursor++
		scanned++
		if !x.linked(u) || x.state[u] == stCondemned {
			continue
		}
		for l := 0; l <= int(x.level[u]); l++ {
			if x.hasCondemned(u, l) {
				x.repair(u, l)
				repaired++
			}
		}
	}
	if len(x.pending) > 0 {
		x.mu.Lock()
		x.publishLocked()
		x.mu.Unlock()
	}
	if x.cursor >= len(x.state) {
		x.finishCycle()
	}
}

func (x *Index) hasCondemned(u uint32, l int) bool {
	for _, n := range x.links(u, l) {
		if x.state[n] == stCondemned {
			return true
		}
	}
	return false
}

// repair queues a new list for u on layer l without condemned nodes. u
// keeps its other links (so no node loses an in-link to a repair), and the
// places of the condemned ones go to the heuristic's picks among the
// condemned nodes' own links, then to the most similar of the rest (the
// paper's keepPrunedConnections), so that nodes reached only through a
// condemned node stay reachable. If that leaves u with no link at all, the
// candidates are the results of a search for u as at insertion.
func (x *Index) repair(u uint32, l int) {
	vu := x.vec(u)
	s := x.w
	s.vis.reset(len(x.state))
	s.vis.visit(u)
	cur := x.links(u, l)
	keep := x.sel2[:0]
	for _, n := range cur {
		if x.state[n] != stCondemned && s.vis.visit(n) {
			keep = append(keep, item{dot(vu, x.vec(n)), n})
		}
	}
	tmp := x.tmp[:0]
	for _, c := range cur {
		if x.state[c] != stCondemned {
			continue
		}
		for _, n := range x.links(c, l) {
			if st := x.state[n]; st != stCondemned && st != stFree && s.vis.visit(n) {
				tmp = append(tmp, item{dot(vu, x.vec(n)), n})
			}
		}
	}
	if len(keep) == 0 && len(tmp) == 0 {
		tmp = x.searchFor(u, l, tmp)
	}
	sortDesc(tmp)
	x.tmp = tmp
	room := x.maxLinks(l)
	n0 := len(keep)
	keep = x.selectNeighbors(tmp, room, keep) // appends to the kept links
	if len(keep) < room {
		// Fill the rest with the pruned candidates, most similar first.
		for _, c := range tmp {
			if len(keep) == room {
				break
			}
			if !slices.ContainsFunc(keep[n0:], func(k item) bool { return k.node == c.node }) {
				keep = append(keep, c)
			}
		}
	}
	x.sel2 = keep
	x.addPending(u, l, keep)
}

// searchFor appends to dst the live nodes other than u that a search for
// u's vector finds on layer l.
func (x *Index) searchFor(u uint32, l int, dst []item) []item {
	s := x.w
	vu := x.vec(u)
	ep := item{dot(vu, x.vec(x.entry)), x.entry}
	for k := x.maxLevel; k > l; k-- {
		ep = x.greedy(vu, ep, k)
	}
	s.eps = append(s.eps[:0], ep.node)
	x.searchLayer(s, vu, s.eps, x.o.EfConstruction, l, u)
	for _, it := range s.res {
		if x.state[it.node] != stCondemned {
			dst = append(dst, it)
		}
	}
	return dst
}

// finishCycle frees the condemned nodes, which nothing links to any more,
// and moves the entry point if it was one of them.
func (x *Index) finishCycle() {
	x.mu.Lock()
	entryGone := false
	for _, c := range x.condemned {
		x.state[c] = stFree
		x.links0[int(c)*x.stride] = 0
		if c == x.entry {
			entryGone = true
		}
	}
	x.dead -= len(x.condemned)
	if entryGone {
		x.entry, x.maxLevel = 0, -1
		for i := range x.state {
			if x.linked(uint32(i)) && int(x.level[i]) > x.maxLevel {
				x.entry, x.maxLevel = uint32(i), int(x.level[i])
			}
		}
	}
	x.mu.Unlock()
	for _, c := range x.condemned {
		if L := x.level[c]; L > 0 {
			x.freeUpper[L] = append(x.freeUpper[L], x.upperOff[c])
		}
	}
	x.free = append(x.free, x.condemned...)
	x.condemned = x.condemned[:0]
	x.cycle = false
}
