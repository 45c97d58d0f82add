// Package quality is the `quality` benchmark scenario: it replays the
// paraphrase pairs in ../shared/data through semgate's cache layer (keys,
// exact tier, embedder, partition index, word-key channel, verifier,
// optional content guard; no HTTP) and measures, per similarity
// threshold, how many duplicates hit and how many hits are wrong.
//
// The protocol is the data README's: every "a" (or "origin") is inserted
// into an empty cache as a cached prompt with its own answer; every "b"
// (or "similar") is looked up: first the exact tier (lossless key), then
// Cache.FindSemantic, whose candidates (nearest vectors and entries with
// the same words or one word changed) must each be explained by the
// verifier. A hit on a label-1 pair that returns that pair's own answer is
// correct; a hit on a label-0 pair, or one that returns another pair's
// answer, is false.
//
// Two rules keep the count honest where the data repeats itself:
//
//   - Own answer: an entry whose prompt normalizes (semcache.Normalize) to
//     the pair's own "a" is the pair's own answer, since the same question
//     recurs in several pairs, sometimes with other case or punctuation.
//   - Identical question: a hit whose entry's prompt normalizes to the
//     looked-up "b" itself (another pair's "a" with the same text) is
//     neither correct nor false: the cache served the answer to the very
//     question asked. It is counted apart (Row.Identical).
//
// Lookups run with Threshold 0 and record the first verified candidate's
// similarity: candidates are tried most similar first, so that candidate
// is also what the cache serves at any threshold t at or below its
// similarity, and nothing is served above it. Sweep applies the thresholds
// afterwards. A candidate of unknown similarity (no vector, e.g. without
// an embedder) hits at every threshold, as in the cache.
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
	"strings"
	"time"

	"github.com/semgate/semgate/embed"
	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/hnsw"
	"github.com/semgate/semgate/semcache/verify"
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
	// Exact: the lookup hit the exact tier (it hits at every threshold).
	Exact bool
	// Found: the semantic tier had a verified candidate (passing the guard
	// when there is one); Score is its similarity (0: unknown, hits at
	// every threshold), Channel how it was found, Verdict the verifier's
	// explanation.
	Found   bool
	Score   float32
	Channel semcache.Channel
	Verdict string
	// Right: the hit (exact or semantic) returned the pair's own answer;
	// Identical: another entry whose prompt is the looked-up question
	// itself (see the package doc).
	Right, Identical bool
	// Served is the served entry's prompt (exact or semantic hit).
	Served string
	// Rejected is the most similar candidate the verifier or the guard
	// refused (RejectedRule empty: none), for diagnostics.
	RejectedRule    string
	RejectedScore   float32
	RejectedVerdict string
	RejectedPrompt  string
	// RejectedSole is the class of the refused candidate's only
	// unexplained difference ("" when several, or none refused).
	RejectedSole string
}

// HitAt reports whether the lookup is served at threshold t.
func (o *Outcome) HitAt(t float64) bool {
	return o.Exact || (o.Found && (o.Score == 0 || o.Score >= float32(t))) // float32, as the cache compares
}

// Setup is the cache a replay builds.
type Setup struct {
	Store *semcache.Store
	Cache *semcache.Cache
}

// Close closes the cache and its store.
func (s *Setup) Close() error {
	return errors.Join(s.Cache.Close(), s.Store.Close())
}

// OpenCache opens an empty cache in dir configured as the gateway's
// (HNSW partition index, an exact scan up to 10,000 vectors; the default
// number of nearest candidates), with room for maxEntries entries and no
// eviction or expiry during a run. e may be nil: no vectors (the word
// channel only).
func OpenCache(dir string, e embed.Embedder, maxEntries int) (*Setup, error) {
	store, err := semcache.OpenStore(semcache.StoreOptions{Dir: dir, Logger: quietLog})
	if err != nil {
		return nil, err
	}
	cc := semcache.CacheConfig{Logger: quietLog}
	if e != nil {
		cc.EmbedderID, cc.Dim = e.ID(), e.Dim()
		cc.NewIndex = func(dim int) semcache.Index { return hnsw.New(dim, hnsw.Options{}) }
	}
	o := semcache.Options{NoSync: true, MaxEntries: max(2*maxEntries, 1000), MaxBytes: 1 << 40, TTL: 1000 * time.Hour, SweepInterval: 1000 * time.Hour}
	cache, err := semcache.Open(store, o, cc)
	if err != nil {
		store.Close()
		return nil, err
	}
	return &Setup{Store: store, Cache: cache}, nil
}

