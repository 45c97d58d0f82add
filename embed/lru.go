package embed

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"sync"
)

// Cached is an LRU cache in front of an Embedder: a text it has embedded
// recently is not embedded again. Create it with [NewCached].
//
// Texts are keyed by their SHA-256 digest, so a long prompt costs 32 bytes
// of key, not its length. The texts of one Embed call that miss are sent to
// the wrapped embedder in one call; a text that another call is already
// embedding is not sent again but waited for (if that call fails, the
// waiter embeds it itself). Failures are not cached.
//
// Embed returns fresh slices: callers may modify them. Cached is safe for
// concurrent use and starts no goroutines.
type Cached struct {
	e    Embedder
	size int

	mu       sync.Mutex
	items    map[[sha256.Size]byte]*lruEntry
	root     lruEntry // sentinel of the recency list: root.next is the newest
	inflight map[[sha256.Size]byte]*call
	hits     uint64
	misses   uint64
}

var (
	_ Embedder  = (*Cached)(nil)
	_ Prober    = (*Cached)(nil)
	_ io.Closer = (*Cached)(nil)
)

type lruEntry struct {
	key        [sha256.Size]byte
	vec        []float32 // never modified nor handed out: callers get copies
	prev, next *lruEntry
}

// call is one text being embedded by some Embed call; done is closed when
// vec or err is set.
type call struct {
	done chan struct{}
	vec  []float32
	err  error
}

// NewCached returns e behind an LRU cache of size texts. A size of 0 or
// less returns e itself.
func NewCached(e Embedder, size int) Embedder {
	if size <= 0 {
		return e
	}
	c := &Cached{
		e:        e,
		size:     size,
		items:    make(map[[sha256.Size]byte]*lruEntry),
		inflight: make(map[[sha256.Size]byte]*call),
	}
	c.root.next, c.root.prev = &c.root, &c.root
	return c
}

// Dim returns the wrapped embedder's Dim.
func (c *Cached) Dim() int { return c.e.Dim() }

// ID returns the wrapped embedder's ID: the cache does not change vectors.
func (c *Cached) ID() string { return c.e.ID() }

// Unwrap returns the wrapped embedder.
func (c *Cached) Unwrap() Embedder { return c.e }

// Probe calls the wrapped embedder's Probe, if it has one.
func (c *Cached) Probe(ctx context.Context) error {
	if p, ok := c.e.(Prober); ok {
		return p.Probe(ctx)
	}
	return nil
}

// Close closes the wrapped embedder, if it is an io.Closer.
func (c *Cached) Close() error {
	if cl, ok := c.e.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// CacheStats counts a Cached's lookups since it was made.
type CacheStats struct {
	Hits    uint64 // texts answered from the cache or by another call's work
	Misses  uint64 // texts sent to the wrapped embedder
	Entries int    // texts cached now
}

// Stats returns the cache's counters.
func (c *Cached) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Hits: c.hits, Misses: c.misses, Entries: len(c.items)}
}

