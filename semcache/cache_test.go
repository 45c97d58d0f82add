package semcache

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/semgate/semgate/semcache/verify"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openTestCache(t *testing.T, dir string, o Options, clk *clock, embedder string) (*Store, *Cache) {
	t.Helper()
	st, err := OpenStore(StoreOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(st, o, CacheConfig{EmbedderID: embedder, Dim: 4, Now: clk.now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); st.Close() })
	return st, c
}

func tid(b byte) ID { var id ID; id[0] = b; return id }

func entry(id, part byte, prompt string) *Entry {
	return &Entry{ID: tid(id), Partition: tid(part), Kind: "chat", Model: "m", Prompt: prompt,
		Body: json.RawMessage(`{"id":"x","object":"chat.completion","choices":[]}`), PromptTokens: 3, CompletionTokens: 4, CostUSD: 0.5}
}

func unit(v ...float32) []float32 {
	var n float32
	for _, f := range v {
		n += f * f
	}
	out := make([]float32, len(v))
	for i, f := range v {
		out[i] = f / sqrt32(n)
	}
	return out
}

func sqrt32(f float32) float32 {
	x := f
	for i := 0; i < 30; i++ {
		x = (x + f/x) / 2
	}
	return x
}

func TestCachePutGetExactAndTTL(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	_, c := openTestCache(t, t.TempDir(), Options{TTL: time.Hour}, clk, "emb")
	if _, err := c.GetExact(tid(1), 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty cache: %v", err)
	}
	if err := c.Put(entry(1, 9, "hello"), unit(1, 0, 0, 0)); err != nil {
		t.Fatal(err)
	}
	e, err := c.GetExact(tid(1), 0)
	if err != nil || e.Prompt != "hello" || string(e.Body) == "" || e.Partition != tid(9) {
		t.Fatalf("%+v %v", e, err)
	}
	clk.add(30 * time.Minute)
	if _, err := c.GetExact(tid(1), 10*time.Minute); !errors.Is(err, ErrNotFound) {
		t.Fatal("max-age did not reject a 30-minute-old entry")
	}
	if _, err := c.GetExact(tid(1), time.Hour); err != nil {
		t.Fatal("max-age rejected a young enough entry")
	}
	clk.add(31 * time.Minute)
	if _, err := c.GetExact(tid(1), 0); !errors.Is(err, ErrNotFound) {
		t.Fatal("an expired entry was served")
	}
	if cand, _, _ := c.FindSemantic(&Query{Verify: acceptAll{}, Part: tid(9), Vec: unit(1, 0, 0, 0), Threshold: 0.5, Prompt: "hello"}); cand != nil {
		t.Fatal("an expired entry was a semantic hit")
	}
	if n := c.Sweep(); n != 1 || c.Stats().Entries != 0 {
		t.Fatalf("sweep removed %d, %d left", n, c.Stats().Entries)
	}
}

func TestCacheSemanticPartitionsAndThreshold(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	_, c := openTestCache(t, t.TempDir(), Options{}, clk, "emb")
	c.Put(entry(1, 1, "a"), unit(1, 0, 0, 0))
	c.Put(entry(2, 1, "b"), unit(0, 1, 0, 0))
	c.Put(entry(3, 2, "c"), unit(1, 0.01, 0, 0)) // nearer, but another partition
	cand, _, err := c.FindSemantic(&Query{Verify: acceptAll{}, Part: tid(1), Vec: unit(1, 0.1, 0, 0), Threshold: 0.9, Prompt: "a"})
	if err != nil || cand == nil || cand.Entry.ID != tid(1) || cand.Score < 0.99 {
		t.Fatalf("%+v %v", cand, err)
	}
	if cand, _, _ := c.FindSemantic(&Query{Verify: acceptAll{}, Part: tid(1), Vec: unit(1, 1, 0, 0), Threshold: 0.9, Prompt: "a"}); cand != nil {
		t.Fatalf("a 0.71 candidate passed a 0.9 threshold: %+v", cand)
	}
	if cand, _, _ := c.FindSemantic(&Query{Verify: acceptAll{}, Part: tid(3), Vec: unit(1, 0, 0, 0), Threshold: 0.1, Prompt: "a"}); cand != nil {
		t.Fatal("hit in a partition with no entries")
	}
}

// acceptAll is a verifier that justifies every candidate, so these tests
// see retrieval alone.
type acceptAll struct{}

func (acceptAll) Verify(string, string, float32) verify.Verdict {
	return verify.Verdict{OK: true, Rule: verify.Explained}
}

