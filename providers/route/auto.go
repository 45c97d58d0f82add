package route

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/tidwall/gjson"
)

// AutoOptions configure the auto policy, which sends easy requests to a
// cheaper tier and hard ones to a stronger tier.
//
// # Calibrating
//
// The score ([Difficulty]) is a fixed, explainable sum of signals in [0, 1];
// only the thresholds are tuned. Collect a few hundred real prompts, mark
// each as needing the strong tier or not (or let the strong model judge
// the cheap model's answers), and compute their scores with [Difficulty]
// (the benchmark `go run ./bench routing --scores` prints a histogram for
// its workload). Put the threshold where the cheap tier's answers stop
// being good enough: every prompt scoring below it goes to the lower tier.
// Then watch x-semgate-route and semgate_route_tier_requests_total in
// production and move the threshold until the strong tier's share matches
// what you budgeted.
type AutoOptions struct {
	// Thresholds split difficulty scores among the alias's tiers, lowest
	// first: a request scoring below Thresholds[0] goes to the lowest tier,
	// below Thresholds[1] to the next, and anything higher to the top tier.
	// Increasing, each in (0, 1]; one fewer than the pool has tiers.
	// Required.
	Thresholds []float64 `yaml:"thresholds"`
}

// Validate reports every problem at once.
func (o *AutoOptions) Validate() error {
	var errs []error
	if len(o.Thresholds) == 0 {
		errs = append(errs, errors.New("thresholds: at least one is required"))
	}
	for i, t := range o.Thresholds {
		if !(t > 0 && t <= 1) {
			errs = append(errs, fmt.Errorf("thresholds[%d]: must be in (0, 1]", i))
		}
		if i > 0 && t <= o.Thresholds[i-1] {
			errs = append(errs, fmt.Errorf("thresholds[%d]: must be above thresholds[%d]", i, i-1))
		}
	}
	return errors.Join(errs...)
}

// Score is a request's difficulty and the signals that made it.
type Score struct {
	// Value is in [0, 1]; higher is harder.
	Value float64
	// Signals name what contributed, in a fixed order: long, code, math,
	// multi-step, reasoning, long-output.
	Signals []string
}

// Weights of the difficulty signals. Each signal is in [0, 1]; the score is
// their weighted sum, capped at 1.
const (
	weightLength     = 0.30 // prompt length: 0 at 50 tokens, 1 at 1600 (log scale)
	weightCode       = 0.35 // code blocks or code-like lines; keywords alone count 0.6
	weightMath       = 0.35 // formulas, operators between numbers; keywords alone 0.6
	weightMultiStep  = 0.25 // numbered steps, "step by step", several asks
	weightReasoning  = 0.15 // prove, analyze, compare, trade-offs, why
	weightLongOutput = 0.20 // max_tokens >= 1000, or asks for an essay/report

	maxScoredText = 64 << 10 // bytes of prompt text the scorer reads
)

var (
	codeKeywords = []string{"function", "code", "implement", "refactor", "debug", "compile", "regex", "sql query",
		"python", "golang", "javascript", "typescript", "rust", "java ", "c++", "algorithm", "stack trace", "exception", "unit test"}
	codeMarkers  = []string{"func ", "def ", "class ", "return ", "import ", "#include", "=>", "();", "){", ") {", "select ", "console.log", "printf("}
	mathKeywords = []string{"integral", "derivative", "equation", "prove", "theorem", "probability", "matrix", "eigen",
		"solve for", "calculate", "compute the", "how many", "expected value", "polynomial", "limit of"}
	mathMarkers    = []string{"\\frac", "\\sum", "\\int", "^2", "sqrt", "∫", "∑", "≤", "≥", "π", "$$", " = ", "x^", "dx"}
	stepKeywords   = []string{"step by step", "step-by-step", "first,", "then ", "finally", "after that", "for each", "in order to"}
	reasonKeywords = []string{"why", "analy", "compare", "trade-off", "tradeoff", "pros and cons", "design", "evaluate",
		"critique", "justify", "explain how", "architecture", "optimi"}
	longOutKeywords = []string{"essay", "detailed", "in depth", "in-depth", "comprehensive", "thorough", "report", "long-form", "1000 words", "full implementation"}
)

