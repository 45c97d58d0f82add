package embed

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
)

// TestQQPReport measures the lexical embedder on the Quora Question Pairs
// dev set, when present, for NOTES.md. It is skipped unless
// SEMGATE_QQP=<n pairs> is set:
//
//	SEMGATE_QQP=2000 go test -run TestQQPReport -v ./embed
func TestQQPReport(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SEMGATE_QQP"))
	if n <= 0 {
		t.Skip("set SEMGATE_QQP=<pairs> to run")
	}
	pairs := loadQQP(t, "../../shared/data/qqp_dev.jsonl", n)
	type cfg struct {
		name string
		o    LexicalOptions
	}
	w := func(w, b, c float64, lo, hi int) LexicalOptions {
		return LexicalOptions{WordWeight: w, BigramWeight: b, CharWeight: c, CharMinN: lo, CharMaxN: hi}
	}
	configs := []cfg{
		{"default", LexicalOptions{}},
		{"words only", w(1, -1, -1, 3, 5)},
		{"words+bigrams", w(1, 0.75, -1, 3, 5)},
		{"chars only", w(-1, -1, 1, 3, 5)},
		{"w1 b0 c2", w(1, -1, 2, 3, 5)},
		{"w1 b0.25 c1", w(1, 0.25, 1, 3, 5)},
		{"w1 b0.5 c1", w(1, 0.5, 1, 3, 5)},
		{"w1 b1 c1", w(1, 1, 1, 3, 5)},
		{"w1 b0.75 c1", w(1, 0.75, 1, 3, 5)},
		{"w1 b0.75 c2", w(1, 0.75, 2, 3, 5)},
		{"w1 b0.75 c3", w(1, 0.75, 3, 3, 5)},
		{"w1 b1 c3", w(1, 1, 3, 3, 5)},
		{"w1 b0.75 c2 n3-4", w(1, 0.75, 2, 3, 4)},
		{"w1 b0.75 c2 n4-6", w(1, 0.75, 2, 4, 6)},
		{"w1 b0.75 c2 n2-5", w(1, 0.75, 2, 2, 5)},
	}
	fmt.Printf("%d pairs (%d duplicates)\n", len(pairs), count(pairs))
	fmt.Printf("| %-18s | %-7s | %-7s | %-6s | %-5s | %-14s | %-7s | %-7s | %-5s | %-5s |\n", "weighting", "mean+", "mean-", "gap", "AUC", "best acc (thr)", "R@1%FP", "R@5%FP", "swap", "typo")
	for _, c := range configs {
		l, err := NewLexical(0, c.o)
		if err != nil {
			t.Fatal(err)
		}
		r := evalPairs(t, l, pairs)
		r.swap, r.typo = meanCos(l, swapPairs), meanCos(l, typoPairs)
		report(c.name, r)
	}
	for _, dim := range []int{256, 1024} {
		l, _ := NewLexical(dim, LexicalOptions{})
		r := evalPairs(t, l, pairs)
		r.swap, r.typo = meanCos(l, swapPairs), meanCos(l, typoPairs)
		report("default dim "+strconv.Itoa(dim), r)
	}
}

func report(name string, r evalResult) {
	fmt.Printf("| %-18s | %.4f  | %.4f  | %.4f | %.3f | %.3f (%.2f)   | %.3f   | %.3f   | %.3f | %.3f |\n",
		name, r.mean1, r.mean0, r.mean1-r.mean0, r.auc, r.acc, r.thr, r.r1, r.r5, r.swap, r.typo)
}

type qqpPair struct {
	A, B  string
	Label int
}

func loadQQP(t *testing.T, path string, n int) []qqpPair {
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("no QQP data: %v", err)
	}
	defer f.Close()
	var out []qqpPair
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() && len(out) < n {
		var p struct {
			A     string `json:"a"`
			B     string `json:"b"`
			Label int    `json:"label"`
		}
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, qqpPair{p.A, p.B, p.Label})
	}
	return out
}

func count(p []qqpPair) int {
	n := 0
	for _, x := range p {
		n += x.Label
	}
	return n
}

// evalResult: mean cosine of duplicates (label 1) and non-duplicates,
// ROC AUC, best accuracy over thresholds (and its threshold), and the share
// of duplicates above the threshold that only 1% / 5% of non-duplicates
// pass (what a cache threshold trades: recall at a false-hit rate).
// swap and typo are the mean cosines of swapPairs and typoPairs.
type evalResult struct{ mean1, mean0, auc, acc, thr, r1, r5, swap, typo float64 }

// swapPairs differ only in word order and mean different things: only the
// bigrams tell them apart, so they measure the bigram weight's effect.
var swapPairs = [][2]string{
	{"convert celsius to fahrenheit", "convert fahrenheit to celsius"},
	{"cheap flights from london to paris", "cheap flights from paris to london"},
	{"Is Python faster than Go?", "Is Go faster than Python?"},
	{"How do I translate English to Spanish?", "How do I translate Spanish to English?"},
}

// typoPairs are the same request with a typo or a small rewording.
var typoPairs = [][2]string{
	{"How do I reset my password?", "how do i reset my pasword"},
	{"What is the capital of France?", "Whats the capital of France"},
	{"Explain quicksort in Python", "Explain quick sort in python"},
	{"Write a haiku about autumn leaves", "write a haiku about the autumn leaves."},
}

func meanCos(e Embedder, pairs [][2]string) float64 {
	var s float64
	for _, p := range pairs {
		v, err := e.Embed(context.Background(), p[:])
		if err != nil {
			panic(err)
		}
		s += cosine(v[0], v[1])
	}
	return s / float64(len(pairs))
}

func evalPairs(t *testing.T, e Embedder, pairs []qqpPair) evalResult {
	type sc struct {
		s float64
		y int
	}
	var scores []sc
	var s1, s0 float64
	var n1, n0 int
	for _, p := range pairs {
		v, err := e.Embed(context.Background(), []string{p.A, p.B})
		if err != nil {
			t.Fatal(err)
		}
		c := cosine(v[0], v[1])
		scores = append(scores, sc{c, p.Label})
		if p.Label == 1 {
			s1 += c
			n1++
		} else {
			s0 += c
			n0++
		}
	}
	// AUC by ranks; best accuracy over thresholds.
	slices.SortFunc(scores, func(a, b sc) int {
		switch {
		case a.s < b.s:
			return -1
		case a.s > b.s:
			return 1
		}
		return 0
	})
	var rankSum float64
	for i, x := range scores {
		if x.y == 1 {
			rankSum += float64(i + 1)
		}
	}
	auc := (rankSum - float64(n1*(n1+1))/2) / float64(n1*n0)
	best, thr := 0.0, 0.0
	neg := 0 // negatives at or below index i
	for i, x := range scores {
		if x.y == 0 {
			neg++
		}
		pos := n1 - (i + 1 - neg) // positives above
		acc := float64(neg+pos) / float64(len(scores))
		if acc > best {
			best, thr = acc, x.s
		}
	}
	recallAt := func(fpr float64) float64 {
		var negs []float64
		for _, x := range scores {
			if x.y == 0 {
				negs = append(negs, x.s)
			}
		}
		cut := negs[int(float64(len(negs))*(1-fpr))]
		k := 0
		for _, x := range scores {
			if x.y == 1 && x.s > cut {
				k++
			}
		}
		return float64(k) / float64(n1)
	}
	return evalResult{mean1: s1 / float64(n1), mean0: s0 / float64(n0), auc: auc, acc: best, thr: thr, r1: recallAt(0.01), r5: recallAt(0.05)}
}

func cosine(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}
