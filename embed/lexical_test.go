package embed_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/semgate/semgate/embed"
)

func cos(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func embedAll(t *testing.T, e embed.Embedder, texts ...string) [][]float32 {
	t.Helper()
	v, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func pairCos(t *testing.T, e embed.Embedder, a, b string) float64 {
	t.Helper()
	v := embedAll(t, e, a, b)
	return cos(v[0], v[1])
}

func TestLexicalFormattingVariants(t *testing.T) {
	l := newLexical(t, 0, embed.LexicalOptions{})
	for _, p := range [][2]string{
		{"What is Go?", "  what is go  "},
		{"What is Go?", "WHAT IS GO???"},
		{"What is Go?", "what\tis\n\ngo"},
		{"Don't panic", "don’t panic!"},
		{"Don't panic", "dont panic"},
		{"café", "CAFÉ"},
		{"café", "cafe\u0301"},           // combining accent: NFKC composes it
		{"ﬁnd the ﬁle", "find the file"}, // ligatures
		{"Ｈｅｌｌｏ　ｗｏｒｌｄ", "hello world"},   // full-width letters and space
		{"x² + y²", "x2 + y2"},           // NFKC superscripts
		{"Summarize: \"The Go Programming Language\".", "summarize the go programming language"},
	} {
		if c := pairCos(t, l, p[0], p[1]); c < 0.95 {
			t.Errorf("cos(%q, %q) = %.3f, want >= 0.95", p[0], p[1], c)
		}
	}
}

func TestLexicalNearDuplicatesAboveUnrelated(t *testing.T) {
	l := newLexical(t, 0, embed.LexicalOptions{})
	unrelated := []string{
		"What is the capital of France?",
		"Write a haiku about autumn leaves",
		"Explain quicksort in Python",
		"How many calories are in a banana?",
		"Translate 'good morning' into Japanese",
	}
	for _, p := range [][2]string{
		{"How do I reset my password?", "How can I reset my password?"},
		{"How do I reset my password?", "how do i reset my pasword"},
		{"How do I reset my password?", "Please, how do I reset my password"},
		{"What is the capital of France?", "Whats the capital of France"},
		{"Explain quicksort in Python", "Explain quick sort in python"},
		{"Write a haiku about autumn leaves", "write a haiku about the autumn leaves."},
	} {
		near := pairCos(t, l, p[0], p[1])
		worst := -1.0
		for _, u := range unrelated {
			if u == p[0] {
				continue
			}
			worst = math.Max(worst, pairCos(t, l, p[0], u))
		}
		if near < 0.7 || near-worst < 0.4 {
			t.Errorf("%q: near duplicate %q scores %.3f, the closest unrelated sentence %.3f: want >= 0.7 and 0.4 above", p[0], p[1], near, worst)
		}
	}
}

// Without bigrams a bag of features cannot see word order; with them,
// swapped sentences score clearly below formatting variants.
func TestLexicalWordOrder(t *testing.T) {
	a, b := "convert celsius to fahrenheit", "convert fahrenheit to celsius"
	if c := pairCos(t, newLexical(t, 0, embed.LexicalOptions{}), a, b); c > 0.95 {
		t.Errorf("default: cos(%q, %q) = %.3f, want <= 0.95", a, b, c)
	}
	if c := pairCos(t, newLexical(t, 0, embed.LexicalOptions{BigramWeight: -1}), a, b); c < 0.9999 {
		t.Errorf("no bigrams: cos = %.5f, want 1 (same bag of features)", c)
	}
}

// Each weight moves the vector: turning a kind off changes it, and a
// text's similarity to a typo'd copy depends on the character n-grams.
func TestLexicalWeights(t *testing.T) {
	a, b := "internationalization", "internationalisation"
	words := pairCos(t, newLexical(t, 0, embed.LexicalOptions{BigramWeight: -1, CharWeight: -1}), a, b)
	chars := pairCos(t, newLexical(t, 0, embed.LexicalOptions{BigramWeight: -1, WordWeight: -1}), a, b)
	if math.Abs(words) > 0.3 || chars < 0.7 {
		t.Errorf("words only: %.3f (want near 0), chars only: %.3f (want >= 0.7)", words, chars)
	}
	// Weights are relative: scaling them all gives the same vector.
	x := embedAll(t, newLexical(t, 0, embed.LexicalOptions{WordWeight: 1, BigramWeight: 0.75, CharWeight: 2}), a)[0]
	y := embedAll(t, newLexical(t, 0, embed.LexicalOptions{WordWeight: 2, BigramWeight: 1.5, CharWeight: 4}), a)[0]
	if c := cos(x, y); c < 1-1e-6 {
		t.Errorf("scaled weights: cos = %v, want 1", c)
	}
}

// Sublinear tf: repeating a text many times moves its vector only a little.
func TestLexicalRepetition(t *testing.T) {
	l := newLexical(t, 0, embed.LexicalOptions{})
	a := "tell me a joke about databases"
	if c := pairCos(t, l, a, strings.Repeat(a+" ", 50)); c < 0.95 {
		t.Errorf("text vs text repeated 50 times: cos = %.3f, want >= 0.95", c)
	}
}

func TestLexicalEmptyText(t *testing.T) {
	l := newLexical(t, 0, embed.LexicalOptions{})
	v := embedAll(t, l, "", "   ", "\n\t\r\n", "\u00a0\u2003", "?!", "hello")
	for i := 1; i < 4; i++ {
		if !slicesEqual(v[0], v[i]) {
			t.Errorf("white-space text %d: vector differs from the empty text's", i)
		}
	}
	want := float32(1 / math.Sqrt(float64(l.Dim())))
	for i, x := range v[0] {
		if x != want && x != -want {
			t.Fatalf("empty text: element %d = %v, want ±%v", i, x, want)
		}
	}
	for i := 4; i < 6; i++ {
		if c := cos(v[0], v[i]); math.Abs(c) > 0.3 {
			t.Errorf("cos(empty, text %d) = %.3f, want near 0", i, c)
		}
	}
}

func TestLexicalPunctuationOnly(t *testing.T) {
	l := newLexical(t, 0, embed.LexicalOptions{})
	if c := pairCos(t, l, "?", "!!!"); c > 0.5 {
		t.Errorf("cos(?, !!!) = %.3f: punctuation-only texts should differ", c)
	}
	if c := pairCos(t, l, "???", " ??? "); c < 0.9999 {
		t.Errorf("cos(???, \" ??? \") = %.5f, want 1", c)
	}
}

func TestLexicalInvalidUTF8(t *testing.T) {
	l := newLexical(t, 0, embed.LexicalOptions{})
	v := embedAll(t, l, "bad \xff\xfe bytes", "bad bytes", "\xff\xff")
	if c := cos(v[0], v[1]); c < 0.9999 {
		t.Errorf("invalid bytes are separators: cos = %.5f, want 1", c)
	}
	for _, x := range v[2] {
		if math.IsNaN(float64(x)) {
			t.Fatal("NaN")
		}
	}
}

func TestLexicalLongText(t *testing.T) {
	// Over 200k distinct features: exercises the table flush.
	var b strings.Builder
	for i := range 12000 {
		fmt.Fprintf(&b, "w%xq%dz ", i*7919, i)
	}
	long := b.String()
	l := newLexical(t, 0, embed.LexicalOptions{})
	v := embedAll(t, l, long, long, long+" extra")
	if !slicesEqual(v[0], v[1]) {
		t.Error("long text: not deterministic")
	}
	var n float64
	for _, x := range v[0] {
		n += float64(x) * float64(x)
	}
	if math.Abs(n-1) > 1e-4 {
		t.Errorf("long text: squared norm %v", n)
	}
	if c := cos(v[0], v[2]); c < 0.99 {
		t.Errorf("long text vs one word more: cos = %.4f", c)
	}
}

// The vectors of one Embed call share a backing array but are capped:
// appending to one cannot overwrite the next.
func TestLexicalResultsCapped(t *testing.T) {
	l := newLexical(t, 0, embed.LexicalOptions{})
	v := embedAll(t, l, "one", "two")
	before := append([]float32(nil), v[1]...)
	_ = append(v[0], 1, 2, 3)
	if !slicesEqual(v[1], before) {
		t.Fatal("append to vector 0 changed vector 1")
	}
}

func TestLexicalCanceled(t *testing.T) {
	l := newLexical(t, 0, embed.LexicalOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	texts := make([]string, 200)
	if _, err := l.Embed(ctx, texts); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestLexicalID(t *testing.T) {
	for _, c := range []struct {
		dim  int
		o    embed.LexicalOptions
		want string
	}{
		{0, embed.LexicalOptions{}, "lexical-v1-512"},
		{512, embed.LexicalOptions{WordWeight: 1, BigramWeight: 0.75, CharWeight: 2, CharMinN: 3, CharMaxN: 5}, "lexical-v1-512"},
		{256, embed.LexicalOptions{}, "lexical-v1-256"},
		{1024, embed.LexicalOptions{BigramWeight: -1}, "lexical-v1-1024-w1-b0-c2-n3.5"},
		{512, embed.LexicalOptions{CharWeight: 1.5, CharMaxN: 6}, "lexical-v1-512-w1-b0.75-c1.5-n3.6"},
	} {
		l := newLexical(t, c.dim, c.o)
		if l.ID() != c.want {
			t.Errorf("NewLexical(%d, %+v).ID() = %q, want %q", c.dim, c.o, l.ID(), c.want)
		}
	}
	if _, err := embed.NewLexical(100, embed.LexicalOptions{}); !errors.Is(err, embed.ErrInvalidOptions) {
		t.Errorf("dim 100: err = %v, want ErrInvalidOptions", err)
	}
}

// stabilityTexts' vectors are checked for equality across processes.
var stabilityTexts = []string{"What is Go?", "Café crème — 東京", "", "?!", strings.Repeat("long text ", 200)}

func vectorDigest(t *testing.T) string {
	l := newLexical(t, 0, embed.LexicalOptions{})
	h := sha256.New()
	for _, v := range embedAll(t, l, stabilityTexts...) {
		for _, x := range v {
			fmt.Fprintf(h, "%08x", math.Float32bits(x))
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// The vectors must not depend on anything of the process (random seeds,
// map order, addresses): a second process computes the same bits.
func TestLexicalStableAcrossProcesses(t *testing.T) {
	if os.Getenv("EMBED_PRINT_DIGEST") == "1" {
		fmt.Println("digest:", vectorDigest(t))
		return
	}
	if testing.Short() {
		t.Skip("starts a process")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestLexicalStableAcrossProcesses$", "-test.count=1")
	cmd.Env = append(os.Environ(), "EMBED_PRINT_DIGEST=1", "GODEBUG=randautoseed=0", "GOMAXPROCS=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := "digest: " + vectorDigest(t)
	if !strings.Contains(string(out), want) {
		t.Fatalf("child process: %s\nthis process: %s", out, want)
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}
