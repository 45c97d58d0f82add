package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	anthropic "github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/semgate/semgate/gateway/auth"
)

func responsesClient(ts *testServer, key string) openai.Client {
	return openai.NewClient(option.WithBaseURL(ts.URL+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
}

func anthropicClient(ts *testServer, key string) anthropic.Client {
	return anthropic.NewClient(aoption.WithBaseURL(ts.URL), aoption.WithAPIKey(key), aoption.WithMaxRetries(0))
}

// readResponsesStream reads a Responses stream through openai-go, feeding
// its accumulator, and returns the terminal response and the accumulated
// one.
func readResponsesStream(t *testing.T, ctx context.Context, client openai.Client, p responses.ResponseNewParams, opts ...option.RequestOption) (final, rebuilt *responses.Response) {
	t.Helper()
	stream := client.Responses.NewStreaming(ctx, p, opts...)
	var acc responses.ResponseAccumulator
	var text strings.Builder
	for stream.Next() {
		ev := stream.Current()
		var se responses.ResponsesServerEventUnion
		if err := json.Unmarshal([]byte(ev.RawJSON()), &se); err != nil {
			t.Fatal(err)
		}
		if err := acc.AddEvent(se); err != nil {
			t.Fatalf("accumulator: %s: %v", ev.Type, err)
		}
		switch v := ev.AsAny().(type) {
		case responses.ResponseTextDeltaEvent:
			text.WriteString(v.Delta)
		case responses.ResponseCompletedEvent:
			final = &v.Response
		case responses.ResponseIncompleteEvent:
			final = &v.Response
		case responses.ResponseFailedEvent:
			t.Fatalf("failed: %s", v.RawJSON())
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if final == nil {
		t.Fatal("no terminal event")
	}
	if final.OutputText() != text.String() {
		t.Fatalf("OutputText %q, deltas %q", final.OutputText(), text.String())
	}
	rebuilt, err := acc.ReconstructedResponse()
	if err != nil {
		t.Fatal(err)
	}
	return final, rebuilt
}

// TestResponsesSDK drives POST /v1/responses (JSON and streamed, cache
// hits in both forms, tools, previous_response_id, GET and DELETE, errors)
// with openai-go against the mock.
func TestResponsesSDK(t *testing.T) {
	cfgs, chatMock := frontUpstreams(t)
	for name, cfg := range cfgs {
		t.Run(name, func(t *testing.T) { testResponsesSDK(t, cfg) })
	}
	if chatMock.calls.Load() == 0 {
		t.Fatal("the translated runs never reached the chat-only upstream")
	}
}

// frontUpstreams are the two ways a front reaches the mock: natively (the
// in-process mock speaks Responses and Messages, so the request passes
// through), and translated (the mock's HTTP server as an openai provider
// that speaks only chat, so the front translates the request and the
// answer, streams included). Both are named "mock" and serve "mock-small".
func frontUpstreams(t *testing.T) (map[string]string, *countingMock) {
	cm, url := newCountingMock(t, 0)
	return map[string]string{
		"native":     upstreamConfig(),
		"translated": "providers:\n  - {name: mock, type: openai, base_url: \"" + url + "\"}\nmodels:\n  - {name: mock-small, deployments: [{provider: mock}]}\n",
	}, cm
}

func testResponsesSDK(t *testing.T, cfg string) {
	ts := newTestServer(t, cfg, nil)
	client := responsesClient(ts, "sk-client-key")
	ctx := context.Background()
	params := responses.ResponseNewParams{
		Model:        "mock-small",
		Instructions: openai.String("You are terse."),
		Input:        responses.ResponseNewParamsInputUnion{OfString: openai.String("Name three colours.")},
	}

	var first *responses.Response
	t.Run("json and a cache hit", func(t *testing.T) {
		var resp *http.Response
		r, err := client.Responses.New(ctx, params, option.WithResponseInto(&resp))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(r.ID, "resp_") || r.Status != "completed" || r.OutputText() == "" || r.Usage.InputTokens == 0 || r.Usage.OutputTokens == 0 {
			t.Fatalf("%s", r.RawJSON())
		}
		if resp.Header.Get("X-Semgate-Cache") != "miss" || resp.Header.Get("X-Semgate-Provider") != "mock" {
			t.Fatalf("headers %v", resp.Header)
		}
		first = r
		again, err := client.Responses.New(ctx, params, option.WithResponseInto(&resp))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("X-Semgate-Cache") != "hit-exact" || again.OutputText() != r.OutputText() || again.ID == r.ID {
			t.Fatalf("second: %s %s (first %s)", resp.Header.Get("X-Semgate-Cache"), again.RawJSON(), r.ID)
		}
	})

	t.Run("stream and a cache hit", func(t *testing.T) {
		p := params
		p.Input = responses.ResponseNewParamsInputUnion{OfString: openai.String("Name three animals.")}
		var resp *http.Response
		final, rebuilt := readResponsesStream(t, ctx, client, p, option.WithResponseInto(&resp))
		if resp.Header.Get("X-Semgate-Cache") != "miss" || final.Status != "completed" || rebuilt.OutputText() != final.OutputText() || final.Usage.OutputTokens == 0 {
			t.Fatalf("%s %s", resp.Header.Get("X-Semgate-Cache"), final.RawJSON())
		}
		hit, _ := readResponsesStream(t, ctx, client, p, option.WithResponseInto(&resp))
		if resp.Header.Get("X-Semgate-Cache") != "hit-exact" || hit.OutputText() != final.OutputText() {
			t.Fatalf("%s %s", resp.Header.Get("X-Semgate-Cache"), hit.RawJSON())
		}
		// The JSON form of the same request is served from the stream.
		j, err := client.Responses.New(ctx, p, option.WithResponseInto(&resp))
		if err != nil || j.OutputText() != final.OutputText() || !strings.HasPrefix(resp.Header.Get("X-Semgate-Cache"), "hit") {
			t.Fatalf("%v %s", err, resp.Header.Get("X-Semgate-Cache"))
		}
		// A streamed response is stored too.
		got, err := client.Responses.Get(ctx, final.ID, responses.ResponseGetParams{})
		if err != nil || got.ID != final.ID || got.OutputText() != final.OutputText() {
			t.Fatalf("get streamed: %v", err)
		}
	})

	t.Run("tools", func(t *testing.T) {
		p := params
		p.Tools = []responses.ToolUnionParam{responses.ToolParamOfFunction("get_weather",
			map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}}, false)}
		p.ToolChoice = responses.ResponseNewParamsToolChoiceUnion{OfToolChoiceMode: openai.Opt(responses.ToolChoiceOptionsRequired)}
		r, err := client.Responses.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		var call *responses.ResponseFunctionToolCall
		for _, o := range r.Output {
			if o.Type == "function_call" {
				c := o.AsFunctionCall()
				call = &c
			}
		}
		if call == nil || call.Name != "get_weather" || !json.Valid([]byte(call.Arguments)) || call.CallID == "" {
			t.Fatalf("%s", r.RawJSON())
		}
		final, _ := readResponsesStream(t, ctx, client, p)
		if len(final.Output) == 0 || final.Output[len(final.Output)-1].Type != "function_call" {
			t.Fatalf("stream: %s", final.RawJSON())
		}
	})

	t.Run("previous_response_id, get, delete", func(t *testing.T) {
		if first == nil {
			t.Skip("no first response")
		}
		p := responses.ResponseNewParams{Model: "mock-small", PreviousResponseID: openai.String(first.ID),
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("And one more?")}}
		next, err := client.Responses.New(ctx, p)
		if err != nil || next.OutputText() == "" || next.PreviousResponseID != first.ID {
			t.Fatalf("%v %v", err, next)
		}
		// The follow-up's conversation holds the first exchange: a
		// different chat request from the same input alone.
		alone, err := client.Responses.New(ctx, responses.ResponseNewParams{Model: "mock-small",
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("And one more?")}})
		if err != nil || alone.OutputText() == next.OutputText() {
			t.Fatalf("previous_response_id had no effect: %v", err)
		}
		got, err := client.Responses.Get(ctx, first.ID, responses.ResponseGetParams{})
		if err != nil || got.ID != first.ID || got.OutputText() != first.OutputText() {
			t.Fatalf("get: %v", err)
		}
		if err := client.Responses.Delete(ctx, first.ID); err != nil {
			t.Fatal(err)
		}
		_, err = client.Responses.Get(ctx, first.ID, responses.ResponseGetParams{})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
			t.Fatalf("get after delete: %v", err)
		}
		_, err = client.Responses.New(ctx, p)
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Param != "previous_response_id" || apiErr.Code != "previous_response_not_found" {
			t.Fatalf("deleted previous_response_id: %v", err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		var apiErr *openai.Error
		p := params
		p.Model = "no-such-model"
		_, err := client.Responses.New(ctx, p)
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" {
			t.Fatalf("unknown model: %v", err)
		}
		stream := client.Responses.NewStreaming(ctx, p)
		for stream.Next() {
		}
		if !errors.As(stream.Err(), &apiErr) || apiErr.StatusCode != 404 {
			t.Fatalf("stream: %v", stream.Err())
		}
		p = params
		p.Background = openai.Bool(true)
		_, err = client.Responses.New(ctx, p)
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "background" {
			t.Fatalf("background: %v", err)
		}
		p = params
		p.Temperature = openai.Float(9)
		_, err = client.Responses.New(ctx, p)
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Param != "temperature" {
			t.Fatalf("temperature: %v", err)
		}
	})
}

