package semcache

import (
	"testing"
	"time"
)

// TestHitsWrittenInBatches: a hit changes the entry's count and last hit
// in memory at once (evictions see it) without a store write; the next
// writeHits writes every entry hit since in one batch, and Close writes the
// last ones, so a restart finds the counts.
func TestHitsWrittenInBatches(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	st, c := hookedCache(t, dir, Options{TTL: time.Hour}, clk)
	for i := range byte(3) {
		if err := c.Put(entry(i, 1, "prompt"), nil); err != nil {
			t.Fatal(err)
		}
	}
	writes := 0
	c.commitHook = func() { writes++ }
	hit := func(id byte, n int) {
		e, err := c.GetExact(tid(id), 0)
		if err != nil {
			t.Fatal(err)
		}
		for range n {
			c.Hit(e, false)
		}
	}
	hit(0, 3)
	hit(2, 1)
	if writes != 0 {
		t.Fatalf("hits made %d store writes; want none before writeHits", writes)
	}
	if got := hitsOf(c, 0); got != 3 {
		t.Fatalf("entry 0 has %d hits in memory, want 3", got)
	}
	c.writeHits()
	c.writeHits() // nothing new: no write
	if writes != 1 {
		t.Fatalf("two writeHits calls made %d store writes, want 1", writes)
	}
	hit(2, 1)
	if err := c.Delete(tid(2)); err != nil {
		t.Fatal(err)
	}
	hit(1, 2)
	c.Close()
	st.Close()

	_, c2 := openTestCache(t, dir, Options{TTL: time.Hour}, clk, "emb")
	if s := c2.Stats(); s.Entries != 2 || s.SkippedRecords != 0 {
		t.Fatalf("after restart: %d entries, %d records skipped (a deleted entry's hits must not bring back its metadata)", s.Entries, s.SkippedRecords)
	}
	for id, want := range map[byte]int64{0: 3, 1: 2} {
		if got := hitsOf(c2, id); got != want {
			t.Errorf("after restart entry %d has %d hits, want %d", id, got, want)
		}
	}
}

func hitsOf(c *Cache, id byte) int64 {
	for _, e := range c.List(nil, "", 100) {
		if e.Key == tid(id).String() {
			return e.Hits
		}
	}
	return -1
}
