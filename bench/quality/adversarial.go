package quality

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

// AdvPair is one pair of adversarial_dev.jsonl: the cached answer to A is
// a wrong answer to B (Expect "miss") or a right one (Expect "hit").
type AdvPair struct {
	ID       string `json:"id"`
	Category string `json:"category"`
	A        string `json:"a"`
	B        string `json:"b"`
	Expect   string `json:"expect"`
	Why      string `json:"why"`
}

// LoadAdversarial reads adversarial_dev.jsonl.
func LoadAdversarial(path string) ([]AdvPair, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []AdvPair
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var p AdvPair
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if p.Expect != "hit" && p.Expect != "miss" {
			return nil, fmt.Errorf("%s: %s: expect %q is neither hit nor miss", path, p.ID, p.Expect)
		}
		out = append(out, p)
	}
	return out, sc.Err()
}

// AdvPairs turns adversarial pairs into replay pairs (must-hit: label 1).
func AdvPairs(adv []AdvPair) []Pair {
	out := make([]Pair, len(adv))
	for i, p := range adv {
		out[i] = Pair{A: p.A, B: p.B}
		if p.Expect == "hit" {
			out[i].Label = 1
		}
	}
	return out
}

// AdvTargets are the must-hit targets per category: the share of pairs
// that must be served their own answer. Every must-miss category's target
// is 0 wrong answers.
var AdvTargets = map[string]float64{
	"formatting":       1.00,
	"typos":            0.90,
	"paraphrase_close": 0.50,
	"paraphrase_far":   0.10,
}

// AdvCategory is one category's result at one threshold.
type AdvCategory struct {
	Category string
	Expect   string // "hit" or "miss"
	Pairs    int
	// Own: must-hit pairs served their own answer.
	Own int
	// Wrong: pairs served a wrong answer (every hit on a must-miss pair,
	// and hits on a must-hit pair that returned another pair's answer);
	// WrongIDs names them.
	Wrong    int
	WrongIDs []string
	// Identical: served another entry whose prompt is the question itself
	// (neither right nor wrong).
	Identical int
	// Missed names the must-hit pairs not served (for diagnostics).
	Missed []string
}

// OwnRate is the share of must-hit pairs served their own answer.
func (c *AdvCategory) OwnRate() float64 {
	if c.Pairs == 0 {
		return 0
	}
	return float64(c.Own) / float64(c.Pairs)
}

// Pass reports whether the category meets its target: no wrong answer,
// and for must-hit categories with a target, at least that share served.
func (c *AdvCategory) Pass() bool {
	if c.Wrong > 0 {
		return false
	}
	if c.Expect == "hit" {
		return c.OwnRate() >= AdvTargets[c.Category]-1e-9
	}
	return true
}

// Target renders the category's target.
func (c *AdvCategory) Target() string {
	if c.Expect == "miss" {
		return "0 wrong"
	}
	if t, ok := AdvTargets[c.Category]; ok {
		return fmt.Sprintf("≥ %.0f%%, 0 wrong", 100*t)
	}
	return "0 wrong"
}

// AdvSweep tallies adversarial outcomes (from Replay of AdvPairs(adv), in
// the same order) per category at threshold t: must-miss categories
// first, then must-hit ones, each in name order.
func AdvSweep(adv []AdvPair, outcomes []Outcome, t float64) []AdvCategory {
	by := map[string]*AdvCategory{}
	for i, p := range adv {
		c := by[p.Category+"/"+p.Expect]
		if c == nil {
			c = &AdvCategory{Category: p.Category, Expect: p.Expect}
			by[p.Category+"/"+p.Expect] = c
		}
		c.Pairs++
		o := &outcomes[i]
		switch {
		case !o.HitAt(t):
			if p.Expect == "hit" {
				c.Missed = append(c.Missed, p.ID)
			}
		case o.Identical:
			c.Identical++
		case p.Expect == "hit" && o.Right:
			c.Own++
		default:
			c.Wrong++
			c.WrongIDs = append(c.WrongIDs, p.ID)
		}
	}
	out := make([]AdvCategory, 0, len(by))
	for _, c := range by {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b AdvCategory) int {
		if a.Expect != b.Expect {
			if a.Expect == "miss" {
				return -1
			}
			return 1
		}
		if a.Category < b.Category {
			return -1
		}
		if a.Category > b.Category {
			return 1
		}
		return 0
	})
	return out
}
