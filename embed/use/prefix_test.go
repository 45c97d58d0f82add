package use

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func newTestEmbedder(t *testing.T) *Embedder {
	t.Helper()
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestNoPieceSpansASpace: the property tokenPrefix relies on.
func TestNoPieceSpansASpace(t *testing.T) {
	e := newTestEmbedder(t)
	for s := range e.w.tok.pieces {
		if i := strings.Index(s, wordBoundary); i > 0 {
			t.Fatalf("piece %q has a word boundary at byte %d", s, i)
		}
	}
}

// TestTokenPrefixKeepsTheFirstPieces: a long text's first maxTokens
// pieces, and its vector, are those of its prefix.
func TestTokenPrefixKeepsTheFirstPieces(t *testing.T) {
	e := newTestEmbedder(t)
	rng := rand.New(rand.NewPCG(3, 4))
	words := []string{"the", "cache", "semgate", "naïve", "ＡＢＣ", "x²", "日本語", "🙂", "  ", "don't", "supercalifragilistic", "¨", "a\u0301"}
	for range 200 {
		var b strings.Builder
		for range 100 + rng.IntN(300) {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte(' ')
		}
		text := b.String()
		p := tokenPrefix(text)
		full := e.w.tok.Encode(nil, text)
		pre := e.w.tok.Encode(nil, p)
		n := min(len(full), maxTokens)
		if len(pre) < n || !slices.Equal(full[:n], pre[:n]) {
			t.Fatalf("prefix of %d bytes (of %d) changes the first pieces", len(p), len(text))
		}
	}
	long := strings.Repeat("word ", 1_000_000)
	if p := tokenPrefix(long); len(p) > 1000 {
		t.Fatalf("prefix of %d bytes for 128 short words", len(p))
	}
	vs, err := e.Embed(context.Background(), []string{long, tokenPrefix(long)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(vs[0], vs[1]) {
		t.Fatal("the long text's vector is not its prefix's")
	}
}
