package semcache

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Rules of the content guard: the reason Guard.Check gives for a rejection.
const (
	GuardNumbers     = "numbers"
	GuardNegation    = "negation"
	GuardQuotes      = "quotes"
	GuardIdentifiers = "identifiers"
	GuardEntities    = "entities"
	GuardOrder       = "order"
	GuardScript      = "script"
)

// GuardOptions configures the content guard (the `cache.guard:` section).
// The verifier (package verify) decides semantic hits; the guard's
// hand-written rejection rules are an optional extra veto on verified
// candidates. The zero value means defaults: the guard off; enabled, every
// rule on.
type GuardOptions struct {
	// Enabled runs the guard on verified candidates. It adds no protection
	// the verifier lacks on the project's labelled pairs and costs hits
	// (its entity rule turns down a typo in a name). Default: false.
	Enabled bool `yaml:"enabled"`
	// Disabled turns the guard off even when Enabled. Default: false.
	Disabled bool `yaml:"disabled"`
	// IgnoreNumbers turns off the numbers rule (digits, decimals, number
	// words, ordinals). Default: false.
	IgnoreNumbers bool `yaml:"ignore_numbers"`
	// IgnoreNegation turns off the negation rule (negation words and
	// antonym pairs such as enable/disable). Default: false.
	IgnoreNegation bool `yaml:"ignore_negation"`
	// IgnoreQuotes turns off the quotes rule ("...", '...', `...`).
	// Default: false.
	IgnoreQuotes bool `yaml:"ignore_quotes"`
	// IgnoreIdentifiers turns off the identifiers rule (snake_case,
	// camelCase, dotted.names, paths, --flags, words with digits, code
	// symbols, backticked text). Default: false.
	IgnoreIdentifiers bool `yaml:"ignore_identifiers"`
	// IgnoreEntities turns off the named-entities rule (capitalised words
	// and acronyms). Default: false.
	IgnoreEntities bool `yaml:"ignore_entities"`
	// IgnoreOrder turns off the order rule (operands swapped around to,
	// from, into, vs, than; spans of words exchanged around the same
	// words). Default: false.
	IgnoreOrder bool `yaml:"ignore_order"`
	// IgnoreScript turns off the script rule (words written in a script
	// other than Latin must be the same in both prompts). Turn it off only
	// with a multilingual embedder: the built-in ones read English, and
	// use-lite-en sees any run of Chinese, Japanese, Korean, Cyrillic...
	// as one unknown token, so such prompts differing only there embed
	// identically. Default: false.
	IgnoreScript bool `yaml:"ignore_script"`
}

// Validate reports every problem at once. Every combination of switches
// is valid.
func (o GuardOptions) Validate() error { return nil }

// Guard is the content guard: a cheap check, run on every semantic
// candidate, that turns down near-duplicates which differ in a way an
// embedding under-weights (a number, a negation, a name). It is safe for
// concurrent use.
type Guard struct {
	o GuardOptions
}

// NewGuard returns a guard with options o.
func NewGuard(o GuardOptions) *Guard { return &Guard{o: o} }

