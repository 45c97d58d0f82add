package embed

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// token is one word of the normalized text: buf[start:end] is the word with
// its boundary markers, "<word>"; runes counts the runes including them.
type token struct {
	start, end int32
	runes      int32
	ascii      bool
}

// Boundary markers around each word for its character n-grams. Words hold
// only letters, digits and marks (or, in symbol mode, no spaces), so '<'
// and '>' cannot be confused with a word's own characters in word mode; in
// symbol mode they can, which is harmless (only the hash input changes).
const (
	markStart = '<'
	markEnd   = '>'
)

// asciiWord maps an ASCII word character (letter or digit) to its
// lower-case form and any other ASCII byte to 0 (a separator).
var asciiWord = func() (t [128]byte) {
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c
	}
	for c := byte('a'); c <= 'z'; c++ {
		t[c] = c
		t[c-'a'+'A'] = c
	}
	return t
}()

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isApostrophe reports whether r is an apostrophe, which is dropped inside
// a word ("don't" and "dont" are the same word).
func isApostrophe(r rune) bool { return r == '\'' || r == '\u2019' || r == '\u02bc' }

// tokenize splits text into lower-cased words after NFKC normalization and
// appends them, with boundary markers, to st.buf and st.toks. A word is a
// maximal run of letters, digits and combining marks; apostrophes inside a
// word are dropped; everything else separates words. Text with no word at
// all but some non-space characters (e.g. "?!") is split on white space
// instead, so that it still has features.
func (st *lexState) tokenize(text string) {
	st.buf = st.buf[:0]
	st.toks = st.toks[:0]
	if isASCII(text) { // ASCII is NFKC-invariant
		st.src = append(st.src[:0], text...)
	} else {
		// A norm.Iter kept in st, unlike norm.NFKC.AppendString, does not
		// allocate its reorder buffer for text that needs changes.
		st.src = st.src[:0]
		st.norm.InitString(norm.NFKC, text)
		for !st.norm.Done() {
			st.src = append(st.src, st.norm.Next()...)
		}
	}
	st.words(st.src)
	if len(st.toks) == 0 {
		st.symbols(st.src)
	}
	// Padding for the 8-byte loads of Lexical.charGrams; not part of any
	// word, and excluded from st.buf's length.
	st.buf = append(st.buf, 0, 0, 0, 0, 0, 0, 0, 0)[:len(st.buf)]
}

func (st *lexState) words(s []byte) {
	in := false
	var tk token
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			if w := asciiWord[c]; w != 0 {
				if !in {
					in, tk = true, st.open()
				}
				st.buf = append(st.buf, w)
				tk.runes++
				continue
			}
			if in && c == '\'' {
				continue
			}
			if in {
				in = false
				st.close(tk)
			}
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		i += size
		if unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r) {
			if !in {
				in, tk = true, st.open()
			}
			st.buf = utf8.AppendRune(st.buf, unicode.ToLower(r))
			tk.runes++
			tk.ascii = false
			continue
		}
		if in && isApostrophe(r) {
			continue
		}
		if in {
			in = false
			st.close(tk)
		}
	}
	if in {
		st.close(tk)
	}
}

// symbols is the fallback tokenizer: maximal runs of non-space runes.
func (st *lexState) symbols(s []byte) {
	in := false
	var tk token
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRune(s[i:])
		i += size
		if unicode.IsSpace(r) {
			if in {
				in = false
				st.close(tk)
			}
			continue
		}
		if !in {
			in, tk = true, st.open()
		}
		r = unicode.ToLower(r)
		if r >= utf8.RuneSelf {
			tk.ascii = false
		}
		st.buf = utf8.AppendRune(st.buf, r)
		tk.runes++
	}
	if in {
		st.close(tk)
	}
}

func (st *lexState) open() token {
	st.buf = append(st.buf, markStart)
	return token{start: int32(len(st.buf) - 1), runes: 1, ascii: true}
}

func (st *lexState) close(tk token) {
	st.buf = append(st.buf, markEnd)
	tk.end = int32(len(st.buf))
	tk.runes++
	st.toks = append(st.toks, tk)
}
