package use

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// encodeOracle is the tokenizer as first written: the same Viterbi, with
// every candidate piece looked up in the map by its text, each end's
// candidates visited by start position. The trie-based encode must give
// the same ids.
func (t *Tokenizer) encodeOracle(text string) []int32 {
	text = norm.NFKC.String(text)
	if text == "" {
		return nil
	}
	s := wordBoundary + strings.ReplaceAll(text, " ", wordBoundary)
	var offs []int32
	for i := range s {
		offs = append(offs, int32(i))
	}
	n := len(offs)
	offs = append(offs, int32(len(s)))
	best := make([]float64, n+1)
	words := make([]int32, n+1)
	matched := make([]bool, n+1)
	for i := range n {
		for l := 1; l <= t.maxRunes && i+l <= n; l++ {
			if _, ok := t.pieces[s[offs[i]:offs[i+l]]]; ok {
				matched[i] = true
				break
			}
		}
	}
	for end := 1; end <= n; end++ {
		for l := min(t.maxRunes, end); l >= 1; l-- {
			start := end - l
			var score float64
			var id int32
			if p, ok := t.pieces[s[offs[start]:offs[end]]]; ok {
				score, id = p.score, p.id
			} else if l == 1 && !matched[start] {
				score, id = 0, 0
			} else {
				continue
			}
			score += best[start]
			if best[end] == 0 || score >= best[end] {
				best[end] = score
				words[end] = id
			}
		}
	}
	var rev []int32
	for i := n; i > 0; i -= int(t.utf16Len[words[i]]) {
		rev = append(rev, words[i])
	}
	var out []int32
	prevUnk := false
	for i := len(rev) - 1; i >= 0; i-- {
		id := rev[i]
		if !(prevUnk && id == 0) {
			out = append(out, id)
		}
		prevUnk = id == 0
	}
	return out
}

var tokenizerSeeds = []string{
	"", " ", "  two  spaces ", "How do I enable two-factor authentication?",
	"naïve café ﬁnance ①②", "東京 ist groß 🙂🚀", "x\u0301\u0301", "\xff\xfe bad \x80 utf-8",
	"func main() { fmt.Println(\"hi\") }", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "▁▁▁",
	"ⅷ ㎒ ＡＢＣ", "zzzqqqxxx unknownwordish tokens",
}

// FuzzTokenizerOracle: the trie-based tokenizer gives the same ids as the
// map-based oracle for any text.
func FuzzTokenizerOracle(f *testing.F) {
	for _, s := range tokenizerSeeds {
		f.Add(s)
	}
	w, err := load()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := w.tok.Encode(nil, s)
		want := w.tok.encodeOracle(s)
		if !slices.Equal(got, want) {
			t.Fatalf("%q: ids %v, oracle %v", s, got, want)
		}
	})
}

// TestTokenizerOracleOnReference: the same on every reference text.
func TestTokenizerOracleOnReference(t *testing.T) {
	r := loadReference(t)
	w, err := load()
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range r.Items {
		if got, want := w.tok.Encode(nil, it.Text), w.tok.encodeOracle(it.Text); !slices.Equal(got, want) {
			t.Errorf("%.60q: ids %v, oracle %v", it.Text, got, want)
		}
	}
}