// Check reports whether a cached prompt may answer an incoming prompt that
// is semantically near it. reason names the rule that rejected (one of the
// Guard* constants), empty when allowed. Pass the prompts as sent
// (Key.Prompt, not Key.Normalized): the entities rule needs their
// capitalisation. Check is symmetric, and prompts whose Normalize forms are
// equal are allowed. A nil Guard checks with default options.
//
// Each rule extracts features from both prompts and rejects when they
// differ:
//
//   - numbers: digit sequences with their decimals and sign, number words
//     (one..twenty, thirty..ninety, hundred, thousand, million...), ordinals
//     ("5th", "fifth"); "top 5" vs "top 10", "python 3.11" vs "3.12";
//   - negation: negation words (not, no, never, without, n't...); antonym
//     pairs mentioned by both prompts on different sides (enable/disable,
//     ascending/descending, add/remove...); a word in one prompt whose
//     un-/dis-/in-/non-/de- form is in the other;
//   - quotes: the texts in "...", '...' and `...` (a run of quote marks,
//     ""...""), each of which must occur in the other prompt, quoted or
//     not;
//   - identifiers: snake_case, camelCase, dotted.names, paths, --flags,
//     words with digits ("2FA", "python3"), code symbols ("C++", "a->b"),
//     backticked text;
//   - entities: capitalised words not at a sentence start and acronyms
//     (Python, AWS, Paris), compared case-insensitively: each must occur,
//     in any case, in the other prompt;
//   - script: words with letters of a script other than Latin (東京,
//     Привет, 심하잖아), compared exactly: English embedders cannot tell
//     them apart;
//   - order: the words after to/into/from, vs and than swapped between the
//     prompts ("miles to km" vs "km to miles", "Python faster than Java"
//     vs "Java faster than Python"), or two spans of words exchanged around
//     the same words ("are cats afraid of tigers" vs "are tigers afraid of
//     cats", "do Indian women like Pakistani men" vs "do Pakistani women
//     like Indian men"); an exchange around "and" or "or" ("science
//     and religion") or of two adjacent spans (a clause moved: "in Go, how
//     do I…" vs "how do I… in Go") is allowed.
func (g *Guard) Check(cached, incoming string) (ok bool, reason string) {
	var o GuardOptions
	if g != nil {
		o = g.o
	}
	if o.Disabled || cached == incoming {
		return true, ""
	}
	fp := gdPool.Get().(*gdPair)
	defer gdPool.Put(fp)
	a, b := &fp.a, &fp.b
	a.extract(cached)
	b.extract(incoming)
	defer a.reset()
	defer b.reset()
	if !o.IgnoreNumbers && !gdSameMultiset(a.nums, b.nums) {
		return false, GuardNumbers
	}
	if !o.IgnoreNegation && !gdSameNegation(a, b) {
		return false, GuardNegation
	}
	if !o.IgnoreQuotes && !(gdQuotedIn(a.quotes, b.lower) && gdQuotedIn(b.quotes, a.lower)) {
		return false, GuardQuotes
	}
	if !o.IgnoreIdentifiers && !gdSameIdentifiers(a, b) {
		return false, GuardIdentifiers
	}
	if !o.IgnoreEntities && !(gdAllIn(a.ents, b.wordSet) && gdAllIn(b.ents, a.wordSet)) {
		return false, GuardEntities
	}
	if !o.IgnoreOrder && (gdSwapped(a, b) || gdExchanged(a.seq, b.seq)) {
		return false, GuardOrder
	}
	if !o.IgnoreScript && !gdSameMultiset(a.foreign, b.foreign) {
		return false, GuardScript
	}
	return true, ""
}

type gdPair struct{ a, b gdFeatures }

var gdPool = sync.Pool{New: func() any { return new(gdPair) }}

// gdWord is one word of a prompt: a run of letters, digits and marks with
// inner apostrophes, lower-cased.
type gdWord struct {
	s         string
	sentStart bool // first word of a sentence
}

// gdDir is a word that follows a direction word of group g.
type gdDir struct {
	g byte
	w string
}

// gdFeatures are what the rules compare, extracted from one prompt. All
// strings are substrings of lower (or static), so extraction allocates at
// most the lower-cased copy.
type gdFeatures struct {
	src, lower string
	words      []gdWord
	wordSet    []string // sorted, unique
	nums       []string
	negs       []string
	ants       []uint16 // pair<<1 | side
	quotes     []string
	idents     []string
	tokens     []string // white-space separated tokens, trimmed; sorted
	ents       []string
	dirs       []gdDir
	seq        []string // the words in order, articles left out
	foreign    []string // words with a letter of a script other than Latin; sorted
}

func (f *gdFeatures) reset() {
	// Clear before truncating so that a pooled value holds no prompt.
	f.src, f.lower = "", ""
	clear(f.words)
	clear(f.wordSet)
	clear(f.nums)
	clear(f.negs)
	clear(f.quotes)
	clear(f.idents)
	clear(f.tokens)
	clear(f.ents)
	clear(f.dirs)
	clear(f.seq)
	clear(f.foreign)
	f.words, f.wordSet, f.nums, f.negs = f.words[:0], f.wordSet[:0], f.nums[:0], f.negs[:0]
	f.quotes, f.idents, f.tokens, f.ents = f.quotes[:0], f.idents[:0], f.tokens[:0], f.ents[:0]
	f.ants, f.dirs, f.seq, f.foreign = f.ants[:0], f.dirs[:0], f.seq[:0], f.foreign[:0]
}

// gdLower lower-cases s keeping every byte offset (a rune whose lower case
// has another length is kept as is).
func gdLower(s string) string {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf && (s[i] < 'A' || s[i] > 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s))
	sb.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			sb.WriteByte(c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if l := unicode.ToLower(r); l != r && utf8.RuneLen(l) == size {
			sb.WriteRune(l)
		} else {
			sb.WriteString(s[i : i+size])
		}
		i += size
	}
	return sb.String()
}

func gdIsWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r)
}

func gdIsDigit(c byte) bool { return '0' <= c && c <= '9' }

