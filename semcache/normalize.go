package semcache

import (
	"bytes"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Normalize maps a prompt to the form its exact cache key is computed from.
// Two prompts that differ only in formatting normalize identically:
//
//   - Unicode NFKC, then case folding (full folding, "ß" = "ss");
//   - curly quotes become straight quotes, every dash variant becomes "-",
//     "…" becomes "...", zero-width spaces and soft hyphens are dropped,
//     control characters count as spaces;
//   - runs of white space become one space, leading and trailing space is
//     trimmed;
//   - a space before a lone ",", ";", ":", "?" or "!" that ends a word is
//     removed ("go ?" = "go?"), repeated "?" or "!" after a word collapse
//     to one ("go??" = "go?");
//   - trailing sentence punctuation ("?", "!", "." and spaces) is removed.
//
// Normalize never erases what can carry meaning: digits, decimal points
// ("3.5" and "35" differ), signs ("-5" and "5" differ), operators and code
// ("C++", "a->b", "x != y", "a ?? b"), quoted text, a factorial ("5!"), a
// trailing lone "." or ".." ("git add .", "cd ..") and the indentation of a
// line (a line break followed by indentation is kept as "\n" plus the
// indentation, so Python blocks stay apart; a line break without
// indentation is an ordinary space).
//
// The result is valid UTF-8 and Normalize(Normalize(s)) == Normalize(s).
func Normalize(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if !normASCII(s) {
		s = normUnicode(s)
	} else if normHasControl(s) {
		s = strings.Map(normMapRune, s)
	}
	buf := normBufPool.Get().(*[]byte)
	b := normLayout((*buf)[:0], s)
	out := string(b)
	if cap(b) <= 64<<10 {
		*buf = b
		normBufPool.Put(buf)
	}
	return out
}

var normBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

var normFoldPool = sync.Pool{New: func() any { c := cases.Fold(); return &c }}

func normHasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 || c == 0x7F) && !normIsSpace(rune(c)) {
			return true
		}
	}
	return false
}

func normASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// normUnicode applies the character mapping, NFKC and case folding until
// they no longer change the text (NFKC and folding can each undo the other's
// normal form; the mapping can expose a composition). It converges in one or
// two rounds for real text; the bound only guards against a pathological
// input, and Normalize's idempotence is fuzz-tested.
func normUnicode(s string) string {
	c := normFoldPool.Get().(*cases.Caser)
	defer normFoldPool.Put(c)
	for range 8 {
		t := strings.Map(normMapRune, s)
		t = norm.NFKC.String(t)
		t = c.String(t)
		t = norm.NFKC.String(t)
		if t == s {
			break
		}
		s = t
	}
	return s
}

// normMapRune folds punctuation variants to ASCII, drops invisible
// formatting characters and turns control characters into spaces. It leaves
// white space (which normLayout handles) alone.
func normMapRune(r rune) rune {
	switch r {
	case '\u2018', '\u2019', '\u201A', '\u201B', '\u2032', '\u2035', '\u02BC', '\uFF07':
		return '\''
	case '\u201C', '\u201D', '\u201E', '\u201F', '\u2033', '\u2036', '\u00AB', '\u00BB', '\uFF02':
		return '"'
	case '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212',
		'\u2E3A', '\u2E3B', '\uFE58', '\uFE63', '\uFF0D', '\u2043':
		return '-'
	case '\u200B', '\u2060', '\uFEFF', '\u00AD', '\u180E':
		return -1
	}
	if r < 0x20 || (r >= 0x7F && r < 0xA0) {
		if normIsSpace(r) {
			return r
		}
		return ' '
	}
	return r
}

func normIsSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
	}
	return unicode.IsSpace(r)
}

func normIsLineBreak(r rune) bool {
	switch r {
	case '\n', '\r', '\v', '\f', '\u0085', '\u2028', '\u2029':
		return true
	}
	return false
}

