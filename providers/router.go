package providers

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Price is what a deployment costs, in US dollars per million tokens.
type Price struct {
	// Input is the price of a million prompt tokens.
	Input float64 `yaml:"input"`
	// CachedInput is the price of a million prompt tokens the upstream
	// served from its own prompt cache (usage.prompt_tokens_details.
	// cached_tokens). Default: Input.
	CachedInput float64 `yaml:"cached_input"`
	// Output is the price of a million completion tokens.
	Output float64 `yaml:"output"`
	// CacheWrite is the price of a million prompt tokens written to the
	// upstream's prompt cache (Anthropic's cache_creation_input_tokens,
	// 1.25 times input for its 5-minute cache). Default: Input.
	CacheWrite float64 `yaml:"cache_write"`
}

// IsZero reports whether no price is set.
func (p Price) IsZero() bool { return p == Price{} }

// CostNanoUSD returns what prompt tokens (cached of them served from the
// upstream's prompt cache) and completion tokens cost at p, in billionths
// of a US dollar, rounded. Integers keep totals exact when added up.
func (p Price) CostNanoUSD(prompt, cached, completion int) int64 {
	cached = min(max(cached, 0), max(prompt, 0))
	ci := p.CachedInput
	if ci == 0 {
		ci = p.Input
	}
	// USD per million tokens x tokens x 1e9/1e6 = nano-USD.
	v := (float64(prompt-cached)*p.Input + float64(cached)*ci + float64(completion)*p.Output) * 1e3
	return int64(math.Round(v))
}

// CacheWriteNanoUSD returns what writing tokens to the upstream's prompt
// cache costs at p beyond their price as prompt tokens, which
// CostNanoUSD already counts: (CacheWrite - Input) per token, 0 when
// CacheWrite is not set.
func (p Price) CacheWriteNanoUSD(written int) int64 {
	if p.CacheWrite == 0 || written <= 0 {
		return 0
	}
	return int64(math.Round(float64(written) * (p.CacheWrite - p.Input) * 1e3))
}

// Deployment is one upstream that can serve a model alias: a provider and
// the model name it knows.
type Deployment struct {
	// Provider sends the requests.
	Provider Provider
	// ProviderName is the provider's configured name (x-semgate-provider).
	ProviderName string
	// Model is the upstream's model name (x-semgate-model).
	Model string
	// Price is the deployment's token price.
	Price Price
	// ContextWindow is the model's context size in tokens; 0 means unknown.
	ContextWindow int
}

// Model is a public model alias and the deployments that serve it, in
// order of preference.
type Model struct {
	Name        string
	Deployments []*Deployment
}

// ErrUnknownModel: no alias of that name is configured.
var ErrUnknownModel = errors.New("providers: unknown model")

// Router maps model aliases to their deployments. It is immutable after
// NewRouter and safe for concurrent use.
type Router struct {
	models map[string]*Model
	names  []string
}

// NewRouter indexes models by name. Names must be unique and every model
// needs at least one deployment.
func NewRouter(models []*Model) (*Router, error) {
	r := &Router{models: make(map[string]*Model, len(models))}
	var errs []error
	for _, m := range models {
		if _, dup := r.models[m.Name]; dup {
			errs = append(errs, fmt.Errorf("model %q defined twice", m.Name))
			continue
		}
		if len(m.Deployments) == 0 {
			errs = append(errs, fmt.Errorf("model %q has no deployments", m.Name))
			continue
		}
		r.models[m.Name] = m
		r.names = append(r.names, m.Name)
	}
	slices.Sort(r.names)
	return r, errors.Join(errs...)
}

// Lookup returns the model with the given alias.
func (r *Router) Lookup(alias string) (*Model, error) {
	if m, ok := r.models[alias]; ok {
		return m, nil
	}
	return nil, ErrUnknownModel
}

// Names returns the configured aliases, sorted. The slice must not be
// modified.
func (r *Router) Names() []string { return r.names }