// gdWordBefore reports whether the rune ending at s[:i] is a letter, digit
// or mark ("x5", "é5"), not a symbol ("₹15,000", "€5").
func gdWordBefore(s string, i int) bool {
	if c := s[i-1]; c < utf8.RuneSelf {
		return gdIsAlnumByte(c)
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return gdIsWordRune(r)
}

// gdForeign reports whether the word w has a letter of a script other
// than Latin.
func gdForeign(w string) bool {
	for _, r := range w {
		if r >= 0x250 && unicode.IsLetter(r) && !unicode.Is(unicode.Latin, r) {
			return true
		}
	}
	return false
}

func gdIsAlnumByte(c byte) bool {
	return gdIsDigit(c) || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || c >= utf8.RuneSelf
}

func (f *gdFeatures) extract(prompt string) {
	src := strings.ToValidUTF8(prompt, "\uFFFD")
	if !normASCII(src) {
		src = norm.NFKC.String(strings.Map(normMapRune, src))
	} else {
		src = strings.Map(normMapRune, src) // control characters
	}
	f.src = src
	f.lower = gdLower(f.src)
	f.scanWords()
	f.scanNumbers()
	f.scanQuotes()
	f.scanTokens()
	f.wordSet = f.wordSet[:0]
	for _, w := range f.words {
		f.wordSet = append(f.wordSet, w.s)
		if w.s != "the" && w.s != "a" && w.s != "an" {
			f.seq = append(f.seq, w.s)
		}
	}
	slices.Sort(f.wordSet)
	f.wordSet = slices.Compact(f.wordSet)
	slices.Sort(f.nums)
	slices.Sort(f.negs)
	slices.Sort(f.quotes)
	slices.Sort(f.idents)
	slices.Sort(f.tokens)
	slices.Sort(f.foreign)
}

// scanWords splits the prompt into words and extracts the word-level
// features: number words, negations, antonyms, entities, direction objects.
func (f *gdFeatures) scanWords() {
	src, low := f.src, f.lower
	sentStart := true
	for i := 0; i < len(src); {
		r, size := rune(src[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(src[i:])
		}
		if !gdIsWordRune(r) {
			switch r {
			case '.', '!', '?', ':', ';', '\n':
				// A sentence ends at these when followed by space or the
				// end ("3.5", "node.js" and "a:b" do not end one).
				if i+size >= len(src) || src[i+size] == ' ' || src[i+size] == '\n' || src[i+size] == '\t' || r == '\n' {
					sentStart = true
				}
			}
			i += size
			continue
		}
		j := i + size
		for j < len(src) {
			r, size := rune(src[j]), 1
			if r >= utf8.RuneSelf {
				r, size = utf8.DecodeRuneInString(src[j:])
			}
			if gdIsWordRune(r) {
				j += size
				continue
			}
			if r == '\'' && j+1 < len(src) {
				if r2, _ := utf8.DecodeRuneInString(src[j+1:]); gdIsWordRune(r2) {
					j += 1
					continue
				}
			}
			break
		}
		w := gdWord{s: low[i:j], sentStart: sentStart}
		if gdForeign(w.s) {
			f.foreign = append(f.foreign, w.s)
		}
		if f.isEntity(src[i:j], w) {
			f.ents = append(f.ents, w.s)
		}
		f.words = append(f.words, w)
		sentStart = false
		i = j
	}
	var pendingDir byte
	for _, w := range f.words {
		s := w.s
		e, ok := gdLexicon[s]
		if !ok {
			if strings.HasSuffix(s, "n't") {
				f.negs = append(f.negs, "not")
			}
			if pendingDir != 0 {
				f.dirs = append(f.dirs, gdDir{pendingDir, s})
				pendingDir = 0
			}
			continue
		}
		if e.num != "" {
			f.nums = append(f.nums, e.num)
		}
		if e.neg != "" {
			f.negs = append(f.negs, e.neg)
		} else if strings.HasSuffix(s, "n't") {
			f.negs = append(f.negs, "not")
		}
		if e.ant != 0 {
			f.ants = append(f.ants, e.ant-1)
		}
		if e.dir != 0 {
			pendingDir = e.dir
			continue
		}
		if pendingDir != 0 && !e.det {
			f.dirs = append(f.dirs, gdDir{pendingDir, s})
			pendingDir = 0
		}
	}
}

// gdLexEntry is what the word rules know about a word.
type gdLexEntry struct {
	num    string // number or ordinal it denotes
	neg    string // negation it is
	ant    uint16 // 1 + pair<<1 | side, for an antonym; 0 for none
	dir    byte   // direction group
	det    bool   // a determiner (skipped after a direction word)
	common bool   // a common sentence opener
}

// gdLexicon merges the word tables so that each word is looked up once.
var gdLexicon = func() map[string]gdLexEntry {
	m := map[string]gdLexEntry{}
	upd := func(w string, f func(*gdLexEntry)) {
		e := m[w]
		f(&e)
		m[w] = e
	}
	for w, n := range gdNumberWords {
		upd(w, func(e *gdLexEntry) { e.num = n })
	}
	for w, n := range gdNegations {
		upd(w, func(e *gdLexEntry) { e.neg = n })
	}
	for w, a := range gdAntonyms {
		upd(w, func(e *gdLexEntry) { e.ant = a + 1 })
	}
	for w, d := range gdDirections {
		upd(w, func(e *gdLexEntry) { e.dir = d })
	}
	for w := range gdDeterminers {
		upd(w, func(e *gdLexEntry) { e.det = true })
	}
	for w := range gdCommonWords {
		upd(w, func(e *gdLexEntry) { e.common = true })
	}
	return m
}()

// isEntity reports whether the word raw (original case) names an entity:
// an acronym (two or more letters, all capitals), a word with a capital
// after its first letter (GitHub, iPhone), or a capitalised word that does
// not start a sentence. "I" and its contractions, and "OK", are not.
func (f *gdFeatures) isEntity(raw string, w gdWord) bool {
	first, _ := utf8.DecodeRuneInString(raw)
	letters, uppers, innerUpper := 0, 0, false
	for k, r := range raw {
		if unicode.IsLetter(r) {
			letters++
			if unicode.IsUpper(r) {
				uppers++
				if k > 0 {
					innerUpper = true
				}
			}
		}
	}
	if uppers == 0 {
		return false
	}
	switch w.s {
	case "i", "i'm", "i've", "i'll", "i'd", "ok":
		return false
	}
	if letters >= 2 && uppers == letters {
		return true
	}
	if innerUpper && uppers < letters {
		return true
	}
	if !unicode.IsUpper(first) {
		return false
	}
	// At a sentence start a capital means nothing by itself; a word that is
	// not a common sentence opener ("Python is...", "Paris has...") is
	// still taken for a name.
	return !w.sentStart || !gdLexicon[w.s].common
}

// gdCommonWords are words that commonly open a sentence: a capital on them
// at a sentence start does not make them a name.
var gdCommonWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`
		a about above according actually after again against all also although always am an and another any anyone
		anything are as at be because been before being below best better between both but by can could did do
		does doing done during each either else even ever every everyone everything few for from further
		given good had has have having he her here hers herself him himself his how however i if in instead into
		is it its itself just least less let like many may maybe me might mine more most much must my myself
		never new next no nor not now of off often old on once one only or other others otherwise our ours
		ourselves out over own perhaps please rather really same several she should since so some someone
		something sometimes still such than that the their theirs them themselves then there therefore these
		they this those though through thus to too top under unless until up upon us very was we well were
		what whatever when whenever where whereas wherever whether which while who whoever whom whose why will
		with within without would yes yet you your yours yourself yourselves
		hi hello hey dear thanks thank ok okay sure so now today tomorrow yesterday currently recently
		first second third last finally firstly secondly lastly also additionally basically generally
		usually typically honestly seriously assume assuming suppose imagine consider given say
		add analyze analyse answer apply ask build calculate change check choose classify compare compute
		continue convert correct count create debug define delete describe design determine develop do draft
		edit estimate evaluate explain extract fill find fix format generate get give go help identify
		implement improve include keep know learn list look make name need note optimize outline paraphrase
		pick plan predict prepare prove provide put read recommend refactor remember remove rephrase replace
		respond return review rewrite run say see select send set show simplify solve sort start stop suggest
		summarize summarise take teach tell test think translate try turn update use verify want write
		question answer task context example input output note summary problem`) {
		m[w] = true
	}
	return m
}()

