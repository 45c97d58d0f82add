package route

import (
	"strings"

	"github.com/semgate/semgate/providers"
)

// PricesDate is when the shipped table's prices were last checked against
// the providers' public list prices. Check them against your contract and
// override them in routing.prices or per deployment.
const PricesDate = "2025-11-01"

// Known is what the shipped table knows of an upstream model.
type Known struct {
	// Price in USD per million tokens.
	Price providers.Price
	// ContextWindow in tokens.
	ContextWindow int
	// Capabilities the model has through semgate's adapter.
	Capabilities Capability
}

const (
	openAIChat = CapTools | CapVision | CapJSONSchema | CapStreaming
	// The anthropic adapter translates tools, images and streams, but
	// rejects response_format other than text.
	claude = CapTools | CapVision | CapStreaming
)

// knownModels is the shipped table: public list prices (standard tier,
// USD per million tokens) as of PricesDate.
var knownModels = map[string]Known{
	// OpenAI
	"gpt-5":                  {providers.Price{Input: 1.25, CachedInput: 0.125, Output: 10}, 400000, openAIChat},
	"gpt-5-mini":             {providers.Price{Input: 0.25, CachedInput: 0.025, Output: 2}, 400000, openAIChat},
	"gpt-5-nano":             {providers.Price{Input: 0.05, CachedInput: 0.005, Output: 0.40}, 400000, openAIChat},
	"gpt-4.1":                {providers.Price{Input: 2, CachedInput: 0.50, Output: 8}, 1047576, openAIChat},
	"gpt-4.1-mini":           {providers.Price{Input: 0.40, CachedInput: 0.10, Output: 1.60}, 1047576, openAIChat},
	"gpt-4.1-nano":           {providers.Price{Input: 0.10, CachedInput: 0.025, Output: 0.40}, 1047576, openAIChat},
	"gpt-4o":                 {providers.Price{Input: 2.50, CachedInput: 1.25, Output: 10}, 128000, openAIChat},
	"gpt-4o-mini":            {providers.Price{Input: 0.15, CachedInput: 0.075, Output: 0.60}, 128000, openAIChat},
	"gpt-4-turbo":            {providers.Price{Input: 10, Output: 30}, 128000, CapTools | CapVision | CapStreaming},
	"gpt-3.5-turbo":          {providers.Price{Input: 0.50, Output: 1.50}, 16385, CapTools | CapStreaming},
	"o1":                     {providers.Price{Input: 15, CachedInput: 7.50, Output: 60}, 200000, openAIChat},
	"o3":                     {providers.Price{Input: 2, CachedInput: 0.50, Output: 8}, 200000, openAIChat},
	"o3-mini":                {providers.Price{Input: 1.10, CachedInput: 0.55, Output: 4.40}, 200000, CapTools | CapJSONSchema | CapStreaming},
	"o4-mini":                {providers.Price{Input: 1.10, CachedInput: 0.275, Output: 4.40}, 200000, openAIChat},
	"text-embedding-3-small": {providers.Price{Input: 0.02}, 8191, 0},
	"text-embedding-3-large": {providers.Price{Input: 0.13}, 8191, 0},
	"text-embedding-ada-002": {providers.Price{Input: 0.10}, 8191, 0},
	// Anthropic (cached input: prompt-cache reads, a tenth of input; cache
	// write: 5-minute prompt-cache writes, 1.25 times input)
	"claude-opus-4-5":   {providers.Price{Input: 5, CachedInput: 0.50, CacheWrite: 6.25, Output: 25}, 200000, claude},
	"claude-opus-4-1":   {providers.Price{Input: 15, CachedInput: 1.50, CacheWrite: 18.75, Output: 75}, 200000, claude},
	"claude-opus-4":     {providers.Price{Input: 15, CachedInput: 1.50, CacheWrite: 18.75, Output: 75}, 200000, claude},
	"claude-sonnet-4-5": {providers.Price{Input: 3, CachedInput: 0.30, CacheWrite: 3.75, Output: 15}, 200000, claude},
	"claude-sonnet-4":   {providers.Price{Input: 3, CachedInput: 0.30, CacheWrite: 3.75, Output: 15}, 200000, claude},
	"claude-3-7-sonnet": {providers.Price{Input: 3, CachedInput: 0.30, CacheWrite: 3.75, Output: 15}, 200000, claude},
	"claude-haiku-4-5":  {providers.Price{Input: 1, CachedInput: 0.10, CacheWrite: 1.25, Output: 5}, 200000, claude},
	"claude-3-5-haiku":  {providers.Price{Input: 0.80, CachedInput: 0.08, CacheWrite: 1, Output: 4}, 200000, claude},
	"claude-3-haiku":    {providers.Price{Input: 0.25, CachedInput: 0.03, CacheWrite: 0.3125, Output: 1.25}, 200000, claude},
}

// Lookup returns the shipped table's entry for an upstream model name: an
// exact match, or the longest known name that model extends with a "-"
// suffix (a dated snapshot such as "gpt-4o-2024-08-06" or
// "claude-sonnet-4-5-20250929").
func Lookup(model string) (Known, bool) {
	if k, ok := knownModels[model]; ok {
		return k, true
	}
	best := ""
	for name := range knownModels {
		if len(name) > len(best) && strings.HasPrefix(model, name) && model[len(name)] == '-' {
			best = name
		}
	}
	if best == "" {
		return Known{}, false
	}
	return knownModels[best], true
}

// PriceFor resolves a deployment's price: its own when set, else
// overrides[model], else the shipped table, else zero.
func PriceFor(model string, own providers.Price, overrides map[string]providers.Price) (providers.Price, bool) {
	if !own.IsZero() {
		return own, true
	}
	if p, ok := overrides[model]; ok {
		return p, true
	}
	if k, ok := Lookup(model); ok {
		return k.Price, true
	}
	return providers.Price{}, false
}
