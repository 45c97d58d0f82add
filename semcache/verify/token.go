package verify

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// kind is a token's class.
type kind uint8

const (
	kWord  kind = iota // letters, with apostrophes or hyphens inside
	kNum               // digits, with . , : / between digits and an ordinal suffix
	kSym               // any other visible character, one per token
	kPunct             // sentence punctuation outside code and quotes: . , ; : ! ? … and dashes
)

// wsKind is the white space before a token.
type wsKind uint8

const (
	wsNone  wsKind = iota // adjacent
	wsSpace               // spaces or tabs
	wsLine                // one line break (and any spaces)
	wsPara                // two or more line breaks
)

// token is one unit of a prompt.
type token struct {
	raw string // as written (for words from a contraction, the expansion)
	key string // alignment key: the lowercase form of words, raw otherwise
	ws  string // the white space before it, as written
	// exact: inside code (backticks), a quoted span, or a code-like chunk
	// (an identifier, a path, a regular expression...): case, spacing and
	// every character count.
	exact bool
	// quoted: inside quotes or backticks.
	quoted bool
	// start: the first word of a sentence.
	start bool
	// contracted: produced by expanding a contraction ("don't" → do not).
	contracted bool
	kind       kind
	wsk        wsKind
	pos        int // byte offset in the prompt
}

// prompt is a tokenized prompt.
type prompt struct {
	text string
	toks []token // every token, punctuation included
	// lowerOnly: no upper-case letter in prose (the prompt was typed in
	// lower case); upperOnly: no lower-case letter in prose.
	lowerOnly, upperOnly bool
}

// isQuoteRune reports a quotation mark or backtick.
func isQuoteRune(r rune) bool {
	switch r {
	case '"', '\'', '`', '‘', '’', '“', '”', '«', '»', '„', '‚':
		return true
	}
	return false
}

// closerFor returns the quotation marks that close an opening one.
func closes(open, r rune) bool {
	switch open {
	case '"':
		return r == '"'
	case '\'':
		return r == '\''
	case '`':
		return r == '`'
	case '‘':
		return r == '’'
	case '“':
		return r == '”'
	case '«':
		return r == '»'
	case '„':
		return r == '“' || r == '”'
	case '‚':
		return r == '‘' || r == '’'
	}
	return false
}

func isPunctRune(r rune) bool {
	switch r {
	case '.', ',', ';', ':', '!', '?', '…', '-', '–', '—', '¿', '¡':
		return true
	}
	return false
}

func isOpenBracket(r rune) bool { return r == '(' || r == '[' || r == '{' }

// tokenizer state.
type tokenizer struct {
	s    string
	out  []token
	ws   string
	exct bool // inside a quoted/code span
	quot bool
	// noClose[r] is where a failed search for the close of a span opened
	// by quotation mark r stopped: an opening before it fails too, so the
	// scan stays linear.
	noClose map[rune]int
	stop    int
}

// tokenize splits a prompt (already NFC, LF line endings, trimmed).
func tokenize(s string, dst []token) prompt {
	t := tokenizer{s: s, out: dst[:0]}
	t.run()
	p := prompt{text: s, toks: t.out}
	p.markStarts()
	p.markCase()
	return p
}

