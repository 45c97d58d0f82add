package wordnet

import (
	"slices"
	"strconv"
	"strings"
)

// POS is a part of speech.
type POS uint8

// The parts of speech. Adj includes adjective satellites.
const (
	Noun POS = iota
	Verb
	Adj
	Adv
)

func (p POS) String() string {
	switch p {
	case Noun:
		return "noun"
	case Verb:
		return "verb"
	case Adj:
		return "adj"
	case Adv:
		return "adv"
	}
	return "POS(" + strconv.Itoa(int(p)) + ")"
}

// Lemma reports the parts of speech for which w is a WordNet lemma (bit i
// set for POS i; 0: not a lemma).
func Lemma(w string) uint8 {
	l := lex()
	if id, ok := l.find(w); ok {
		return l.mask[id] & 15
	}
	return 0
}

// IsWord reports whether w is an English word form WordNet knows: a lemma,
// or an inflected form whose base (by WordNet's morphy rules, see
// [BaseForms]) is a lemma of that POS.
func IsWord(w string) bool {
	l := lex()
	for p := Noun; p <= Adv; p++ {
		var buf [8]uint32
		if len(l.morph(buf[:0], w, p)) > 0 {
			return true
		}
	}
	return false
}

// BaseForms appends to dst the base forms of w for pos and returns it. It
// follows WordNet's morphy: w itself if it is a lemma of pos; then the
// bases that pos's exception list gives for w, or if it has none, the
// results of the detachment rules (e.g. "-ies" -> "-y"); for a collocation
// such as "attorneys general", also the collocation of its words' first
// base forms. Only lemmas of pos are kept, each once. Unlike WordNet's C
// morphy, all rules are tried rather than the first that succeeds.
func BaseForms(dst []string, w string, pos POS) []string {
	l := lex()
	var buf [8]uint32
	for _, id := range l.morph(buf[:0], w, pos) {
		dst = append(dst, l.str(id))
	}
	return dst
}

// Senses returns w's synsets for pos in WordNet's sense order (most
// frequent first), as opaque synset numbers: dense ids, the same for the
// same synset whichever lemma it is reached from. w must be a lemma (no
// morphology applied); otherwise Senses returns nil.
func Senses(w string, pos POS) []uint32 {
	l := lex()
	id, ok := l.find(w)
	if !ok {
		return nil
	}
	return slices.Clone(l.sensesOf(id, pos))
}

// SharedSense reports whether lemmas a and b share a synset of pos at sense
// ranks (0: the most frequent) ra of a and rb of b for which ok(ra, rb)
// holds. It allocates nothing, unlike comparing two Senses.
func SharedSense(a, b string, pos POS, ok func(ra, rb int) bool) bool {
	l := lex()
	ia, ok1 := l.find(a)
	ib, ok2 := l.find(b)
	if !ok1 || !ok2 {
		return false
	}
	sb := l.sensesOf(ib, pos)
	for i, x := range l.sensesOf(ia, pos) {
		for j, y := range sb {
			if x == y && ok(i, j) {
				return true
			}
		}
	}
	return false
}

// Synonyms reports whether lemmas a and b share a synset of the same POS
// that is among the first maxSense senses of a and among the first
// maxSense senses of b (maxSense <= 0: any sense).
func Synonyms(a, b string, maxSense int) bool {
	l := lex()
	ia, ok1 := l.find(a)
	ib, ok2 := l.find(b)
	if !ok1 || !ok2 {
		return false
	}
	for p := Noun; p <= Adv; p++ {
		sb := first(l.sensesOf(ib, p), maxSense)
		for _, s := range first(l.sensesOf(ia, p), maxSense) {
			if slices.Contains(sb, s) {
				return true
			}
		}
	}
	return false
}

// Antonyms reports whether a and b are antonyms: WordNet has a lexical
// antonym pointer ("!") from a in some synset to b in another, in either
// direction, or from the head of an adjective satellite synset of one to
// the other (so "scorching", a satellite of "hot", is an antonym of
// "cold"). All POS are considered.
func Antonyms(a, b string) bool {
	l := lex()
	ia, ok1 := l.find(a)
	ib, ok2 := l.find(b)
	return ok1 && ok2 && (l.antonyms(ia, ib) || l.antonyms(ib, ia))
}

func (l *lexicon) antonyms(a, b uint32) bool {
	for p := Noun; p <= Adv; p++ {
		for _, s := range l.sensesOf(a, p) {
			for _, x := range l.antonymsOf(s) {
				if x.srcLemma == a && x.dstLemma == b {
					return true
				}
			}
			if h, ok := l.head(s); ok {
				for _, x := range l.antonymsOf(h) {
					if x.dstLemma == b {
						return true
					}
				}
			}
		}
	}
	return false
}

