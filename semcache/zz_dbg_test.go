package semcache
import ("testing";"os";"bufio";"encoding/json")
func TestDbgQQP(t *testing.T) {
	f, _ := os.Open("../../shared/data/qqp_dev.jsonl")
	defer f.Close()
	g := NewGuard(GuardOptions{})
	sc := bufio.NewScanner(f)
	n := 0
	cnt := map[string]int{}
	for sc.Scan() && n < 5000 {
		n++
		var p struct{ A, B string; Label int }
		json.Unmarshal(sc.Bytes(), &p)
		ok, r := g.Check(p.A, p.B)
		if !ok && p.Label == 1 && cnt[r] < 25 {
			cnt[r]++
			t.Logf("%s | %s | %s", r, p.A, p.B)
		}
	}
}
