package semcache

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrInvalidJSON is returned (wrapped with the detail) by CanonicalJSON for
// a document it cannot canonicalize.
var ErrInvalidJSON = errors.New("semcache: invalid JSON")

// cjMaxDepth bounds nesting; deeper documents are refused rather than
// risking the stack.
const cjMaxDepth = 512

// cjMaxExp bounds a number's decimal exponent; numbers beyond it are refused
// (no API parameter needs them, and an exact decimal form must stay small).
const cjMaxExp = 1_000_000

// CanonicalJSON returns the canonical form of the JSON document data:
// object members sorted by name (byte order of the UTF-8 names), no
// insignificant white space, strings re-escaped minimally (only '"', '\\'
// and control characters are escaped, as \b \f \n \r \t or \u00xx; \u
// escapes of other characters are decoded), and numbers in one decimal form
// per value (1, 1.0, 1e0 and 10e-1 are all "1"; 0.70 is "0.7"; -0 is "0";
// the value is kept exactly, never rounded through float64).
//
// Documents that are ambiguous are refused with ErrInvalidJSON: duplicate
// member names (parsers disagree on which wins), invalid UTF-8, lone
// surrogate escapes, nesting deeper than 512, and exponents beyond ±10⁶.
func CanonicalJSON(data []byte) ([]byte, error) {
	return AppendCanonicalJSON(nil, data)
}

// AppendCanonicalJSON appends the canonical form of data to dst; see
// CanonicalJSON.
func AppendCanonicalJSON(dst, data []byte) ([]byte, error) {
	d := cjDocPool.Get().(*cjDoc)
	defer func() {
		if cap(d.nodes) <= 16<<10 {
			clear(d.nodes)
			d.reset()
			cjDocPool.Put(d)
		}
	}()
	root, err := d.parse(string(data))
	if err != nil {
		return dst, err
	}
	return d.appendNode(dst, root), nil
}

var cjDocPool = sync.Pool{New: func() any { return new(cjDoc) }}

type cjKind uint8

const (
	cjNull cjKind = iota
	cjFalse
	cjTrue
	cjNum
	cjStr
	cjArr
	cjObj
)

// cjNode is one value of a parsed document. Children of arrays and objects
// are d.kids[first:first+n] (indexes into d.nodes); object members are
// sorted by key.
type cjNode struct {
	kind  cjKind
	key   string // member name, for a member of an object
	s     string // decoded string, or canonical number text
	first int32
	n     int32
}

// cjDoc is a parsed JSON document held in flat slices so that parsing
// allocates little. Strings without escapes are substrings of src.
type cjDoc struct {
	src   string
	nodes []cjNode
	kids  []int32
	stack []int32
}

func (d *cjDoc) reset() {
	d.src = ""
	d.nodes = d.nodes[:0]
	d.kids = d.kids[:0]
	d.stack = d.stack[:0]
}

func cjErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidJSON, fmt.Sprintf(format, args...))
}

// parse parses src as one JSON document and returns its root node.
func (d *cjDoc) parse(src string) (int32, error) {
	d.src = src
	i := cjSkipWS(src, 0)
	root, i, err := d.parseValue(i, 0)
	if err != nil {
		return 0, err
	}
	if i = cjSkipWS(src, i); i != len(src) {
		return 0, cjErr("data after the value at offset %d", i)
	}
	return root, nil
}

func cjSkipWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

func (d *cjDoc) add(n cjNode) int32 {
	d.nodes = append(d.nodes, n)
	return int32(len(d.nodes) - 1)
}

func (d *cjDoc) parseValue(i, depth int) (int32, int, error) {
	s := d.src
	if i >= len(s) {
		return 0, i, cjErr("unexpected end of input")
	}
	switch c := s[i]; {
	case c == '{':
		return d.parseObject(i, depth+1)
	case c == '[':
		return d.parseArray(i, depth+1)
	case c == '"':
		str, j, err := d.parseString(i)
		if err != nil {
			return 0, j, err
		}
		return d.add(cjNode{kind: cjStr, s: str}), j, nil
	case c == '-' || (c >= '0' && c <= '9'):
		num, j, err := cjParseNumber(s, i)
		if err != nil {
			return 0, j, err
		}
		return d.add(cjNode{kind: cjNum, s: num}), j, nil
	case strings.HasPrefix(s[i:], "true"):
		return d.add(cjNode{kind: cjTrue}), i + 4, nil
	case strings.HasPrefix(s[i:], "false"):
		return d.add(cjNode{kind: cjFalse}), i + 5, nil
	case strings.HasPrefix(s[i:], "null"):
		return d.add(cjNode{kind: cjNull}), i + 4, nil
	}
	return 0, i, cjErr("unexpected character %q at offset %d", s[i], i)
}

