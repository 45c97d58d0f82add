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

// defaultSameWordsMargins are cache.same_words_margin's defaults, per
// embedder, from the same run: each is the largest margin that keeps the
// embedder's default threshold within the 0.5% false-hit budget with no
// wrong GPTCache hit (bench/results/quality-20261125-125711.md, "Same-words
// margins"): use-lite-en 0.02 raised QQP recall at 0.98 from 3.51% to
// 4.57% (false-hit rate 0.36% to 0.42%, GPTCache 67 / 0 either way);
// lexical 0.01 at 0.93 from 3.62% to 3.99% (0.42% to 0.46%, 15 / 0).
// Remote embedders, whose similarity scale is unknown, get none.
var defaultSameWordsMargins = map[string]float64{
	"":                 semcache.DefaultSameWordsMargin,
	embed.ModelLexical: semcache.DefaultSameWordsMargin,
	embed.ModelUseLite: 0.02,
}

// defaultSameWordsMargin returns the same-words margin for an embedder
// model.
func defaultSameWordsMargin(model string) float64 {
	return defaultSameWordsMargins[model]
}
