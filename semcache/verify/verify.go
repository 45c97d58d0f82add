package verify

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Defaults for Options.
const (
	DefaultSynonymSenses  = 3
	DefaultWideSimilarity = 0.9
	DefaultMaxEdits       = 64
)

// Options configures a Verifier. The zero value means defaults.
type Options struct {
	// SynonymSenses is how many of a word's most frequent WordNet senses
	// may supply a synonym: the shared synset must be the most frequent
	// sense of one word and among the first SynonymSenses senses of the
	// other. Default: 3.
	SynonymSenses int `yaml:"synonym_senses"`
	// WideSimilarity: at or above this embedding similarity any shared
	// sense supplies a synonym (the similarity widens the tolerated
	// rewording; it never decides alone). Default: 0.9; 1 or more turns
	// widening off.
	WideSimilarity float64 `yaml:"wide_similarity"`
	// MaxEdits is the most word insertions plus deletions aligned; pairs
	// further apart are misses. Default: 64.
	MaxEdits int `yaml:"max_edits"`
	// NoSynonyms, NoTypos, NoReorder, NoFrames turn off one kind of
	// explanation (each makes the verifier stricter). Default: all on.
	NoSynonyms bool `yaml:"no_synonyms"`
	NoTypos    bool `yaml:"no_typos"`
	NoReorder  bool `yaml:"no_reorder"`
	NoFrames   bool `yaml:"no_frames"`
}

// Validate reports every problem at once.
func (o *Options) Validate() error {
	var errs []error
	if o.SynonymSenses < 0 {
		errs = append(errs, errors.New("synonym_senses: must not be negative"))
	}
	if o.WideSimilarity < 0 {
		errs = append(errs, errors.New("wide_similarity: must not be negative"))
	}
	if o.MaxEdits < 0 || o.MaxEdits > 4096 {
		errs = append(errs, fmt.Errorf("max_edits: %d is not in [0, 4096]", o.MaxEdits))
	}
	return errors.Join(errs...)
}

func (o *Options) senses() int {
	if o.SynonymSenses > 0 {
		return o.SynonymSenses
	}
	return DefaultSynonymSenses
}

func (o *Options) wide() float64 {
	if o.WideSimilarity > 0 {
		return o.WideSimilarity
	}
	return DefaultWideSimilarity
}

func (o *Options) maxEdits() int {
	if o.MaxEdits > 0 {
		return o.MaxEdits
	}
	return DefaultMaxEdits
}

// Verifier decides whether a cached prompt's answer may answer another
// prompt: every difference between them must be explained as one that
// cannot change the answer. It is safe for concurrent use.
type Verifier struct {
	o Options
}

// New returns a Verifier; it panics on invalid options (check them with
// Validate at start-up).
func New(o Options) *Verifier {
	if err := o.Validate(); err != nil {
		panic(err)
	}
	return &Verifier{o: o}
}

