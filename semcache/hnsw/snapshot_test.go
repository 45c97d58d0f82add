package hnsw_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/hnsw"
	"github.com/semgate/semgate/semcache/indextest"
)

const embedder = "lexical-v1-test"

// churned returns an index of n adds with deletes and updates mixed in,
// past at least one repair cycle, and the live vectors.
func churned(t testing.TB, dim, n int, o hnsw.Options) (*hnsw.Index, map[int][]float32) {
	r := rand.New(rand.NewPCG(11, uint64(n)))
	x := hnsw.New(dim, o)
	live := map[int][]float32{}
	for i := range n {
		v := indextest.RandomUnit(r, dim)
		x.Add(id(i), v)
		live[i] = v
		if i%4 == 3 {
			j := r.IntN(i)
			x.Delete(id(j))
			delete(live, j)
		}
		if i%7 == 6 {
			j := r.IntN(i)
			v := indextest.RandomUnit(r, dim)
			x.Add(id(j), v)
			live[j] = v
		}
	}
	return x, live
}

func snapshot(t testing.TB, x *hnsw.Index) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := x.WriteSnapshot(&buf, embedder); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSnapshotRoundTrip(t *testing.T) {
	const dim = 12
	for name, o := range map[string]hnsw.Options{
		"graph":     {FlatLimit: -1, RebuildFraction: 0.05},
		"flat":      {},
		"migrating": {FlatLimit: 300},
	} {
		t.Run(name, func(t *testing.T) {
			x, live := churned(t, dim, 400, o)
			data := snapshot(t, x)
			y, err := hnsw.ReadSnapshot(bytes.NewReader(data), embedder, dim, o)
			if err != nil {
				t.Fatal(err)
			}
			if err := hnsw.Check(y); err != nil {
				t.Fatal(err)
			}
			if y.Len() != x.Len() || y.Len() != len(live) {
				t.Fatalf("Len %d, want %d", y.Len(), x.Len())
			}
			xi, yi := x.IDs(), y.IDs()
			slices.SortFunc(xi, func(a, b semcache.ID) int { return bytes.Compare(a[:], b[:]) })
			slices.SortFunc(yi, func(a, b semcache.ID) int { return bytes.Compare(a[:], b[:]) })
			if !slices.Equal(xi, yi) {
				t.Fatal("IDs differ after reload")
			}
			if xs, ys := x.Stats(), y.Stats(); xs.Graph != ys.Graph || xs.Levels != ys.Levels || xs.Tombstones != ys.Tombstones {
				t.Fatalf("stats %+v, reloaded %+v", xs, ys)
			}
			r := rand.New(rand.NewPCG(3, 3))
			for range 100 {
				q := indextest.RandomUnit(r, dim)
				if got, want := y.Search(q, 10), x.Search(q, 10); !slices.Equal(got, want) {
					t.Fatalf("reloaded index answers %v, want %v", got, want)
				}
			}
			for i, v := range live {
				if !y.Has(id(i)) {
					t.Fatalf("reloaded index lacks %d", i)
				}
				if hits := y.Search(v, 1); hits[0].ID != id(i) {
					t.Fatalf("vector %d not found after reload", i)
				}
			}
			// The reloaded index keeps working, and snapshots again to the
			// same bytes while unchanged.
			if again := snapshot(t, y); !bytes.Equal(again, data) {
				t.Fatal("re-snapshot differs")
			}
			for i := range 200 {
				y.Add(id(10_000+i), indextest.RandomUnit(r, dim))
				y.Delete(id(i))
			}
			if err := hnsw.Check(y); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A flat snapshot loaded with flat_limit -1 builds its graph on the next
// writes.
func TestSnapshotFlatToGraph(t *testing.T) {
	x, _ := churned(t, 8, 100, hnsw.Options{})
	y, err := hnsw.ReadSnapshot(bytes.NewReader(snapshot(t, x)), embedder, 8, hnsw.Options{FlatLimit: -1})
	if err != nil || y.Stats().Graph {
		t.Fatalf("%v %+v", err, y.Stats())
	}
	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; !y.Stats().Graph; i++ {
		if i > 100 {
			t.Fatal("never migrated")
		}
		y.Add(id(1000+i), indextest.RandomUnit(r, 8))
	}
	if err := hnsw.Check(y); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotEmpty(t *testing.T) {
	for _, o := range []hnsw.Options{{FlatLimit: -1}, {}} {
		y, err := hnsw.ReadSnapshot(bytes.NewReader(snapshot(t, hnsw.New(4, o))), embedder, 4, o)
		if err != nil {
			t.Fatal(err)
		}
		if y.Len() != 0 || len(y.Search([]float32{1, 0, 0, 0}, 1)) != 0 {
			t.Fatal("empty snapshot loaded non-empty")
		}
		y.Add(id(1), []float32{1, 0, 0, 0})
		if hits := y.Search([]float32{1, 0, 0, 0}, 1); len(hits) != 1 {
			t.Fatal("add after loading an empty snapshot failed")
		}
	}
}

func TestSnapshotDeterministic(t *testing.T) {
	o := hnsw.Options{FlatLimit: -1, RebuildFraction: 0.05, Seed: 5}
	a, _ := churned(t, 8, 300, o)
	b, _ := churned(t, 8, 300, o)
	if !bytes.Equal(snapshot(t, a), snapshot(t, b)) {
		t.Fatal("same seed and writes gave different graphs")
	}
}

func TestSnapshotMismatch(t *testing.T) {
	x, _ := churned(t, 8, 100, hnsw.Options{FlatLimit: -1})
	data := snapshot(t, x)
	for name, tc := range map[string]struct {
		embedder string
		dim      int
		o        hnsw.Options
	}{
		"embedder": {"openai-text-embedding-3-small-8", 8, hnsw.Options{}},
		"dim":      {embedder, 16, hnsw.Options{}},
		"m":        {embedder, 8, hnsw.Options{M: 8}},
	} {
		y, err := hnsw.ReadSnapshot(bytes.NewReader(data), tc.embedder, tc.dim, tc.o)
		if !errors.Is(err, hnsw.ErrSnapshotMismatch) || y != nil {
			t.Errorf("%s: got %v, %v", name, y, err)
		}
	}
	// Other tuning may change freely.
	if _, err := hnsw.ReadSnapshot(bytes.NewReader(data), embedder, 8, hnsw.Options{EfSearch: 500, FlatLimit: 5}); err != nil {
		t.Errorf("ef_search change refused: %v", err)
	}
	bad := bytes.Clone(data)
	binary.LittleEndian.PutUint32(bad[8:], 99)
	if _, err := hnsw.ReadSnapshot(bytes.NewReader(bad), embedder, 8, hnsw.Options{}); !errors.Is(err, hnsw.ErrSnapshotMismatch) {
		t.Errorf("version 99: %v", err)
	}
}

func TestSnapshotCorrupt(t *testing.T) {
	x, _ := churned(t, 4, 60, hnsw.Options{FlatLimit: -1, M: 4})
	data := snapshot(t, x)
	check := func(what string, b []byte) {
		t.Helper()
		y, err := hnsw.ReadSnapshot(bytes.NewReader(b), embedder, 4, hnsw.Options{M: 4})
		if y != nil || !(errors.Is(err, hnsw.ErrCorruptSnapshot) || errors.Is(err, hnsw.ErrSnapshotMismatch)) {
			t.Fatalf("%s: got %v, %v", what, y, err)
		}
	}
	for n := range len(data) {
		check("truncated", data[:n])
	}
	check("trailing byte", append(bytes.Clone(data), 0))
	for i := range data {
		b := bytes.Clone(data)
		b[i] ^= 1 << (i % 8)
		check("flipped", b)
	}
	// A valid checksum over an impossible graph: a link out of range.
	b := bytes.Clone(data)
	off := len(b) - 4 // last word of the upper layers or layer 0
	binary.LittleEndian.PutUint32(b[off:], 1<<30)
	fixChecksum(b)
	y, err := hnsw.ReadSnapshot(bytes.NewReader(b), embedder, 4, hnsw.Options{M: 4})
	if err == nil {
		// The word was an unused slot: the graph is still sound.
		if err := hnsw.Check(y); err != nil {
			t.Fatal(err)
		}
	} else if !errors.Is(err, hnsw.ErrCorruptSnapshot) {
		t.Fatal(err)
	}
}

// fixChecksum rewrites the header checksum to match the bytes after it.
func fixChecksum(b []byte) {
	if len(b) >= 16 {
		binary.LittleEndian.PutUint32(b[12:], crc32.Checksum(b[16:], crc32.MakeTable(crc32.Castagnoli)))
	}
}

// FuzzReadSnapshot feeds arbitrary bytes, as they are and with a valid
// checksum (to get past it to the graph checks), to ReadSnapshot. Any
// error must be a sentinel; an index it accepts must be sound and usable.
func FuzzReadSnapshot(f *testing.F) {
	for _, o := range []hnsw.Options{{FlatLimit: -1, M: 2}, {M: 2}, {FlatLimit: 10, M: 2}} {
		x, _ := churned(f, 2, 16, o)
		f.Add(snapshot(f, x))
	}
	f.Add([]byte("SGHNSW\x00\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, fix := range []bool{false, true} {
			b := bytes.Clone(data)
			if fix {
				fixChecksum(b)
			}
			y, err := hnsw.ReadSnapshot(bytes.NewReader(b), embedder, 2, hnsw.Options{M: 2})
			if err != nil {
				if !errors.Is(err, hnsw.ErrCorruptSnapshot) && !errors.Is(err, hnsw.ErrSnapshotMismatch) {
					t.Fatalf("unexpected error %v", err)
				}
				continue
			}
			if err := hnsw.Check(y); err != nil {
				t.Fatalf("accepted an unsound index: %v", err)
			}
			y.Search([]float32{0.6, 0.8}, 3)
			for _, i := range y.IDs() {
				y.Delete(i)
			}
			y.Add(id(1), []float32{1, 0})
			if hits := y.Search([]float32{1, 0}, 1); len(hits) != 1 || hits[0].ID != id(1) {
				t.Fatalf("index unusable after load: %v", hits)
			}
		}
	})
}
