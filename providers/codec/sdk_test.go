package codec

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	anthropic "github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/tidwall/gjson"
)

var answerFixtures = []string{"answer_text", "answer_tools", "answer_length", "answer_refusal", "answer_stop_sequence"}

// TestSDKDecodesAnswers unmarshals the translated answers into the
// official SDKs' types and checks the fields through them.
func TestSDKDecodesAnswers(t *testing.T) {
	rr, _ := ParseResponses([]byte(`{"model":"gpt-4.1","input":"hi"}`))
	mr, _ := ParseMessages([]byte(`{"model":"claude","max_tokens":100,"stop_sequences":["END"],"messages":[{"role":"user","content":"hi"}]}`))
	for _, name := range answerFixtures {
		t.Run(name, func(t *testing.T) {
			chat := fixture(t, "chat/"+name+".json")
			b, err := rr.Response(chat, AnswerOptions{ID: "resp_sdk"})
			if err != nil {
				t.Fatal(err)
			}
			var resp responses.Response
			if err := json.Unmarshal(b, &resp); err != nil {
				t.Fatal(err)
			}
			checkSDKResponse(t, &resp, chat)

			b, err = mr.Message(chat, AnswerOptions{ID: "msg_sdk"})
			if err != nil {
				t.Fatal(err)
			}
			var msg anthropic.Message
			if err := json.Unmarshal(b, &msg); err != nil {
				t.Fatal(err)
			}
			checkSDKMessage(t, &msg, chat)
		})
	}
}

// checkSDKResponse checks a Response decoded by openai-go against the chat
// answer it came from.
func checkSDKResponse(t *testing.T, r *responses.Response, chat []byte) {
	t.Helper()
	for name, f := range map[string]interface{ Valid() bool }{
		"id": r.JSON.ID, "created_at": r.JSON.CreatedAt, "model": r.JSON.Model, "object": r.JSON.Object,
		"output": r.JSON.Output, "status": r.JSON.Status, "parallel_tool_calls": r.JSON.ParallelToolCalls,
		"tool_choice": r.JSON.ToolChoice, "tools": r.JSON.Tools, "usage": r.JSON.Usage, "text": r.JSON.Text,
		"temperature": r.JSON.Temperature, "top_p": r.JSON.TopP, "metadata": r.JSON.Metadata,
	} {
		if !f.Valid() {
			t.Errorf("openai-go: Response.%s is not valid", name)
		}
	}
	c := gjson.ParseBytes(chat)
	msg := c.Get("choices.0.message")
	if got, want := r.OutputText(), msg.Get("content").Str; got != want {
		t.Errorf("OutputText %q, want %q", got, want)
	}
	calls := msg.Get("tool_calls").Array()
	n := 0
	for _, item := range r.Output {
		switch v := item.AsAny().(type) {
		case responses.ResponseOutputMessage:
			if v.Role != "assistant" || !v.JSON.ID.Valid() || !v.JSON.Status.Valid() {
				t.Errorf("message item %+v", v)
			}
			for _, part := range v.Content {
				switch p := part.AsAny().(type) {
				case responses.ResponseOutputText:
					if !p.JSON.Annotations.Valid() || p.Text != msg.Get("content").Str {
						t.Errorf("output_text %q", p.Text)
					}
				case responses.ResponseOutputRefusal:
					if p.Refusal != msg.Get("refusal").Str {
						t.Errorf("refusal %q", p.Refusal)
					}
				default:
					t.Errorf("content part %T", p)
				}
			}
		case responses.ResponseFunctionToolCall:
			if n >= len(calls) || v.CallID != calls[n].Get("id").Str || v.Name != calls[n].Get("function.name").Str ||
				v.Arguments != calls[n].Get("function.arguments").Str || !v.JSON.ID.Valid() {
				t.Errorf("function_call %d: %+v", n, v)
			}
			n++
		default:
			t.Errorf("output item %T", v)
		}
	}
	if n != len(calls) {
		t.Errorf("%d function calls, want %d", n, len(calls))
	}
	u := c.Get("usage")
	if r.Usage.InputTokens != u.Get("prompt_tokens").Int() || r.Usage.OutputTokens != u.Get("completion_tokens").Int() ||
		r.Usage.TotalTokens != u.Get("total_tokens").Int() || r.Usage.InputTokensDetails.CachedTokens != u.Get("prompt_tokens_details.cached_tokens").Int() ||
		r.Usage.OutputTokensDetails.ReasoningTokens != u.Get("completion_tokens_details.reasoning_tokens").Int() {
		t.Errorf("usage %+v vs %s", r.Usage, u.Raw)
	}
	if c.Get("choices.0.finish_reason").Str == "length" {
		if r.Status != responses.ResponseStatusIncomplete || r.IncompleteDetails.Reason != "max_output_tokens" {
			t.Errorf("status %s, incomplete %+v", r.Status, r.IncompleteDetails)
		}
	} else if r.Status != responses.ResponseStatusCompleted {
		t.Errorf("status %s", r.Status)
	}
}

