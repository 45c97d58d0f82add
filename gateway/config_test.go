package gateway

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func noEnv(string) (string, bool) { return "", false }

func TestConfigUnknownKeysWithLines(t *testing.T) {
	src := "server:\n  listen: 127.0.0.1:8080\n  lisen: oops\nproviders:\n  - name: mock\n    type: mock\n    colour: red\nmodels:\n  - name: m\n    deployments: [{provider: mock}]\n"
	_, err := ParseConfig([]byte(src), noEnv)
	var ce *ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, ErrConfig) {
		t.Fatalf("err = %v", err)
	}
	msg := ce.Error()
	for _, want := range []string{"line 3", "lisen", "line 7", "colour"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("%q missing from:\n%s", want, msg)
		}
	}
}

func TestConfigEveryProblemAtOnce(t *testing.T) {
	src := `server:
  listen: nonsense
  max_body_bytes: -1
providers:
  - name: a
    type: openia
  - name: a
    type: mock
    mock:
      fault_rate: 2
models:
  - name: m
    deployments:
      - provider: nobody
  - name: m
    deployments: []
`
	_, err := ParseConfig([]byte(src), noEnv)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	wantPaths := []string{"server", "providers[0].type", "providers[1].name", "providers[1].mock",
		"models[0].deployments[0].provider", "models[1].name", "models[1].deployments"}
	for _, p := range wantPaths {
		found := false
		for _, pr := range ce.Problems {
			if pr.Path == p {
				found = true
				if pr.Line == 0 {
					t.Errorf("problem at %s has no line", p)
				}
			}
		}
		if !found {
			t.Errorf("no problem reported at %s; got:\n%s", p, ce.Error())
		}
	}
	// Lines point at the offending keys.
	for _, pr := range ce.Problems {
		if pr.Path == "providers[0].type" && pr.Line != 6 {
			t.Errorf("providers[0].type on line %d, want 6", pr.Line)
		}
		if pr.Path == "models[0].deployments[0].provider" && pr.Line != 14 {
			t.Errorf("deployment provider on line %d, want 14", pr.Line)
		}
	}
}

func TestConfigEnvExpansion(t *testing.T) {
	src := `providers:
  - name: o
    type: openai
    base_url: ${BASE:-http://127.0.0.1:9/v1}
    api_key: ${KEY}
    headers: {X-Org: "org-${ORG}"}
models: [{name: m, deployments: [{provider: o}]}]
`
	env := map[string]string{"KEY": "sk-live-123", "ORG": "acme"}
	cfg, err := ParseConfig([]byte(src), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Providers[0]
	if p.APIKey.Reveal() != "sk-live-123" || p.BaseURL != "http://127.0.0.1:9/v1" || p.Headers["X-Org"] != "org-acme" {
		t.Fatalf("%+v", p)
	}
	// A required provider whose key variable is missing is a problem that
	// names the variable.
	_, err = ParseConfig([]byte(src), noEnv)
	if err == nil || !strings.Contains(err.Error(), "KEY is not set") {
		t.Fatalf("err = %v", err)
	}
}

func TestConfigNeverPrintsSecrets(t *testing.T) {
	src := `providers:
  - name: o
    type: openai
    api_key: ${KEY}
    timeout: -1s
models: [{name: m, deployments: [{provider: o}]}]
`
	secret := "sk-very-secret-value"
	lookup := func(k string) (string, bool) { return secret, true }
	_, err := ParseConfig([]byte(src), lookup)
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("err = %v", err)
	}
	cfg, err := ParseConfig([]byte(strings.Replace(src, "timeout: -1s", "timeout: 5s", 1)), lookup)
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.Join(Summary(cfg), "\n"); strings.Contains(s, secret) || !strings.Contains(s, "api_key set") {
		t.Fatalf("summary: %s", s)
	}
}

func TestShippedConfigIsValid(t *testing.T) {
	cfg, err := LoadConfig("../configs/semgate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, m := range cfg.Models {
		names[m.Name] = true
	}
	if !names["mock-small"] || !names["mock-large"] {
		t.Fatalf("shipped config lacks the mock models: %v", names)
	}
	entries, _ := os.ReadDir("../configs")
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") && e.Name() != "semgate.yaml" {
			if _, err := LoadConfig("../configs/" + e.Name()); err != nil && !strings.Contains(err.Error(), "is not set") {
				t.Errorf("%s: %v", e.Name(), err)
			}
		}
	}
}
