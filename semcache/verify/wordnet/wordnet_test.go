package wordnet

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestIsWord(t *testing.T) {
	for w, want := range map[string]bool{
		"houseplants": true,  // noun -s
		"windows":     true,  // a lemma itself, and window + -s
		"geese":       true,  // noun.exc
		"barcelona":   true,  // "Barcelona", lowercased
		"running":     true,  //
		"happier":     true,  // adj -er, y/i from adj.exc
		"work out":    true,  // collocation
		"worked out":  true,  // collocation of base forms
		"windwos":     false, //
		"temprature":  false, //
		"":            false,
		"Barcelona":   false, // input must be lowercase
	} {
		if got := IsWord(w); got != want {
			t.Errorf("IsWord(%q) = %v, want %v", w, got, want)
		}
	}
}

func TestLemma(t *testing.T) {
	for _, c := range []struct {
		w    string
		want uint8
	}{
		{"table", 1<<Noun | 1<<Verb},
		{"hot", 1 << Adj},
		{"fast", 1<<Noun | 1<<Verb | 1<<Adj | 1<<Adv},
		{"often", 1 << Adv},
		{"work out", 1 << Verb},
		{"tables", 0},
		{"geese", 0}, // only in noun.exc
		{"xyzzy", 0},
	} {
		if got := Lemma(c.w); got != c.want {
			t.Errorf("Lemma(%q) = %04b, want %04b", c.w, got, c.want)
		}
	}
}

func TestBaseForms(t *testing.T) {
	for _, c := range []struct {
		w    string
		pos  POS
		want []string
	}{
		{"children", Noun, []string{"child"}},
		{"does", Verb, []string{"do"}},
		{"running", Verb, []string{"run"}},
		{"running", Noun, []string{"running"}},
		{"geese", Noun, []string{"goose"}},
		{"houseplants", Noun, []string{"houseplant"}},
		{"windows", Noun, []string{"windows", "window"}},
		{"axes", Noun, []string{"ax", "axis"}}, // noun.exc; no rules then, so no "axe"
		{"happier", Adj, []string{"happy"}},
		{"biggest", Adj, []string{"big"}},
		{"boxesful", Noun, []string{"boxful"}},
		{"attorneys general", Noun, []string{"attorney general"}},
		{"worked out", Verb, []string{"work out"}},
		{"glass", Noun, []string{"glass"}}, // not "glas"
		{"better", Adv, []string{"better", "well"}},
		{"windwos", Noun, nil},
		{"run", Adv, nil},
		{"run", 7, nil},
	} {
		got := BaseForms(nil, c.w, c.pos)
		if !slices.Equal(got, c.want) {
			t.Errorf("BaseForms(%q, %v) = %q, want %q", c.w, c.pos, got, c.want)
		}
	}
	if got := BaseForms([]string{"x"}, "geese", Noun); !slices.Equal(got, []string{"x", "goose"}) {
		t.Errorf("BaseForms appends: got %q", got)
	}
}

func TestSenses(t *testing.T) {
	// "frequently" has one adverb sense, the first of "often".
	often, freq := Senses("often", Adv), Senses("frequently", Adv)
	if len(often) != 3 || len(freq) != 1 || often[0] != freq[0] {
		t.Errorf("Senses(often) = %v, Senses(frequently) = %v", often, freq)
	}
	if n := len(Senses("hot", Adj)); n != 21 {
		t.Errorf("len(Senses(hot, Adj)) = %d, want 21", n)
	}
	if s := Senses("hots", Adj); s != nil {
		t.Errorf("Senses(hots) = %v, want nil (no morphology)", s)
	}
	// Senses returns a copy.
	s := Senses("hot", Adj)
	s[0]++
	if Senses("hot", Adj)[0] == s[0] {
		t.Error("Senses returned the lexicon's own slice")
	}
}

func TestSynonyms(t *testing.T) {
	for _, c := range []struct {
		a, b     string
		maxSense int
		want     bool
	}{
		{"often", "frequently", 1, true},
		{"often", "frequently", 2, true},
		{"respond", "reply", 2, true}, // respond's 2nd verb sense, reply's 1st
		{"respond", "reply", 3, true},
		{"respond", "reply", 1, false},
		{"calculate", "work out", 0, true}, // calculate's 1st, work out's 6th
		{"calculate", "work out", 6, true},
		{"calculate", "work out", 5, false},
		{"main", "primary", 3, true}, // main's 1st, primary's 3rd adjective sense
		{"main", "primary", 2, false},
		{"hot", "cold", 0, false},
		{"table", "list", 0, false},
		{"big", "large", 1, true},
		{"windows", "window", 0, false},
		{"xyzzy", "xyzzy", 0, false},
	} {
		if got := Synonyms(c.a, c.b, c.maxSense); got != c.want {
			t.Errorf("Synonyms(%q, %q, %d) = %v, want %v", c.a, c.b, c.maxSense, got, c.want)
		}
		if got := Synonyms(c.b, c.a, c.maxSense); got != c.want {
			t.Errorf("Synonyms(%q, %q, %d) = %v, want %v", c.b, c.a, c.maxSense, got, c.want)
		}
	}
}