func checkSDKMessage(t *testing.T, m *anthropic.Message, chat []byte) {
	t.Helper()
	for name, f := range map[string]interface{ Valid() bool }{
		"id": m.JSON.ID, "content": m.JSON.Content, "model": m.JSON.Model, "role": m.JSON.Role,
		"stop_reason": m.JSON.StopReason, "type": m.JSON.Type, "usage": m.JSON.Usage,
	} {
		if !f.Valid() {
			t.Errorf("anthropic-sdk-go: Message.%s is not valid", name)
		}
	}
	c := gjson.ParseBytes(chat)
	msg := c.Get("choices.0.message")
	calls := msg.Get("tool_calls").Array()
	n := 0
	for _, block := range m.Content {
		switch b := block.AsAny().(type) {
		case anthropic.TextBlock:
			if want := msg.Get("content").Str + msg.Get("refusal").Str; b.Text != want {
				t.Errorf("text %q, want %q", b.Text, want)
			}
		case anthropic.ToolUseBlock:
			if n >= len(calls) || b.ID != calls[n].Get("id").Str || b.Name != calls[n].Get("function.name").Str ||
				!sameJSON(t, b.Input, []byte(calls[n].Get("function.arguments").Str)) {
				t.Errorf("tool_use %d: %+v", n, b)
			}
			n++
		default:
			t.Errorf("block %T", b)
		}
	}
	if n != len(calls) {
		t.Errorf("%d tool_use blocks, want %d", n, len(calls))
	}
	want := map[string]anthropic.StopReason{"stop": anthropic.StopReasonEndTurn, "length": anthropic.StopReasonMaxTokens, "tool_calls": anthropic.StopReasonToolUse}[c.Get("choices.0.finish_reason").Str]
	if msg.Get("refusal").Str != "" {
		want = anthropic.StopReasonRefusal
	}
	if c.Get("choices.0.stop_reason").Str == "END" {
		want = anthropic.StopReasonStopSequence
		if m.StopSequence != "END" {
			t.Errorf("stop_sequence %q", m.StopSequence)
		}
	}
	if m.StopReason != want {
		t.Errorf("stop_reason %s, want %s", m.StopReason, want)
	}
	u := c.Get("usage")
	cached := u.Get("prompt_tokens_details.cached_tokens").Int()
	if m.Usage.InputTokens+m.Usage.CacheReadInputTokens != u.Get("prompt_tokens").Int() || m.Usage.CacheReadInputTokens != cached ||
		m.Usage.OutputTokens != u.Get("completion_tokens").Int() {
		t.Errorf("usage %+v vs %s", m.Usage, u.Raw)
	}
}

