package wordnet

import (
	"bytes"
	"cmp"
	"compress/gzip"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"strings"
	"sync"
)

//go:embed wordnet.dat
var wordnetDat string

// lex returns the lexicon, decoding the embedded data on first use.
var lex = sync.OnceValue(func() *lexicon {
	l, err := decode(wordnetDat)
	if err != nil {
		panic("wordnet: embedded wordnet.dat: " + err.Error())
	}
	return l
})

// lexicon is the decoded data. Strings (lemmas and the inflected forms of
// the exception lists) are identified by their index in sorted order;
// synsets by a dense id ordered by (POS, offset in data.pos).
type lexicon struct {
	blob  string   // the strings, each followed by '\n'
	off   []uint32 // start of string i in blob; off[n] = len(blob)
	table []uint32 // open-addressing hash table of string ids + 1 (0: empty)

	mask    []uint8  // bit p: string i is a lemma of POS p; bit 4+p: it has exceptions for p
	ent     []uint32 // first entry of string i; an entry is a (lemma, POS) pair in POS order
	senseAt []uint32 // first sense of entry e in senses; one extra at the end
	freq    []uint16 // tag count of entry e
	senses  []uint32 // synset ids of the entries, in sense order

	base  [5]uint32 // first synset id of each POS; base[4]: number of synsets
	sat   []uint64  // bit set of adjective satellites, by id - base[Adj]
	simAt []uint32  // first similar-to target of adjective synset id - base[Adj] in sim
	sim   []uint32  // similar-to targets; a satellite's single target is its head

	ants []antonym   // lexical antonym pointers, sorted
	excs []exception // exception list entries, sorted by form and POS
}

type antonym struct{ src, srcLemma, dst, dstLemma uint32 }

type exception struct {
	form uint32
	pos  POS
	base uint32
}

const magic = "wordnet3.0 v1\n"

func decode(dat string) (*lexicon, error) {
	raw, err := gunzip(dat)
	if err != nil {
		return nil, err
	}
	return decodeRaw(raw)
}

