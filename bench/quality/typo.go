package quality

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"time"
	"unicode"

	"github.com/semgate/semgate/bench/internal/harness"
	"github.com/semgate/semgate/embed"
	"github.com/semgate/semgate/semcache"
)

// The one-typo scenario: N distinct prompts are cached, then each is
// looked up with one typo; a hit must return that prompt's own entry.

// DistinctQuestions reads every "a" and "b" question of qqp_dev.jsonl in
// file order, keeping the first of each normalized text
// (semcache.Normalize), so that no two questions differ only in case,
// spacing or punctuation.
func DistinctQuestions(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	seen := map[string]bool{}
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var p struct{ A, B string }
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for _, q := range []string{p.A, p.B} {
			n := semcache.Normalize(q)
			if n == "" || seen[n] {
				continue
			}
			seen[n] = true
			out = append(out, q)
		}
	}
	return out, sc.Err()
}

// TypoPrompts returns n distinct prompts: the first n questions, and when
// n is larger than len(questions), then questions[i] + " " + questions[j]
// for pseudo-random pairs i ≠ j (each pair once), drawn from a generator
// seeded with seed. It also returns how many prompts are joined pairs.
func TypoPrompts(questions []string, n int, seed uint64) (prompts []string, joined int) {
	if n <= len(questions) {
		return slices.Clone(questions[:n]), 0
	}
	m := len(questions)
	if m < 2 || n-m > m*(m-1)/2 {
		panic(fmt.Sprintf("quality: cannot build %d distinct prompts from %d questions", n, m))
	}
	prompts = make([]string, 0, n)
	prompts = append(prompts, questions...)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	used := make(map[uint64]struct{}, n-m)
	for len(prompts) < n {
		i, j := rng.IntN(m), rng.IntN(m)
		k := uint64(i)<<32 | uint64(j)
		if _, dup := used[k]; i == j || dup {
			continue
		}
		used[k] = struct{}{}
		prompts = append(prompts, questions[i]+" "+questions[j])
	}
	return prompts, n - m
}

// Typo returns prompt with two adjacent letters swapped in the middle of
// its longest word (a maximal run of letters; the first on a tie), never
// moving the word's first or last letter: the pair nearest the middle
// whose letters differ. It returns false when that word has fewer than 5
// letters or no such pair.
func Typo(prompt string) (string, bool) {
	rs := []rune(prompt)
	bestStart, bestLen := -1, 0
	for i := 0; i < len(rs); {
		if !unicode.IsLetter(rs[i]) {
			i++
			continue
		}
		j := i
		for j < len(rs) && unicode.IsLetter(rs[j]) {
			j++
		}
		if j-i > bestLen {
			bestStart, bestLen = i, j-i
		}
		i = j
	}
	if bestLen < 5 {
		return "", false
	}
	w := rs[bestStart : bestStart+bestLen]
	// Swap (p, p+1) with 1 <= p <= L-3, from the middle outwards.
	c := (bestLen - 2) / 2
	for d := 0; d < bestLen; d++ {
		for _, p := range [2]int{c + d, c - d} {
			if p < 1 || p > bestLen-3 || w[p] == w[p+1] {
				continue
			}
			w[p], w[p+1] = w[p+1], w[p]
			return string(rs), true
		}
	}
	return "", false
}

// TypoConfig configures RunTypo.
type TypoConfig struct {
	// Embedder embeds prompts and lookups; nil: none (the word channel
	// and the verifier only).
	Embedder embed.Embedder
	Verifier semcache.Verifier
	Guard    semcache.Checker // nil: no content guard
	// Rounds is how many times every lookup runs (latency per round; the
	// counts are the first round's). Default 1.
	Rounds int
	// Progress, if not nil, receives a line now and then.
	Progress io.Writer
}

// TypoExample is one lookup, for the report.
type TypoExample struct {
	Cached, Lookup, Served string
	Score                  float32
	Rule, Verdict          string
}

