package hnsw

import (
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/semgate/semgate/semcache"
)

// Package sentinels; errors from this package wrap one of them.
var (
	// ErrInvalidOptions: an Options value failed Validate.
	ErrInvalidOptions = errors.New("hnsw: invalid options")
	// ErrSnapshotMismatch: the snapshot is sound but was written for
	// another embedder, dimension, M or format version; rebuild.
	ErrSnapshotMismatch = errors.New("hnsw: snapshot mismatch")
	// ErrCorruptSnapshot: the snapshot is truncated, fails its checksum
	// or describes an impossible graph; rebuild.
	ErrCorruptSnapshot = errors.New("hnsw: corrupt snapshot")
)

// Node states. A live node is returned by searches; a dead one
// (tombstone) still routes searches but is never returned; a condemned one
// is a tombstone the current repair cycle is unlinking; a free slot is
// referenced by nothing and is reused by the next Add.
const (
	stFree uint8 = iota
	stLive
	stDead
	stCondemned

	// fUnlinked flags a live node stored but not in the graph (yet): every
	// node in flat mode, the nodes not yet migrated while migrating.
	fUnlinked uint8 = 0x80
)

// mode is how searches are answered.
type mode uint8

const (
	modeFlat      mode = iota // exact scan, no graph
	modeMigrating             // exact scan while the graph is being built
	modeGraph                 // graph search
)

// maxLevelCap bounds node levels (P(level ≥ 24) at M=2 is 2^-24 per node).
const maxLevelCap = 24

// Index is an HNSW approximate nearest-neighbour index over unit vectors,
// exact (a flat scan) while it holds at most Options.FlatLimit vectors.
// It implements semcache.Index and semcache.Sizer.
//
// Any number of searches run concurrently with each other and with one
// writer: writers (Add, Delete, WriteSnapshot) are serialised by a mutex;
// a writer does its graph searches and neighbour selection while searches
// go on, and takes the read-write lock only to publish its changes.
type Index struct {
	dim    int
	o      Options // with defaults
	m, m0  int
	stride int // m0+1: count then links, per node on layer 0
	ustr   int // m+1: count then links, per node per upper layer
	ml     float64

	wmu sync.Mutex   // serialises writers; held for a writer's whole call
	mu  sync.RWMutex // searches hold it for reading; writers publish under it

	// Guarded by mu (written only by a writer holding wmu too, so a writer
	// may read them without mu).
	mode     mode
	vecs     []float32              // node i's vector is vecs[i*dim:(i+1)*dim]
	ids      []semcache.ID          // per node
	state    []uint8                // per node: st* | fUnlinked
	level    []uint8                // per node: top layer
	upperOff []uint32               // per node with level > 0: its block in upper
	links0   []uint32               // per node: stride words (nil in flat mode)
	upper    []uint32               // blocks of level·ustr words
	pos      map[semcache.ID]uint32 // live nodes only
	entry    uint32
	maxLevel int // -1: no node linked yet
	live     int // live nodes, linked or not
	dead     int // dead and condemned nodes

	// Writer-only state (guarded by wmu).
	rng       *rand.Rand
	free      []uint32   // free slots
	freeUpper [][]uint32 // free upper blocks by level
	deadList  []uint32   // tombstones not yet condemned
	condemned []uint32   // tombstones of the running repair cycle
	cycle     bool       // a repair cycle is running
	cursor    int        // next node the repair cycle checks
	migCursor int        // next node the migration links
	w         *searcher  // the writer's scratch space
	pending   []uint32   // link lists to publish: node, layer, n, links...
	cand      []item     // scratch for neighbour selection
	sel, sel2 []item
	tmp       []item
	frozen    int  // snapshots copying or encoding: no free slot is reused
	deferred  bool // Build links the unlinked nodes; writes do not migrate

	// changes counts Adds, Deletes and nodes linked by Build (Version).
	changes atomic.Uint64
	// snapHook, if set (tests only, before any use), runs in WriteSnapshot
	// after the copy, outside the writer lock.
	snapHook func()

	pool sync.Pool // *searcher for searches
}

var (
	_ semcache.Index     = (*Index)(nil)
	_ semcache.Sizer     = (*Index)(nil)
	_ semcache.Scorer    = (*Index)(nil)
	_ semcache.Builder   = (*Index)(nil)
	_ semcache.Versioned = (*Index)(nil)
)

// New returns an empty index for vectors of dim dimensions. It panics if
// o fails Validate or dim < 1: both are programming errors, since options
// come from validated configuration.
func New(dim int, o Options) *Index {
	if err := o.Validate(); err != nil {
		panic(err)
	}
	if dim < 1 {
		panic("hnsw: dimension must be positive")
	}
	o = o.withDefaults()
	x := &Index{
		dim: dim, o: o, m: o.M, m0: 2 * o.M,
		ml:       1 / math.Log(float64(o.M)),
		pos:      make(map[semcache.ID]uint32),
		maxLevel: -1,
		rng:      rand.New(rand.NewPCG(o.Seed, 0x9E3779B97F4A7C15)),
		w:        &searcher{},
	}
	x.stride, x.ustr = x.m0+1, x.m+1
	x.freeUpper = make([][]uint32, maxLevelCap+1)
	if o.FlatLimit < 0 {
		x.mode = modeGraph
		x.links0 = make([]uint32, 0) // non-nil: layer 0 exists
	}
	x.pool.New = func() any { return &searcher{} }
	return x
}

