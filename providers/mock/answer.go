package mock

// Created is the "created" timestamp of every answer (2025-01-01T00:00:00Z):
// fixed, so that equal requests get byte-identical answers across runs.
const Created = 1735689600

// SystemFingerprint is the "system_fingerprint" of every answer.
const SystemFingerprint = "fp_mock"

// The prompt hash is FNV-1a-like but absorbs 8 bytes per step: stable
// across processes and releases (unlike hash/maphash) and fast on long
// prompts. TestStableHash pins its values.
const (
	fnvOffset64 uint64 = 14695981039346656037
	fnvPrime64  uint64 = 1099511628211
	wordMul     uint64 = 0x9fb21c651e98df25
)

// hashField absorbs a tagged field into h; the tag and the terminator keep
// different field sequences apart.
func hashField(h uint64, tag byte, s string) uint64 {
	h = (h ^ uint64(tag)) * fnvPrime64
	for ; len(s) >= 8; s = s[8:] {
		w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		h = (h ^ w) * wordMul
		h ^= h >> 29
	}
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime64
	}
	return (h ^ 0xff) * fnvPrime64
}

// mix64 is SplitMix64's finaliser: a bijective avalanche of x.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

const golden = 0x9e3779b97f4a7c15

// rng is SplitMix64: tiny, fast and with a fixed sequence per seed.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += golden
	return mix64(r.s)
}

func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// choiceHash seeds choice i of an answer whose request hashes to h.
func choiceHash(h uint64, i int) uint64 { return mix64(h + uint64(i+1)*golden) }

// naturalLen is the length in tokens of the answer seeded by h.
func (c *core) naturalLen(h uint64) int {
	span := uint64(c.maxTok - c.minTok + 1)
	return c.minTok + int(mix64(h^0x5bd1e9955bd1e995)%span)
}

// baseWords are the answers' vocabulary: lower-case, at most 6 letters, so
// that each is one token for countTokens and needs no JSON escaping.
var baseWords = [...]string{
	"the", "a", "of", "and", "to", "in", "is", "it", "that", "for",
	"on", "with", "as", "at", "by", "from", "this", "be", "are", "was",
	"can", "will", "not", "or", "but", "you", "all", "we", "they", "one",
	"more", "some", "time", "new", "use", "data", "model", "cache", "query", "token",
	"answer", "fast", "small", "large", "clear", "simple", "local", "user", "value", "system",
	"each", "only", "also", "other", "about", "when", "which", "where", "there", "than",
	"then", "into", "over", "after", "first", "most", "such", "very", "good", "right",
	"same", "well", "just", "many", "much", "like", "make", "work", "part", "place",
	"way", "case", "point", "group", "number", "world", "state", "line", "order", "level",
	"form", "end", "set", "result", "change", "course", "study", "idea", "fact", "reason",
	"area", "kind", "side", "head", "house", "power", "game", "hand", "light", "water",
	"short", "long", "early", "late", "high", "low", "open", "close", "true", "free",
	"full", "real", "best", "sure", "able", "whole", "human", "major", "common", "public",
	"strong", "quick", "quiet", "bright", "calm", "north", "south", "river", "stone", "cloud",
	"field", "garden", "forest", "ocean", "table", "paper", "story", "music", "voice", "letter",
	"window", "market", "bridge", "signal", "engine", "vector", "layer", "graph", "index", "batch",
	"stream", "server", "client", "route", "proxy", "store", "memory", "disk", "thread", "queue",
	"lock", "event", "frame", "page", "file", "path", "text", "word", "input", "output",
	"prompt", "reply", "note", "check", "test", "build", "run", "read", "write", "send",
	"keep", "find", "give", "take", "show", "try", "call", "ask", "need", "feel",
	"seem", "turn", "start", "hold", "bring", "begin", "learn", "grow", "move", "live",
	"play", "lead", "stand", "offer", "carry", "follow", "create", "travel", "across", "around",
	"under", "again", "often", "always", "never", "still", "even", "here", "today", "maybe",
	"simply", "every", "later", "known", "given", "used", "made", "since", "while", "until",
}

// words and capWords are baseWords with a leading space, as generated.
var words, capWords [len(baseWords)]string

