package use

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// reservedPieces is the number of leading vocabulary entries (unknown,
// <s>, </s> and three spare ids) that the tokenizer never produces as
// pieces; id 0 is the unknown piece.
const reservedPieces = 6

// wordBoundary is SentencePiece's "▁", which stands for a space and opens
// the text.
const wordBoundary = "\u2581"

type piece struct {
	id    int32
	runes int32 // length in runes (code points)
	score float64
}

// Tokenizer splits text into the model's SentencePiece unigram pieces. It
// reproduces the reference (the @energetic-ai/embeddings tokenizer, which
// is TensorFlow.js's universal-sentence-encoder tokenizer) rule for rule:
//
//   - the text is NFKC-normalized; a non-empty result gets "▁" prepended
//     and every space (U+0020 only) replaced by "▁";
//   - Viterbi over the pieces' log-probability scores picks the
//     segmentation with the highest total; a position where no piece starts
//     becomes the unknown piece (id 0) with score 0, one rune long; among
//     equal totals the segmentation whose last piece is shortest wins, and
//     a position whose best total is exactly 0 takes any later candidate
//     (both quirks of the reference, kept so ids match exactly);
//   - runs of unknown pieces collapse into one.
//
// A Tokenizer is immutable and safe for concurrent use.
type Tokenizer struct {
	pieces   map[string]piece
	utf16Len []int32 // by id: the piece's length in UTF-16 code units
	maxRunes int
}

func newTokenizer(texts []string, scores []float64) *Tokenizer {
	t := &Tokenizer{pieces: make(map[string]piece, len(texts)), utf16Len: make([]int32, len(texts))}
	for i, s := range texts {
		n := int32(0)
		for _, r := range s {
			n++
			if r > 0xFFFF {
				n++
			}
		}
		t.utf16Len[i] = n
		if i < reservedPieces || s == "" {
			continue
		}
		rn := utf8.RuneCountInString(s)
		// A later duplicate replaces an earlier one, as in the reference.
		t.pieces[s] = piece{id: int32(i), runes: int32(rn), score: scores[i]}
		t.maxRunes = max(t.maxRunes, rn)
	}
	return t
}

// tokState is the scratch space of one Encode call.
type tokState struct {
	offs    []int32 // byte offset of each rune, plus the end
	best    []float64
	words   []int32
	matched []bool // a piece starts at this rune
	rev     []int32
}

// Encode appends text's piece ids to dst.
func (t *Tokenizer) Encode(dst []int32, text string) []int32 {
	var st tokState
	return t.encode(dst, text, &st)
}

func (t *Tokenizer) encode(dst []int32, text string, st *tokState) []int32 {
	text = norm.NFKC.String(text)
	if text == "" {
		return dst
	}
	s := wordBoundary + strings.ReplaceAll(text, " ", wordBoundary)
	offs := st.offs[:0]
	for i := range s {
		offs = append(offs, int32(i))
	}
	n := len(offs)
	offs = append(offs, int32(len(s)))
	st.offs = offs

	best := grow(st.best, n+1)
	words := grow(st.words, n+1)
	matched := grow(st.matched, n+1)
	clear(best)
	clear(words)
	clear(matched)
	st.best, st.words, st.matched = best, words, matched

	// Which positions does some piece start at? (Where none does, the
	// reference's prefix search yields the one-rune unknown piece.)
	for i := range n {
		for l := 1; l <= t.maxRunes && i+l <= n; l++ {
			if _, ok := t.pieces[s[offs[i]:offs[i+l]]]; ok {
				matched[i] = true
				break
			}
		}
	}
	// Viterbi, visiting the candidates that end at each position in the
	// reference's order: by start position, ascending.
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
	// Back from the end; the reference steps back by the piece's length in
	// UTF-16 code units (the same as runes for every piece of this
	// vocabulary).
	rev := st.rev[:0]
	for i := n; i > 0; i -= int(t.utf16Len[words[i]]) {
		rev = append(rev, words[i])
	}
	st.rev = rev
	prevUnk := false
	start := len(dst)
	for _, id := range rev {
		if !(prevUnk && id == 0) {
			dst = append(dst, id)
		}
		prevUnk = id == 0
	}
	out := dst[start:]
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return dst
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
