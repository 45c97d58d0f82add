package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/semgate/semgate/embed"
)

// dataset is a set of stored vectors and the queries run against them.
type dataset struct {
	name    string
	dim     int
	base    [][]float32
	recallQ [][]float32 // queries with exact ground truth
	latQ    [][]float32 // queries for latency
	note    string
}

func randomUnit(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	var n float64
	for i := range v {
		f := r.NormFloat64()
		v[i] = float32(f)
		n += f * f
	}
	n = math.Sqrt(n)
	for i := range v {
		v[i] = float32(float64(v[i]) / n)
	}
	return v
}

// randomBase returns n random unit vectors in one backing array.
func randomBase(seed uint64, n, dim int) [][]float32 {
	r := rand.New(rand.NewPCG(seed, uint64(dim)))
	flat := make([]float32, n*dim)
	out := make([][]float32, n)
	for i := range out {
		v := flat[i*dim : (i+1)*dim : (i+1)*dim]
		copy(v, randomUnit(r, dim))
		out[i] = v
	}
	return out
}

func randomQueries(seed uint64, n, dim int) [][]float32 {
	r := rand.New(rand.NewPCG(seed^0xABCDEF, uint64(dim)))
	out := make([][]float32, n)
	for i := range out {
		out[i] = randomUnit(r, dim)
	}
	return out
}

// nearDup returns n queries, each a random stored vector moved to cosine
// c from it: c·v + sqrt(1-c²)·u with u a random unit vector orthogonal to v.
func nearDup(seed uint64, base [][]float32, n int, c float64) [][]float32 {
	dim := len(base[0])
	r := rand.New(rand.NewPCG(seed^0x5EED, uint64(n)))
	s := math.Sqrt(1 - c*c)
	out := make([][]float32, n)
	for i := range out {
		v := base[r.IntN(len(base))]
		u := randomUnit(r, dim)
		var d float64
		for j := range u {
			d += float64(u[j]) * float64(v[j])
		}
		var norm float64
		for j := range u {
			u[j] -= float32(d) * v[j]
			norm += float64(u[j]) * float64(u[j])
		}
		norm = math.Sqrt(norm)
		q := make([]float32, dim)
		var qn float64
		for j := range q {
			q[j] = float32(c)*v[j] + float32(s*float64(u[j])/norm)
			qn += float64(q[j]) * float64(q[j])
		}
		qn = math.Sqrt(qn)
		for j := range q {
			q[j] = float32(float64(q[j]) / qn)
		}
		out[i] = q
	}
	return out
}

type qqpPair struct {
	A     string `json:"a"`
	B     string `json:"b"`
	Label int    `json:"label"`
}

// textData embeds the QQP questions with the lexical embedder. Queries are
// the first questions of duplicate pairs (held out of the index, whose
// other question is stored); the index holds every other distinct
// question, up to n.
// textData embeds the QQP questions (at most n) for the text dataset; with
// augment, edited variants of them fill the base up to n (textaug).
func textData(path string, seed uint64, n, dim, nq int, augment bool) (*dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var pairs []qqpPair
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var p qqpPair
		if json.Unmarshal(sc.Bytes(), &p) == nil && p.A != "" && p.B != "" {
			pairs = append(pairs, p)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, 7))
	r.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	held := map[string]bool{}
	var queries []string
	for _, p := range pairs {
		if len(queries) == nq {
			break
		}
		if p.Label == 1 && !held[p.A] && p.A != p.B {
			held[p.A] = true
			queries = append(queries, p.A)
		}
	}
	seen := map[string]bool{}
	var texts []string
	for _, p := range pairs {
		for _, t := range []string{p.B, p.A} {
			if len(texts) < n && !held[t] && !seen[t] {
				seen[t] = true
				texts = append(texts, t)
			}
		}
	}
	name, distinct := "text", len(texts)
	if augment {
		name = "textaug"
		texts = augmentTexts(texts, n, seed, seen)
	}
	e, err := embed.New(embed.Options{Dimensions: dim, CacheSize: -1})
	if err != nil {
		return nil, err
	}
	base, err := embedAll(e, texts)
	if err != nil {
		return nil, err
	}
	qs, err := embedAll(e, queries)
	if err != nil {
		return nil, err
	}
	note := fmt.Sprintf("%d distinct QQP questions (%s), %d held-out paraphrase queries", len(texts), e.ID(), len(qs))
	if augment {
		note = fmt.Sprintf("%d distinct QQP questions and %d edited variants of them (%s), %d held-out paraphrase queries",
			distinct, len(texts)-distinct, e.ID(), len(qs))
	}
	return &dataset{name: name, dim: dim, base: base, recallQ: qs, latQ: qs, note: note}, nil
}

// augmentTexts appends edited variants of texts until there are n: each
// variant is a random question with one to three edits (a word dropped,
// replaced by a word from another question, or swapped with its
// neighbour), the way prompts near-duplicate each other in cache traffic.
// Variants already present are skipped.
func augmentTexts(texts []string, n int, seed uint64, seen map[string]bool) []string {
	if len(texts) == 0 {
		return texts
	}
	r := rand.New(rand.NewPCG(seed, 11))
	words := make([][]string, len(texts))
	for i, t := range texts {
		words[i] = strings.Fields(t)
	}
	out := texts
	for tries := 0; len(out) < n && tries < 20*n; tries++ {
		src := words[r.IntN(len(words))]
		if len(src) < 3 {
			continue
		}
		w := slices.Clone(src)
		for range 1 + r.IntN(3) {
			i := r.IntN(len(w))
			switch r.IntN(3) {
			case 0:
				if len(w) > 2 {
					w = slices.Delete(w, i, i+1)
				}
			case 1:
				other := words[r.IntN(len(words))]
				w[i] = other[r.IntN(len(other))]
			case 2:
				if i+1 < len(w) {
					w[i], w[i+1] = w[i+1], w[i]
				}
			}
		}
		t := strings.Join(w, " ")
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

func embedAll(e embed.Embedder, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	workers := runtime.NumCPU()
	var wg sync.WaitGroup
	errs := make([]error, workers)
	const batch = 256
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := w * batch; s < len(texts); s += workers * batch {
				end := min(s+batch, len(texts))
				vs, err := e.Embed(context.Background(), texts[s:end])
				if err != nil {
					errs[w] = err
					return
				}
				copy(out[s:end], vs)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