func (d *cjDoc) parseArray(i, depth int) (int32, int, error) {
	if depth > cjMaxDepth {
		return 0, i, cjErr("nesting deeper than %d", cjMaxDepth)
	}
	s := d.src
	base := len(d.stack)
	i = cjSkipWS(s, i+1)
	if i < len(s) && s[i] == ']' {
		return d.add(cjNode{kind: cjArr, first: int32(len(d.kids))}), i + 1, nil
	}
	for {
		v, j, err := d.parseValue(i, depth)
		if err != nil {
			return 0, j, err
		}
		d.stack = append(d.stack, v)
		i = cjSkipWS(s, j)
		if i < len(s) && s[i] == ',' {
			i = cjSkipWS(s, i+1)
			continue
		}
		if i < len(s) && s[i] == ']' {
			break
		}
		return 0, i, cjErr("expected ',' or ']' at offset %d", i)
	}
	first := int32(len(d.kids))
	d.kids = append(d.kids, d.stack[base:]...)
	n := int32(len(d.stack) - base)
	d.stack = d.stack[:base]
	return d.add(cjNode{kind: cjArr, first: first, n: n}), i + 1, nil
}

func (d *cjDoc) parseObject(i, depth int) (int32, int, error) {
	if depth > cjMaxDepth {
		return 0, i, cjErr("nesting deeper than %d", cjMaxDepth)
	}
	s := d.src
	base := len(d.stack)
	i = cjSkipWS(s, i+1)
	if i < len(s) && s[i] == '}' {
		return d.add(cjNode{kind: cjObj, first: int32(len(d.kids))}), i + 1, nil
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return 0, i, cjErr("expected a member name at offset %d", i)
		}
		key, j, err := d.parseString(i)
		if err != nil {
			return 0, j, err
		}
		j = cjSkipWS(s, j)
		if j >= len(s) || s[j] != ':' {
			return 0, j, cjErr("expected ':' at offset %d", j)
		}
		v, j, err := d.parseValue(cjSkipWS(s, j+1), depth)
		if err != nil {
			return 0, j, err
		}
		d.nodes[v].key = key
		d.stack = append(d.stack, v)
		i = cjSkipWS(s, j)
		if i < len(s) && s[i] == ',' {
			i = cjSkipWS(s, i+1)
			continue
		}
		if i < len(s) && s[i] == '}' {
			break
		}
		return 0, i, cjErr("expected ',' or '}' at offset %d", i)
	}
	members := d.stack[base:]
	d.sortMembers(members)
	for k := 1; k < len(members); k++ {
		if d.nodes[members[k]].key == d.nodes[members[k-1]].key {
			return 0, i, cjErr("duplicate member %q", d.nodes[members[k]].key)
		}
	}
	first := int32(len(d.kids))
	d.kids = append(d.kids, members...)
	n := int32(len(members))
	d.stack = d.stack[:base]
	return d.add(cjNode{kind: cjObj, first: first, n: n}), i + 1, nil
}

func (d *cjDoc) sortMembers(m []int32) {
	// Insertion sort for the usual handful of members; slices.SortFunc
	// beyond that.
	if len(m) <= 12 {
		for a := 1; a < len(m); a++ {
			for b := a; b > 0 && d.nodes[m[b]].key < d.nodes[m[b-1]].key; b-- {
				m[b], m[b-1] = m[b-1], m[b]
			}
		}
		return
	}
	slices.SortFunc(m, func(a, b int32) int { return strings.Compare(d.nodes[a].key, d.nodes[b].key) })
}

