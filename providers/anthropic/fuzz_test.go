package anthropic

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/semgate/semgate/providers"
)

// FuzzTranslateRequest feeds arbitrary bytes to the request translators.
// They must never panic; they either fail with a *providers.Error wrapping
// ErrUnsupported or produce a well-formed Messages request.
func FuzzTranslateRequest(f *testing.F) {
	for _, name := range []string{"request_chat.json", "request_completion.json"} {
		b, err := readFixtureErr(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `{"messages":null}`, `{"messages":[null]}`, `{"messages":[{}]}`,
		`{"messages":[{"role":"user","content":[null]}]}`,
		`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":null}]}]}`,
		`{"messages":[{"role":"assistant","tool_calls":[null]}]}`,
		`{"messages":[{"role":"tool","tool_call_id":"a","content":[{"type":"text","text":"x"}]}],"tools":[null],"tool_choice":{}}`,
		`{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":null}]}`,
		`{"messages":[{"role":"user","content":"x"}],"stop":[null],"temperature":1e400}`,
		`{"prompt":[null],"max_tokens":9223372036854775807}`,
		`{"prompt":"\ud800","stop":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	tr := testTranslator()
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, translate := range []func([]byte) (*translated, error){tr.chat, tr.completion} {
			got, err := translate(body)
			if err != nil {
				var pe *providers.Error
				if !errors.As(err, &pe) || !errors.Is(err, providers.ErrUnsupported) || pe.Message == "" {
					t.Fatalf("error %v (%T) is not a *providers.Error wrapping ErrUnsupported", err, err)
				}
				continue
			}
			out, err := marshal(&got.req)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			var back map[string]any
			if err := json.Unmarshal(out, &back); err != nil {
				t.Fatalf("output is not a JSON object: %v\n%s", err, out)
			}
			r := &got.req
			if len(r.Messages) == 0 || r.MaxTokens < 1 {
				t.Fatalf("accepted a request without messages or max_tokens: %s", out)
			}
			if r.Temperature != nil && (*r.Temperature < 0 || *r.Temperature > 1) {
				t.Fatalf("temperature %v outside Anthropic's range", *r.Temperature)
			}
			for i, m := range r.Messages {
				if len(m.Content) == 0 || (m.Role != "user" && m.Role != "assistant") {
					t.Fatalf("message %d: role %q with %d blocks", i, m.Role, len(m.Content))
				}
				if i > 0 && r.Messages[i-1].Role == m.Role {
					t.Fatalf("messages %d and %d share role %q", i-1, i, m.Role)
				}
				for _, b := range m.Content {
					if b.Type == "text" && b.Text == "" {
						t.Fatalf("empty text block in message %d", i)
					}
				}
			}
		}
	})
}
