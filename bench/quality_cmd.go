package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/semgate/semgate/bench/quality"
	"github.com/semgate/semgate/embed"
	"github.com/semgate/semgate/semcache"
)

// runQuality is the `quality` scenario: cache-quality replay of the shared
// paraphrase data, threshold sweep, Markdown/CSV/SVG report.
func runQuality(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("quality", flag.ContinueOnError)
	data := fs.String("data", "", "directory with qqp_dev.jsonl and gptcache_mock_data.json (default: ../shared/data)")
	pairs := fs.Int("pairs", 10000, "QQP pairs to replay (0: all 60,640; the flat index makes all of them slow)")
	models := fs.String("embedders", "lexical", "comma-separated embedders to compare (embed.model values)")
	lo := fs.Float64("min", 0.50, "lowest threshold of the sweep")
	hi := fs.Float64("max", 1.00, "highest threshold of the sweep")
	step := fs.Float64("step", 0.01, "threshold step")
	margin := fs.Float64("same-words-margin", semcache.DefaultSameWordsMargin, "how much lower the threshold is for a candidate with the same words (the cache's same_words_margin; 0: off)")
	marginList := fs.String("margins", "0,0.01,0.02,0.03,0.04,0.05", "same-words margins to compare in the margin table")
	maxFHR := fs.Float64("max-fhr", 0.005, "false-hit-rate budget used to pick the recommended threshold")
	out := fs.String("out", "", "report directory (default: bench/results)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" {
		d, ok := quality.DataDir()
		if !ok {
			return fmt.Errorf("../shared/data not found; pass --data")
		}
		*data = d
	}
	if *out == "" {
		root, err := repoRoot()
		if err != nil {
			return err
		}
		*out = filepath.Join(root, "bench", "results")
	}
	qqp, err := quality.LoadQQP(filepath.Join(*data, "qqp_dev.jsonl"), *pairs)
	if err != nil {
		return err
	}
	gpt, err := quality.LoadGPTCache(filepath.Join(*data, "gptcache_mock_data.json"))
	if err != nil {
		return err
	}
	thresholds := quality.Thresholds(*lo, *hi, *step)
	var margins []float64
	for _, f := range strings.Split(*marginList, ",") {
		var m float64
		if _, err := fmt.Sscan(strings.TrimSpace(f), &m); err != nil {
			return fmt.Errorf("--margins: %q: %w", f, err)
		}
		margins = append(margins, m)
	}
	guard := semcache.NewGuard(semcache.GuardOptions{})
	stamp := time.Now().UTC().Format("20060102-150405")
	var md strings.Builder
	fmt.Fprintf(&md, "# quality: %s\n\nCommand: `go run ./bench quality %s`\n\n", stamp, strings.Join(args, " "))
	fmt.Fprintf(&md, "QQP: %d pairs from qqp_dev.jsonl; GPTCache: %d pairs. Protocol: ../shared/data/README.md.\n\n", len(qqp), len(gpt))
	var curves []quality.Curve
	colors := []string{"#0a6", "#06c", "#c60", "#909"}
	for i, name := range strings.Split(*models, ",") {
		e, err := embed.New(embed.Options{Model: strings.TrimSpace(name)})
		if err != nil {
			return err
		}
		tmp, err := os.MkdirTemp("", "semgate-quality-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		t0 := time.Now()
		outcomes, err := quality.Replay(ctx, filepath.Join(tmp, "qqp"), qqp, e, guard)
		if err != nil {
			return err
		}
		took := time.Since(t0)
		gout, err := quality.Replay(ctx, filepath.Join(tmp, "gpt"), gpt, e, guard)
		if err != nil {
			return err
		}
		guarded := quality.Sweep(outcomes, thresholds, true, *margin)
		plain := quality.Sweep(outcomes, thresholds, true, 0)
		unguarded := quality.Sweep(outcomes, thresholds, false, 0)
		gptRows := quality.Sweep(gout, thresholds, true, *margin)
		gptPlain := quality.Sweep(gout, thresholds, true, 0)
		curves = append(curves, quality.Curve{Name: fmt.Sprintf("%s + guard, same words −%.2f", e.ID(), *margin), Color: colors[i%len(colors)], Rows: guarded},
			quality.Curve{Name: e.ID() + " unguarded", Color: colors[(i+2)%len(colors)], Rows: unguarded})

		fmt.Fprintf(&md, "## %s (replay took %s)\n\n", e.ID(), took.Round(time.Millisecond))
		if best, ok := quality.BestAt(guarded, *maxFHR); ok {
			g := rowAt(gptRows, best.Threshold)
			fmt.Fprintf(&md, "**Recommended threshold %.3f** (same words: %.3f): with the guard, QQP recall %.2f%% at false-hit rate %.2f%% (%d/%d negatives), precision %.3f; GPTCache %d correct hits / %d wrong of %d.\n\n",
				best.Threshold, best.Threshold-*margin, 100*best.Recall, 100*best.FalseHitRate, best.FalseOnNegatives, best.Negatives, best.Precision, g.CorrectHits, g.FalseHits, g.Positives)
		}
		if best, ok := quality.BestAt(plain, *maxFHR); ok {
			g := rowAt(gptPlain, best.Threshold)
			fmt.Fprintf(&md, "With the guard but one threshold for all candidates (same_words_margin 0), the best threshold within the budget is %.3f: recall %.2f%% at false-hit rate %.2f%%; GPTCache %d correct / %d wrong.\n\n",
				best.Threshold, 100*best.Recall, 100*best.FalseHitRate, g.CorrectHits, g.FalseHits)
		}
		if best, ok := quality.BestAt(unguarded, *maxFHR); ok {
			fmt.Fprintf(&md, "Without the guard, the best threshold within the budget is %.2f: recall %.2f%% at false-hit rate %.2f%%.\n\n",
				best.Threshold, 100*best.Recall, 100*best.FalseHitRate)
		}
		writeMarginTable(&md, outcomes, gout, margins, *maxFHR)
		fmt.Fprintf(&md, "### QQP with the guard, same-words margin %.2f\n\n", *margin)
		quality.WriteMarkdown(&md, sparse(guarded))
		fmt.Fprintf(&md, "\n### QQP with the guard, one threshold\n\n")
		quality.WriteMarkdown(&md, sparse(plain))
		fmt.Fprintf(&md, "\n### QQP without the guard\n\n")
		quality.WriteMarkdown(&md, sparse(unguarded))
		fmt.Fprintf(&md, "\n### GPTCache paraphrases with the guard and the same-words margin (every pair is a duplicate)\n\n")
		quality.WriteMarkdown(&md, sparse(gptRows))
		md.WriteString("\n")
		base := filepath.Join(*out, "quality-"+stamp+"-"+strings.TrimSpace(name))
		for _, w := range []struct {
			suffix string
			rows   []quality.Row
		}{{"-qqp-guarded.csv", guarded}, {"-qqp-guarded-one-threshold.csv", plain}, {"-qqp-unguarded.csv", unguarded}, {"-gptcache.csv", gptRows}} {
			if err := writeFile(base+w.suffix, func(f *os.File) error { return quality.WriteCSV(f, w.rows) }); err != nil {
				return err
			}
		}
	}
	svgPath := filepath.Join(*out, "quality-"+stamp+".svg")
	if err := writeFile(svgPath, func(f *os.File) error {
		return quality.WriteSVG(f, fmt.Sprintf("QQP (%d pairs): recall and false-hit rate by threshold", len(qqp)), curves)
	}); err != nil {
		return err
	}
	fmt.Fprintf(&md, "Chart: %s\n", filepath.Base(svgPath))
	mdPath := filepath.Join(*out, "quality-"+stamp+".md")
	if err := os.WriteFile(mdPath, []byte(md.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(md.String())
	fmt.Fprintf(os.Stderr, "wrote %s, %s and CSVs\n", mdPath, svgPath)
	return nil
}

// sparse keeps every fifth row of a fine sweep, plus the last, for tables.
func sparse(rows []quality.Row) []quality.Row {
	var out []quality.Row
	for i, r := range rows {
		if i%5 == 0 || i == len(rows)-1 {
			out = append(out, r)
		}
	}
	return out
}

func rowAt(rows []quality.Row, t float64) quality.Row {
	for _, r := range rows {
		if r.Threshold == t {
			return r
		}
	}
	return quality.Row{}
}

func writeFile(path string, fn func(*os.File) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeMarginTable compares same-words margins: for each, the best
// threshold within the false-hit budget, and every threshold from 0.93 to
// 0.99 with QQP recall, false-hit rate and GPTCache hits.
func writeMarginTable(md *strings.Builder, qqp, gpt []quality.Outcome, margins []float64, maxFHR float64) {
	ts := quality.Thresholds(0.93, 0.99, 0.005)
	fmt.Fprintf(md, "### Same-words margins (guard on)\n\n")
	fmt.Fprintf(md, "| margin | best threshold within %.2f%% | recall | false-hit rate | GPTCache hits / wrong |\n|---:|---:|---:|---:|---:|\n", 100*maxFHR)
	for _, m := range margins {
		rows, g := quality.Sweep(qqp, ts, true, m), quality.Sweep(gpt, ts, true, m)
		if best, ok := quality.BestAt(rows, maxFHR); ok {
			gr := rowAt(g, best.Threshold)
			fmt.Fprintf(md, "| %.3f | %.3f | %.2f%% | %.2f%% (%d/%d) | %d / %d |\n", m, best.Threshold, 100*best.Recall,
				100*best.FalseHitRate, best.FalseOnNegatives, best.Negatives, gr.CorrectHits, gr.FalseHits)
		}
	}
	fmt.Fprintf(md, "\n| threshold |")
	for _, m := range margins {
		fmt.Fprintf(md, " margin %.3f: recall / FHR / GPTCache |", m)
	}
	md.WriteString("\n|---:|")
	for range margins {
		md.WriteString("---:|")
	}
	md.WriteString("\n")
	per := make([][]quality.Row, len(margins))
	perG := make([][]quality.Row, len(margins))
	for i, m := range margins {
		per[i], perG[i] = quality.Sweep(qqp, ts, true, m), quality.Sweep(gpt, ts, true, m)
	}
	for j, t := range ts {
		fmt.Fprintf(md, "| %.3f |", t)
		for i := range margins {
			r, g := per[i][j], perG[i][j]
			fmt.Fprintf(md, " %.2f%% / %.2f%% / %d-%d |", 100*r.Recall, 100*r.FalseHitRate, g.CorrectHits, g.FalseHits)
		}
		md.WriteString("\n")
	}
	md.WriteString("\n")
}
