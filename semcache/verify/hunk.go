package verify

import (
	"slices"
	"strings"
	"unicode"

	"github.com/semgate/semgate/semcache/verify/wordnet"
)

// maxHunk is the longest run of unmatched tokens (per side) the verifier
// tries to explain word by word; longer runs are unexplained.
const maxHunk = 12

// step is one explanation inside a hunk: na tokens of A and nb tokens of B
// explained together as a Diff.
type step struct {
	na, nb int
	d      Diff
}

// explainHunk explains the unmatched tokens A[h.a0:h.a1] and B[h.b0:h.b1]
// as a sequence of free insertions and deletions, exchanges within a group,
// inflections, typos, synonyms and frames (a small dynamic programme over
// positions in both runs). What it cannot explain is kept for the move
// rule, then reported.
func (c *checker) explainHunk(h hunk) {
	na, nb := h.a1-h.a0, h.b1-h.b0
	if na > maxHunk || nb > maxHunk {
		c.loose = append(c.loose, h)
		return
	}
	// best[i][j]: a way to explain A[a0+i:] and B[b0+j:], as the first step.
	var memo [maxHunk + 1][maxHunk + 1]int8 // 0 unknown, 1 yes, 2 no
	var choice [maxHunk + 1][maxHunk + 1]step
	var solve func(i, j int) bool
	solve = func(i, j int) bool {
		if i == na && j == nb {
			return true
		}
		if m := memo[i][j]; m != 0 {
			return m == 1
		}
		memo[i][j] = 2
		for _, st := range c.options(h, i, j) {
			if solve(i+st.na, j+st.nb) {
				memo[i][j] = 1
				choice[i][j] = st
				return true
			}
		}
		return false
	}
	if !solve(0, 0) {
		c.loose = append(c.loose, h)
		return
	}
	for i, j := 0, 0; i < na || j < nb; {
		st := choice[i][j]
		c.diffs = append(c.diffs, st.d)
		i += st.na
		j += st.nb
	}
}

// options lists the explanations that can start at A[a0+i], B[b0+j], most
// specific first.
func (c *checker) options(h hunk, i, j int) []step {
	var out []step
	ai, bj := h.a0+i, h.b0+j
	inA, inB := ai < h.a1, bj < h.b1
	// Frames (phrases asking the same), up to 6 tokens a side.
	if !c.v.o.NoFrames {
		out = c.frameSteps(out, h, ai, bj)
	}
	if inA && inB {
		if d, ok := c.pair(ai, bj); ok {
			out = append(out, step{1, 1, d})
		}
		// Multi-word synonyms ("calculate" = "work out").
		if !c.v.o.NoSynonyms {
			for la := 1; la <= 3 && ai+la <= h.a1; la++ {
				for lb := 1; lb <= 3 && bj+lb <= h.b1; lb++ {
					if la == 1 && lb == 1 {
						continue
					}
					pa, okA := c.A.phrase(ai, la)
					pb, okB := c.B.phrase(bj, lb)
					if okA && okB && synonyms(pa, pb, c.senses) {
						out = append(out, step{la, lb, Diff{Class: Synonym, A: pa, B: pb, OK: true}})
					}
				}
			}
		}
	}
	// A word typed twice ("make make me feel").
	if inA && c.A.repeated(ai) {
		out = append(out, step{1, 0, Diff{Class: Typo, A: c.A.tok(ai).raw, OK: true}})
	}
	if inB && c.B.repeated(bj) {
		out = append(out, step{0, 1, Diff{Class: Typo, B: c.B.tok(bj).raw, OK: true}})
	}
	if inA && c.A.free(ai) {
		out = append(out, step{1, 0, Diff{Class: FunctionW, A: c.A.tok(ai).raw, OK: true}})
	}
	if inB && c.B.free(bj) {
		out = append(out, step{0, 1, Diff{Class: FunctionW, B: c.B.tok(bj).raw, OK: true}})
	}
	return out
}

// phrase joins n prose words from content position i with spaces (their
// keys), or reports false if any is not a prose word.
func (s *side) phrase(i, n int) (string, bool) {
	if i+n > len(s.keys) {
		return "", false
	}
	var sb strings.Builder
	for k := i; k < i+n; k++ {
		t := s.tok(k)
		if t.kind != kWord || t.exact {
			return "", false
		}
		if k > i {
			sb.WriteByte(' ')
		}
		sb.WriteString(t.key)
	}
	return sb.String(), true
}

