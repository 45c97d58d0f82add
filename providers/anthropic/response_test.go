package anthropic

import (
	"errors"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/semgate/semgate/providers"
)

func anthMessage(content, stop, usage string) string {
	if usage == "" {
		usage = `{"input_tokens":1,"output_tokens":2}`
	}
	return `{"id":"msg_1","type":"message","role":"assistant","content":` + content + `,"stop_reason":` + stop + `,"usage":` + usage + `}`
}

func TestChatResponse(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []kv
	}{
		{"end_turn", anthMessage(`[{"type":"text","text":"hi"}]`, `"end_turn"`, ""), []kv{
			{"id", `"msg_1"`}, {"object", `"chat.completion"`}, {"created", "1700000000"}, {"model", `"req-model"`},
			{"choices.0.index", "0"}, {"choices.0.message.role", `"assistant"`}, {"choices.0.message.content", `"hi"`},
			{"choices.0.message.tool_calls", ""}, {"choices.0.finish_reason", `"stop"`}}},
		{"stop_sequence", anthMessage(`[{"type":"text","text":"hi"}]`, `"stop_sequence"`, ""), []kv{{"choices.0.finish_reason", `"stop"`}}},
		{"max_tokens", anthMessage(`[{"type":"text","text":"hi"}]`, `"max_tokens"`, ""), []kv{{"choices.0.finish_reason", `"length"`}}},
		{"tool_use", anthMessage(`[{"type":"tool_use","id":"t1","name":"f","input":{"b": [1, 2], "a": "x"}}]`, `"tool_use"`, ""), []kv{
			{"choices.0.finish_reason", `"tool_calls"`}, {"choices.0.message.content", "null"},
			{"choices.0.message.tool_calls", `[{"id":"t1","type":"function","function":{"name":"f","arguments":"{\"b\":[1,2],\"a\":\"x\"}"}}]`}}},
		{"tool_use without input", anthMessage(`[{"type":"tool_use","id":"t1","name":"f"}]`, `"tool_use"`, ""), []kv{
			{"choices.0.message.tool_calls.0.function.arguments", `"{}"`}}},
		{"refusal", anthMessage(`[]`, `"refusal"`, ""), []kv{{"choices.0.finish_reason", `"content_filter"`}, {"choices.0.message.content", "null"}}},
		{"null stop", anthMessage(`[{"type":"text","text":"a"}]`, `null`, ""), []kv{{"choices.0.finish_reason", `"stop"`}}},
		{"unknown stop", anthMessage(`[{"type":"text","text":"a"}]`, `"pause_turn"`, ""), []kv{{"choices.0.finish_reason", `"stop"`}}},
		{"text blocks joined, thinking dropped", anthMessage(`[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"text","text":"a"},{"type":"redacted_thinking","data":"x"},{"type":"text","text":"b"}]`, `"end_turn"`, ""), []kv{
			{"choices.0.message.content", `"ab"`}}},
		{"empty text is still content", anthMessage(`[{"type":"text","text":""}]`, `"end_turn"`, ""), []kv{{"choices.0.message.content", `""`}}},
		{"null content", anthMessage(`null`, `"end_turn"`, ""), []kv{{"choices.0.message.content", "null"}}},
		{"usage with caches", anthMessage(`[]`, `"end_turn"`, `{"input_tokens":10,"output_tokens":5,"cache_creation_input_tokens":20,"cache_read_input_tokens":30}`), []kv{
			{"usage", `{"prompt_tokens":60,"completion_tokens":5,"total_tokens":65,"prompt_tokens_details":{"cached_tokens":30}}`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := chatResponse("test", 200, []byte(tc.body), "req-model", fixedCreated)
			if err != nil {
				t.Fatal(err)
			}
			if !gjson.ValidBytes(out) {
				t.Fatalf("invalid JSON: %s", out)
			}
			checkPaths(t, out, tc.want)
		})
	}
}

func TestCompletionResponse(t *testing.T) {
	out, err := completionResponse("test", 200, []byte(anthMessage(`[{"type":"text","text":"a"},{"type":"tool_use","id":"t","name":"f","input":{}},{"type":"text","text":"b"}]`, `"tool_use"`, `{"input_tokens":3,"output_tokens":4,"cache_read_input_tokens":1}`)), "m", fixedCreated)
	if err != nil {
		t.Fatal(err)
	}
	checkPaths(t, out, []kv{
		{"object", `"text_completion"`}, {"model", `"m"`}, {"choices.0.text", `"ab"`}, {"choices.0.index", "0"},
		{"choices.0.logprobs", "null"}, {"choices.0.finish_reason", `"stop"`},
		{"usage", `{"prompt_tokens":4,"completion_tokens":4,"total_tokens":8}`},
	})
	out, err = completionResponse("test", 200, []byte(anthMessage(`[{"type":"text","text":"a"}]`, `"max_tokens"`, "")), "m", fixedCreated)
	if err != nil {
		t.Fatal(err)
	}
	checkPaths(t, out, []kv{{"choices.0.finish_reason", `"length"`}})
}

func TestResponseMalformed(t *testing.T) {
	for _, tc := range []struct {
		body     string
		chatOnly bool // legacy completions ignore tool blocks
	}{
		{``, false},
		{`not json`, false},
		{`[]`, false},
		{`{"type":"error","error":{"type":"api_error","message":"x"}}`, false},
		{`{"id":"m","type":"message","content":"text"}`, false},
		{`{"id":"m","type":"message","content":[{"type":"text","text":5}]}`, false},
		{`{"id":"m","type":"message","content":[],"usage":{"input_tokens":"many"}}`, false},
		{`{"id":"m","type":"message","content":[{"type":"tool_use","id":"t","name":"f","input":[1]}]}`, true},
		{`{"id":"m","type":"message","content":[{"type":"tool_use","name":"f","input":{}}]}`, true},
	} {
		fs := []func(string, int, []byte, string, int64) ([]byte, error){chatResponse, completionResponse}
		if tc.chatOnly {
			fs = fs[:1]
		}
		for _, f := range fs {
			_, err := f("test", 200, []byte(tc.body), "m", 0)
			var pe *providers.Error
			if !errors.As(err, &pe) || !errors.Is(err, providers.ErrBadResponse) {
				t.Errorf("%s: err = %v, want *providers.Error wrapping ErrBadResponse", tc.body, err)
				continue
			}
			if pe.Status != 200 || pe.Provider != "test" {
				t.Errorf("%s: error fields %+v", tc.body, pe)
			}
		}
	}
}