// decodeRaw decodes the payload; see internal/gen for its layout.
func decodeRaw(raw []byte) (*lexicon, error) {
	if !bytes.HasPrefix(raw, []byte(magic)) {
		return nil, errors.New("bad magic")
	}
	r := &reader{b: raw[len(magic):]}
	l := new(lexicon)
	n := r.count(len(r.b))
	l.readStrings(r, n)

	l.mask = r.bytes(n)
	l.ent = make([]uint32, n+1)
	for i, m := range l.mask {
		if m > 15 {
			r.fail(fmt.Errorf("bad POS mask %#x", m))
		}
		l.ent[i+1] = l.ent[i] + uint32(bits.OnesCount8(m))
	}
	for p := range 4 {
		l.base[p+1] = l.base[p] + uint32(r.count(1<<24))
	}
	ne := int(l.ent[n])
	l.senseAt = make([]uint32, ne+1)
	for e := range ne {
		l.senseAt[e+1] = l.senseAt[e] + uint32(r.count(1<<16))
	}
	l.freq = make([]uint16, ne)
	for e := range l.freq {
		l.freq[e] = uint16(r.count(math.MaxUint16))
	}
	if int(l.senseAt[ne]) > len(r.b) { // each takes a byte at least
		r.fail(errors.New("too many senses"))
	}
	l.senses = make([]uint32, l.senseAt[ne])
	for i := range n {
		for p := range 4 {
			if l.mask[i]&(1<<p) == 0 {
				continue
			}
			e := l.entry(uint32(i), POS(p))
			for k := l.senseAt[e]; k < l.senseAt[e+1]; k++ {
				l.senses[k] = l.base[p] + uint32(r.count(int(l.base[p+1]-l.base[p])-1))
			}
		}
	}

	nadj := int(l.base[Adj+1] - l.base[Adj])
	l.sat = make([]uint64, (nadj+63)/64)
	id := 0
	for range r.count(nadj) {
		if id += r.count(nadj - 1 - id); id < nadj {
			l.sat[id/64] |= 1 << (id % 64)
		}
	}
	l.simAt = make([]uint32, nadj+1)
	for i := range nadj {
		k := r.count(nadj)
		l.simAt[i+1] = l.simAt[i] + uint32(k)
		for range k {
			l.sim = append(l.sim, r.synset(l.base[Adj]+uint32(i), l.base[Adj], l.base[Adj+1]))
		}
	}

	l.ants = make([]antonym, r.count(len(r.b)))
	src := uint32(0)
	for i := range l.ants {
		src += uint32(r.count(int(l.base[4])))
		l.ants[i] = antonym{src, uint32(r.count(n - 1)), r.synset(src, 0, l.base[4]), uint32(r.count(n - 1))}
	}

	l.excs = make([]exception, r.count(len(r.b)))
	form := 0
	for i := range l.excs {
		form += r.count(n - 1 - form)
		e := exception{uint32(form), POS(r.count(int(Adv))), uint32(r.count(n - 1))}
		l.mask[e.form] |= 1 << (4 + e.pos)
		l.excs[i] = e
	}
	for i := range nadj {
		if l.sat[i/64]&(1<<(i%64)) != 0 && l.simAt[i+1]-l.simAt[i] != 1 {
			r.fail(fmt.Errorf("satellite %d without a single head", i))
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errors.New("trailing data")
	}
	if r.err != nil {
		return nil, r.err
	}
	l.buildTable()
	return l, nil
}

func gunzip(dat string) ([]byte, error) {
	if len(dat) < 4 {
		return nil, errors.New("truncated")
	}
	zr, err := gzip.NewReader(strings.NewReader(dat))
	if err != nil {
		return nil, fmt.Errorf("gunzip: %w", err)
	}
	// The gzip trailer ends with the uncompressed size.
	size := binary.LittleEndian.Uint32([]byte(dat[len(dat)-4:]))
	if size > 64<<20 {
		return nil, fmt.Errorf("gunzip: implausible size %d", size)
	}
	raw := make([]byte, size)
	if _, err := io.ReadFull(zr, raw); err != nil {
		return nil, fmt.Errorf("gunzip: %w", err)
	}
	if _, err := io.Copy(io.Discard, zr); err != nil { // checks the CRC
		return nil, fmt.Errorf("gunzip: %w", err)
	}
	return raw, nil
}

// readStrings decodes the front-coded string table into blob and off.
// Each string is a byte with the length of the prefix it shares with the
// previous string, then the rest of it, then '\n'.
func (l *lexicon) readStrings(r *reader, n int) {
	next := func(b []byte) (k int, rest, tail []byte, ok bool) {
		if len(b) == 0 {
			return 0, nil, nil, false
		}
		j := bytes.IndexByte(b[1:], '\n')
		if j < 0 {
			return 0, nil, nil, false
		}
		return int(b[0]), b[1 : 1+j], b[2+j:], true
	}
	size, b := 0, r.b // first pass: the size of blob
	for range n {
		k, rest, tail, ok := next(b)
		if !ok {
			r.fail(errors.New("truncated string table"))
			return
		}
		size += k + len(rest) + 1
		b = tail
	}
	var blob strings.Builder
	blob.Grow(size)
	l.off = make([]uint32, n+1)
	prev := "" // the previous string, within blob
	for i := range n {
		k, rest, tail, _ := next(r.b)
		if k > len(prev) {
			r.fail(errors.New("bad string prefix"))
			return
		}
		l.off[i] = uint32(blob.Len())
		blob.WriteString(prev[:k])
		blob.Write(rest)
		prev = blob.String()[l.off[i]:]
		blob.WriteByte('\n')
		r.b = tail
	}
	l.off[n] = uint32(blob.Len())
	l.blob = blob.String()
}

// Hashing: 32-bit FNV-1a.
const (
	fnvOffset = 2166136261
	fnvPrime  = 16777619
)

func (l *lexicon) buildTable() {
	n := len(l.off) - 1
	size := 1
	for size < n*5/3 { // load factor <= 0.6
		size <<= 1
	}
	l.table = make([]uint32, size)
	m := uint32(size - 1)
	for id := range n {
		s := l.str(uint32(id))
		h := uint32(fnvOffset)
		for i := 0; i < len(s); i++ {
			h = (h ^ uint32(s[i])) * fnvPrime
		}
		for h &= m; l.table[h] != 0; h = (h + 1) & m {
		}
		l.table[h] = uint32(id) + 1
	}
}

// str returns string id.
func (l *lexicon) str(id uint32) string {
	return l.blob[l.off[id] : l.off[id+1]-1]
}

// find returns the id of the string that is the concatenation of parts.
func (l *lexicon) find(parts ...string) (uint32, bool) {
	h, n := uint32(fnvOffset), 0
	for _, p := range parts {
		n += len(p)
		for i := 0; i < len(p); i++ {
			h = (h ^ uint32(p[i])) * fnvPrime
		}
	}
	m := uint32(len(l.table) - 1)
next:
	for h &= m; l.table[h] != 0; h = (h + 1) & m {
		id := l.table[h] - 1
		s := l.str(id)
		if len(s) != n {
			continue
		}
		for _, p := range parts {
			if s[:len(p)] != p {
				continue next
			}
			s = s[len(p):]
		}
		return id, true
	}
	return 0, false
}

// lemma returns the id of the concatenation of parts if it is a lemma of pos.
func (l *lexicon) lemma(pos POS, parts ...string) (uint32, bool) {
	id, ok := l.find(parts...)
	return id, ok && l.isLemma(id, pos)
}

func (l *lexicon) isLemma(id uint32, pos POS) bool {
	return pos <= Adv && l.mask[id]&(1<<pos) != 0
}

// entry returns the index of the (id, pos) entry; id must be a lemma of pos.
func (l *lexicon) entry(id uint32, pos POS) uint32 {
	return l.ent[id] + uint32(bits.OnesCount8(l.mask[id]&(1<<pos-1)))
}

// sensesOf returns the synsets of lemma id for pos, nil if it is not one.
func (l *lexicon) sensesOf(id uint32, pos POS) []uint32 {
	if !l.isLemma(id, pos) {
		return nil
	}
	e := l.entry(id, pos)
	return l.senses[l.senseAt[e]:l.senseAt[e+1]:l.senseAt[e+1]]
}

// head returns the head synset of an adjective satellite.
func (l *lexicon) head(s uint32) (uint32, bool) {
	if s < l.base[Adj] || s >= l.base[Adj+1] {
		return 0, false
	}
	i := s - l.base[Adj]
	if l.sat[i/64]&(1<<(i%64)) == 0 {
		return 0, false
	}
	return l.sim[l.simAt[i]], true
}

// similar returns the similar-to targets of synset s.
func (l *lexicon) similar(s uint32) []uint32 {
	if s < l.base[Adj] || s >= l.base[Adj+1] {
		return nil
	}
	i := s - l.base[Adj]
	return l.sim[l.simAt[i]:l.simAt[i+1]]
}

// antonymsOf returns the antonym pointers from synset s.
func (l *lexicon) antonymsOf(s uint32) []antonym {
	i, _ := slices.BinarySearchFunc(l.ants, s, func(a antonym, s uint32) int { return cmp.Compare(a.src, s) })
	j := i
	for j < len(l.ants) && l.ants[j].src == s {
		j++
	}
	return l.ants[i:j]
}

// exceptions returns the exception list entries of string id for pos.
func (l *lexicon) exceptions(id uint32, pos POS) []exception {
	if l.mask[id]&(1<<(4+pos)) == 0 {
		return nil
	}
	i, _ := slices.BinarySearchFunc(l.excs, id, func(e exception, id uint32) int { return cmp.Compare(e.form, id) })
	for i < len(l.excs) && l.excs[i].form == id && l.excs[i].pos < pos {
		i++
	}
	j := i
	for j < len(l.excs) && l.excs[j].form == id && l.excs[j].pos == pos {
		j++
	}
	return l.excs[i:j]
}

// reader decodes varints, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errors.New("bad varint"))
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a uvarint that must be at most max.
func (r *reader) count(max int) int {
	v := r.uvarint()
	if max < 0 || v > uint64(max) {
		r.fail(fmt.Errorf("value %d out of range [0, %d]", v, max))
		return 0
	}
	return int(v)
}

// synset reads zigzag(id - from) and checks that id is in [lo, hi).
func (r *reader) synset(from, lo, hi uint32) uint32 {
	d, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(errors.New("bad varint"))
		return lo
	}
	r.b = r.b[n:]
	id := int64(from) + d
	if id < int64(lo) || id >= int64(hi) {
		r.fail(fmt.Errorf("synset %d out of range [%d, %d)", id, lo, hi))
		return lo
	}
	return uint32(id)
}

func (r *reader) bytes(n int) []byte {
	if len(r.b) < n {
		r.fail(errors.New("truncated"))
		return make([]byte, n)
	}
	b := slices.Clone(r.b[:n])
	r.b = r.b[n:]
	return b
}
