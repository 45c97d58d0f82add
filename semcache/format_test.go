package semcache

import (
	"errors"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// TestOlderAnswerFormatDropped: entries written before the answer format
// record (or under an older one) are dropped when the cache opens, never
// served; a store from a newer build is refused.
func TestOlderAnswerFormatDropped(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	st, c := openTestCache(t, dir, Options{}, clk, "")
	if err := c.Put(entry(1, 9, "kept?"), nil); err != nil {
		t.Fatal(err)
	}
	// Make it look like what the previous build wrote: a version 2 entry
	// record and no answer format record.
	v, closer, err := st.db.Get(entryKey(tid(1)))
	if err != nil {
		t.Fatal(err)
	}
	old := append([]byte(nil), v...)
	closer.Close()
	old[0] = 2
	if err := st.db.Set(entryKey(tid(1)), old, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := st.db.Delete(answerFormatKey, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if _, err := decodeEntry(tid(1), old); !errors.Is(err, ErrStale) {
		t.Fatalf("a version 2 record decoded: %v", err)
	}
	c.Close()
	st.Close()

	st2, c2 := openTestCache(t, dir, Options{}, clk, "")
	if _, err := c2.GetExact(tid(1), 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an entry of the older format is still there: %v", err)
	}
	if n := c2.Stats().Entries; n != 0 {
		t.Fatalf("%d entries after the drop", n)
	}
	// New entries are kept across a reopen.
	if err := c2.Put(entry(2, 9, "new"), nil); err != nil {
		t.Fatal(err)
	}
	c2.Close()
	st2.Close()
	st3, c3 := openTestCache(t, dir, Options{}, clk, "")
	if _, err := c3.GetExact(tid(2), 0); err != nil {
		t.Fatalf("an entry of the current format was dropped: %v", err)
	}
	// A newer build's store is refused, not wiped.
	if err := st3.db.Set(answerFormatKey, []byte("99"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	c3.Close()
	st3.Close()
	st4, err := OpenStore(StoreOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st4.Close()
	if _, err := Open(st4, Options{}, CacheConfig{Logger: quiet, Now: clk.now}); !errors.Is(err, ErrFormat) {
		t.Fatalf("a newer answer format opened: %v", err)
	}
}
