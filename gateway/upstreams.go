package gateway

import (
	"fmt"
	"log/slog"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/anthropic"
	"github.com/semgate/semgate/providers/mock"
	"github.com/semgate/semgate/providers/openai"
)

// buildProvider constructs the adapter for one configured provider.
func buildProvider(p *ProviderConfig) (providers.Provider, error) {
	switch p.Type {
	case TypeOpenAI:
		return openai.New(p.Name, openai.Options{HTTPOptions: p.HTTPOptions, AuthHeader: p.AuthHeader, Query: p.Query})
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
	for _, mc := range cfg.Models {
		m := &providers.Model{Name: mc.Name}
		for _, dc := range mc.Deployments {
			prov, ok := built[dc.Provider]
			if !ok {
				continue
			}
			upstream := dc.Model
			if upstream == "" {
				upstream = mc.Name
			}
			m.Deployments = append(m.Deployments, &providers.Deployment{
				Provider:      prov,
				ProviderName:  dc.Provider,
				Model:         upstream,
				Price:         dc.Price,
				ContextWindow: dc.ContextWindow,
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
