package wordkeys

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// ASCII byte classes for Words.
const (
	cSep   uint8 = iota // separator
	cClean              // lowercase letter or digit: kept as is
	cUpper              // uppercase letter: lowercased
	cApos               // apostrophe: dropped inside a word, else a separator
)

var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = cClean
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = cClean
		t[c-'a'+'A'] = cUpper
	}
	t['\''] = cApos
	return t
}()

// class returns the class of the rune at s[i] and its width.
func class(s string, i int) (uint8, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	switch {
	case r == '\u2019' || r == '\u02BC': // right single quotation mark, modifier letter apostrophe
		return cApos, w
	case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
		if unicode.ToLower(r) != r {
			return cUpper, w
		}
		return cClean, w
	}
	return cSep, w // including invalid UTF-8
}

// Words appends the words of prompt to dst and returns the extended
// slice. A word is a maximal run of Unicode letters, digits and marks
// (combining accents, Indic vowel signs), lowercased with unicode.ToLower;
// an apostrophe between two such runes is dropped ("Don't" → "dont"), every
// other rune separates words. Scripts written without spaces (Chinese,
// Japanese, Thai) come out as one word per run.
//
// When every word is already in that form (lowercase, no apostrophes) the
// words are substrings of prompt and Words allocates nothing beyond growing
// dst; otherwise it makes one string holding all the words.
func Words(prompt string, dst []string) []string {
	first, clean := len(dst), true
	for i := 0; i < len(prompt); {
		c, w := class(prompt, i)
		if c == cSep || c == cApos {
			i += w
			continue
		}
		start := i
		for i < len(prompt) {
			c, w := class(prompt, i)
			if c == cApos && i+w < len(prompt) {
				if next, _ := class(prompt, i+w); next == cClean || next == cUpper {
					clean = false
					i += w
					continue
				}
			}
			if c != cClean && c != cUpper {
				break
			}
			clean = clean && c == cClean
			i += w
		}
		dst = append(dst, prompt[start:i])
	}
	if clean {
		return dst
	}
	// Normalize every word into one buffer, space-separated, then re-slice.
	var b strings.Builder
	b.Grow(len(prompt))
	for _, w := range dst[first:] {
		for i := 0; i < len(w); {
			c, n := class(w, i)
			switch {
			case c == cClean: // copy the run of clean runes at once
				j := i + n
				for j < len(w) {
					if c, n := class(w, j); c == cClean {
						j += n
						continue
					}
					break
				}
				b.WriteString(w[i:j])
				n = j - i
			case c == cUpper && n == 1:
				b.WriteByte(w[i] + 'a' - 'A')
			case c == cUpper:
				r, _ := utf8.DecodeRuneInString(w[i:])
				b.WriteRune(unicode.ToLower(r))
			}
			i += n
		}
		b.WriteByte(' ')
	}
	s := b.String()
	for k := first; k < len(dst); k++ {
		end := strings.IndexByte(s, ' ')
		dst[k], s = s[:end], s[end+1:]
	}
	return dst
}
