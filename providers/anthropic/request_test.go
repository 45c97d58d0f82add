package anthropic

import (
	"errors"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/semgate/semgate/providers"
)

// kv is an expected gjson path and its raw JSON value ("" = must be absent).
type kv struct{ path, raw string }

func chatBody(extra string, messages string) string {
	if messages == "" {
		messages = `[{"role":"user","content":"hi"}]`
	}
	b := `{"model":"claude-x","messages":` + messages
	if extra != "" {
		b += "," + extra
	}
	return b + "}"
}

func translateChat(t *testing.T, body string) []byte {
	t.Helper()
	got, err := testTranslator().chat([]byte(body))
	if err != nil {
		t.Fatalf("chat(%s): %v", body, err)
	}
	b, err := marshal(&got.req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkPaths(t *testing.T, out []byte, want []kv) {
	t.Helper()
	for _, w := range want {
		r := gjson.GetBytes(out, w.path)
		if w.raw == "" {
			if r.Exists() {
				t.Errorf("%s = %s, want absent\nbody: %s", w.path, r.Raw, out)
			}
			continue
		}
		if r.Raw != w.raw {
			t.Errorf("%s = %s, want %s\nbody: %s", w.path, r.Raw, w.raw, out)
		}
	}
}

func TestTranslateChat(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []kv
	}{
		{"minimal", chatBody("", ""), []kv{
			{"model", `"claude-x"`}, {"max_tokens", "4096"}, {"system", ""},
			{"messages", `[{"role":"user","content":[{"type":"text","text":"hi"}]}]`},
			{"tools", ""}, {"tool_choice", ""}, {"temperature", ""}, {"stream", ""}, {"metadata", ""},
		}},
		{"max_tokens", chatBody(`"max_tokens":12`, ""), []kv{{"max_tokens", "12"}}},
		{"max_completion_tokens wins", chatBody(`"max_tokens":12,"max_completion_tokens":34`, ""), []kv{{"max_tokens", "34"}}},
		{"null max_completion_tokens falls back", chatBody(`"max_tokens":12,"max_completion_tokens":null`, ""), []kv{{"max_tokens", "12"}}},
		{"temperature passes", chatBody(`"temperature":0.7`, ""), []kv{{"temperature", "0.7"}}},
		{"temperature zero kept", chatBody(`"temperature":0`, ""), []kv{{"temperature", "0"}}},
		{"temperature clamped", chatBody(`"temperature":2`, ""), []kv{{"temperature", "1"}}},
		{"top_p", chatBody(`"top_p":0.25`, ""), []kv{{"top_p", "0.25"}}},
		{"top_p 1 is the default", chatBody(`"top_p":1,"temperature":0.5`, ""), []kv{{"top_p", ""}, {"temperature", "0.5"}}},
		{"stop string", chatBody(`"stop":"END"`, ""), []kv{{"stop_sequences", `["END"]`}}},
		{"stop array", chatBody(`"stop":["a","b"]`, ""), []kv{{"stop_sequences", `["a","b"]`}}},
		{"stop null", chatBody(`"stop":null`, ""), []kv{{"stop_sequences", ""}}},
		{"stop empty strings dropped", chatBody(`"stop":["",""]`, ""), []kv{{"stop_sequences", ""}}},
		{"user", chatBody(`"user":"u1"`, ""), []kv{{"metadata", `{"user_id":"u1"}`}}},
		{"stream", chatBody(`"stream":true`, ""), []kv{{"stream", "true"}}},
		{"ignored hints", chatBody(`"seed":1,"frequency_penalty":1,"presence_penalty":1,"store":true,"metadata":{"a":"b"},"n":1,"logprobs":false,"top_logprobs":0,"logit_bias":{},"response_format":{"type":"text"},"modalities":["text"],"service_tier":"auto","unknown_future_field":{"x":[1]}`, ""),
			[]kv{{"metadata", ""}, {"seed", ""}}},
		{"system and developer joined", chatBody("", `[{"role":"system","content":"A"},{"role":"user","content":"hi"},{"role":"developer","content":[{"type":"text","text":"B"},{"type":"text","text":"C"}]}]`),
			[]kv{{"system", `"A\n\nB\n\nC"`}, {"messages.#", "1"}}},
		{"consecutive users merged", chatBody("", `[{"role":"user","content":"a"},{"role":"user","content":[{"type":"text","text":"b"}]}]`),
			[]kv{{"messages.#", "1"}, {"messages.0.content", `[{"type":"text","text":"a"},{"type":"text","text":"b"}]`}}},
		{"consecutive assistants merged", chatBody("", `[{"role":"user","content":"q"},{"role":"assistant","content":"a"},{"role":"assistant","content":"b"}]`),
			[]kv{{"messages.#", "2"}, {"messages.1.role", `"assistant"`}, {"messages.1.content.#", "2"}}},
		{"empty messages skipped", chatBody("", `[{"role":"user","content":"q"},{"role":"assistant","content":""},{"role":"user","content":"r"}]`),
			[]kv{{"messages.#", "1"}, {"messages.0.content.#", "2"}}},
		{"null assistant content with tool calls", chatBody("", `[{"role":"user","content":"q"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","tool_call_id":"c1","content":"ok"}]`),
			[]kv{{"messages.1.content", `[{"type":"tool_use","id":"c1","name":"f","input":{"a":1}}]`},
				{"messages.2", `{"role":"user","content":[{"type":"tool_result","tool_use_id":"c1","content":[{"type":"text","text":"ok"}]}]}`}}},
		{"text then tool calls", chatBody("", `[{"role":"user","content":"q"},{"role":"assistant","content":"Let me look.","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":""}}]}]`),
			[]kv{{"messages.1.content", `[{"type":"text","text":"Let me look."},{"type":"tool_use","id":"c1","name":"f","input":{}}]`}}},
		{"empty tool result omits content", chatBody("", `[{"role":"user","content":"q"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":""}]`),
			[]kv{{"messages.2.content", `[{"type":"tool_result","tool_use_id":"c1"}]`}}},
		{"tool results moved before text", chatBody("", `[{"role":"user","content":"q"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}},{"id":"c2","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"user","content":"note"},{"role":"tool","tool_call_id":"c1","content":"1"},{"role":"tool","tool_call_id":"c2","content":"2"}]`),
			[]kv{{"messages.#", "3"}, {"messages.2.content.#.type", `["tool_result","tool_result","text"]`}, {"messages.2.content.#.tool_use_id", `["c1","c2"]`}}},
		{"assistant refusal part", chatBody("", `[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"refusal","refusal":"no"}]}]`),
			[]kv{{"messages.1.content", `[{"type":"text","text":"no"}]`}}},
		{"image data url", chatBody("", `[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/JPEG;base64,/9j/4AAQ"}}]}]`),
			[]kv{{"messages.0.content.0", `{"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/4AAQ"}}`}}},
		{"image http url", chatBody("", `[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://x.test/a.png"}}]}]`),
			[]kv{{"messages.0.content.0", `{"type":"image","source":{"type":"url","url":"http://x.test/a.png"}}`}}},
		{"pdf file", chatBody("", `[{"role":"user","content":[{"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0x","filename":"a.pdf"}}]}]`),
			[]kv{{"messages.0.content.0", `{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0x"}}`}}},
		{"tools", chatBody(`"tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object","properties":{"x":{"type":"integer"}}}}},{"type":"function","function":{"name":"g","parameters":null}}]`, ""),
			[]kv{{"tools", `[{"name":"f","description":"d","input_schema":{"type":"object","properties":{"x":{"type":"integer"}}}},{"name":"g","input_schema":{"type":"object","properties":{}}}]`}, {"tool_choice", ""}}},
		{"tool_choice auto", chatBody(`"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"auto"`, ""), []kv{{"tool_choice", `{"type":"auto"}`}}},
		{"tool_choice required", chatBody(`"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required"`, ""), []kv{{"tool_choice", `{"type":"any"}`}}},
		{"tool_choice none keeps tools", chatBody(`"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"none","parallel_tool_calls":false`, ""),
			[]kv{{"tool_choice", `{"type":"none"}`}, {"tools.#", "1"}}},
		{"tool_choice named", chatBody(`"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f"}}`, ""),
			[]kv{{"tool_choice", `{"type":"tool","name":"f"}`}}},
		{"parallel_tool_calls false", chatBody(`"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required","parallel_tool_calls":false`, ""),
			[]kv{{"tool_choice", `{"type":"any","disable_parallel_tool_use":true}`}}},
		{"parallel_tool_calls false without choice", chatBody(`"tools":[{"type":"function","function":{"name":"f"}}],"parallel_tool_calls":false`, ""),
			[]kv{{"tool_choice", `{"type":"auto","disable_parallel_tool_use":true}`}}},
		{"tool_choice none without tools", chatBody(`"tool_choice":"none"`, ""), []kv{{"tool_choice", ""}, {"tools", ""}}},
		{"no html escaping", chatBody("", `[{"role":"user","content":"<a> & b"}]`), []kv{{"messages.0.content.0.text", `"<a> & b"`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := translateChat(t, tc.body)
			checkPaths(t, out, tc.want)
			if strings.Contains(string(out), `\u003c`) {
				t.Errorf("HTML-escaped output: %s", out)
			}
		})
	}
}

func TestTranslateChatIncludeUsage(t *testing.T) {
	for _, tc := range []struct {
		body string
		want bool
	}{
		{chatBody(`"stream":true,"stream_options":{"include_usage":true}`, ""), true},
		{chatBody(`"stream":true,"stream_options":{"include_usage":false}`, ""), false},
		{chatBody(`"stream":true`, ""), false},
		{chatBody(`"stream":false,"stream_options":{"include_usage":true}`, ""), false},
	} {
		got, err := testTranslator().chat([]byte(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		if got.includeUsage != tc.want {
			t.Errorf("%s: includeUsage = %v, want %v", tc.body, got.includeUsage, tc.want)
		}
	}
}

func TestTranslateDefaultMaxTokens(t *testing.T) {
	tr := &translator{name: "test", maxTokens: 77}
	got, err := tr.chat([]byte(chatBody("", "")))
	if err != nil {
		t.Fatal(err)
	}
	if got.req.MaxTokens != 77 {
		t.Errorf("max_tokens = %d, want 77", got.req.MaxTokens)
	}
}

// errCase is a request that must fail with an *providers.Error naming param.
type errCase struct {
	name    string
	body    string
	param   string
	invalid bool // wraps ErrInvalidRequest, not only ErrUnsupported
}

func checkTranslateError(t *testing.T, err error, tc errCase) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error for %s", tc.body)
	}
	var pe *providers.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *providers.Error", err, err)
	}
	if !errors.Is(err, providers.ErrUnsupported) {
		t.Errorf("error %v does not wrap providers.ErrUnsupported", err)
	}
	if got := errors.Is(err, ErrInvalidRequest); got != tc.invalid {
		t.Errorf("errors.Is(ErrInvalidRequest) = %v, want %v (%v)", got, tc.invalid, err)
	}
	if pe.Param != tc.param {
		t.Errorf("Param = %q, want %q (%v)", pe.Param, tc.param, err)
	}
	if pe.Type != "invalid_request_error" || pe.Message == "" || pe.Provider != "test" {
		t.Errorf("error fields: %+v", pe)
	}
	if pe.Retryable() {
		t.Errorf("a client error must not be retryable")
	}
}

func TestTranslateChatErrors(t *testing.T) {
	const call = `{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":%s}}]}`
	tests := []errCase{
		{"not an object", `[1,2]`, "", true},
		{"not json", `{"model":`, "", true},
		{"empty body", ``, "", true},
		{"messages missing", `{"model":"m"}`, "messages", true},
		{"messages wrong type", `{"model":"m","messages":"hi"}`, "messages", true},
		{"temperature wrong type", chatBody(`"temperature":"hot"`, ""), "temperature", true},
		{"max_tokens fractional", chatBody(`"max_tokens":1.5`, ""), "max_tokens", true},
		{"max_tokens zero", chatBody(`"max_tokens":0`, ""), "max_tokens", true},
		{"max_completion_tokens negative", chatBody(`"max_completion_tokens":-1`, ""), "max_completion_tokens", true},
		{"temperature too high", chatBody(`"temperature":2.5`, ""), "temperature", true},
		{"temperature negative", chatBody(`"temperature":-0.1`, ""), "temperature", true},
		{"top_p too high", chatBody(`"top_p":1.5`, ""), "top_p", true},
		{"stream wrong type", chatBody(`"stream":"yes"`, ""), "stream", true},
		{"stop number", chatBody(`"stop":3`, ""), "stop", true},
		{"stop mixed array", chatBody(`"stop":["a",1]`, ""), "stop", true},
		{"n > 1", chatBody(`"n":2`, ""), "n", false},
		{"n zero", chatBody(`"n":0`, ""), "n", true},
		{"logprobs", chatBody(`"logprobs":true`, ""), "logprobs", false},
		{"top_logprobs", chatBody(`"top_logprobs":3`, ""), "top_logprobs", false},
		{"logit_bias", chatBody(`"logit_bias":{"50256":-100}`, ""), "logit_bias", false},
		{"logit_bias wrong type", chatBody(`"logit_bias":[1]`, ""), "logit_bias", true},
		{"response_format json", chatBody(`"response_format":{"type":"json_object"}`, ""), "response_format", false},
		{"response_format string", chatBody(`"response_format":"json"`, ""), "response_format", true},
		{"audio modality", chatBody(`"modalities":["text","audio"]`, ""), "modalities", false},
		{"audio", chatBody(`"audio":{"voice":"alloy"}`, ""), "audio", false},
		{"functions", chatBody(`"functions":[{"name":"f"}]`, ""), "functions", false},
		{"function_call", chatBody(`"function_call":"auto"`, ""), "function_call", false},
		{"unknown role", chatBody("", `[{"role":"wizard","content":"x"}]`), "messages[0].role", false},
		{"function role", chatBody("", `[{"role":"user","content":"x"},{"role":"function","name":"f","content":"x"}]`), "messages[1].role", false},
		{"missing role", chatBody("", `[{"content":"x"}]`), "messages[0].role", false},
		{"only system", chatBody("", `[{"role":"system","content":"x"}]`), "messages", true},
		{"only empty", chatBody("", `[{"role":"user","content":""}]`), "messages", true},
		{"content number", chatBody("", `[{"role":"user","content":5}]`), "messages[0].content", true},
		{"content object", chatBody("", `[{"role":"user","content":{"type":"text"}}]`), "messages[0].content", true},
		{"part without text", chatBody("", `[{"role":"user","content":[{"type":"text"}]}]`), "messages[0].content[0].text", true},
		{"unknown part", chatBody("", `[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]`), "messages[0].content[0].type", false},
		{"image in system", chatBody("", `[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://a"}}]},{"role":"user","content":"x"}]`), "messages[0].content[0].type", false},
		{"image in assistant", chatBody("", `[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"image_url","image_url":{"url":"https://a"}}]}]`), "messages[1].content[0].type", false},
		{"refusal in user", chatBody("", `[{"role":"user","content":[{"type":"refusal","refusal":"x"}]}]`), "messages[0].content[0].type", false},
		{"image without url", chatBody("", `[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]`), "messages[0].content[0].image_url.url", true},
		{"image ftp url", chatBody("", `[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://a/b.png"}}]}]`), "messages[0].content[0].image_url.url", false},
		{"data url not base64", chatBody("", `[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}]`), "messages[0].content[0].image_url.url", true},
		{"data url bad base64", chatBody("", `[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,!!!"}}]}]`), "messages[0].content[0].image_url.url", true},
		{"data url no comma", chatBody("", `[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64"}}]}]`), "messages[0].content[0].image_url.url", true},
		{"data url no type", chatBody("", `[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:;base64,AAAA"}}]}]`), "messages[0].content[0].image_url.url", true},
		{"file id", chatBody("", `[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"}}]}]`), "messages[0].content[0].file", false},
		{"non-pdf file", chatBody("", `[{"role":"user","content":[{"type":"file","file":{"file_data":"data:text/plain;base64,aGk="}}]}]`), "messages[0].content[0].file.file_data", false},
		{"tool call invalid json", chatBody("", `[{"role":"user","content":"x"},`+strings.Replace(call, "%s", `"{not json"`, 1)+`]`), "messages[1].tool_calls[0].function.arguments", true},
		{"tool call array args", chatBody("", `[{"role":"user","content":"x"},`+strings.Replace(call, "%s", `"[1]"`, 1)+`]`), "messages[1].tool_calls[0].function.arguments", true},
		{"tool call args not string", chatBody("", `[{"role":"user","content":"x"},`+strings.Replace(call, "%s", `{"a":1}`, 1)+`]`), "messages.tool_calls.function.arguments", true},
		{"tool call without id", chatBody("", `[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}]`), "messages[1].tool_calls[0].id", true},
		{"tool call without name", chatBody("", `[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"arguments":"{}"}}]}]`), "messages[1].tool_calls[0].function.name", true},
		{"custom tool call", chatBody("", `[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c","type":"custom","function":{"name":"f"}}]}]`), "messages[1].tool_calls[0].type", false},
		{"tool calls on user", chatBody("", `[{"role":"user","content":"x","tool_calls":[{"id":"c","type":"function","function":{"name":"f"}}]}]`), "messages[0].tool_calls", true},
		{"tool without id", chatBody("", `[{"role":"user","content":"x"},{"role":"tool","content":"r"}]`), "messages[1].tool_call_id", true},
		{"tool_call_id on user", chatBody("", `[{"role":"user","content":"x","tool_call_id":"c"}]`), "messages[0].tool_call_id", true},
		{"assistant function_call", chatBody("", `[{"role":"user","content":"x"},{"role":"assistant","function_call":{"name":"f","arguments":"{}"}}]`), "messages[1].function_call", false},
		{"non-function tool", chatBody(`"tools":[{"type":"web_search"}]`, ""), "tools[0].type", false},
		{"tool without name", chatBody(`"tools":[{"type":"function","function":{"description":"d"}}]`, ""), "tools[0].function.name", true},
		{"tool parameters array", chatBody(`"tools":[{"type":"function","function":{"name":"f","parameters":[1]}}]`, ""), "tools[0].function.parameters", true},
		{"tool_choice unknown string", chatBody(`"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"always"`, ""), "tool_choice", true},
		{"tool_choice number", chatBody(`"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":1`, ""), "tool_choice", true},
		{"tool_choice unknown name", chatBody(`"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}`, ""), "tool_choice.function.name", true},
		{"tool_choice allowed_tools", chatBody(`"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"allowed_tools"}`, ""), "tool_choice.type", false},
		{"tool_choice required without tools", chatBody(`"tool_choice":"required"`, ""), "tool_choice", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := testTranslator().chat([]byte(tc.body))
			checkTranslateError(t, err, tc)
		})
	}
}