// normLayout lower-cases ASCII letters, collapses white space, and applies
// the punctuation rules, appending the result to dst.
func normLayout(dst []byte, s string) []byte {
	// Pass 1: white space. A run becomes " ", or "\n"+indentation when it
	// holds a line break followed by horizontal space; leading and trailing
	// runs are dropped.
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf && !normIsSpace(rune(c)) {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := rune(c), 1
		if c >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		if !normIsSpace(r) {
			dst = append(dst, s[i:i+size]...)
			i += size
			continue
		}
		// A white-space run: find its end and the indentation after its
		// last line break.
		j, indent := i, -1
		for j < len(s) {
			r, size := utf8.DecodeRuneInString(s[j:])
			if !normIsSpace(r) {
				break
			}
			if normIsLineBreak(r) {
				indent = j + size
			}
			j += size
		}
		if len(dst) > 0 && j < len(s) {
			if indent >= 0 && indent < j {
				dst = append(dst, '\n')
				for _, r := range s[indent:j] {
					if r == '\t' {
						dst = append(dst, '\t')
					} else {
						dst = append(dst, ' ')
					}
				}
			} else {
				dst = append(dst, ' ')
			}
		}
		i = j
	}
	// Passes 2-4 only delete bytes; repeat them until they delete nothing,
	// so that the result is a fixed point (one pass can expose work for
	// another: "x ,." loses its "." and then its space).
	for {
		n := len(dst)
		dst = normSpaceBeforePunct(dst)
		dst = normCollapseRepeats(dst)
		dst = normTrimTrailing(dst)
		if len(dst) == n {
			return dst
		}
	}
}

func normIsClausePunct(c byte) bool {
	return c == ',' || c == ';' || c == ':' || c == '?' || c == '!'
}

func normIsPunctRun(c byte) bool { return normIsClausePunct(c) || c == '.' }

// normSpaceBeforePunct removes a single space between a word and a
// punctuation run when the run is one clause mark followed by a space or the
// end, or the run reaches the end of the text and holds a "?" or "!".
// "go ?" and "go , then" lose the space; "a ?? b", "x != y", "foo :bar",
// "cd .." and "git add ." keep it.
func normSpaceBeforePunct(b []byte) []byte {
	w := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == ' ' && i > 0 && w > 0 && b[w-1] != ' ' && b[w-1] != '\t' && b[w-1] != '\n' && i+1 < len(b) && normIsPunctRun(b[i+1]) {
			j := i + 1
			for j < len(b) && normIsPunctRun(b[j]) {
				j++
			}
			run := b[i+1 : j]
			drop := false
			switch {
			case j == len(b):
				drop = normHasQE(run) || (len(run) == 1 && run[0] != '.')
			case b[j] == ' ' || b[j] == '\n':
				drop = len(run) == 1 && run[0] != '.'
			}
			if drop {
				continue
			}
		}
		b[w] = c
		w++
	}
	return b[:w]
}

func normHasQE(run []byte) bool {
	for _, c := range run {
		if c == '?' || c == '!' {
			return true
		}
	}
	return false
}

// normCollapseRepeats turns a run of the same "?" or "!" that directly
// follows a non-space character and ends at a space or the end into one.
func normCollapseRepeats(b []byte) []byte {
	w := 0
	for i := 0; i < len(b); {
		c := b[i]
		if (c == '?' || c == '!') && i > 0 && b[i-1] != ' ' && b[i-1] != '\n' && b[i-1] != '\t' {
			j := i
			for j < len(b) && b[j] == c {
				j++
			}
			if j-i > 1 && (j == len(b) || b[j] == ' ' || b[j] == '\n') {
				b[w] = c
				w++
				i = j
				continue
			}
		}
		b[w] = c
		w++
		i++
	}
	return b[:w]
}

// normTrimTrailing removes the trailing run of "?", "!", "." and white
// space, except a run of dots and space whose first dot follows white space
// ("cd ..", "git add ."), which is kept through its last dot, and one "!"
// after a digit ("5!").
func normTrimTrailing(b []byte) []byte {
	j := len(b)
	for j > 0 {
		c := b[j-1]
		if c != '?' && c != '!' && c != '.' && c != ' ' && c != '\t' && c != '\n' {
			break
		}
		j--
	}
	if j == len(b) {
		return b
	}
	run := b[j:]
	if !normHasQE(run) {
		if k := bytes.IndexByte(run, '.'); k > 0 {
			last := len(run) - 1
			for run[last] != '.' {
				last--
			}
			return b[:j+last+1]
		}
	}
	if j > 0 && b[j-1] >= '0' && b[j-1] <= '9' && run[0] == '!' {
		return b[:j+1]
	}
	return b[:j]
}
