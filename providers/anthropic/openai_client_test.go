package anthropic

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/tidwall/gjson"

	"github.com/semgate/semgate/providers"
)

// gateway serves OpenAI's API from p, the way semgate's gateway does, so
// the official OpenAI client can check the translated wire format.
func gateway(t *testing.T, p providers.Provider) *openai.Client {
	t.Helper()
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ep := providers.EndpointChat
		if r.URL.Path == "/v1/completions" {
			ep = providers.EndpointCompletions
		}
		resp, err := p.Do(r.Context(), &providers.Request{
			Endpoint: ep,
			Model:    gjson.GetBytes(body, "model").Str,
			Body:     body,
			Stream:   gjson.GetBytes(body, "stream").Bool(),
		})
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.Status)
		buf := make([]byte, 512)
		for {
			n, err := resp.Body.Read(buf)
			w.Write(buf[:n])
			w.(http.Flusher).Flush()
			if err != nil {
				return // a translation error truncates the stream, as the gateway would
			}
		}
	}))
	t.Cleanup(gw.Close)
	c := openai.NewClient(option.WithBaseURL(gw.URL+"/v1/"), option.WithAPIKey("client-key"), option.WithMaxRetries(0))
	return &c
}

func TestOpenAIClientChat(t *testing.T) {
	up := newUpstream(t, serveFixture(t, "chat_tool_use.json", "application/json"))
	client := gateway(t, newTestProvider(t, Options{HTTPOptions: providers.HTTPOptions{BaseURL: up.URL}}))
	c, err := client.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "claude-sonnet-4-5",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in SF?")},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := c.Choices[0].Message
	if c.Object != "chat.completion" || c.Model != "claude-sonnet-4-5" || c.Choices[0].FinishReason != "tool_calls" ||
		m.Content != "I'll check the current weather in San Francisco for you." || len(m.ToolCalls) != 2 {
		t.Fatalf("completion: %+v", c)
	}
	if tc := m.ToolCalls[0]; tc.ID != "toolu_01A09q90qw90lq917835lq9" || tc.Function.Name != "get_weather" ||
		tc.Function.Arguments != `{"location":"San Francisco, CA","unit":"celsius"}` {
		t.Errorf("tool call 0: %+v", tc)
	}
	if c.Usage.PromptTokens != 1684 || c.Usage.CompletionTokens != 92 || c.Usage.PromptTokensDetails.CachedTokens != 1200 {
		t.Errorf("usage: %+v", c.Usage)
	}
}

func TestOpenAIClientStream(t *testing.T) {
	up := newUpstream(t, serveEvents(t, "stream_tool_use.sse"))
	client := gateway(t, newTestProvider(t, Options{HTTPOptions: providers.HTTPOptions{BaseURL: up.URL}}))
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:         "claude-sonnet-4-5",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Weather in SF?")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var acc openai.ChatCompletionAccumulator
	var finished []string
	for stream.Next() {
		if !acc.AddChunk(stream.Current()) {
			t.Fatalf("accumulator rejected chunk %s", stream.Current().RawJSON())
		}
		if tc, ok := acc.JustFinishedToolCall(); ok {
			finished = append(finished, tc.Name+tc.Arguments)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(acc.Choices) != 1 {
		t.Fatalf("%d choices", len(acc.Choices))
	}
	ch := acc.Choices[0]
	if ch.Message.Content != "Okay, let's check the weather." || ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 2 {
		t.Fatalf("accumulated: %+v", ch)
	}
	if got := ch.Message.ToolCalls[0].Function.Arguments; got != `{"location": "San Francisco, CA", "unit": "fahrenheit"}` {
		t.Errorf("arguments %q", got)
	}
	if got := ch.Message.ToolCalls[1]; got.ID != "toolu_01QnFpJmZTv8m3xV2ydYxKwP" || got.Function.Name != "get_time" || got.Function.Arguments != "{}" {
		t.Errorf("tool call 1: %+v", got)
	}
	if len(finished) == 0 || finished[0] != `get_weather{"location": "San Francisco, CA", "unit": "fahrenheit"}` {
		t.Errorf("JustFinishedToolCall saw %q", finished)
	}
	if acc.Usage.TotalTokens != 561 {
		t.Errorf("usage %+v", acc.Usage)
	}
}

func TestOpenAIClientStreamError(t *testing.T) {
	up := newUpstream(t, serveEvents(t, "stream_error.sse"))
	client := gateway(t, newTestProvider(t, Options{HTTPOptions: providers.HTTPOptions{BaseURL: up.URL}}))
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:    "claude-sonnet-4-5",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Tell me a story")},
	})
	var content bytes.Buffer
	sawFinish := false
	for stream.Next() {
		for _, c := range stream.Current().Choices {
			content.WriteString(c.Delta.Content)
			sawFinish = sawFinish || c.FinishReason != ""
		}
	}
	// The stream stops short: no finish_reason, and the client sees it end
	// without [DONE].
	if sawFinish || content.String() != "Once upon a time" {
		t.Errorf("finish %v content %q", sawFinish, content.String())
	}
}

func TestOpenAIClientCompletion(t *testing.T) {
	up := newUpstream(t, serveFixture(t, "chat_text.json", "application/json"))
	client := gateway(t, newTestProvider(t, Options{HTTPOptions: providers.HTTPOptions{BaseURL: up.URL}}))
	c, err := client.Completions.New(context.Background(), openai.CompletionNewParams{
		Model:  "claude-sonnet-4-5",
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("Capital of France?")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Object != "text_completion" || len(c.Choices) != 1 || c.Choices[0].FinishReason != "stop" || c.Usage.TotalTokens != 59 {
		t.Fatalf("completion: %+v", c)
	}
	if _, _, _, body := up.received(); gjson.GetBytes(body, "messages.0.content.0.text").Str != "Capital of France?" {
		t.Errorf("upstream body %s", body)
	}
}
