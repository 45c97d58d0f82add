package semcache

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// SameWords reports whether two prompts say the same thing in the same
// content words, in the same order: they differ only in function words
// (articles, pronouns, prepositions, forms of be/do/have, and, or, than),
// in the plural of a word, in case or in punctuation. "How do you avoid
// wasting time?" and "How do I avoid wasting time" are; "What is the
// best way to brew tea?" and "What is the best way to drink brewed tea?"
// are not, and neither are prompts with no content word at all. Question
// words, modals, negations and numbers are content words, so "why"
// against "how", or "can" against "should", tells them apart.
//
// The quality tools use it to split pairs (embed/use/cmd/quality); the
// cache's verifier (package verify) makes the decisions.
func SameWords(a, b string) bool {
	for n := 0; ; n++ {
		var wa, wb string
		wa, a = nextContentWord(a)
		wb, b = nextContentWord(b)
		if wa == "" || wb == "" {
			return wa == wb && n > 0
		}
		if !sameWord(wa, wb) {
			return false
		}
	}
}

// nextContentWord returns the next content word of s and the rest of s;
// "" at the end.
func nextContentWord(s string) (word, rest string) {
	for s != "" {
		i := 0
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				break
			}
			i += n
		}
		j := i
		for j < len(s) {
			r, n := utf8.DecodeRuneInString(s[j:])
			if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				break
			}
			j += n
		}
		word, s = s[i:j], s[j:]
		if word != "" && !isFunctionWord(word) {
			return word, s
		}
	}
	return "", ""
}

// isFunctionWord reports whether w, in any case, is one of
// functionWords (all short and ASCII).
func isFunctionWord(w string) bool {
	if len(w) > 8 {
		return false
	}
	var buf [8]byte
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c >= utf8.RuneSelf:
			return false
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return functionWords[string(buf[:len(w)])]
}

// sameWord compares two words ignoring case and a plural ending.
func sameWord(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	var fa, fb [3]string
	for _, x := range baseForms(a, fa[:0]) {
		for _, y := range baseForms(b, fb[:0]) {
			if strings.EqualFold(x, y) {
				return true
			}
		}
	}
	return false
}

// baseForms appends w and the singulars w may be the plural of: -s (not
// after s, u or i: "bus", "virus", "analysis"), -es after s, x, z, ch or
// sh, and -ies to -y ("movies" gives "movie" and "movy", "cities" "citie"
// and "city").
func baseForms(w string, dst []string) []string {
	dst = append(dst, w)
	n := len(w)
	if n < 4 || w[n-1]|0x20 != 's' {
		return dst
	}
	l := func(i int) byte { return w[i] | 0x20 } // ASCII lower case
	if strings.IndexByte("sui", l(n-2)) < 0 {
		dst = append(dst, w[:n-1])
	}
	if l(n-2) == 'e' && (strings.IndexByte("sxz", l(n-3)) >= 0 || n > 4 && l(n-3) == 'h' && (l(n-4) == 'c' || l(n-4) == 's')) {
		dst = append(dst, w[:n-2])
	}
	if n > 4 && l(n-2) == 'e' && l(n-3) == 'i' {
		dst = append(dst, w[:n-3]+"y")
	}
	return dst
}

// functionWords are the words SameWords ignores.
var functionWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the
		i me my mine we us our ours you your yours he him his she her hers it its they them their theirs
		this that these those there here
		to of in on at by for with about as into from
		is are was were be been am do does did have has had
		and or but so than`) {
		m[w] = true
	}
	return m
}()
