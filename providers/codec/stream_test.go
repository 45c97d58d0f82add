package codec

import (
	"errors"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// rawJSON expects a field's exact JSON text.
type rawJSON string

type want struct {
	name   string
	fields map[string]any // gjson path → value
}

func checkEvents(t *testing.T, evs []event, wants []want) {
	t.Helper()
	if len(evs) != len(wants) {
		var names []string
		for _, e := range evs {
			names = append(names, e.name)
		}
		t.Fatalf("got %d events, want %d:\n%s", len(evs), len(wants), strings.Join(names, "\n"))
	}
	for i, w := range wants {
		ev := evs[i]
		if ev.name != w.name {
			t.Errorf("event %d: %s, want %s", i, ev.name, w.name)
			continue
		}
		for path, v := range w.fields {
			got := gjson.GetBytes(ev.data, path)
			if v == nil {
				if got.Type != gjson.Null {
					t.Errorf("event %d %s: %s = %s, want null", i, w.name, path, got.Raw)
				}
			} else if raw, ok := v.(rawJSON); ok {
				if got.Raw != string(raw) {
					t.Errorf("event %d %s: %s = %s, want %s", i, w.name, path, got.Raw, raw)
				}
			} else if !got.Exists() || got.Value() != v {
				t.Errorf("event %d %s: %s = %s, want %v", i, w.name, path, got.Raw, v)
			}
		}
	}
}

// TestResponsesStreamEvents checks a live stream with text and two tool
// calls (one streamed in fragments, one without arguments), event by
// event.
func TestResponsesStreamEvents(t *testing.T) {
	r, _ := ParseResponses([]byte(`{"model":"gpt-4o-mini","input":"weather?","stream":true}`))
	s := r.NewStream(AnswerOptions{ID: "resp_s"})
	out, err := runStream(s, chunks(t, "chat/stream_tools.sse"))
	if err != nil {
		t.Fatal(err)
	}
	msgID, fc1, fc2 := derivedID("msg", "resp_s", 0), derivedID("fc", "resp_s", 1), derivedID("fc", "resp_s", 2)
	checkEvents(t, parseSSE(t, out), []want{
		{"response.created", map[string]any{"sequence_number": 0.0, "response.id": "resp_s", "response.status": "in_progress", "response.output.#": 0.0, "response.created_at": 1694268191.0, "response.usage": nil}},
		{"response.in_progress", map[string]any{"sequence_number": 1.0, "response.status": "in_progress"}},
		{"response.output_item.added", map[string]any{"output_index": 0.0, "item.type": "message", "item.id": msgID, "item.status": "in_progress", "item.content.#": 0.0, "item.role": "assistant"}},
		{"response.content_part.added", map[string]any{"item_id": msgID, "output_index": 0.0, "content_index": 0.0, "part.type": "output_text", "part.text": ""}},
		{"response.output_text.delta", map[string]any{"item_id": msgID, "content_index": 0.0, "delta": "Checking both cities."}},
		{"response.output_text.done", map[string]any{"item_id": msgID, "text": "Checking both cities."}},
		{"response.content_part.done", map[string]any{"part.text": "Checking both cities.", "part.annotations.#": 0.0}},
		{"response.output_item.done", map[string]any{"output_index": 0.0, "item.status": "completed", "item.content.0.text": "Checking both cities."}},
		{"response.output_item.added", map[string]any{"output_index": 1.0, "item.type": "function_call", "item.id": fc1, "item.call_id": "call_DdmO9pD3xa9XTPNJ32zg2hcA", "item.name": "get_weather", "item.arguments": "", "item.status": "in_progress"}},
		{"response.function_call_arguments.delta", map[string]any{"item_id": fc1, "output_index": 1.0, "delta": `{"location":`}},
		{"response.function_call_arguments.delta", map[string]any{"item_id": fc1, "delta": ` "Paris, France"}`}},
		{"response.function_call_arguments.done", map[string]any{"item_id": fc1, "arguments": `{"location": "Paris, France"}`}},
		{"response.output_item.done", map[string]any{"output_index": 1.0, "item.status": "completed", "item.arguments": `{"location": "Paris, France"}`}},
		{"response.output_item.added", map[string]any{"output_index": 2.0, "item.id": fc2, "item.call_id": "call_XyZ", "item.name": "get_time"}},
		{"response.function_call_arguments.done", map[string]any{"item_id": fc2, "arguments": "{}"}},
		{"response.output_item.done", map[string]any{"output_index": 2.0, "item.arguments": "{}"}},
		{"response.completed", map[string]any{"sequence_number": 16.0, "response.status": "completed", "response.output.#": 3.0,
			"response.usage.input_tokens": 120.0, "response.usage.input_tokens_details.cached_tokens": 64.0, "response.usage.output_tokens": 40.0, "response.usage.total_tokens": 160.0}},
	})
	if got := assembleResponses(t, parseSSE(t, out)); !sameJSON(t, got, s.Response()) {
		t.Errorf("Response() differs from the terminal event's")
	}
}

func TestMessagesStreamEvents(t *testing.T) {
	r, _ := ParseMessages([]byte(`{"model":"claude","max_tokens":100,"messages":[{"role":"user","content":"weather?"}],"stream":true}`))
	s := r.NewStream(AnswerOptions{ID: "msg_s", InputTokens: 50})
	out, err := runStream(s, chunks(t, "chat/stream_tools.sse"))
	if err != nil {
		t.Fatal(err)
	}
	checkEvents(t, parseSSE(t, out), []want{
		{"message_start", map[string]any{"type": "message_start", "message.id": "msg_s", "message.type": "message", "message.role": "assistant", "message.model": "gpt-4o-mini",
			"message.content.#": 0.0, "message.stop_reason": nil, "message.stop_sequence": nil, "message.usage.input_tokens": 50.0, "message.usage.output_tokens": 0.0}},
		{"content_block_start", map[string]any{"index": 0.0, "content_block.type": "text", "content_block.text": ""}},
		{"ping", map[string]any{"type": "ping"}},
		{"content_block_delta", map[string]any{"index": 0.0, "delta.type": "text_delta", "delta.text": "Checking both cities."}},
		{"content_block_stop", map[string]any{"index": 0.0}},
		{"content_block_start", map[string]any{"index": 1.0, "content_block.type": "tool_use", "content_block.id": "call_DdmO9pD3xa9XTPNJ32zg2hcA", "content_block.name": "get_weather", "content_block.input": rawJSON("{}")}},
		{"content_block_delta", map[string]any{"index": 1.0, "delta.type": "input_json_delta", "delta.partial_json": `{"location":`}},
		{"content_block_delta", map[string]any{"index": 1.0, "delta.partial_json": ` "Paris, France"}`}},
		{"content_block_stop", map[string]any{"index": 1.0}},
		{"content_block_start", map[string]any{"index": 2.0, "content_block.type": "tool_use", "content_block.id": "call_XyZ", "content_block.name": "get_time"}},
		{"content_block_stop", map[string]any{"index": 2.0}},
		{"message_delta", map[string]any{"delta.stop_reason": "tool_use", "delta.stop_sequence": nil, "usage.input_tokens": 56.0, "usage.cache_read_input_tokens": 64.0, "usage.output_tokens": 40.0}},
		{"message_stop", map[string]any{"type": "message_stop"}},
	})
	if got := assembleMessages(t, parseSSE(t, out)); !sameJSON(t, got, s.Message()) {
		t.Errorf("assembled %s\nMessage() %s", got, s.Message())
	}
}

// TestStreamGoldens runs every chat stream fixture through both
// translators; the outputs were reviewed by hand and are kept as goldens.
// Complete streams must assemble back to what Response()/Message() hold.
func TestStreamGoldens(t *testing.T) {
	rr, _ := ParseResponses([]byte(`{"model":"gpt-4o-mini","input":"hi","stream":true}`))
	mr, _ := ParseMessages([]byte(`{"model":"claude","max_tokens":100,"messages":[{"role":"user","content":"hi"}],"stream":true}`))
	for _, name := range []string{"stream_text", "stream_tools", "stream_length", "stream_truncated", "stream_error"} {
		t.Run(name, func(t *testing.T) {
			data := chunks(t, "chat/"+name+".sse")
			rs := rr.NewStream(AnswerOptions{ID: "resp_g"})
			out, rerr := runStream(rs, data)
			golden(t, name+".responses.sse", out)
			evs := parseSSE(t, out)
			last := evs[len(evs)-1]
			if got := assembleResponses(t, evs); !sameJSON(t, got, rs.Response()) {
				t.Errorf("Response() differs from the terminal event")
			}
			ms := mr.NewStream(AnswerOptions{ID: "msg_g"})
			mout, merr := runStream(ms, data)
			golden(t, name+".messages.sse", mout)
			mevs := parseSSE(t, mout)
			mlast := mevs[len(mevs)-1]
			switch name {
			case "stream_truncated", "stream_error":
				if last.name != "response.failed" || gjson.GetBytes(last.data, "response.error.code").Str != "server_error" {
					t.Errorf("Responses: last event %s %s", last.name, last.data)
				}
				if mlast.name != "error" || gjson.GetBytes(mlast.data, "error.type").Str != "api_error" || ms.Message() != nil {
					t.Errorf("Messages: last event %s %s", mlast.name, mlast.data)
				}
				if name == "stream_error" && (!errors.Is(rerr, ErrUpstream) || !errors.Is(merr, ErrUpstream)) {
					t.Errorf("errors %v, %v", rerr, merr)
				}
			default:
				if rerr != nil || merr != nil {
					t.Fatal(rerr, merr)
				}
				if got := assembleMessages(t, mevs); !sameJSON(t, got, ms.Message()) {
					t.Errorf("assembled %s\nMessage() %s", got, ms.Message())
				}
			}
		})
	}
}

// TestStreamEdges: End after a finish_reason completes, Fail and feeding
// after the end, a first chunk that already carries content, [DONE] alone.
func TestStreamEdges(t *testing.T) {
	rr, _ := ParseResponses([]byte(`{"model":"m","input":"hi","stream":true}`))
	mr, _ := ParseMessages([]byte(`{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"hi"}],"stream":true}`))

	// No [DONE], but a finish_reason: complete.
	data := chunks(t, "chat/stream_text.sse")
	data = data[:len(data)-1]
	rs := rr.NewStream(AnswerOptions{ID: "resp_e"})
	out, err := runStream(rs, data)
	evs := parseSSE(t, out)
	if err != nil || evs[len(evs)-1].name != "response.completed" {
		t.Errorf("End after finish: %v, last %s", err, evs[len(evs)-1].name)
	}
	if b, err := rs.Feed([]byte(`{"choices":[{"index":0,"delta":{"content":"late"}}]}`)); len(b) != 0 || err != nil {
		t.Errorf("feed after the end wrote %s, %v", b, err)
	}
	if b := rs.Fail("server_error", "x"); len(b) != 0 {
		t.Errorf("Fail after the end wrote %s", b)
	}

	// Fail before anything: a created event, then failed.
	rs = rr.NewStream(AnswerOptions{ID: "resp_f"})
	evs = parseSSE(t, rs.Fail("rate_limit_exceeded", "slow down"))
	if len(evs) != 3 || evs[0].name != "response.created" || evs[2].name != "response.failed" ||
		gjson.GetBytes(evs[2].data, "response.error.code").Str != "rate_limit_exceeded" ||
		gjson.GetBytes(evs[2].data, "response.error.message").Str != "slow down" {
		t.Errorf("Fail: %v", evs)
	}
	ms := mr.NewStream(AnswerOptions{ID: "msg_f"})
	evs = parseSSE(t, ms.Fail("rate_limit_exceeded", "slow down"))
	if len(evs) != 1 || evs[0].name != "error" || gjson.GetBytes(evs[0].data, "error.type").Str != "rate_limit_error" {
		t.Errorf("Messages Fail: %v", evs)
	}

	// [DONE] alone: an empty, complete answer.
	rs = rr.NewStream(AnswerOptions{ID: "resp_d"})
	out, _ = rs.Feed([]byte("[DONE]"))
	evs = parseSSE(t, out)
	if len(evs) != 3 || evs[2].name != "response.completed" {
		t.Errorf("[DONE] alone: %d events", len(evs))
	}
	ms = mr.NewStream(AnswerOptions{ID: "msg_d"})
	out, _ = ms.Feed([]byte("[DONE]"))
	if evs = parseSSE(t, out); len(evs) != 3 || evs[1].name != "message_delta" || gjson.GetBytes(ms.Message(), "content.#").Int() != 0 {
		t.Errorf("[DONE] alone: %v", evs)
	}

	// Arguments for a call after another part began: refused.
	ms = mr.NewStream(AnswerOptions{ID: "msg_i"})
	_, err = runStream(ms, [][]byte{
		[]byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{"}}]}}]}`),
		[]byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"b","function":{"name":"g","arguments":"{}"}}]}}]}`),
		[]byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"}"}}]}}]}`),
	})
	if !errors.Is(err, ErrUpstream) {
		t.Errorf("interleaved arguments: %v", err)
	}
	// A tool call without a name, and a chunk that is not JSON.
	for _, bad := range []string{`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a"}]}}]}`, `{"choices":`} {
		rs = rr.NewStream(AnswerOptions{})
		out, err := rs.Feed([]byte(bad))
		if evs := parseSSE(t, out); !errors.Is(err, ErrUpstream) || evs[len(evs)-1].name != "response.failed" || !rs.Done() {
			t.Errorf("%s: %v", bad, err)
		}
	}
}
