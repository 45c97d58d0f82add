package embed

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// gatedEmbedder blocks each Embed call until release is closed (or ctx
// is done), after signalling on started.
type gatedEmbedder struct {
	Embedder
	started chan []string
	release chan struct{}
	mu      sync.Mutex
	calls   int
	fail    error // the first call's error
	panicky bool  // the first call panics
}

func (g *gatedEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	g.mu.Lock()
	g.calls++
	first := g.calls == 1
	g.mu.Unlock()
	if first {
		g.started <- texts
		select {
		case <-g.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if g.panicky {
			panic("inner panic")
		}
		if g.fail != nil {
			return nil, g.fail
		}
	}
	return g.Embedder.Embed(ctx, texts)
}

func newGated(t *testing.T) *gatedEmbedder {
	l, err := NewLexical(0, LexicalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &gatedEmbedder{Embedder: l, started: make(chan []string, 1), release: make(chan struct{})}
}

// setWaitHook makes each waiter signal on the returned channel.
func setWaitHook(t *testing.T) chan struct{} {
	waiting := make(chan struct{}, 8)
	testHookWait = func() { waiting <- struct{}{} }
	t.Cleanup(func() { testHookWait = nil })
	return waiting
}

type result struct {
	v   [][]float32
	err error
}

func embedAsync(ctx context.Context, c Embedder, texts ...string) chan result {
	ch := make(chan result, 1)
	go func() {
		v, err := c.Embed(ctx, texts)
		ch <- result{v, err}
	}()
	return ch
}

// A text that another call is embedding is waited for, not sent twice.
func TestCachedConcurrentMissesShareOneCall(t *testing.T) {
	waiting := setWaitHook(t)
	g := newGated(t)
	c := NewCached(g, 10)
	ctx := context.Background()
	first := embedAsync(ctx, c, "q")
	<-g.started
	second := embedAsync(ctx, c, "q")
	<-waiting
	close(g.release)
	r1, r2 := <-first, <-second
	if r1.err != nil || r2.err != nil {
		t.Fatal(r1.err, r2.err)
	}
	if g.calls != 1 {
		t.Fatalf("wrapped embedder called %d times, want 1", g.calls)
	}
	if r1.v[0][0] != r2.v[0][0] {
		t.Fatal("different vectors")
	}
	if st := c.(*Cached).Stats(); st.Hits != 1 || st.Misses != 1 {
		t.Fatalf("Stats %+v", st)
	}
}

// When the call a waiter relies on fails (here: its caller gave up), the
// waiter embeds the text itself.
func TestCachedWaiterRetriesAfterOwnerFails(t *testing.T) {
	waiting := setWaitHook(t)
	g := newGated(t)
	c := NewCached(g, 10)
	ctx1, cancel1 := context.WithCancel(context.Background())
	first := embedAsync(ctx1, c, "q")
	<-g.started
	second := embedAsync(context.Background(), c, "q")
	<-waiting
	cancel1()
	if r := <-first; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("owner: err = %v, want context.Canceled", r.err)
	}
	r := <-second
	if r.err != nil || len(r.v) != 1 {
		t.Fatalf("waiter: %v", r.err)
	}
	if g.calls != 2 {
		t.Fatalf("wrapped embedder called %d times, want 2", g.calls)
	}
}

// A waiter whose own context ends stops waiting.
func TestCachedWaiterCanceled(t *testing.T) {
	waiting := setWaitHook(t)
	g := newGated(t)
	c := NewCached(g, 10)
	first := embedAsync(context.Background(), c, "q")
	<-g.started
	ctx2, cancel2 := context.WithCancel(context.Background())
	second := embedAsync(ctx2, c, "q")
	<-waiting
	cancel2()
	if r := <-second; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("waiter: err = %v, want context.Canceled", r.err)
	}
	close(g.release)
	if r := <-first; r.err != nil {
		t.Fatal(r.err)
	}
}

// A panicking wrapped embedder releases the waiters and leaves nothing in
// flight; the panic reaches the owner's caller.
func TestCachedInnerPanic(t *testing.T) {
	waiting := setWaitHook(t)
	g := newGated(t)
	g.panicky = true
	c := NewCached(g, 10)
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		_, _ = c.Embed(context.Background(), []string{"q"})
	}()
	<-g.started
	second := embedAsync(context.Background(), c, "q")
	<-waiting
	close(g.release)
	if p := <-panicked; p != "inner panic" {
		t.Fatalf("recovered %v", p)
	}
	if r := <-second; r.err != nil {
		t.Fatalf("waiter: %v", r.err)
	}
	if n := len(c.(*Cached).inflight); n != 0 {
		t.Fatalf("%d texts still in flight", n)
	}
}