// Embed returns the vectors of texts, from the cache where it can.
func (c *Cached) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("embed: cache: %w", err)
	}
	out := make([][]float32, len(texts))
	if len(texts) == 0 {
		return out, nil
	}
	keys := make([][sha256.Size]byte, len(texts))
	for i, t := range texts {
		keys[i] = sha256.Sum256([]byte(t))
	}

	type wait struct {
		i int
		c *call
	}
	var (
		own   []int   // indexes of the texts this call embeds
		calls []*call // their calls, which this call must resolve
		waits []wait  // texts another call (or this one) is embedding
	)
	c.mu.Lock()
	for i, k := range keys {
		if e, ok := c.items[k]; ok {
			c.touch(e)
			c.hits++
			out[i] = clone(e.vec)
			continue
		}
		if cl, ok := c.inflight[k]; ok {
			waits = append(waits, wait{i, cl})
			continue
		}
		cl := &call{done: make(chan struct{})}
		c.inflight[k] = cl
		own = append(own, i)
		calls = append(calls, cl)
	}
	c.misses += uint64(len(own))
	c.mu.Unlock()

	if len(own) > 0 {
		if err := c.embedOwn(ctx, texts, keys, own, calls, out); err != nil {
			return nil, err
		}
	}

	var retry []int
	for _, w := range waits {
		if testHookWait != nil {
			testHookWait()
		}
		select {
		case <-w.c.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("embed: cache: %w", ctx.Err())
		}
		if w.c.err != nil {
			retry = append(retry, w.i)
			continue
		}
		out[w.i] = clone(w.c.vec)
	}
	c.mu.Lock()
	c.hits += uint64(len(waits) - len(retry))
	c.misses += uint64(len(retry))
	c.mu.Unlock()
	if len(retry) > 0 {
		vecs, err := c.embedInner(ctx, pick(texts, retry))
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		for j, i := range retry {
			c.add(keys[i], clone(vecs[j]))
			out[i] = vecs[j]
		}
		c.mu.Unlock()
	}
	return out, nil
}

// embedOwn embeds texts[own] in one call, caches copies of the vectors,
// puts the vectors in out and resolves calls, also if the wrapped embedder
// panics.
func (c *Cached) embedOwn(ctx context.Context, texts []string, keys [][sha256.Size]byte, own []int, calls []*call, out [][]float32) (err error) {
	var vecs [][]float32
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("embed: cache: wrapped embedder panicked: %v", r)
			defer panic(r)
		}
		c.mu.Lock()
		for j, i := range own {
			delete(c.inflight, keys[i])
			if err != nil {
				calls[j].err = err
			} else {
				// The cache keeps a compact copy of its own (the wrapped
				// embedder may return views of one shared array); the
				// caller gets the wrapped embedder's fresh slice.
				stored := clone(vecs[j])
				calls[j].vec = stored
				c.add(keys[i], stored)
				out[i] = vecs[j]
			}
			close(calls[j].done)
		}
		c.mu.Unlock()
	}()
	vecs, err = c.embedInner(ctx, pick(texts, own))
	return err
}

// embedInner calls the wrapped embedder and checks it kept its contract.
func (c *Cached) embedInner(ctx context.Context, texts []string) ([][]float32, error) {
	vecs, err := c.e.Embed(ctx, texts)
	if err != nil {
		return nil, err
	}
	if len(vecs) != len(texts) {
		return nil, fmt.Errorf("%w: %s returned %d vectors for %d texts", ErrBadResponse, c.e.ID(), len(vecs), len(texts))
	}
	return vecs, nil
}

// testHookWait, when set by a test, runs before each wait for another
// call's text.
var testHookWait func()

func pick(texts []string, idx []int) []string {
	p := make([]string, len(idx))
	for j, i := range idx {
		p[j] = texts[i]
	}
	return p
}

func clone(v []float32) []float32 { return append([]float32(nil), v...) }

// add caches vec under key, evicting the least recently used entry when
// full. c.mu is held. vec must be the cache's own: never handed out.
func (c *Cached) add(key [sha256.Size]byte, vec []float32) {
	if e, ok := c.items[key]; ok {
		e.vec = vec
		c.touch(e)
		return
	}
	var e *lruEntry
	if len(c.items) >= c.size {
		e = c.root.prev // the oldest: reuse its node
		c.unlink(e)
		delete(c.items, e.key)
	} else {
		e = new(lruEntry)
	}
	e.key, e.vec = key, vec
	c.pushFront(e)
	c.items[key] = e
}

func (c *Cached) touch(e *lruEntry) {
	c.unlink(e)
	c.pushFront(e)
}

func (c *Cached) unlink(e *lruEntry) {
	e.prev.next = e.next
	e.next.prev = e.prev
}

func (c *Cached) pushFront(e *lruEntry) {
	e.prev = &c.root
	e.next = c.root.next
	c.root.next.prev = e
	c.root.next = e
}
