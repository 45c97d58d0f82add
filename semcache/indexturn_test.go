package semcache

import (
	"sync"
	"testing"
	"time"
)

// slowIndex is a flat index whose Add, once armed, waits until released:
// a graph insert that takes long.
type slowIndex struct {
	*FlatIndex
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}
}

func (s *slowIndex) Add(id ID, vec []float32) {
	s.mu.Lock()
	armed := s.armed
	s.armed = false
	s.mu.Unlock()
	if armed {
		close(s.entered)
		<-s.release
	}
	s.FlatIndex.Add(id, vec)
}

func (s *slowIndex) arm() {
	s.mu.Lock()
	s.armed, s.entered, s.release = true, make(chan struct{}), make(chan struct{})
	s.mu.Unlock()
}

func slowIndexCache(t *testing.T) (*Cache, *slowIndex) {
	t.Helper()
	st, err := OpenStore(StoreOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	idx := &slowIndex{FlatIndex: NewFlatIndex(4)}
	c, err := Open(st, Options{SweepInterval: time.Hour}, CacheConfig{EmbedderID: "emb", Dim: 4, Now: clk.now, Logger: quiet,
		NewIndex: func(int) Index { return idx }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, idx
}

// TestCacheLookupsProceedDuringIndexAdd: a put's vector goes into its
// partition's index outside the cache lock, so exact and semantic
// lookups proceed while a slow graph insert runs; the put returns once its
// vector is searchable.
func TestCacheLookupsProceedDuringIndexAdd(t *testing.T) {
	c, idx := slowIndexCache(t)
	if err := c.Put(entry(1, 1, "a"), unit(1, 0, 0, 0)); err != nil {
		t.Fatal(err)
	}
	idx.arm()
	done := make(chan error, 1)
	go func() { done <- c.Put(entry(2, 1, "b"), unit(0, 1, 0, 0)) }()
	<-idx.entered
	if heldLock(c) {
		close(idx.release)
		<-done
		t.Fatal("Put holds the cache lock while it adds its vector to the index")
	}
	if _, err := c.GetExact(tid(1), 0); err != nil {
		t.Errorf("exact lookup during an index add: %v", err)
	}
	if cand, _, err := c.FindSemantic(&Query{Verify: acceptAll{}, Part: tid(1), Vec: unit(1, 0, 0, 0), Threshold: 0.9, Prompt: "a"}); err != nil || cand == nil {
		t.Errorf("semantic lookup during an index add: %+v %v", cand, err)
	}
	close(idx.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if cand, _, err := c.FindSemantic(&Query{Verify: acceptAll{}, Part: tid(1), Vec: unit(0, 1, 0, 0), Threshold: 0.9, Prompt: "b"}); err != nil || cand == nil || cand.Entry.ID != tid(2) {
		t.Fatalf("the put's vector after Put returned: %+v %v", cand, err)
	}
}

// TestCacheIndexAddReconciled: an entry deleted, or replaced by one
// without a vector, while its put's vector was on its way into the index
// leaves no vector behind; one replaced by a put with a vector keeps the
// later vector.
func TestCacheIndexAddReconciled(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *Cache) error
		want   bool // a vector for the ID is left, the change's
	}{
		{"deleted", func(c *Cache) error { return c.Delete(tid(2)) }, false},
		{"replaced without a vector", func(c *Cache) error { return c.Put(entry(2, 1, "b"), nil) }, false},
		{"replaced with a vector", func(c *Cache) error { return c.Put(entry(2, 1, "b"), unit(0, 0, 1, 0)) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, idx := slowIndexCache(t)
			idx.arm()
			done := make(chan error, 1)
			go func() { done <- c.Put(entry(2, 1, "b"), unit(0, 1, 0, 0)) }()
			<-idx.entered
			c.mu.RLock()
			first := c.metas[tid(2)]
			c.mu.RUnlock()
			changed := make(chan error, 1)
			go func() { changed <- tc.change(c) }()
			// The change's memory part is made under the lock at once; its
			// store write (and index add) waits for the first put's turn.
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
				c.mu.RLock()
				m := c.metas[tid(2)]
				c.mu.RUnlock()
				if m != first {
					break
				}
			}
			close(idx.release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if err := <-changed; err != nil {
				t.Fatal(err)
			}
			if old, _, _ := c.FindSemantic(&Query{Verify: acceptAll{}, Part: tid(1), Vec: unit(0, 1, 0, 0), Threshold: 0.9, Prompt: "b"}); old != nil {
				t.Errorf("the first put's vector is still found")
			}
			want := 0
			if tc.want {
				want = 1
				if cand, _, _ := c.FindSemantic(&Query{Verify: acceptAll{}, Part: tid(1), Vec: unit(0, 0, 1, 0), Threshold: 0.9, Prompt: "b"}); cand == nil {
					t.Errorf("the later put's vector is not found")
				}
			}
			if n := idx.Len(); n != want {
				t.Errorf("the index holds %d vectors, want %d", n, want)
			}
		})
	}
}
