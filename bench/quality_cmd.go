package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/semgate/semgate/bench/internal/harness"
	"github.com/semgate/semgate/bench/quality"
	"github.com/semgate/semgate/embed"
	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/calibrate"
	"github.com/semgate/semgate/semcache/verify"
)

// onOff is a boolean flag that also accepts on/off.
type onOff bool

func (b *onOff) String() string {
	if b != nil && *b {
		return "on"
	}
	return "off"
}

func (b *onOff) Set(s string) error {
	switch strings.ToLower(s) {
	case "on", "true", "1", "yes":
		*b = true
	case "off", "false", "0", "no":
		*b = false
	default:
		return fmt.Errorf("%q is not on or off", s)
	}
	return nil
}

func (b *onOff) IsBoolFlag() bool { return true }

type qualityFlags struct {
	data, out, embedders string
	pairs                int
	lo, hi, step, maxFHR float64
	guard                onOff
	typo                 int
	noEmbed              bool
	seed                 uint64
	rounds               int
}

// runQuality is the `quality` scenario: cache-quality replay of the shared
// paraphrase and adversarial data with a threshold sweep, or (--typo N)
// the one-typo scenario. Writes a Markdown report to bench/results.
func runQuality(ctx context.Context, args []string) error {
	var f qualityFlags
	fs := flag.NewFlagSet("quality", flag.ContinueOnError)
	fs.StringVar(&f.data, "data", "", "directory with qqp_dev.jsonl, gptcache_mock_data.json and adversarial_dev.jsonl (default: ../shared/data)")
	fs.IntVar(&f.pairs, "pairs", 20000, "QQP pairs to replay (0: all 60,640)")
	fs.StringVar(&f.embedders, "embedders", "lexical", "comma-separated embedders to compare (embed.model values: lexical, use-lite-en)")
	fs.Float64Var(&f.lo, "min", 0.50, "lowest threshold of the sweep")
	fs.Float64Var(&f.hi, "max", 1.00, "highest threshold of the sweep")
	fs.Float64Var(&f.step, "step", 0.01, "threshold step")
	fs.Var(&f.guard, "guard", "content guard as an extra veto on verified candidates: on or off (--guard=on); off is the gateway's default (cache.guard.enabled: false)")
	fs.Float64Var(&f.maxFHR, "max-fhr", 0.005, "false-hit-rate budget used to pick the best threshold")
	fs.IntVar(&f.typo, "typo", 0, "run the one-typo scenario with this many cached prompts instead of the pair replays")
	fs.BoolVar(&f.noEmbed, "no-embed", false, "no embedder: the word-key channel and the verifier only (replaces --embedders)")
	fs.Uint64Var(&f.seed, "seed", 1, "--typo: seed for the joined prompts built past the distinct QQP questions")
	fs.IntVar(&f.rounds, "rounds", 1, "--typo: lookup passes over the cache (latency is the median over passes)")
	fs.StringVar(&f.out, "out", "", "report directory (default: bench/results)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if f.data == "" {
		d, ok := quality.DataDir()
		if !ok {
			return fmt.Errorf("../shared/data not found; pass --data")
		}
		f.data = d
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if f.out == "" {
		f.out = filepath.Join(root, "bench", "results")
	}
	names := []string{""}
	if !f.noEmbed {
		names = nil
		for _, n := range strings.Split(f.embedders, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
	}
	var guard semcache.Checker
	if f.guard {
		guard = semcache.NewGuard(semcache.GuardOptions{Enabled: true})
	}
	v := verify.New(verify.Options{})
	stamp := time.Now().UTC().Format("20060102-150405")
	var md strings.Builder
	m := harness.DescribeMachine(root, "")
	commit := m.GitCommit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if m.GitDirty {
		commit += " (uncommitted changes)"
	}
	title := "quality"
	if f.typo > 0 {
		title = "quality --typo"
	}
	fmt.Fprintf(&md, "# %s: %s\n\nCommand: `%s`\n\n", title, stamp, commandLine(append([]string{"quality"}, args...)))
	fmt.Fprintf(&md, "Machine: %d CPUs (%s), %s/%s, %s; commit %s.\n\n", m.CPUs, m.CPUModel, m.OS, m.Arch, m.GoVersion, commit)
	fmt.Fprintf(&md, "Cache as the gateway builds it: lossless exact key, then the semantic tier (the %d nearest vectors of the partition's HNSW index, an exact scan up to 10,000 vectors, plus up to %d entries of the word-key channel), every candidate checked by the verifier (default options), content guard **%s** (off is the gateway's default).\n\n",
		semcache.DefaultCandidates, 32, f.guard.String())

	load0 := harness.LoadAvg()
	var base string
	if f.typo > 0 {
		base = filepath.Join(f.out, "quality-typo-"+stamp)
		err = runTypoScenario(ctx, &f, names, v, guard, &md)
	} else {
		base = filepath.Join(f.out, "quality-"+stamp)
		err = runPairScenario(ctx, &f, names, v, guard, &md, base)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(&md, "\n1-minute load average: %.1f at the start, %.1f at the end (%d CPUs; above that, other work competed and the timings are noisier).\n", load0, harness.LoadAvg(), m.CPUs)
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(base+".md", []byte(md.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(md.String())
	fmt.Fprintf(os.Stderr, "wrote %s.md\n", base)
	return nil
}

func newEmbedder(name string) (embed.Embedder, error) {
	if name == "" {
		return nil, nil
	}
	// No LRU in front: it would hold vectors the heap figures count.
	return embed.New(embed.Options{Model: name, CacheSize: -1})
}

func embedderName(e embed.Embedder) string {
	if e == nil {
		return "none (word channel only)"
	}
	return e.ID()
}

// pairResult is one embedder's replays.
type pairResult struct {
	name          string
	qqp, gpt, adv []quality.Outcome
	rows, gptRows []quality.Row
	best          quality.Row
	hasBest       bool
	took          time.Duration
}

func runPairScenario(ctx context.Context, f *qualityFlags, names []string, v *verify.Verifier, guard semcache.Checker, md *strings.Builder, base string) error {
	qqp, err := quality.LoadQQP(filepath.Join(f.data, "qqp_dev.jsonl"), f.pairs)
	if err != nil {
		return err
	}
	gpt, err := quality.LoadGPTCache(filepath.Join(f.data, "gptcache_mock_data.json"))
	if err != nil {
		return err
	}
	adv, err := quality.LoadAdversarial(filepath.Join(f.data, "adversarial_dev.jsonl"))
	if err != nil {
		return err
	}
	thresholds := calibrate.Thresholds(f.lo, f.hi, f.step)
	if len(thresholds) == 0 || thresholds[0] != 0 {
		thresholds = append([]float64{0}, thresholds...) // the verifier alone, for reference
	}
	fmt.Fprintf(md, "Data (../shared/data, protocol in its README): QQP %d pairs from qqp_dev.jsonl (%d duplicates), GPTCache %d paraphrase pairs, adversarial_dev.jsonl %d pairs, each set replayed into its own empty cache (one partition). Every lookup takes the exact tier, then the semantic tier with no similarity floor; the sweep applies each threshold afterwards (exact: candidates are tried most similar first). Threshold 0 is the verifier alone.\n\n",
		len(qqp), countLabel(qqp, 1), len(gpt), len(adv))

	var results []*pairResult
	tmp, err := os.MkdirTemp("", "semgate-quality-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for i, name := range names {
		e, err := newEmbedder(name)
		if err != nil {
			return err
		}
		r := &pairResult{name: embedderName(e)}
		fmt.Fprintf(os.Stderr, "quality: %s: replaying %d QQP pairs\n", r.name, len(qqp))
		t0 := time.Now()
		if r.qqp, err = quality.Replay(ctx, filepath.Join(tmp, fmt.Sprint(i, "qqp")), qqp, e, v, guard); err != nil {
			return err
		}
		r.took = time.Since(t0)
		if r.gpt, err = quality.Replay(ctx, filepath.Join(tmp, fmt.Sprint(i, "gpt")), gpt, e, v, guard); err != nil {
			return err
		}
		if r.adv, err = quality.Replay(ctx, filepath.Join(tmp, fmt.Sprint(i, "adv")), quality.AdvPairs(adv), e, v, guard); err != nil {
			return err
		}
		r.rows, r.gptRows = quality.Sweep(r.qqp, thresholds), quality.Sweep(r.gpt, thresholds)
		r.best, r.hasBest = quality.BestAt(r.rows, f.maxFHR)
		results = append(results, r)
		fmt.Fprintf(os.Stderr, "quality: %s done in %s\n", r.name, time.Since(t0).Round(time.Second))
	}

	// Summary.
	fmt.Fprintf(md, "## Summary\n\nBest threshold: the highest QQP recall with a false-hit rate ≤ %.2f%% (the lowest threshold on a tie).\n\n", 100*f.maxFHR)
	md.WriteString("| embedder | best threshold | QQP recall | QQP false-hit rate | precision | QQP lookups | GPTCache correct / wrong (of 999) | at threshold 0: recall / FHR / GPTCache | QQP replay |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		z := rowAt(r.rows, 0)
		gz := rowAt(r.gptRows, 0)
		if !r.hasBest {
			fmt.Fprintf(md, "| %s | none within budget | | | | %d | | %.2f%% / %.2f%% / %d-%d | %s |\n", r.name, z.Positives+z.Negatives,
				100*z.Recall, 100*z.FalseHitRate, gz.CorrectHits, gz.FalseHits, r.took.Round(time.Second))
			continue
		}
		b, g := r.best, rowAt(r.gptRows, r.best.Threshold)
		fmt.Fprintf(md, "| %s | %.3f | %.2f%% (%d/%d) | %.2f%% (%d/%d) | %.3f | %d | %d / %d | %.2f%% / %.2f%% / %d-%d | %s |\n", r.name, b.Threshold,
			100*b.Recall, b.CorrectHits, b.Positives, 100*b.FalseHitRate, b.FalseOnNegatives, b.Negatives, b.Precision, b.Positives+b.Negatives,
			g.CorrectHits, g.FalseHits, 100*z.Recall, 100*z.FalseHitRate, gz.CorrectHits, gz.FalseHits, r.took.Round(time.Second))
	}
	md.WriteString("\n")

	// Adversarial.
	fmt.Fprintf(md, "## Adversarial pairs (adversarial_dev.jsonl)\n\nEvery `a` inserted, every `b` looked up, in one cache. *Wrong* counts pairs served a wrong answer (every hit on a must-miss pair; a must-hit pair served another pair's answer); *own* the must-hit pairs served their own answer. Targets: must-miss 0 wrong in every category; formatting 100%%, typos ≥ 90%%, paraphrase_close ≥ 50%%, paraphrase_far ≥ 10%%.\n\n")
	for _, r := range results {
		t := r.best.Threshold
		fmt.Fprintf(md, "### %s, at threshold %.3f (and at 0)\n\n", r.name, t)
		md.WriteString("| category | expect | pairs | wrong (target 0) | own answer | target | result | at 0: wrong / own | wrong ids |\n|---|---|---:|---:|---:|---|---|---:|---|\n")
		at0 := map[string]quality.AdvCategory{}
		for _, c := range quality.AdvSweep(adv, r.adv, 0) {
			at0[c.Category+c.Expect] = c
		}
		for _, c := range quality.AdvSweep(adv, r.adv, t) {
			own := "–"
			if c.Expect == "hit" {
				own = fmt.Sprintf("%.0f%% (%d/%d)", 100*c.OwnRate(), c.Own, c.Pairs)
			}
			z := at0[c.Category+c.Expect]
			own0 := "–"
			if c.Expect == "hit" {
				own0 = fmt.Sprintf("%.0f%%", 100*z.OwnRate())
			}
			result := "PASS"
			if !c.Pass() {
				result = "**FAIL**"
			}
			fmt.Fprintf(md, "| %s | %s | %d | %d | %s | %s | %s | %d / %s | %s |\n", c.Category, c.Expect, c.Pairs, c.Wrong, own, c.Target(), result,
				z.Wrong, own0, strings.Join(c.WrongIDs, " "))
		}
		md.WriteString("\n")
	}

	// Per embedder.
	var curves []quality.Curve
	colors := []string{"#0a6", "#06c", "#c60", "#909"}
	for i, r := range results {
		curves = append(curves, quality.Curve{Name: r.name, Color: colors[i%len(colors)], Rows: r.rows[1:]})
		fmt.Fprintf(md, "## %s\n\n### QQP\n\n", r.name)
		quality.WriteMarkdown(md, pick(r.rows, r.best.Threshold))
		fmt.Fprintf(md, "\n### GPTCache paraphrases (every pair is a duplicate)\n\n")
		quality.WriteMarkdown(md, pick(r.gptRows, r.best.Threshold))
		writeMissReasons(md, r.qqp)
		writeFalseHits(md, qqp, r.qqp, r.best.Threshold)
		writeAdvMisses(md, adv, r.adv, r.best.Threshold)
		name := strings.TrimSpace(names[i])
		if name == "" {
			name = "none"
		}
		for _, w := range []struct {
			suffix string
			rows   []quality.Row
		}{{"-qqp.csv", r.rows}, {"-gptcache.csv", r.gptRows}} {
			if err := writeFile(base+"-"+name+w.suffix, func(f *os.File) error { return quality.WriteCSV(f, w.rows) }); err != nil {
				return err
			}
		}
	}
	svgPath := base + ".svg"
	if err := writeFile(svgPath, func(fh *os.File) error {
		return quality.WriteSVG(fh, fmt.Sprintf("QQP (%d pairs): recall and false-hit rate by threshold", len(qqp)), curves)
	}); err != nil {
		return err
	}
	fmt.Fprintf(md, "Chart: %s; CSVs: %s-*.csv\n", filepath.Base(svgPath), filepath.Base(base))
	return nil
}

func countLabel(ps []quality.Pair, l int) int {
	n := 0
	for _, p := range ps {
		if p.Label == l {
			n++
		}
	}
	return n
}

// pick keeps, for the tables, threshold 0, every 0.05 and every row from
// 0.85 up, and the best.
func pick(rows []quality.Row, best float64) []quality.Row {
	var out []quality.Row
	for _, r := range rows {
		t := r.Threshold
		if t == 0 || t >= 0.85-1e-9 || t == best || int(t*1000+0.5)%50 == 0 {
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

// writeMissReasons tabulates why QQP duplicates were not served (at
// threshold 0): the most similar refused candidate's rule (the class of
// its first unexplained difference), and how often that class was its
// only unexplained difference.
func writeMissReasons(md *strings.Builder, out []quality.Outcome) {
	counts, sole := map[string]int{}, map[string]int{}
	n := 0
	for _, o := range out {
		if o.Label != 1 || o.HitAt(0) {
			continue
		}
		n++
		rule := o.RejectedRule
		if rule == "" {
			rule = "no candidate"
		}
		counts[rule]++
		if o.RejectedSole != "" {
			sole[o.RejectedSole]++
		}
	}
	fmt.Fprintf(md, "\n### Why QQP duplicates missed (threshold 0: %d misses)\n\nBy the most similar refused candidate: *first rule* is the verdict's rule (its first unexplained difference); *sole blocker* counts the misses whose refused candidate had that one unexplained difference and no other (or a guard veto of a verified pair).\n\n| class | first rule | sole blocker |\n|---|---:|---:|\n", n)
	seen := map[string]bool{}
	for _, rc := range quality.SortedRules(counts) {
		seen[rc.Rule] = true
		fmt.Fprintf(md, "| %s | %d | %d |\n", rc.Rule, rc.N, sole[rc.Rule])
	}
	for _, rc := range quality.SortedRules(sole) {
		if !seen[rc.Rule] {
			fmt.Fprintf(md, "| %s | 0 | %d |\n", rc.Rule, rc.N)
		}
	}
}

// writeFalseHits lists the label-0 false hits at threshold t (most
// similar first, up to 30), and how many more there are at threshold 0.
func writeFalseHits(md *strings.Builder, pairs []quality.Pair, out []quality.Outcome, t float64) {
	type fh struct {
		i int
		o *quality.Outcome
	}
	var at, all []fh
	for i := range out {
		o := &out[i]
		if o.Label != 0 || o.Identical || !o.HitAt(0) {
			continue
		}
		all = append(all, fh{i, o})
		if o.HitAt(t) {
			at = append(at, fh{i, o})
		}
	}
	sort.SliceStable(at, func(a, b int) bool { return at[a].o.Score > at[b].o.Score })
	fmt.Fprintf(md, "\n### QQP label-0 false hits at threshold %.3f (%d; %d at threshold 0), most similar first, up to 30\n\n", t, len(at), len(all))
	if len(at) == 0 {
		md.WriteString("None.\n")
		return
	}
	md.WriteString("| pair | similarity | channel | cached prompt served | lookup | verdict |\n|---:|---:|---|---|---|---|\n")
	for n, x := range at {
		if n == 30 {
			break
		}
		score, ch, verdict := fmt.Sprintf("%.3f", x.o.Score), string(x.o.Channel), x.o.Verdict
		if x.o.Exact {
			score, ch, verdict = "exact", "exact", "lossless-equal"
		}
		fmt.Fprintf(md, "| %d | %s | %s | %s | %s | `%s` |\n", x.i, score, ch, cell(x.o.Served), cell(pairs[x.i].B), verdict)
	}
}

// writeAdvMisses lists the adversarial must-hit pairs not served at
// threshold t, with the refused candidate's verdict.
func writeAdvMisses(md *strings.Builder, adv []quality.AdvPair, out []quality.Outcome, t float64) {
	fmt.Fprintf(md, "\n### Adversarial must-hit pairs not served at threshold %.3f\n\nThe verdict is on the most similar refused candidate: the pair's own `a` unless named.\n\n| id | similarity | refused by | verdict | a → b |\n|---|---:|---|---|---|\n", t)
	for i, p := range adv {
		o := &out[i]
		if p.Expect != "hit" || o.HitAt(t) {
			continue
		}
		why, verdict, score := o.RejectedRule, o.RejectedVerdict, o.RejectedScore
		if o.Found { // verified, below the threshold
			why, verdict, score = "threshold", o.Verdict, o.Score
		}
		if why == "" {
			why = "no candidate"
		}
		if !o.Found && o.RejectedPrompt != "" && semcache.Normalize(o.RejectedPrompt) != semcache.Normalize(p.A) {
			verdict = "(vs " + o.RejectedPrompt + ") " + verdict
		}
		fmt.Fprintf(md, "| %s | %.3f | %s | `%s` | %s → %s |\n", p.ID, score, why, cell(verdict), cell(p.A), cell(p.B))
	}
	md.WriteString("\n")
}

// cell makes text safe for a Markdown table cell.
func cell(s string) string {
	s = strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(s)
	if len(s) > 160 {
		s = s[:157] + "…"
	}
	return s
}

func runTypoScenario(ctx context.Context, f *qualityFlags, names []string, v *verify.Verifier, guard semcache.Checker, md *strings.Builder) error {
	qs, err := quality.DistinctQuestions(filepath.Join(f.data, "qqp_dev.jsonl"))
	if err != nil {
		return err
	}
	prompts, joined := quality.TypoPrompts(qs, f.typo, f.seed)
	qs = nil
	fmt.Fprintf(md, "One-typo scenario: %d distinct prompts cached (%d distinct QQP questions of qqp_dev.jsonl's a and b, deduplicated by normalized text", len(prompts), len(prompts)-joined)
	if joined > 0 {
		fmt.Fprintf(md, ", plus %d built by joining two different questions with a space, seed %d", joined, f.seed)
	}
	md.WriteString("), one partition; each is then looked up with one typo: two adjacent letters swapped in the middle of its longest word (first and last letters kept; prompts whose longest word has fewer than 5 letters are skipped). *Right*: the hit returned that prompt's own entry; *wrong*: another entry (*equivalent*: the verifier also accepts that entry's prompt for the original one); *miss*: nothing served; there is no similarity floor (threshold 0), so the verifier decides. Latency is Cache.FindSemantic alone (embedding excluded), median over ")
	fmt.Fprintf(md, "%d lookup pass(es); insert rate is Cache.Put alone (keying and embedding listed apart); heap per entry is the Go heap's growth over the inserts, after a GC, divided by the entries (Pebble's memtables and block cache are C memory: see RSS).\n\n", max(f.rounds, 1))
	md.WriteString("| embedder | entries | lookups | hit right | wrong (equivalent) | miss | exact hits | FindSemantic p50 | p99 | inserts/s (Put) | keying | embedding | Go heap / entry | RSS after inserts |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	var results []*quality.TypoResult
	for _, name := range names {
		e, err := newEmbedder(name)
		if err != nil {
			return err
		}
		tmp, err := os.MkdirTemp("", "semgate-typo-")
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "quality: typo: %s, %d prompts\n", embedderName(e), len(prompts))
		r, err := quality.RunTypo(ctx, tmp, prompts, quality.TypoConfig{Embedder: e, Verifier: v, Guard: guard, Rounds: f.rounds, Progress: os.Stderr})
		os.RemoveAll(tmp)
		if err != nil {
			return err
		}
		results = append(results, r)
		fmt.Fprintf(md, "| %s | %d | %d | %.2f%% (%d) | %d (%d) | %d | %d | %s | %s | %.0f | %s | %s | %.0f B | %s |\n", embedderName(e), r.Entries, r.Lookups,
			r.Pct(r.Right), r.Right, r.Wrong, r.WrongEquivalent, r.Miss, r.Exact, micros(r.MedianP50()), micros(r.MedianP99()),
			r.InsertRate(), r.KeyTime.Round(time.Millisecond), r.EmbedTime.Round(time.Millisecond), r.HeapPerEntry(), mib(r.RSSAfter))
	}
	fmt.Fprintf(md, "\nPeak RSS of the process: %s. Skipped prompts (no word of 5+ letters): %d.\n", mib(quality.PeakRSS()), results[0].Skipped)
	for _, r := range results {
		name := r.Embedder
		if name == "" {
			name = "none (word channel only)"
		}
		fmt.Fprintf(md, "\n### %s\n\nPer-pass FindSemantic p50: %s; p99: %s. Insert: %s in Cache.Put.\n\nMisses by the most similar refused candidate's rule:\n\n| rule | misses |\n|---|---:|\n",
			name, durs(r.P50), durs(r.P99), r.PutTime.Round(time.Millisecond))
		for _, rc := range quality.SortedRules(r.MissRules) {
			fmt.Fprintf(md, "| %s | %d |\n", rc.Rule, rc.N)
		}
		writeTypoExamples(md, "Wrong hits (first 10)", r.WrongExamples)
		var misses []quality.TypoExample
		for _, rc := range quality.SortedRules(r.MissRules) {
			misses = append(misses, r.MissExamples[rc.Rule]...)
		}
		writeTypoExamples(md, "Misses (the first 3 per rule; served = the refused candidate)", misses)
	}
	return nil
}

func writeTypoExamples(md *strings.Builder, title string, ex []quality.TypoExample) {
	if len(ex) == 0 {
		return
	}
	fmt.Fprintf(md, "\n%s:\n\n| cached prompt | lookup | served / refused | similarity | refused by | verdict |\n|---|---|---|---:|---|---|\n", title)
	for _, x := range ex {
		fmt.Fprintf(md, "| %s | %s | %s | %.3f | %s | `%s` |\n", cell(x.Cached), cell(x.Lookup), cell(x.Served), x.Score, x.Rule, cell(x.Verdict))
	}
}

func micros(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/1e3, 'f', 1, 64) + " µs"
}

func durs(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = micros(d)
	}
	return strings.Join(s, ", ")
}

func mib(b uint64) string {
	if b == 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}
