package embed

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"sync"

	"golang.org/x/text/unicode/norm"
)

// lexicalVersion is the lexical vector format's version; it is part of the
// ID. Bump it whenever a change to tokenize.go, hash.go or this file would
// change any vector, so that stored vectors are not compared with new ones.
const lexicalVersion = 1

// Lexical dimension limits and defaults.
const (
	DefaultLexicalDim = 512
	MinLexicalDim     = 256
	MaxLexicalDim     = 1024
)

// Default feature weights and n-gram range of [LexicalOptions], chosen by
// the measurements in NOTES.md.
const (
	DefaultWordWeight   = 1.0
	DefaultBigramWeight = 0.75
	DefaultCharWeight   = 2.0
	DefaultCharMinN     = 3
	DefaultCharMaxN     = 5
	maxCharN            = 8
)

// Feature kinds; they also index weights.
const (
	kindWord = iota
	kindBigram
	kindChar
	numKinds
)

// maxSlots bounds the feature table (16 bytes a slot), so a huge text costs
// bounded memory. A text with more distinct features than 3/4 of it (in
// practice well over 100 KB of prose) has its table flushed when full,
// which makes the term frequency of a feature seen on both sides of a flush
// count twice with the sublinear weight: still deterministic.
const maxSlots = 1 << 18

// Lexical is the default embedder: pure Go, no model weights, no network,
// no fitted statistics. See the package documentation for the algorithm.
// Create it with [NewLexical]; it is safe for concurrent use.
type Lexical struct {
	dim        int
	weights    [numKinds]float64 // 0 = kind off
	minN, maxN int
	id         string
}

var _ Embedder = (*Lexical)(nil)

// NewLexical returns a lexical embedder of dimension dim (0 means
// DefaultLexicalDim; otherwise MinLexicalDim..MaxLexicalDim) tuned by o.
func NewLexical(dim int, o LexicalOptions) (*Lexical, error) {
	if err := o.validate(dim, ""); err != nil {
		return nil, err
	}
	if dim == 0 {
		dim = DefaultLexicalDim
	}
	l := &Lexical{
		dim: dim,
		weights: [numKinds]float64{
			kindWord:   weight(o.WordWeight, DefaultWordWeight),
			kindBigram: weight(o.BigramWeight, DefaultBigramWeight),
			kindChar:   weight(o.CharWeight, DefaultCharWeight),
		},
		minN: orDefault(o.CharMinN, DefaultCharMinN),
		maxN: orDefault(o.CharMaxN, DefaultCharMaxN),
	}
	l.id = l.makeID()
	return l, nil
}

func weight(w, def float64) float64 {
	switch {
	case w == 0:
		return def
	case w < 0:
		return 0
	}
	return w
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// makeID returns "lexical-v<version>-<dim>" with the default tuning, and
// appends the tuning otherwise, e.g. "lexical-v1-512-w1-b0-c0.8-n3.5".
func (l *Lexical) makeID() string {
	id := "lexical-v" + strconv.Itoa(lexicalVersion) + "-" + strconv.Itoa(l.dim)
	if l.weights == [numKinds]float64{DefaultWordWeight, DefaultBigramWeight, DefaultCharWeight} &&
		l.minN == DefaultCharMinN && l.maxN == DefaultCharMaxN {
		return id
	}
	f := func(w float64) string { return strconv.FormatFloat(w, 'g', -1, 64) }
	return fmt.Sprintf("%s-w%s-b%s-c%s-n%d.%d", id,
		f(l.weights[kindWord]), f(l.weights[kindBigram]), f(l.weights[kindChar]), l.minN, l.maxN)
}

// Dim returns the vector length.
func (l *Lexical) Dim() int { return l.dim }

// ID returns e.g. "lexical-v1-512"; see makeID.
func (l *Lexical) ID() string { return l.id }

// String describes the embedder (its ID).
func (l *Lexical) String() string { return l.id }

// Embed returns one unit vector per text. It never fails except when ctx
// is done (checked before it starts and every 64 texts). All the vectors of
// one call share one backing array, each capped at its own length.
func (l *Lexical) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("embed: lexical: %w", err)
	}
	out := make([][]float32, len(texts))
	if len(texts) == 0 {
		return out, nil
	}
	back := make([]float32, len(texts)*l.dim)
	st := getState()
	defer putState(st)
	for i, t := range texts {
		if i%64 == 63 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("embed: lexical: %w", err)
			}
		}
		v := back[i*l.dim : (i+1)*l.dim : (i+1)*l.dim]
		l.embed(st, t, v)
		out[i] = v
	}
	return out, nil
}

