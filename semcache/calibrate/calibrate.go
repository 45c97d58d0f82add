// Package calibrate measures, over labelled prompt pairs, how many
// duplicates the semantic tier would serve and how many wrong answers, per
// similarity threshold, for any embedder with the verifier in the loop; and
// picks the threshold for a target false-hit rate. `semgate calibrate` is its
// command line.
//
// The protocol is pairwise: pair (a, b) is a hit at threshold t when b is a
// lossless copy of a (the exact tier), or when the embedding similarity of
// the two reaches t and the verifier explains every difference. A hit on a
// pair labelled a duplicate is correct; a hit on any other pair is false.
//
// Input files are JSON lines of {"a","b","label"} (label 1 = same answer is
// right, 0 = it is not; the format of qqp_dev.jsonl) or {"a","b","expect"}
// (expect "hit" or "miss"; the format of adversarial_dev.jsonl), or a JSON
// array of {"origin","similar"} (all duplicates; gptcache_mock_data.json).
package calibrate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/semgate/semgate/semcache/verify"
)

// ErrFormat is returned (wrapped) for a file that is not one of the
// supported formats.
var ErrFormat = errors.New("calibrate: unsupported pair file")

// Pair is one labelled pair: a is the cached prompt, b the incoming one.
type Pair struct {
	A, B      string
	Duplicate bool
	Source    string // file name and line, for reports
}