// TestResponsesTenantScoped: a stored response is its tenant's alone.
func TestResponsesTenantScoped(t *testing.T) {
	ts := newTestServer(t, authRequired+upstreamConfig(), nil)
	_, a := newKey(t, ts, auth.Spec{Tenant: "a"})
	_, b := newKey(t, ts, auth.Spec{Tenant: "b"})
	ctx := context.Background()
	ca, cb := responsesClient(ts, a), responsesClient(ts, b)
	r, err := ca.Responses.New(ctx, responses.ResponseNewParams{Model: "mock-small",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hello")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Responses.Get(ctx, r.ID, responses.ResponseGetParams{}); err != nil {
		t.Fatal(err)
	}
	var apiErr *openai.Error
	if _, err := cb.Responses.Get(ctx, r.ID, responses.ResponseGetParams{}); !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Fatalf("other tenant get: %v", err)
	}
	if err := cb.Responses.Delete(ctx, r.ID); !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Fatalf("other tenant delete: %v", err)
	}
	_, err = cb.Responses.New(ctx, responses.ResponseNewParams{Model: "mock-small", PreviousResponseID: openai.String(r.ID),
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("more")}})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
		t.Fatalf("other tenant previous_response_id: %v", err)
	}
	bad := responsesClient(ts, "sk-sg-nope")
	_, err = bad.Responses.New(ctx, responses.ResponseNewParams{Model: "mock-small",
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("more")}})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Fatalf("bad key: %v", err)
	}
}

