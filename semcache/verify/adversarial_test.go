package verify

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

type advPair struct {
	ID, Category, A, B, Expect, Why string
}

func loadAdversarial(t testing.TB) []advPair {
	path := filepath.Join("..", "..", "..", "shared", "data", "adversarial_dev.jsonl")
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("no shared data: %v", err)
	}
	defer f.Close()
	var out []advPair
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var p advPair
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// TestAdversarialDev runs the verifier alone over the labelled pairs: no
// must-miss pair may be explained. (The hit rates of must-hit pairs are
// reported; the cache-level targets are measured by the quality bench.)
func TestAdversarialDev(t *testing.T) {
	pairs := loadAdversarial(t)
	v := New(Options{})
	type tally struct{ n, hits int }
	per := map[string]*tally{}
	for _, p := range pairs {
		d := v.Verify(p.A, p.B, 0)
		k := p.Category + "/" + p.Expect
		if per[k] == nil {
			per[k] = &tally{}
		}
		per[k].n++
		if d.OK {
			per[k].hits++
		}
		if p.Expect == "miss" && d.OK {
			t.Errorf("%s: must miss, verified: %q vs %q: %s", p.ID, p.A, p.B, d)
		}
		if testing.Verbose() && p.Expect == "hit" && !d.OK {
			t.Logf("%s missed: %s", p.ID, d)
		}
	}
	keys := make([]string, 0, len(per))
	for k := range per {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%-40s %3d/%3d verified", k, per[k].hits, per[k].n)
	}
}