// scanNumbers extracts numbers: digit runs that are not part of a word
// (not "python3", "x86", "2fa"), with thousands separators dropped,
// decimals and dotted versions kept, a sign kept when "-" stands before
// the digits, and ordinals ("5th") as "#5".
func (f *gdFeatures) scanNumbers() {
	s := f.lower
	for i := 0; i < len(s); i++ {
		if !gdIsDigit(s[i]) || (i > 0 && (s[i-1] == '_' || gdWordBefore(s, i))) {
			continue
		}
		start := i
		clean := true // no thousands separator to drop
		for i < len(s) {
			if gdIsDigit(s[i]) {
				i++
				continue
			}
			if s[i] == '.' && i+1 < len(s) && gdIsDigit(s[i+1]) {
				i++
				continue
			}
			if s[i] == ',' && i+3 < len(s) && gdIsDigit(s[i+1]) && gdIsDigit(s[i+2]) && gdIsDigit(s[i+3]) &&
				(i+4 == len(s) || !gdIsDigit(s[i+4])) {
				clean = false
				i++
				continue
			}
			break
		}
		num := s[start:i]
		if i < len(s) && (gdIsAlnumByte(s[i]) || s[i] == '_') {
			// Digits run into letters: an ordinal, or part of an
			// identifier (which the identifiers rule compares).
			j := i
			for j < len(s) && gdIsAlnumByte(s[j]) {
				j++
			}
			switch s[i:j] {
			case "st", "nd", "rd", "th":
				f.nums = append(f.nums, "#"+num)
			}
			i = j
			continue
		}
		if !clean {
			num = strings.ReplaceAll(num, ",", "")
		}
		if start > 0 && (s[start-1] == '-' || s[start-1] == '.') && (start == 1 || !gdIsAlnumByte(s[start-2])) {
			// A sign or a leading decimal point: "-5", ".5".
			num = s[start-1 : i]
			if !clean {
				num = strings.ReplaceAll(num, ",", "")
			}
		}
		f.nums = append(f.nums, num)
	}
}