func (t *tokenizer) run() {
	s := t.s
	i := 0
	for i < len(s) {
		// White space.
		j := i
		for j < len(s) {
			n := spaceAt(s, j)
			if n == 0 {
				break
			}
			j += n
		}
		if j > i {
			t.ws = s[i:j]
			i = j
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if isQuoteRune(r) && t.opensQuote(i, r) {
			if end := t.findClose(i, r); end > 0 {
				t.span(i+n, end, r == '`')
				_, cn := utf8.DecodeRuneInString(s[end:])
				i = end + cn
				continue
			}
		}
		// A chunk: up to the next white space.
		j = i
		letters, upper := true, false // ASCII letters only; any capital
		for j < len(s) {
			if c := s[j]; c < utf8.RuneSelf && c > ' ' && c != '"' && c != '\'' && c != '`' {
				switch {
				case 'a' <= c && c <= 'z':
				case 'A' <= c && c <= 'Z':
					upper = true
					if j > i && 'a' <= s[j-1] && s[j-1] <= 'z' {
						letters = false // camelCase: code, the slow path
					}
				default:
					letters = false
				}
				j++
				continue
			}
			if spaceAt(s, j) > 0 {
				break
			}
			letters = false
			r, n := utf8.DecodeRuneInString(s[j:])
			if isQuoteRune(r) && j > i && t.opensQuote(j, r) && t.findClose(j, r) > 0 {
				break
			}
			j += n
		}
		if fastWord(s, i, j, letters) {
			// The common case: a plain word, perhaps with one mark of
			// sentence punctuation after it ("costs,", "hiring.").
			end := j
			if !letters {
				end--
			}
			w := s[i:end]
			key := w
			if upper {
				key = strings.ToLower(w)
			}
			t.add(token{raw: w, key: key, kind: kWord}, i)
			if end < j {
				t.add(token{raw: s[end:j], key: s[end:j], kind: kPunct}, end)
			}
			i = j
			continue
		}
		t.chunk(i, j)
		i = j
	}
}

// fastWord reports a chunk [i, j) that is ASCII letters only (letters), or
// ASCII letters and one final . , ; : ! or ?, outside any span.
func fastWord(s string, i, j int, letters bool) bool {
	if j-i < 1 {
		return false
	}
	if letters {
		return true
	}
	if j-i < 2 {
		return false
	}
	switch s[j-1] {
	case '.', ',', ';', ':', '!', '?':
	default:
		return false
	}
	for k := i; k < j-1; k++ {
		c := s[k]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
		if 'A' <= c && c <= 'Z' && k > i && 'a' <= s[k-1] && s[k-1] <= 'z' {
			return false // camelCase
		}
	}
	return true
}

// spaceAt returns the length of the white-space rune at s[i], or 0.
func spaceAt(s string, i int) int {
	c := s[i]
	if c < utf8.RuneSelf {
		if c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f' {
			return 1
		}
		return 0
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	if unicode.IsSpace(r) {
		return n
	}
	return 0
}

// opensQuote reports whether the quotation mark at i can open a span: it is
// at the start, after white space or an opening bracket or "=" or ":", and
// followed by a non-space.
func (t *tokenizer) opensQuote(i int, r rune) bool {
	if i > 0 {
		p, _ := utf8.DecodeLastRuneInString(t.s[:i])
		if !unicode.IsSpace(p) && !isOpenBracket(p) && p != '=' && p != ':' && p != ',' && !(r == '`') {
			return false
		}
	}
	_, n := utf8.DecodeRuneInString(t.s[i:])
	if i+n >= len(t.s) {
		return false
	}
	nx, _ := utf8.DecodeRuneInString(t.s[i+n:])
	return !unicode.IsSpace(nx) || r == '`'
}

// findClose returns the offset of the mark closing the span opened at i,
// or -1. A closing straight quote must not be followed by a letter (so
// "don't" inside a span is not its end); spans do not cross a blank line,
// and code spans opened by ``` end at the next ```.
func (t *tokenizer) findClose(i int, open rune) int {
	key := open
	if open == '`' && strings.HasPrefix(t.s[i:], "```") {
		key = -1 // fences close only with a fence
	}
	if stop, ok := t.noClose[key]; ok && i < stop {
		return -1
	}
	end := t.findCloseScan(i, open)
	if end < 0 {
		if t.noClose == nil {
			t.noClose = map[rune]int{}
		}
		t.noClose[key] = t.stop
	}
	return end
}

func (t *tokenizer) findCloseScan(i int, open rune) int {
	s := t.s
	t.stop = len(s)
	_, n := utf8.DecodeRuneInString(s[i:])
	if open == '`' && strings.HasPrefix(s[i:], "```") {
		if k := strings.Index(s[i+3:], "```"); k >= 0 {
			return i + 3 + k + 2 // the last backtick of the closing fence
		}
		return -1
	}
	for j := i + n; j < len(s); {
		r, m := utf8.DecodeRuneInString(s[j:])
		if r == '\n' && open != '`' && strings.HasPrefix(s[j:], "\n\n") {
			t.stop = j
			return -1
		}
		if closes(open, r) && j > i+n {
			if j+m >= len(s) {
				return j
			}
			nx, _ := utf8.DecodeRuneInString(s[j+m:])
			if !unicode.IsLetter(nx) && !unicode.IsDigit(nx) {
				return j
			}
		}
		j += m
	}
	return -1
}

// span tokenizes the inside of a quoted or code span [i, j): every token is
// exact.
func (t *tokenizer) span(i, j int, code bool) {
	if code {
		// Strip a fence's backticks: ``` at both ends.
		for i < j && t.s[i] == '`' {
			i++
		}
		for j > i && t.s[j-1] == '`' {
			j--
		}
	}
	saveE, saveQ := t.exct, t.quot
	t.exct, t.quot = true, true
	k := i
	for k < j {
		w := k
		for w < j {
			r, n := utf8.DecodeRuneInString(t.s[w:])
			if !unicode.IsSpace(r) {
				break
			}
			w += n
		}
		if w > k {
			t.ws = t.s[k:w]
			k = w
			continue
		}
		e := k
		for e < j {
			r, n := utf8.DecodeRuneInString(t.s[e:])
			if unicode.IsSpace(r) {
				break
			}
			e += n
		}
		t.pieces(k, e, true)
		k = e
	}
	t.exct, t.quot = saveE, saveQ
}

// chunk tokenizes a white-space-delimited chunk of prose [i, j): leading and
// trailing sentence punctuation and brackets are peeled off; the middle is a
// code-like chunk (exact) when it holds symbols between its characters,
// mixed case inside a word, or letters mixed with digits.
func (t *tokenizer) chunk(i, j int) {
	s := t.s
	// Leading punctuation and opening brackets.
	for i < j {
		r, n := utf8.DecodeRuneInString(s[i:])
		if isPunctRune(r) && !(r == '-' || r == '.') || isQuoteRune(r) {
			t.emitPunct(i, i+n, r)
			i += n
			continue
		}
		break
	}
	// Trailing punctuation.
	end := j
	for end > i {
		r, n := utf8.DecodeLastRuneInString(s[:end])
		if isPunctRune(r) || isQuoteRune(r) && r != '\'' {
			end -= n
			continue
		}
		if r == '\'' && end-n > i {
			// A trailing apostrophe after a letter is a quote mark or a
			// plural possessive; either way not part of the word.
			end -= n
			continue
		}
		break
	}
	// Keep "..", "." alone or "-" alone as symbols ("cd ..", "git add .").
	if end == i {
		t.emitRest(i, j)
		return
	}
	// Brackets around a word are symbols of their own (they must match),
	// so "(Undergraduate)" keeps a prose word inside; a bracket inside a
	// chunk ("print(x)", "401(k)") makes it code.
	var closeAt []int
	for i < end && isOpenBracket(rune(s[i])) {
		t.add(token{raw: s[i : i+1], key: s[i : i+1], kind: kSym, exact: true}, i)
		i++
	}
	for end > i && (s[end-1] == ')' || s[end-1] == ']' || s[end-1] == '}') && strings.IndexByte(s[i:end-1], matchOpen(s[end-1])) < 0 {
		end--
		closeAt = append(closeAt, end)
	}
	if end > i {
		exact := t.exct || codeLike(s[i:end])
		t.pieces(i, end, exact)
	}
	for k := len(closeAt) - 1; k >= 0; k-- {
		p := closeAt[k]
		t.add(token{raw: s[p : p+1], key: s[p : p+1], kind: kSym, exact: true}, p)
	}
	t.emitRest(end+len(closeAt), j)
}

func matchOpen(c byte) byte {
	switch c {
	case ')':
		return '('
	case ']':
		return '['
	}
	return '{'
}

// emitRest emits trailing punctuation [i, j) one mark at a time (runs of
// the same mark are one token: "!!", "...").
func (t *tokenizer) emitRest(i, j int) {
	s := t.s
	for i < j {
		r, n := utf8.DecodeRuneInString(s[i:])
		k := i + n
		for k < j {
			r2, n2 := utf8.DecodeRuneInString(s[k:])
			if r2 != r {
				break
			}
			k += n2
		}
		t.emitPunct(i, k, r)
		i = k
	}
}

func (t *tokenizer) emitPunct(i, j int, r rune) {
	// Sentence punctuation and stray quotation marks are formatting
	// outside spans; anything else is a symbol.
	k := kPunct
	if t.exct || !(isPunctRune(r) || isQuoteRune(r)) {
		k = kSym
	}
	t.add(token{raw: t.s[i:j], key: t.s[i:j], kind: k}, i)
}

// codeLike reports whether a chunk of prose reads as code or an identifier.
func codeLike(c string) bool {
	if isASCII(c) {
		return codeLikeASCII(c)
	}
	var prev rune
	letters, digits := false, false
	for i, r := range c {
		switch {
		case unicode.IsLetter(r):
			letters = true
			if unicode.IsUpper(r) && unicode.IsLower(prev) {
				return true // camelCase
			}
		case unicode.IsDigit(r):
			digits = true
		case r == '\'' || r == '’' || r == '-':
			// Inside words: "don't", "team-building".
		case r == '/':
			// "and/or", "creepiest/scariest", "TCP/IP" are prose; a path
			// is code ("/etc/hosts", "src/main.go", "~/x").
			if i == 0 || strings.Count(c, "/") > 1 {
				return true
			}
		case r == '.' || r == ',' || r == ':':
			// "3.5", "10,000", "14:10" are numbers; between letters it is
			// code ("df.loc", "main.go").
			if i > 0 && i < len(c)-1 && (unicode.IsLetter(prev) || unicode.IsLetter(nextRune(c, i))) {
				return true
			}
		default:
			if !unicode.IsMark(r) {
				return true
			}
		}
		prev = r
	}
	if letters && digits {
		// Letters and digits mixed in one chunk are code unless they are
		// an ordinal ("3rd") or a number with a unit ("5km", "3-day").
		return !numberWithSuffix(c)
	}
	return false
}

// codeLikeASCII is codeLike for ASCII chunks, byte by byte.
func codeLikeASCII(c string) bool {
	var prev byte
	letters, digits := false, false
	for i := 0; i < len(c); i++ {
		b := c[i]
		switch {
		case 'a' <= b && b <= 'z':
			letters = true
		case 'A' <= b && b <= 'Z':
			letters = true
			if 'a' <= prev && prev <= 'z' {
				return true // camelCase
			}
		case '0' <= b && b <= '9':
			digits = true
		case b == '\'' || b == '-':
		case b == '/':
			if i == 0 || strings.Count(c, "/") > 1 {
				return true
			}
		case b == '.' || b == ',' || b == ':':
			if i > 0 && i < len(c)-1 && (isLetterByte(prev) || isLetterByte(c[i+1])) {
				return true
			}
		default:
			return true
		}
		prev = b
	}
	if letters && digits {
		return !numberWithSuffix(c)
	}
	return false
}

func nextRune(s string, i int) rune {
	_, n := utf8.DecodeRuneInString(s[i:])
	r, _ := utf8.DecodeRuneInString(s[i+n:])
	return r
}

// numberWithSuffix reports a chunk of digits followed by letters only
// ("3rd", "5km", "10x"), or digits, a hyphen and letters ("3-day").
func numberWithSuffix(c string) bool {
	i := 0
	for i < len(c) && (c[i] >= '0' && c[i] <= '9' || (c[i] == '.' || c[i] == ',') && i > 0 && i+1 < len(c) && c[i+1] >= '0' && c[i+1] <= '9') {
		i++
	}
	if i == 0 {
		return false
	}
	if i < len(c) && c[i] == '-' {
		i++
	}
	if i == len(c) {
		return false
	}
	for _, r := range c[i:] {
		if !unicode.IsLetter(r) && r != '-' {
			return false
		}
	}
	return true
}

// pieces splits [i, j) into words, numbers and symbols. In an exact chunk
// an alphanumeric run with digits and letters mixed is one token.
func (t *tokenizer) pieces(i, j int, exact bool) {
	s := t.s
	for i < j {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case exact && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_'):
			k := i
			for k < j {
				r2, n2 := utf8.DecodeRuneInString(s[k:])
				if !unicode.IsLetter(r2) && !unicode.IsDigit(r2) && r2 != '_' && !unicode.IsMark(r2) {
					break
				}
				k += n2
			}
			w := s[i:k]
			kd := kWord
			if isDigits(w) {
				kd = kNum
			}
			t.addExact(token{raw: w, key: strings.ToLower(w), kind: kd}, i)
			i = k
		case unicode.IsLetter(r):
			k := i + n
			for k < j {
				r2, n2 := utf8.DecodeRuneInString(s[k:])
				if unicode.IsLetter(r2) || unicode.IsMark(r2) {
					k += n2
					continue
				}
				if (r2 == '\'' || r2 == '’') && k+n2 < j {
					r3, _ := utf8.DecodeRuneInString(s[k+n2:])
					if unicode.IsLetter(r3) {
						k += n2
						continue
					}
				}
				break
			}
			t.word(s[i:k], i, exact)
			i = k
		case unicode.IsDigit(r):
			k := i + n
			for k < j {
				r2, n2 := utf8.DecodeRuneInString(s[k:])
				if unicode.IsDigit(r2) {
					k += n2
					continue
				}
				if (r2 == '.' || r2 == ',' || r2 == ':' || r2 == '/') && k+n2 < j {
					r3, _ := utf8.DecodeRuneInString(s[k+n2:])
					if unicode.IsDigit(r3) {
						k += n2
						continue
					}
				}
				break
			}
			// Ordinal suffix.
			if k+2 <= j {
				suf := strings.ToLower(s[k : k+2])
				if (suf == "st" || suf == "nd" || suf == "rd" || suf == "th") && (k+2 == j || !isLetterByte(s[k+2])) {
					k += 2
				}
			}
			t.add(token{raw: s[i:k], key: s[i:k], kind: kNum, exact: true}, i)
			i = k
		case r == '-' && !exact && i > 0 && i+n < j:
			// A hyphen inside prose ("team-building", "3-day"): formatting.
			t.add(token{raw: "-", key: "-", kind: kPunct}, i)
			i += n
		default:
			t.add(token{raw: s[i : i+n], key: s[i : i+n], kind: kSym, exact: true}, i)
			i += n
		}
	}
}

