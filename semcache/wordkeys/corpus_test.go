package wordkeys

import (
	"math/rand/v2"
	"slices"
)

// corpus generates synthetic prompts: words drawn from a vocabulary of
// pseudo-words with Zipf-like frequencies (rank r has weight 1/(r+2.7)),
// 6 to 20 words each, so that a few short words are in most prompts and
// most words are rare, as in real text. Prompt i depends only on i.
type corpus struct {
	vocab []string
	cdf   []float64 // cumulative weights, by rank
	seed  uint64
}

func newCorpus(size int, seed uint64) *corpus {
	r := rand.New(rand.NewPCG(seed, 1))
	c := &corpus{seed: seed}
	seen := make(map[string]bool, size)
	for len(c.vocab) < size {
		// Frequent words are short: length grows with rank.
		n := 2 + r.IntN(3) + min(6, len(c.vocab)/3000)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + r.IntN(26))
		}
		if w := string(b); !seen[w] {
			seen[w] = true
			c.vocab = append(c.vocab, w)
		}
	}
	total := 0.0
	for i := range c.vocab {
		total += 1 / (float64(i) + 2.7)
		c.cdf = append(c.cdf, total)
	}
	return c
}

// prompt appends the words of prompt i to dst.
func (c *corpus) prompt(i uint64, dst []string) []string {
	r := rand.New(rand.NewPCG(c.seed, i+2))
	n := 6 + r.IntN(15)
	for range n {
		dst = append(dst, c.word(r))
	}
	return dst
}

func (c *corpus) word(r *rand.Rand) string {
	i, _ := slices.BinarySearch(c.cdf, r.Float64()*c.cdf[len(c.cdf)-1])
	return c.vocab[min(i, len(c.vocab)-1)]
}

// typo returns a copy of words with one character edit (substitution,
// deletion, insertion or transposition) in one word.
func typo(words []string, r *rand.Rand) []string {
	out := slices.Clone(words)
	i := r.IntN(len(out))
	out[i] = typoWord(out[i], r)
	return out
}

func typoWord(w string, r *rand.Rand) string {
	for {
		b := []byte(w)
		p := r.IntN(len(b))
		letter := byte('a' + r.IntN(26))
		switch r.IntN(4) {
		case 0:
			b[p] = letter
		case 1:
			if len(b) > 1 {
				b = slices.Delete(b, p, p+1)
			}
		case 2:
			b = slices.Insert(b, p, letter)
		case 3:
			if p+1 < len(b) {
				b[p], b[p+1] = b[p+1], b[p]
			}
		}
		if s := string(b); s != w {
			return s
		}
	}
}

// idOf and partOf make distinct IDs from numbers.
func idOf(i uint64) ID {
	var id ID
	for k := range 8 {
		id[k] = byte(i >> (8 * k))
	}
	id[15] = 0x1d
	return id
}

func partOf(i uint64) ID {
	var p ID
	p[0] = byte(i)
	p[15] = 0xa7
	return p
}