// repeated reports a prose word that repeats the word before it.
func (s *side) repeated(i int) bool {
	t := s.tok(i)
	return i > 0 && t.kind == kWord && !t.exact && s.keys[i-1] == t.key && s.tok(i-1).kind == kWord && t.wsk == wsSpace
}

// numeral reports a number written in words against the same number in
// digits ("five" and "5"); ok is false when the pair is not a numeral.
func numeral(ta, tb *token) (same, ok bool) {
	if ta.kind == kNum && tb.kind == kWord {
		ta, tb = tb, ta
	}
	if ta.kind != kWord || tb.kind != kNum || ta.exact && ta.quoted || tb.quoted {
		return false, false
	}
	v, isNum := numberWords[ta.key]
	if !isNum {
		return false, false
	}
	return v == tb.raw, v == tb.raw
}

// free reports a prose word that may be added or dropped.
func (s *side) free(i int) bool {
	t := s.tok(i)
	if t.kind != kWord || t.exact || !freeWords[t.key] || t.wsk >= wsLine {
		return false
	}
	if t.key == "me" {
		// "Write me a haiku", "can you give me": after the request's verb.
		return i >= 1 && (s.tok(i-1).start || i >= 2 && s.keys[i-2] == "you")
	}
	return true
}

// framePair is one exchange two alternatives of a frame allow: the words
// that differ (ma for A, mb for B), with the words both alternatives share
// before (pre) and after (suf) them, which must stand there on both sides.
type framePair struct {
	ma, mb, pre, suf []string
	startOnly        bool
	desc             Diff
}

// framePairs indexes every pair by the first differing word of A's side
// ("" when A's side is empty).
var framePairs = func() map[string][]framePair {
	out := map[string][]framePair{}
	for fi := range frames {
		f := &frames[fi]
		for _, fa := range f.alts {
			for _, fb := range f.alts {
				if len(fa) == 0 && len(fb) == 0 || slices.Equal(fa, fb) {
					continue
				}
				p := 0
				for p < len(fa) && p < len(fb) && fa[p] == fb[p] {
					p++
				}
				q := 0
				for q < len(fa)-p && q < len(fb)-p && fa[len(fa)-1-q] == fb[len(fb)-1-q] {
					q++
				}
				fp := framePair{ma: fa[p : len(fa)-q], mb: fb[p : len(fb)-q], pre: fa[:p], suf: fa[len(fa)-q:],
					startOnly: f.startOnly,
					desc:      Diff{Class: Frame, A: strings.Join(fa, " "), B: strings.Join(fb, " "), OK: true}}
				if len(fp.ma) == 0 && len(fp.mb) == 0 {
					continue
				}
				k := ""
				if len(fp.ma) > 0 {
					k = fp.ma[0]
				}
				out[k] = append(out[k], fp)
			}
		}
	}
	return out
}()

// frameSteps adds frame matches starting at ai and bj.
func (c *checker) frameSteps(out []step, h hunk, ai, bj int) []step {
	try := func(list []framePair) {
		for i := range list {
			fp := &list[i]
			if !c.A.hasPhrase(ai, h.a1, fp.ma) || !c.B.hasPhrase(bj, h.b1, fp.mb) {
				continue
			}
			if !c.A.hasPhrase(ai-len(fp.pre), ai, fp.pre) || !c.B.hasPhrase(bj-len(fp.pre), bj, fp.pre) {
				continue
			}
			ea, eb := ai+len(fp.ma), bj+len(fp.mb)
			if !c.A.hasPhrase(ea, len(c.A.keys), fp.suf) || !c.B.hasPhrase(eb, len(c.B.keys), fp.suf) {
				continue
			}
			if fp.startOnly && !(c.A.startsAt(ai-len(fp.pre)) && c.B.startsAt(bj-len(fp.pre))) {
				continue
			}
			out = append(out, step{len(fp.ma), len(fp.mb), fp.desc})
		}
	}
	if ai < h.a1 {
		try(framePairs[c.A.keys[ai]])
	}
	if bj < h.b1 {
		try(framePairs[""])
	}
	return out
}

// startsAt reports that content position i starts a sentence (or is the
// end of the prompt, for a frame dropped at the end).
func (s *side) startsAt(i int) bool {
	return i >= len(s.keys) || i >= 0 && s.tok(i).start
}