// Replay inserts every pair's A into a fresh cache in dir and looks up
// every B, returning one Outcome per pair. The cache uses one partition
// (one model, no system prompt), as an application asking independent
// questions would. e may be nil (no embedder: the word channel only);
// guard may be nil (no content guard).
func Replay(ctx context.Context, dir string, pairs []Pair, e embed.Embedder, v semcache.Verifier, guard semcache.Checker) ([]Outcome, error) {
	s, err := OpenCache(dir, e, len(pairs))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	cache := s.Cache

	keys := make([]semcache.Key, len(pairs))
	for i, p := range pairs {
		if keys[i], err = Key(p.A); err != nil {
			return nil, err
		}
	}
	vecs, err := EmbedKeys(ctx, e, keys)
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		if err := cache.Put(NewEntry(k, i), vecs[i]); err != nil {
			return nil, err
		}
	}

	qkeys := make([]semcache.Key, len(pairs))
	for i, p := range pairs {
		if qkeys[i], err = Key(p.B); err != nil {
			return nil, err
		}
	}
	qvecs, err := EmbedKeys(ctx, e, qkeys)
	if err != nil {
		return nil, err
	}
	out := make([]Outcome, len(pairs))
	for i, p := range pairs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		o := Outcome{Label: p.Label}
		own, asked := keys[i].Normalized, qkeys[i].Normalized
		judge := func(prompt string) {
			n := semcache.Normalize(prompt)
			o.Served = prompt
			o.Right = n == own
			o.Identical = !o.Right && n == asked
		}
		id, _ := semcache.ParseID(qkeys[i].Exact)
		part, _ := semcache.ParseID(qkeys[i].Partition)
		hit, err := cache.GetExact(id, 0)
		switch {
		case err == nil:
			o.Exact = true
			judge(hit.Prompt)
		case !errors.Is(err, semcache.ErrNotFound):
			return nil, err
		case qkeys[i].Semantic:
			q := semcache.Query{Part: part, Vec: qvecs[i], Prompt: qkeys[i].Prompt, Verify: v, Check: guard}
			best, rej, err := cache.FindSemantic(&q)
			if err != nil {
				return nil, err
			}
			if best != nil {
				o.Found, o.Score, o.Channel, o.Verdict = true, best.Score, best.Channel, best.Verdict.String()
				judge(best.Entry.Prompt)
			}
			if rej != nil {
				o.RejectedRule, o.RejectedScore = string(rej.Verdict.Rule), rej.Score
				o.RejectedVerdict, o.RejectedPrompt = rej.Verdict.String(), rej.Entry.Prompt
				o.RejectedSole = SoleBlocker(rej.Verdict)
			}
		}
		out[i] = o
	}
	return out, nil
}

// SoleBlocker returns the class of a refused verdict's only unexplained
// difference ("" when it has several, or when the guard refused: its
// rule starts with "guard:" and the verifier's differences are all
// explained).
func SoleBlocker(v verify.Verdict) string {
	if strings.HasPrefix(string(v.Rule), "guard:") {
		return string(v.Rule)
	}
	sole := ""
	for _, d := range v.Diffs {
		if d.OK {
			continue
		}
		if sole != "" {
			return ""
		}
		sole = string(d.Class)
	}
	return sole
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// Key is the cache key of a one-message chat request for model "m".
func Key(prompt string) (semcache.Key, error) {
	body, err := json.Marshal(map[string]any{"model": "m", "messages": []map[string]string{{"role": "user", "content": prompt}}})
	if err != nil {
		return semcache.Key{}, err
	}
	return semcache.MakeKey(semcache.KeyInput{Tenant: "default", Model: "m", Endpoint: "chat", Body: body}, semcache.KeyOptions{})
}

// NewEntry is the cache entry of k, whose answer is {"answer":n}; it
// joins the word channel when the key allows the semantic tier.
func NewEntry(k semcache.Key, n int) *semcache.Entry {
	id, _ := semcache.ParseID(k.Exact)
	part, _ := semcache.ParseID(k.Partition)
	return &semcache.Entry{ID: id, Partition: part, Kind: "chat", Model: "m", Prompt: k.Prompt,
		Body: json.RawMessage(`{"answer":` + fmt.Sprint(n) + `}`), Semantic: k.Semantic}
}

// EmbedKeys embeds the normalized prompts in batches; with no embedder it
// returns nil vectors.
func EmbedKeys(ctx context.Context, e embed.Embedder, keys []semcache.Key) ([][]float32, error) {
	texts := make([]string, len(keys))
	for i, k := range keys {
		texts[i] = k.Normalized
	}
	return EmbedTexts(ctx, e, texts)
}

// EmbedTexts embeds texts in batches of 256; with no embedder it returns
// nil vectors.
func EmbedTexts(ctx context.Context, e embed.Embedder, texts []string) ([][]float32, error) {
	if e == nil {
		return make([][]float32, len(texts)), nil
	}
	out := make([][]float32, 0, len(texts))
	const batch = 256
	for i := 0; i < len(texts); i += batch {
		v, err := e.Embed(ctx, texts[i:min(i+batch, len(texts))])
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
	// Identical: hits on another entry whose prompt is the looked-up
	// question itself (see the package doc); neither correct nor false.
	Identical int
	// Exact: hits of the exact tier, of any kind.
	Exact                           int
	Recall, FalseHitRate, Precision float64
}

// Sweep turns outcomes into one Row per threshold.
func Sweep(outcomes []Outcome, thresholds []float64) []Row {
	rows := make([]Row, 0, len(thresholds))
	for _, t := range thresholds {
		r := Row{Threshold: t}
		for i := range outcomes {
			o := &outcomes[i]
			if o.Label == 1 {
				r.Positives++
			} else {
				r.Negatives++
			}
			if !o.HitAt(t) {
				continue
			}
			if o.Exact {
				r.Exact++
			}
			switch {
			case o.Identical:
				r.Identical++
			case o.Label == 1 && o.Right:
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
// at most maxFHR (the lowest such threshold on a tie), and whether there
// is one.
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
