package route

import (
	"fmt"
	"strings"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/tokens"
	"github.com/tidwall/gjson"
)

// Capability is a set of request features a deployment may lack.
type Capability uint8

// The capabilities.
const (
	// CapTools: function/tool calling ("tools", "functions", tool messages).
	CapTools Capability = 1 << iota
	// CapVision: image inputs (image_url content parts).
	CapVision
	// CapJSONSchema: structured output (response_format json_schema or
	// json_object).
	CapJSONSchema
	// CapStreaming: "stream": true.
	CapStreaming

	// CapAll is every capability.
	CapAll = CapTools | CapVision | CapJSONSchema | CapStreaming
)

var capNames = []struct {
	c    Capability
	name string
}{{CapTools, "tools"}, {CapVision, "vision"}, {CapJSONSchema, "json_schema"}, {CapStreaming, "streaming"}}

// String lists the capabilities, comma separated.
func (c Capability) String() string {
	var b strings.Builder
	for _, n := range capNames {
		if c&n.c != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(n.name)
		}
	}
	return b.String()
}

// ParseCapabilities reads capability names; nil or empty gives 0.
func ParseCapabilities(names []string) (Capability, error) {
	var c Capability
	for _, s := range names {
		found := false
		for _, n := range capNames {
			if s == n.name {
				c |= n.c
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown capability %q (tools, vision, json_schema, streaming)", s)
		}
	}
	return c, nil
}

// Features is what routing needs to know about one request. Inspect fills
// it in one pass over the body.
type Features struct {
	// Endpoint is the request's endpoint.
	Endpoint providers.Endpoint
	// Body is the client's request body.
	Body []byte
	// Needs are the capabilities the request uses.
	Needs Capability
	// PromptBound is an upper bound on the prompt's tokens in any
	// byte-level BPE encoding (tokens.Bound).
	PromptBound int
	// MaxTokens is the requested output limit (max_completion_tokens or
	// max_tokens), 0 when unset.
	MaxTokens int

	counted map[string]int // exact prompt counts by encoding, on demand
}

// Inspect reads the features of a validated request body.
func Inspect(ep providers.Endpoint, body []byte) *Features {
	f := &Features{Endpoint: ep, Body: body}
	f.PromptBound = tokens.Bound(ep.String(), body)
	root := gjson.ParseBytes(body)
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "stream":
			if v.Type == gjson.True {
				f.Needs |= CapStreaming
			}
		case "tools", "functions":
			if v.IsArray() && len(v.Array()) > 0 {
				f.Needs |= CapTools
			}
		case "response_format":
			switch v.Get("type").Str {
			case "json_schema", "json_object":
				f.Needs |= CapJSONSchema
			}
		case "max_tokens", "max_completion_tokens":
			if n := int(v.Int()); n > f.MaxTokens {
				f.MaxTokens = n
			}
		case "messages":
			v.ForEach(func(_, m gjson.Result) bool {
				if m.Get("role").Str == "tool" || m.Get("tool_calls").IsArray() {
					f.Needs |= CapTools
				}
				if c := m.Get("content"); c.IsArray() {
					c.ForEach(func(_, p gjson.Result) bool {
						switch p.Get("type").Str {
						case "image_url", "input_image", "image":
							f.Needs |= CapVision
						}
						return true
					})
				}
				return true
			})
		}
		return true
	})
	return f
}

// promptTokens returns the exact prompt count in model's encoding,
// computed once per encoding.
func (f *Features) promptTokens(model string) int {
	enc := tokens.EncodingFor(model)
	if n, ok := f.counted[enc]; ok {
		return n
	}
	n := tokens.Prompt(model, f.Endpoint.String(), f.Body)
	if f.counted == nil {
		f.counted = map[string]int{}
	}
	f.counted[enc] = n
	return n
}

// fits reports whether the prompt plus MaxTokens fits a context window of
// window tokens (0: unknown, always fits). The byte bound settles most
// requests without tokenizing.
func (f *Features) fits(model string, window int) bool {
	if window <= 0 || f.PromptBound+f.MaxTokens <= window {
		return true
	}
	return f.promptTokens(model)+f.MaxTokens <= window
}

// estimatedPrompt is a cheap prompt-size estimate for cost ranking: about
// four bytes a token.
func (f *Features) estimatedPrompt() int { return f.PromptBound/4 + 1 }