// TypoResult is the one-typo scenario's result.
type TypoResult struct {
	Entries  int
	Embedder string // "" : none
	Guard    bool
	// Lookups ran; Skipped prompts had no word of 5 letters or more.
	Lookups, Skipped int
	// Right: a hit on the prompt's own entry. Wrong: a hit on another
	// entry; WrongEquivalent of them served an entry whose prompt the
	// verifier accepts for the original prompt too. Miss: no hit. Exact:
	// hits of the exact tier (the typo made another cached prompt).
	Right, Wrong, WrongEquivalent, Miss, Exact int
	// Time spent keying, embedding and in Cache.Put while inserting.
	KeyTime, EmbedTime, PutTime time.Duration
	// Heap: Go heap in use (after a GC) before the first Put and after
	// the last; RSS: the process's resident set after the inserts.
	HeapBefore, HeapAfter uint64
	RSSAfter              uint64
	// P50 and P99 of FindSemantic per round (embedding excluded).
	P50, P99 []time.Duration
	// LookupTime is the first round's total FindSemantic time.
	LookupTime time.Duration
	// MissRules counts the misses by the most similar refused candidate's
	// rule ("no candidate": none was retrieved).
	MissRules map[string]int
	// WrongExamples are the first wrong hits; MissExamples the first
	// misses of each rule in MissRules.
	WrongExamples []TypoExample
	MissExamples  map[string][]TypoExample
}

// InsertRate is Cache.Put calls per second.
func (r *TypoResult) InsertRate() float64 {
	if r.PutTime <= 0 {
		return 0
	}
	return float64(r.Entries) / r.PutTime.Seconds()
}

// HeapPerEntry is the Go heap the cache grew by, per entry.
func (r *TypoResult) HeapPerEntry() float64 {
	if r.Entries == 0 || r.HeapAfter < r.HeapBefore {
		return 0
	}
	return float64(r.HeapAfter-r.HeapBefore) / float64(r.Entries)
}

// Pct is n as a percentage of the lookups.
func (r *TypoResult) Pct(n int) float64 {
	if r.Lookups == 0 {
		return 0
	}
	return 100 * float64(n) / float64(r.Lookups)
}

// MedianP50 and MedianP99 are the medians over rounds.
func (r *TypoResult) MedianP50() time.Duration { return medianDur(r.P50) }
func (r *TypoResult) MedianP99() time.Duration { return medianDur(r.P99) }