// fakeGateway serves /v1/responses and /v1/messages the way the gateway
// will: validate, translate to chat (the result is checked, then thrown
// away), and answer from a chat fixture named by the model: "answer_*"
// answers (JSON, or replayed as a stream), "live-stream_*" a chat chunk
// stream translated chunk by chunk.
func fakeGateway(t *testing.T) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var (
			model   string
			stream  bool
			toChat  func() ([]byte, error)
			answer  func([]byte) ([]byte, error)
			replay  func([]byte) ([]byte, error)
			live    func() feeder
			errBody func(*Error) []byte
		)
		switch req.URL.Path {
		case "/v1/responses":
			r, err := ParseResponses(body)
			if err != nil {
				http.Error(w, string(asError(t, err).OpenAIBody()), 400)
				return
			}
			model, stream, toChat = r.Model, r.Stream, r.ToChat
			answer = func(c []byte) ([]byte, error) { return r.Response(c, AnswerOptions{ID: "resp_e2e"}) }
			replay = func(c []byte) ([]byte, error) { return r.Replay(c, AnswerOptions{ID: "resp_e2e"}) }
			live = func() feeder { return r.NewStream(AnswerOptions{ID: "resp_e2e"}) }
			errBody = (*Error).OpenAIBody
		case "/v1/messages":
			r, err := ParseMessages(body)
			if err != nil {
				http.Error(w, string(asError(t, err).AnthropicBody()), 400)
				return
			}
			model, stream = r.Model, r.Stream
			toChat = func() ([]byte, error) { return r.ToChat(MessagesOptions{}) }
			answer = func(c []byte) ([]byte, error) { return r.Message(c, AnswerOptions{ID: "msg_e2e"}) }
			replay = func(c []byte) ([]byte, error) { return r.Replay(c, AnswerOptions{ID: "msg_e2e"}) }
			live = func() feeder { return r.NewStream(AnswerOptions{ID: "msg_e2e"}) }
			errBody = (*Error).AnthropicBody
		default:
			http.NotFound(w, req)
			return
		}
		chat, err := toChat()
		if err != nil {
			http.Error(w, string(errBody(asError(t, err))), 400)
			return
		}
		if !gjson.ValidBytes(chat) || gjson.GetBytes(chat, "stream").Bool() != stream {
			t.Errorf("chat request %s", chat)
		}
		if name, ok := strings.CutPrefix(model, "live-"); ok {
			w.Header().Set("Content-Type", "text/event-stream")
			s := live()
			for _, c := range chunks(t, "chat/"+name+".sse") {
				out, _ := s.Feed(c)
				_, _ = w.Write(out)
				w.(http.Flusher).Flush()
			}
			return
		}
		fix := fixture(t, "chat/"+model+".json")
		if stream {
			out, err := replay(fix)
			if err != nil {
				t.Error(err)
			}
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write(out)
			return
		}
		out, err := answer(fix)
		if err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(out)
	}))
}

// TestOpenAISDKResponses drives the Responses API through openai-go:
// requests built by the SDK are accepted and translated, answers and
// streams decode into its types, and a stream's completed response equals
// the JSON answer.
func TestOpenAISDKResponses(t *testing.T) {
	srv := fakeGateway(t)
	defer srv.Close()
	client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	ctx := context.Background()
	params := func(model string) responses.ResponseNewParams {
		return responses.ResponseNewParams{
			Model:           model,
			Instructions:    openai.String("Be brief."),
			Input:           responses.ResponseNewParamsInputUnion{OfString: openai.String("What's the weather in Boston and Paris?")},
			MaxOutputTokens: openai.Int(200),
			Temperature:     openai.Float(0.3),
			Tools: []responses.ToolUnionParam{{OfFunction: &responses.FunctionToolParam{
				Name:        "get_current_weather",
				Description: openai.String("Current weather"),
				Parameters:  map[string]any{"type": "object", "properties": map[string]any{"location": map[string]any{"type": "string"}}},
			}}},
		}
	}
	for _, name := range answerFixtures {
		t.Run(name, func(t *testing.T) {
			resp, err := client.Responses.New(ctx, params(name))
			if err != nil {
				t.Fatal(err)
			}
			checkSDKResponse(t, resp, fixture(t, "chat/"+name+".json"))

			stream := client.Responses.NewStreaming(ctx, params(name))
			completed := sdkStream(t, stream)
			if completed == nil {
				t.Fatal("no terminal response")
			}
			checkSDKResponse(t, completed, fixture(t, "chat/"+name+".json"))
			if !sameJSON(t, []byte(completed.RawJSON()), []byte(resp.RawJSON())) {
				t.Errorf("streamed response differs:\n%s\n%s", completed.RawJSON(), resp.RawJSON())
			}
		})
	}
	for _, name := range []string{"stream_text", "stream_tools", "stream_length"} {
		t.Run("live "+name, func(t *testing.T) {
			completed := sdkStream(t, client.Responses.NewStreaming(ctx, params("live-"+name)))
			if completed == nil || completed.ID != "resp_e2e" {
				t.Fatalf("terminal response %+v", completed)
			}
		})
	}
	// A refused request comes back as the SDK's API error, with the param.
	_, err := client.Responses.New(ctx, responses.ResponseNewParams{Model: "answer_text", Background: openai.Bool(true),
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("x")}})
	var apiErr *openai.Error
	if !asAs(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "background" || apiErr.Code != "unsupported_parameter" {
		t.Errorf("refusal: %v", err)
	}
}

