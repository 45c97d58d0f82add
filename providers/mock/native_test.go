package mock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	anthropic "github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/semgate/semgate/providers"
	"github.com/tidwall/gjson"
)

// TestNativeMessagesSDK drives the Handler's /v1/messages and
// count_tokens with anthropic-sdk-go: create, stream, tools, errors.
func TestNativeMessagesSDK(t *testing.T) {
	_, srv := newServer(t, Options{})
	client := anthropic.NewClient(aoption.WithBaseURL(srv.URL), aoption.WithAPIKey("k"), aoption.WithMaxRetries(0))
	ctx := context.Background()
	p := anthropic.MessageNewParams{Model: "claude-test", MaxTokens: 200,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hello there."))}}
	m, err := client.Messages.New(ctx, p)
	if err != nil || m.Type != "message" || len(m.Content) != 1 || m.Content[0].Text == "" || m.StopReason != anthropic.StopReasonEndTurn || m.Usage.OutputTokens == 0 {
		t.Fatalf("%v %+v", err, m)
	}
	// The stream says what the JSON answer says.
	stream := client.Messages.NewStreaming(ctx, p)
	acc := anthropic.Message{}
	var startInput int64 = -1
	for stream.Next() {
		ev := stream.Current()
		if ev.Type == "message_start" {
			startInput = ev.Message.Usage.InputTokens
		}
		if err := acc.Accumulate(ev); err != nil {
			t.Fatal(err)
		}
	}
	if stream.Err() != nil || len(acc.Content) != 1 || acc.Content[0].Text != m.Content[0].Text {
		t.Fatalf("stream: %v %+v", stream.Err(), acc)
	}
	// message_start already reports the prompt's tokens, as Anthropic's does.
	if startInput != m.Usage.InputTokens || startInput <= 0 {
		t.Fatalf("message_start input_tokens %d, the answer's %d", startInput, m.Usage.InputTokens)
	}
	// Tools.
	tp := p
	tp.Tools = []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{Name: "lookup",
		InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"q": map[string]any{"type": "string"}}}}}}
	tp.ToolChoice = anthropic.ToolChoiceUnionParam{OfAny: &anthropic.ToolChoiceAnyParam{}}
	m, err = client.Messages.New(ctx, tp)
	if err != nil || m.StopReason != anthropic.StopReasonToolUse || m.Content[len(m.Content)-1].Type != "tool_use" {
		t.Fatalf("tools: %v %+v", err, m)
	}
	// count_tokens.
	n, err := client.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: "claude-test", Messages: p.Messages})
	if err != nil || n.InputTokens <= 0 {
		t.Fatalf("count_tokens: %v %+v", err, n)
	}
	// Errors, in Anthropic's shape: an injected 529, a bad request.
	var apiErr *anthropic.Error
	_, err = client.Messages.New(ctx, p, aoption.WithHeader("x-mock-fault", "529"))
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 529 || !strings.Contains(apiErr.RawJSON(), `"type":"overloaded_error"`) {
		t.Fatalf("529: %v", err)
	}
	_, err = client.Messages.New(ctx, p, aoption.WithJSONSet("max_tokens", "many"))
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(apiErr.RawJSON(), `"type":"invalid_request_error"`) {
		t.Fatalf("400: %v", err)
	}
}

// TestNativeResponsesSDK drives the Handler's /v1/responses with
// openai-go: create, stream, tools, errors.
func TestNativeResponsesSDK(t *testing.T) {
	_, srv := newServer(t, Options{})
	client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
	ctx := context.Background()
	p := responses.ResponseNewParams{Model: "gpt-test", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Hello there.")}}
	r, err := client.Responses.New(ctx, p)
	if err != nil || r.Status != "completed" || r.OutputText() == "" || r.Usage.OutputTokens == 0 {
		t.Fatalf("%v %+v", err, r)
	}
	stream := client.Responses.NewStreaming(ctx, p)
	var final string
	for stream.Next() {
		if ev := stream.Current(); ev.Type == "response.completed" {
			final = ev.Response.OutputText()
		}
	}
	if stream.Err() != nil || final != r.OutputText() {
		t.Fatalf("stream: %v %q", stream.Err(), final)
	}
	tp := p
	tp.Tools = []responses.ToolUnionParam{{OfFunction: &responses.FunctionToolParam{Name: "lookup", Parameters: map[string]any{"type": "object"}}}}
	tp.ToolChoice = responses.ResponseNewParamsToolChoiceUnion{OfToolChoiceMode: openai.Opt(responses.ToolChoiceOptionsRequired)}
	r, err = client.Responses.New(ctx, tp)
	if err != nil || len(r.Output) == 0 || r.Output[len(r.Output)-1].Type != "function_call" {
		t.Fatalf("tools: %v %+v", err, r)
	}
	var apiErr *openai.Error
	_, err = client.Responses.New(ctx, p, option.WithHeader("x-mock-fault", "503"))
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 {
		t.Fatalf("503: %v", err)
	}
}

// TestProviderDoNative: in process, the Raw writer gets the native
// answer, the Body its chat form, for JSON and streams.
func TestProviderDoNative(t *testing.T) {
	p, err := New("mock", Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		api  providers.API
		body string
		kind string // the native answer's discriminating field
	}{
		{providers.APIMessages, `{"model":"m","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`, `"type":"message"`},
		{providers.APIResponses, `{"model":"m","input":"hi"}`, `"object":"response"`},
	} {
		for _, stream := range []bool{false, true} {
			body := tc.body
			if stream {
				body = strings.Replace(body, `"model"`, `"stream":true,"model"`, 1)
			}
			var raw bytes.Buffer
			resp, err := p.DoNative(context.Background(), &providers.NativeRequest{API: tc.api, Model: "m", Body: []byte(body), Stream: stream, Raw: &raw})
			if err != nil {
				t.Fatal(err)
			}
			chat, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(raw.Bytes(), []byte(tc.kind)) {
				t.Fatalf("%s stream=%v: raw %s", tc.api, stream, raw.Bytes())
			}
			if stream {
				if !bytes.HasSuffix(chat, []byte("data: [DONE]\n\n")) || !bytes.Contains(chat, []byte("chat.completion.chunk")) {
					t.Fatalf("%s: chat %s", tc.api, chat)
				}
			} else if gjson.GetBytes(chat, "object").Str != "chat.completion" || !json.Valid(raw.Bytes()) {
				t.Fatalf("%s: chat %s raw %s", tc.api, chat, raw.Bytes())
			}
		}
	}
	if !p.Speaks(providers.APIMessages) || !p.Speaks(providers.APIResponses) {
		t.Fatal("the mock speaks both")
	}
}
