package hnsw

import (
	"fmt"
)

// check verifies the index's structural invariants; tests call it after
// every batch of operations.
func (x *Index) check() error {
	x.wmu.Lock()
	defer x.wmu.Unlock()
	n := len(x.state)
	live, dead, linked := 0, 0, 0
	for i, s := range x.state {
		switch s &^ fUnlinked {
		case stLive:
			live++
			if p, ok := x.pos[x.ids[i]]; !ok || p != uint32(i) {
				return fmt.Errorf("live node %d not in the id map", i)
			}
		case stDead, stCondemned:
			dead++
		case stFree:
			if s != stFree {
				return fmt.Errorf("free node %d flagged unlinked", i)
			}
		}
		if x.linked(uint32(i)) {
			linked++
		} else if s&fUnlinked != 0 && x.mode == modeGraph {
			return fmt.Errorf("unlinked node %d in graph mode", i)
		}
	}
	if live != x.live || dead != x.dead || len(x.pos) != live {
		return fmt.Errorf("counts: live %d/%d, dead %d/%d, map %d", live, x.live, dead, x.dead, len(x.pos))
	}
	if (linked > 0) != (x.maxLevel >= 0) {
		return fmt.Errorf("%d linked nodes, top layer %d", linked, x.maxLevel)
	}
	if x.maxLevel >= 0 && (!x.linked(x.entry) || int(x.level[x.entry]) != x.maxLevel) {
		return fmt.Errorf("entry %d: state %#x level %d, top %d", x.entry, x.state[x.entry], x.level[x.entry], x.maxLevel)
	}
	seen := map[uint32]bool{}
	for _, f := range x.free {
		if x.state[f] != stFree || seen[f] {
			return fmt.Errorf("free list holds %d (state %#x)", f, x.state[f])
		}
		seen[f] = true
	}
	if x.links0 == nil {
		return nil
	}
	for i := range n {
		u := uint32(i)
		if !x.linked(u) {
			continue
		}
		if int(x.level[i]) > x.maxLevel {
			return fmt.Errorf("node %d above the top layer", i)
		}
		for l := 0; l <= int(x.level[i]); l++ {
			ls := x.links(u, l)
			if len(ls) > x.maxLinks(l) {
				return fmt.Errorf("node %d layer %d: %d links", i, l, len(ls))
			}
			dup := map[uint32]bool{}
			for _, t := range ls {
				switch {
				case int(t) >= n || t == u || !x.linked(t) || int(x.level[t]) < l || dup[t]:
					return fmt.Errorf("node %d layer %d: bad link to %d", i, l, t)
				case x.cycle && i < x.cursor && x.state[i] != stCondemned && x.state[t] == stCondemned:
					return fmt.Errorf("node %d layer %d: repaired node links to condemned %d", i, l, t)
				}
				dup[t] = true
			}
		}
	}
	return nil
}

// Check exposes check to the external tests.
func Check(x *Index) error { return x.check() }