// hasPhrase reports whether the prose words at [i, i+len(p)) within limit
// have the keys p.
func (s *side) hasPhrase(i, limit int, p []string) bool {
	if i < 0 || i+len(p) > limit {
		return false
	}
	for k, w := range p {
		t := s.tok(i + k)
		if t.kind != kWord || t.exact || t.key != w {
			return false
		}
	}
	return true
}

// pair explains one token of A against one of B.
func (c *checker) pair(ai, bj int) (Diff, bool) {
	ta, tb := c.A.tok(ai), c.B.tok(bj)
	if n, ok := numeral(ta, tb); ok {
		return Diff{Class: Numeral, A: ta.raw, B: tb.raw, OK: n}, n
	}
	if ta.kind != kWord || tb.kind != kWord || ta.exact || tb.exact {
		return Diff{}, false
	}
	a, b := ta.key, tb.key
	// Exchangeable function words.
	for gi := range groups {
		g := &groups[gi]
		if g.words[a] && g.words[b] && c.groupCtx(g.ctx, ai, bj) {
			return Diff{Class: FunctionW, A: ta.raw, B: tb.raw, OK: true}, true
		}
	}
	if !isASCII(a) || !isASCII(b) {
		return Diff{}, false
	}
	// A misspelt function word is still that word ("tehre", "udner").
	if !c.v.o.NoTypos && typo(a, b, nameLike(ta) || nameLike(tb)) {
		return Diff{Class: Typo, A: ta.raw, B: tb.raw, OK: true}, true
	}
	if functionWords[a] || functionWords[b] {
		return Diff{}, false
	}
	if inflected(a, b) {
		return Diff{Class: Inflection, A: ta.raw, B: tb.raw, OK: true}, true
	}
	if !c.v.o.NoSynonyms && (c.synonyms(a, b) || wordnet.Similar(a, b, 2)) && !wordnet.Antonyms(a, b) {
		return Diff{Class: Synonym, A: ta.raw, B: tb.raw, OK: true}, true
	}
	return Diff{}, false
}

// groupCtx checks a group's context on both sides.
func (c *checker) groupCtx(ctx groupCtx, ai, bj int) bool {
	switch ctx {
	case ctxBeforeI:
		return c.A.nextIs(ai, firstPerson) && c.B.nextIs(bj, firstPerson)
	case ctxBeforeYou:
		return c.A.nextIs(ai, secondPerson) && c.B.nextIs(bj, secondPerson)
	case ctxAfterWh:
		return c.A.afterWh(ai) && c.B.afterWh(bj)
	case ctxPlace:
		return c.A.place(ai) && c.B.place(bj)
	}
	return true
}

// place reports a preposition of place between a noun and a noun phrase,
// where in, at and on alternate without changing the question ("change my
// password in Yahoo mail" = "on Yahoo mail"); after a verb they are
// particles with meanings of their own ("turn on", "log in").
func (s *side) place(i int) bool {
	if i < 1 || i+1 >= len(s.keys) {
		return false
	}
	prev, next := s.tok(i-1), s.tok(i+1)
	if prev.kind != kWord || next.kind != kWord || prev.exact || functionWords[prev.key] {
		return false
	}
	if !nounish(prev.key) {
		return false
	}
	switch next.key {
	case "a", "an", "the", "my", "your", "our", "their", "his", "her", "this", "that":
		return true
	}
	return !functionWords[next.key] && (nounish(next.key) || caseShape(next.raw) != shapeLower)
}

// nounish reports a word used mostly as a noun (by WordNet's tag counts),
// or a noun's plural.
func nounish(w string) bool {
	n, v := wordnet.Frequency(w, wordnet.Noun), wordnet.Frequency(w, wordnet.Verb)
	if n == 0 && v == 0 {
		var buf [4]string
		for _, b := range wordnet.BaseForms(buf[:0], w, wordnet.Noun) {
			if b != w {
				n += wordnet.Frequency(b, wordnet.Noun)
				v += wordnet.Frequency(b, wordnet.Verb)
			}
		}
	}
	return n > v
}

func (s *side) nextIs(i int, set map[string]bool) bool {
	return i+1 < len(s.keys) && set[s.keys[i+1]]
}

// afterWh: the word follows how/where/when (an auxiliary), or follows
// how/where/when and an auxiliary (a pronoun).
func (s *side) afterWh(i int) bool {
	if i >= 1 && whWords[s.keys[i-1]] {
		return true
	}
	return i >= 2 && whWords[s.keys[i-2]] && auxes[s.keys[i-1]]
}

