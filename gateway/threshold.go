package gateway

import (
	"github.com/semgate/semgate/embed"
	"github.com/semgate/semgate/semcache"
)

// defaultThresholds are the similarity floors used when cache.threshold is
// not set, per embedder. The similarity only retrieves and orders
// candidates; the verifier decides each one, so the floor is permissive:
// low enough that typo and paraphrase candidates reach the verifier
// (use-lite-en puts typos at a median 0.90 and close paraphrases at 0.92),
// high enough that unrelated prompts are not verified for nothing. Remote
// embedders, whose similarity scale is unknown, get the lexical floor;
// `semgate calibrate` measures one for them.
var defaultThresholds = map[string]float64{
	"":                 semcache.DefaultThreshold,
	embed.ModelLexical: semcache.DefaultThreshold,
	embed.ModelUseLite: 0.6,
}

// defaultThreshold returns the threshold for an embedder model; remote
// embedders, whose similarity scale is unknown, get the lexical default.
func defaultThreshold(model string) float64 {
	if t, ok := defaultThresholds[model]; ok {
		return t
	}
	return semcache.DefaultThreshold
}
