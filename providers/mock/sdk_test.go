package mock

import (
	"context"
	"errors"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// TestOpenAISDK drives the server with OpenAI's official Go SDK.
func TestOpenAISDK(t *testing.T) {
	_, srv := newServer(t, Options{})
	client := openai.NewClient(
		option.WithBaseURL(srv.URL+"/v1/"),
		option.WithAPIKey("sk-mock"),
		option.WithHTTPClient(srv.Client()),
		option.WithMaxRetries(0),
	)
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:    "gpt-test",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello there, who are you?")},
	}
	res, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Choices) != 1 || res.Choices[0].Message.Content == "" || res.Choices[0].FinishReason != "stop" ||
		res.Usage.TotalTokens != res.Usage.PromptTokens+res.Usage.CompletionTokens || res.Model != "gpt-test" {
		t.Fatalf("completion %+v", res)
	}

	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		if !acc.AddChunk(stream.Current()) {
			t.Fatal("chunk rejected by the accumulator")
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	stream.Close()
	if len(acc.Choices) != 1 || acc.Choices[0].Message.Content != res.Choices[0].Message.Content ||
		acc.Choices[0].FinishReason != "stop" || acc.Usage.TotalTokens != res.Usage.TotalTokens {
		t.Fatalf("accumulated %+v, want %q", acc.ChatCompletion, res.Choices[0].Message.Content)
	}

	emb, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "text-embedding-3-small",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(emb.Data) != 2 || len(emb.Data[0].Embedding) != DefaultDimensions {
		t.Fatalf("embeddings %+v", emb.Usage)
	}

	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{}
	_, err = client.Chat.Completions.New(ctx, params, option.WithHeader("x-mock-fault", "429"))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Code != "rate_limit_exceeded" {
		t.Fatalf("429: %v", err)
	}
}
