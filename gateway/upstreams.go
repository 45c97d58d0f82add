package gateway

import (
	"fmt"
	"log/slog"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/anthropic"
	"github.com/semgate/semgate/providers/mock"
	"github.com/semgate/semgate/providers/openai"
	"github.com/semgate/semgate/providers/route"
)

// buildProvider constructs the adapter for one configured provider.
func buildProvider(p *ProviderConfig) (providers.Provider, error) {
	switch p.Type {
	case TypeOpenAI:
		return openai.New(p.Name, openai.Options{HTTPOptions: p.HTTPOptions, AuthHeader: p.AuthHeader, Query: p.Query, Responses: p.Responses})
	case TypeAnthropic:
		return anthropic.New(p.Name, anthropic.Options{HTTPOptions: p.HTTPOptions, Version: p.Version, DefaultMaxTokens: p.DefaultMaxTokens})
	case TypeMock:
		return mock.New(p.Name, p.Mock)
	}
	return nil, fmt.Errorf("gateway: provider %q: unknown type %q", p.Name, p.Type)
}

// buildRouter constructs every enabled provider and the model aliases that
// can be served. Aliases whose deployments all use disabled providers are
// left out and logged.
func buildRouter(cfg *Config, log *slog.Logger) (*providers.Router, error) {
	built := make(map[string]providers.Provider, len(cfg.Providers))
	for i := range cfg.Providers {
		p := &cfg.Providers[i]
		if !p.enabled() {
			log.Info("provider disabled: its api_key is empty", "provider", p.Name, "type", p.Type)
			continue
		}
		prov, err := buildProvider(p)
		if err != nil {
			return nil, fmt.Errorf("gateway: provider %q: %w", p.Name, err)
		}
		built[p.Name] = prov
	}
	var models []*providers.Model
	for i := range cfg.Models {
		mc := &cfg.Models[i]
		m := &providers.Model{Name: mc.Name}
		for _, dc := range enabledDeployments(cfg, mc) {
			upstream := dc.Model
			if upstream == "" {
				upstream = mc.Name
			}
			price, _ := route.PriceFor(upstream, dc.Price, cfg.Routing.Prices)
			window := dc.ContextWindow
			if k, ok := route.Lookup(upstream); ok && window == 0 {
				window = k.ContextWindow
			}
			m.Deployments = append(m.Deployments, &providers.Deployment{
				Provider:      built[dc.Provider],
				ProviderName:  dc.Provider,
				Model:         upstream,
				Price:         price,
				ContextWindow: window,
			})
		}
		if len(m.Deployments) == 0 {
			log.Info("model disabled: none of its providers is enabled", "model", mc.Name)
			continue
		}
		models = append(models, m)
	}
	return providers.NewRouter(models)
}

// enabledDeployments returns the alias's deployments whose provider is
// enabled, in configured order: the deployments buildRouter builds.
func enabledDeployments(cfg *Config, mc *ModelConfig) []DeploymentConfig {
	enabled := make(map[string]bool, len(cfg.Providers))
	for i := range cfg.Providers {
		enabled[cfg.Providers[i].Name] = cfg.Providers[i].enabled()
	}
	var out []DeploymentConfig
	for _, dc := range mc.Deployments {
		if enabled[dc.Provider] {
			out = append(out, dc)
		}
	}
	return out
}
