package gateway

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// TestOpenAISDKConformance drives the gateway with the official openai-go
// client, as a team pointing its unchanged SDK at semgate would.
func TestOpenAISDKConformance(t *testing.T) {
	ts := newTestServer(t, upstreamConfig(), nil)
	client := openai.NewClient(
		option.WithBaseURL(ts.URL+"/v1/"),
		option.WithAPIKey("sk-client-key"),
		option.WithMaxRetries(0),
	)
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model: "mock-small",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("You are terse."),
			openai.UserMessage("Name three colours."),
		},
	}

	t.Run("chat", func(t *testing.T) {
		var resp *http.Response
		c, err := client.Chat.Completions.New(ctx, params, option.WithResponseInto(&resp))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Choices) != 1 || c.Choices[0].Message.Content == "" || c.Choices[0].FinishReason == "" {
			t.Fatalf("%+v", c)
		}
		if c.Usage.TotalTokens != c.Usage.PromptTokens+c.Usage.CompletionTokens || c.Usage.PromptTokens == 0 {
			t.Fatalf("usage %+v", c.Usage)
		}
		if resp.Header.Get("X-Semgate-Provider") != "mock" || resp.Header.Get("X-Request-Id") == "" {
			t.Fatalf("headers %v", resp.Header)
		}
	})

	t.Run("streaming chat", func(t *testing.T) {
		p := params
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		stream := client.Chat.Completions.NewStreaming(ctx, p)
		acc := openai.ChatCompletionAccumulator{}
		chunks := 0
		for stream.Next() {
			acc.AddChunk(stream.Current())
			chunks++
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if chunks < 3 || acc.Choices[0].Message.Content == "" || acc.Usage.TotalTokens == 0 {
			t.Fatalf("chunks %d, accumulated %+v", chunks, acc.ChatCompletion)
		}
		// The streamed answer is the same text as the non-streamed one.
		c, err := client.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		if acc.Choices[0].Message.Content != c.Choices[0].Message.Content {
			t.Fatalf("stream %q != json %q", acc.Choices[0].Message.Content, c.Choices[0].Message.Content)
		}
	})

	t.Run("completions", func(t *testing.T) {
		c, err := client.Completions.New(ctx, openai.CompletionNewParams{
			Model:  "mock-small",
			Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon a time")},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Choices) == 0 || c.Choices[0].Text == "" {
			t.Fatalf("%+v", c)
		}
	})

	t.Run("embeddings float and base64", func(t *testing.T) {
		in := openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"alpha", "beta"}}
		f, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{Model: "mock-small", Input: in,
			EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat})
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Data) != 2 || len(f.Data[0].Embedding) == 0 {
			t.Fatalf("%+v", f)
		}
		// base64 through the raw client: the SDK type holds floats only.
		var raw json.RawMessage
		err = client.Post(ctx, "embeddings", map[string]any{"model": "mock-small", "input": []string{"alpha", "beta"},
			"encoding_format": "base64"}, &raw)
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Data []struct {
				Embedding string `json:"embedding"`
			} `json:"data"`
		}
		if err := json.Unmarshal(raw, &b); err != nil || len(b.Data) != 2 {
			t.Fatalf("%s %v", raw, err)
		}
		bytes, err := base64.StdEncoding.DecodeString(b.Data[0].Embedding)
		if err != nil || len(bytes) != 4*len(f.Data[0].Embedding) {
			t.Fatalf("base64 embedding: %d bytes, %v", len(bytes), err)
		}
		for i, want := range f.Data[0].Embedding {
			got := math.Float32frombits(binary.LittleEndian.Uint32(bytes[4*i:]))
			if math.Abs(float64(got)-want) > 1e-6 {
				t.Fatalf("dim %d: base64 %v, float %v", i, got, want)
			}
		}
	})

	t.Run("models", func(t *testing.T) {
		page, err := client.Models.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Data) != 1 || page.Data[0].ID != "mock-small" {
			t.Fatalf("%+v", page.Data)
		}
	})

	t.Run("errors are typed API errors", func(t *testing.T) {
		p := params
		p.Model = "no-such-model"
		_, err := client.Chat.Completions.New(ctx, p)
		var apierr *openai.Error
		if !errors.As(err, &apierr) || apierr.StatusCode != 404 || apierr.Code != "model_not_found" || !strings.Contains(apierr.Message, "mock-small") {
			t.Fatalf("err = %#v", err)
		}
		p = params
		p.Temperature = openai.Float(9)
		_, err = client.Chat.Completions.New(ctx, p)
		if !errors.As(err, &apierr) || apierr.StatusCode != 400 || apierr.Param != "temperature" {
			t.Fatalf("err = %v", err)
		}
		// A streamed request that fails before the first byte is an API
		// error too.
		p = params
		p.Model = "no-such-model"
		stream := client.Chat.Completions.NewStreaming(ctx, p)
		for stream.Next() {
		}
		if !errors.As(stream.Err(), &apierr) || apierr.StatusCode != 404 {
			t.Fatalf("stream err = %v", stream.Err())
		}
	})
}

