// Command quality measures how well use-lite-en separates paraphrases from
// near-misses, side by side with the lexical embedder, on the evaluation
// data in ../shared/data (see its README):
//
//	go run ./embed/use/cmd/quality            # from the repo root
//	go run ./embed/use/cmd/quality -pairs 60640
//
// QQP: for the first -pairs pairs of qqp_dev.jsonl, cosine(a, b) under each
// embedder; a threshold sweep gives the best recall (label-1 pairs at or
// above it) whose false-hit rate (label-0 pairs at or above it) is at most
// -fhr, without and with the content guard (semcache's default Guard,
// which must pass too for a hit).
//
// GPTCache mock data: every origin is cached, every similar text looks up
// its nearest origin; at the QQP threshold (guard on), a hit is correct
// when the nearest origin is the text's own, wrong otherwise.
//
// Exits 0 with a note when the data is absent.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/semgate/semgate/embed"
	"github.com/semgate/semgate/embed/use"
	"github.com/semgate/semgate/semcache"
)

func main() {
	dataDir := flag.String("data", "", "directory of qqp_dev.jsonl and gptcache_mock_data.json (default: the first ../shared/data found upwards)")
	pairs := flag.Int("pairs", 4000, "QQP pairs to use, from the start of the file")
	fhr := flag.Float64("fhr", 0.005, "largest false-hit rate allowed")
	dump := flag.String("dump", "", "also write per-pair features (label, cosines, guard verdict, texts) as JSON lines to this file")
	flag.Parse()
	dumpPath = *dump
	if *dataDir == "" {
		*dataDir = findData()
	}
	if *dataDir == "" {
		fmt.Println("quality: ../shared/data not found; nothing measured")
		return
	}
	if err := run(*dataDir, *pairs, *fhr); err != nil {
		fmt.Fprintln(os.Stderr, "quality:", err)
		os.Exit(1)
	}
}

func findData() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for range 6 {
		d := filepath.Join(dir, "..", "shared", "data")
		if _, err := os.Stat(filepath.Join(d, "qqp_dev.jsonl")); err == nil {
			return d
		}
		dir = filepath.Dir(dir)
	}
	return ""
}

// dumpPath is -dump.
var dumpPath string

type pair struct {
	A, B  string
	Label int
}

