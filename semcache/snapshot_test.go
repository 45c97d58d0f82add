package semcache

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// snapIndex is a FlatIndex that snapshots itself in a trivial format, to
// test the cache's snapshot handling without a graph.
type snapIndex struct {
	*FlatIndex
	loaded bool
}

func (s *snapIndex) Has(id ID) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.pos[id]
	return ok
}

func (s *snapIndex) WriteSnapshot(w io.Writer, embedderID string) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.ids) == 0 {
		return ErrNoSnapshot
	}
	binary.Write(w, binary.LittleEndian, uint32(len(embedderID)))
	io.WriteString(w, embedderID)
	binary.Write(w, binary.LittleEndian, uint32(len(s.ids)))
	for i, id := range s.ids {
		w.Write(id[:])
		binary.Write(w, binary.LittleEndian, s.vecs[i*s.dim:(i+1)*s.dim])
	}
	return nil
}

var errBadSnap = errors.New("bad snapshot")

func readSnapIndex(r io.Reader, embedderID string, dim int) (Index, error) {
	var n uint32
	if binary.Read(r, binary.LittleEndian, &n) != nil || n > 1000 {
		return nil, errBadSnap
	}
	name := make([]byte, n)
	if _, err := io.ReadFull(r, name); err != nil || string(name) != embedderID {
		return nil, errBadSnap
	}
	if binary.Read(r, binary.LittleEndian, &n) != nil {
		return nil, errBadSnap
	}
	idx := &snapIndex{FlatIndex: NewFlatIndex(dim), loaded: true}
	for i := uint32(0); i < n; i++ {
		var id ID
		vec := make([]float32, dim)
		if _, err := io.ReadFull(r, id[:]); err != nil {
			return nil, errBadSnap
		}
		if binary.Read(r, binary.LittleEndian, vec) != nil || math.IsNaN(float64(vec[0])) {
			return nil, errBadSnap
		}
		idx.Add(id, vec)
	}
	return idx, nil
}

func TestCacheSnapshotsAndReplay(t *testing.T) {
	dir := t.TempDir()
	snaps := filepath.Join(dir, "snapshots")
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	cc := CacheConfig{EmbedderID: "emb", Dim: 4, Now: clk.now, Logger: quiet, SnapshotDir: snaps,
		NewIndex:  func(dim int) Index { return &snapIndex{FlatIndex: NewFlatIndex(dim)} },
		LoadIndex: readSnapIndex}
	open := func() (*Store, *Cache) {
		st, err := OpenStore(StoreOptions{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		c, err := Open(st, Options{}, cc)
		if err != nil {
			t.Fatal(err)
		}
		return st, c
	}
	st, c := open()
	c.Put(entry(1, 1, "a"), unit(1, 0, 0, 0))
	c.Put(entry(2, 1, "b"), unit(0, 1, 0, 0))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := os.Stat(filepath.Join(snaps, tid(1).String()+snapshotExt)); err != nil {
		t.Fatalf("no snapshot written: %v", err)
	}

	// Reopen from the snapshot; then write to the store and "crash" before
	// any new snapshot.
	st, c = open()
	if !c.parts[tid(1)].(*snapIndex).loaded {
		t.Fatal("the snapshot was not used")
	}
	c.Put(entry(3, 1, "c"), unit(0, 0, 1, 0))
	c.Delete(tid(1))
	crash(c) // no snapshot on the way out
	st.Close()

	st, c = open()
	defer func() { c.Close(); st.Close() }()
	find := func(v []float32) *Candidate {
		cand, _, err := c.FindSemantic(&Query{Verify: acceptAll{}, Part: tid(1), Vec: v, Threshold: 0.99})
		if err != nil {
			t.Fatal(err)
		}
		return cand
	}
	if cand := find(unit(0, 0, 1, 0)); cand == nil || cand.Entry.ID != tid(3) {
		t.Fatal("an entry written after the snapshot was not replayed")
	}
	if cand := find(unit(1, 0, 0, 0)); cand != nil {
		t.Fatal("an entry deleted after the snapshot was served")
	}
	if cand := find(unit(0, 1, 0, 0)); cand == nil || cand.Entry.ID != tid(2) {
		t.Fatal("a snapshotted entry was lost")
	}
}

func TestCacheCorruptSnapshotRebuilds(t *testing.T) {
	dir := t.TempDir()
	snaps := filepath.Join(dir, "snapshots")
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	cc := CacheConfig{EmbedderID: "emb", Dim: 4, Now: clk.now, Logger: quiet, SnapshotDir: snaps,
		NewIndex:  func(dim int) Index { return &snapIndex{FlatIndex: NewFlatIndex(dim)} },
		LoadIndex: readSnapIndex}
	st, _ := OpenStore(StoreOptions{Dir: dir})
	c, _ := Open(st, Options{}, cc)
	c.Put(entry(1, 1, "a"), unit(1, 0, 0, 0))
	c.Close()
	st.Close()
	path := filepath.Join(snaps, tid(1).String()+snapshotExt)
	b, _ := os.ReadFile(path)
	os.WriteFile(path, b[:len(b)/2], 0o644) // truncated

	for _, other := range []string{"emb", "other-embedder"} {
		cc.EmbedderID = other
		st, _ = OpenStore(StoreOptions{Dir: dir})
		c, err := Open(st, Options{}, cc)
		if err != nil {
			t.Fatal(err)
		}
		cand, _, _ := c.FindSemantic(&Query{Verify: acceptAll{}, Part: tid(1), Vec: unit(1, 0, 0, 0), Threshold: 0.99})
		if other == "emb" && (cand == nil || c.parts[tid(1)].(*snapIndex).loaded) {
			t.Fatal("a truncated snapshot was used or the partition was not rebuilt")
		}
		if other != "emb" && cand != nil {
			t.Fatal("another embedder's vectors were served")
		}
		crash(c)
		st.Close()
	}
}