func init() {
	for i, w := range baseWords {
		words[i] = " " + w
		capWords[i] = " " + string(w[0]-'a'+'A') + w[1:]
	}
}

// textGen writes an answer one token (word or punctuation mark) at a time:
// "Mock answer <tag>:" and then sentences. Its choices depend only on the
// seed and the natural length, so a lower limit cuts the same text.
type textGen struct {
	r         rng
	tag       uint64
	pos       int // tokens written
	limit     int // tokens to write
	natural   int // length of the uncut answer
	sentLeft  int // words left in the sentence
	afterWord bool
	capNext   bool
}

// newTextGen starts the answer seeded by h, natural tokens long, cut at
// maxTokens when that is positive and smaller.
func newTextGen(h uint64, natural, maxTokens int) textGen {
	limit := natural
	if maxTokens > 0 && maxTokens < limit {
		limit = maxTokens
	}
	return textGen{r: rng{s: h}, tag: h >> 40, limit: limit, natural: natural}
}

func (g *textGen) done() bool { return g.pos >= g.limit }

// finish is the answer's finish_reason.
func (g *textGen) finish() string {
	if g.limit < g.natural {
		return "length"
	}
	return "stop"
}

// appendNext appends the next token. The text needs no JSON escaping.
func (g *textGen) appendNext(dst []byte) []byte {
	k := g.pos
	g.pos++
	switch k {
	case 0:
		return append(dst, "Mock"...)
	case 1:
		return append(dst, " answer"...)
	case 2:
		return appendHex(append(dst, ' '), g.tag, 6)
	case 3:
		g.capNext = true
		g.sentLeft = 4 + g.r.intn(9)
		return append(dst, ':')
	}
	left := g.natural - k // tokens left, this one included
	switch {
	case left <= 1:
		g.afterWord = false
		return append(dst, '.')
	case g.afterWord && g.sentLeft == 0 && left > 2:
		g.afterWord = false
		g.capNext = true
		g.sentLeft = 4 + g.r.intn(9)
		return append(dst, '.')
	case g.afterWord && g.sentLeft >= 2 && left > 2 && g.r.next()%8 == 0:
		g.afterWord = false
		return append(dst, ',')
	}
	w := g.r.intn(len(words))
	if g.sentLeft > 0 {
		g.sentLeft--
	}
	g.afterWord = true
	if g.capNext {
		g.capNext = false
		return append(dst, capWords[w]...)
	}
	return append(dst, words[w]...)
}

// Byte classes for countTokens.
const (
	clSymbol uint8 = iota // other ASCII
	clAlnum
	clSpace
	clNewline
	clRune // the first byte of a non-ASCII character
	clCont // a UTF-8 continuation byte
)

var byteClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
			t[c] = clAlnum
		case c == ' ' || c == '\t':
			t[c] = clSpace
		case c == '\n' || c == '\r':
			t[c] = clNewline
		case c >= 0xc0:
			t[c] = clRune
		case c >= 0x80:
			t[c] = clCont
		}
	}
	return t
}()

// countTokens estimates s's length in tokens the way a BPE tokenizer
// roughly would: a run of letters and digits of up to 7 bytes is one token,
// a longer one a token per 4 bytes; each other ASCII symbol is one; a run
// of white space is free unless it holds a line break (one token); each
// non-ASCII character is one.
func countTokens(s string) int {
	n := 0
	for i := 0; i < len(s); {
		switch byteClass[s[i]] {
		case clAlnum:
			j := i + 1
			for j < len(s) && byteClass[s[j]] == clAlnum {
				j++
			}
			if w := j - i; w <= 7 {
				n++
			} else {
				n += (w + 3) / 4
			}
			i = j
		case clSpace, clNewline:
			nl := false
			for ; i < len(s); i++ {
				c := byteClass[s[i]]
				if c != clSpace && c != clNewline {
					break
				}
				nl = nl || c == clNewline
			}
			if nl {
				n++
			}
		case clCont: // a stray continuation byte: part of the previous character
			i++
		default: // a symbol or a non-ASCII character
			n++
			i++
		}
	}
	return n
}
