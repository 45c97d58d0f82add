// Package quality is the `quality` benchmark scenario: it replays the
// paraphrase pairs in ../shared/data through semgate's cache layer (keys,
// exact tier, embedder, partition index, content guard; no HTTP) and
// measures, per similarity threshold, how many duplicates hit and how many
// hits are wrong.
//
// The protocol is the data README's: every "a" (or "origin") is inserted
// into an empty cache as a cached prompt with its own answer; every "b"
// (or "similar") is looked up. A hit on a label-1 pair that returns that
// pair's own answer is correct; a hit on a label-0 pair, or one that
// returns another pair's answer, is false. Prompts that appear in several
// pairs share one cache entry, so returning an entry whose prompt equals
// the pair's own "a" counts as its own answer.
package quality

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/semgate/semgate/embed"
	"github.com/semgate/semgate/semcache"
)

// Pair is one evaluation pair.
type Pair struct {
	A, B  string
	Label int // 1: duplicates (a hit is right); 0: not
}

// LoadQQP reads qqp_dev.jsonl, keeping at most max pairs (0: all).
func LoadQQP(path string, max int) ([]Pair, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Pair
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var p struct {
			A     string `json:"a"`
			B     string `json:"b"`
			Label int    `json:"label"`
		}
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, Pair{p.A, p.B, p.Label})
		if max > 0 && len(out) == max {
			break
		}
	}
	return out, sc.Err()
}

// LoadGPTCache reads gptcache_mock_data.json; every pair is a duplicate.
func LoadGPTCache(path string) ([]Pair, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		Origin  string `json:"origin"`
		Similar string `json:"similar"`
	}
	if err := json.Unmarshal(b, &rows); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make([]Pair, len(rows))
	for i, r := range rows {
		out[i] = Pair{r.Origin, r.Similar, 1}
	}
	return out, nil
}

// Outcome is what one lookup found.
type Outcome struct {
	Label int
	// Exact: the lookup hit the exact tier; Right tells whether the answer
	// was the pair's own, Identical that it was another pair's entry for the
	// identical (normalized) question.
	Exact     bool
	Right     bool
	Identical bool
	// Guarded is the similarity of the best candidate that passed the
	// guard (0: none); GuardedRight whether it was the pair's own answer.
	Guarded      float32
	GuardedRight bool
	// Unguarded is the best candidate's similarity regardless of the
	// guard; UnguardedRight whether it was the pair's own answer.
	Unguarded      float32
	UnguardedRight bool
	// SameWords and SameWordsUnguarded are the similarities of the best
	// candidate with the same words as the lookup (semcache.SameWords),
	// passing the guard or regardless of it (0: none); the Right fields
	// whether it was the pair's own answer. With a margin, such a
	// candidate hits at threshold − margin.
	SameWords, SameWordsUnguarded           float32
	SameWordsRight, SameWordsUnguardedRight bool
}

// Replay inserts every pair's A into a fresh cache in dir and looks up
// every B, returning one Outcome per pair. The cache uses one partition
// (one model, no system prompt), as an application asking independent
// questions would.
func Replay(ctx context.Context, dir string, pairs []Pair, e embed.Embedder, guard semcache.Checker) ([]Outcome, error) {
	store, err := semcache.OpenStore(semcache.StoreOptions{Dir: dir, Logger: quietLog})
	if err != nil {
		return nil, err
	}
	defer store.Close()
	cache, err := semcache.Open(store, semcache.Options{MaxEntries: 10 * len(pairs), Candidates: 8},
		semcache.CacheConfig{EmbedderID: e.ID(), Dim: e.Dim(), Logger: quietLog})
	if err != nil {
		return nil, err
	}
	defer cache.Close()

	keys := make([]semcache.Key, len(pairs))
	for i, p := range pairs {
		if keys[i], err = key(p.A); err != nil {
			return nil, err
		}
	}
	vecs, err := embedAll(ctx, e, keys)
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		id, _ := semcache.ParseID(k.Exact)
		part, _ := semcache.ParseID(k.Partition)
		entry := &semcache.Entry{ID: id, Partition: part, Kind: "chat", Model: "m", Prompt: k.Prompt,
			Body: json.RawMessage(`{"answer":` + fmt.Sprint(i) + `}`)}
		if err := cache.Put(entry, vecs[i]); err != nil {
			return nil, err
		}
	}

	qkeys := make([]semcache.Key, len(pairs))
	for i, p := range pairs {
		if qkeys[i], err = key(p.B); err != nil {
			return nil, err
		}
	}
	qvecs, err := embedAll(ctx, e, qkeys)
	if err != nil {
		return nil, err
	}
	out := make([]Outcome, len(pairs))
	for i, p := range pairs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		o := Outcome{Label: p.Label}
		own := keys[i].Normalized
		id, _ := semcache.ParseID(qkeys[i].Exact)
		part, _ := semcache.ParseID(qkeys[i].Partition)
		if hit, err := cache.GetExact(id, 0); err == nil {
			o.Exact, o.Right = true, semcache.Normalize(hit.Prompt) == own
			o.Identical = !o.Right && semcache.Normalize(hit.Prompt) == qkeys[i].Normalized
		} else if !errors.Is(err, semcache.ErrNotFound) {
			return nil, err
		} else {
			// Threshold 0 returns the best candidate (passing the guard);
			// Threshold 2, which no candidate reaches, with a positive
			// SameWordsThreshold returns the best one with the same words.
			find := func(q semcache.Query, check semcache.Checker) (float32, bool, error) {
				q.Part, q.Vec, q.Prompt, q.Check = part, qvecs[i], qkeys[i].Prompt, check
				cand, _, err := cache.FindSemantic(&q)
				if err != nil || cand == nil {
					return 0, false, err
				}
				return cand.Score, semcache.Normalize(cand.Entry.Prompt) == own, nil
			}
			best, same := semcache.Query{}, semcache.Query{Threshold: 2, SameWordsThreshold: 1e-9}
			if o.Unguarded, o.UnguardedRight, err = find(best, nil); err != nil {
				return nil, err
			}
			if o.SameWordsUnguarded, o.SameWordsUnguardedRight, err = find(same, nil); err != nil {
				return nil, err
			}
			o.Guarded, o.GuardedRight, o.SameWords, o.SameWordsRight = o.Unguarded, o.UnguardedRight, o.SameWordsUnguarded, o.SameWordsUnguardedRight
			if guard != nil {
				if o.Guarded, o.GuardedRight, err = find(best, guard); err != nil {
					return nil, err
				}
				if o.SameWords, o.SameWordsRight, err = find(same, guard); err != nil {
					return nil, err
				}
			}
		}
		out[i] = o
	}
	return out, nil
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func key(prompt string) (semcache.Key, error) {
	body, _ := json.Marshal(map[string]any{"model": "m", "messages": []map[string]string{{"role": "user", "content": prompt}}})
	return semcache.MakeKey(semcache.KeyInput{Tenant: "default", Model: "m", Endpoint: "chat", Body: body}, semcache.KeyOptions{})
}