// Difficulty scores a request: cheap (one pass over its text, no model),
// deterministic and explainable by its signals.
func Difficulty(f *Features) Score {
	text := promptText(f)
	lower := strings.ToLower(text)
	var s Score
	add := func(name string, w, v float64) {
		if v > 0 {
			s.Value += w * v
			s.Signals = append(s.Signals, name)
		}
	}
	tok := float64(f.PromptBound) / 4
	add("long", weightLength, clamp01(math.Log2(tok/50)/5))
	add("code", weightCode, codeSignal(text, lower))
	add("math", weightMath, mathSignal(text, lower))
	add("multi-step", weightMultiStep, stepSignal(text, lower))
	add("reasoning", weightReasoning, hits(lower, reasonKeywords, 2))
	lo := 0.0
	switch {
	case f.MaxTokens >= 1000:
		lo = 1
	case hits(lower, longOutKeywords, 1) > 0:
		lo = 0.8
	}
	add("long-output", weightLongOutput, lo)
	s.Value = math.Round(clamp01(s.Value)*1000) / 1000
	return s
}

func codeSignal(text, lower string) float64 {
	if strings.Contains(text, "```") {
		return 1
	}
	lines := 0
	for _, m := range codeMarkers {
		lines += strings.Count(lower, m)
	}
	if lines >= 2 {
		return 1
	}
	return 0.6 * hits(lower, codeKeywords, 1)
}

func mathSignal(text, lower string) float64 {
	markers := 0
	for _, m := range mathMarkers {
		if strings.Contains(lower, m) {
			markers++
		}
	}
	// digit operator digit, e.g. "12*7" or "3 + 4"
	ops := 0
	for i := 1; i+1 < len(text) && ops < 3; i++ {
		switch text[i] {
		case '+', '*', '/', '^', '=':
			if isDigitNear(text, i) {
				ops++
			}
		}
	}
	if markers >= 2 || ops >= 2 || (markers >= 1 && ops >= 1) {
		return 1
	}
	return 0.6 * hits(lower, mathKeywords, 1)
}

func isDigitNear(s string, i int) bool {
	l, r := i-1, i+1
	for l > 0 && s[l] == ' ' {
		l--
	}
	for r < len(s)-1 && s[r] == ' ' {
		r++
	}
	return s[l] >= '0' && s[l] <= '9' && s[r] >= '0' && s[r] <= '9'
}

func stepSignal(text, lower string) float64 {
	numbered := 0
	for _, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if len(t) >= 2 && t[0] >= '1' && t[0] <= '9' && (t[1] == '.' || t[1] == ')') {
			numbered++
		}
	}
	if numbered >= 2 {
		return 1
	}
	asks := strings.Count(text, "?")
	v := hits(lower, stepKeywords, 2)
	if asks >= 3 {
		v = max(v, 1)
	} else if asks == 2 {
		v = max(v, 0.5)
	}
	return v
}

// hits returns min(1, matches/full): how many of words occur in s.
func hits(s string, words []string, full int) float64 {
	n := 0
	for _, w := range words {
		if strings.Contains(s, w) {
			n++
		}
	}
	return clamp01(float64(n) / float64(full))
}

func clamp01(v float64) float64 {
	if v < 0 || math.IsNaN(v) {
		return 0
	}
	return min(v, 1)
}

// promptText returns the user and system text of a request (for chat the
// messages' text, for completions the prompt), up to maxScoredText bytes.
func promptText(f *Features) string {
	var b strings.Builder
	addText := func(s string) {
		if b.Len() < maxScoredText {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(s[:min(len(s), maxScoredText-b.Len())])
		}
	}
	switch f.Endpoint.String() {
	case "chat":
		gjson.GetBytes(f.Body, "messages").ForEach(func(_, m gjson.Result) bool {
			switch m.Get("role").Str {
			case "user", "system", "developer":
			default:
				return true
			}
			c := m.Get("content")
			if c.Type == gjson.String {
				addText(c.Str)
			} else {
				c.ForEach(func(_, p gjson.Result) bool {
					if t := p.Get("text"); t.Type == gjson.String {
						addText(t.Str)
					}
					return true
				})
			}
			return true
		})
	default:
		p := gjson.GetBytes(f.Body, "prompt")
		if p.Type == gjson.String {
			addText(p.Str)
		} else {
			p.ForEach(func(_, e gjson.Result) bool {
				if e.Type == gjson.String {
					addText(e.Str)
				}
				return true
			})
		}
	}
	return b.String()
}

// tierFor maps a score to an index into the sorted tiers.
func (o *AutoOptions) tierFor(score float64, ntiers int) int {
	i, _ := slices.BinarySearchFunc(o.Thresholds, score, func(t, s float64) int {
		if t <= s {
			return -1
		}
		return 1
	})
	return min(i, ntiers-1)
}