// lexState is the per-call scratch space, reused through statePool so that
// an Embed call allocates only its output.
type lexState struct {
	src  []byte    // the NFKC-normalized text
	norm norm.Iter // its normalizer
	buf  []byte    // the words, lower-cased, each as "<word>"
	toks []token   // spans of buf
	offs []int32   // rune offsets of one non-ASCII word

	// The feature table: open addressing with linear probing; used lists
	// the occupied slots in first-seen order, so the accumulation order
	// (and so every float) is fixed.
	slots []slot
	used  []int32
	mask  uint64

	acc   [numKinds][]float64 // per-kind accumulators, dim long
	sumsq [numKinds]float64   // per-kind squared norm of the tf weights
}

// slot is one feature of the table: its hash with its kind+1 in bits
// 32-33 (so never 0, the empty key) and its term frequency.
type slot struct {
	key uint64
	n   uint32
}

var statePool = sync.Pool{New: func() any { return new(lexState) }}

func getState() *lexState { return statePool.Get().(*lexState) }

func putState(st *lexState) {
	// Keep one huge text from pinning a huge buffer in the pool.
	if cap(st.src) > 1<<20 || cap(st.buf) > 1<<20 || cap(st.toks) > 1<<17 {
		return
	}
	statePool.Put(st)
}

// tfWeights[n] = 1 + ln(n): the sublinear term-frequency weight.
var tfWeights = func() (t [64]float64) {
	for n := 1; n < len(t); n++ {
		t[n] = 1 + math.Log(float64(n))
	}
	return t
}()

func tfWeight(n uint32) float64 {
	if n < uint32(len(tfWeights)) {
		return tfWeights[n]
	}
	return 1 + math.Log(float64(n))
}

// embed writes the vector of text into dst (len l.dim).
func (l *Lexical) embed(st *lexState, text string, dst []float32) {
	st.tokenize(text)
	l.vector(st, dst)
}

// vector writes the vector of the words in st into dst.
func (l *Lexical) vector(st *lexState, dst []float32) {
	st.reset(l.dim, l.features(st.toks))
	var prev uint64
	for i, tk := range st.toks {
		w := st.buf[tk.start+1 : tk.end-1]
		h := hashBytes(seedWord, w)
		if l.weights[kindWord] > 0 {
			st.add(h, kindWord)
		}
		if i > 0 && l.weights[kindBigram] > 0 {
			st.add(hashPair(seedBigram, prev, h), kindBigram)
		}
		prev = h
		if l.weights[kindChar] > 0 {
			l.charGrams(st, tk)
		}
	}
	st.flush(l.dim)
	if !l.combine(st, dst) {
		fallback(hashBytes(seedFallback, st.buf), dst)
	}
}

// features returns an upper bound of the feature occurrences of toks.
func (l *Lexical) features(toks []token) int {
	n := 2 * len(toks)
	if l.weights[kindChar] > 0 {
		for _, tk := range toks {
			for k := l.minN; k <= l.maxN && k <= int(tk.runes); k++ {
				n += int(tk.runes) - k + 1
			}
		}
	}
	return n
}

// charGrams adds the character n-grams (l.minN..l.maxN runes) of the word
// tk, boundary markers included.
func (l *Lexical) charGrams(st *lexState, tk token) {
	w := st.buf[tk.start:tk.end]
	r := int(tk.runes)
	if tk.ascii {
		// Fast path, same hashes as hashBytes: an n-gram of n < 8 bytes
		// is one little-endian lane, read with one load (st.buf has 8
		// bytes of padding past its last word) and masked.
		b := st.buf[tk.start : len(st.buf)+8]
		for i := 0; i+l.minN <= r; i++ {
			lane := binary.LittleEndian.Uint64(b[i:])
			for n := l.minN; n <= l.maxN && i+n <= r; n++ {
				if n >= 8 {
					st.add(hashBytes(seedChar, w[i:i+n]), kindChar)
					continue
				}
				k := lane & (1<<(8*n) - 1)
				st.add(fmix64(shortBase(seedChar, n)^k), kindChar)
			}
		}
		return
	}
	offs := st.offs[:0]
	for i := range w {
		if w[i]&0xC0 != 0x80 { // not a UTF-8 continuation byte
			offs = append(offs, int32(i))
		}
	}
	offs = append(offs, int32(len(w)))
	st.offs = offs
	for i := 0; i+l.minN <= r; i++ {
		for n := l.minN; n <= l.maxN && i+n <= r; n++ {
			st.add(hashBytes(seedChar, w[offs[i]:offs[i+n]]), kindChar)
		}
	}
}

