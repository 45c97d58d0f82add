package use

import (
	"maps"
	"slices"
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
	trie     trie // the pieces by their bytes, for the Viterbi candidates
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
	t.trie = buildTrie(t.pieces)
	return t
}

// tokState is the scratch space of one Encode call.
type tokState struct {
	offs   []int32 // byte offset of each rune, plus the end
	runeAt []int32 // by byte offset of a rune (or the end): its index
	best   []float64
	words  []int32
	rev    []int32
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
	runeAt := grow(st.runeAt, len(s)+1) // byte offset → rune index
	clear(best)
	clear(words)
	st.best, st.words, st.runeAt = best, words, runeAt
	for i, o := range offs {
		runeAt[o] = int32(i)
	}

	// Viterbi, relaxing forward from each start position in turn: every
	// piece that starts there (found by walking the trie along the text's
	// bytes) offers its end a total. A position where no piece starts
	// offers the one-rune unknown piece instead. best[start] is final when
	// its turn comes, and each end sees its candidates by start position,
	// ascending, as in the reference.
	for start := range n {
		from := best[start]
		matched := false
		node := int32(0)
		for b := int(offs[start]); b < len(s); b++ {
			node = t.trie.next(node, s[b])
			if node < 0 {
				break
			}
			pi := t.trie.nodes[node].piece
			if pi < 0 {
				continue
			}
			p := t.trie.pieces[pi]
			end := int(runeAt[b+1])
			if end-start > t.maxRunes {
				break
			}
			matched = true
			if score := from + p.score; best[end] == 0 || score >= best[end] {
				best[end] = score
				words[end] = p.id
			}
		}
		if !matched {
			if end := start + 1; best[end] == 0 || from >= best[end] {
				best[end] = from
				words[end] = 0
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

// trie holds the vocabulary's pieces by their bytes. Node 0 is the root;
// its children are found in a table, other nodes' in a short sorted list
// of edges.
type trie struct {
	root   [256]int32 // the root's child per byte, -1 for none
	nodes  []trieNode
	edges  []trieEdge // each node's edges, sorted by byte, contiguous
	pieces []piece
}

type trieNode struct {
	piece      int32 // index into pieces of the piece ending here, or -1
	first, end int32 // the node's edges: edges[first:end]
}

type trieEdge struct {
	b     byte
	child int32
}

// next returns the child of node along byte b, or -1.
func (t *trie) next(node int32, b byte) int32 {
	if node == 0 {
		return t.root[b]
	}
	n := &t.nodes[node]
	for _, e := range t.edges[n.first:n.end] {
		if e.b == b {
			return e.child
		}
		if e.b > b {
			break
		}
	}
	return -1
}

func buildTrie(pieces map[string]piece) trie {
	// A map-based trie first, then flattened breadth first.
	type tmp struct {
		kids  map[byte]int
		piece int32
	}
	nodes := []tmp{{kids: map[byte]int{}, piece: -1}}
	var t trie
	keys := slices.Sorted(maps.Keys(pieces))
	for _, k := range keys {
		cur := 0
		for i := 0; i < len(k); i++ {
			nx, ok := nodes[cur].kids[k[i]]
			if !ok {
				nx = len(nodes)
				nodes = append(nodes, tmp{kids: map[byte]int{}, piece: -1})
				nodes[cur].kids[k[i]] = nx
			}
			cur = nx
		}
		nodes[cur].piece = int32(len(t.pieces))
		t.pieces = append(t.pieces, pieces[k])
	}
	t.nodes = make([]trieNode, len(nodes))
	for i := range t.root {
		t.root[i] = -1
	}
	for i, n := range nodes {
		bs := slices.Sorted(maps.Keys(n.kids))
		t.nodes[i] = trieNode{piece: n.piece, first: int32(len(t.edges))}
		for _, b := range bs {
			if i == 0 {
				t.root[b] = int32(n.kids[b])
			}
			t.edges = append(t.edges, trieEdge{b: b, child: int32(n.kids[b])})
		}
		t.nodes[i].end = int32(len(t.edges))
	}
	return t
}