func isLetterByte(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// word adds a word of prose, expanding contractions ("don't" → "do not",
// "what's" → "what is"); a possessive "'s" becomes its own token.
func (t *tokenizer) word(w string, pos int, exact bool) {
	if exact {
		t.addExact(token{raw: w, key: strings.ToLower(w), kind: kWord}, pos)
		return
	}
	if strings.IndexByte(w, 0xE2) >= 0 {
		w = strings.ReplaceAll(w, "’", "'")
	}
	lw := strings.ToLower(w)
	if lw == "cannot" {
		t.add(token{raw: matchCase(w, "can"), key: "can", kind: kWord, contracted: true}, pos)
		t.ws = " "
		t.add(token{raw: "not", key: "not", kind: kWord, contracted: true}, pos)
		return
	}
	if k := strings.IndexByte(lw, '\''); k > 0 {
		if strings.HasSuffix(lw, "n't") && k == len(lw)-2 {
			k-- // "don't" = "do" + "n't"
		}
		if exp, ok := contractions[lw]; ok {
			for n, e := range exp {
				tk := token{raw: e, key: e, kind: kWord, contracted: true}
				if n == 0 {
					tk.raw = matchCase(w, e)
				}
				t.add(tk, pos)
				t.ws = " "
			}
			return
		}
		head, tail := lw[:k], lw[k:]
		if exp, ok := contractionTails[tail]; ok {
			t.add(token{raw: w[:k], key: head, kind: kWord}, pos)
			t.ws = " "
			if tail == "'s" && !sIsVerb[head] {
				exp = "'s" // possessive
			}
			t.add(token{raw: exp, key: exp, kind: kWord, contracted: exp != "'s"}, pos+k)
			return
		}
	}
	t.add(token{raw: w, key: lw, kind: kWord}, pos)
}

// matchCase gives e the capitalization of w's first letter.
func matchCase(w, e string) string {
	r, _ := utf8.DecodeRuneInString(w)
	if unicode.IsUpper(r) && e != "" {
		return strings.ToUpper(e[:1]) + e[1:]
	}
	return e
}

func (t *tokenizer) addExact(tk token, pos int) {
	tk.exact = true
	t.add(tk, pos)
}

func (t *tokenizer) add(tk token, pos int) {
	tk.ws = t.ws
	tk.wsk = classifyWS(t.ws)
	tk.pos = pos
	if t.exct {
		tk.exact = true
		tk.quoted = t.quot
		if tk.kind == kPunct {
			tk.kind = kSym
		}
	}
	t.ws = ""
	t.out = append(t.out, tk)
}

func classifyWS(ws string) wsKind {
	if ws == "" {
		return wsNone
	}
	if ws == " " || strings.IndexByte(ws, '\n') < 0 {
		return wsSpace
	}
	switch strings.Count(ws, "\n") {
	case 0:
		return wsSpace
	case 1:
		return wsLine
	}
	return wsPara
}

// markStarts flags the first word of each sentence.
func (p *prompt) markStarts() {
	start := true
	for i := range p.toks {
		tk := &p.toks[i]
		if tk.wsk >= wsLine {
			start = true
		}
		switch tk.kind {
		case kPunct:
			switch tk.raw[0] {
			case '.', '!', '?', ':':
				start = true
			}
		case kWord:
			tk.start = start
			start = false
		default:
			start = false
		}
	}
}

// markCase records whether the prose is all lower or all upper case.
func (p *prompt) markCase() {
	lower, upper := false, false
	letters := 0
	for i := range p.toks {
		tk := &p.toks[i]
		if tk.kind != kWord || tk.exact || tk.contracted || tk.key == "i" {
			continue // "I" is capitalized by people who type all else in lower case
		}
		for i := 0; i < len(tk.raw); i++ {
			c := tk.raw[i]
			switch {
			case c >= utf8.RuneSelf:
				r, n := utf8.DecodeRuneInString(tk.raw[i:])
				i += n - 1
				if unicode.IsUpper(r) {
					upper = true
				} else if unicode.IsLower(r) {
					lower = true
				}
			case 'A' <= c && c <= 'Z':
				upper = true
			case 'a' <= c && c <= 'z':
				lower = true
			}
			letters++
		}
	}
	p.lowerOnly = !upper && letters > 0
	p.upperOnly = !lower && letters >= 8
}

// contractions expands whole contracted words.
var contractions = map[string][]string{
	"can't": {"can", "not"}, "cannot": {"can", "not"}, "won't": {"will", "not"}, "shan't": {"shall", "not"},
	"ain't": {"is", "not"}, "let's": {"let", "us"}, "y'all": {"you", "all"},
}

// contractionTails expands a contracted ending.
var contractionTails = map[string]string{
	"n't": "not", "'re": "are", "'ve": "have", "'ll": "will", "'d": "would", "'m": "am", "'s": "is",
}

// sIsVerb lists the words after which "'s" is "is", not a possessive.
var sIsVerb = map[string]bool{
	"it": true, "he": true, "she": true, "that": true, "what": true, "who": true, "where": true,
	"when": true, "how": true, "why": true, "there": true, "here": true, "this": true, "which": true,
}