var auxes = set(`do does can could should would`)

var (
	firstPerson  = set(`i we`)
	secondPerson = set(`you`)
)

// inflected reports two forms of one word that ask the same: a noun's
// singular and plural, or a verb's base and third person ("fee"/"fees",
// "child"/"children", "cover"/"covers").
func inflected(a, b string) bool {
	var buf [8]string
	for _, pos := range [...]wordnet.POS{wordnet.Noun, wordnet.Verb} {
		ba := wordnet.BaseForms(buf[:0], a, pos)
		n := len(ba)
		bb := wordnet.BaseForms(ba, b, pos)
		for _, x := range bb[:n] {
			for _, y := range bb[n:] {
				if x == y && plainOrS(a, x, pos) && plainOrS(b, y, pos) {
					return true
				}
			}
		}
	}
	return false
}

// plainOrS reports whether w is its base form, or the base with a plural or
// third-person ending (not a past tense, participle or comparative).
func plainOrS(w, base string, pos wordnet.POS) bool {
	if w == base {
		return true
	}
	if pos == wordnet.Noun {
		return !strings.HasSuffix(w, "ing") && !strings.HasSuffix(w, "ed")
	}
	return strings.HasSuffix(w, "s")
}

// synonyms reports WordNet synonyms of a and b, either as given or through
// their base forms with the same ending.
func (c *checker) synonyms(a, b string) bool {
	if synonyms(a, b, c.senses) {
		return true
	}
	var buf [16]string
	for _, pos := range [...]wordnet.POS{wordnet.Noun, wordnet.Verb, wordnet.Adj, wordnet.Adv} {
		ba := wordnet.BaseForms(buf[:0], a, pos)
		n := len(ba)
		bb := wordnet.BaseForms(ba, b, pos)
		for _, x := range bb[:n] {
			for _, y := range bb[n:] {
				if x == y || ending(a, x) != ending(b, y) {
					continue
				}
				if synonyms(x, y, c.senses) {
					return true
				}
			}
		}
	}
	return false
}

// synonyms reports lemmas that share a synset of the same part of speech
// which is the most frequent sense of one of them and among the first k
// senses of the other (k <= 0: any); for nouns, the most frequent sense of
// both. "minute" and "second" share "a short
// time", the second sense of both, so they are not synonyms; "main" and
// "primary" share the first sense of "main" and the third of "primary".
func synonyms(a, b string, k int) bool {
	for pos := wordnet.Noun; pos <= wordnet.Adv; pos++ {
		// Nouns name things, and WordNet lists names and their rarer
		// senses together (China's second sense is Taiwan): for nouns the
		// shared sense must be the first of both.
		noun := pos == wordnet.Noun
		if wordnet.SharedSense(a, b, pos, func(i, j int) bool {
			if k > 0 && (i >= k || j >= k) {
				return false
			}
			return i == 0 && j == 0 || !noun && (i == 0 || j == 0)
		}) {
			return true
		}
	}
	return false
}

// ending names how w was formed from base: "", "s", "ed", "ing", "er",
// "est" or "?".
func ending(w, base string) string {
	if w == base {
		return ""
	}
	for _, e := range [...]string{"ing", "est", "ed", "er", "s"} {
		if strings.HasSuffix(w, e) {
			return e
		}
	}
	return "?"
}

// typo reports that one of a, b is a misspelling of the other: the other is
// an English word of at least four letters, the misspelling is not a word,
// and they are one edit apart (a letter inserted, dropped, replaced, or two
// neighbours swapped), or two for words of eight letters or more. For a
// name (name: capitalized inside a sentence), and for two words neither of
// which is English, only two inner letters swapped count.
func typo(a, b string, name bool) bool {
	la, lb := len(a), len(b)
	if la < 4 && lb < 4 {
		return false
	}
	wa, wb := known(a), known(b)
	if wa && wb {
		return false // a different word
	}
	if name || !wa && !wb {
		// A name (capitalized inside a sentence), or neither is an
		// English word (a brand, jargon): only the commonest slip, two
		// inner letters swapped, is a typo; a letter more, less or
		// replaced may be another name (Stephen, Stephan).
		return len(a) >= 5 && (!wa && !wb && len(a) >= 6 || name) && swapped(a, b)
	}
	word := a
	if wb {
		word = b
	}
	if len(word) < 4 {
		return false
	}
	limit := 1
	if len(word) >= 8 {
		limit = 2
	}
	return osa(a, b, limit) <= limit
}

