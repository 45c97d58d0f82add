package wordkeys

import (
	"cmp"
	"math/bits"
	"slices"
	"sync"
)

// ID identifies a cache entry or a partition (semcache.ID's layout).
type ID = [16]byte

// Table geometry and upkeep.
const (
	minHomes = 64
	// An insert that would take the table past maxLoad (9/10 of the homes
	// used) first sweeps dead entries, then grows the table to
	// targetLoad (7/10). The load averages about 0.8.
	maxLoadNum, maxLoadDen       = 9, 10
	targetLoadNum, targetLoadDen = 7, 10
	// firstEntryBits is the entry field's starting width (entry numbers
	// up to 2^8-2); it widens a bit at a time, up to maxEntryBits.
	firstEntryBits = 8
	maxEntryBits   = 31
	// sweepFraction: Delete sweeps once deleted entries not yet swept
	// reach 1/sweepFraction of the live ones.
	sweepFraction = 8
)

// Index maps the word keys of stored prompts to their entries. It is safe
// for concurrent use: Lookup and Len run concurrently under a read lock,
// Add and Delete take the write lock; no method does I/O.
//
// Entries get dense numbers (ids holds each one's ID). The keys live in
// one open-addressing table of uint64 slots:
//
//	| key: top 63-b bits of the hash | full-key flag | entry number + 1 (b bits) |
//
// where b (ebits) is the width the entry numbers need, so at 1M entries
// 43 bits of each 64-bit key are kept and compared. An empty slot is 0. A
// key held by several entries takes several slots, so there are no
// posting lists; each entry also has a slot under its ID's key, to find
// it on Delete.
//
// A slot's home is its key's top 32 bits scaled to the number of homes
// n, which the slot keeps whatever b is. Slots are kept in order of those
// 32 bits, each at or after its home with no empty slot in between
// (linear probing with ordered runs, as in Robin Hood hashing): a probe
// stops at the first slot ordered after its key, even in a long run, so
// the table runs at a load of 0.7 to 0.9. An insert shifts the rest of
// its run right by one. A run may extend past the last home into spare
// slots at the end, so there is no wrap-around. Resizing keeps the order,
// so a rebuild is one pass, with no hashing and no words.
//
// Delete only marks the entry dead (lookups skip it). Its slots are
// removed by a sweep, one pass that compacts the table in place, when
// dead entries reach 1/8 of the live ones or when the table would
// otherwise grow; only then are their numbers reused, so a slot never
// points at the wrong entry. So neither an entry's words nor its keys are
// kept (4 bytes or more per key), only its ID and a bit.
type Index struct {
	o Options

	mu    sync.RWMutex
	slots []uint64 // n homes, then spare slots runs may extend into
	n     int      // number of homes
	used  int      // non-empty slots
	ebits uint     // width of the entry number field, below the full-key flag
	ids   []ID     // by entry number
	dead  []uint64 // bit set by entry number: deleted, slots not yet swept
	free  []uint32 // entry numbers no slot refers to
	live  int
	ndead int
}

// New returns an empty index. It panics if o fails Validate: options come
// from validated configuration.
func New(o Options) *Index {
	if err := o.Validate(); err != nil {
		panic(err)
	}
	return &Index{o: o.withDefaults(), ebits: firstEntryBits}
}

// Len returns the number of entries.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.live
}

// Add indexes the entry id, whose prompt has the given words (see Words)
// in partition part, replacing any entry with that ID. A prompt with no
// words is stored (Delete works) but never found.
func (x *Index) Add(id, part ID, words []string) {
	var wb [64]uint64
	var kb [maxLongWords + 1]key
	ks := keysOf(part, hashWords(words, wb[:0]), x.o.LongWords, kb[:0])
	ik := idKey(id)

	x.mu.Lock()
	defer x.mu.Unlock()
	x.touch(ks, ik)
	if e, ok := x.find(id, ik); ok {
		x.kill(e)
	}
	x.reserve(len(ks) + 1)
	e := x.alloc()
	x.ids[e] = id
	x.live++
	x.put(ik, false, e, 0)
	for _, k := range ks {
		x.put(k.h, k.full, e, x.o.MaxPerKey)
	}
}

// Delete removes the entry id, if present. Lookups never return it again;
// its slots are reclaimed by a later sweep, which Delete runs when due: a
// pause of one pass over the table (see the package documentation).
func (x *Index) Delete(id ID) {
	ik := idKey(id)
	x.mu.Lock()
	defer x.mu.Unlock()
	e, ok := x.find(id, ik)
	if !ok {
		return
	}
	x.kill(e)
	if x.ndead*sweepFraction >= x.live {
		n := x.n
		if x.used*4 < x.n { // mostly empty: shrink too
			n = homesFor(x.used - x.ndead)
		}
		x.rebuild(n)
	}
}

