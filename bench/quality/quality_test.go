package quality

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/semgate/semgate/embed"
	"github.com/semgate/semgate/semcache"
)

func TestSweepCounts(t *testing.T) {
	outcomes := []Outcome{
		{Label: 1, Exact: true, Right: true},     // exact, correct
		{Label: 0, Exact: true, Right: true},     // exact on a negative: false
		{Label: 0, Exact: true, Identical: true}, // another pair's identical question
		{Label: 1, Guarded: 0.95, GuardedRight: true, Unguarded: 0.95, UnguardedRight: true},
		{Label: 1, Guarded: 0.95, GuardedRight: false, Unguarded: 0.97}, // another pair's answer
		{Label: 0, Guarded: 0, Unguarded: 0.99},                         // guard stopped it
		{Label: 0, Guarded: 0.91, Unguarded: 0.91},
	}
	rows := Sweep(outcomes, []float64{0.9, 0.96}, true, 0)
	r := rows[0]
	if r.Positives != 3 || r.Negatives != 4 || r.CorrectHits != 2 || r.FalseHits != 3 || r.FalseOnNegatives != 2 || r.Identical != 1 {
		t.Fatalf("%+v", r)
	}
	if r2 := rows[1]; r2.CorrectHits != 1 || r2.FalseOnNegatives != 1 {
		t.Fatalf("%+v", r2)
	}
	un := Sweep(outcomes, []float64{0.9}, false, 0)[0]
	if un.FalseOnNegatives != 3 {
		t.Fatalf("unguarded %+v", un)
	}
	if best, ok := BestAt(rows, 0.26); !ok || best.Threshold != 0.96 {
		t.Fatalf("best %+v %v", best, ok)
	}
}

func TestReportWriters(t *testing.T) {
	rows := Sweep([]Outcome{{Label: 1, Guarded: 0.9, GuardedRight: true}}, Thresholds(0.8, 0.95, 0.05), true, 0)
	if len(rows) != 4 {
		t.Fatalf("%d thresholds", len(rows))
	}
	var csv, md, svg bytes.Buffer
	if err := WriteCSV(&csv, rows); err != nil {
		t.Fatal(err)
	}
	WriteMarkdown(&md, rows)
	if err := WriteSVG(&svg, "t <&>", []Curve{{"lexical", "#06c", rows}}); err != nil {
		t.Fatal(err)
	}
	if strings.Count(csv.String(), "\n") != 5 || !strings.Contains(md.String(), "| 0.90 | 100.00% (1/1)") ||
		!strings.Contains(svg.String(), "<polyline") || strings.Contains(svg.String(), "<&>") {
		t.Fatalf("csv:\n%s\nmd:\n%s", csv.String(), md.String())
	}
}

// TestReplayOnSharedData runs the protocol on a slice of the real data: it
// must find the formatting-identical pairs exactly and never serve a
// label-0 pair an answer at a very high threshold with the guard on.
func TestReplayOnSharedData(t *testing.T) {
	dir, ok := DataDir()
	if !ok {
		t.Skip("../shared/data is absent")
	}
	pairs, err := LoadQQP(dir+"/qqp_dev.jsonl", 600)
	if err != nil {
		t.Fatal(err)
	}
	gpt, err := LoadGPTCache(dir + "/gptcache_mock_data.json")
	if err != nil {
		t.Fatal(err)
	}
	e, err := embed.New(embed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := Replay(context.Background(), t.TempDir(), pairs, e, semcache.NewGuard(semcache.GuardOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	rows := Sweep(out, []float64{0.8, 0.99}, true, 0)
	if rows[0].Recall <= 0 || rows[0].Recall < rows[1].Recall {
		t.Fatalf("recall should fall as the threshold rises: %+v", rows)
	}
	un := Sweep(out, []float64{0.8}, false, 0)[0]
	if un.FalseOnNegatives < rows[0].FalseOnNegatives {
		t.Fatalf("the guard added false hits: guarded %+v unguarded %+v", rows[0], un)
	}
	gout, err := Replay(context.Background(), t.TempDir(), gpt[:200], e, semcache.NewGuard(semcache.GuardOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Sweep(gout, []float64{0.8}, true, 0) {
		if r.Positives != 200 {
			t.Fatalf("%+v", r)
		}
		t.Logf("gptcache at 0.8: %d correct, %d wrong", r.CorrectHits, r.FalseHits)
	}
}

func TestSweepSameWordsMargin(t *testing.T) {
	outcomes := []Outcome{
		{Label: 1, Guarded: 0.95, GuardedRight: true, SameWords: 0.95, SameWordsRight: true},
		{Label: 0, Guarded: 0.96, GuardedRight: false},                                       // other words: needs 0.98
		{Label: 1, Guarded: 0.97, GuardedRight: true, SameWords: 0.90, SameWordsRight: true}, // same words too far
	}
	r := Sweep(outcomes, []float64{0.98}, true, 0.05)[0]
	if r.CorrectHits != 1 || r.FalseHits != 0 {
		t.Fatalf("margin 0.05 at 0.98: %+v", r)
	}
	if r := Sweep(outcomes, []float64{0.98}, true, 0)[0]; r.CorrectHits != 0 || r.FalseHits != 0 {
		t.Fatalf("no margin at 0.98: %+v", r)
	}
	if r := Sweep(outcomes, []float64{0.98}, false, 0.05)[0]; r.CorrectHits != 0 {
		t.Fatalf("unguarded sweep used the guarded same-words candidate: %+v", r)
	}
}