// TestOpenAISDKReadsCachedAnswers: answers with logprobs, tool calls and
// reasoning fields, stored from one form and served from the cache in the
// other, read through openai-go as they would from the upstream.
func TestOpenAISDKReadsCachedAnswers(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"chat_logprobs", "chat_tools"} {
		_, url := fixtureUpstream(t, name)
		ts := newTestServer(t, cacheConfig(url, ""), nil)
		client := openai.NewClient(option.WithBaseURL(ts.URL+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
		params := openai.ChatCompletionNewParams{Model: "m", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Tell me " + name)}}
		var resp *http.Response
		miss, err := client.Chat.Completions.New(ctx, params, option.WithResponseInto(&resp))
		if err != nil || resp.Header.Get("X-Semgate-Cache") != "miss" {
			t.Fatalf("%s: miss: %v %s", name, err, resp.Header.Get("X-Semgate-Cache"))
		}
		// The same answer replayed as a stream, accumulated by the SDK.
		p := params
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		stream := client.Chat.Completions.NewStreaming(ctx, p, option.WithResponseInto(&resp))
		acc := openai.ChatCompletionAccumulator{}
		var logprobs []openai.ChatCompletionTokenLogprob
		for stream.Next() {
			c := stream.Current()
			acc.AddChunk(c)
			for _, ch := range c.Choices {
				logprobs = append(logprobs, ch.Logprobs.Content...)
			}
		}
		if err := stream.Err(); err != nil || resp.Header.Get("X-Semgate-Cache") != "hit-exact" {
			t.Fatalf("%s: stream hit: %v %s", name, err, resp.Header.Get("X-Semgate-Cache"))
		}
		got := acc.Choices[0].Message
		want := miss.Choices[0].Message
		if got.Content != want.Content || len(got.ToolCalls) != len(want.ToolCalls) || acc.Usage.TotalTokens != miss.Usage.TotalTokens {
			t.Fatalf("%s: streamed hit differs: %+v vs %+v", name, got, want)
		}
		for i := range want.ToolCalls {
			if got.ToolCalls[i].Function.Arguments != want.ToolCalls[i].Function.Arguments || got.ToolCalls[i].ID != want.ToolCalls[i].ID {
				t.Fatalf("%s: tool call %d differs", name, i)
			}
		}
		if name == "chat_logprobs" && len(logprobs) == 0 || name == "chat_tools" && len(want.ToolCalls) != 2 {
			t.Fatalf("%s: the fixture's distinctive fields did not come through", name)
		}
		if len(logprobs) != len(miss.Choices[0].Logprobs.Content) {
			t.Fatalf("%s: %d logprobs streamed, %d in the answer", name, len(logprobs), len(miss.Choices[0].Logprobs.Content))
		}
		for i := range logprobs {
			if logprobs[i].Token != miss.Choices[0].Logprobs.Content[i].Token || len(logprobs[i].TopLogprobs) != len(miss.Choices[0].Logprobs.Content[i].TopLogprobs) {
				t.Fatalf("%s: logprob %d differs", name, i)
			}
		}
	}
}