// Finds reports whether a Lookup with the words query would propose an
// entry stored with the words stored (the same keys; the per-key cap
// aside): for explaining why a prompt was or was not a candidate.
func (x *Index) Finds(stored, query []string) bool {
	var wa, wb [64]uint64
	var ka, kb [maxLongWords + 1]key
	var part ID
	return sharesKey(keysOf(part, hashWords(stored, wa[:0]), x.o.LongWords, ka[:0]),
		keysOf(part, hashWords(query, wb[:0]), x.o.LongWords, kb[:0]))
}

// cand is a candidate entry and its word edits from the query (0: same
// words, 1: one word substituted, inserted or deleted).
type cand struct {
	e     uint32
	edits uint32
}

// Lookup appends to dst the IDs of entries in partition part whose words
// are the query's words, or differ from them by one word substituted,
// inserted or deleted (for prompts longer than Options.LongWords: by one
// word substituted), and returns the extended slice. It returns at most
// Options.MaxCandidates IDs: same words first, then by ID. A key shared
// by more than Options.MaxPerKey entries yields only that many.
//
// Keys are 64-bit hashes of which 43 or more bits are compared, so a
// candidate is not a proof; the caller verifies.
func (x *Index) Lookup(part ID, words []string, dst []ID) []ID {
	var wb [64]uint64
	var kb [maxLongWords + 1]key
	ks := keysOf(part, hashWords(words, wb[:0]), x.o.LongWords, kb[:0])
	if len(ks) == 0 {
		return dst
	}
	var cb [256]cand
	cs := cb[:0]

	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.n == 0 {
		return dst
	}
	x.touch(ks, 0)
	for _, k := range ks {
		top, found := k.h>>32, 0
		for i := x.home(k.h); i < len(x.slots) && found < x.o.MaxPerKey; i++ {
			s := x.slots[i]
			if s == 0 || s>>32 > top {
				break
			}
			if !x.same(s, k.h) {
				continue
			}
			e := x.entry(s)
			if x.isDead(e) {
				continue
			}
			edits := uint32(1)
			if k.full && x.isFull(s) {
				edits = 0
			}
			cs = append(cs, cand{e, edits})
			found++
		}
	}
	// One candidate per entry, with its fewest edits; then rank.
	slices.SortFunc(cs, func(a, b cand) int {
		return cmp.Or(cmp.Compare(a.e, b.e), cmp.Compare(a.edits, b.edits))
	})
	cs = slices.CompactFunc(cs, func(a, b cand) bool { return a.e == b.e })
	slices.SortFunc(cs, func(a, b cand) int {
		if c := cmp.Compare(a.edits, b.edits); c != 0 {
			return c
		}
		return compareIDs(&x.ids[a.e], &x.ids[b.e])
	})
	for _, c := range cs[:min(len(cs), x.o.MaxCandidates)] {
		dst = append(dst, x.ids[c.e])
	}
	return dst
}

