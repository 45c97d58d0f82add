package mock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/sse"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The types below mirror OpenAI's response objects; responses are decoded
// with unknown fields disallowed, so every field the mock sends is checked.

type usageJSON struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int `json:"cached_tokens"`
		AudioTokens  int `json:"audio_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails *struct {
		ReasoningTokens          int `json:"reasoning_tokens"`
		AudioTokens              int `json:"audio_tokens"`
		AcceptedPredictionTokens int `json:"accepted_prediction_tokens"`
		RejectedPredictionTokens int `json:"rejected_prediction_tokens"`
	} `json:"completion_tokens_details"`
}

type toolCallJSON struct {
	Index    *int   `json:"index"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type chatCompletion struct {
	ID                string `json:"id"`
	Object            string `json:"object"`
	Created           int64  `json:"created"`
	Model             string `json:"model"`
	ServiceTier       string `json:"service_tier"`
	SystemFingerprint string `json:"system_fingerprint"`
	Choices           []struct {
		Index   int `json:"index"`
		Message struct {
			Role        string         `json:"role"`
			Content     *string        `json:"content"`
			Refusal     *string        `json:"refusal"`
			Annotations []any          `json:"annotations"`
			ToolCalls   []toolCallJSON `json:"tool_calls"`
		} `json:"message"`
		Logprobs     json.RawMessage `json:"logprobs"`
		FinishReason string          `json:"finish_reason"`
	} `json:"choices"`
	Usage usageJSON `json:"usage"`
}

type chatChunk struct {
	ID                string `json:"id"`
	Object            string `json:"object"`
	Created           int64  `json:"created"`
	Model             string `json:"model"`
	SystemFingerprint string `json:"system_fingerprint"`
	Choices           []struct {
		Index int `json:"index"`
		Delta struct {
			Role      string         `json:"role"`
			Content   *string        `json:"content"`
			Refusal   *string        `json:"refusal"`
			ToolCalls []toolCallJSON `json:"tool_calls"`
		} `json:"delta"`
		Logprobs     json.RawMessage `json:"logprobs"`
		FinishReason *string         `json:"finish_reason"`
	} `json:"choices"`
	Usage *usageJSON `json:"usage"`
}

type textCompletion struct {
	ID                string `json:"id"`
	Object            string `json:"object"`
	Created           int64  `json:"created"`
	Model             string `json:"model"`
	SystemFingerprint string `json:"system_fingerprint"`
	Choices           []struct {
		Text         string          `json:"text"`
		Index        int             `json:"index"`
		Logprobs     json.RawMessage `json:"logprobs"`
		FinishReason *string         `json:"finish_reason"`
	} `json:"choices"`
	Usage *usageJSON `json:"usage"`
}

type embeddingList struct {
	Object string `json:"object"`
	Data   []struct {
		Object    string          `json:"object"`
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Model string    `json:"model"`
	Usage usageJSON `json:"usage"`
}

type errorJSON struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// decodeStrict decodes data into v, rejecting unknown fields and trailing
// data.
func decodeStrict(t testing.TB, data []byte, v any) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, data)
	}
	if d.More() {
		t.Fatalf("trailing data after %T:\n%s", v, data)
	}
}

func newProvider(t testing.TB, o Options) *Provider {
	t.Helper()
	p, err := New("mock", o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// call sends body to ep in-process and reads the whole answer.
func call(t testing.TB, p *Provider, ep providers.Endpoint, body string) ([]byte, error) {
	t.Helper()
	resp, err := p.Do(context.Background(), &providers.Request{Endpoint: ep, Body: []byte(body), Stream: strings.Contains(body, `"stream":true`)})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.Status != 200 {
		t.Fatalf("status %d", resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// mustCall is call that fails the test on error.
func mustCall(t testing.TB, p *Provider, ep providers.Endpoint, body string) []byte {
	t.Helper()
	b, err := call(t, p, ep, body)
	if err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return b
}

// events splits a stream into its events' data, checking it ends with
// [DONE] and nothing after.
func events(t testing.TB, stream []byte) [][]byte {
	t.Helper()
	r := sse.NewReader(bytes.NewReader(stream))
	var out [][]byte
	done := false
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("stream: %v\n%s", err, stream)
		}
		if done {
			t.Fatalf("event after [DONE]: %s", ev.Data)
		}
		if bytes.Equal(ev.Data, sse.Done) {
			done = true
			continue
		}
		out = append(out, bytes.Clone(ev.Data))
	}
	if !done {
		t.Fatalf("stream does not end with [DONE]:\n%s", stream)
	}
	return out
}

// chatStream is a streamed chat answer put back together.
type chatStream struct {
	chunks  []chatChunk
	content map[int]string // by choice index
	finish  map[int]string
	args    map[int]string
	roles   map[int]string
	usage   *usageJSON
}

func parseChatStream(t testing.TB, stream []byte) chatStream {
	t.Helper()
	cs := chatStream{content: map[int]string{}, finish: map[int]string{}, args: map[int]string{}, roles: map[int]string{}}
	for _, data := range events(t, stream) {
		var c chatChunk
		decodeStrict(t, data, &c)
		if c.Object != "chat.completion.chunk" {
			t.Fatalf("object %q", c.Object)
		}
		if c.Usage != nil {
			if len(c.Choices) != 0 {
				t.Fatalf("usage chunk with choices: %s", data)
			}
			cs.usage = c.Usage
		}
		for _, ch := range c.Choices {
			if ch.Delta.Role != "" {
				cs.roles[ch.Index] = ch.Delta.Role
			}
			if ch.Delta.Content != nil {
				cs.content[ch.Index] += *ch.Delta.Content
			}
			for _, tc := range ch.Delta.ToolCalls {
				cs.args[ch.Index] += tc.Function.Arguments
			}
			if ch.FinishReason != nil {
				if _, dup := cs.finish[ch.Index]; dup {
					t.Fatalf("two finish reasons for choice %d", ch.Index)
				}
				cs.finish[ch.Index] = *ch.FinishReason
			}
		}
		cs.chunks = append(cs.chunks, c)
	}
	return cs
}

const userHello = `{"model":"gpt-test","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello there, who are you?"}]`

// chatBody is a chat request with extra top-level fields.
func chatBody(extra string) string {
	if extra == "" {
		return userHello + "}"
	}
	return userHello + "," + extra + "}"
}