// Similar reports whether adjectives a and b are linked by a "similar to"
// ("&") pointer, such as between a head adjective and its satellites,
// between some of their first maxSense senses (maxSense <= 0: any sense).
// Sharing a synset is not enough; see [Synonyms].
func Similar(a, b string, maxSense int) bool {
	l := lex()
	ia, ok1 := l.find(a)
	ib, ok2 := l.find(b)
	if !ok1 || !ok2 {
		return false
	}
	sa := first(l.sensesOf(ia, Adj), maxSense)
	sb := first(l.sensesOf(ib, Adj), maxSense)
	for _, s := range sa {
		for _, t := range l.similar(s) {
			if slices.Contains(sb, t) {
				return true
			}
		}
	}
	for _, s := range sb {
		for _, t := range l.similar(s) {
			if slices.Contains(sa, t) {
				return true
			}
		}
	}
	return false
}

// Frequency returns the tag count of w for pos, summed over its senses
// (from cntlist.rev): how often it was tagged in WordNet's semantic
// concordance, a rough frequency of use. It is 0 for most lemmas.
func Frequency(w string, pos POS) int {
	l := lex()
	id, ok := l.find(w)
	if !ok || !l.isLemma(id, pos) {
		return 0
	}
	return int(l.freq[l.entry(id, pos)])
}

func first(s []uint32, n int) []uint32 {
	if n > 0 && n < len(s) {
		return s[:n]
	}
	return s
}

// Morphy's rules of detachment (morphy(7WN)); none for adverbs.
var detach = [...][]struct{ suffix, ending string }{
	Noun: {{"s", ""}, {"ses", "s"}, {"xes", "x"}, {"zes", "z"}, {"ches", "ch"}, {"shes", "sh"}, {"men", "man"}, {"ies", "y"}},
	Verb: {{"s", ""}, {"ies", "y"}, {"es", "e"}, {"es", ""}, {"ed", "e"}, {"ed", ""}, {"ing", "e"}, {"ing", ""}},
	Adj:  {{"er", ""}, {"est", ""}, {"er", "e"}, {"est", "e"}},
	Adv:  nil,
}

// maxWords bounds the words of a collocation morph handles.
const maxWords = 8

// morph appends to dst the ids of the base forms of w for pos, as
// described at [BaseForms], and returns it.
func (l *lexicon) morph(dst []uint32, w string, pos POS) []uint32 {
	if pos > Adv {
		return dst
	}
	start := len(dst)
	id, ok := l.find(w)
	if ok && l.isLemma(id, pos) {
		dst = append(dst, id)
	}
	dst = l.inflection(dst, start, w, pos)
	if strings.IndexByte(w, ' ') < 0 {
		return dst
	}
	// A collocation: the first base forms of its words, joined.
	var parts [2 * maxWords]string // words and spaces
	n := 0
	for rest, more := w, true; more; n += 2 {
		if n == len(parts) {
			return dst // too many words
		}
		var word string
		word, rest, more = strings.Cut(rest, " ")
		var buf [8]uint32
		if b := l.inflection(buf[:0], 0, word, pos); len(b) > 0 {
			word = l.str(b[0])
		}
		parts[n], parts[n+1] = word, " "
	}
	if id, ok := l.lemma(pos, parts[:n-1]...); ok && !slices.Contains(dst[start:], id) {
		dst = append(dst, id)
	}
	return dst
}

// inflection appends to dst the lemmas of pos that w is an inflection of:
// those of the exception list if it has w, else those the rules give. It
// skips ids already in dst[start:].
func (l *lexicon) inflection(dst []uint32, start int, w string, pos POS) []uint32 {
	add := func(id uint32) {
		if !slices.Contains(dst[start:], id) {
			dst = append(dst, id)
		}
	}
	if id, ok := l.find(w); ok {
		if exc := l.exceptions(id, pos); len(exc) > 0 {
			for _, e := range exc {
				add(e.base)
			}
			return dst
		}
	}
	stem, ful := w, ""
	if pos == Noun {
		switch {
		case strings.HasSuffix(w, "ful"): // "boxesful" -> "boxful"
			stem, ful = w[:len(w)-3], "ful"
		case strings.HasSuffix(w, "ss") || len(w) <= 2:
			return dst
		}
	}
	for _, r := range detach[pos] {
		if strings.HasSuffix(stem, r.suffix) {
			if id, ok := l.lemma(pos, stem[:len(stem)-len(r.suffix)], r.ending, ful); ok {
				add(id)
			}
		}
	}
	return dst
}