// known reports an English word: a function word or a WordNet word form.
func known(w string) bool {
	return functionWords[w] || freeWords[w] || numberWords[w] != "" || wordnet.IsWord(w)
}

// nameLike reports a capitalized word inside a sentence.
func nameLike(t *token) bool {
	return !t.start && caseShape(t.raw) != shapeLower
}

// swapped reports words of the same length that differ only by two
// adjacent letters exchanged, neither of them the first.
func swapped(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	return i > 0 && i+1 < len(a) && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:]
}

// osa is the optimal string alignment distance (Damerau–Levenshtein without
// repeated edits of a substring) of two ASCII words, giving up past limit.
func osa(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	var rows [3][40]int
	if len(b) >= 39 {
		return limit + 1
	}
	p2, p1, cur := &rows[0], &rows[1], &rows[2]
	for j := 0; j <= len(b); j++ {
		p1[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		best := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			v := min(p1[j]+1, cur[j-1]+1, p1[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				v = min(v, p2[j-2]+1)
			}
			cur[j] = v
			best = min(best, v)
		}
		if best > limit {
			return limit + 1
		}
		p2, p1, cur = p1, cur, p2
	}
	return p1[len(b)]
}

// moves explains unexplained hunks that are one phrase moved within its
// sentence: the same words, starting with a preposition, dropped in one
// place and added in another. Whatever is left is reported unexplained.
func (c *checker) moves() {
	used := make([]bool, len(c.loose))
	if !c.v.o.NoReorder {
		for x := range c.loose {
			if used[x] {
				continue
			}
			dx := c.loose[x]
			for y := range c.loose {
				if x == y || used[y] {
					continue
				}
				dy := c.loose[y]
				// dx holds the phrase in A only, dy in B only.
				pa := c.A.content(dx.a0, dx.a1)
				pb := c.B.content(dy.b0, dy.b1)
				if len(pa) == 0 || len(pa) > 8 || !slices.Equal(pa, pb) || !movePreps[pa[0]] {
					continue
				}
				if len(c.B.content(dx.b0, dx.b1)) != 0 || len(c.A.content(dy.a0, dy.a1)) != 0 {
					continue
				}
				if c.A.sent[dx.a0] != c.B.sent[dy.b0] || c.A.hasExactOrNum(dx.a0, dx.a1) {
					continue
				}
				used[x], used[y] = true, true
				c.add(Reorder, strings.Join(pa, " "), "(moved)", true)
				c.freeDiffs(dx, dy)
				break
			}
		}
	}
	for x, h := range c.loose {
		if !used[x] {
			c.reject(h)
		}
	}
}

// content returns the keys of [i, j) without the free words.
func (s *side) content(i, j int) []string {
	var out []string
	for k := i; k < j; k++ {
		if !s.free(k) {
			out = append(out, s.keys[k])
		}
	}
	return out
}

func (s *side) hasExactOrNum(i, j int) bool {
	for k := i; k < j; k++ {
		if t := s.tok(k); t.exact || t.kind == kNum {
			return true
		}
	}
	return false
}

// freeDiffs records the free words of moved hunks.
func (c *checker) freeDiffs(hs ...hunk) {
	for _, h := range hs {
		for k := h.a0; k < h.a1; k++ {
			if c.A.free(k) {
				c.add(FunctionW, c.A.tok(k).raw, "", true)
			}
		}
		for k := h.b0; k < h.b1; k++ {
			if c.B.free(k) {
				c.add(FunctionW, "", c.B.tok(k).raw, true)
			}
		}
	}
}

// reject records an unexplained hunk under the most telling class.
func (c *checker) reject(h hunk) {
	a := c.A.span(h.a0, h.a1)
	b := c.B.span(h.b0, h.b1)
	c.add(c.classify(h), a, b, false)
}

func (s *side) span(i, j int) string {
	var sb strings.Builder
	for k := i; k < j; k++ {
		if k > i {
			sb.WriteByte(' ')
		}
		sb.WriteString(s.tok(k).raw)
	}
	return sb.String()
}

// classify names why a hunk changes the meaning.
func (c *checker) classify(h hunk) Class {
	var toks []*token
	for k := h.a0; k < h.a1; k++ {
		toks = append(toks, c.A.tok(k))
	}
	for k := h.b0; k < h.b1; k++ {
		toks = append(toks, c.B.tok(k))
	}
	has := func(f func(t *token) bool) bool {
		for _, t := range toks {
			if f(t) {
				return true
			}
		}
		return false
	}
	switch {
	case has(func(t *token) bool { return t.kind == kNum }):
		return Number
	case has(func(t *token) bool { return t.exact && t.quoted }):
		return Quoted
	case has(func(t *token) bool { return t.exact && t.kind != kSym }):
		return Identifier
	case has(func(t *token) bool { return t.kind == kSym }):
		return Symbol
	case has(func(t *token) bool { return nonLatin(t.raw) }):
		return Script
	case has(func(t *token) bool { return !isASCII(t.raw) }):
		return Unicode
	case has(func(t *token) bool { return negations[t.key] }):
		return Negation
	case has(func(t *token) bool { return polarity[t.key] }):
		return Polarity
	}
	for k := h.a0; k < h.a1; k++ {
		for l := h.b0; l < h.b1; l++ {
			if wordnet.Antonyms(c.A.keys[k], c.B.keys[l]) {
				return Antonym
			}
		}
	}
	// The same words in another order.
	pa, pb := c.A.content(h.a0, h.a1), c.B.content(h.b0, h.b1)
	if len(pa) > 0 && len(pb) == 0 || len(pb) > 0 && len(pa) == 0 {
		for _, x := range c.loose {
			if x == h {
				continue
			}
			if slices.Equal(c.A.content(x.a0, x.a1), pb) && len(pb) > 0 || slices.Equal(c.B.content(x.b0, x.b1), pa) && len(pa) > 0 {
				return Order
			}
		}
	}
	return Content
}

func nonLatin(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) && !unicode.Is(unicode.Latin, r) {
			return true
		}
	}
	return false
}

