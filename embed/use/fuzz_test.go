package use

import (
	"context"
	"math"
	"testing"
	"unicode/utf8"
)

// FuzzEmbed: any text tokenizes to valid ids and embeds to a finite unit
// vector.
func FuzzEmbed(f *testing.F) {
	for _, s := range []string{"", " ", "a", "Hello, world!", "🙂 東京", "\xff\x00", "▁▁", "ﬁ ①", "x\u0301\u0301"} {
		f.Add(s)
	}
	e, err := New(Options{Workers: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids := e.Tokenizer().Encode(nil, s)
		for _, id := range ids {
			if id < 0 || int(id) >= e.w.rows || (id > 0 && id < reservedPieces) {
				t.Fatalf("%q: id %d", s, id)
			}
		}
		if utf8.ValidString(s) && s != "" && len(ids) == 0 {
			// NFKC never empties a non-empty valid text.
			t.Fatalf("%q: no ids", s)
		}
		v, err := e.Embed(context.Background(), []string{s})
		if err != nil {
			t.Fatal(err)
		}
		var n float64
		for _, x := range v[0] {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("%q: non-finite vector", s)
			}
			n += float64(x) * float64(x)
		}
		if math.Abs(n-1) > 1e-4 {
			t.Fatalf("%q: norm² %v", s, n)
		}
	})
}