// embedAll embeds the normalized prompts in batches.
func embedAll(ctx context.Context, e embed.Embedder, keys []semcache.Key) ([][]float32, error) {
	out := make([][]float32, 0, len(keys))
	const batch = 256
	for i := 0; i < len(keys); i += batch {
		texts := make([]string, 0, batch)
		for _, k := range keys[i:min(i+batch, len(keys))] {
			texts = append(texts, k.Normalized)
		}
		v, err := e.Embed(ctx, texts)
		if err != nil {
			return nil, err
		}
		out = append(out, v...)
	}
	return out, nil
}

// Row is the result at one threshold.
type Row struct {
	Threshold float64
	// Lookups of positive (label 1) and negative (label 0) pairs.
	Positives, Negatives int
	// CorrectHits: hits on positives that returned the pair's own answer.
	// FalseHits: hits on negatives plus hits that returned another answer.
	// FalseOnNegatives: hits on negatives only (the false-hit rate's
	// numerator).
	CorrectHits, FalseHits, FalseOnNegatives int
	// Identical: exact hits on another pair's entry for the same question
	// (see the package doc); neither correct nor false.
	Identical                       int
	Recall, FalseHitRate, Precision float64
}

// Sweep turns outcomes into one Row per threshold, with the guard
// (guarded) or without it; a candidate with the same words as the lookup
// hits at threshold − margin (0: no such rule), as in the cache.
func Sweep(outcomes []Outcome, thresholds []float64, guarded bool, margin float64) []Row {
	rows := make([]Row, 0, len(thresholds))
	for _, t := range thresholds {
		r := Row{Threshold: t}
		for _, o := range outcomes {
			if o.Label == 1 {
				r.Positives++
			} else {
				r.Negatives++
			}
			hit, right := o.Exact, o.Right
			if !hit {
				score, ok := o.Unguarded, o.UnguardedRight
				same, sameOK := o.SameWordsUnguarded, o.SameWordsUnguardedRight
				if guarded {
					score, ok = o.Guarded, o.GuardedRight
					same, sameOK = o.SameWords, o.SameWordsRight
				}
				// float32, as the cache compares
				hit, right = score > 0 && score >= float32(t), ok
				if !hit && margin > 0 && same > 0 && same >= float32(t-margin) {
					hit, right = true, sameOK
				}
			}
			switch {
			case !hit:
			case o.Identical:
				r.Identical++
			case o.Label == 1 && right:
				r.CorrectHits++
			default:
				r.FalseHits++
				if o.Label == 0 {
					r.FalseOnNegatives++
				}
			}
		}
		if r.Positives > 0 {
			r.Recall = float64(r.CorrectHits) / float64(r.Positives)
		}
		if r.Negatives > 0 {
			r.FalseHitRate = float64(r.FalseOnNegatives) / float64(r.Negatives)
		}
		if hits := r.CorrectHits + r.FalseHits; hits > 0 {
			r.Precision = float64(r.CorrectHits) / float64(hits)
		}
		rows = append(rows, r)
	}
	return rows
}

// BestAt returns the row with the highest recall whose false-hit rate is
// at most maxFHR, and whether there is one.
func BestAt(rows []Row, maxFHR float64) (Row, bool) {
	var best Row
	found := false
	for _, r := range rows {
		if r.FalseHitRate <= maxFHR && (!found || r.Recall > best.Recall) {
			best, found = r, true
		}
	}
	return best, found
}

// Thresholds returns lo, lo+step, ..., hi.
func Thresholds(lo, hi, step float64) []float64 {
	var out []float64
	for i := 0; ; i++ {
		t := lo + float64(i)*step
		if t > hi+1e-9 {
			return out
		}
		out = append(out, float64(int(t*1000+0.5))/1000)
	}
}

// DataDir finds ../shared/data from the repository root or a subdirectory.
func DataDir() (string, bool) {
	for _, d := range []string{"../shared/data", "../../shared/data", "../../../shared/data"} {
		if st, err := os.Stat(filepath.Join(d, "qqp_dev.jsonl")); err == nil && !st.IsDir() {
			abs, _ := filepath.Abs(d)
			return abs, true
		}
	}
	return "", false
}
