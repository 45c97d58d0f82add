package semcache

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

var chatChunks = []string{
	`{"id":"c1","object":"chat.completion.chunk","created":5,"model":"gpt","system_fingerprint":"fp","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`,
	`{"id":"c1","object":"chat.completion.chunk","created":5,"model":"gpt","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}`,
	`{"id":"c1","object":"chat.completion.chunk","created":5,"model":"gpt","choices":[{"index":0,"delta":{"content":"lo \"x\""},"finish_reason":null}]}`,
	`{"id":"c1","object":"chat.completion.chunk","created":5,"model":"gpt","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
	`{"id":"c1","object":"chat.completion.chunk","created":5,"model":"gpt","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`,
}

func assemble(t *testing.T, kind string, chunks []string) []byte {
	t.Helper()
	a := NewAssembler(kind)
	for _, c := range chunks {
		if err := a.Add([]byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	out, err := a.Result()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAssembleChat(t *testing.T) {
	out := assemble(t, "chat", chatChunks)
	var r struct {
		Object  string `json:"object"`
		Choices []struct {
			Message struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			TotalTokens int `json:"total_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	if r.Object != "chat.completion" || r.Choices[0].Message.Content != `Hello "x"` || r.Choices[0].FinishReason != "stop" || r.Usage.TotalTokens != 5 {
		t.Fatalf("%s", out)
	}
}

func TestAssembleToolCalls(t *testing.T) {
	chunks := []string{
		`{"id":"c2","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}`,
		`{"id":"c2","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"finish_reason":null}]}`,
		`{"id":"c2","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"finish_reason":null}]}`,
		`{"id":"c2","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
	}
	out := assemble(t, "chat", chunks)
	if !strings.Contains(string(out), `"arguments":"{\"city\":\"Paris\"}"`) || !strings.Contains(string(out), `"content":null`) {
		t.Fatalf("%s", out)
	}
	// Round trip: replayed chunks assemble to the same answer.
	events, err := Replay("chat", out, false)
	if err != nil {
		t.Fatal(err)
	}
	var again []string
	for _, e := range events[:len(events)-1] {
		again = append(again, string(e))
	}
	if got := assemble(t, "chat", again); string(got) != string(out) {
		t.Fatalf("replay round trip:\n%s\n%s", got, out)
	}
}

func TestAssembleIncomplete(t *testing.T) {
	a := NewAssembler("chat")
	a.Add([]byte(chatChunks[1]))
	if _, err := a.Result(); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("a stream without finish_reason assembled: %v", err)
	}
	if err := a.Add([]byte(`{bad`)); !errors.Is(err, ErrIncomplete) {
		t.Fatal(err)
	}
	if _, err := NewAssembler("chat").Result(); !errors.Is(err, ErrIncomplete) {
		t.Fatal("empty stream assembled")
	}
}

func TestReplayChatRoundTrip(t *testing.T) {
	out := assemble(t, "chat", chatChunks)
	for _, usage := range []bool{false, true} {
		events, err := Replay("chat", out, usage)
		if err != nil {
			t.Fatal(err)
		}
		if string(events[len(events)-1]) != "[DONE]" {
			t.Fatal("no [DONE]")
		}
		hasUsage := strings.Contains(string(events[len(events)-2]), `"usage"`)
		if hasUsage != usage {
			t.Fatalf("usage chunk present=%v, want %v", hasUsage, usage)
		}
		var chunks []string
		for _, e := range events[:len(events)-1] {
			if !json.Valid(e) {
				t.Fatalf("invalid chunk %s", e)
			}
			chunks = append(chunks, string(e))
		}
		back := assemble(t, "chat", chunks)
		if usage && string(back) != string(out) {
			t.Fatalf("round trip:\n%s\n%s", back, out)
		}
	}
}

func TestReplayCompletions(t *testing.T) {
	body := `{"id":"cmpl-1","object":"text_completion","created":2,"model":"m","choices":[{"index":0,"text":"once upon","logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`
	events, err := Replay("completions", []byte(body), true)
	if err != nil {
		t.Fatal(err)
	}
	var chunks []string
	for _, e := range events[:len(events)-1] {
		chunks = append(chunks, string(e))
	}
	out := assemble(t, "completions", chunks)
	if !strings.Contains(string(out), `"text":"once upon"`) || !strings.Contains(string(out), `"finish_reason":"length"`) {
		t.Fatalf("%s", out)
	}
}
