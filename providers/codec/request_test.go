package codec

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// TestRequestFixtures translates hand-written requests and compares with
// the hand-written chat requests they must become.
func TestRequestFixtures(t *testing.T) {
	for _, name := range []string{"responses/request_string", "responses/request_items", "messages/request_basic", "messages/request_tools"} {
		t.Run(name, func(t *testing.T) {
			body := fixture(t, name+".json")
			var got []byte
			var err error
			if strings.HasPrefix(name, "responses/") {
				r, perr := ParseResponses(body)
				if perr != nil {
					t.Fatal(perr)
				}
				got, err = r.ToChat()
			} else {
				r, perr := ParseMessages(body)
				if perr != nil {
					t.Fatal(perr)
				}
				got, err = r.ToChat(MessagesOptions{})
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := fixture(t, name+".chat.json"); !sameJSON(t, got, want) {
				t.Errorf("chat request:\n%s\nwant:\n%s", indent(got), indent(want))
			}
		})
	}
}

func TestResponsesRequestTable(t *testing.T) {
	tests := []struct {
		name, body string
		want       string // expected chat request
	}{
		{"easy messages and developer role",
			`{"model":"m","input":[{"role":"developer","content":"d"},{"role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_text","text":"b"}]}]}`,
			`{"model":"m","messages":[{"role":"system","content":"d"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}`},
		{"assistant refusal and output text",
			`{"model":"m","input":[{"role":"user","content":"q"},{"type":"message","role":"assistant","content":[{"type":"refusal","refusal":"no"}]}]}`,
			`{"model":"m","messages":[{"role":"user","content":"q"},{"role":"assistant","content":null,"refusal":"no"}]}`},
		{"json_object, tool_choice required, image data url",
			`{"model":"m","input":[{"role":"user","content":[{"type":"input_image","image_url":"data:image/png;base64,AAAA"}]}],"text":{"format":{"type":"json_object"}},"tools":[{"type":"function","name":"f"}],"tool_choice":"required"}`,
			`{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required","response_format":{"type":"json_object"}}`},
		{"text format text is the default",
			`{"model":"m","input":"x","text":{"format":{"type":"text"}},"store":true,"metadata":{"k":"v"},"truncation":"auto","include":["reasoning.encrypted_content"],"service_tier":"flex","safety_identifier":"s"}`,
			`{"model":"m","messages":[{"role":"user","content":"x"}],"safety_identifier":"s","service_tier":"flex"}`},
		{"function output before other user text stays in order",
			`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":""},{"type":"function_call_output","call_id":"c","output":"r"},{"role":"user","content":"next"}]}`,
			`{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":""}}]},{"role":"tool","content":"r","tool_call_id":"c"},{"role":"user","content":"next"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseResponses([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.ToChat()
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, got, []byte(tt.want)) {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestMessagesRequestTable(t *testing.T) {
	tests := []struct {
		name, body string
		opt        MessagesOptions
		want       string
	}{
		{"tool_choice any and auto with parallel off",
			`{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"any","disable_parallel_tool_use":true}}`,
			MessagesOptions{},
			`{"model":"c","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"required","parallel_tool_calls":false,"max_completion_tokens":5}`},
		{"tool_choice none",
			`{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"none"}}`,
			MessagesOptions{},
			`{"model":"c","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"none","max_completion_tokens":5}`},
		{"top_k passed, thinking mapped",
			`{"model":"c","max_tokens":20000,"messages":[{"role":"user","content":"x"}],"top_k":40,"thinking":{"type":"enabled","budget_tokens":2048}}`,
			MessagesOptions{TopK: Pass, Thinking: Pass},
			`{"model":"c","messages":[{"role":"user","content":"x"}],"top_k":40,"max_completion_tokens":20000,"reasoning_effort":"low"}`},
		{"top_k and thinking dropped, disabled thinking is no thinking",
			`{"model":"c","max_tokens":20000,"messages":[{"role":"user","content":"x"}],"top_k":40,"thinking":{"type":"enabled","budget_tokens":16384}}`,
			MessagesOptions{TopK: Drop, Thinking: Drop},
			`{"model":"c","messages":[{"role":"user","content":"x"}],"max_completion_tokens":20000}`},
		{"text document, tool_result without content, assistant prefill",
			`{"model":"c","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t"},{"type":"document","source":{"type":"text","media_type":"text/plain","data":"doc"}}]},{"role":"assistant","content":"The answer is"}],"thinking":{"type":"disabled"}}`,
			MessagesOptions{},
			`{"model":"c","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","content":"","tool_call_id":"t"},{"role":"user","content":"doc"},{"role":"assistant","content":"The answer is"}],"max_completion_tokens":5}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseMessages([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.ToChat(tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, got, []byte(tt.want)) {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestValidation: malformed bodies fail parsing with ErrInvalid, naming
// the field.
func TestValidation(t *testing.T) {
	tests := []struct {
		api, body, param string
	}{
		{"responses", `[]`, ""},
		{"responses", `{"input":"x"}`, "model"},
		{"responses", `{"model":"m"}`, "input"},
		{"responses", `{"model":"m","input":5}`, "input"},
		{"responses", `{"model":"m","input":"x","temperature":3}`, "temperature"},
		{"responses", `{"model":"m","input":"x","top_p":"1"}`, "top_p"},
		{"responses", `{"model":"m","input":"x","max_output_tokens":0}`, "max_output_tokens"},
		{"responses", `{"model":"m","input":"x","metadata":{"k":1}}`, "metadata.k"},
		{"responses", `{"model":"m","input":"x","stream":"yes"}`, "stream"},
		{"responses", `{"model":"m","input":[{"role":"robot","content":"x"}]}`, "input[0].role"},
		{"responses", `{"model":"m","input":[{"role":"user"}]}`, "input[0].content"},
		{"responses", `{"model":"m","input":[{"role":"user","content":[{"type":"input_text"}]}]}`, "input[0].content[0].text"},
		{"responses", `{"model":"m","input":[{"role":"user","content":[{"type":"input_image"}]}]}`, "input[0].content[0].image_url"},
		{"responses", `{"model":"m","input":[{"type":"function_call","name":"f","arguments":"{}"}]}`, "input[0].call_id"},
		{"responses", `{"model":"m","input":[{"type":"function_call_output","call_id":"c"}]}`, "input[0].output"},
		{"responses", `{"model":"m","input":"x","tools":[{"type":"function"}]}`, "tools[0].name"},
		{"responses", `{"model":"m","input":"x","tools":[{"type":"function","name":"f","parameters":[]}]}`, "tools[0].parameters"},
		{"responses", `{"model":"m","input":"x","tool_choice":"sometimes"}`, "tool_choice"},
		{"responses", `{"model":"m","input":"x","tool_choice":{"type":"function","name":"g"}}`, "tool_choice.name"},
		{"responses", `{"model":"m","input":"x","text":{"format":{"type":"json_schema","name":"n"}}}`, "text.format.schema"},
		{"responses", `{"model":"m","input":"x","text":{"format":{"type":"yaml"}}}`, "text.format.type"},
		{"responses", `{"model":"m","input":"x","reasoning":{"effort":"max"}}`, "reasoning.effort"},
		{"messages", `{"model":"c","messages":[{"role":"user","content":"x"}]}`, "max_tokens"},
		{"messages", `{"model":"c","max_tokens":0,"messages":[{"role":"user","content":"x"}]}`, "max_tokens"},
		{"messages", `{"model":"c","max_tokens":1.5,"messages":[{"role":"user","content":"x"}]}`, "max_tokens"},
		{"messages", `{"model":"c","max_tokens":5}`, "messages"},
		{"messages", `{"model":"c","max_tokens":5,"messages":[]}`, "messages"},
		{"messages", `{"model":"c","max_tokens":5,"messages":[{"role":"system","content":"x"}]}`, "messages[0].role"},
		{"messages", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"}],"temperature":1.5}`, "temperature"},
		{"messages", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"}],"top_k":-1}`, "top_k"},
		{"messages", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"}],"stop_sequences":[1]}`, "stop_sequences[0]"},
		{"messages", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"}],"system":[{"type":"image"}]}`, "system[0].type"},
		{"messages", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]}]}`, "messages[0].content[0].type"},
		{"messages", `{"model":"c","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f"}]}]}`, "messages[0].content[0].input"},
		{"messages", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/bmp","data":"AAAA"}}]}]}`, "messages[0].content[0].source.media_type"},
		{"messages", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"not base64!"}}]}]}`, "messages[0].content[0].source.data"},
		{"messages", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"f"}]}`, "tools[0].input_schema"},
		{"messages", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"tool"}}`, "tool_choice.name"},
		{"messages", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"sometimes"}}`, "tool_choice.type"},
		{"messages", `{"model":"c","max_tokens":2000,"messages":[{"role":"user","content":"x"}],"thinking":{"type":"enabled","budget_tokens":100}}`, "thinking.budget_tokens"},
		{"messages", `{"model":"c","max_tokens":2000,"messages":[{"role":"user","content":"x"}],"thinking":{"type":"enabled","budget_tokens":4000}}`, "thinking.budget_tokens"},
		{"messages", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"}],"metadata":{"user_id":7}}`, "metadata.user_id"},
	}
	for _, tt := range tests {
		t.Run(tt.api+" "+tt.body, func(t *testing.T) {
			var err error
			if tt.api == "responses" {
				_, err = ParseResponses([]byte(tt.body))
			} else {
				_, err = ParseMessages([]byte(tt.body))
			}
			if err == nil {
				t.Fatal("no error")
			}
			e := asError(t, err)
			if !errors.Is(err, ErrInvalid) || e.Param != tt.param {
				t.Errorf("got %v (param %q, %v), want ErrInvalid naming %q", err, e.Param, e.Err, tt.param)
			}
			if !gjson.ValidBytes(e.OpenAIBody()) || gjson.GetBytes(e.OpenAIBody(), "error.type").Str != "invalid_request_error" {
				t.Errorf("bad OpenAI body %s", e.OpenAIBody())
			}
			ab := e.AnthropicBody()
			if gjson.GetBytes(ab, "type").Str != "error" || gjson.GetBytes(ab, "error.type").Str != "invalid_request_error" || e.Status() != 400 {
				t.Errorf("bad Anthropic body %s", ab)
			}
		})
	}
}

