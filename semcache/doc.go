// Package semcache is semgate's semantic cache: request normalization,
// partition and exact keys, the vector index, and the Pebble store that is
// the cache's source of truth.
//
// # Storage
//
// [Store] wraps a Pebble database in the data directory. Keys start with a
// one-byte table prefix; a format record ("\x00format") holds the layout
// version so an incompatible data directory is refused instead of misread.
package semcache