func readMessageStream(t *testing.T, client anthropic.Client, p anthropic.MessageNewParams, opts ...aoption.RequestOption) *anthropic.Message {
	t.Helper()
	stream := client.Messages.NewStreaming(context.Background(), p, opts...)
	acc := &anthropic.Message{}
	for stream.Next() {
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(acc)
	var m anthropic.Message
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

func messageText(m *anthropic.Message) string {
	var b strings.Builder
	for _, c := range m.Content {
		if c.Type == "text" {
			b.WriteString(c.Text)
		}
	}
	return b.String()
}

// TestMessagesSDK drives POST /v1/messages and count_tokens with
// anthropic-sdk-go against the mock.
func TestMessagesSDK(t *testing.T) {
	cfgs, chatMock := frontUpstreams(t)
	for name, cfg := range cfgs {
		t.Run(name, func(t *testing.T) { testMessagesSDK(t, cfg) })
	}
	if chatMock.calls.Load() == 0 {
		t.Fatal("the translated runs never reached the chat-only upstream")
	}
}

func testMessagesSDK(t *testing.T, cfg string) {
	ts := newTestServer(t, cfg, nil)
	client := anthropicClient(ts, "sk-ant-placeholder")
	ctx := context.Background()
	params := anthropic.MessageNewParams{
		Model:     "mock-small",
		MaxTokens: 256,
		System:    []anthropic.TextBlockParam{{Text: "Be brief."}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Name three colours."))},
	}

	t.Run("json and a cache hit", func(t *testing.T) {
		var resp *http.Response
		m, err := client.Messages.New(ctx, params, aoption.WithResponseInto(&resp))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(m.ID, "msg_") || m.StopReason == "" || messageText(m) == "" || m.Usage.InputTokens == 0 || m.Usage.OutputTokens == 0 {
			t.Fatalf("%s", m.RawJSON())
		}
		if resp.Header.Get("X-Semgate-Cache") != "miss" {
			t.Fatalf("headers %v", resp.Header)
		}
		again, err := client.Messages.New(ctx, params, aoption.WithResponseInto(&resp))
		if err != nil || resp.Header.Get("X-Semgate-Cache") != "hit-exact" || messageText(again) != messageText(m) {
			t.Fatalf("second: %v %s", err, resp.Header.Get("X-Semgate-Cache"))
		}
	})

	t.Run("stream and a cache hit", func(t *testing.T) {
		p := params
		p.Messages = []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Name three animals."))}
		var resp *http.Response
		m := readMessageStream(t, client, p, aoption.WithResponseInto(&resp))
		if resp.Header.Get("X-Semgate-Cache") != "miss" || messageText(m) == "" || m.StopReason == "" || m.Usage.OutputTokens == 0 {
			t.Fatalf("%s %+v", resp.Header.Get("X-Semgate-Cache"), m)
		}
		hit := readMessageStream(t, client, p, aoption.WithResponseInto(&resp))
		if resp.Header.Get("X-Semgate-Cache") != "hit-exact" || messageText(hit) != messageText(m) {
			t.Fatalf("%s %q", resp.Header.Get("X-Semgate-Cache"), messageText(hit))
		}
		j, err := client.Messages.New(ctx, p)
		if err != nil || messageText(j) != messageText(m) || j.StopReason != m.StopReason {
			t.Fatalf("json after stream: %v", err)
		}
	})

	t.Run("tools", func(t *testing.T) {
		p := params
		p.Tools = []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{
			Name:        "get_weather",
			Description: anthropic.String("Current weather"),
			InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}, Required: []string{"city"}},
		}}}
		p.ToolChoice = anthropic.ToolChoiceUnionParam{OfAny: &anthropic.ToolChoiceAnyParam{}}
		for i, m := range []*anthropic.Message{nil, readMessageStream(t, client, p)} {
			if m == nil {
				var err error
				if m, err = client.Messages.New(ctx, p); err != nil {
					t.Fatal(err)
				}
			}
			var use *anthropic.ToolUseBlock
			for _, c := range m.Content {
				if c.Type == "tool_use" {
					u := c.AsToolUse()
					use = &u
				}
			}
			if m.StopReason != anthropic.StopReasonToolUse || use == nil || use.Name != "get_weather" || !json.Valid(use.Input) || use.ID == "" {
				t.Fatalf("%d: %+v", i, m)
			}
		}
	})

	t.Run("count_tokens", func(t *testing.T) {
		n, err := client.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: "mock-small",
			Messages: params.Messages, System: anthropic.MessageCountTokensParamsSystemUnion{OfString: anthropic.String("Be brief.")}})
		if err != nil || n.InputTokens <= 0 {
			t.Fatalf("%v %+v", err, n)
		}
		_, err = client.Messages.CountTokens(ctx, anthropic.MessageCountTokensParams{Model: "nope", Messages: params.Messages})
		var apiErr *anthropic.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || !strings.Contains(apiErr.RawJSON(), "not_found_error") {
			t.Fatalf("unknown model: %v", err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		var apiErr *anthropic.Error
		p := params
		p.Model = "no-such-model"
		_, err := client.Messages.New(ctx, p)
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || !strings.Contains(apiErr.RawJSON(), `"type":"not_found_error"`) {
			t.Fatalf("unknown model: %v", err)
		}
		stream := client.Messages.NewStreaming(ctx, p)
		for stream.Next() {
		}
		if !errors.As(stream.Err(), &apiErr) || apiErr.StatusCode != 404 {
			t.Fatalf("stream: %v", stream.Err())
		}
		_, err = client.Messages.New(ctx, params, aoption.WithJSONSet("max_tokens", -1))
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(apiErr.RawJSON(), "invalid_request_error") {
			t.Fatalf("max_tokens: %v", err)
		}
	})
}

// TestMessagesAuthErrors: the auth step's refusals come in Anthropic's
// shape on /v1/messages; x-api-key carries the key.
func TestMessagesAuthErrors(t *testing.T) {
	ts := newTestServer(t, authRequired+upstreamConfig(), nil)
	_, key := newKey(t, ts, auth.Spec{Tenant: "a"})
	ctx := context.Background()
	p := anthropic.MessageNewParams{Model: "mock-small", MaxTokens: 64,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}}
	good, bad := anthropicClient(ts, key), anthropicClient(ts, "sk-sg-nope")
	if _, err := good.Messages.New(ctx, p); err != nil {
		t.Fatal(err)
	}
	_, err := bad.Messages.New(ctx, p)
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || !strings.Contains(apiErr.RawJSON(), `"type":"authentication_error"`) {
		t.Fatalf("bad key: %v", err)
	}
}
