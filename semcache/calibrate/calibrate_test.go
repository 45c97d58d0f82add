package calibrate

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semgate/semgate/semcache/verify"
)

func TestCalibrateFixture(t *testing.T) {
	pairs, err := Load("testdata/pairs.jsonl", 0)
	if err != nil || len(pairs) != 7 {
		t.Fatalf("%d pairs, %v", len(pairs), err)
	}
	// Similarities as an embedder might give them: the number pair is the
	// most similar of all, so no threshold separates it without the
	// verifier.
	sims := []float32{0.80, 0.90, 0.97, 0.99, 0.95, 0.60, 1}
	scored := Score(pairs, sims, verify.New(verify.Options{}))
	rows := Sweep(scored, Thresholds(0.5, 1, 0.1))
	best, ok := Best(rows, 0)
	if !ok || best.Threshold != 0.5 || best.Correct != 4 || best.False != 0 {
		t.Fatalf("best %+v %v", best, ok)
	}
	if r := rows[len(rows)-1]; r.Threshold != 1 || r.Correct != 1 || r.CorrectSimOnly != 1 {
		t.Fatalf("at 1.0 only the exact pair hits: %+v", r)
	}
	// Similarity alone would serve the wrong answer to "Top 5".
	if rows[0].FalseSimOnly != 3 {
		t.Fatalf("similarity alone at 0.5: %+v", rows[0])
	}
	var out bytes.Buffer
	Write(&out, "test-embedder", scored, rows, 0.005)
	for _, want := range []string{"threshold for a false-hit rate <= 0.500%: 0.500", "cache: {threshold: 0.500}", "test-embedder, 7 pairs"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestLoadFormats(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	arr := write("g.json", `[{"origin":"a","similar":"b"},{"origin":"c","similar":"d"}]`)
	if ps, err := Load(arr, 1); err != nil || len(ps) != 1 || !ps[0].Duplicate {
		t.Fatalf("array: %v %v", ps, err)
	}
	for _, bad := range []string{`{"a":"x","b":"y"}`, `{"a":"x","label":1}`, `{"a":"x","b":"y","expect":"maybe"}`, `not json`, `[{"origin":"a"}]`} {
		if _, err := Load(write("bad.jsonl", bad), 0); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
