// Package hnsw is semgate's approximate nearest-neighbour index: a
// Hierarchical Navigable Small World graph (Malkov & Yashunin, "Efficient
// and robust approximate nearest neighbor search using Hierarchical
// Navigable Small World graphs", 2016/2018) over unit vectors, behind
// semcache.Index. The cache keeps one per partition (see [New]).
//
// # Algorithm
//
// Every vector is a node with a random top layer L, drawn as
// floor(-ln(U)·mL) with mL = 1/ln(M), so each layer holds about 1/M of the
// one below. A node has up to M links on each upper layer and 2·M on layer
// 0. Similarity is the dot product (the cosine, vectors being unit
// length).
//
// Insertion (the paper's Algorithm 1) descends greedily from the entry
// point to layer L+1, then on each layer from min(L, top) down to 0 runs
// the beam search of Algorithm 2 with EfConstruction candidates and links
// the node to up to as many of them as the layer holds (2·M on layer 0, M
// above; the paper takes M everywhere, FAISS fills layer 0 as here), chosen
// by the heuristic of Algorithm 4: a
// candidate is kept only if it is more similar to the new node than to any
// candidate already kept, which spreads links across directions and keeps
// clustered data connected. Each chosen neighbour links back; a full list
// is shrunk with the same heuristic. A search descends greedily to layer 1
// and runs Algorithm 2 on layer 0 with max(EfSearch, k) candidates.
//
// # Layout
//
// Nodes are dense uint32 numbers. The vectors live in one contiguous
// []float32; layer-0 links in one []uint32 of 2M+1 words per node (a
// count, then the links); upper-layer links in another, in blocks of M+1
// words per layer for the few nodes that have them. A search's visited set
// is a pooled array of epoch counters (no clearing, no map), its
// candidate lists typed binary heaps. Before computing a node's neighbours'
// similarities a search touches every cache line of their vectors, so that
// the memory fetches overlap: the scan is bound by memory latency, and this
// halves it. Graph overhead at the default M=24 is about 250 bytes per
// vector: 196 of layer-0 links, 16 of id, about 30 of id map, a few of
// levels, states and upper links (M=16: about 190).
//
// # Small partitions
//
// Up to Options.FlatLimit vectors the index keeps no graph and searches by
// exact scan, which is as fast there and needs no build. Past it the graph
// is built a few vectors per write (so no single write pays for the whole
// build); searches stay exact until every vector is linked.
//
// # Deletes and updates
//
// Delete turns a node into a tombstone: searches still route through it
// but never return it, so recall does not suffer. Add with an existing id
// tombstones the old node and inserts the new vector (an identical vector
// is a no-op). Once tombstones pass Options.RebuildFraction of the nodes a
// repair cycle starts on the writer path, with no goroutine: each later
// Add or Delete checks up to 1024 nodes and rewrites up to 16 link lists,
// replacing every link to a tombstone of the cycle by the heuristic's pick
// among the node's other links and the tombstone's links. When the cycle
// has passed every node, nothing links to its tombstones and their slots
// are reused by later Adds.
//
// # Locking
//
// Searches take a read lock and run concurrently. Writers (Add,
// AddUnbuilt, Delete, Build) are serialised by a mutex of their own and do
// their graph searches and neighbour selection while searches go on; they
// take the write lock only to publish: copy a vector, overwrite a few link
// lists, or swap in arrays they have grown (a grown array is copied before
// the lock is taken). A search therefore never waits for a whole
// insertion: at most for the searches already running when a writer asked
// for the lock (RWMutex lets a waiting writer go first) and then the
// publication itself, microseconds. WriteSnapshot holds the writers' mutex
// only to copy the graph (states, levels and links, about 200 bytes a
// node at M=24); it shares the vectors and ids, which stay as they are
// because no free slot is reused until the snapshot is written, and
// encodes and writes outside the lock. No goroutine is started, so there
// is nothing to close.
//
// # Deferred building
//
// [Index.AddUnbuilt] stores a vector without linking it (a copy and a map
// insert), and [Index.Build] links a few stored vectors per call: a cache
// loading a large partition serves at once and builds the graph from a
// goroutine of its own. Until every stored vector is linked, searches are
// exact scans, as while migrating from flat mode, and writes link only
// themselves (Build does the rest). A snapshot taken meanwhile keeps the
// graph built so far. [Index.Version] counts changes, so that unchanged
// graphs are not snapshotted again.
//
// # Snapshot format
//
// [Index.WriteSnapshot] writes, all integers little-endian:
//
//	magic      8 bytes  "SGHNSW\x00\x01"
//	version    uint32   1
//	checksum   uint32   CRC-32C (Castagnoli) of every byte after this field
//	embedder   uint16 length, then that many bytes
//	dim, m     uint32, uint32
//	live, n    uint64, uint64   live vectors, nodes written
//	mode       uint8    0 flat, 1 migrating, 2 graph
//	entry      uint32   entry point; top layer uint32 (0xFFFFFFFF: no graph)
//	states     n bytes  1 live, 2 tombstone, 0x81 live not yet linked
//	levels     n bytes
//	ids        n × 16 bytes
//	vectors    n × dim float32
//	layer 0    n × (2m+1) uint32     (absent in flat mode)
//	upper      Σ level × (m+1) uint32, in node order (absent in flat mode)
//
// Free slots are compacted away. [ReadSnapshot] checks the checksum and
// then the graph itself (every count, link, level and the entry point)
// before trusting it, so a truncated, corrupt or foreign snapshot is an
// error wrapping ErrCorruptSnapshot or ErrSnapshotMismatch, never a panic
// or a wrong answer; it allocates only as bytes arrive. The caller then
// reconciles the loaded index with the source of truth: [Index.IDs] and
// [Index.Has] tell which ids it holds.
package hnsw
