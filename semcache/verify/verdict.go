package verify

import (
	"fmt"
	"strings"
)

// Class names a kind of difference between two prompts.
type Class string

// Differences that cannot change the answer (a hit may be served).
const (
	Identical   Class = "identical"     // the same text after NFC, line endings and trimming
	Formatting  Class = "formatting"    // case of prose words, spacing or punctuation outside code and quotes, quote marks
	FunctionW   Class = "function-word" // an article, politeness or filler word, or an exchangeable function word (do→can)
	Inflection  Class = "inflection"    // singular/plural, do/does
	Typo        Class = "typo"          // a misspelling of a longer word that is not itself a word
	Synonym     Class = "synonym"       // WordNet synonyms among their most frequent senses
	Frame       Class = "frame"         // question frames that ask the same ("how do I" = "what is the best way to")
	Reorder     Class = "reorder"       // conjuncts exchanged around and/or, or a phrase moved within its sentence
	Contraction Class = "contraction"   // "don't" = "do not"
	Numeral     Class = "numeral"       // a number in words or digits ("five" = "5")
)

// Differences that may change the answer (the candidate is a miss).
const (
	Number        Class = "number"         // a number, amount, version, ordinal or date differs
	Identifier    Class = "identifier"     // code, an identifier, a path or an encoded string differs (case included)
	Quoted        Class = "quoted"         // text in quotes or backticks differs (case and spacing included)
	Symbol        Class = "symbol"         // a symbol or operator differs
	Script        Class = "script"         // a word in a non-Latin script differs
	Unicode       Class = "unicode"        // non-ASCII letters differ (ß/ss, ı/i, diacritics, compatibility forms)
	Negation      Class = "negation"       // not, no, never, without...
	Polarity      Class = "polarity"       // for/against, before/after, on/off, more/less, only...
	Antonym       Class = "antonym"        // WordNet antonyms (increase/decrease)
	CaseDiff      Class = "case"           // the case of a word that is not plain prose (HF vs Hf)
	Whitespace    Class = "whitespace"     // spacing inside code or quotes, or around symbols
	LineStructure Class = "line-structure" // line breaks or indentation differ
	Order         Class = "order"          // words exchanged or moved in a way that can change who does what
	Content       Class = "content"        // a content word with no explanation
	TooDifferent  Class = "too-different"  // more differences than the verifier aligns
)

// Diff is one difference between the cached prompt (A) and the incoming one
// (B), and whether it is explained.
type Diff struct {
	Class Class  `json:"class"`
	A     string `json:"a,omitempty"`
	B     string `json:"b,omitempty"`
	OK    bool   `json:"ok"`
}

// String renders "class(a→b)", "class(-a)" or "class(+b)".
func (d Diff) String() string {
	var sb strings.Builder
	sb.WriteString(string(d.Class))
	sb.WriteByte('(')
	switch {
	case d.A != "" && d.B != "":
		sb.WriteString(d.A)
		sb.WriteString("→")
		sb.WriteString(d.B)
	case d.A != "":
		sb.WriteByte('-')
		sb.WriteString(d.A)
	default:
		sb.WriteByte('+')
		sb.WriteString(d.B)
	}
	sb.WriteByte(')')
	return sb.String()
}

// Verdict is the verifier's decision on a pair of prompts.
type Verdict struct {
	// OK: every difference is explained; the cached answer may be served.
	OK bool `json:"ok"`
	// Rule is the class of the first unexplained difference when !OK, and
	// Identical or "explained" when OK.
	Rule Class `json:"rule"`
	// Diffs lists the differences found, explained or not, in order.
	Diffs []Diff `json:"diffs"`
}

// Explained is Verdict.Rule for a pair whose differences are all explained.
const Explained Class = "explained"

// String renders the differences for a response header:
// "typo(revrese→reverse); function-word(do→can)". Values are cut to keep
// the header short and free of control characters.
func (v Verdict) String() string {
	if len(v.Diffs) == 0 {
		return string(v.Rule)
	}
	var sb strings.Builder
	for i, d := range v.Diffs {
		if i > 0 {
			sb.WriteString("; ")
		}
		if sb.Len() > 400 {
			sb.WriteString("…")
			break
		}
		sb.WriteString(d.String())
	}
	return headerSafe(sb.String())
}

// Header renders the differences for an HTTP response header: String with
// "->" for the arrow and every other non-ASCII character escaped as \uXXXX,
// so any client decodes it the same way.
func (v Verdict) Header() string {
	s := strings.ReplaceAll(v.String(), "→", "->")
	if isASCII(s) {
		return s
	}
	var sb strings.Builder
	for _, r := range s {
		if r < 0x80 {
			sb.WriteRune(r)
			continue
		}
		if r > 0xFFFF {
			r = 0xFFFD
		}
		fmt.Fprintf(&sb, "\\u%04x", r)
	}
	return sb.String()
}

// headerSafe replaces control characters (line breaks included) with
// spaces.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