// TestUnsupported: valid requests chat cannot express parse, and ToChat
// refuses them with ErrUnsupported naming the field.
func TestUnsupported(t *testing.T) {
	tests := []struct {
		api, body, param string
	}{
		{"responses", `{"model":"m","input":"x","tools":[{"type":"web_search_preview"}]}`, "tools[0].type"},
		{"responses", `{"model":"m","input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":{"type":"file_search"}}`, "tool_choice.type"},
		{"responses", `{"model":"m","input":"x","background":true}`, "background"},
		{"responses", `{"model":"m","input":"x","conversation":"conv_1"}`, "conversation"},
		{"responses", `{"model":"m","prompt":{"id":"pmpt_1"}}`, "prompt"},
		{"responses", `{"model":"m","input":"x","top_logprobs":2}`, "top_logprobs"},
		{"responses", `{"model":"m","input":"x","include":["message.output_text.logprobs"]}`, "include[0]"},
		{"responses", `{"model":"m","input":"x","frobnicate":1}`, "frobnicate"},
		{"responses", `{"model":"m","input":[{"type":"item_reference","id":"msg_1"}]}`, "input[0].type"},
		{"responses", `{"model":"m","input":[{"role":"user","content":[{"type":"input_image","file_id":"file-1"}]}]}`, "input[0].content[0].file_id"},
		{"responses", `{"model":"m","input":[{"role":"user","content":[{"type":"input_audio"}]}]}`, "input[0].content[0].type"},
		{"responses", `{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":[{"type":"input_image","image_url":"https://x"}]}]}`, "input[0].output[0].type"},
		{"responses", `{"model":"m","previous_response_id":"resp_1","input":"x"}`, "previous_response_id"},
		{"messages", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"}],"tools":[{"type":"web_search_20250305","name":"web_search"}]}`, "tools[0].type"},
		{"messages", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"}],"top_k":5}`, "top_k"},
		{"messages", `{"model":"c","max_tokens":5000,"messages":[{"role":"user","content":"x"}],"thinking":{"type":"enabled","budget_tokens":1024}}`, "thinking"},
		{"messages", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"}],"mcp_servers":[]}`, "mcp_servers"},
		{"messages", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}]}`, "messages[0].content[0].source.type"},
		{"messages", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"type":"url","url":"https://x"}}]}]}]}`, "messages[0].content[0].content[0].type"},
		{"messages", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":[{"type":"search_result"}]}]}`, "messages[0].content[0].type"},
		{"messages", `{"model":"c","max_tokens":5,"messages":[{"role":"user","content":"x"}],"unknown_field":true}`, "unknown_field"},
	}
	for _, tt := range tests {
		t.Run(tt.api+" "+tt.body, func(t *testing.T) {
			var err error
			if tt.api == "responses" {
				r, perr := ParseResponses([]byte(tt.body))
				if perr != nil {
					t.Fatalf("parse: %v", perr)
				}
				_, err = r.ToChat()
			} else {
				r, perr := ParseMessages([]byte(tt.body))
				if perr != nil {
					t.Fatalf("parse: %v", perr)
				}
				_, err = r.ToChat(MessagesOptions{})
			}
			if err == nil {
				t.Fatal("no error")
			}
			e := asError(t, err)
			if !errors.Is(err, ErrUnsupported) || e.Param != tt.param {
				t.Errorf("got %v (param %q), want ErrUnsupported naming %q", err, e.Param, tt.param)
			}
		})
	}
}

// TestPreviousResponse: a stored conversation (input and output items of
// an earlier exchange) is prepended and the chain continues.
func TestPreviousResponse(t *testing.T) {
	first, err := ParseResponses([]byte(`{"model":"m","instructions":"Be brief.","input":"What's the weather in Paris?","tools":[{"type":"function","name":"get_weather"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := first.Response(fixture(t, "chat/answer_tools.json"), AnswerOptions{ID: "resp_1"})
	if err != nil {
		t.Fatal(err)
	}
	items, err := first.Conversation(resp)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 3 {
		t.Fatalf("got %d items, want 3: %s", len(items), items)
	}
	// Stored items travel as JSON, e.g. through a database.
	stored, _ := json.Marshal(items)
	var loaded []json.RawMessage
	_ = json.Unmarshal(stored, &loaded)

	second, err := ParseResponses([]byte(`{"model":"m","previous_response_id":"resp_1","input":[{"type":"function_call_output","call_id":"call_abc123","output":"18C"},{"type":"function_call_output","call_id":"call_def456","output":"14C"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if second.PreviousResponseID != "resp_1" {
		t.Fatalf("PreviousResponseID %q", second.PreviousResponseID)
	}
	if err := second.Prepend(loaded); err != nil {
		t.Fatal(err)
	}
	got, err := second.ToChat()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"model":"m","messages":[
		{"role":"user","content":"What's the weather in Paris?"},
		{"role":"assistant","content":null,"tool_calls":[
			{"id":"call_abc123","type":"function","function":{"name":"get_current_weather","arguments":"{\n\"location\": \"Boston, MA\"\n}"}},
			{"id":"call_def456","type":"function","function":{"name":"get_current_weather","arguments":"{\"location\": \"Paris\"}"}}]},
		{"role":"tool","content":"18C","tool_call_id":"call_abc123"},
		{"role":"tool","content":"14C","tool_call_id":"call_def456"}]}`
	if !sameJSON(t, got, []byte(want)) {
		t.Errorf("got %s", indent(got))
	}
	// The chain goes on: the second exchange's conversation holds all.
	resp2, err := second.Response(fixture(t, "chat/answer_text.json"), AnswerOptions{ID: "resp_2"})
	if err != nil {
		t.Fatal(err)
	}
	items2, err := second.Conversation(resp2)
	if err != nil {
		t.Fatal(err)
	}
	if len(items2) != 6 {
		t.Errorf("got %d items, want 6", len(items2))
	}
	if gjson.GetBytes(resp2, "previous_response_id").Str != "resp_1" {
		t.Errorf("previous_response_id not echoed: %s", resp2)
	}
}

func TestCountTokens(t *testing.T) {
	r, err := ParseCountTokens([]byte(`{"model":"c","messages":[{"role":"user","content":"Hello"}],"system":"s"}`))
	if err != nil {
		t.Fatal(err)
	}
	chat, err := r.ToChat(MessagesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if gjson.GetBytes(chat, "messages.#").Int() != 2 {
		t.Errorf("chat %s", chat)
	}
	if got := string(CountTokensBody(42)); got != `{"input_tokens":42}` {
		t.Errorf("CountTokensBody: %s", got)
	}
}

func TestAnthropicErrors(t *testing.T) {
	tests := []struct {
		status int
		typ    string
		want   string
	}{
		{400, "invalid_request_error", "invalid_request_error"},
		{401, "invalid_request_error", "authentication_error"},
		{403, "", "permission_error"},
		{404, "invalid_request_error", "not_found_error"},
		{413, "", "request_too_large"},
		{429, "rate_limit_error", "rate_limit_error"},
		{429, "insufficient_quota", "billing_error"},
		{500, "server_error", "api_error"},
		{502, "upstream_error", "api_error"},
		{503, "server_error", "overloaded_error"},
		{529, "", "overloaded_error"},
		{504, "", "timeout_error"},
		{0, "rate_limit_exceeded", "rate_limit_error"},
		{200, "server_error", "api_error"},
		{418, "", "invalid_request_error"},
	}
	for _, tt := range tests {
		if got := AnthropicErrorType(tt.status, tt.typ); got != tt.want {
			t.Errorf("AnthropicErrorType(%d, %q) = %q, want %q", tt.status, tt.typ, got, tt.want)
		}
	}
	b := AnthropicErrorBody(429, "rate_limit_error", `Too "many" requests`)
	if want := `{"type":"error","error":{"type":"rate_limit_error","message":"Too \"many\" requests"}}`; string(b) != want {
		t.Errorf("got %s", b)
	}
}