// parseString decodes the string literal starting at s[i] == '"'.
func (d *cjDoc) parseString(i int) (string, int, error) {
	s := d.src
	start := i + 1
	j := start
	ascii := true
	for j < len(s) {
		c := s[j]
		if c == '"' {
			str := s[start:j]
			if !ascii && !utf8.ValidString(str) {
				return "", j, cjErr("invalid UTF-8 in string at offset %d", start)
			}
			return str, j + 1, nil
		}
		if c == '\\' {
			return d.parseEscapedString(start, j)
		}
		if c < 0x20 {
			return "", j, cjErr("control character in string at offset %d", j)
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
		j++
	}
	return "", j, cjErr("unterminated string at offset %d", i)
}

// parseEscapedString decodes a string from start whose first escape is at
// j.
func (d *cjDoc) parseEscapedString(start, j int) (string, int, error) {
	s := d.src
	if !utf8.ValidString(s[start:j]) {
		return "", j, cjErr("invalid UTF-8 in string at offset %d", start)
	}
	b := make([]byte, 0, j-start+16)
	b = append(b, s[start:j]...)
	for j < len(s) {
		c := s[j]
		switch {
		case c == '"':
			return string(b), j + 1, nil
		case c < 0x20:
			return "", j, cjErr("control character in string at offset %d", j)
		case c == '\\':
			if j+1 >= len(s) {
				return "", j, cjErr("unterminated escape at offset %d", j)
			}
			e := s[j+1]
			j += 2
			switch e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := cjHex4(s, j)
				if !ok {
					return "", j, cjErr("bad \\u escape at offset %d", j-2)
				}
				j += 4
				if utf16.IsSurrogate(r) {
					var r2 rune = -1
					if r < 0xDC00 && j+1 < len(s) && s[j] == '\\' && s[j+1] == 'u' {
						if x, ok := cjHex4(s, j+2); ok {
							r2 = x
						}
					}
					p := utf16.DecodeRune(r, r2)
					if p == utf8.RuneError {
						return "", j, cjErr("lone surrogate escape at offset %d", j-6)
					}
					r = p
					j += 6
				}
				b = utf8.AppendRune(b, r)
			default:
				return "", j, cjErr("bad escape \\%c at offset %d", e, j-2)
			}
		case c < utf8.RuneSelf:
			b = append(b, c)
			j++
		default:
			r, size := utf8.DecodeRuneInString(s[j:])
			if r == utf8.RuneError && size == 1 {
				return "", j, cjErr("invalid UTF-8 in string at offset %d", j)
			}
			b = append(b, s[j:j+size]...)
			j += size
		}
	}
	return "", j, cjErr("unterminated string at offset %d", start-1)
}