// scanQuotes extracts the texts in "...", `...` (and ```...``` fences) and
// '...' (an apostrophe inside or at the end of a word is not a quote).
func (f *gdFeatures) scanQuotes() {
	s := f.lower
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '`':
			open := string(c)
			if c == '`' && strings.HasPrefix(s[i:], "```") {
				open = "```"
			} else if c == '"' {
				// A run of quotes opens and closes as one: ""text"".
				n := 1
				for i+n < len(s) && s[i+n] == '"' {
					n++
				}
				open = s[i : i+n]
			}
			end := strings.Index(s[i+len(open):], open)
			if end < 0 {
				continue
			}
			q := strings.TrimSpace(s[i+len(open) : i+len(open)+end])
			if q != "" {
				f.quotes = append(f.quotes, q)
				if c == '`' {
					f.idents = append(f.idents, q)
				}
			}
			i += len(open) + end + len(open) - 1
		case '\'':
			if i > 0 && gdIsAlnumByte(s[i-1]) {
				continue // an apostrophe
			}
			for j := i + 1; j < len(s); j++ {
				if s[j] == '\n' {
					break
				}
				if s[j] == '\'' && s[j-1] != ' ' && (j+1 == len(s) || !gdIsAlnumByte(s[j+1])) {
					if q := strings.TrimSpace(s[i+1 : j]); q != "" {
						f.quotes = append(f.quotes, q)
					}
					i = j
					break
				}
			}
		}
	}
}

// scanTokens extracts identifiers from the white-space separated tokens.
func (f *gdFeatures) scanTokens() {
	src, low := f.src, f.lower
	for i := 0; i < len(src); {
		for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
			i++
		}
		j := i
		for j < len(src) && src[j] != ' ' && src[j] != '\t' && src[j] != '\n' && src[j] != '\r' {
			j++
		}
		a, b := i, j
		for a < b && strings.IndexByte("\"'`([{<", src[a]) >= 0 {
			a++
		}
		for b > a && strings.IndexByte("\"'`)]}>.,;:!?", src[b-1]) >= 0 {
			b--
		}
		if a < b {
			f.tokens = append(f.tokens, low[a:b])
			if gdIsIdentifier(src[a:b]) {
				f.idents = append(f.idents, low[a:b])
			}
		}
		i = j
	}
}

// gdIsIdentifier reports whether a token looks like code rather than
// prose: camelCase, letters with digits, a --flag, code symbols, a path or
// URL, a dotted.name, or an operator standing alone.
func gdIsIdentifier(t string) bool {
	letters, digits, slashes := 0, 0, 0
	camel, special, dot, colon, prevLower := false, false, false, false, false
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case 'a' <= c && c <= 'z':
			letters++
			prevLower = true
			continue
		case 'A' <= c && c <= 'Z':
			letters++
			camel = camel || prevLower
		case '0' <= c && c <= '9':
			digits++
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(t[i:])
			i += size - 1
			switch {
			case unicode.IsLower(r):
				letters++
				prevLower = true
				continue
			case unicode.IsLetter(r):
				letters++
				camel = camel || (prevLower && unicode.IsUpper(r))
			case unicode.IsDigit(r):
				digits++
			}
		default:
			switch c {
			case '_', '\\', '+', '#', '@', '$', '%', '&', '*', '=', '<', '>', '|', '~', '^':
				special = true
			case '/':
				slashes++
			case '.':
				dot = true
			case ':':
				special = special || colon // "::"
				colon = true
			case '(':
				special = special || (i+1 < len(t) && t[i+1] == ')')
			}
		}
		prevLower = false
	}
	switch {
	case camel:
		return true
	case letters > 0 && digits > 0:
		// Ordinals ("21st") are numbers, not identifiers.
		if n := len(t); n >= 3 && letters == 2 && strings.Trim(t[:n-2], "0123456789") == "" {
			switch t[n-2:] {
			case "st", "nd", "rd", "th", "ST", "ND", "RD", "TH":
				return false
			}
		}
		return true
	case len(t) > 1 && t[0] == '-' && (t[1] == '-' || letters > 0 && unicode.IsLetter(rune(t[1]))):
		return true // a flag
	case letters+digits == 0:
		// An operator standing alone: "x != y", "a < b", "a + b"; "&" and
		// "/" alone are prose ("A & B", "this / that").
		return strings.Trim(t, "=<>!&|+-*/%^~") == "" && strings.Trim(t, "-") != "" && t != "!" && t != "&" && t != "/"
	case special:
		return true
	case slashes > 0 && (slashes > 1 || t[0] == '/' || strings.HasPrefix(t, "./") || strings.HasPrefix(t, "~/") || dot || colon):
		// Paths and URLs, but not prose alternatives ("and/or").
		return true
	case dot && letters > 0:
		// dotted.names, but not abbreviations such as "e.g" or "U.S".
		seg := 0
		for _, r := range t {
			if r == '.' {
				seg = 0
				continue
			}
			if seg++; seg > 1 {
				return true
			}
		}
	}
	return false
}