func medianDur(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

const typoChunk = 4096

// RunTypo caches every prompt in a fresh cache in dir, then looks up each
// with one typo (Typo). The prompts must be distinct.
func RunTypo(ctx context.Context, dir string, prompts []string, cfg TypoConfig) (*TypoResult, error) {
	rounds := max(cfg.Rounds, 1)
	e := cfg.Embedder
	res := &TypoResult{Entries: len(prompts), Guard: cfg.Guard != nil, MissRules: map[string]int{}, MissExamples: map[string][]TypoExample{}}
	if e != nil {
		res.Embedder = e.ID()
		if _, err := e.Embed(ctx, []string{"warm up"}); err != nil { // load the model before measuring the heap
			return nil, err
		}
	}
	progress := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "typo: "+format+"\n", args...)
		}
	}
	s, err := OpenCache(dir, e, len(prompts))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	cache := s.Cache

	ids := make([]semcache.ID, len(prompts))
	res.HeapBefore = harness.HeapInUse()
	t0 := time.Now()
	keys := make([]semcache.Key, 0, typoChunk)
	for lo := 0; lo < len(prompts); lo += typoChunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(lo+typoChunk, len(prompts))
		tk := time.Now()
		keys = keys[:0]
		for _, p := range prompts[lo:hi] {
			k, err := Key(p)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
		te := time.Now()
		res.KeyTime += te.Sub(tk)
		vecs, err := EmbedKeys(ctx, e, keys)
		if err != nil {
			return nil, err
		}
		tp := time.Now()
		res.EmbedTime += tp.Sub(te)
		for i, k := range keys {
			entry := NewEntry(k, lo+i)
			ids[lo+i] = entry.ID
			if err := cache.Put(entry, vecs[i]); err != nil {
				return nil, err
			}
		}
		res.PutTime += time.Since(tp)
		if hi%100_000 < typoChunk || hi == len(prompts) {
			progress("inserted %d/%d (%s)", hi, len(prompts), time.Since(t0).Round(time.Second))
		}
	}
	clear(keys)
	keys = nil
	res.HeapAfter = harness.HeapInUse()
	res.RSSAfter = harness.ProcStatus("VmRSS")

	// The lookups: typo'd prompts, keyed and embedded up front.
	type lookup struct {
		i      int
		prompt string
		id     semcache.ID
		part   semcache.ID
		sem    bool
		vec    []float32
	}
	var ls []lookup
	for i, p := range prompts {
		t, ok := Typo(p)
		if !ok {
			res.Skipped++
			continue
		}
		k, err := Key(t)
		if err != nil {
			return nil, err
		}
		id, _ := semcache.ParseID(k.Exact)
		part, _ := semcache.ParseID(k.Partition)
		ls = append(ls, lookup{i: i, prompt: k.Prompt, id: id, part: part, sem: k.Semantic})
		if e != nil {
			keys = append(keys, k)
		}
	}
	if e != nil {
		progress("embedding %d lookups", len(ls))
		vecs, err := EmbedKeys(ctx, e, keys)
		if err != nil {
			return nil, err
		}
		for i := range ls {
			ls[i].vec = vecs[i]
		}
		keys = nil
	}
	res.Lookups = len(ls)
	lat := make([]time.Duration, 0, len(ls))
	for round := 0; round < rounds; round++ {
		first := round == 0
		lat = lat[:0]
		for n, l := range ls {
			if n%50_000 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				if n > 0 && first {
					progress("round %d: looked up %d/%d", round+1, n, len(ls))
				}
			}
			hit, err := cache.GetExact(l.id, 0)
			if err != nil && !errors.Is(err, semcache.ErrNotFound) {
				return nil, err
			}
			var best, rej *semcache.Candidate
			if hit == nil && l.sem {
				q := semcache.Query{Part: l.part, Vec: l.vec, Prompt: l.prompt, Verify: cfg.Verifier, Check: cfg.Guard}
				ts := time.Now()
				best, rej, err = cache.FindSemantic(&q)
				took := time.Since(ts)
				lat = append(lat, took)
				if first {
					res.LookupTime += took
				}
				if err != nil {
					return nil, err
				}
				if best != nil {
					hit = best.Entry
				}
			}
			if !first {
				continue
			}
			ex := TypoExample{Cached: prompts[l.i], Lookup: l.prompt}
			if best != nil {
				ex.Score, ex.Verdict = best.Score, best.Verdict.String()
			}
			switch {
			case hit == nil:
				res.Miss++
				rule := "no candidate"
				if rej != nil {
					rule = string(rej.Verdict.Rule)
					ex.Served, ex.Score, ex.Verdict = rej.Entry.Prompt, rej.Score, rej.Verdict.String()
					ex.Rule = rule
				}
				res.MissRules[rule]++
				if len(res.MissExamples[rule]) < 3 {
					res.MissExamples[rule] = append(res.MissExamples[rule], ex)
				}
			case hit.ID == ids[l.i]:
				res.Right++
				if best == nil {
					res.Exact++
				}
			default:
				res.Wrong++
				if best == nil {
					res.Exact++
				}
				if cfg.Verifier.Verify(hit.Prompt, prompts[l.i], 0).OK {
					res.WrongEquivalent++
				}
				ex.Served = hit.Prompt
				if len(res.WrongExamples) < 10 {
					res.WrongExamples = append(res.WrongExamples, ex)
				}
			}
		}
		sorted := slices.Clone(lat)
		slices.Sort(sorted)
		res.P50 = append(res.P50, percentile(sorted, 0.50))
		res.P99 = append(res.P99, percentile(sorted, 0.99))
		progress("round %d: p50 %s p99 %s", round+1, res.P50[round], res.P99[round])
	}
	return res, nil
}

// percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// PeakRSS is the process's peak resident set in bytes (0: unknown).
func PeakRSS() uint64 { return harness.ProcStatus("VmHWM") }

// SortedRules returns rule counts, most frequent first.
func SortedRules(m map[string]int) []RuleCount {
	out := make([]RuleCount, 0, len(m))
	for k, v := range m {
		out = append(out, RuleCount{k, v})
	}
	slices.SortFunc(out, func(a, b RuleCount) int {
		if c := cmp.Compare(b.N, a.N); c != 0 {
			return c
		}
		return cmp.Compare(a.Rule, b.Rule)
	})
	return out
}

// RuleCount is a rule and how often it came up.
type RuleCount struct {
	Rule string
	N    int
}
