// Package semcache is semgate's semantic cache: request normalization,
// partition and exact keys, the vector index, and the Pebble store that is
// the cache's source of truth.
//
// # Storage
//
// [Store] wraps a Pebble database in the data directory. Keys start with a
// one-byte table prefix; a format record ("\x00format") holds the layout
// version so an incompatible data directory is refused instead of misread.
//
// # Indexes, snapshots and restarts
//
// Each partition has a vector index of its own (CacheConfig.NewIndex; the
// gateway uses package hnsw, an exact scan up to its flat limit and a graph
// past it), and the word-key index finds entries by their words. Both are
// kept in memory and rebuilt from the store at start-up; the store stays
// the source of truth.
//
// The cache's lock guards its memory only. A change is decided under it
// and gets a turn; in its turn, outside the lock, the put's vector goes
// into its partition's index (a graph insert takes milliseconds in a
// large partition; the index's own locks let lookups proceed) and the
// change is committed to the store, so writes reach the index and the
// store in the order they were decided. Hits change memory at once and
// are written in one batch every second.
//
// [Open] loads the entries' metadata and serves exact hits from then on.
// The word keys and vectors are loaded within Open for caches of up to
// CacheConfig.BackgroundLoad entries, and by a goroutine for larger ones,
// so a large cache serves at once (about a second per million entries)
// while semantic lookups find what is loaded so far. A partition index
// whose graph must be built ([Builder]) gets its vectors stored only and
// is built by a background goroutine a few insertions at a time; until
// then it answers by an exact scan, never a wrong answer, only a slower
// one. Stats.SemanticLoading, Stats.IndexesBuilding and
// [Cache.IndexesReady] report the progress.
//
// Graph indexes ([Snapshotter]) are snapshotted to CacheConfig.SnapshotDir
// every CacheConfig.SnapshotInterval when they changed by
// SnapshotMinChanges, soon after a graph is built, and on Close, each
// atomically (a temporary file renamed over the old one). An index copies
// its graph under its writer lock and encodes and writes it outside, so a
// snapshot holds up writes for the copy (tens of milliseconds at a million
// vectors) and lookups not at all. After a crash the cache loads the
// latest snapshots and reconciles them with the store: vectors written
// since are added (and linked in the background), deleted or replaced
// ones removed, and a missing or bad snapshot only means a rebuild.
package semcache
