package hnsw

// Test hooks for the external test package.

// Cycles reports whether a repair cycle is running and how many tombstones
// it condemned.
func Cycles(x *Index) (running bool, condemned int) {
	x.wmu.Lock()
	defer x.wmu.Unlock()
	return x.cycle, len(x.condemned)
}

// FreeSlots returns the number of free slots.
func FreeSlots(x *Index) int {
	x.wmu.Lock()
	defer x.wmu.Unlock()
	return len(x.free)
}

// SetSnapHook makes WriteSnapshot call f after copying the index, outside
// the writer lock. Call it before any concurrent use.
func SetSnapHook(x *Index, f func()) { x.snapHook = f }
