package semcache

import (
	"errors"
	"testing"
)

func TestKV(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(StoreOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range []byte{0, tableEntry, tableMeta, tableVector} {
		if _, err := s.KV(tb); !errors.Is(err, ErrTable) {
			t.Fatalf("KV(%q) = %v, want ErrTable", tb, err)
		}
	}
	kv, err := s.KV(TableSpend)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get([]byte("a")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get missing: %v", err)
	}
	if err := kv.SetMany([]Pair{{[]byte("p/a"), []byte("1")}, {[]byte("p/b"), []byte("2")}, {[]byte("q/c"), []byte("3")}}, true); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := kv.Scan([]byte("p/"), func(k, v []byte) bool { got = append(got, string(k)+"="+string(v)); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "p/a=1" || got[1] != "p/b=2" {
		t.Fatalf("scan %q", got)
	}
	// A cache flush leaves the table alone; the data survives a reopen.
	if err := s.deleteAll(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := kv.Get([]byte("p/a")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after close: %v", err)
	}
	s, err = OpenStore(StoreOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	kv, _ = s.KV(TableSpend)
	if v, err := kv.Get([]byte("q/c")); err != nil || string(v) != "3" {
		t.Fatalf("after reopen: %q %v", v, err)
	}
	if err := kv.Delete([]byte("q/c")); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get([]byte("q/c")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted key: %v", err)
	}
}
