package embed

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"testing"
)

// refHash is hashBytes written from its description, independently: an
// input under 8 bytes xored as one zero-padded little-endian lane into the
// seeded state; longer ones in lanes of 8 bytes little-endian, a
// zero-padded tail lane, xxHash64-style rounds; the MurmurHash3 finalizer.
func refHash(seed uint64, b []byte) uint64 {
	h := seed + 0x165667B19E3779F9 + uint64(len(b))*0x9E3779B185EBCA87
	if len(b) < 8 {
		var lane [8]byte
		copy(lane[:], b)
		h ^= binary.LittleEndian.Uint64(lane[:])
		b = nil
	}
	for off := 0; off < len(b); off += 8 {
		var lane [8]byte
		copy(lane[:], b[off:])
		k := binary.LittleEndian.Uint64(lane[:])
		h ^= bits.RotateLeft64(k*0xC2B2AE3D27D4EB4F, 31) * 0x9E3779B185EBCA87
		h = bits.RotateLeft64(h, 27)*0x9E3779B185EBCA87 + 0x165667B19E3779F9
	}
	h ^= h >> 33
	h *= 0xFF51AFD7ED558CCD
	h ^= h >> 33
	h *= 0xC4CEB9FE1A85EC53
	h ^= h >> 33
	return h
}

func TestHashMatchesReference(t *testing.T) {
	buf := make([]byte, 40)
	for i := range buf {
		buf[i] = byte(i*37 + 11)
	}
	for n := 0; n <= len(buf); n++ {
		for _, seed := range []uint64{0, seedWord, seedChar} {
			if got, want := hashBytes(seed, buf[:n]), refHash(seed, buf[:n]); got != want {
				t.Fatalf("hashBytes(%#x, %d bytes) = %#x, reference %#x", seed, n, got, want)
			}
		}
	}
}

// The hash is part of the vector format: these values must never change
// (if they must, bump lexicalVersion and update them).
func TestHashGolden(t *testing.T) {
	for _, c := range []struct {
		seed uint64
		in   string
		want uint64
	}{
		{0, "", 0xf490368aba8bfeac},
		{seedWord, "go", 0x9c706f408ccc2591},
		{seedChar, "<go>", 0x969d116f8755ad05},
		{seedWord, "internationalization", 0x25277b7748c19110},
	} {
		if got := hashBytes(c.seed, []byte(c.in)); got != c.want {
			t.Errorf("hashBytes(%#x, %q) = %#x, want %#x", c.seed, c.in, got, c.want)
		}
	}
}

// Like TestHashGolden for whole vectors: a digest of the bits of a few
// vectors of the default embedder.
func TestLexicalGolden(t *testing.T) {
	l, err := NewLexical(0, LexicalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := l.Embed(context.Background(), []string{"What is Go?", "Café crème — 東京", "", "?!"})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for _, x := range v {
		for _, f := range x {
			fmt.Fprintf(h, "%08x", math.Float32bits(f))
		}
	}
	const want = "bde3a382ccf3e5fcf9095632ca0d6de74b5018550e2303d6b5346a9b735441fd"
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != want {
		t.Errorf("vector digest %s, want %s: the lexical vector format changed; bump lexicalVersion", got, want)
	}
}

// The ASCII fast path of charGrams hashes exactly like the general path.
func TestCharGramsFastPath(t *testing.T) {
	l, err := NewLexical(0, LexicalOptions{CharMinN: 2, CharMaxN: 8})
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"What is Go? a an internationalization x1234567 z", "ab"} {
		fast, slow := make([]float32, l.dim), make([]float32, l.dim)
		st := getState()
		st.tokenize(text)
		l.vector(st, fast)
		for i := range st.toks {
			if !st.toks[i].ascii {
				t.Fatal("expected ASCII tokens")
			}
			st.toks[i].ascii = false
		}
		l.vector(st, slow)
		putState(st)
		for i := range fast {
			if fast[i] != slow[i] {
				t.Fatalf("%q: element %d: fast path %v, general path %v", text, i, fast[i], slow[i])
			}
		}
	}
}

func TestBucketRange(t *testing.T) {
	for _, dim := range []int{256, 300, 512, 1024} {
		seen := make([]int, dim)
		neg := 0
		for i := range 100000 {
			h := fmix64(uint64(i))
			b, s := bucket(h, dim)
			if b < 0 || b >= dim {
				t.Fatalf("bucket out of range: %d of %d", b, dim)
			}
			seen[b]++
			if s {
				neg++
			}
		}
		for b, n := range seen {
			if n == 0 {
				t.Fatalf("dim %d: bucket %d never used", dim, b)
			}
		}
		if neg < 49000 || neg > 51000 {
			t.Errorf("dim %d: %d negative signs of 100000", dim, neg)
		}
	}
}

// An Embed call of one text allocates its result only: the slice of
// vectors and the vector.
func TestLexicalAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	l, err := NewLexical(0, LexicalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	in := []string{"A prompt of moderate length with ümlauts and ﬁ ligatures, repeated. A prompt of moderate length."}
	_, _ = l.Embed(ctx, in) // warm the pool
	if n := testing.AllocsPerRun(100, func() { _, _ = l.Embed(ctx, in) }); n > 2 {
		t.Errorf("%v allocations per Embed, want <= 2", n)
	}
}
