package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// messageResponse is the part of Anthropic's Message object semgate uses.
type messageResponse struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Role       string          `json:"role"`
	Content    []responseBlock `json:"content"`
	StopReason *string         `json:"stop_reason"`
	Usage      usage           `json:"usage"`
}

type responseBlock struct {
	Type  string          `json:"type"`
	Text  string          `json:"text"`
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

// usage holds Anthropic's token counts.
type usage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
}

// OpenAI shapes, in output order.

type chatCompletion struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   openAIUsage  `json:"usage"`
}

type chatChoice struct {
	Index        int             `json:"index"`
	Message      assistantOutput `json:"message"`
	Logprobs     *struct{}       `json:"logprobs"`
	FinishReason string          `json:"finish_reason"`
}

type assistantOutput struct {
	Role      string        `json:"role"`
	Content   *string       `json:"content"`
	Refusal   *string       `json:"refusal"`
	ToolCalls []toolCallOut `json:"tool_calls,omitempty"`
}

type toolCallOut struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type openAIUsage struct {
	PromptTokens        int64          `json:"prompt_tokens"`
	CompletionTokens    int64          `json:"completion_tokens"`
	TotalTokens         int64          `json:"total_tokens"`
	PromptTokensDetails *promptDetails `json:"prompt_tokens_details,omitempty"`
}

type promptDetails struct {
	CachedTokens int64 `json:"cached_tokens"`
}

type textCompletion struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []textChoice `json:"choices"`
	Usage   openAIUsage  `json:"usage"`
}

type textChoice struct {
	Text         string    `json:"text"`
	Index        int       `json:"index"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason string    `json:"finish_reason"`
}

// openAI converts Anthropic usage: cached and cache-writing input tokens
// are prompt tokens too.
func (u usage) openAI(details bool) openAIUsage {
	prompt := u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens
	o := openAIUsage{
		PromptTokens:     prompt,
		CompletionTokens: u.OutputTokens,
		TotalTokens:      prompt + u.OutputTokens,
	}
	if details {
		o.PromptTokensDetails = &promptDetails{CachedTokens: u.CacheReadInputTokens}
	}
	return o
}

// finishReason maps Anthropic's stop_reason to OpenAI's finish_reason.
func finishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal":
		return "content_filter"
	}
	// end_turn, stop_sequence, pause_turn, none yet, or unknown.
	return "stop"
}

// decodeMessage parses a non-streamed Anthropic answer.
func decodeMessage(name string, status int, body []byte) (*messageResponse, error) {
	var m messageResponse
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, badResponse(name, status, "decoding message: %v", err)
	}
	if m.Type != "message" {
		return nil, badResponse(name, status, "expected a message object, got type %q", m.Type)
	}
	return &m, nil
}

// chatResponse translates an Anthropic message into a chat.completion.
func chatResponse(name string, status int, body []byte, model string, created int64) ([]byte, error) {
	m, err := decodeMessage(name, status, body)
	if err != nil {
		return nil, err
	}
	var text strings.Builder
	hasText := false
	var calls []toolCallOut
	for i := range m.Content {
		b := &m.Content[i]
		switch b.Type {
		case "text":
			text.WriteString(b.Text)
			hasText = true
		case "tool_use":
			if b.ID == "" || b.Name == "" {
				return nil, badResponse(name, status, "tool_use block %d lacks an id or name", i)
			}
			args, err := compactObject(b.Input)
			if err != nil {
				return nil, badResponse(name, status, "tool_use block %d: %v", i, err)
			}
			c := toolCallOut{ID: b.ID, Type: "function"}
			c.Function.Name = b.Name
			c.Function.Arguments = args
			calls = append(calls, c)
		}
		// thinking, redacted_thinking and server tool blocks have no
		// OpenAI equivalent and are dropped.
	}
	msg := assistantOutput{Role: "assistant", ToolCalls: calls}
	if hasText {
		s := text.String()
		msg.Content = &s
	}
	stop := ""
	if m.StopReason != nil {
		stop = *m.StopReason
	}
	return marshal(chatCompletion{
		ID:      m.ID,
		Object:  "chat.completion",
		Created: created,
		Model:   model,
		Choices: []chatChoice{{Index: 0, Message: msg, FinishReason: finishReason(stop)}},
		Usage:   m.Usage.openAI(true),
	})
}

// completionResponse translates an Anthropic message into a legacy
// text_completion.
func completionResponse(name string, status int, body []byte, model string, created int64) ([]byte, error) {
	m, err := decodeMessage(name, status, body)
	if err != nil {
		return nil, err
	}
	var text strings.Builder
	for i := range m.Content {
		if m.Content[i].Type == "text" {
			text.WriteString(m.Content[i].Text)
		}
	}
	stop := ""
	if m.StopReason != nil {
		stop = *m.StopReason
	}
	fr := finishReason(stop)
	if fr == "tool_calls" {
		fr = "stop" // text_completion has no tool calls
	}
	return marshal(textCompletion{
		ID:      m.ID,
		Object:  "text_completion",
		Created: created,
		Model:   model,
		Choices: []textChoice{{Text: text.String(), Index: 0, FinishReason: fr}},
		Usage:   m.Usage.openAI(false),
	})
}

// compactObject renders a tool_use input as OpenAI's arguments string.
// A missing input is an empty object.
func compactObject(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "{}", nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return "", err
	}
	if buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return "", errNotObject
	}
	return buf.String(), nil
}

var errNotObject = errors.New("input is not a JSON object")