func compareIDs(a, b *ID) int {
	for i := range a {
		if c := cmp.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

func hashWords(words []string, dst []uint64) []uint64 {
	for _, w := range words {
		dst = append(dst, wordHash(w))
	}
	return dst
}

// touch loads the home slot of each key (and of ik, unless 0), so that
// their cache misses overlap instead of coming one after the other: at 1M
// entries the table is far larger than the caches, and a lookup or an
// insert waits on one miss per key otherwise. It returns what it loaded,
// and is not inlined, so that the compiler keeps the loads.
//
//go:noinline
func (x *Index) touch(ks []key, ik uint64) uint64 {
	var acc uint64
	if x.n == 0 {
		return 0
	}
	if ik != 0 {
		acc = x.slots[x.home(ik)]
	}
	for _, k := range ks {
		acc += x.slots[x.home(k.h)]
	}
	return acc
}

// Slot layout helpers.

func (x *Index) slot(h uint64, full bool, e uint32) uint64 {
	s := h>>(x.ebits+1)<<(x.ebits+1) | (uint64(e) + 1)
	if full {
		s |= 1 << x.ebits
	}
	return s
}

func (x *Index) same(s, h uint64) bool { return (s^h)>>(x.ebits+1) == 0 }
func (x *Index) isFull(s uint64) bool  { return s>>x.ebits&1 != 0 }
func (x *Index) entry(s uint64) uint32 { return uint32(s&(1<<x.ebits-1)) - 1 }

// home is the first slot a key (or a slot holding it) may occupy: its
// top 32 bits scaled to the number of homes, so homes follow key order.
func (x *Index) home(h uint64) int { return homeIn(h, x.n) }

func homeIn(h uint64, n int) int { return int((h >> 32) * uint64(n) >> 32) }

func (x *Index) isDead(e uint32) bool { return x.dead[e/64]&(1<<(e%64)) != 0 }

// find returns the live entry with ID id, whose ID key is ik.
func (x *Index) find(id ID, ik uint64) (uint32, bool) {
	if x.n == 0 {
		return 0, false
	}
	for i := x.home(ik); i < len(x.slots); i++ {
		s := x.slots[i]
		if s == 0 || s>>32 > ik>>32 {
			break
		}
		if x.same(s, ik) {
			if e := x.entry(s); !x.isDead(e) && x.ids[e] == id {
				return e, true
			}
		}
	}
	return 0, false
}

// put inserts a slot for key h of entry e after the slots ordered before
// or with it, shifting the rest of the run right, unless limit > 0 and
// limit live entries already have key h. The caller has reserved room.
func (x *Index) put(h uint64, full bool, e uint32, limit int) {
	top, n := h>>32, 0
	i := x.home(h)
	for ; i < len(x.slots); i++ {
		s := x.slots[i]
		if s == 0 || s>>32 > top {
			break
		}
		if limit > 0 && x.same(s, h) && !x.isDead(x.entry(s)) {
			if n++; n >= limit {
				return
			}
		}
	}
	j := i // the end of the run
	for j < len(x.slots) && x.slots[j] != 0 {
		j++
	}
	if j == len(x.slots) {
		x.slots = append(x.slots, 0)
	}
	copy(x.slots[i+1:j+1], x.slots[i:j])
	x.slots[i] = x.slot(h, full, e)
	x.used++
}

// kill marks entry e deleted.
func (x *Index) kill(e uint32) {
	x.dead[e/64] |= 1 << (e % 64)
	x.live--
	x.ndead++
}

// alloc returns a free entry number, widening the entry field if needed.
func (x *Index) alloc() uint32 {
	var e uint32
	if n := len(x.free); n > 0 {
		e, x.free = x.free[n-1], x.free[:n-1]
	} else {
		e = uint32(len(x.ids))
		x.ids = append(x.ids, ID{})
		if int(e/64) == len(x.dead) {
			x.dead = append(x.dead, 0)
		}
	}
	for uint64(e)+1 >= 1<<x.ebits {
		x.widen()
	}
	return e
}

// widen moves the full-key flag and the key up a bit, dropping the
// key's lowest kept bit, to make room for one more entry number bit.
// The top 32 bits stay, so no slot moves.
func (x *Index) widen() {
	b := x.ebits
	if b == maxEntryBits {
		panic("wordkeys: too many entries")
	}
	for i, s := range x.slots {
		if s != 0 {
			x.slots[i] = s>>(b+2)<<(b+2) | (s>>b&1)<<(b+1) | s&(1<<b-1)
		}
	}
	x.ebits++
}

// homesFor returns the number of homes for m slots at the target load.
func homesFor(m int) int {
	return max(minHomes, m*targetLoadDen/targetLoadNum+1)
}

// reserve makes room for m more slots within the maximum load. A sweep
// in place is enough if the dead entries' slots (estimated at the
// average per entry) take the load down to 0.8; else the sweep also grows
// the table.
func (x *Index) reserve(m int) {
	over := func() bool { return (x.used+m)*maxLoadDen > x.n*maxLoadNum }
	if !over() {
		return
	}
	n, live := x.n, x.used
	if x.ndead > 0 {
		live -= x.used * x.ndead / (x.live + x.ndead)
	}
	if x.ndead == 0 || (live+m)*10 > x.n*8 {
		n = homesFor(live + m)
	}
	x.rebuild(n)
	if over() { // the estimate was off
		x.rebuild(homesFor(x.used + m))
	}
}

// rebuild drops the slots of dead entries, frees their numbers, and lays
// the table out over n homes: in place if n is unchanged, else into a new
// array. Slots keep their order, each going to its new home or right
// after the slot before it, whichever is later.
func (x *Index) rebuild(n int) {
	src, dst := x.slots, x.slots
	if n != x.n {
		dst = make([]uint64, n, n+n/1024+64)
	}
	w, used := 0, 0 // w: the first slot after those placed
	for i, s := range src {
		if s == 0 {
			continue
		}
		if n == x.n {
			src[i] = 0 // in place: p ≤ i below
		}
		if x.isDead(x.entry(s)) {
			continue
		}
		p := max(homeIn(s, n), w)
		for p >= len(dst) {
			dst = append(dst, 0)
		}
		dst[p] = s
		w, used = p+1, used+1
	}
	x.slots, x.n, x.used = dst[:max(n, w)], n, used
	for i, word := range x.dead {
		for ; word != 0; word &= word - 1 {
			e := uint32(i*64 + bits.TrailingZeros64(word))
			x.ids[e] = ID{}
			x.free = append(x.free, e)
		}
		x.dead[i] = 0
	}
	x.ndead = 0
}