type openaiStream interface {
	Next() bool
	Current() responses.ResponseStreamEventUnion
	Err() error
}

// sdkStream reads a Responses stream with openai-go, checking each event's
// typed variant and rebuilding the text, and returns the terminal
// response.
func sdkStream(t *testing.T, stream openaiStream) *responses.Response {
	t.Helper()
	var text, args strings.Builder
	var final *responses.Response
	var acc responses.ResponseAccumulator
	seq := int64(0)
	for stream.Next() {
		ev := stream.Current()
		// openai-go's accumulator takes the same events in their
		// server-event form.
		var se responses.ResponsesServerEventUnion
		if err := json.Unmarshal([]byte(ev.RawJSON()), &se); err != nil {
			t.Fatal(err)
		}
		if err := acc.AddEvent(se); err != nil {
			t.Fatalf("ResponseAccumulator: %s: %v", ev.Type, err)
		}
		if ev.SequenceNumber != seq {
			t.Errorf("sequence_number %d, want %d", ev.SequenceNumber, seq)
		}
		seq++
		switch v := ev.AsAny().(type) {
		case responses.ResponseCreatedEvent, responses.ResponseInProgressEvent, responses.ResponseOutputItemAddedEvent,
			responses.ResponseContentPartAddedEvent, responses.ResponseContentPartDoneEvent, responses.ResponseOutputItemDoneEvent,
			responses.ResponseRefusalDeltaEvent, responses.ResponseRefusalDoneEvent:
		case responses.ResponseTextDeltaEvent:
			text.WriteString(v.Delta)
		case responses.ResponseTextDoneEvent:
			if v.Text != text.String() {
				t.Errorf("text done %q, deltas %q", v.Text, text.String())
			}
		case responses.ResponseFunctionCallArgumentsDeltaEvent:
			args.WriteString(v.Delta)
		case responses.ResponseFunctionCallArgumentsDoneEvent:
			if args.Len() > 0 && v.Arguments != args.String() {
				t.Errorf("arguments done %q, deltas %q", v.Arguments, args.String())
			}
			args.Reset()
		case responses.ResponseCompletedEvent:
			final = &v.Response
		case responses.ResponseIncompleteEvent:
			final = &v.Response
		default:
			t.Errorf("unexpected event %q (%T)", ev.Type, v)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if final != nil && final.OutputText() != text.String() {
		t.Errorf("OutputText %q, deltas %q", final.OutputText(), text.String())
	}
	if final != nil {
		snap := acc.Snapshot()
		if snap.ResponseID != final.ID || snap.OutputText() != text.String() || len(snap.Output) != len(final.Output) {
			t.Errorf("accumulator snapshot %+v", snap)
		}
		for i, o := range snap.Output {
			if o.Type == "function_call" && (o.CallID != final.Output[i].CallID || o.Arguments != final.Output[i].AsFunctionCall().Arguments) {
				t.Errorf("accumulated call %+v vs %+v", o, final.Output[i])
			}
		}
		rebuilt, err := acc.ReconstructedResponse()
		if err != nil {
			t.Fatal(err)
		}
		if !sameJSON(t, []byte(rebuilt.RawJSON()), []byte(final.RawJSON())) {
			t.Errorf("reconstructed response differs")
		}
	}
	return final
}

// TestAnthropicSDKMessages drives the Messages API through
// anthropic-sdk-go: SDK requests are accepted, answers decode, and the
// SDK's accumulator turns each stream into the JSON answer.
func TestAnthropicSDKMessages(t *testing.T) {
	srv := fakeGateway(t)
	defer srv.Close()
	client := anthropic.NewClient(aoption.WithBaseURL(srv.URL), aoption.WithAPIKey("sk-ant-test"), aoption.WithMaxRetries(0))
	ctx := context.Background()
	params := func(model string) anthropic.MessageNewParams {
		return anthropic.MessageNewParams{
			Model:         anthropic.Model(model),
			MaxTokens:     1024,
			System:        []anthropic.TextBlockParam{{Text: "Be brief."}},
			StopSequences: []string{"END"},
			Messages: []anthropic.MessageParam{
				anthropic.NewUserMessage(anthropic.NewTextBlock("What's the weather?")),
				anthropic.NewAssistantMessage(anthropic.NewToolUseBlock("toolu_1", map[string]any{"location": "Boston"}, "get_current_weather")),
				anthropic.NewUserMessage(anthropic.NewToolResultBlock("toolu_1", "18C", false), anthropic.NewTextBlock("And Paris?")),
			},
			Tools: []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{
				Name:        "get_current_weather",
				Description: anthropic.String("Current weather"),
				InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"location": map[string]any{"type": "string"}}},
			}}},
			ToolChoice: anthropic.ToolChoiceUnionParam{OfAuto: &anthropic.ToolChoiceAutoParam{}},
		}
	}
	for _, name := range answerFixtures {
		t.Run(name, func(t *testing.T) {
			msg, err := client.Messages.New(ctx, params(name))
			if err != nil {
				t.Fatal(err)
			}
			checkSDKMessage(t, msg, fixture(t, "chat/"+name+".json"))

			acc := sdkMessageStream(t, client, params(name))
			checkSDKMessage(t, acc, fixture(t, "chat/"+name+".json"))
			got, _ := json.Marshal(acc)
			want, _ := json.Marshal(msg)
			if !sameJSON(t, got, want) {
				t.Errorf("accumulated stream differs:\n%s\n%s", got, want)
			}
		})
	}
	for _, name := range []string{"stream_text", "stream_tools", "stream_length"} {
		t.Run("live "+name, func(t *testing.T) {
			acc := sdkMessageStream(t, client, params("live-"+name))
			if acc.ID != "msg_e2e" || acc.StopReason == "" {
				t.Errorf("accumulated %+v", acc)
			}
		})
	}
	// A live stream ending in an upstream error surfaces as the SDK's error.
	stream := client.Messages.NewStreaming(ctx, params("live-stream_error"))
	for stream.Next() {
	}
	if err := stream.Err(); err == nil || !strings.Contains(err.Error(), "api_error") {
		t.Errorf("stream error: %v", err)
	}
	// A request chat cannot express is refused in Anthropic's error shape.
	_, err := client.Messages.New(ctx, params("answer_text"), aoption.WithJSONSet("top_k", 5))
	var apiErr *anthropic.Error
	if !asAs(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(apiErr.Error(), "top_k") {
		t.Errorf("refusal: %v", err)
	}
}

func sdkMessageStream(t *testing.T, client anthropic.Client, p anthropic.MessageNewParams) *anthropic.Message {
	t.Helper()
	stream := client.Messages.NewStreaming(context.Background(), p)
	acc := &anthropic.Message{}
	for stream.Next() {
		ev := stream.Current()
		switch ev.AsAny().(type) {
		case anthropic.MessageStartEvent, anthropic.ContentBlockStartEvent, anthropic.ContentBlockDeltaEvent,
			anthropic.ContentBlockStopEvent, anthropic.MessageDeltaEvent, anthropic.MessageStopEvent:
		default:
			t.Errorf("unexpected event %q", ev.Type)
		}
		if err := acc.Accumulate(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	// The accumulator updates fields in place; decode its JSON afresh so
	// the field metadata describes the final message.
	b, err := json.Marshal(acc)
	if err != nil {
		t.Fatal(err)
	}
	var m anthropic.Message
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}