func cjHex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for k := i; k < i+4; k++ {
		c := s[k]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// cjParseNumber parses the number at s[i] and returns its canonical text.
// The canonical form of a value D×10^e (D an integer without trailing
// zeros, p = len(D)+e the position of the decimal point) is:
//
//	"0"                      for zero (of any sign)
//	D followed by e zeros    when e >= 0 and p <= 21
//	D with a point inside    when e < 0 and p > 0
//	"0." zeros D             when -6 < p <= 0
//	d[.ddd]e[-]N             otherwise (N = p-1)
//
// with a leading "-" for negative values. When the input is already in that
// form it is returned as a substring, without allocating.
func cjParseNumber(s string, i int) (string, int, error) {
	start := i
	neg := false
	if s[i] == '-' {
		neg = true
		i++
	}
	intStart := i
	if i >= len(s) || s[i] < '0' || s[i] > '9' {
		return "", i, cjErr("bad number at offset %d", start)
	}
	if s[i] == '0' {
		i++
	} else {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	intDigits := s[intStart:i]
	fracDigits := ""
	if i < len(s) && s[i] == '.' {
		i++
		f := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == f {
			return "", i, cjErr("bad number at offset %d", start)
		}
		fracDigits = s[f:i]
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		f := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if exp <= cjMaxExp*10 {
				exp = exp*10 + int(s[i]-'0')
			}
			i++
		}
		if i == f {
			return "", i, cjErr("bad number at offset %d", start)
		}
		if eneg {
			exp = -exp
		}
	}
	lit := s[start:i]
	// Digits of the value without leading zeros: the integer part's then
	// the fraction's, possibly straddling both.
	intDigits = strings.TrimLeft(intDigits, "0")
	var digits string
	e := exp - len(fracDigits)
	var buf [64]byte
	var db []byte // digits, when they straddle both parts
	switch {
	case intDigits == "":
		digits = strings.TrimLeft(fracDigits, "0")
	case fracDigits == "":
		digits = intDigits
	default:
		if len(intDigits)+len(fracDigits) <= len(buf) {
			db = buf[:0]
		}
		db = append(append(db, intDigits...), fracDigits...)
	}
	if db != nil {
		// Trailing zeros come off the fraction first.
		n := len(db)
		for n > 0 && db[n-1] == '0' {
			n--
			e++
		}
		db = db[:n]
	} else {
		n := len(digits)
		for n > 0 && digits[n-1] == '0' {
			n--
			e++
		}
		digits = digits[:n]
	}
	nd := len(digits)
	if db != nil {
		nd = len(db)
	}
	if nd == 0 {
		if lit == "0" {
			return lit, i, nil
		}
		return "0", i, nil
	}
	p := nd + e
	if p > cjMaxExp || p < -cjMaxExp {
		return "", i, cjErr("number out of range at offset %d", start)
	}
	digitAt := func(k int) byte {
		if db != nil {
			return db[k]
		}
		return digits[k]
	}
	var out [96]byte
	o := out[:0]
	if nd+24 > len(out) {
		o = make([]byte, 0, nd+24)
	}
	if neg {
		o = append(o, '-')
	}
	switch {
	case e >= 0 && p <= 21:
		for k := 0; k < nd; k++ {
			o = append(o, digitAt(k))
		}
		for k := 0; k < e; k++ {
			o = append(o, '0')
		}
	case e < 0 && p > 0:
		for k := 0; k < nd; k++ {
			if k == p {
				o = append(o, '.')
			}
			o = append(o, digitAt(k))
		}
	case e < 0 && p <= 0 && p > -6:
		o = append(o, '0', '.')
		for k := p; k < 0; k++ {
			o = append(o, '0')
		}
		for k := 0; k < nd; k++ {
			o = append(o, digitAt(k))
		}
	default:
		o = append(o, digitAt(0))
		if nd > 1 {
			o = append(o, '.')
			for k := 1; k < nd; k++ {
				o = append(o, digitAt(k))
			}
		}
		o = append(o, 'e')
		o = strconv.AppendInt(o, int64(p-1), 10)
	}
	if string(o) == lit {
		return lit, i, nil
	}
	return string(o), i, nil
}

// appendNode appends the canonical form of node n.
func (d *cjDoc) appendNode(dst []byte, n int32) []byte {
	nd := &d.nodes[n]
	switch nd.kind {
	case cjNull:
		return append(dst, "null"...)
	case cjFalse:
		return append(dst, "false"...)
	case cjTrue:
		return append(dst, "true"...)
	case cjNum:
		return append(dst, nd.s...)
	case cjStr:
		return cjAppendString(dst, nd.s)
	case cjArr:
		dst = append(dst, '[')
		for k := int32(0); k < nd.n; k++ {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = d.appendNode(dst, d.kids[nd.first+k])
		}
		return append(dst, ']')
	default:
		dst = append(dst, '{')
		for k := int32(0); k < nd.n; k++ {
			if k > 0 {
				dst = append(dst, ',')
			}
			m := d.kids[nd.first+k]
			dst = cjAppendString(dst, d.nodes[m].key)
			dst = append(dst, ':')
			dst = d.appendNode(dst, m)
		}
		return append(dst, '}')
	}
}

// child returns the member of object n named key, or -1.
func (d *cjDoc) child(n int32, key string) int32 {
	nd := &d.nodes[n]
	if nd.kind != cjObj {
		return -1
	}
	lo, hi := nd.first, nd.first+nd.n
	for lo < hi {
		mid := int32(uint32(lo+hi) >> 1)
		if d.nodes[d.kids[mid]].key < key {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < nd.first+nd.n && d.nodes[d.kids[lo]].key == key {
		return d.kids[lo]
	}
	return -1
}

// elems returns the children of array or object n.
func (d *cjDoc) elems(n int32) []int32 {
	nd := &d.nodes[n]
	return d.kids[nd.first : nd.first+nd.n]
}

const cjHexDigits = "0123456789abcdef"

// cjAppendString appends s (valid UTF-8) as a canonical JSON string.
func cjAppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', cjHexDigits[c>>4], cjHexDigits[c&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
