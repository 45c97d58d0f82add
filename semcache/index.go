package semcache

import (
	"slices"
	"sync"
)

// ID identifies a cache entry: the 128-bit exact key.
type ID [16]byte

// Hit is one search result: an entry and its cosine similarity to the
// query (vectors are unit length, so the dot product).
type Hit struct {
	ID    ID
	Score float32
}

// Index finds the stored vectors nearest a query. Implementations are safe
// for concurrent use. Vectors must be L2-normalized and all of the
// index's dimension; Add with an existing ID replaces its vector.
type Index interface {
	Add(id ID, vec []float32)
	// Search returns up to k hits, best first.
	Search(vec []float32, k int) []Hit
	Delete(id ID)
}

// Sizer is implemented by indexes that can report how many vectors they
// hold.
type Sizer interface {
	Len() int
}

// Scorer is implemented by indexes that can score a stored vector against
// a query: the similarity of a candidate found by another channel.
type Scorer interface {
	// Score returns the dot product of vec with id's vector, and false
	// when id has none.
	Score(id ID, vec []float32) (float32, bool)
}

// Builder is implemented by indexes with a search structure (a graph) that
// can be built after their vectors are stored. The cache loads a large
// partition with AddUnbuilt, which only stores, serves at once, and calls
// Build from a background goroutine until it reports the structure
// complete; meanwhile the index answers correctly by other means (an exact
// scan of the vectors not in the structure yet).
type Builder interface {
	// AddUnbuilt stores vec under id like Add, but leaves linking it to
	// Build.
	AddUnbuilt(id ID, vec []float32)
	// Build does a bounded step of the build (up to n insertions) and
	// reports whether the structure is complete.
	Build(n int) bool
	// Built reports whether the structure is complete (or not needed).
	Built() bool
}

// Reserver is implemented by indexes that can make room for n vectors in
// all ahead of time; the cache calls it before loading a partition.
type Reserver interface {
	Reserve(n int)
}

// Versioned is implemented by indexes that count their changes; the cache
// writes a partition's snapshot again only once it has changed by
// SnapshotMinChanges.
type Versioned interface {
	Version() uint64
}

// FlatIndex is an exact index: it compares the query with every vector.
// Vectors live in one contiguous slice, so a search is a linear scan of
// dot products; deletes swap the last vector into the hole.
type FlatIndex struct {
	mu   sync.RWMutex
	dim  int
	vecs []float32
	ids  []ID
	pos  map[ID]int
}

var (
	_ Index      = (*FlatIndex)(nil)
	_ Sizer      = (*FlatIndex)(nil)
	_ Scorer     = (*FlatIndex)(nil)
	_ Enumerator = (*FlatIndex)(nil)
)

// NewFlatIndex returns an empty exact index for vectors of dim dimensions.
func NewFlatIndex(dim int) *FlatIndex {
	return &FlatIndex{dim: dim, pos: make(map[ID]int)}
}

// Add stores vec under id, replacing any vector id had. A vector of the
// wrong dimension is ignored.
func (f *FlatIndex) Add(id ID, vec []float32) {
	if len(vec) != f.dim {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if i, ok := f.pos[id]; ok {
		copy(f.vecs[i*f.dim:], vec)
		return
	}
	f.pos[id] = len(f.ids)
	f.ids = append(f.ids, id)
	f.vecs = append(f.vecs, vec...)
}

// Delete removes id; deleting an absent id does nothing.
func (f *FlatIndex) Delete(id ID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.pos[id]
	if !ok {
		return
	}
	last := len(f.ids) - 1
	if i != last {
		f.ids[i] = f.ids[last]
		copy(f.vecs[i*f.dim:(i+1)*f.dim], f.vecs[last*f.dim:])
		f.pos[f.ids[i]] = i
	}
	f.ids = f.ids[:last]
	f.vecs = f.vecs[:last*f.dim]
	delete(f.pos, id)
}

// Score returns the dot product of vec with id's vector.
func (f *FlatIndex) Score(id ID, vec []float32) (float32, bool) {
	if len(vec) != f.dim {
		return 0, false
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	i, ok := f.pos[id]
	if !ok {
		return 0, false
	}
	return Dot(vec, f.vecs[i*f.dim:(i+1)*f.dim]), true
}

// IDs returns the ids of the vectors held.
func (f *FlatIndex) IDs() []ID {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return slices.Clone(f.ids)
}

// each calls fn with every id and a copy of its vector.
func (f *FlatIndex) each(fn func(id ID, vec []float32)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for i, id := range f.ids {
		fn(id, slices.Clone(f.vecs[i*f.dim:(i+1)*f.dim]))
	}
}

// Len returns the number of vectors.
func (f *FlatIndex) Len() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.ids)
}

// Search returns the k vectors with the highest dot product with vec.
func (f *FlatIndex) Search(vec []float32, k int) []Hit {
	if k <= 0 || len(vec) != f.dim {
		return nil
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	n := len(f.ids)
	if n == 0 {
		return nil
	}
	hits := make([]Hit, 0, min(k, n)+1)
	for i := 0; i < n; i++ {
		s := Dot(vec, f.vecs[i*f.dim:(i+1)*f.dim])
		if len(hits) == k && s <= hits[k-1].Score {
			continue
		}
		// Insert in order; k is small, so this beats a heap.
		j := len(hits)
		if j < k {
			hits = append(hits, Hit{})
		} else {
			j = k - 1
		}
		for j > 0 && hits[j-1].Score < s {
			hits[j] = hits[j-1]
			j--
		}
		hits[j] = Hit{ID: f.ids[i], Score: s}
	}
	return slices.Clip(hits)
}

// Dot returns the dot product of two equal-length vectors. The loop is
// unrolled by four with independent accumulators so the compiler keeps
// them in registers.
func Dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}
