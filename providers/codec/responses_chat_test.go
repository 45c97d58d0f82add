package codec

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/tidwall/gjson"
)

// TestChatFromResponseRoundTrip: a chat answer translated to a Response
// (Response, ResponsesStream) and back (ChatFromResponse,
// ChatStreamFromResponses) keeps its text, refusal, tool calls, finish
// reason and usage.
func TestChatFromResponseRoundTrip(t *testing.T) {
	req, err := ParseResponses([]byte(`{"model":"m","input":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	usage := `"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":0}}`
	for _, tc := range []struct {
		name, message, finish string
	}{
		{"text", `{"role":"assistant","content":"Hello there."}`, "stop"},
		{"length", `{"role":"assistant","content":"Cut sh"}`, "length"},
		{"refusal", `{"role":"assistant","content":null,"refusal":"I can't."}`, "stop"},
		{"tools", `{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"a","arguments":"{\"x\":1}"}},{"id":"call_2","type":"function","function":{"name":"b","arguments":"{}"}}]}`, "tool_calls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chat := []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"m","choices":[{"index":0,"message":` + tc.message + `,"finish_reason":"` + tc.finish + `"}],` + usage + `}`)
			resp, err := req.Response(chat, AnswerOptions{ID: "resp_1"})
			if err != nil {
				t.Fatal(err)
			}
			back, err := ChatFromResponse(resp)
			if err != nil {
				t.Fatalf("%v\n%s", err, resp)
			}
			check := func(what string, got []byte) {
				t.Helper()
				want := gjson.GetBytes(chat, "choices.0")
				g := gjson.GetBytes(got, "choices.0")
				for _, path := range []string{"message.content", "message.refusal", "finish_reason", "message.tool_calls.#.id", "message.tool_calls.#.function.name", "message.tool_calls.#.function.arguments"} {
					if g.Get(path).Raw != want.Get(path).Raw && !(path == "message.refusal" && !want.Get(path).Exists()) {
						t.Errorf("%s %s: got %s, want %s\n%s", what, path, g.Get(path).Raw, want.Get(path).Raw, got)
					}
				}
				for _, path := range []string{"prompt_tokens", "completion_tokens", "prompt_tokens_details.cached_tokens"} {
					if gjson.GetBytes(got, "usage."+path).Int() != gjson.GetBytes(chat, "usage."+path).Int() {
						t.Errorf("%s usage.%s: %s", what, path, got)
					}
				}
			}
			check("json", back)

			// The stream: chat chunks → Responses events → chat chunks,
			// reassembled.
			events, err := req.Replay(chat, AnswerOptions{ID: "resp_1"})
			if err != nil {
				t.Fatal(err)
			}
			rd := ChatStreamFromResponses(io.NopCloser(bytes.NewReader(events)))
			out, err := io.ReadAll(rd)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !bytes.HasSuffix(out, []byte("data: [DONE]\n\n")) {
				t.Fatalf("no [DONE]: %s", out)
			}
			check("stream", assembleChat(t, out))
		})
	}
}

// assembleChat folds a chat chunk stream into a chat.completion's shape
// (content, refusal, tool calls, finish reason, usage).
func assembleChat(t *testing.T, stream []byte) []byte {
	t.Helper()
	var content, refusal []byte
	hasContent, hasRefusal := false, false
	type call struct{ id, name, args string }
	var calls []call
	finish, usage := "", "null"
	for _, ev := range parseSSE(t, stream) {
		if string(ev.data) == "[DONE]" {
			break
		}
		d := gjson.ParseBytes(ev.data)
		if u := d.Get("usage"); u.IsObject() {
			usage = u.Raw
		}
		c := d.Get("choices.0")
		if s := c.Get("delta.content"); s.Type == gjson.String && s.Str != "" {
			content, hasContent = append(content, s.Str...), true
		}
		if s := c.Get("delta.refusal"); s.Type == gjson.String {
			refusal, hasRefusal = append(refusal, s.Str...), true
		}
		c.Get("delta.tool_calls").ForEach(func(_, tc gjson.Result) bool {
			k := int(tc.Get("index").Int())
			for len(calls) <= k {
				calls = append(calls, call{})
			}
			if id := tc.Get("id").Str; id != "" {
				calls[k].id, calls[k].name = id, tc.Get("function.name").Str
			}
			calls[k].args += tc.Get("function.arguments").Str
			return true
		})
		if f := c.Get("finish_reason").Str; f != "" {
			finish = f
		}
	}
	msg := `{"role":"assistant","content":`
	if hasContent {
		msg += string(jsonString(string(content)))
	} else {
		msg += "null"
	}
	if hasRefusal {
		msg += `,"refusal":` + string(jsonString(string(refusal)))
	}
	if len(calls) > 0 {
		msg += `,"tool_calls":[`
		for i, c := range calls {
			if i > 0 {
				msg += ","
			}
			msg += `{"id":` + string(jsonString(c.id)) + `,"type":"function","function":{"name":` + string(jsonString(c.name)) + `,"arguments":` + string(jsonString(c.args)) + `}}`
		}
		msg += "]"
	}
	return []byte(`{"choices":[{"index":0,"message":` + msg + `},"finish_reason":"` + finish + `"}],"usage":` + usage + `}`)
}

// TestChatFromResponseErrors: failed responses, other objects and broken
// streams are ErrUpstream; an error event ends the chat stream with an
// error chunk.
func TestChatFromResponseErrors(t *testing.T) {
	for _, body := range []string{`{"object":"response","status":"failed","error":{"message":"boom"}}`, `{"object":"list"}`, `nope`} {
		if _, err := ChatFromResponse([]byte(body)); !errors.Is(err, ErrUpstream) {
			t.Errorf("%s: %v", body, err)
		}
	}
	created := "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"created_at\":1,\"model\":\"m\"}}\n\n"
	out, err := io.ReadAll(ChatStreamFromResponses(io.NopCloser(bytes.NewReader([]byte(created)))))
	if !errors.Is(err, ErrUpstream) || !bytes.Contains(out, []byte(`"role":"assistant"`)) {
		t.Fatalf("cut short: %v %s", err, out)
	}
	failed := created + "event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"overloaded\",\"sequence_number\":1}\n\n"
	out, err = io.ReadAll(ChatStreamFromResponses(io.NopCloser(bytes.NewReader([]byte(failed)))))
	if err != nil || !bytes.Contains(out, []byte(`data: {"error":{"message":"the upstream's responses stream failed: overloaded"`)) || bytes.Contains(out, []byte("[DONE]")) {
		t.Fatalf("error event: %v %s", err, out)
	}
}