// coordinate puts conjuncts around "and"/"or" in a canonical order, so "a
// crocodile and an alligator" aligns with "an alligator and a crocodile".
// Conjuncts are one to three content words that are nouns or adjectives by
// their most frequent use (verbs are left alone: "bake and cool" is a
// sequence), with no numbers or code.
func (s *side) coordinate() (swaps []string) {
	for k := 1; k+1 < len(s.keys); k++ {
		if s.keys[k] != "and" && s.keys[k] != "or" {
			continue
		}
		l0 := k
		for l0 > 0 && k-l0 < 3 && s.conjunct(l0-1) {
			l0--
		}
		r0 := k + 1
		for r0 < len(s.keys) && freeWords[s.keys[r0]] && s.keys[r0] != "that" {
			r0++
		}
		r1 := r0
		for r1 < len(s.keys) && r1-r0 < 3 && s.conjunct(r1) {
			r1++
		}
		if l0 == k || r1 == r0 || s.sent[l0] != s.sent[r1-1] {
			continue
		}
		// Only whole conjuncts: the words around must not be content words
		// too (a longer conjunct is left as it is).
		if l0 > 0 && s.conjunct(l0-1) || r1 < len(s.keys) && s.conjunct(r1) {
			continue
		}
		left := strings.Join(s.keys[l0:k], " ")
		right := strings.Join(s.keys[r0:r1], " ")
		if left <= right {
			continue
		}
		// [left][and, articles][right] becomes [right][and, articles][left].
		swaps = append(swaps, left+" "+s.keys[k]+" "+right)
		exchange(s.idx[l0:r1], k-l0, r1-r0)
		exchange(s.keys[l0:r1], k-l0, r1-r0)
		k = r1
	}
	return swaps
}

// exchange swaps the first nl and the last nr elements of x, keeping the
// middle in place: reversing the whole and then each part.
func exchange[T any](x []T, nl, nr int) {
	slices.Reverse(x)
	slices.Reverse(x[:nr])
	slices.Reverse(x[nr : len(x)-nl])
	slices.Reverse(x[len(x)-nl:])
}

// conjunct reports a prose content word that is mostly a noun or adjective.
func (s *side) conjunct(i int) bool {
	t := s.tok(i)
	if t.kind != kWord || t.exact || functionWords[t.key] {
		return false
	}
	n := wordnet.Frequency(t.key, wordnet.Noun) + wordnet.Frequency(t.key, wordnet.Adj)
	v := wordnet.Frequency(t.key, wordnet.Verb)
	if n == 0 && v == 0 {
		var buf [4]string
		return len(wordnet.BaseForms(buf[:0], t.key, wordnet.Noun)) > 0 || !wordnet.IsWord(t.key)
	}
	return n >= v
}
