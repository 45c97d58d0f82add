package providertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/sse"
)

// passthrough is the smallest adapter for an OpenAI upstream: what a
// correct adapter does, for testing the suite itself. A non-empty flaw
// breaks it in one way.
type passthrough struct {
	base   string
	client providers.HTTPClient
	flaw   string
}

func newPassthrough(flaw string) func(t *testing.T, name, baseURL string, opts providers.HTTPOptions) providers.Provider {
	return func(t *testing.T, name, baseURL string, opts providers.HTTPOptions) providers.Provider {
		if flaw == "no-idle-timeout" {
			opts.IdleTimeout = time.Hour
		}
		return &passthrough{base: baseURL, flaw: flaw, client: providers.HTTPClient{
			Name: name, Options: opts,
			ParseError: func(body []byte, e *providers.Error) {
				var b struct {
					Error struct{ Message, Type string }
				}
				if json.Unmarshal(body, &b) == nil {
					e.Message, e.Type = b.Error.Message, b.Error.Type
				}
			},
		}}
	}
}

func (p *passthrough) Do(ctx context.Context, req *providers.Request) (*providers.Response, error) {
	if p.flaw == "ignores-cancel" {
		ctx = context.WithoutCancel(ctx)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+req.Endpoint.Path(), bytes.NewReader(req.Body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Authorization", "Bearer "+p.client.Options.APIKey.Reveal())
	resp, err := p.client.Send(ctx, hr)
	if err != nil {
		var pe *providers.Error
		if p.flaw == "string-errors" && errors.As(err, &pe) {
			return nil, errors.New(pe.Message)
		}
		return nil, err
	}
	body := resp.Body
	switch p.flaw {
	case "leaky-close":
		body = struct {
			io.Reader
			io.Closer
		}{resp.Body, io.NopCloser(nil)}
	case "truncated":
		body = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(resp.Body, 600), resp.Body}
	}
	h := http.Header{"Content-Type": resp.Header["Content-Type"]}
	return &providers.Response{Status: resp.StatusCode, Header: h, Body: body}, nil
}

func (p *passthrough) Name() string { return p.client.Name }

func TestRun(t *testing.T) {
	Run(t, OpenAI(newPassthrough("")))
}

// TestBrokenAdapter runs the suite on a flawed adapter when the
// PROVIDERTEST_FLAW environment variable names one; see
// TestRunCatchesBrokenAdapters.
func TestBrokenAdapter(t *testing.T) {
	flaw := os.Getenv("PROVIDERTEST_FLAW")
	if flaw == "" {
		t.Skip("run by TestRunCatchesBrokenAdapters")
	}
	Run(t, OpenAI(newPassthrough(flaw)))
}

// TestRunCatchesBrokenAdapters checks that the suite fails adapters that
// get it wrong, each in a child test process running one subtest.
func TestRunCatchesBrokenAdapters(t *testing.T) {
	if testing.Short() {
		t.Skip("starts test processes")
	}
	tests := []struct {
		flaw, subtest, want string
	}{
		{"ignores-cancel", "CancelMidStream", "to see its request cancelled after the client cancelled"},
		{"leaky-close", "CloseBeforeEOF", "to see its request cancelled after Body.Close"},
		{"no-idle-timeout", "StalledStream", "did not fail"},
		{"string-errors", "ErrorStatus", "does not wrap *providers.Error"},
		{"truncated", "ChatStream", "unexpected EOF"},
	}
	// The children mostly wait on timers: start them all at once, whatever
	// -test.parallel says.
	outs := make([]bytes.Buffer, len(tests))
	cmds := make([]*exec.Cmd, len(tests))
	for i, tt := range tests {
		cmds[i] = exec.Command(os.Args[0], "-test.run=^TestBrokenAdapter$/^"+tt.subtest+"$", "-test.count=1")
		cmds[i].Env = append(os.Environ(), "PROVIDERTEST_FLAW="+tt.flaw)
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, tt := range tests {
		t.Run(tt.flaw, func(t *testing.T) {
			err := cmds[i].Wait()
			out := outs[i].Bytes()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the suite passed a %s adapter (err %v):\n%s", tt.flaw, err, out)
			}
			if !bytes.Contains(out, []byte("--- FAIL: TestBrokenAdapter/"+tt.subtest)) || !bytes.Contains(out, []byte(tt.want)) {
				t.Errorf("want %s to fail with %q; got:\n%s", tt.subtest, tt.want, out)
			}
		})
	}
}

func TestFixturesDecodeWithOpenAISDK(t *testing.T) {
	var c openai.ChatCompletion
	if err := json.Unmarshal(Fixture(OpenAIChat), &c); err != nil {
		t.Fatal(err)
	}
	if c.Object != "chat.completion" || c.Choices[0].Message.Content != "Hello! How can I help you today?" ||
		c.Choices[0].FinishReason != "stop" || c.Usage.TotalTokens != 31 {
		t.Errorf("chat.completion decoded as %+v", c)
	}

	stream := accumulate(t, OpenAIChatStream)
	if got := stream.Choices[0].Message.Content; got != c.Choices[0].Message.Content {
		t.Errorf("stream content = %q, want the non-streamed answer %q", got, c.Choices[0].Message.Content)
	}
	if stream.Usage.TotalTokens != c.Usage.TotalTokens || stream.Choices[0].FinishReason != "stop" {
		t.Errorf("stream usage %+v, finish %q", stream.Usage, stream.Choices[0].FinishReason)
	}

	tools := accumulate(t, OpenAIChatToolStream)
	if len(tools.Choices) != 1 || len(tools.Choices[0].Message.ToolCalls) != 1 {
		t.Fatalf("tool stream accumulated to %+v", tools.Choices)
	}
	call := tools.Choices[0].Message.ToolCalls[0]
	if call.Function.Name != "get_weather" || call.Function.Arguments != `{"location":"Paris, France","unit":"celsius"}` ||
		tools.Choices[0].FinishReason != "tool_calls" || tools.Usage.TotalTokens != 100 {
		t.Errorf("tool call %+v, finish %q, usage %+v", call, tools.Choices[0].FinishReason, tools.Usage)
	}

	var comp openai.Completion
	if err := json.Unmarshal(Fixture(OpenAICompletions), &comp); err != nil || comp.Object != "text_completion" || comp.Choices[0].Text == "" {
		t.Errorf("completion %+v, %v", comp, err)
	}
	var emb openai.CreateEmbeddingResponse
	if err := json.Unmarshal(Fixture(OpenAIEmbeddings), &emb); err != nil || len(emb.Data) != 2 || len(emb.Data[1].Embedding) != 8 {
		t.Errorf("embeddings %+v, %v", emb, err)
	}
	for _, status := range []int{400, 401, 404, 429, 500, 503} {
		var e struct{ Error openai.ErrorObject }
		if err := json.Unmarshal(Fixture(fmt.Sprintf("openai_error_%d.json", status)), &e); err != nil || e.Error.Message == "" || e.Error.Type == "" {
			t.Errorf("error %d: %+v, %v", status, e, err)
		}
	}
}

// accumulate replays a stream fixture through the SDK's accumulator.
func accumulate(t *testing.T, name string) openai.ChatCompletionAccumulator {
	t.Helper()
	var acc openai.ChatCompletionAccumulator
	r := sse.NewReader(bytes.NewReader(Fixture(name)))
	for {
		ev, err := r.Next()
		if err != nil {
			t.Fatalf("%s: %v before [DONE]", name, err)
		}
		if bytes.Equal(ev.Data, sse.Done) {
			return acc
		}
		var c openai.ChatCompletionChunk
		if err := json.Unmarshal(ev.Data, &c); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !acc.AddChunk(c) {
			t.Fatalf("%s: the SDK rejected chunk %s", name, ev.Data)
		}
	}
}

func TestCheckChatCompletion(t *testing.T) {
	if err := CheckChatCompletion(Fixture(OpenAIChat)); err != nil {
		t.Errorf("the recorded chat.completion: %v", err)
	}
	good := `{"id":"c","object":"chat.completion","choices":[{"message":{"role":"assistant","content":"x"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`
	if err := CheckChatCompletion([]byte(good)); err != nil {
		t.Errorf("minimal chat.completion: %v", err)
	}
	bad := map[string]string{
		"not a JSON":                       `{"id":`,
		"after top-level value":            good + `{}`,
		`object = "chat.completion.chunk"`: strings.Replace(good, `"chat.completion"`, `"chat.completion.chunk"`, 1),
		"id is missing":                    strings.Replace(good, `"id":"c",`, ``, 1),
		"choices is empty":                 strings.Replace(good, `[{"message":{"role":"assistant","content":"x"},"finish_reason":"stop"}]`, `[]`, 1),
		"role is not":                      strings.Replace(good, `"assistant"`, `"user"`, 1),
		"finish_reason":                    strings.Replace(good, `"stop"`, `null`, 1),
		"usage is missing":                 strings.Replace(good, `,"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}`, ``, 1),
		"usage.total_tokens":               strings.Replace(good, `"total_tokens":3`, `"total_tokens":4`, 1),
		"usage.prompt_tokens = 1.0":        strings.Replace(good, `"prompt_tokens":1`, `"prompt_tokens":1.0`, 1),
		"usage.completion_tokens = null":   strings.Replace(good, `"completion_tokens":2`, `"completion_tokens":null`, 1),
	}
	for want, body := range bad {
		if err := CheckChatCompletion([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckChatCompletion(%s) = %v, want an error mentioning %q", body, err, want)
		}
	}
}

func TestCheckChatStream(t *testing.T) {
	st, err := CheckChatStream(bytes.NewReader(Fixture(OpenAIChatStream)))
	if err != nil || st.Content != "Hello! How can I help you today?" || st.FinishReason != "stop" || st.Chunks != 12 ||
		st.Usage == nil || *st.Usage != (Usage{22, 9, 31}) {
		t.Errorf("the recorded stream: %+v, %v", st, err)
	}
	st, err = CheckChatStream(bytes.NewReader(Fixture(OpenAIChatToolStream)))
	if err != nil || st.Content != "" || st.FinishReason != "tool_calls" || st.Usage == nil {
		t.Errorf("the recorded tool stream: %+v, %v", st, err)
	}
	chunk := `data: {"id":"c","object":"chat.completion.chunk","choices":[{"delta":{"content":"hi"},"finish_reason":null}]}` + "\n\n"
	done := "data: [DONE]\n\n"
	bad := map[string]string{
		"want data: [DONE] before the end":  chunk,
		"unexpected EOF":                    chunk + "data: [DO",
		"no chunk":                          done,
		"is named":                          "event: message_start\n" + chunk + done,
		"is not JSON":                       "data: {\"id\":\n\n" + done,
		`object = "chat.completion"`:        strings.Replace(chunk, ".chunk", "", 1) + done,
		"id is missing":                     strings.Replace(chunk, `"id":"c",`, "", 1) + done,
		"choices is missing":                `data: {"id":"c","object":"chat.completion.chunk"}` + "\n\n" + done,
		"usage.total_tokens":                `data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":3}}` + "\n\n" + done,
		"after data: [DONE]: another event": chunk + done + chunk,
	}
	for want, stream := range bad {
		if _, err := CheckChatStream(strings.NewReader(stream)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckChatStream(%q) = %v, want an error mentioning %q", stream, err, want)
		}
	}
}

func TestServeFixture(t *testing.T) {
	for _, tt := range []struct {
		h           http.Handler
		status      int
		contentType string
		body        []byte
	}{
		{ServeFixture(ContentTypeJSON, OpenAIChat), 200, ContentTypeJSON, Fixture(OpenAIChat)},
		{ServeFixture(ContentTypeSSE, OpenAIChatStream), 200, ContentTypeSSE, Fixture(OpenAIChatStream)},
		{ServeFixtureStatus(201, "text/plain", OpenAIEmbeddings), 201, "text/plain", Fixture(OpenAIEmbeddings)},
		{OpenAIError(429), 429, ContentTypeJSON, Fixture("openai_error_429.json")},
		{OpenAIError(418), 418, ContentTypeJSON, []byte(`{"error":{"code":null,"message":"I'm a teapot","param":null,"type":"invalid_request_error"}}`)},
		{OpenAIError(502), 502, ContentTypeJSON, []byte(`{"error":{"code":null,"message":"Bad Gateway","param":null,"type":"server_error"}}`)},
	} {
		rec := httptest.NewRecorder()
		tt.h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{}`)))
		if rec.Code != tt.status || rec.Header().Get("Content-Type") != tt.contentType || !bytes.Equal(rec.Body.Bytes(), tt.body) {
			t.Errorf("got %d %q %s, want %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body, tt.status, tt.contentType, tt.body)
		}
	}
	if !panics(func() { Fixture("nope.json") }) {
		t.Error("Fixture of a missing file did not panic")
	}
}

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}

func TestEventEnd(t *testing.T) {
	for in, want := range map[string]int{
		"data: x\n\ndata: y\n\n": 9,
		"data: x\r\n\r\ndata: y": 11,
		"data: x\r\rdata: y":     9,
		"data: x\n":              -1,
		"data: x\r\n\r\n\n\n":    11,
	} {
		if got := eventEnd([]byte(in)); got != want {
			t.Errorf("eventEnd(%q) = %d, want %d", in, got, want)
		}
	}
}
