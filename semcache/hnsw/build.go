package hnsw

import "github.com/semgate/semgate/semcache"

// Deferred building (semcache.Builder): a cache loading a large partition
// at start-up stores its vectors with AddUnbuilt, which is as cheap as a
// copy, serves at once, and links them later with Build from a goroutine
// of its own, a few nodes per call. Until every stored vector is linked,
// searches are exact scans, as while migrating from flat mode: never
// wrong, slower on a large index (a scan reads every vector, 2 GB at 1M
// vectors of 512 dimensions).

// AddUnbuilt stores vec under id like Add, but does not link it into the
// graph: the index answers by exact scan until Build has linked every
// stored vector, and writes stop migrating (Build does it). Re-adding the
// same vector does nothing; a vector of the wrong dimension is ignored.
func (x *Index) AddUnbuilt(id semcache.ID, vec []float32) {
	if len(vec) != x.dim {
		return
	}
	x.wmu.Lock()
	defer x.wmu.Unlock()
	slot, ok := x.store(id, vec)
	if !ok {
		return
	}
	x.deferred = true
	switch x.mode {
	case modeGraph:
		x.mu.Lock()
		x.mode = modeMigrating
		x.mu.Unlock()
		x.migCursor = int(slot)
	case modeMigrating:
		x.migCursor = min(x.migCursor, int(slot))
	}
}

// Build links up to n stored vectors into the graph (starting it when the
// index has outgrown Options.FlatLimit) and reports whether the index is
// built: searches then use the graph, or an index within its flat limit
// needs none. It holds the writer lock for the n insertions only, so
// writes interleave with a build done in small steps. Once Build has been
// called, writes leave the linking to it until the index is built.
func (x *Index) Build(n int) bool {
	x.wmu.Lock()
	defer x.wmu.Unlock()
	if x.mode == modeFlat {
		if x.o.FlatLimit >= 0 && x.live <= x.o.FlatLimit {
			x.deferred = false
			return true
		}
		x.startMigration()
	}
	x.deferred = true
	if x.mode == modeMigrating {
		if k := x.migrateStep(max(n, 1)); k > 0 {
			x.changes.Add(uint64(k))
		}
	}
	if x.mode == modeGraph {
		x.deferred = false
		return true
	}
	return false
}

// Built reports whether searches use a graph that holds every stored
// vector, or the index is within its flat limit and needs none.
func (x *Index) Built() bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	switch x.mode {
	case modeGraph:
		return true
	case modeFlat:
		return x.o.FlatLimit >= 0 && x.live <= x.o.FlatLimit
	}
	return false
}

// Reserve makes room for n nodes in all (semcache.Reserver), so that
// storing that many vectors copies no array: growing a large index one
// vector at a time copies its arrays over and over (its vectors alone are
// 2 GB at 1M vectors of 512 dimensions).
func (x *Index) Reserve(n int) {
	x.wmu.Lock()
	defer x.wmu.Unlock()
	k := n - len(x.state)
	if k <= 0 {
		return
	}
	vecs, ids, state := reserve(x.vecs, k*x.dim), reserve(x.ids, k), reserve(x.state, k)
	level, uoff := reserve(x.level, k), reserve(x.upperOff, k)
	var l0 []uint32
	if x.links0 != nil {
		l0 = reserve(x.links0, k*x.stride)
	}
	x.mu.Lock()
	x.vecs, x.ids, x.state, x.level, x.upperOff = vecs, ids, state, level, uoff
	if l0 != nil {
		x.links0 = l0
	}
	x.mu.Unlock()
}

// reserve returns s with room for exactly n more elements (or s, if it
// has it), copied outside mu like grow's.
func reserve[T any](s []T, n int) []T {
	if cap(s)-len(s) >= n {
		return s
	}
	t := make([]T, len(s), len(s)+n)
	copy(t, s)
	return t
}

// Version counts the index's changes: vectors added and deleted, and
// nodes linked by Build. The cache snapshots a partition again once it has
// changed enough.
func (x *Index) Version() uint64 { return x.changes.Load() }