func TestCacheWordChannel(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	_, c := openTestCache(t, t.TempDir(), Options{}, clk, "emb")
	e := entry(1, 1, "How do I restart my computer in safe mode on Windows 11?")
	e.Semantic = true
	c.Put(e, unit(1, 0, 0, 0))
	v := verify.New(verify.Options{})
	// A typo the embedding places far away (orthogonal vector, no score
	// known): found by its words, verified, served.
	q := Query{Part: tid(1), Prompt: "How do I restart my computer in safe mode on Windwos 11?", Threshold: 0.9, Verify: v}
	cand, _, err := c.FindSemantic(&q)
	if err != nil || cand == nil || cand.Entry.ID != tid(1) || cand.Channel != ChannelWords {
		t.Fatalf("typo: %+v %v", cand, err)
	}
	if got := cand.Verdict.String(); got != "typo(Windows→Windwos)" {
		t.Fatalf("verdict %q", got)
	}
	// One word changed to another word: found, refused by the verifier.
	q.Prompt = "How do I restart my computer in safe mode on Windows 10?"
	cand, rejected, _ := c.FindSemantic(&q)
	if cand != nil || rejected == nil || rejected.Verdict.Rule != verify.Number {
		t.Fatalf("number: %+v %+v", cand, rejected)
	}
	// Another partition never sees it; a deleted entry is gone.
	q.Prompt, q.Part = "How do I restart my computer in safe mode on Windwos 11?", tid(2)
	if cand, _, _ := c.FindSemantic(&q); cand != nil {
		t.Fatal("crossed partitions")
	}
	q.Part = tid(1)
	c.Delete(tid(1))
	if cand, _, _ := c.FindSemantic(&q); cand != nil {
		t.Fatal("deleted entry found")
	}
	// Without Semantic the entry is exact-only.
	c.Put(entry(2, 1, "How do I restart my computer in safe mode on Windows 11?"), nil)
	if cand, _, _ := c.FindSemantic(&q); cand != nil {
		t.Fatal("exact-only entry found by its words")
	}
}

func TestCacheWordChannelSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	s, c := openTestCache(t, dir, Options{}, clk, "emb")
	e := entry(1, 1, "What is the statute of limitations for breach of contract in Texas?")
	e.Semantic = true
	c.Put(e, nil)
	c.Close()
	s.Close()
	_, c2 := openTestCache(t, dir, Options{}, clk, "emb")
	q := Query{Part: tid(1), Prompt: "What is the statute of limitatons for breach of contract in Texas?", Verify: verify.New(verify.Options{})}
	if cand, _, err := c2.FindSemantic(&q); err != nil || cand == nil || cand.Entry.ID != tid(1) {
		t.Fatalf("after restart: %+v %v", cand, err)
	}
}

type rejectAll struct{}

func (rejectAll) Check(string, string) (bool, string) { return false, "numbers" }

func TestCacheGuardRejects(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	_, c := openTestCache(t, t.TempDir(), Options{}, clk, "emb")
	c.Put(entry(1, 1, "top 5"), unit(1, 0, 0, 0))
	cand, rejected, err := c.FindSemantic(&Query{Verify: acceptAll{}, Part: tid(1), Vec: unit(1, 0, 0, 0), Threshold: 0.5, Prompt: "top 10", Check: rejectAll{}})
	if err != nil || cand != nil || rejected == nil || rejected.Verdict.Rule != "guard:numbers" || c.Stats().GuardRejects != 1 {
		t.Fatalf("%+v %+v %v", cand, rejected, err)
	}
}

func TestCacheEvictsLeastRecentlyHit(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	_, c := openTestCache(t, t.TempDir(), Options{MaxEntries: 20}, clk, "emb")
	for i := 0; i < 20; i++ {
		clk.add(time.Second)
		if err := c.Put(entry(byte(i), 1, "p"), unit(1, float32(i), 0, 0)); err != nil {
			t.Fatal(err)
		}
	}
	// Entry 0 is the oldest but was just hit: it must survive.
	clk.add(time.Second)
	e, _ := c.GetExact(tid(0), 0)
	c.Hit(e, false)
	clk.add(time.Second)
	c.Put(entry(100, 1, "p"), unit(0, 0, 1, 0)) // 21 > 20: evict down to 19
	s := c.Stats()
	if s.Entries != 19 || s.Evictions != 2 {
		t.Fatalf("entries %d evictions %d", s.Entries, s.Evictions)
	}
	for _, id := range []byte{0, 100} {
		if _, err := c.GetExact(tid(id), 0); err != nil {
			t.Fatalf("entry %d evicted", id)
		}
	}
	for _, id := range []byte{1, 2} {
		if _, err := c.GetExact(tid(id), 0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("entry %d (least recent) kept", id)
		}
	}
}

func TestCacheEvictsByBytes(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	_, c := openTestCache(t, t.TempDir(), Options{MaxBytes: 3000}, clk, "emb")
	for i := 0; i < 40; i++ {
		clk.add(time.Second)
		e := entry(byte(i), 1, strings.Repeat("x", 100))
		c.Put(e, nil)
	}
	if s := c.Stats(); s.Bytes > 3000 || s.Evictions == 0 {
		t.Fatalf("%+v", s)
	}
}

func TestCacheSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	st, err := OpenStore(StoreOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(st, Options{}, CacheConfig{EmbedderID: "emb", Dim: 4, Now: clk.now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	c.Put(entry(1, 1, "a"), unit(1, 0, 0, 0))
	c.Put(entry(2, 1, "b"), nil) // exact-only
	e, _ := c.GetExact(tid(1), 0)
	c.Hit(e, false)
	c.Close()
	st.Close()

	_, c2 := openTestCache(t, dir, Options{}, clk, "emb")
	if s := c2.Stats(); s.Entries != 2 || s.Partitions != 1 {
		t.Fatalf("after restart: %+v", s)
	}
	if _, err := c2.GetExact(tid(2), 0); err != nil {
		t.Fatal(err)
	}
	cand, _, _ := c2.FindSemantic(&Query{Verify: acceptAll{}, Part: tid(1), Vec: unit(1, 0.05, 0, 0), Threshold: 0.9, Prompt: "a"})
	if cand == nil || cand.Entry.ID != tid(1) {
		t.Fatal("vector index not rebuilt after restart")
	}
	if l := c2.List(nil, "", 10); len(l) != 2 || (l[0].Hits+l[1].Hits) != 1 {
		t.Fatalf("hits not persisted: %+v", l)
	}
}

func TestCacheOtherEmbedderVectorsNotCompared(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	st, _ := OpenStore(StoreOptions{Dir: dir})
	c, _ := Open(st, Options{}, CacheConfig{EmbedderID: "old", Dim: 4, Now: clk.now, Logger: quiet})
	c.Put(entry(1, 1, "a"), unit(1, 0, 0, 0))
	c.Close()
	st.Close()
	_, c2 := openTestCache(t, dir, Options{}, clk, "new")
	if cand, _, _ := c2.FindSemantic(&Query{Verify: acceptAll{}, Part: tid(1), Vec: unit(1, 0, 0, 0), Threshold: 0.5, Prompt: "a"}); cand != nil {
		t.Fatal("a vector from another embedder was compared")
	}
	if _, err := c2.GetExact(tid(1), 0); err != nil {
		t.Fatal("exact lookup must still work across embedders")
	}
}

func TestCacheFlushAndDelete(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	_, c := openTestCache(t, t.TempDir(), Options{}, clk, "emb")
	a, b, d := entry(1, 1, "a"), entry(2, 1, "b"), entry(3, 2, "c")
	b.Model = "other"
	d.Namespace = "ns"
	c.Put(a, unit(1, 0, 0, 0))
	c.Put(b, unit(0, 1, 0, 0))
	c.Put(d, unit(0, 0, 1, 0))
	if n, _ := c.Flush("other", ""); n != 1 {
		t.Fatalf("flushed %d by model", n)
	}
	if n, _ := c.Flush("", "ns"); n != 1 {
		t.Fatalf("flushed %d by namespace", n)
	}
	if err := c.Delete(tid(1)); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(tid(1)); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	c.Put(a, nil)
	if n, _ := c.Flush("", ""); n != 1 || c.Stats().Entries != 0 {
		t.Fatalf("flush all removed %d", n)
	}
}

func TestMetaRoundTrip(t *testing.T) {
	m := &meta{partition: tid(7), created: 1, expires: 2, size: 3, hits: 4, lastHit: 5, model: "m", namespace: "n", embedder: "e"}
	got, err := decodeMeta(m.encode())
	if err != nil || *got != *m {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := decodeMeta(m.encode()[:20]); !errors.Is(err, ErrCorrupt) {
		t.Fatal("truncated meta decoded")
	}
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestEntryRoundTrip(t *testing.T) {
	e := entry(1, 2, "prompt ü")
	e.Namespace, e.Provider, e.UpstreamModel, e.Embedder, e.Stream = "ns", "p", "um", "emb", true
	e.Created = time.UnixMilli(1_700_000_000_123)
	e.Expires = time.UnixMilli(1_700_000_900_000)
	rec, err := encodeEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeEntry(e.ID, rec)
	if err != nil {
		t.Fatal(err)
	}
	if got.Prompt != e.Prompt || got.Namespace != "ns" || got.Embedder != "emb" || !got.Stream || got.CostUSD != 0.5 ||
		string(got.Body) != string(e.Body) || !got.Created.Equal(e.Created) || !got.Expires.Equal(e.Expires) || got.Partition != e.Partition {
		t.Fatalf("%+v", got)
	}
	for _, n := range []int{0, 10, 60, len(rec) - 1} {
		if _, err := decodeEntry(e.ID, rec[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
}