// SetEfSearch changes Options.EfSearch for later searches (values outside
// 1..4096 are clamped), e.g. on a configuration reload.
func (x *Index) SetEfSearch(ef int) {
	x.mu.Lock()
	x.o.EfSearch = min(max(ef, 1), maxEf)
	x.mu.Unlock()
}

// Dim returns the vectors' dimension.
func (x *Index) Dim() int { return x.dim }

// Len returns the number of live vectors.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.live
}

// Has reports whether id has a live vector.
func (x *Index) Has(id semcache.ID) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	_, ok := x.pos[id]
	return ok
}

// Score returns the dot product of vec with id's vector (semcache.Scorer).
func (x *Index) Score(id semcache.ID, vec []float32) (float32, bool) {
	if len(vec) != x.dim {
		return 0, false
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	i, ok := x.pos[id]
	if !ok {
		return 0, false
	}
	return semcache.Dot(vec, x.vec(i)), true
}

// IDs returns the ids of the live vectors, in node order.
func (x *Index) IDs() []semcache.ID {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := make([]semcache.ID, 0, x.live)
	for i, s := range x.state {
		if s&^fUnlinked == stLive {
			out = append(out, x.ids[i])
		}
	}
	return out
}

// Stats describes an index's size and state.
type Stats struct {
	Live       int  // vectors searches can return
	Tombstones int  // deleted vectors still in the graph
	Nodes      int  // slots, free ones included
	Levels     int  // layers of the graph (0: no graph yet)
	Graph      bool // searches use the graph (false: exact scan)
	// VectorBytes is the memory of the vectors; GraphBytes of everything
	// else per node (links, ids, states, levels, the id map estimated at
	// 48 bytes an entry), capacity included.
	VectorBytes, GraphBytes int64
}

// Stats returns the index's size and state.
func (x *Index) Stats() Stats {
	x.mu.RLock()
	defer x.mu.RUnlock()
	g := int64(cap(x.ids))*16 + int64(cap(x.state)) + int64(cap(x.level)) +
		int64(cap(x.upperOff))*4 + int64(cap(x.links0))*4 + int64(cap(x.upper))*4 +
		int64(len(x.pos))*48
	return Stats{
		Live: x.live, Tombstones: x.dead, Nodes: len(x.state),
		Levels: x.maxLevel + 1, Graph: x.mode == modeGraph,
		VectorBytes: int64(cap(x.vecs)) * 4, GraphBytes: g,
	}
}

// vec returns node i's vector.
func (x *Index) vec(i uint32) []float32 {
	o := int(i) * x.dim
	return x.vecs[o : o+x.dim : o+x.dim]
}

// links returns node i's links on layer l.
func (x *Index) links(i uint32, l int) []uint32 {
	if l == 0 {
		o := int(i) * x.stride
		b := x.links0[o : o+x.stride : o+x.stride]
		return b[1 : 1+b[0]]
	}
	o := int(x.upperOff[i]) + (l-1)*x.ustr
	b := x.upper[o : o+x.ustr : o+x.ustr]
	return b[1 : 1+b[0]]
}

// setLinks overwrites node i's links on layer l. The caller holds mu.
func (x *Index) setLinks(i uint32, l int, ls []uint32) {
	var b []uint32
	if l == 0 {
		o := int(i) * x.stride
		b = x.links0[o : o+x.stride]
	} else {
		o := int(x.upperOff[i]) + (l-1)*x.ustr
		b = x.upper[o : o+x.ustr]
	}
	b[0] = uint32(len(ls))
	copy(b[1:], ls)
}

// maxLinks is the capacity of a node's list on layer l.
func (x *Index) maxLinks(l int) int {
	if l == 0 {
		return x.m0
	}
	return x.m
}

// linked reports whether node i is in the graph (any state but free and
// unlinked).
func (x *Index) linked(i uint32) bool {
	s := x.state[i]
	return s != stFree && s&fUnlinked == 0
}

// grow returns s with room for n more elements, copying it to a larger
// array if needed. Searches may be reading s: the copy only reads it, and
// the caller publishes the result under mu.
func grow[T any](s []T, n int) []T {
	if cap(s)-len(s) >= n {
		return s
	}
	c := cap(s) * 2
	if cap(s) > 1<<16 {
		c = cap(s) + cap(s)/4
	}
	c = max(c, len(s)+n, 64)
	t := make([]T, len(s), c)
	copy(t, s)
	return t
}

// randomLevel draws a node's top layer: floor(-ln(U)·mL), mL = 1/ln(M).
func (x *Index) randomLevel() int {
	u := 1 - x.rng.Float64() // (0, 1]
	l := int(-math.Log(u) * x.ml)
	return min(l, maxLevelCap)
}