func gdSameMultiset(a, b []string) bool { return slices.Equal(a, b) }

// gdSameIdentifiers compares the identifier multisets, forgiving an
// identifier found only by its capitals ("WhatsApp", "userName") when the
// other prompt has the same token in another case.
func gdSameIdentifiers(a, b *gdFeatures) bool {
	if slices.Equal(a.idents, b.idents) {
		return true
	}
	i, j := 0, 0
	for i < len(a.idents) || j < len(b.idents) {
		switch {
		case j == len(b.idents) || (i < len(a.idents) && a.idents[i] < b.idents[j]):
			if _, ok := slices.BinarySearch(b.tokens, a.idents[i]); !ok {
				return false
			}
			i++
		case i == len(a.idents) || b.idents[j] < a.idents[i]:
			if _, ok := slices.BinarySearch(a.tokens, b.idents[j]); !ok {
				return false
			}
			j++
		default:
			i++
			j++
		}
	}
	return true
}

// gdQuotedIn reports whether every quoted text of qs occurs in the other
// prompt's lower-cased text, quoted or not (`"real love"` against `real
// love`), on word boundaries.
func gdQuotedIn(qs []string, lower string) bool {
	for _, q := range qs {
		if !gdContainsWord(lower, q) {
			return false
		}
	}
	return true
}

// gdContainsWord reports whether s contains w not preceded or followed by
// a word rune.
func gdContainsWord(s, w string) bool {
	for off := 0; ; {
		i := strings.Index(s[off:], w)
		if i < 0 {
			return false
		}
		i += off
		j := i + len(w)
		before := i > 0 && gdWordBefore(s, i)
		after := false
		if j < len(s) {
			r, _ := utf8.DecodeRuneInString(s[j:])
			after = gdIsWordRune(r)
		}
		if !before && !after {
			return true
		}
		off = i + 1
	}
}

// gdAllIn reports whether every string of xs is in the sorted set.
func gdAllIn(xs, set []string) bool {
	for _, x := range xs {
		if _, ok := slices.BinarySearch(set, x); !ok {
			return false
		}
	}
	return true
}

// gdSameNegation compares negation words, antonym pairs and un-/dis-
// prefixed forms.
func gdSameNegation(a, b *gdFeatures) bool {
	if !slices.Equal(a.negs, b.negs) {
		return false
	}
	// An antonym pair mentioned by both prompts must be mentioned on the
	// same sides.
	for _, x := range a.ants {
		if gdAntMask(a.ants, x>>1) != gdAntMask(b.ants, x>>1) && gdAntMask(b.ants, x>>1) != 0 {
			return false
		}
	}
	// A word in one prompt whose prefixed opposite is in the other only.
	for _, w := range a.wordSet {
		if gdPrefixedIn(w, b.wordSet, a.wordSet) {
			return false
		}
	}
	for _, w := range b.wordSet {
		if gdPrefixedIn(w, a.wordSet, b.wordSet) {
			return false
		}
	}
	return true
}

func gdAntMask(ants []uint16, pair uint16) uint8 {
	var m uint8
	for _, x := range ants {
		if x>>1 == pair {
			m |= 1 << (x & 1)
		}
	}
	return m
}

// gdNegPrefixes are prefixes that negate a word, with the shortest stem
// they are recognised on.
var gdNegPrefixes = [...]struct {
	p    string
	stem int
}{{"un", 3}, {"dis", 3}, {"non", 3}, {"in", 4}, {"im", 4}, {"il", 4}, {"ir", 4}, {"de", 4}}

