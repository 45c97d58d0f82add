package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzRequests feeds arbitrary bodies to both request translators: they
// never panic, fail only with an *Error wrapping ErrInvalid or
// ErrUnsupported, and otherwise produce a valid chat request.
func FuzzRequests(f *testing.F) {
	for _, name := range []string{"responses/request_string.json", "responses/request_items.json", "messages/request_basic.json", "messages/request_tools.json"} {
		f.Add(fixture(f, name))
	}
	for _, s := range []string{``, `null`, `{}`, `[]`, `{"model":"m","input":[null]}`, `{"model":"m","input":[{"role":"user","content":[null]}]}`,
		`{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":[{}]}]}`, `{"model":"m","input":"x","tools":[null],"tool_choice":{}}`,
		`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[null]}]}]}`,
		`{"model":"m","max_tokens":1e400,"messages":[]}`, `{"model":"\ud800","input":"\u0000","metadata":{"":""}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(out []byte, err error) {
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || !(errors.Is(err, ErrInvalid) || errors.Is(err, ErrUnsupported)) {
					t.Fatalf("error %v (%T)", err, err)
				}
				if !json.Valid(e.OpenAIBody()) || !json.Valid(e.AnthropicBody()) {
					t.Fatalf("error bodies not JSON")
				}
				return
			}
			if !json.Valid(out) || !bytes.HasPrefix(out, []byte(`{"model":`)) {
				t.Fatalf("bad chat request %s", out)
			}
		}
		if r, err := ParseResponses(body); err != nil {
			check(nil, err)
		} else {
			check(r.ToChat())
			_ = r.Prepend([]json.RawMessage{body})
			check(r.ToChat())
		}
		for _, parse := range []func([]byte) (*MessagesRequest, error){ParseMessages, ParseCountTokens} {
			r, err := parse(body)
			if err != nil {
				check(nil, err)
				continue
			}
			check(r.ToChat(MessagesOptions{}))
			check(r.ToChat(MessagesOptions{TopK: Pass, Thinking: Pass}))
		}
	})
}

// FuzzStreams feeds arbitrary chunk data (one chunk per line) to both
// stream translators: they never panic, every event they write is valid
// JSON, and each stream ends with exactly one terminal event.
func FuzzStreams(f *testing.F) {
	for _, name := range []string{"stream_text", "stream_tools", "stream_length", "stream_error"} {
		f.Add(bytes.Join(chunks(f, "chat/"+name+".sse"), []byte("\n")))
	}
	f.Add([]byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":5,"function":{"name":"f","arguments":"\ud800"}}]},"finish_reason":"length"}]}`))
	f.Add([]byte("{\"choices\":[{\"index\":0,\"delta\":{\"refusal\":\"no\",\"content\":\"\\u2028\"}}]}\n[DONE]"))
	rr, _ := ParseResponses([]byte(`{"model":"m","input":"x","stream":true}`))
	mr, _ := ParseMessages([]byte(`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"stop_sequences":["a"]}`))
	terminal := map[string]bool{"response.completed": true, "response.incomplete": true, "response.failed": true, "message_stop": true, "error": true}
	f.Fuzz(func(t *testing.T, in []byte) {
		data := bytes.Split(in, []byte("\n"))
		for _, s := range []feeder{rr.NewStream(AnswerOptions{ID: "resp_f"}), mr.NewStream(AnswerOptions{ID: "msg_f"})} {
			out, _ := runStream(s, data)
			evs := parseSSE(t, out)
			ends := 0
			for _, ev := range evs {
				if !json.Valid(ev.data) {
					t.Fatalf("event %s: invalid JSON %q", ev.name, ev.data)
				}
				if terminal[ev.name] {
					ends++
				}
			}
			if ends != 1 || !terminal[evs[len(evs)-1].name] {
				t.Fatalf("%d terminal events, last %s", ends, evs[len(evs)-1].name)
			}
		}
		for _, r := range []func([]byte, AnswerOptions) ([]byte, error){rr.Response, mr.Message} {
			if out, err := r(in, AnswerOptions{}); err == nil && !json.Valid(out) {
				t.Fatalf("invalid answer %s", out)
			}
		}
	})
}
