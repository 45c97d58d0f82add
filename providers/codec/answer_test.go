package codec

import (
	"encoding/json"
	"testing"

	"github.com/tidwall/gjson"
)

// TestAnswers translates hand-written chat answers and checks the fields
// each API documents.
func TestAnswers(t *testing.T) {
	type check map[string]any // gjson path → expected value (nil: JSON null)
	tests := []struct {
		answer    string
		responses check
		messages  check
	}{
		{"answer_text", check{
			"id": "resp_test", "object": "response", "created_at": 1741569952.0, "status": "completed",
			"model": "gpt-4.1-2025-04-14", "error": nil, "incomplete_details": nil, "output.#": 1.0,
			"output.0.type": "message", "output.0.role": "assistant", "output.0.status": "completed",
			"output.0.content.0.type": "output_text", "output.0.content.0.text": "Hello! How can I assist you today?",
			"output.0.content.0.annotations.#": 0.0, "usage.input_tokens": 19.0, "usage.output_tokens": 10.0,
			"usage.total_tokens": 29.0, "usage.input_tokens_details.cached_tokens": 0.0,
			"usage.output_tokens_details.reasoning_tokens": 0.0,
		}, check{
			"id": "msg_test", "type": "message", "role": "assistant", "model": "gpt-4.1-2025-04-14",
			"content.#": 1.0, "content.0.type": "text", "content.0.text": "Hello! How can I assist you today?",
			"stop_reason": "end_turn", "stop_sequence": nil, "usage.input_tokens": 19.0, "usage.output_tokens": 10.0,
			"usage.cache_read_input_tokens": 0.0, "usage.cache_creation_input_tokens": 0.0,
		}},
		{"answer_tools", check{
			"status": "completed", "output.#": 2.0, "output.0.type": "function_call", "output.0.call_id": "call_abc123",
			"output.0.name": "get_current_weather", "output.0.arguments": "{\n\"location\": \"Boston, MA\"\n}",
			"output.0.status": "completed", "output.1.call_id": "call_def456", "output.1.arguments": `{"location": "Paris"}`,
			"usage.input_tokens": 1082.0, "usage.input_tokens_details.cached_tokens": 1024.0,
			"usage.output_tokens_details.reasoning_tokens": 12.0, "usage.total_tokens": 1129.0,
		}, check{
			"content.#": 2.0, "content.0.type": "tool_use", "content.0.id": "call_abc123", "content.0.name": "get_current_weather",
			"content.0.input.location": "Boston, MA", "content.1.input.location": "Paris", "stop_reason": "tool_use",
			"usage.input_tokens": 58.0, "usage.cache_read_input_tokens": 1024.0, "usage.output_tokens": 47.0,
		}},
		{"answer_length", check{
			"status": "incomplete", "incomplete_details.reason": "max_output_tokens", "output.0.status": "incomplete",
			"output.0.content.0.text": "Once upon a time, in a",
		}, check{
			"stop_reason": "max_tokens", "content.0.text": "Once upon a time, in a",
		}},
		{"answer_refusal", check{
			"status": "completed", "output.0.content.#": 1.0, "output.0.content.0.type": "refusal",
			"output.0.content.0.refusal": "I'm sorry, I can't help with that.",
		}, check{
			"stop_reason": "refusal", "content.0.type": "text", "content.0.text": "I'm sorry, I can't help with that.",
		}},
		{"answer_stop_sequence", check{
			"status": "completed", "output.0.content.0.text": "The forecast is mild. ",
		}, check{
			"stop_reason": "stop_sequence", "stop_sequence": "END",
		}},
	}
	rr, err := ParseResponses([]byte(`{"model":"gpt-4.1","input":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	mr, err := ParseMessages([]byte(`{"model":"claude","max_tokens":100,"stop_sequences":["END"],"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	verify := func(t *testing.T, b []byte, c check) {
		t.Helper()
		for path, want := range c {
			got := gjson.GetBytes(b, path)
			if want == nil {
				if got.Type != gjson.Null {
					t.Errorf("%s = %s, want null", path, got.Raw)
				}
				continue
			}
			if !got.Exists() || got.Value() != want {
				t.Errorf("%s = %s, want %v", path, got.Raw, want)
			}
		}
	}
	for _, tt := range tests {
		t.Run(tt.answer, func(t *testing.T) {
			chat := fixture(t, "chat/"+tt.answer+".json")
			resp, err := rr.Response(chat, AnswerOptions{ID: "resp_test"})
			if err != nil {
				t.Fatal(err)
			}
			verify(t, resp, tt.responses)
			msg, err := mr.Message(chat, AnswerOptions{ID: "msg_test"})
			if err != nil {
				t.Fatal(err)
			}
			verify(t, msg, tt.messages)
			golden(t, tt.answer+".response.json", []byte(indent(resp)+"\n"))
			golden(t, tt.answer+".message.json", []byte(indent(msg)+"\n"))

			// Replaying the answer as a stream and assembling the events
			// back gives the same object.
			sse, err := rr.Replay(chat, AnswerOptions{ID: "resp_test"})
			if err != nil {
				t.Fatal(err)
			}
			if got := assembleResponses(t, parseSSE(t, sse)); !sameJSON(t, got, resp) {
				t.Errorf("assembled Responses stream:\n%s\nwant:\n%s", indent(got), indent(resp))
			}
			sse, err = mr.Replay(chat, AnswerOptions{ID: "msg_test"})
			if err != nil {
				t.Fatal(err)
			}
			if got := assembleMessages(t, parseSSE(t, sse)); !sameJSON(t, got, msg) {
				t.Errorf("assembled Messages stream:\n%s\nwant:\n%s", indent(got), indent(msg))
			}
		})
	}
}

func TestAnswerOptionsAndErrors(t *testing.T) {
	rr, _ := ParseResponses([]byte(`{"model":"alias","input":"hi","temperature":0.2,"metadata":{"a":"b"},"store":false}`))
	resp, err := rr.Response(fixture(t, "chat/answer_text.json"), AnswerOptions{CreatedAt: 5, Model: "public-name"})
	if err != nil {
		t.Fatal(err)
	}
	if id := gjson.GetBytes(resp, "id").Str; len(id) != len("resp_")+48 || id[:5] != "resp_" {
		t.Errorf("id %q", id)
	}
	for path, want := range map[string]string{"created_at": "5", "model": `"public-name"`, "temperature": "0.2", "metadata": `{"a":"b"}`, "store": "false"} {
		if got := gjson.GetBytes(resp, path).Raw; got != want {
			t.Errorf("%s = %s, want %s", path, got, want)
		}
	}
	mr, _ := ParseMessages([]byte(`{"model":"claude","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`))
	msg, err := mr.Message(fixture(t, "chat/answer_text.json"), AnswerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if id := gjson.GetBytes(msg, "id").Str; len(id) != len("msg_")+48 {
		t.Errorf("id %q", id)
	}
	for _, bad := range []string{`not json`, `{"choices":[]}`, `{"choices":[{"message":{"content":5}}]}`,
		`{"choices":[{"message":{"tool_calls":[{"id":"x","type":"function","function":{"name":""}}]}}]}`} {
		if _, err := rr.Response([]byte(bad), AnswerOptions{}); asError(t, err).Err != ErrUpstream {
			t.Errorf("Response(%s): %v", bad, err)
		}
		if _, err := mr.Message([]byte(bad), AnswerOptions{}); asError(t, err).Err != ErrUpstream {
			t.Errorf("Message(%s): %v", bad, err)
		}
	}
	// Tool arguments that are not a JSON object cannot become an input.
	broken := `{"id":"c","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":"}}]},"finish_reason":"tool_calls"}]}`
	if _, err := mr.Message([]byte(broken), AnswerOptions{}); err == nil {
		t.Error("broken arguments accepted")
	}
	// ... unless the answer was cut short.
	cut := []byte(broken)
	cut = []byte(string(cut[:len(cut)-len(`"tool_calls"}]}`)]) + `"length"}]}`)
	msg, err = mr.Message(cut, AnswerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if gjson.GetBytes(msg, "content.0.input").Raw != "{}" || gjson.GetBytes(msg, "stop_reason").Str != "max_tokens" {
		t.Errorf("cut answer: %s", msg)
	}
}

// assembleResponses rebuilds the final Response from an event stream the
// way a client does, checking the protocol as it goes: sequence numbers,
// event names matching types, indices, and that the terminal event's
// output equals what the deltas built.
func assembleResponses(t *testing.T, evs []event) []byte {
	t.Helper()
	type item struct {
		raw   map[string]any
		parts []map[string]any
		args  string
	}
	var items []*item
	var final []byte
	for i, ev := range evs {
		d := gjson.ParseBytes(ev.data)
		if d.Get("type").Str != ev.name {
			t.Fatalf("event %d: SSE name %q, type %q", i, ev.name, d.Get("type").Str)
		}
		if d.Get("sequence_number").Int() != int64(i) {
			t.Fatalf("event %d: sequence_number %d", i, d.Get("sequence_number").Int())
		}
		if final != nil {
			t.Fatalf("event %d after the terminal event", i)
		}
		oi := int(d.Get("output_index").Int())
		ci := int(d.Get("content_index").Int())
		switch ev.name {
		case "response.created", "response.in_progress":
			if d.Get("response.status").Str != "in_progress" {
				t.Fatalf("%s status %s", ev.name, d.Get("response.status").Str)
			}
		case "response.output_item.added":
			if oi != len(items) {
				t.Fatalf("item added at %d, have %d", oi, len(items))
			}
			var m map[string]any
			_ = json.Unmarshal([]byte(d.Get("item").Raw), &m)
			items = append(items, &item{raw: m})
		case "response.content_part.added":
			if ci != len(items[oi].parts) {
				t.Fatalf("part added at %d", ci)
			}
			var m map[string]any
			_ = json.Unmarshal([]byte(d.Get("part").Raw), &m)
			items[oi].parts = append(items[oi].parts, m)
		case "response.output_text.delta":
			items[oi].parts[ci]["text"] = items[oi].parts[ci]["text"].(string) + d.Get("delta").Str
		case "response.refusal.delta":
			items[oi].parts[ci]["refusal"] = items[oi].parts[ci]["refusal"].(string) + d.Get("delta").Str
		case "response.output_text.done":
			if d.Get("text").Str != items[oi].parts[ci]["text"] {
				t.Fatalf("output_text.done text %q, deltas gave %q", d.Get("text").Str, items[oi].parts[ci]["text"])
			}
		case "response.refusal.done":
			if d.Get("refusal").Str != items[oi].parts[ci]["refusal"] {
				t.Fatalf("refusal.done mismatch")
			}
		case "response.content_part.done":
		case "response.function_call_arguments.delta":
			items[oi].args += d.Get("delta").Str
		case "response.function_call_arguments.done":
			if a := d.Get("arguments").Str; a != items[oi].args && !(items[oi].args == "" && a == "{}") {
				t.Fatalf("arguments.done %q, deltas gave %q", a, items[oi].args)
			}
		case "response.output_item.done":
			var m map[string]any
			_ = json.Unmarshal([]byte(d.Get("item").Raw), &m)
			it := items[oi]
			if m["type"] == "message" {
				built := make([]any, len(it.parts))
				for k, p := range it.parts {
					built[k] = p
				}
				got, _ := json.Marshal(m["content"])
				want, _ := json.Marshal(built)
				if !sameJSON(t, got, want) {
					t.Fatalf("item %d content %s, deltas gave %s", oi, got, want)
				}
			}
			it.raw = m
		case "response.completed", "response.incomplete", "response.failed":
			final = []byte(d.Get("response").Raw)
			built := make([]any, len(items))
			for k, it := range items {
				if it.raw["status"] == "in_progress" { // never done: what the deltas built
					if it.raw["type"] == "message" {
						content := make([]any, len(it.parts))
						for j, p := range it.parts {
							content[j] = p
						}
						it.raw["content"] = content
					} else {
						it.raw["arguments"] = it.args
					}
				}
				built[k] = it.raw
			}
			got := []byte(gjson.GetBytes(final, "output").Raw)
			want, _ := json.Marshal(built)
			if !sameJSON(t, got, want) {
				t.Fatalf("terminal output %s, events gave %s", got, want)
			}
		default:
			t.Fatalf("unexpected event %q", ev.name)
		}
	}
	if final == nil {
		t.Fatal("no terminal event")
	}
	return final
}

// assembleMessages rebuilds a Message from its event stream, checking the
// protocol: names, block indices, one open block at a time.
func assembleMessages(t *testing.T, evs []event) []byte {
	t.Helper()
	var msg map[string]any
	var blocks []map[string]any
	var args []string
	open := -1
	stopped := false
	for i, ev := range evs {
		d := gjson.ParseBytes(ev.data)
		if d.Get("type").Str != ev.name {
			t.Fatalf("event %d: SSE name %q, type %q", i, ev.name, d.Get("type").Str)
		}
		if stopped {
			t.Fatalf("event %d after message_stop", i)
		}
		idx := int(d.Get("index").Int())
		switch ev.name {
		case "message_start":
			if i != 0 {
				t.Fatal("message_start not first")
			}
			_ = json.Unmarshal([]byte(d.Get("message").Raw), &msg)
		case "ping":
		case "content_block_start":
			if open != -1 || idx != len(blocks) {
				t.Fatalf("block %d starts while %d open / %d blocks", idx, open, len(blocks))
			}
			var b map[string]any
			_ = json.Unmarshal([]byte(d.Get("content_block").Raw), &b)
			blocks = append(blocks, b)
			args = append(args, "")
			open = idx
		case "content_block_delta":
			if idx != open {
				t.Fatalf("delta for %d while %d open", idx, open)
			}
			switch d.Get("delta.type").Str {
			case "text_delta":
				blocks[idx]["text"] = blocks[idx]["text"].(string) + d.Get("delta.text").Str
			case "input_json_delta":
				args[idx] += d.Get("delta.partial_json").Str
			default:
				t.Fatalf("delta type %s", d.Get("delta.type").Str)
			}
		case "content_block_stop":
			if idx != open {
				t.Fatalf("stop for %d while %d open", idx, open)
			}
			if args[idx] != "" {
				var in any
				if err := json.Unmarshal([]byte(args[idx]), &in); err != nil {
					t.Fatalf("block %d: partial_json does not assemble to JSON: %q", idx, args[idx])
				}
				blocks[idx]["input"] = in
			}
			open = -1
		case "message_delta":
			msg["stop_reason"] = d.Get("delta.stop_reason").Value()
			msg["stop_sequence"] = d.Get("delta.stop_sequence").Value()
			var u map[string]any
			_ = json.Unmarshal([]byte(d.Get("usage").Raw), &u)
			msg["usage"] = u
		case "message_stop":
			if open != -1 {
				t.Fatal("message_stop with an open block")
			}
			stopped = true
		default:
			t.Fatalf("unexpected event %q", ev.name)
		}
	}
	if !stopped {
		t.Fatal("no message_stop")
	}
	content := make([]any, len(blocks))
	for i, b := range blocks {
		content[i] = b
	}
	msg["content"] = content
	b, _ := json.Marshal(msg)
	return b
}
