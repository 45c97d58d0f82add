//go:build tools

// Package tools pins dependencies that are not yet imported by code.
package tools

import (
	_ "github.com/VictoriaMetrics/metrics"
	_ "github.com/cockroachdb/pebble/v2"
	_ "github.com/gorilla/mux"
	_ "github.com/openai/openai-go/v3"
	_ "github.com/tidwall/gjson"
	_ "github.com/tidwall/sjson"
	_ "go.uber.org/goleak"
	_ "go.yaml.in/yaml/v3"
	_ "golang.org/x/term"
)