// gdPrefixedIn reports whether w is a prefixed form ("unlock") whose stem
// ("lock") is in other but not in own, while w is not in other.
func gdPrefixedIn(w string, other, own []string) bool {
	for _, np := range gdNegPrefixes {
		if len(w) < len(np.p)+np.stem || !strings.HasPrefix(w, np.p) {
			continue
		}
		stem := w[len(np.p):]
		if _, ok := slices.BinarySearch(other, stem); !ok {
			continue
		}
		if _, ok := slices.BinarySearch(own, stem); ok {
			continue
		}
		if _, ok := slices.BinarySearch(other, w); ok {
			continue
		}
		return true
	}
	return false
}

// gdSwapped reports operands swapped around a direction word: for a group
// (to, from, vs, than) present in both prompts, a word follows it in one
// prompt only but occurs elsewhere in the other, and the other way round.
func gdSwapped(a, b *gdFeatures) bool {
	for _, g := range [...]byte{'t', 'f', 'v', 'c'} {
		if !gdHasDir(a.dirs, g) || !gdHasDir(b.dirs, g) {
			continue
		}
		if gdMoved(a.dirs, b.dirs, g, b.wordSet) && gdMoved(b.dirs, a.dirs, g, a.wordSet) {
			return true
		}
	}
	return false
}

// gdMaxExchange bounds the differing middle gdExchanged examines, in words:
// the search is cubic in it.
const gdMaxExchange = 48

// gdExchanged reports whether y is x with two spans of words exchanged
// around a non-empty run of words that is not a coordination: x = P u M v
// S and y = P v M u S, u and v non-empty and different, M not empty and
// without "and", "or" or "nor".
func gdExchanged(x, y []string) bool {
	if len(x) != len(y) {
		return false
	}
	p := 0
	for p < len(x) && x[p] == y[p] {
		p++
	}
	if p == len(x) {
		return false
	}
	s := 0
	for x[len(x)-1-s] == y[len(y)-1-s] {
		s++
	}
	x, y = x[p:len(x)-s], y[p:len(y)-s]
	n := len(x)
	if n < 3 || n > gdMaxExchange {
		return false
	}
	for i := 1; i < n-1; i++ { // u = x[:i]
		if !slices.Equal(x[:i], y[n-i:]) {
			continue
		}
		for j := 1; i+j < n; j++ { // v = x[n-j:], M = x[i:n-j]
			if slices.Equal(x[n-j:], y[:j]) && slices.Equal(x[i:n-j], y[j:n-i]) {
				return !gdCoordinated(x[i : n-j])
			}
		}
	}
	return false
}

// gdCoordinated reports whether a run of words holds a coordinating
// conjunction, around which an exchange keeps the meaning.
func gdCoordinated(m []string) bool {
	for _, w := range m {
		switch w {
		case "and", "or", "nor":
			return true
		}
	}
	return false
}

func gdHasDir(ds []gdDir, g byte) bool {
	for _, d := range ds {
		if d.g == g {
			return true
		}
	}
	return false
}

// gdMoved reports a word after g in x that is not after g in y but is a
// word of y.
func gdMoved(x, y []gdDir, g byte, yWords []string) bool {
	for _, d := range x {
		if d.g != g || slices.Contains(y, d) {
			continue
		}
		if _, ok := slices.BinarySearch(yWords, d.w); ok {
			return true
		}
	}
	return false
}

// gdDirections maps direction words to their group.
var gdDirections = map[string]byte{
	"to": 't', "into": 't', "onto": 't', "toward": 't', "towards": 't',
	"from": 'f',
	"vs":   'v', "versus": 'v',
	"than": 'c',
}

// gdDeterminers are skipped when looking for the word a direction word
// governs.
var gdDeterminers = map[string]bool{
	"the": true, "a": true, "an": true, "my": true, "your": true, "our": true,
	"their": true, "his": true, "her": true, "its": true, "this": true,
	"that": true, "these": true, "those": true, "some": true, "any": true,
}

// gdNegations maps negation words to what is compared.
var gdNegations = func() map[string]string {
	m := map[string]string{
		"not": "not", "cannot": "not", "no": "no", "never": "never",
		"without": "without", "none": "none", "nothing": "nothing",
		"nobody": "nobody", "neither": "neither", "nor": "nor", "non": "non",
		"nowhere": "nowhere",
	}
	for _, w := range strings.Fields("dont doesnt didnt isnt arent wasnt werent cant couldnt wont wouldnt shouldnt hasnt havent hadnt aint mustnt neednt") {
		m[w] = "not"
	}
	return m
}()

