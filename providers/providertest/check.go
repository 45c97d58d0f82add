package providertest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/semgate/semgate/providers/sse"
)

// Usage is the token count of an answer.
type Usage struct {
	PromptTokens, CompletionTokens, TotalTokens int64
}

// Stream summarises an OpenAI chat stream that CheckChatStream accepted.
type Stream struct {
	// Chunks counts the chat.completion.chunk events before [DONE].
	Chunks int
	// Content concatenates every choices[].delta.content.
	Content string
	// FinishReason is the last non-null finish_reason.
	FinishReason string
	// Usage is the usage chunk's, nil when the stream had none.
	Usage *Usage
}

type wireUsage struct {
	PromptTokens     json.RawMessage `json:"prompt_tokens"`
	CompletionTokens json.RawMessage `json:"completion_tokens"`
	TotalTokens      json.RawMessage `json:"total_tokens"`
}

// check returns the counts, requiring each to be a JSON integer and the
// total to be their sum.
func (w *wireUsage) check() (*Usage, error) {
	var u Usage
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *int64
	}{
		{"prompt_tokens", w.PromptTokens, &u.PromptTokens},
		{"completion_tokens", w.CompletionTokens, &u.CompletionTokens},
		{"total_tokens", w.TotalTokens, &u.TotalTokens},
	} {
		n, err := strconv.ParseInt(string(f.raw), 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("usage.%s = %s, want a non-negative integer", f.name, f.raw)
		}
		*f.dst = n
	}
	if u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		return nil, fmt.Errorf("usage.total_tokens = %d, want prompt_tokens + completion_tokens = %d",
			u.TotalTokens, u.PromptTokens+u.CompletionTokens)
	}
	return &u, nil
}

// CheckChatCompletion reports whether body is a valid OpenAI chat.completion:
// one JSON object with "object":"chat.completion", a non-empty id,
// choices[0].message.role "assistant", a non-empty choices[0].finish_reason
// and integer usage counts whose total is their sum.
func CheckChatCompletion(body []byte) error {
	var c struct {
		ID      *string `json:"id"`
		Object  string  `json:"object"`
		Choices []struct {
			Message *struct {
				Role string `json:"role"`
			} `json:"message"`
			FinishReason *string `json:"finish_reason"`
		} `json:"choices"`
		Usage *wireUsage `json:"usage"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return fmt.Errorf("not a JSON chat.completion: %v: %.200q", err, body)
	}
	switch {
	case c.Object != "chat.completion":
		return fmt.Errorf(`object = %q, want "chat.completion"`, c.Object)
	case c.ID == nil || *c.ID == "":
		return errors.New("id is missing or empty")
	case len(c.Choices) == 0:
		return errors.New("choices is empty")
	case c.Choices[0].Message == nil || c.Choices[0].Message.Role != "assistant":
		return errors.New(`choices[0].message.role is not "assistant"`)
	case c.Choices[0].FinishReason == nil || *c.Choices[0].FinishReason == "":
		return errors.New("choices[0].finish_reason is missing")
	case c.Usage == nil:
		return errors.New("usage is missing")
	}
	_, err := c.Usage.check()
	return err
}

// CheckChatStream reads an OpenAI chat stream from r to its end and reports
// whether it is valid: unnamed server-sent events, each a JSON
// chat.completion.chunk with a non-empty id and a choices array, at least one
// of them, then "data: [DONE]", then the end of the stream. A usage chunk,
// if any, must hold integer counts whose total is their sum.
func CheckChatStream(r io.Reader) (Stream, error) {
	var s Stream
	var content bytes.Buffer
	sr := sse.NewReader(r)
	for {
		ev, err := sr.Next()
		if err != nil {
			return s, fmt.Errorf("after %d chunks: %w (want data: [DONE] before the end)", s.Chunks, err)
		}
		if len(ev.Name) != 0 {
			return s, fmt.Errorf("event %d is named %q; OpenAI streams use unnamed events", s.Chunks, ev.Name)
		}
		if bytes.Equal(ev.Data, sse.Done) {
			break
		}
		var c struct {
			ID      *string `json:"id"`
			Object  string  `json:"object"`
			Choices []struct {
				Delta *struct {
					Content *string `json:"content"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage *wireUsage `json:"usage"`
		}
		if err := json.Unmarshal(ev.Data, &c); err != nil {
			return s, fmt.Errorf("chunk %d is not JSON: %v: %.200q", s.Chunks, err, ev.Data)
		}
		switch {
		case c.Object != "chat.completion.chunk":
			return s, fmt.Errorf(`chunk %d: object = %q, want "chat.completion.chunk"`, s.Chunks, c.Object)
		case c.ID == nil || *c.ID == "":
			return s, fmt.Errorf("chunk %d: id is missing or empty", s.Chunks)
		case c.Choices == nil:
			return s, fmt.Errorf("chunk %d: choices is missing", s.Chunks)
		}
		for _, ch := range c.Choices {
			if ch.Delta != nil && ch.Delta.Content != nil {
				content.WriteString(*ch.Delta.Content)
			}
			if ch.FinishReason != nil && *ch.FinishReason != "" {
				s.FinishReason = *ch.FinishReason
			}
		}
		if c.Usage != nil {
			u, err := c.Usage.check()
			if err != nil {
				return s, fmt.Errorf("chunk %d: %w", s.Chunks, err)
			}
			s.Usage = u
		}
		s.Chunks++
	}
	s.Content = content.String()
	if s.Chunks == 0 {
		return s, errors.New("no chunk before data: [DONE]")
	}
	if _, err := sr.Next(); err != io.EOF {
		if err == nil {
			err = errors.New("another event")
		}
		return s, fmt.Errorf("after data: [DONE]: %w, want the end of the stream", err)
	}
	return s, nil
}