func TestTranslateCompletion(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []kv
	}{
		{"string prompt", `{"model":"m","prompt":"Say hi"}`, []kv{
			{"messages", `[{"role":"user","content":[{"type":"text","text":"Say hi"}]}]`}, {"max_tokens", "4096"}, {"system", ""}}},
		{"array of one", `{"model":"m","prompt":["Say hi"],"max_tokens":5,"stream":true}`, []kv{
			{"messages.0.content.0.text", `"Say hi"`}, {"max_tokens", "5"}, {"stream", "true"}}},
		{"sampling", `{"model":"m","prompt":"p","temperature":1.9,"top_p":0.5,"stop":["x"],"user":"u"}`, []kv{
			{"temperature", "1"}, {"top_p", "0.5"}, {"stop_sequences", `["x"]`}, {"metadata.user_id", `"u"`}}},
		{"harmless defaults", `{"model":"m","prompt":"p","n":1,"best_of":1,"echo":false,"suffix":"","logprobs":null,"logit_bias":{}}`, []kv{{"model", `"m"`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := testTranslator().completion([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			b, err := marshal(&got.req)
			if err != nil {
				t.Fatal(err)
			}
			checkPaths(t, b, tc.want)
		})
	}
}

func TestTranslateCompletionErrors(t *testing.T) {
	tests := []errCase{
		{"no prompt", `{"model":"m"}`, "prompt", true},
		{"empty prompt", `{"model":"m","prompt":""}`, "prompt", true},
		{"two prompts", `{"model":"m","prompt":["a","b"]}`, "prompt", false},
		{"empty array", `{"model":"m","prompt":[]}`, "prompt", false},
		{"tokens", `{"model":"m","prompt":[1,2,3]}`, "prompt", false},
		{"token arrays", `{"model":"m","prompt":[[1,2]]}`, "prompt", false},
		{"prompt object", `{"model":"m","prompt":{}}`, "prompt", false},
		{"echo", `{"model":"m","prompt":"p","echo":true}`, "echo", false},
		{"suffix", `{"model":"m","prompt":"p","suffix":"end"}`, "suffix", false},
		{"best_of", `{"model":"m","prompt":"p","best_of":3}`, "best_of", false},
		{"logprobs", `{"model":"m","prompt":"p","logprobs":0}`, "logprobs", false},
		{"n", `{"model":"m","prompt":"p","n":4}`, "n", false},
		{"max_tokens zero", `{"model":"m","prompt":"p","max_tokens":0}`, "max_tokens", true},
		{"max_tokens string", `{"model":"m","prompt":"p","max_tokens":"5"}`, "max_tokens", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := testTranslator().completion([]byte(tc.body))
			checkTranslateError(t, err, tc)
		})
	}
}