// gdNumberWords maps number words and ordinals to what is compared.
var gdNumberWords = func() map[string]string {
	m := map[string]string{}
	card := strings.Fields("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty")
	ord := strings.Fields("zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth")
	for i, w := range card {
		m[w] = strconv.Itoa(i)
		m[ord[i]] = "#" + strconv.Itoa(i)
	}
	tens := strings.Fields("thirty forty fifty sixty seventy eighty ninety")
	tensOrd := strings.Fields("thirtieth fortieth fiftieth sixtieth seventieth eightieth ninetieth")
	for i, w := range tens {
		m[w] = strconv.Itoa(30 + 10*i)
		m[tensOrd[i]] = "#" + strconv.Itoa(30+10*i)
	}
	for w, n := range map[string]string{"hundred": "100", "thousand": "1000", "million": "1000000",
		"billion": "1000000000", "trillion": "1000000000000", "dozen": "12"} {
		m[w] = n
		m[w+"s"] = n + "s"
		m[w+"th"] = "#" + n
	}
	// "one" is far more often a pronoun ("which one", "one of", "one
	// should") than a count; a count spelt "one" against another number
	// still differs, as the other side has a number.
	delete(m, "one")
	return m
}()

// gdAntonyms maps each form of the words of an antonym pair to
// pair<<1 | side.
var gdAntonyms = func() map[string]uint16 {
	pairs := [][2]string{
		{"enable enables enabled enabling", "disable disables disabled disabling"},
		{"allow allows allowed allowing permit permits permitted", "deny denies denied denying disallow disallows disallowed disallowing forbid forbids forbidden block blocks blocked blocking"},
		{"increase increases increased increasing", "decrease decreases decreased decreasing reduce reduces reduced reducing"},
		{"add adds added adding", "remove removes removed removing delete deletes deleted deleting"},
		{"encrypt encrypts encrypted encrypting encryption", "decrypt decrypts decrypted decrypting decryption"},
		{"lock locks locked locking", "unlock unlocks unlocked unlocking"},
		{"show shows showed shown showing", "hide hides hid hidden hiding"},
		{"start starts started starting", "stop stops stopped stopping"},
		{"before", "after"},
		{"min minimum minimal minimize minimise minimum", "max maximum maximal maximize maximise"},
		{"above", "below"},
		{"more", "less fewer"},
		{"include includes included including inclusive", "exclude excludes excluded excluding exclusive"},
		{"import imports imported importing", "export exports exported exporting"},
		{"upload uploads uploaded uploading", "download downloads downloaded downloading"},
		{"push pushes pushed pushing", "pull pulls pulled pulling"},
		{"true", "false"},
		{"on", "off"},
		{"ascending asc", "descending desc"},
		{"encode encodes encoded encoding", "decode decodes decoded decoding"},
		{"compress compresses compressed compressing compression", "decompress decompresses decompressed decompressing decompression"},
		{"connect connects connected connecting", "disconnect disconnects disconnected disconnecting"},
		{"install installs installed installing", "uninstall uninstalls uninstalled uninstalling"},
		{"open opens opened opening", "close closes closed closing"},
		{"input inputs", "output outputs"},
		{"buy buys bought buying", "sell sells sold selling"},
		{"upper uppercase", "lower lowercase"},
		{"left", "right"},
		{"inner", "outer"},
		{"higher highest", "lower lowest"},
		{"bigger biggest larger largest", "smaller smallest"},
		{"faster fastest", "slower slowest"},
		{"best", "worst"},
		{"positive", "negative"},
		{"read reads reading", "write writes wrote written writing"},
		{"send sends sent sending", "receive receives received receiving"},
		{"first", "last"},
		{"advantages advantage pros", "disadvantages disadvantage cons"},
		{"up", "down"},
		{"in", "out"},
		{"with", "without"},
		{"long longer longest", "short shorter shortest"},
		{"cheap cheaper cheapest", "expensive costly"},
		{"most", "least"},
		{"early earlier earliest", "late later latest"},
		{"hot hotter hottest", "cold colder coldest"},
		{"strong stronger strongest", "weak weaker weakest"},
		{"rich richer richest", "poor poorer poorest"},
		{"win wins won winning", "lose loses lost losing"},
		{"love loves loved", "hate hates hated"},
		{"male males", "female females"},
		{"man men", "woman women"},
		{"husband husbands", "wife wives"},
		{"boyfriend boyfriends", "girlfriend girlfriends"},
		{"north northern", "south southern"},
		{"east eastern", "west western"},
		{"beginner beginners", "advanced expert experts"},
		{"success successful", "failure"},
		{"past", "future"},
		{"liberal liberals", "conservative conservatives"},
		{"democrat democrats", "republican republicans"},
		{"theist theists", "atheist atheists"},
		{"employee employees", "employer employers"},
		{"student students", "teacher teachers"},
	}
	m := map[string]uint16{}
	for i, p := range pairs {
		for side, forms := range p {
			for _, w := range strings.Fields(forms) {
				if _, dup := m[w]; !dup {
					m[w] = uint16(i)<<1 | uint16(side)
				}
			}
		}
	}
	return m
}()