// Load reads pairs from a file, or from every supported file in a
// directory (qqp_dev.jsonl, adversarial_dev.jsonl, gptcache_mock_data.json,
// and any other *.jsonl). max > 0 keeps the first max pairs of each file.
func Load(path string, max int) ([]Pair, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return loadFile(path, max)
	}
	files, err := filepath.Glob(filepath.Join(path, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	if g := filepath.Join(path, "gptcache_mock_data.json"); exists(g) {
		files = append(files, g)
	}
	var out []Pair
	for _, f := range files {
		ps, err := loadFile(f, max)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func loadFile(path string, max int) ([]Pair, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(path)
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		var rows []struct {
			Origin  *string `json:"origin"`
			Similar *string `json:"similar"`
		}
		if err := json.Unmarshal(t, &rows); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrFormat, name, err)
		}
		var out []Pair
		for i, r := range rows {
			if r.Origin == nil || r.Similar == nil {
				return nil, fmt.Errorf("%w: %s: element %d needs \"origin\" and \"similar\"", ErrFormat, name, i)
			}
			out = append(out, Pair{A: *r.Origin, B: *r.Similar, Duplicate: true, Source: fmt.Sprintf("%s[%d]", name, i)})
			if max > 0 && len(out) == max {
				break
			}
		}
		return out, nil
	}
	var out []Pair
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r struct {
			A      *string `json:"a"`
			B      *string `json:"b"`
			Label  *int    `json:"label"`
			Expect *string `json:"expect"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%w: %s:%d: %w", ErrFormat, name, line, err)
		}
		if r.A == nil || r.B == nil {
			return nil, fmt.Errorf("%w: %s:%d: needs \"a\" and \"b\"", ErrFormat, name, line)
		}
		p := Pair{A: *r.A, B: *r.B, Source: fmt.Sprintf("%s:%d", name, line)}
		switch {
		case r.Label != nil && (*r.Label == 0 || *r.Label == 1):
			p.Duplicate = *r.Label == 1
		case r.Expect != nil && (*r.Expect == "hit" || *r.Expect == "miss"):
			p.Duplicate = *r.Expect == "hit"
		default:
			return nil, fmt.Errorf("%w: %s:%d: needs \"label\" (0 or 1) or \"expect\" (\"hit\" or \"miss\")", ErrFormat, name, line)
		}
		out = append(out, p)
		if max > 0 && len(out) == max {
			break
		}
	}
	return out, sc.Err()
}

// Scored is a pair with its embedding similarity and the verifier's
// verdict.
type Scored struct {
	Pair
	Exact      bool
	Similarity float32
	Verdict    verify.Verdict
}

// Score runs the verifier over pairs whose similarities are given.
func Score(pairs []Pair, sims []float32, v *verify.Verifier) []Scored {
	out := make([]Scored, len(pairs))
	for i, p := range pairs {
		s := Scored{Pair: p, Similarity: sims[i]}
		s.Exact = verify.Lossless(p.A) == verify.Lossless(p.B)
		if !s.Exact {
			s.Verdict = v.Verify(p.A, p.B, sims[i])
		}
		out[i] = s
	}
	return out
}

// Row is the result at one threshold.
type Row struct {
	Threshold float64
	// Positives and Negatives: pairs labelled duplicates or not.
	Positives, Negatives int
	// Hits on positives and on negatives, with the verifier.
	Correct, False int
	// Without the verifier (similarity alone), for comparison.
	CorrectSimOnly, FalseSimOnly int
}

// Recall is correct hits per positive.
func (r Row) Recall() float64 { return ratio(r.Correct, r.Positives) }

// FalseHitRate is false hits per negative.
func (r Row) FalseHitRate() float64 { return ratio(r.False, r.Negatives) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Sweep computes a row per threshold.
func Sweep(scored []Scored, thresholds []float64) []Row {
	rows := make([]Row, len(thresholds))
	for k, t := range thresholds {
		r := Row{Threshold: t}
		for _, s := range scored {
			if s.Duplicate {
				r.Positives++
			} else {
				r.Negatives++
			}
			similar := float64(s.Similarity) >= t-1e-9
			hit := s.Exact || similar && s.Verdict.OK
			simOnly := s.Exact || similar
			switch {
			case hit && s.Duplicate:
				r.Correct++
			case hit:
				r.False++
			}
			switch {
			case simOnly && s.Duplicate:
				r.CorrectSimOnly++
			case simOnly:
				r.FalseSimOnly++
			}
		}
		rows[k] = r
	}
	return rows
}

// Best returns the row with the highest recall whose false-hit rate is at
// most target (the lowest such threshold on ties), and false if none.
func Best(rows []Row, target float64) (Row, bool) {
	var best Row
	found := false
	for _, r := range rows {
		if r.FalseHitRate() <= target+1e-12 && (!found || r.Recall() > best.Recall()) {
			best, found = r, true
		}
	}
	return best, found
}

// Thresholds returns lo, lo+step, ... up to hi, rounded to 1e-4.
func Thresholds(lo, hi, step float64) []float64 {
	var out []float64
	for i := 0; ; i++ {
		t := math.Round((lo+float64(i)*step)*1e4) / 1e4
		if t > hi+1e-9 || step <= 0 && i > 0 {
			return out
		}
		out = append(out, t)
	}
}

// Write prints the sweep as a table, the chosen threshold, and the false
// hits at it (up to 20, with the verifier's explanation).
func Write(w io.Writer, embedder string, scored []Scored, rows []Row, target float64) {
	fmt.Fprintf(w, "embedder %s, %d pairs\n\n", embedder, len(scored))
	fmt.Fprintf(w, "%9s  %9s  %9s  %9s  %9s  |  %s\n", "threshold", "hits", "recall", "false", "FHR", "similarity alone: recall  FHR")
	for _, r := range rows {
		fmt.Fprintf(w, "%9.3f  %9d  %8.2f%%  %9d  %8.3f%%  |  %8.2f%%  %8.3f%%\n", r.Threshold, r.Correct, 100*r.Recall(), r.False,
			100*r.FalseHitRate(), 100*ratio(r.CorrectSimOnly, r.Positives), 100*ratio(r.FalseSimOnly, r.Negatives))
	}
	best, ok := Best(rows, target)
	if !ok {
		fmt.Fprintf(w, "\nno threshold keeps the false-hit rate at or under %.3f%%\n", 100*target)
		return
	}
	fmt.Fprintf(w, "\nthreshold for a false-hit rate <= %.3f%%: %.3f (recall %.2f%% of %d duplicates, %d false hits of %d non-duplicates)\n",
		100*target, best.Threshold, 100*best.Recall(), best.Positives, best.False, best.Negatives)
	fmt.Fprintf(w, "set it with:  cache: {threshold: %.3f}\n", best.Threshold)
	n := 0
	for _, s := range scored {
		if s.Duplicate || !(s.Exact || float64(s.Similarity) >= best.Threshold-1e-9 && s.Verdict.OK) {
			continue
		}
		if n == 0 {
			fmt.Fprintln(w, "\nfalse hits at that threshold (pairs labelled different that were served):")
		}
		if n++; n > 20 {
			fmt.Fprintln(w, "  ...")
			break
		}
		fmt.Fprintf(w, "  %s  sim %.3f  %q / %q  %s\n", s.Source, s.Similarity, s.A, s.B, s.Verdict)
	}
}