// Lossless returns the form of a prompt the exact tier keys: Unicode NFC,
// "\r\n" and "\r" as "\n", leading and trailing white space trimmed. These
// transformations cannot change what a prompt asks; everything else (case,
// inner spacing, punctuation, compatibility characters) is for the
// verifier to judge.
func Lossless(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	s = strings.TrimSpace(s)
	if !isASCII(s) {
		s = norm.NFC.String(s)
	}
	return s
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// scratch is per-call state, pooled.
type scratch struct {
	ta, tb []token
	ka, kb []string
	ia, ib []int
	sa, sb []int
	al     aligner
	diffs  []Diff
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// side is one tokenized prompt with its content sequence.
type side struct {
	p    *prompt
	idx  []int    // token indexes of the content tokens (punctuation left out)
	keys []string // their keys, in (canonical) order
	sent []int    // sentence number of each content token
}

func (s *side) tok(i int) *token { return &s.p.toks[s.idx[i]] }

// Verify compares a cached prompt with an incoming one. sim is the
// embedding similarity of the pair (0 when unknown); it only widens the
// synonyms accepted above Options.WideSimilarity.
func (v *Verifier) Verify(cached, incoming string, sim float32) Verdict {
	return v.verify(Lossless(cached), Lossless(incoming), nil, sim)
}

// Prepared is an incoming prompt tokenized once, to be verified against
// several candidates (a lookup verifies up to a few dozen). It is safe for
// concurrent use.
type Prepared struct {
	v    *Verifier
	text string
	p    prompt
}

// Prepare tokenizes an incoming prompt for Prepared.Verify.
func (v *Verifier) Prepare(incoming string) *Prepared {
	t := Lossless(incoming)
	return &Prepared{v: v, text: t, p: tokenize(t, nil)}
}

// Verify is Verifier.Verify(cached, the prepared prompt, sim).
func (p *Prepared) Verify(cached string, sim float32) Verdict {
	return p.v.verify(Lossless(cached), p.text, &p.p, sim)
}

// verify compares a and b (both Lossless); pb, if not nil, is b already
// tokenized.
func (v *Verifier) verify(a, b string, pb *prompt, sim float32) Verdict {
	if a == b {
		return Verdict{OK: true, Rule: Identical}
	}
	sc := scratchPool.Get().(*scratch)
	defer func() {
		if cap(sc.ta) <= 4096 && cap(sc.tb) <= 4096 {
			clear(sc.ta[:cap(sc.ta)])
			clear(sc.tb[:cap(sc.tb)])
			clear(sc.ka[:cap(sc.ka)])
			clear(sc.kb[:cap(sc.kb)])
			scratchPool.Put(sc)
		}
	}()
	pa := tokenize(a, sc.ta)
	sc.ta = pa.toks
	if pb == nil {
		t := tokenize(b, sc.tb)
		sc.tb = t.toks
		pb = &t
	}
	A := side{p: &pa, sent: sc.sa[:0]}
	B := side{p: pb, sent: sc.sb[:0]}
	A.build(sc.ia[:0], sc.ka[:0])
	B.build(sc.ib[:0], sc.kb[:0])
	sc.ia, sc.ka, sc.ib, sc.kb, sc.sa, sc.sb = A.idx, A.keys, B.idx, B.keys, A.sent, B.sent

	senses := v.o.senses()
	if float64(sim) >= v.o.wide() {
		senses = 0
	}
	// First without reordering conjuncts; only a pair that fails and has
	// an "and" or "or" is aligned again with them in canonical order.
	verdict, near, ok := v.check(sc, &A, &B, senses, false)
	if !ok {
		return Verdict{Rule: TooDifferent, Diffs: []Diff{{Class: TooDifferent}}}
	}
	if !verdict.OK && near && !v.o.NoReorder {
		if v2, _, ok := v.check(sc, &A, &B, senses, true); ok && v2.OK {
			verdict = v2
		}
	}
	return verdict
}

// coordNear reports an "and" or "or" within four words of [i, j).
func (s *side) coordNear(i, j int) bool {
	for k := max(0, i-4); k < min(len(s.keys), j+4); k++ {
		if s.keys[k] == "and" || s.keys[k] == "or" {
			return true
		}
	}
	return false
}

// check aligns and explains A and B; ok is false when they are too far
// apart to align. near reports an unexplained difference next to an "and"
// or "or" (reordering conjuncts might explain it).
func (v *Verifier) check(sc *scratch, A, B *side, senses int, coord bool) (verdict Verdict, near, ok bool) {
	c := checker{v: v, A: A, B: B, senses: senses, diffs: sc.diffs[:0]}
	if coord {
		sa, sb := A.coordinate(), B.coordinate()
		for _, x := range sa {
			if !slices.Contains(sb, x) {
				c.add(Reorder, x, "", true)
			}
		}
		for _, x := range sb {
			if !slices.Contains(sa, x) {
				c.add(Reorder, "", x, true)
			}
		}
	}
	edits, ok := sc.al.align(A.keys, B.keys, v.o.maxEdits())
	if !ok {
		return Verdict{}, false, false
	}
	c.walk(edits)
	c.punctuation()
	verdict = c.verdict()
	for _, h := range c.loose {
		if A.coordNear(h.a0, h.a1) && B.coordNear(h.b0, h.b1) {
			near = true
		}
	}
	sc.diffs = c.diffs[:0]
	return verdict, near, true
}

// build collects the content tokens (everything but prose punctuation).
func (s *side) build(idx []int, keys []string) {
	sent := 0
	s.sent = s.sent[:0]
	for i := range s.p.toks {
		t := &s.p.toks[i]
		if t.wsk >= wsLine {
			sent++
		}
		if t.kind == kPunct {
			switch t.raw[0] {
			case '.', '!', '?', ';':
				sent++
			}
			continue
		}
		idx = append(idx, i)
		keys = append(keys, t.key)
		s.sent = append(s.sent, sent)
	}
	s.idx, s.keys = idx, keys
}

// checker explains the differences of one pair.
type checker struct {
	v      *Verifier
	A, B   *side
	senses int
	diffs  []Diff
	// unexplained hunks kept for the move rule.
	loose []hunk
}

type hunk struct {
	a0, a1, b0, b1 int // content ranges [a0,a1) in A, [b0,b1) in B
}

func (c *checker) add(cl Class, a, b string, ok bool) {
	c.diffs = append(c.diffs, Diff{Class: cl, A: a, B: b, OK: ok})
}

// walk goes through the alignment: matched tokens are checked for case and
// spacing; each run of unmatched tokens (a hunk) must be explained.
func (c *checker) walk(edits []edit) {
	prevA, prevB := -1, -1
	h := hunk{-1, -1, -1, -1}
	flush := func(ai, bi int) {
		if h.a0 < 0 {
			return
		}
		h.a1, h.b1 = ai, bi
		c.explainHunk(h)
		h = hunk{-1, -1, -1, -1}
	}
	for _, e := range edits {
		switch e.op {
		case '=':
			flush(e.i, e.j)
			c.matched(e.i, e.j, prevA, prevB)
			prevA, prevB = e.i, e.j
		default:
			if h.a0 < 0 {
				h.a0, h.b0 = e.i, e.j
			}
		}
	}
	flush(len(c.A.keys), len(c.B.keys))
	c.moves()
}

// matched checks two tokens with equal keys: their case and the spacing
// before them (when the previous tokens were matched to each other too).
func (c *checker) matched(i, j, prevA, prevB int) {
	ta, tb := c.A.tok(i), c.B.tok(j)
	if ta.raw != tb.raw {
		switch {
		case ta.exact || tb.exact:
			if ta.quoted || tb.quoted {
				c.add(Quoted, ta.raw, tb.raw, false)
			} else {
				c.add(Identifier, ta.raw, tb.raw, false)
			}
		case ta.kind == kWord && c.caseOK(ta, tb):
			c.add(Formatting, ta.raw, tb.raw, true)
		case ta.contracted || tb.contracted:
			c.add(Contraction, c.A.shown(ta), c.B.shown(tb), true)
		case !isASCII(ta.raw) || !isASCII(tb.raw):
			c.add(Unicode, ta.raw, tb.raw, false)
		default:
			c.add(CaseDiff, ta.raw, tb.raw, false)
		}
	}
	if ta.contracted != tb.contracted && ta.raw == tb.raw {
		c.add(Contraction, c.A.shown(ta), c.B.shown(tb), true)
	}
	c.spacing(i, j, prevA == i-1 && prevB == j-1)
}

// shown is a token as written: for one a contraction was expanded into,
// the contracted form ("'s", "n't").
func (s *side) shown(t *token) string {
	if !t.contracted {
		return t.raw
	}
	text := s.p.text
	if strings.HasPrefix(text[t.pos:], "n't") {
		return "n't"
	}
	i := t.pos
	for i < len(text) && text[i] != '\'' && !strings.HasPrefix(text[i:], "’") && i < t.pos+16 {
		i++
	}
	j := i + 1
	for j < len(text) && isLetterByte(text[j]) {
		j++
	}
	if i >= len(text) || j > len(text) {
		return t.raw
	}
	if strings.HasPrefix(text[i:], "’") {
		j = i + len("’")
		for j < len(text) && isLetterByte(text[j]) {
			j++
		}
	}
	return text[i:j]
}

// caseOK reports whether a case difference in prose words is formatting:
// each side's form is lower, Title or UPPER case, and either one of the
// prompts is typed all in lower or all in capitals, or the capital starts a
// sentence ("HF" and "Hf" mid-sentence are different words).
func (c *checker) caseOK(ta, tb *token) bool {
	if ta.key == "i" {
		return true
	}
	fa, fb := caseShape(ta.raw), caseShape(tb.raw)
	if fa == shapeMixed || fb == shapeMixed {
		return false
	}
	// A prompt typed all in lower or all in upper case carries no case
	// information: any prose case difference against it is formatting.
	if c.A.p.lowerOnly || c.A.p.upperOnly || c.B.p.lowerOnly || c.B.p.upperOnly {
		return true
	}
	// Otherwise only a capital that starts a sentence.
	return (fa == shapeLower || ta.start) && (fb == shapeLower || tb.start)
}

type shape uint8

const (
	shapeLower shape = iota
	shapeTitle
	shapeUpper
	shapeMixed
)

func caseShape(w string) shape {
	upper, lower := 0, 0
	firstUpper := false
	for i, r := range w {
		if unicode.IsUpper(r) {
			upper++
			if i == 0 {
				firstUpper = true
			}
		} else if unicode.IsLower(r) {
			lower++
		}
	}
	switch {
	case upper == 0:
		return shapeLower
	case lower == 0:
		return shapeUpper
	case upper == 1 && firstUpper:
		return shapeTitle
	}
	return shapeMixed
}

// gap returns the text between content token i-1 and i (punctuation and
// white space) and whether it holds punctuation.
func (s *side) gap(i int) (string, bool) {
	end := s.idx[i]
	start := 0
	if i > 0 {
		start = s.idx[i-1] + 1
	}
	if end == start {
		return s.p.toks[end].ws, false
	}
	var sb strings.Builder
	for k := start; k <= end; k++ {
		t := &s.p.toks[k]
		sb.WriteString(t.ws)
		if k < end {
			sb.WriteString(t.raw)
		}
	}
	return sb.String(), true
}

// sameGap reports, without building strings, whether the gaps before
// content tokens i of a and j of b are equal.
func sameGap(a *side, i int, b *side, j int) bool {
	sa, sb := 0, 0
	if i > 0 {
		sa = a.idx[i-1] + 1
	}
	if j > 0 {
		sb = b.idx[j-1] + 1
	}
	ea, eb := a.idx[i], b.idx[j]
	if ea-sa != eb-sb {
		return false
	}
	for k := 0; sa+k <= ea; k++ {
		x, y := &a.p.toks[sa+k], &b.p.toks[sb+k]
		if x.ws != y.ws || sa+k < ea && x.raw != y.raw {
			return false
		}
	}
	return true
}

// spacing checks the white space before matched tokens i (A) and j (B).
func (c *checker) spacing(i, j int, consecutive bool) {
	if sameGap(c.A, i, c.B, j) {
		return
	}
	ta, tb := c.A.tok(i), c.B.tok(j)
	ga, pa := c.A.gap(i)
	gb, pb := c.B.gap(j)
	if ga == gb {
		return
	}
	na, nb := strings.Count(ga, "\n"), strings.Count(gb, "\n")
	if na != nb || (na > 0 && indent(ga) != indent(gb)) {
		c.add(LineStructure, visibleWS(ga), visibleWS(gb), false)
		return
	}
	if !consecutive || i == 0 || j == 0 {
		return
	}
	qa, qb := c.A.tok(i-1), c.B.tok(j-1)
	// Inside code or quotes every space counts.
	if (ta.exact && qa.exact || tb.exact && qb.exact) && !pa && !pb {
		c.add(Whitespace, visibleWS(ga), visibleWS(gb), false)
		return
	}
	// Around a symbol, adjacency counts ("#Intro" vs "# Intro").
	if (ta.kind == kSym || qa.kind == kSym || tb.kind == kSym || qb.kind == kSym) && (ga == "") != (gb == "") {
		c.add(Whitespace, visibleWS(ga), visibleWS(gb), false)
		return
	}
	if (ga == "") != (gb == "") && !pa && !pb && ta.kind == kWord && qa.kind == kWord {
		// Two words joined in one prompt and apart in the other cannot
		// align as equal keys; kept for safety.
		c.add(Whitespace, visibleWS(ga), visibleWS(gb), false)
		return
	}
	if !pa && !pb {
		c.add(Formatting, visibleWS(ga), visibleWS(gb), true)
	}
}

func indent(g string) string { return g[strings.LastIndexByte(g, '\n')+1:] }

func visibleWS(s string) string {
	if s == "" {
		return "∅"
	}
	r := strings.NewReplacer("\n", "⏎", "\t", "⇥", " ", "·")
	return r.Replace(s)
}

// punctuation reports a difference in prose punctuation as formatting.
func (c *checker) punctuation() {
	if samePuncts(c.A.p, c.B.p) {
		return
	}
	c.add(Formatting, puncts(c.A.p), puncts(c.B.p), true)
}

// samePuncts compares the prose punctuation of two prompts without
// building strings.
func samePuncts(a, b *prompt) bool {
	i, j := 0, 0
	for {
		for i < len(a.toks) && a.toks[i].kind != kPunct {
			i++
		}
		for j < len(b.toks) && b.toks[j].kind != kPunct {
			j++
		}
		if i == len(a.toks) || j == len(b.toks) {
			return i == len(a.toks) && j == len(b.toks)
		}
		if a.toks[i].raw != b.toks[j].raw {
			return false
		}
		i++
		j++
	}
}

func puncts(p *prompt) string {
	var sb strings.Builder
	for i := range p.toks {
		if p.toks[i].kind == kPunct {
			sb.WriteString(p.toks[i].raw)
		}
	}
	return sb.String()
}

func (c *checker) verdict() Verdict {
	out := Verdict{OK: true, Rule: Explained}
	for _, d := range c.diffs {
		if !d.OK {
			out.OK = false
			out.Rule = d.Class
			break
		}
	}
	out.Diffs = append([]Diff(nil), c.diffs...)
	return out
}
