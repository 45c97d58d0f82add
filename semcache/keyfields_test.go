package semcache

import (
	"strconv"
	"strings"
	"testing"
)

// keyField is one request field and whether it belongs in the partition:
// when in, requests that differ only in it must key apart (a and b differ);
// when out, adding it (a) or changing it (a vs b) must not change the key.
type keyField struct {
	endpoint string
	field    string
	a, b     string // JSON values
	in       bool
}

// keyFieldTable lists every Chat Completions and Completions request field
// (OpenAI's API reference, 2026) and where it stands. Unknown fields are in:
// the safe side.
var keyFieldTable = []keyField{
	// Chat Completions: fields that can change the answer.
	{EndpointChat, "temperature", `0.2`, `0.9`, true},
	{EndpointChat, "top_p", `0.5`, `0.9`, true},
	{EndpointChat, "n", `2`, `3`, true},
	{EndpointChat, "max_tokens", `10`, `20`, true},
	{EndpointChat, "max_completion_tokens", `10`, `20`, true},
	{EndpointChat, "presence_penalty", `0.5`, `1`, true},
	{EndpointChat, "frequency_penalty", `0.5`, `1`, true},
	{EndpointChat, "logit_bias", `{"50256":-100}`, `{"50256":100}`, true},
	{EndpointChat, "logprobs", `true`, `false`, true},
	{EndpointChat, "top_logprobs", `2`, `5`, true},
	{EndpointChat, "stop", `"END"`, `["END","STOP"]`, true},
	{EndpointChat, "seed", `1`, `2`, true},
	{EndpointChat, "response_format", `{"type":"json_object"}`, `{"type":"text"}`, true},
	{EndpointChat, "tools", `[{"type":"function","function":{"name":"f"}}]`, `[{"type":"function","function":{"name":"g"}}]`, true},
	{EndpointChat, "tool_choice", `"required"`, `"auto"`, true},
	{EndpointChat, "parallel_tool_calls", `false`, `true`, true},
	{EndpointChat, "functions", `[{"name":"f"}]`, `[{"name":"g"}]`, true},
	{EndpointChat, "function_call", `"auto"`, `{"name":"f"}`, true},
	{EndpointChat, "modalities", `["text","audio"]`, `["text"]`, true},
	{EndpointChat, "audio", `{"voice":"alloy","format":"wav"}`, `{"voice":"echo","format":"wav"}`, true},
	{EndpointChat, "prediction", `{"type":"content","content":"x"}`, `{"type":"content","content":"y"}`, true},
	{EndpointChat, "reasoning_effort", `"low"`, `"high"`, true},
	{EndpointChat, "verbosity", `"low"`, `"high"`, true},
	{EndpointChat, "web_search_options", `{"search_context_size":"low"}`, `{"search_context_size":"high"}`, true},
	{EndpointChat, "x_unknown_future_field", `1`, `2`, true},
	// Chat Completions: fields that cannot change the answer.
	{EndpointChat, "stream", `true`, `false`, false},
	{EndpointChat, "stream_options", `{"include_usage":true}`, `{"include_usage":false}`, false},
	{EndpointChat, "store", `true`, `false`, false},
	{EndpointChat, "metadata", `{"a":"b"}`, `{"c":"d"}`, false},
	{EndpointChat, "user", `"u1"`, `"u2"`, false},
	{EndpointChat, "safety_identifier", `"s1"`, `"s2"`, false},
	{EndpointChat, "prompt_cache_key", `"k1"`, `"k2"`, false},
	{EndpointChat, "service_tier", `"flex"`, `"priority"`, false},
	// Completions.
	{EndpointCompletions, "temperature", `0.2`, `0.9`, true},
	{EndpointCompletions, "top_p", `0.5`, `0.9`, true},
	{EndpointCompletions, "n", `2`, `3`, true},
	{EndpointCompletions, "max_tokens", `10`, `20`, true},
	{EndpointCompletions, "presence_penalty", `0.5`, `1`, true},
	{EndpointCompletions, "frequency_penalty", `0.5`, `1`, true},
	{EndpointCompletions, "logit_bias", `{"50256":-100}`, `{"50256":100}`, true},
	{EndpointCompletions, "logprobs", `2`, `5`, true},
	{EndpointCompletions, "stop", `"END"`, `["END","STOP"]`, true},
	{EndpointCompletions, "seed", `1`, `2`, true},
	{EndpointCompletions, "echo", `true`, `false`, true},
	{EndpointCompletions, "best_of", `2`, `3`, true},
	{EndpointCompletions, "suffix", `"a"`, `"b"`, true},
	{EndpointCompletions, "x_unknown_future_field", `1`, `2`, true},
	{EndpointCompletions, "stream", `true`, `false`, false},
	{EndpointCompletions, "stream_options", `{"include_usage":true}`, `{"include_usage":false}`, false},
	{EndpointCompletions, "user", `"u1"`, `"u2"`, false},
}