func run(dir string, n int, maxFHR float64) error {
	qqp, err := loadQQP(filepath.Join(dir, "qqp_dev.jsonl"), n)
	if err != nil {
		return err
	}
	var mock []struct{ Origin, Similar string }
	b, err := os.ReadFile(filepath.Join(dir, "gptcache_mock_data.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &mock); err != nil {
		return err
	}
	guard := semcache.NewGuard(semcache.GuardOptions{})
	guardOK := make([]bool, len(qqp))
	for i, p := range qqp {
		guardOK[i], _ = guard.Check(p.A, p.B)
	}
	u, err := use.New(use.Options{})
	if err != nil {
		return err
	}
	lex, err := embed.New(embed.Options{CacheSize: -1})
	if err != nil {
		return err
	}
	pos := 0
	for _, p := range qqp {
		pos += p.Label
	}
	fmt.Printf("QQP: %d pairs (%d duplicates, %d not); recall at false-hit rate <= %.2f%%\n", len(qqp), pos, len(qqp)-pos, 100*maxFHR)
	fmt.Printf("GPTCache mock: %d paraphrase pairs, all origins cached\n\n", len(mock))
	cosBy := map[string][]float64{}
	fmt.Printf("%-26s %-6s %9s %8s %8s   %-28s %s\n", "embedder", "guard", "threshold", "recall", "FHR", "mock hits / wrong (of N)", "embed time")
	for _, e := range []embed.Embedder{u, lex} {
		t0 := time.Now()
		as, bs := make([]string, len(qqp)), make([]string, len(qqp))
		for i, p := range qqp {
			as[i], bs[i] = p.A, p.B
		}
		va, err := e.Embed(context.Background(), as)
		if err != nil {
			return err
		}
		vb, err := e.Embed(context.Background(), bs)
		if err != nil {
			return err
		}
		origins, similars := make([]string, len(mock)), make([]string, len(mock))
		for i, m := range mock {
			origins[i], similars[i] = m.Origin, m.Similar
		}
		vo, err := e.Embed(context.Background(), origins)
		if err != nil {
			return err
		}
		vs, err := e.Embed(context.Background(), similars)
		if err != nil {
			return err
		}
		elapsed := time.Since(t0)
		cos := make([]float64, len(qqp))
		for i := range qqp {
			cos[i] = dot(va[i], vb[i])
		}
		cosBy[e.ID()] = cos
		for _, withGuard := range []bool{false, true} {
			thr, recall, rate := sweep(qqp, cos, guardOK, withGuard, maxFHR)
			hits, wrong := mockReplay(mock, vo, vs, guard, withGuard, thr)
			g := "off"
			if withGuard {
				g = "on"
			}
			fmt.Printf("%-26s %-6s %9.4f %7.2f%% %7.2f%%   %5d / %-5d (of %d)         %s\n", e.ID(), g, thr, 100*recall, 100*rate, hits, wrong, len(mock), elapsed.Round(time.Millisecond))
		}
		for _, rate := range []float64{0.01, 0.02} {
			thr, recall, got := sweep(qqp, cos, guardOK, true, rate)
			fmt.Printf("%-26s %-6s %9.4f %7.2f%% %7.2f%%   (FHR budget %.0f%%)\n", e.ID(), "on", thr, 100*recall, 100*got, 100*rate)
		}
		line := fmt.Sprintf("%-26s mock hits / wrong, guard on, by threshold:", e.ID())
		for _, thr := range []float64{0.8, 0.85, 0.9, 0.95} {
			hits, wrong := mockReplay(mock, vo, vs, guard, true, thr)
			line += fmt.Sprintf("  %.2f: %d / %d", thr, hits, wrong)
		}
		fmt.Println(line)
	}
	combine(qqp, guardOK, cosBy[u.ID()], cosBy[lex.ID()], maxFHR)
	if dumpPath != "" {
		return writeDump(dumpPath, qqp, guard, cosBy)
	}
	return nil
}

// writeDump writes one JSON object per QQP pair: its label, each
// embedder's cosine, the guard's verdict and reason, and the texts.
func writeDump(path string, qqp []pair, guard *semcache.Guard, cosBy map[string][]float64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for i, p := range qqp {
		ok, reason := guard.Check(p.A, p.B)
		cos := map[string]float64{}
		for id, c := range cosBy {
			cos[id] = c[i]
		}
		if err := enc.Encode(map[string]any{"label": p.Label, "cos": cos, "guard": ok, "reason": reason, "a": p.A, "b": p.B}); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// combine reports, guard on, the best QQP recall within the false-hit
// budget of two ways to combine signals: a weighted sum of the two
// embedders' cosines, and use-lite-en with the cache's same-words margin
// (a pair with the same content words, semcache.SameWords, hits at
// threshold − margin, which is a sweep over cosine + margin for those
// pairs).
func combine(qqp []pair, guardOK []bool, u, l []float64, maxFHR float64) {
	fmt.Printf("\nCombined signals, guard on, recall at false-hit rate <= %.2f%%:\n", 100*maxFHR)
	score := make([]float64, len(qqp))
	for _, w := range []float64{1, 0.9, 0.8, 0.7, 0.5} {
		for i := range score {
			score[i] = w*u[i] + (1-w)*l[i]
		}
		thr, recall, rate := sweep(qqp, score, guardOK, true, maxFHR)
		fmt.Printf("  %.1f·use-lite + %.1f·lexical   threshold %.4f  recall %6.2f%%  FHR %.2f%%\n", w, 1-w, thr, 100*recall, 100*rate)
	}
	same := make([]bool, len(qqp))
	n := 0
	for i, p := range qqp {
		if same[i] = semcache.SameWords(p.A, p.B); same[i] {
			n++
		}
	}
	fmt.Printf("  (%d of %d pairs have the same content words)\n", n, len(qqp))
	for _, m := range []float64{0.01, 0.02, 0.03, 0.05, 0.1} {
		for i := range score {
			score[i] = u[i]
			if same[i] {
				score[i] += m
			}
		}
		thr, recall, rate := sweep(qqp, score, guardOK, true, maxFHR)
		fmt.Printf("  use-lite, same-words margin %.2f   threshold %.4f  recall %6.2f%%  FHR %.2f%%\n", m, thr, 100*recall, 100*rate)
	}
}

// sweep returns the threshold with the best recall whose false-hit rate is
// at most maxFHR, and that recall and rate.
func sweep(ps []pair, cos []float64, guardOK []bool, withGuard bool, maxFHR float64) (thr, recall, rate float64) {
	idx := make([]int, len(ps))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if cos[a] > cos[b] {
			return -1
		}
		if cos[a] < cos[b] {
			return 1
		}
		return 0
	})
	var pos, neg int
	for _, p := range ps {
		if p.Label == 1 {
			pos++
		} else {
			neg++
		}
	}
	thr = math.Inf(1)
	tp, fp := 0, 0
	for k, i := range idx {
		if !withGuard || guardOK[i] {
			if ps[i].Label == 1 {
				tp++
			} else {
				fp++
			}
		}
		// A threshold at cos[i] admits every pair with an equal cosine.
		if k+1 < len(idx) && cos[idx[k+1]] == cos[i] {
			continue
		}
		if float64(fp)/float64(neg) > maxFHR {
			break
		}
		thr, recall, rate = cos[i], float64(tp)/float64(pos), float64(fp)/float64(neg)
	}
	return thr, recall, rate
}

// mockReplay looks up every similar text's nearest origin; a hit is a
// nearest origin at or above thr (and passing the guard when withGuard);
// wrong hits return another pair's origin.
func mockReplay(mock []struct{ Origin, Similar string }, vo, vs [][]float32, guard *semcache.Guard, withGuard bool, thr float64) (hits, wrong int) {
	for i := range mock {
		best, bi := math.Inf(-1), -1
		for j := range vo {
			if c := dot(vs[i], vo[j]); c > best {
				best, bi = c, j
			}
		}
		if best < thr {
			continue
		}
		if withGuard {
			if ok, _ := guard.Check(mock[bi].Origin, mock[i].Similar); !ok {
				continue
			}
		}
		hits++
		if bi != i {
			wrong++
		}
	}
	return hits, wrong
}

func loadQQP(path string, n int) ([]pair, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ps []pair
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() && len(ps) < n {
		var p pair
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, sc.Err()
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}
