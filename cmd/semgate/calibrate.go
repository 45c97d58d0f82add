package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/semgate/semgate/embed"
	"github.com/semgate/semgate/gateway"
	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/calibrate"
	"github.com/semgate/semgate/semcache/verify"
)

// cmdCalibrate runs the configured embedder and the verifier over labelled
// pairs and prints hits and false hits per threshold, and the threshold for
// a target false-hit rate.
func cmdCalibrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("calibrate", "calibrate [--config FILE] [--pairs FILE|DIR] [--target-fhr R] [--min T] [--max T] [--step S] [--limit N]", stderr)
	configPath := fs.String("config", defaultConfig, "configuration `file` (its embed: and cache.verify: sections are used)")
	pairsPath := fs.String("pairs", "../shared/data", "labelled pairs: a JSONL `file` of {\"a\",\"b\",\"label\"} or {\"a\",\"b\",\"expect\"}, a JSON array of {\"origin\",\"similar\"}, or a directory of such files")
	target := fs.Float64("target-fhr", 0.005, "false-hit `rate` to stay within")
	lo := fs.Float64("min", 0.3, "lowest `threshold` swept")
	hi := fs.Float64("max", 1, "highest `threshold` swept")
	step := fs.Float64("step", 0.02, "threshold `step`")
	limit := fs.Int("limit", 0, "use at most `N` pairs per file (0: all)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *step <= 0 || *lo > *hi || *target < 0 || *target > 1 {
		fmt.Fprintln(stderr, "calibrate: need 0 < --step, --min <= --max, 0 <= --target-fhr <= 1")
		return errUsage
	}
	cfg, err := gateway.LoadConfig(*configPath)
	if err != nil {
		return err
	}
	pairs, err := calibrate.Load(*pairsPath, *limit)
	if err != nil {
		return err
	}
	if len(pairs) == 0 {
		return fmt.Errorf("%s: no pairs", *pairsPath)
	}
	e, err := embed.New(cfg.Embed)
	if err != nil {
		return err
	}
	sims, err := similarities(ctx, e, pairs, stderr)
	if err != nil {
		return err
	}
	scored := calibrate.Score(pairs, sims, verify.New(cfg.Cache.Verify))
	rows := calibrate.Sweep(scored, calibrate.Thresholds(*lo, *hi, *step))
	calibrate.Write(stdout, e.ID(), scored, rows, *target)
	return nil
}

// similarities embeds both sides of every pair (in batches, as the cache
// does: the folded text) and returns their cosine similarities.
func similarities(ctx context.Context, e embed.Embedder, pairs []calibrate.Pair, stderr io.Writer) ([]float32, error) {
	out := make([]float32, 0, len(pairs))
	const batch = 128
	for i := 0; i < len(pairs); i += batch {
		part := pairs[i:min(i+batch, len(pairs))]
		texts := make([]string, 0, 2*len(part))
		for _, p := range part {
			texts = append(texts, semcache.Normalize(p.A), semcache.Normalize(p.B))
		}
		vecs, err := e.Embed(ctx, texts)
		if err != nil {
			return nil, fmt.Errorf("embedding: %w", err)
		}
		for k := range part {
			out = append(out, semcache.Dot(vecs[2*k], vecs[2*k+1]))
		}
		if f, ok := stderr.(*os.File); ok && len(pairs) > 4*batch && (i/batch)%20 == 0 {
			fmt.Fprintf(f, "\rembedded %d/%d pairs", i+len(part), len(pairs))
		}
	}
	if f, ok := stderr.(*os.File); ok && len(pairs) > 4*batch {
		fmt.Fprintln(f)
	}
	return out, nil
}
