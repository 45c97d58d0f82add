package embed_test

import (
	"context"
	"math"
	"testing"

	"github.com/semgate/semgate/embed"
)

// FuzzLexical: any text, valid UTF-8 or not, gives a finite unit vector,
// the same twice, and the same after only case and white-space changes
// at its ends.
func FuzzLexical(f *testing.F) {
	for _, s := range []string{"", " ", "What is Go?", "\xff\xfe", "東京", "ﬁ", "a\u0301", "<a>", "?!", "e\u0301\u0301\u0301"} {
		f.Add(s)
	}
	l, err := embed.NewLexical(0, embed.LexicalOptions{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := l.Embed(context.Background(), []string{s, s, "  " + s + "\n"})
		if err != nil {
			t.Fatal(err)
		}
		var n float64
		for _, x := range v[0] {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				t.Fatalf("%q: element %v", s, x)
			}
			n += float64(x) * float64(x)
		}
		if math.Abs(n-1) > 1e-4 {
			t.Fatalf("%q: squared norm %v", s, n)
		}
		if !slicesEqual(v[0], v[1]) {
			t.Fatalf("%q: not deterministic", s)
		}
		if c := cos(v[0], v[2]); c < 0.999 {
			t.Fatalf("%q: padding with white space moved the vector: cos %v", s, c)
		}
	})
}
