package gateway

import (
	"github.com/semgate/semgate/embed"
	"github.com/semgate/semgate/semcache"
)

// defaultThresholds are the similarity thresholds used when cache.threshold
// is not set, per embedder: each embedder spreads similarities differently,
// so one number cannot serve all. Each is the lowest threshold whose
// false-hit rate on QQP non-duplicates stays at or under 0.5% with the
// content guard on, with no wrong hit on the GPTCache paraphrase pairs
// (`go run ./bench quality --pairs 20000 --embedders lexical,use-lite-en
// --min 0.90 --step 0.005`, bench/results/quality-20261125-105605.md):
// lexical at 0.93 kept 3.62% recall at a 0.46% false-hit rate and 15 of
// 999 GPTCache paraphrases (0 wrong); use-lite-en at 0.98 kept 3.51% at
// 0.38% and 67 of 999 (0 wrong).
var defaultThresholds = map[string]float64{
	"":                 semcache.DefaultThreshold,
	embed.ModelLexical: semcache.DefaultThreshold,
	embed.ModelUseLite: 0.98,
}

// defaultThreshold returns the threshold for an embedder model; remote
// embedders, whose similarity scale is unknown, get the lexical default.
func defaultThreshold(model string) float64 {
	if t, ok := defaultThresholds[model]; ok {
		return t
	}
	return semcache.DefaultThreshold
}