func TestAntonyms(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"increase", "decrease", true}, // nouns and verbs
		{"hot", "cold", true},
		{"formal", "informal", true},
		{"good", "bad", true},
		{"often", "rarely", true},
		{"scorching", "cold", true}, // satellite of hot
		{"hot", "table", false},
		{"hot", "warm", false},
		{"increase", "diminish", false}, // in decrease's synset, but the pointer is lexical
		{"hot", "xyzzy", false},
	} {
		if got := Antonyms(c.a, c.b); got != c.want {
			t.Errorf("Antonyms(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
		if got := Antonyms(c.b, c.a); got != c.want {
			t.Errorf("Antonyms(%q, %q) = %v, want %v", c.b, c.a, got, c.want)
		}
	}
}

func TestSimilar(t *testing.T) {
	for _, c := range []struct {
		a, b     string
		maxSense int
		want     bool
	}{
		{"hot", "scorching", 0, true},
		{"hot", "scorching", 1, true},
		{"cold", "icy", 0, true},
		{"hot", "cold", 0, false},
		{"big", "large", 0, false}, // same synset, not similar-to
		{"hot", "table", 0, false},
	} {
		if got := Similar(c.a, c.b, c.maxSense); got != c.want {
			t.Errorf("Similar(%q, %q, %d) = %v, want %v", c.a, c.b, c.maxSense, got, c.want)
		}
		if got := Similar(c.b, c.a, c.maxSense); got != c.want {
			t.Errorf("Similar(%q, %q, %d) = %v, want %v", c.b, c.a, c.maxSense, got, c.want)
		}
	}
}

func TestFrequency(t *testing.T) {
	if be, table := Frequency("be", Verb), Frequency("table", Noun); be <= table || table <= 0 {
		t.Errorf("Frequency(be, Verb) = %d, Frequency(table, Noun) = %d", be, table)
	}
	if n := Frequency("table", Adj); n != 0 {
		t.Errorf("Frequency(table, Adj) = %d, want 0", n)
	}
	if n := Frequency("xyzzy", Noun); n != 0 {
		t.Errorf("Frequency(xyzzy, Noun) = %d, want 0", n)
	}
}

func TestCounts(t *testing.T) {
	l := lex()
	lemmas := 0
	for _, m := range l.mask {
		if m&15 != 0 {
			lemmas++
		}
	}
	// WordNet 3.0: 147,306 distinct lemmas (155,287 with POS), 117,659 synsets.
	if lemmas != 147306 || l.ent[len(l.ent)-1] != 155287 || l.base[4] != 117659 {
		t.Errorf("%d lemmas, %d entries, %d synsets", lemmas, l.ent[len(l.ent)-1], l.base[4])
	}
}

// TestFootprint logs the decoding time and the heap the lexicon takes.
func TestFootprint(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	l, err := decode(wordnetDat)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("wordnet.dat: %d bytes; decode: %v; heap: %.1f MB", len(wordnetDat), elapsed, float64(after.HeapAlloc-before.HeapAlloc)/1e6)
	runtime.KeepAlive(l)
}

// TestDecodeCorrupt checks that damaged data is an error, not a panic.
func TestDecodeCorrupt(t *testing.T) {
	if _, err := decode(wordnetDat[:len(wordnetDat)/2]); err == nil {
		t.Error("truncated gzip stream: no error")
	}
	raw, err := gunzip(wordnetDat)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeRaw(append(slices.Clone(raw), 0)); err == nil {
		t.Error("trailing byte: no error")
	}
	for i := range 16 {
		cut := len(raw) * i / 16
		if _, err := decodeRaw(raw[:cut]); err == nil {
			t.Errorf("payload cut at %d of %d: no error", cut, len(raw))
		}
	}
	// Damaged bytes may decode, but must not panic.
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 8 {
		b := slices.Clone(raw)
		for range 10 {
			b[rnd.IntN(len(b))] = byte(rnd.Uint32())
		}
		decodeRaw(b)
	}
}

// TestConcurrent exercises the first use from several goroutines (for -race).
func TestConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if !IsWord("geese") || !Synonyms("often", "frequently", 1) || !Antonyms("hot", "cold") {
				t.Error("wrong answer")
			}
		})
	}
	wg.Wait()
}

func BenchmarkSynonyms(b *testing.B) {
	lex()
	b.ReportAllocs()
	for b.Loop() {
		Synonyms("calculate", "work out", 0)
	}
}

func BenchmarkIsWord(b *testing.B) {
	lex()
	for _, w := range []string{"houseplants", "temprature", "worked out"} {
		b.Run(w, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				IsWord(w)
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decode(wordnetDat); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSharedSense(t *testing.T) {
	first := func(ra, rb int) bool { return ra == 0 && rb == 0 }
	if !SharedSense("often", "frequently", Adv, first) {
		t.Error("often/frequently: no first sense shared")
	}
	if SharedSense("minute", "second", Noun, first) {
		t.Error("minute/second share their first sense")
	}
	var ranks [][2]int
	SharedSense("minute", "second", Noun, func(ra, rb int) bool { ranks = append(ranks, [2]int{ra, rb}); return false })
	if len(ranks) == 0 || ranks[0] != [2]int{1, 1} {
		t.Errorf("minute/second ranks %v, want [1 1] first", ranks)
	}
	if SharedSense("often", "nosuchword", Adv, func(int, int) bool { return true }) {
		t.Error("unknown word")
	}
}