func keyFieldBody(endpoint, field, value string) string {
	extra := ""
	if field != "" {
		extra = `,"` + field + `":` + value
	}
	if endpoint == EndpointCompletions {
		return `{"model":"m","prompt":"Once upon a time"` + extra + `}`
	}
	return `{"model":"m","messages":[{"role":"user","content":"hi"}]` + extra + `}`
}

func TestKeyFieldTable(t *testing.T) {
	key := func(endpoint, field, value string) Key {
		in := KeyInput{Tenant: "t", Model: "m", Endpoint: endpoint, Body: []byte(keyFieldBody(endpoint, field, value))}
		return mustKey(t, in)
	}
	for _, f := range keyFieldTable {
		a, b := key(f.endpoint, f.field, f.a), key(f.endpoint, f.field, f.b)
		none := key(f.endpoint, "", "")
		if keyNullable[f.field] {
			if null := key(f.endpoint, f.field, "null"); null.Partition != none.Partition {
				t.Errorf("%s %s: null keys apart from absent", f.endpoint, f.field)
			}
		}
		if f.in {
			if a.Partition == b.Partition {
				t.Errorf("%s %s: %s and %s share a partition; it can change the answer", f.endpoint, f.field, f.a, f.b)
			}
			continue
		}
		if a.Partition != b.Partition || a.Partition != none.Partition || a.Exact != none.Exact {
			t.Errorf("%s %s: changes the key, but cannot change the answer", f.endpoint, f.field)
		}
	}
}

// TestKeyContentParts: image, audio and file parts key by their content,
// wherever they are in the conversation; the same content keys alike.
func TestKeyContentParts(t *testing.T) {
	parts := map[string][2]string{
		"image url":    {`{"type":"image_url","image_url":{"url":"https://x/a.png"}}`, `{"type":"image_url","image_url":{"url":"https://x/b.png"}}`},
		"image data":   {`{"type":"image_url","image_url":{"url":"data:image/png;base64,` + strings.Repeat("A", 4000) + `"}}`, `{"type":"image_url","image_url":{"url":"data:image/png;base64,` + strings.Repeat("A", 3999) + `B"}}`},
		"image detail": {`{"type":"image_url","image_url":{"url":"https://x/a.png","detail":"low"}}`, `{"type":"image_url","image_url":{"url":"https://x/a.png","detail":"high"}}`},
		"input audio":  {`{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}}`, `{"type":"input_audio","input_audio":{"data":"UklGRh==","format":"wav"}}`},
		"file data":    {`{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERi0x"}}`, `{"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERi0y"}}`},
		"file id":      {`{"type":"file","file":{"file_id":"file-1"}}`, `{"type":"file","file":{"file_id":"file-2"}}`},
	}
	for name, p := range parts {
		for _, where := range []string{"last", "history"} {
			body := func(part string) string {
				msg := `{"role":"user","content":[{"type":"text","text":"What is this?"},` + part + `]}`
				if where == "history" {
					return `{"messages":[` + msg + `,{"role":"assistant","content":"A thing."},{"role":"user","content":"Sure?"}]}`
				}
				return `{"messages":[` + msg + `]}`
			}
			a, a2, b := mustKey(t, keyIn(body(p[0]))), mustKey(t, keyIn(body(p[0]))), mustKey(t, keyIn(body(p[1])))
			if a.Exact != a2.Exact {
				t.Errorf("%s (%s): the same content keys differently", name, where)
			}
			if a.Partition == b.Partition {
				t.Errorf("%s (%s): different content shares a partition", name, where)
			}
			if where == "last" && a.Semantic {
				t.Errorf("%s: a prompt with a non-text part may not use the semantic tier", name)
			}
		}
	}
}

// TestKeyLongPromptExactOnly: a prompt over MaxSemanticBytes keys exactly
// (its whole text) but skips the semantic tier.
func TestKeyLongPromptExactOnly(t *testing.T) {
	long := strings.Repeat("a long prompt ", 20_000) // 280 KB
	body := func(p string) []byte {
		return []byte(`{"messages":[{"role":"user","content":` + strconv.Quote(p) + `}]}`)
	}
	in := KeyInput{Tenant: "t", Model: "m", Endpoint: EndpointChat, Body: body(long)}
	k, err := MakeKey(in, KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if k.Semantic || k.Normalized != "" || k.Prompt != long {
		t.Fatalf("semantic %v, normalized %d bytes", k.Semantic, len(k.Normalized))
	}
	in.Body = body(long[:len(long)-1] + "!")
	if k2, _ := MakeKey(in, KeyOptions{}); k2.Exact == k.Exact {
		t.Fatal("the end of a long prompt is not in its key")
	}
	if k3, _ := MakeKey(KeyInput{Tenant: "t", Model: "m", Endpoint: EndpointChat, Body: body(long)}, KeyOptions{MaxSemanticBytes: 1 << 20}); !k3.Semantic {
		t.Fatal("MaxSemanticBytes not applied")
	}
}
