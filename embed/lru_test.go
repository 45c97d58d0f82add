package embed_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/semgate/semgate/embed"
)

// countingEmbedder records the batches it is asked to embed and fails
// while fail is set.
type countingEmbedder struct {
	inner embed.Embedder
	mu    sync.Mutex
	calls [][]string
	fail  error
	short bool // return one vector too few
}

func (c *countingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	c.mu.Lock()
	c.calls = append(c.calls, slices.Clone(texts))
	fail, short := c.fail, c.short
	c.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	v, err := c.inner.Embed(ctx, texts)
	if short && len(v) > 0 {
		v = v[:len(v)-1]
	}
	return v, err
}
func (c *countingEmbedder) Dim() int   { return c.inner.Dim() }
func (c *countingEmbedder) ID() string { return c.inner.ID() }

func (c *countingEmbedder) batches() [][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

func newCounting(t *testing.T) *countingEmbedder {
	return &countingEmbedder{inner: newLexical(t, 0, embed.LexicalOptions{})}
}

func TestCachedSendsOnlyMisses(t *testing.T) {
	inner := newCounting(t)
	c := embed.NewCached(inner, 10)
	direct := embedAll(t, inner.inner, "a", "b", "c")
	embedAll(t, c, "a", "b")
	got := embedAll(t, c, "b", "c", "a", "c")
	want := [][]string{{"a", "b"}, {"c"}}
	if b := inner.batches(); !slices.EqualFunc(b, want, slices.Equal) {
		t.Fatalf("wrapped embedder saw %q, want %q", b, want)
	}
	for i, j := range []int{1, 2, 0, 2} {
		if !slicesEqual(got[i], direct[j]) {
			t.Errorf("vector %d differs from the wrapped embedder's", i)
		}
	}
	st := c.(*embed.Cached).Stats()
	if st.Hits != 3 || st.Misses != 3 || st.Entries != 3 {
		t.Errorf("Stats = %+v, want 3 hits (b, a, second c), 3 misses, 3 entries", st)
	}
	if c.ID() != inner.ID() || c.Dim() != inner.Dim() {
		t.Errorf("ID/Dim %q/%d, wrapped %q/%d", c.ID(), c.Dim(), inner.ID(), inner.Dim())
	}
}

func TestCachedDuplicatesInOneBatch(t *testing.T) {
	inner := newCounting(t)
	c := embed.NewCached(inner, 10)
	v := embedAll(t, c, "x", "x", "y", "x")
	if b := inner.batches(); len(b) != 1 || !slices.Equal(b[0], []string{"x", "y"}) {
		t.Fatalf("wrapped embedder saw %q, want [[x y]]", b)
	}
	if !slicesEqual(v[0], v[1]) || !slicesEqual(v[0], v[3]) {
		t.Fatal("equal texts, different vectors")
	}
	v[0][0] = 42 // the caller owns each slice
	if v[1][0] == 42 || v[3][0] == 42 {
		t.Fatal("duplicate texts share a slice")
	}
}

func TestCachedEvictsLeastRecentlyUsed(t *testing.T) {
	inner := newCounting(t)
	c := embed.NewCached(inner, 2)
	embedAll(t, c, "a")
	embedAll(t, c, "b")
	embedAll(t, c, "a") // a is now the most recent
	embedAll(t, c, "c") // evicts b
	embedAll(t, c, "a") // hit
	embedAll(t, c, "b") // miss: evicts c
	embedAll(t, c, "c") // miss
	want := [][]string{{"a"}, {"b"}, {"c"}, {"b"}, {"c"}}
	if b := inner.batches(); !slices.EqualFunc(b, want, slices.Equal) {
		t.Fatalf("wrapped embedder saw %q, want %q", b, want)
	}
	if n := c.(*embed.Cached).Stats().Entries; n != 2 {
		t.Fatalf("%d entries, want 2", n)
	}
}

func TestCachedErrorsNotCached(t *testing.T) {
	inner := newCounting(t)
	c := embed.NewCached(inner, 10)
	boom := errors.New("boom")
	inner.fail = boom
	if _, err := c.Embed(context.Background(), []string{"a"}); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	inner.fail = nil
	embedAll(t, c, "a")
	if n := len(inner.batches()); n != 2 {
		t.Fatalf("%d calls, want 2: a failure must not be cached", n)
	}
	inner.short = true
	if _, err := c.Embed(context.Background(), []string{"b", "c"}); !errors.Is(err, embed.ErrBadResponse) {
		t.Fatalf("short answer: err = %v, want ErrBadResponse", err)
	}
}

func TestCachedSizeZeroIsIdentity(t *testing.T) {
	l := newLexical(t, 0, embed.LexicalOptions{})
	for _, n := range []int{0, -1} {
		if e := embed.NewCached(l, n); e != embed.Embedder(l) {
			t.Errorf("NewCached(l, %d) = %T, want l itself", n, e)
		}
	}
}

// closerProber records Probe and Close calls that Cached forwards.
type closerProber struct {
	*countingEmbedder
	probed, closed bool
}

func (p *closerProber) Probe(context.Context) error { p.probed = true; return nil }
func (p *closerProber) Close() error                { p.closed = true; return nil }

func TestCachedForwardsOptionalAbilities(t *testing.T) {
	p := &closerProber{countingEmbedder: newCounting(t)}
	c := embed.NewCached(p, 10).(*embed.Cached)
	if err := c.Probe(context.Background()); err != nil || !p.probed {
		t.Fatalf("Probe: %v, forwarded %v", err, p.probed)
	}
	if err := c.Close(); err != nil || !p.closed {
		t.Fatalf("Close: %v, forwarded %v", err, p.closed)
	}
	if c.Unwrap() != embed.Embedder(p) {
		t.Fatal("Unwrap")
	}
	// Without the abilities: no-ops.
	c = embed.NewCached(newCounting(t), 10).(*embed.Cached)
	if c.Probe(context.Background()) != nil || c.Close() != nil {
		t.Fatal("no-op Probe/Close failed")
	}
}
