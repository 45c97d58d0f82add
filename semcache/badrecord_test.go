package semcache

import (
	"errors"
	"testing"
	"time"
)

// TestOpenSkipsBadRecords damages records of every kind start-up reads,
// then opens: it succeeds, the good entries are served, the bad ones are
// gone from memory and the store, and counted.
func TestOpenSkipsBadRecords(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	st, c := openTestCache(t, dir, Options{}, clk, "emb")
	for i, id := range []byte{1, 2, 3, 4, 5, 6} { // 1, 2, 6 stay good
		e := entry(id, 1, "what is the boiling point of water")
		e.Semantic = true
		if err := c.Put(e, unit(1, float32(i), 0, 0)); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	db := st.db
	set := func(k, v []byte) {
		if err := db.Set(k, v, nil); err != nil {
			t.Fatal(err)
		}
	}
	set(metaKey(tid(3)), []byte("garbage")) // meta that does not decode
	m4, closer, err := db.Get(metaKey(tid(4)))
	if err != nil {
		t.Fatal(err)
	}
	m4 = append([]byte(nil), m4[:len(m4)-3]...)
	closer.Close()
	set(metaKey(tid(4)), m4)                                 // truncated meta
	if err := db.Delete(entryKey(tid(5)), nil); err != nil { // meta without its entry record
		t.Fatal(err)
	}
	set(vecKey("emb", tid(1), tid(6)), []byte{1, 2, 3}) // vector of the wrong size
	set(append([]byte{tableMeta}, 9, 9), []byte("x"))   // meta key of the wrong size
	part := tid(1)
	set(wordsKey(tid(7)), append(part[:], "no entry has these"...))       // words of no entry
	set(wordsKey(tid(8)), []byte("short"))                                // words value too short
	set(append([]byte{tableVector}, "emb\x00short"...), make([]byte, 16)) // vector key of the wrong size
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// Open failed here before: "semcache: load metadata: semcache: corrupt
	// record". Skipped: the metadata of 3 and 4 (not their vectors and
	// words again), 6's vector and the four stray records.
	st2, c2 := openTestCache(t, dir, Options{}, clk, "emb")
	const atStart = 7
	s := c2.Stats()
	if s.SkippedRecords != atStart || s.Entries != 4 {
		t.Fatalf("after open: %d records skipped (want %d), %d entries (want 4: 1, 2, 6 and 5 until read)", s.SkippedRecords, atStart, s.Entries)
	}
	for _, id := range []byte{1, 2, 6} {
		if _, err := c2.GetExact(tid(id), 0); err != nil {
			t.Fatalf("good entry %d: %v", id, err)
		}
	}
	cand, _, err := c2.FindSemantic(&Query{Verify: acceptAll{}, Part: tid(1), Vec: unit(1, 0, 0, 0), Threshold: 0.9, Prompt: "x"})
	if err != nil || cand == nil || cand.Entry.ID != tid(1) {
		t.Fatalf("semantic lookup: %+v %v", cand, err)
	}
	for _, id := range []byte{3, 4, 5} {
		if _, err := c2.GetExact(tid(id), 0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("bad entry %d: %v", id, err)
		}
	}
	if s := c2.Stats(); s.SkippedRecords != atStart+1 || s.Entries != 3 {
		t.Fatalf("after reading entry 5: %d skipped, %d entries", s.SkippedRecords, s.Entries)
	}
	for _, l := range c2.List(nil, "", 10) {
		if l.Key == tid(6).String() && l.Semantic {
			t.Fatal("entry 6 lost its vector but is listed as semantic")
		}
	}
	c2.Close()
	st2.Close()

	// Everything bad was removed: a second start finds nothing to skip.
	st3, c3 := openTestCache(t, dir, Options{}, clk, "emb")
	if s := c3.Stats(); s.SkippedRecords != 0 || s.Entries != 3 {
		t.Fatalf("second open: %+v", s)
	}
	for _, id := range []byte{3, 4, 5} {
		for name, k := range map[string][]byte{"entry": entryKey(tid(id)), "meta": metaKey(tid(id)),
			"words": wordsKey(tid(id)), "vector": vecKey("emb", tid(1), tid(id))} {
			if hasKey(t, st3, k) {
				t.Errorf("bad entry %d: %s record left", id, name)
			}
		}
	}
	if hasKey(t, st3, wordsKey(tid(7))) || hasKey(t, st3, vecKey("emb", tid(1), tid(6))) {
		t.Error("stray records left")
	}
	if _, err := c3.GetExact(tid(6), 0); err != nil {
		t.Fatalf("entry 6 (exact-only now): %v", err)
	}
}

// TestGetExactDropsCorruptEntry: an entry whose answer record does not
// decode is a miss, and is dropped and counted.
func TestGetExactDropsCorruptEntry(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	st, c := openTestCache(t, t.TempDir(), Options{}, clk, "emb")
	if err := c.Put(entry(1, 1, "a"), unit(1, 0, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := st.db.Set(entryKey(tid(1)), []byte{0xff}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetExact(tid(1), 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("corrupt entry: %v", err)
	}
	if s := c.Stats(); s.Entries != 0 || s.SkippedRecords != 1 || hasKey(t, st, metaKey(tid(1))) {
		t.Fatalf("corrupt entry kept: %+v", s)
	}
}
