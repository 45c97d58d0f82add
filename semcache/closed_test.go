package semcache

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// TestStoreCallsAfterClose: every record call on a closed store returns
// ErrClosed; none reaches the closed Pebble database (which panics).
func TestStoreCallsAfterClose(t *testing.T) {
	s, err := OpenStore(StoreOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	e := &Entry{ID: ID{1}, Kind: "chat", Model: "m", Body: []byte(`{}`)}
	m := &meta{model: "m", embedder: "emb"}
	if err := s.putEntry(e, m, []float32{1}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"putEntry":    func() error { return s.putEntry(e, m, []float32{1}) },
		"getEntry":    func() error { _, err := s.getEntry(e.ID); return err },
		"putMetas":    func() error { return s.putMetas([]metaRecord{{e.ID, *m}}) },
		"deleteEntry": func() error { return s.deleteEntry(e.ID, m) },
		"deleteAll":   s.deleteAll,
		"scanMetas":   func() error { return s.scanMetas(func(ID, *meta) {}) },
		"scanWords":   func() error { return s.scanWords(func(ID, ID, string) {}) },
		"scanVectors": func() error { return s.scanVectors("emb", 1, func(ID, ID, []float32) {}) },
		"Ping":        s.Ping,
	}
	for name, call := range calls {
		func() {
			defer func() {
				if v := recover(); v != nil {
					t.Errorf("%s after Close panicked: %v", name, v)
				}
			}()
			if err := call(); !errors.Is(err, ErrClosed) {
				t.Errorf("%s after Close = %v, want ErrClosed", name, err)
			}
		}()
	}
}

// TestStoreCloseDuringWrites closes the store while writers run: each
// write succeeds or returns ErrClosed, Close waits for the running ones,
// and nothing panics or hangs.
func TestStoreCloseDuringWrites(t *testing.T) {
	s, err := OpenStore(StoreOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	const writers = 4
	var wg sync.WaitGroup
	started := make(chan struct{}, writers)
	panics := make(chan any, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if v := recover(); v != nil {
					panics <- v
				}
			}()
			m := &meta{model: "m"}
			for i := 0; i < 1_000_000; i++ {
				err := s.putMetas([]metaRecord{{ID{byte(w), byte(i)}, *m}})
				if i == 0 {
					started <- struct{}{}
				}
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("putMetas: %v", err)
					return
				}
			}
		}()
	}
	for range writers {
		<-started
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("writers still blocked a minute after Close")
	}
	close(panics)
	for v := range panics {
		t.Fatalf("a write racing Close panicked: %v", v)
	}
}
