package semcache

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestStoreOpenPingCloseReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(StoreOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(); !errors.Is(err, ErrClosed) {
		t.Fatalf("ping after close = %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	s, err = OpenStore(StoreOptions{Dir: dir})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	s.Close()
}

func TestStoreRefusesOtherFormat(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(StoreOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Set(formatKey, []byte("999"), nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := OpenStore(StoreOptions{Dir: dir}); !errors.Is(err, ErrFormat) {
		t.Fatalf("open = %v, want ErrFormat", err)
	}
}

func TestStoreBadDir(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(StoreOptions{Dir: f}); err == nil {
		t.Fatal("opening a store under a regular file succeeded")
	}
	if err := (&StoreOptions{BlockCacheMB: -1}).Validate(); err == nil {
		t.Fatal("negative cache size accepted")
	}
}