// reset prepares st for a text of at most n feature occurrences.
func (st *lexState) reset(dim, n int) {
	size := 16
	for size < n+n/2 && size < maxSlots {
		size <<= 1
	}
	if len(st.slots) < size {
		st.slots = make([]slot, size)
	}
	st.mask = uint64(size - 1)
	st.used = st.used[:0]
	for k := range st.acc {
		if cap(st.acc[k]) < dim {
			st.acc[k] = make([]float64, dim)
		}
		st.acc[k] = st.acc[k][:dim]
		clear(st.acc[k])
	}
	st.sumsq = [numKinds]float64{}
}

// add counts one occurrence of the feature h of kind k.
func (st *lexState) add(h uint64, k int) {
	key := h&^(3<<32) | uint64(k+1)<<32
	i := key & st.mask
	for {
		s := &st.slots[i]
		switch s.key {
		case key:
			s.n++
			return
		case 0:
			if len(st.used) >= int(st.mask-st.mask>>2) { // 3/4 full
				st.flushTable()
				i = key & st.mask
				continue
			}
			s.key, s.n = key, 1
			st.used = append(st.used, int32(i))
			return
		}
		i = (i + 1) & st.mask
	}
}

// flushTable moves the table's features into the accumulators and empties
// it (only when it is full: see maxSlots).
func (st *lexState) flushTable() { st.flush(len(st.acc[0])) }

// flush adds every feature in the table, weighted by 1+ln(tf) and signed,
// to its kind's accumulator, and empties the table.
func (st *lexState) flush(dim int) {
	for _, i := range st.used {
		s := &st.slots[i]
		key := s.key
		k := int(key>>32&3) - 1
		w := tfWeight(s.n)
		st.sumsq[k] += float64(w * w)
		b, neg := bucket(key, dim)
		if neg {
			st.acc[k][b] -= w
		} else {
			st.acc[k][b] += w
		}
		*s = slot{}
	}
	st.used = st.used[:0]
}

// combine writes the L2-normalized weighted sum of the per-kind
// accumulators, each scaled to unit norm in feature space, into dst. It
// reports false when the sum is zero (no features, or an exact
// cancellation).
func (l *Lexical) combine(st *lexState, dst []float32) bool {
	var scale [numKinds]float64
	for k := range scale {
		if st.sumsq[k] > 0 {
			scale[k] = l.weights[k] / math.Sqrt(st.sumsq[k])
		}
	}
	acc := st.acc[0]
	for i := range acc {
		acc[i] = float64(acc[i]*scale[0]) + float64(st.acc[1][i]*scale[1]) + float64(st.acc[2][i]*scale[2])
	}
	var s float64
	for _, x := range acc {
		s += float64(x * x)
	}
	if s == 0 || math.IsNaN(s) {
		return false
	}
	inv := 1 / math.Sqrt(s)
	for i, x := range acc {
		dst[i] = float32(x * inv)
	}
	return true
}

// fallback writes the vector of a text with no features (empty or
// all-white-space) or whose features cancel out exactly: a unit vector
// with every element ±1/sqrt(dim), signs drawn from h, the hash of the
// normalized words (empty for empty text). It is a fixed vector for each
// such text and, for random h, nearly orthogonal to every other vector.
func fallback(h uint64, dst []float32) {
	v := float32(1 / math.Sqrt(float64(len(dst))))
	for i := range dst {
		if fmix64(h+uint64(i)*prime1)>>63 == 1 {
			dst[i] = -v
		} else {
			dst[i] = v
		}
	}
}
