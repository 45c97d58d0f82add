package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	anthropic "github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
	"github.com/semgate/semgate/providers/mock"
	"github.com/tidwall/gjson"
)

// nativeRecorder is an upstream that records each request it gets and the bytes
// it answered with.
type nativeRecorder struct {
	h  http.Handler
	mu sync.Mutex
	// The last request and answer.
	path   string
	header http.Header
	body   []byte
	answer []byte
	calls  int
}

func (rc *nativeRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.path, rc.header, rc.body, rc.answer = r.URL.Path, r.Header.Clone(), body, nil
	rc.calls++
	rc.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	rc.h.ServeHTTP(&teeWriter{ResponseWriter: w, rc: rc}, r)
}

func (rc *nativeRecorder) last() (path string, header http.Header, body, answer []byte, calls int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.path, rc.header, rc.body, rc.answer, rc.calls
}

type teeWriter struct {
	http.ResponseWriter
	rc *nativeRecorder
}

func (w *teeWriter) Write(p []byte) (int, error) {
	w.rc.mu.Lock()
	w.rc.answer = append(w.rc.answer, p...)
	w.rc.mu.Unlock()
	return w.ResponseWriter.Write(p)
}

func (w *teeWriter) Flush() { http.NewResponseController(w.ResponseWriter).Flush() }

// newRecorder serves h behind a nativeRecorder.
func newNativeRecorder(t *testing.T, h http.Handler) (*nativeRecorder, string) {
	rc := &nativeRecorder{h: h}
	hs := httptest.NewServer(rc)
	t.Cleanup(hs.Close)
	return rc, hs.URL
}

// mockUpstream is the mock's HTTP handler behind a nativeRecorder.
func mockNativeUpstream(t *testing.T) (*nativeRecorder, string) {
	h, err := mock.NewHandler(mock.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return newNativeRecorder(t, h)
}

// anthropicConfig serves alias "claude" from an anthropic provider at
// url (upstream model claude-sonnet-4-5), then, as a fallback when
// fallback is set, the in-process mock.
func anthropicConfig(url string, fallback bool) string {
	y := "providers:\n  - name: mock\n    type: mock\n  - name: ant\n    type: anthropic\n    base_url: " + url +
		"\n    api_key: sk-ant-upstream\n    timeout: 5s\n    idle_timeout: 5s\n" +
		"models:\n  - name: claude\n    policy: priority\n    deployments:\n      - provider: ant\n        model: claude-sonnet-4-5\n"
	if fallback {
		y += "      - provider: mock\n        model: mock-small\n"
	}
	return y
}

// rawPost posts body with headers and returns the answer's status,
// headers and bytes.
func rawPost(t *testing.T, url, body string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	resp := post(t, url, body, hdr...)
	return resp.StatusCode, resp.Header, readBody(t, resp)
}

// TestNativeMessagesPassThrough: /v1/messages to an Anthropic deployment
// sends the client's body (model rewritten) and anthropic-version and
// anthropic-beta as sent, and relays the upstream's answer byte for byte,
// as JSON and as a stream; the chat form it is stored in serves the next
// identical request as a hit.
func TestNativeMessagesPassThrough(t *testing.T) {
	rc, url := mockNativeUpstream(t)
	ts := newTestServer(t, anthropicConfig(url, false), nil)
	body := `{"model":"claude","max_tokens":100,"metadata":{"user_id":"u1"},"system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"Name three rivers."}]}`
	hdr := []string{"anthropic-version", "2023-06-01", "anthropic-beta", "prompt-caching-2024-07-31,fancy-beta"}

	status, h, got := rawPost(t, ts.URL+"/v1/messages", body, hdr...)
	path, uh, ubody, answer, calls := rc.last()
	if status != 200 || h.Get("X-Semgate-Cache") != "miss" || calls != 1 {
		t.Fatalf("status %d cache %q calls %d: %s", status, h.Get("X-Semgate-Cache"), calls, got)
	}
	if path != "/v1/messages" || string(ubody) != strings.Replace(body, `"claude"`, `"claude-sonnet-4-5"`, 1) {
		t.Fatalf("upstream got %s %s", path, ubody)
	}
	if uh.Get("Anthropic-Beta") != "prompt-caching-2024-07-31,fancy-beta" || uh.Get("Anthropic-Version") != "2023-06-01" || uh.Get("X-Api-Key") != "sk-ant-upstream" {
		t.Fatalf("upstream headers %v", uh)
	}
	if !bytes.Equal(got, answer) {
		t.Fatalf("not relayed byte for byte:\nclient   %s\nupstream %s", got, answer)
	}
	if gjson.GetBytes(got, "type").Str != "message" || h.Get("X-Semgate-Provider") != "ant" || h.Get("X-Semgate-Cost-Usd") == "0" {
		t.Fatalf("%v %s", h, got)
	}

	// The same request again: a hit from the stored chat form, translated.
	status, h, hit := rawPost(t, ts.URL+"/v1/messages", body, hdr...)
	if _, _, _, _, n := rc.last(); status != 200 || h.Get("X-Semgate-Cache") != "hit-exact" || n != 1 {
		t.Fatalf("second: %d %q calls %d", status, h.Get("X-Semgate-Cache"), n)
	}
	if gjson.GetBytes(hit, "content.0.text").Str != gjson.GetBytes(got, "content.0.text").Str || gjson.GetBytes(hit, "stop_reason").Str != gjson.GetBytes(got, "stop_reason").Str {
		t.Fatalf("hit %s\nmiss %s", hit, got)
	}

	// A stream, byte for byte.
	sbody := strings.Replace(body, `"max_tokens":100`, `"max_tokens":100,"stream":true`, 1)
	sbody = strings.Replace(sbody, "rivers", "mountains", 1)
	status, h, got = rawPost(t, ts.URL+"/v1/messages", sbody, hdr...)
	_, _, ubody, answer, _ = rc.last()
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") || !bytes.Equal(got, answer) {
		t.Fatalf("stream %d %v:\nclient   %s\nupstream %s", status, h, got, answer)
	}
	if !gjson.GetBytes(ubody, "stream").Bool() || !bytes.Contains(got, []byte("event: message_stop")) {
		t.Fatalf("upstream body %s / answer %s", ubody, got)
	}
	status, h, _ = rawPost(t, ts.URL+"/v1/messages", sbody, hdr...)
	if status != 200 || h.Get("X-Semgate-Cache") != "hit-exact" {
		t.Fatalf("stream hit: %d %q", status, h.Get("X-Semgate-Cache"))
	}
}

// TestNativeMessagesSDK drives the pass-through with anthropic-sdk-go:
// create, stream, tools, count_tokens and errors, against the mock's
// native Messages endpoint behind an anthropic provider.
func TestNativeMessagesSDK(t *testing.T) {
	rc, url := mockNativeUpstream(t)
	ts := newTestServer(t, anthropicConfig(url, false), nil)
	client := anthropicClient(ts, "sk-ant-placeholder")
	ctx := context.Background()
	params := anthropic.MessageNewParams{
		Model:     "claude",
		MaxTokens: 256,
		System:    []anthropic.TextBlockParam{{Text: "Be brief."}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Name three colours."))},
	}

	t.Run("create and a hit", func(t *testing.T) {
		var resp *http.Response
		m, err := client.Messages.New(ctx, params, aoption.WithResponseInto(&resp))
		if err != nil {
			t.Fatal(err)
		}
		_, _, _, answer, _ := rc.last()
		if m.RawJSON() != string(answer) || messageText(m) == "" || m.Usage.OutputTokens == 0 || resp.Header.Get("X-Semgate-Cache") != "miss" {
			t.Fatalf("%s\nupstream %s", m.RawJSON(), answer)
		}
		again, err := client.Messages.New(ctx, params, aoption.WithResponseInto(&resp))
		if err != nil || resp.Header.Get("X-Semgate-Cache") != "hit-exact" || messageText(again) != messageText(m) {
			t.Fatalf("hit: %v %q", err, resp.Header.Get("X-Semgate-Cache"))
		}
	})

	t.Run("stream", func(t *testing.T) {
		p := params
		p.Messages = []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Name three birds."))}
		var resp *http.Response
		m := readMessageStream(t, client, p, aoption.WithResponseInto(&resp))
		_, _, _, answer, _ := rc.last()
		if messageText(m) == "" || m.StopReason != anthropic.StopReasonEndTurn || !bytes.Contains(answer, []byte(m.ID)) || resp.Header.Get("X-Semgate-Cache") != "miss" {
			t.Fatalf("%+v\nupstream %s", m, answer)
		}
		hit := readMessageStream(t, client, p, aoption.WithResponseInto(&resp))
		if resp.Header.Get("X-Semgate-Cache") != "hit-exact" || messageText(hit) != messageText(m) {
			t.Fatalf("hit %q %q", resp.Header.Get("X-Semgate-Cache"), messageText(hit))
		}
	})

	t.Run("tools", func(t *testing.T) {
		p := params
		p.Tools = []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{
			Name:        "get_weather",
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
			ok := false
			for _, c := range m.Content {
				ok = ok || (c.Type == "tool_use" && c.Name == "get_weather" && json.Valid(c.Input))
			}
			if m.StopReason != anthropic.StopReasonToolUse || !ok {
				t.Fatalf("%d: %+v", i, m)
			}
		}
		if _, _, body, _, _ := rc.last(); !gjson.GetBytes(body, "tools.0.input_schema").Exists() {
			t.Fatalf("tools not passed as sent: %s", body)
		}
	})

	t.Run("errors", func(t *testing.T) {
		var apiErr *anthropic.Error
		// The mock refuses an empty conversation as Anthropic would: 400.
		_, err := client.Messages.New(ctx, params, aoption.WithJSONSet("messages", []any{}))
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(apiErr.RawJSON(), `"type":"invalid_request_error"`) {
			t.Fatalf("%v", err)
		}
	})
}

// anthropicFake answers every Messages request with body (JSON, or an
// event stream when it starts with "event:").
func anthropicFake(t *testing.T, status int, body string) (*nativeRecorder, string) {
	return newNativeRecorder(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(body, "event:") {
			w.Header().Set("Content-Type", "text/event-stream")
		} else {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
}

const thinkingMessage = `{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"thinking","thinking":"Rivers: Nile...","signature":"sig"},{"type":"text","text":"Nile, Amazon, Yangtze."}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":100,"cache_read_input_tokens":1000,"cache_creation_input_tokens":2000,"output_tokens":50}}`

const thinkingStream = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_02\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":100,\"cache_read_input_tokens\":1000,\"cache_creation_input_tokens\":2000,\"output_tokens\":1}}}\n\n" +
	"event: ping\ndata: {\"type\":\"ping\"}\n\n" +
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\"}}\n\n" +
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\",\"thinking\":\"Rivers...\"}}\n\n" +
	"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Nile.\"}}\n\n" +
	"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n" +
	"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":50}}\n\n" +
	"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"

// TestNativeLossyNotStored: an answer with thinking blocks (or any block
// chat cannot carry) reaches the client whole, but is not stored, since
// its chat form would replay without them; its cost counts the
// prompt-cache reads and writes at their prices.
func TestNativeLossyNotStored(t *testing.T) {
	// claude-sonnet-4-5: input 3, cache read 0.30, cache write 3.75, output 15 USD per million.
	const wantCost = (100*3 + 1000*0.30 + 2000*3.75 + 50*15) / 1e6
	// The request does not ask for thinking (it would bypass the cache,
	// TestMessagesThinkingBypassesCache): the answer holding a block chat
	// cannot carry is what keeps it out of the cache.
	body := `{"model":"claude","max_tokens":2000,"messages":[{"role":"user","content":"Name three rivers."}]}`
	for _, tc := range []struct {
		name, answer, body string
	}{
		{"json", thinkingMessage, body},
		{"stream", thinkingStream, strings.Replace(body, `"max_tokens"`, `"stream":true,"max_tokens"`, 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, url := anthropicFake(t, 200, tc.answer)
			ts := newTestServer(t, anthropicConfig(url, false), nil)
			for i := range 2 {
				status, h, got := rawPost(t, ts.URL+"/v1/messages", tc.body)
				if status != 200 || string(got) != tc.answer || h.Get("X-Semgate-Cache") != "miss" {
					t.Fatalf("%d: %d %q %s", i, status, h.Get("X-Semgate-Cache"), got)
				}
				cost := h.Get("X-Semgate-Cost-Usd")
				if tc.name == "stream" {
					cost = "" // a trailer
				}
				if tc.name == "json" {
					if c, _ := strconv.ParseFloat(cost, 64); c < wantCost*0.999 || c > wantCost*1.001 {
						t.Fatalf("cost %s, want %g", cost, wantCost)
					}
				}
			}
			if _, _, _, _, calls := rc.last(); calls != 2 {
				t.Fatalf("upstream calls %d, want 2 (the thinking answer must not be stored)", calls)
			}
			// The SDK reads the thinking block the upstream sent.
			var m *anthropic.Message
			client := anthropicClient(ts, "k")
			p := anthropic.MessageNewParams{Model: "claude", MaxTokens: 2000,
				Thinking: anthropic.ThinkingConfigParamOfEnabled(1024),
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Name three rivers."))}}
			if tc.name == "stream" {
				m = readMessageStream(t, client, p)
			} else {
				var err error
				if m, err = client.Messages.New(context.Background(), p); err != nil {
					t.Fatal(err)
				}
			}
			if len(m.Content) != 2 || m.Content[0].Type != "thinking" || m.Content[0].Thinking == "" || m.Usage.CacheCreationInputTokens != 2000 {
				t.Fatalf("%+v", m)
			}
		})
	}
}

// TestNativeStreamCost: a passed-through stream's cost trailer prices the
// native usage, prompt-cache writes included.
func TestNativeStreamCost(t *testing.T) {
	const wantCost = (100*3 + 1000*0.30 + 2000*3.75 + 50*15) / 1e6
	_, url := anthropicFake(t, 200, thinkingStream)
	ts := newTestServer(t, anthropicConfig(url, false), nil)
	resp := post(t, ts.URL+"/v1/messages", `{"model":"claude","max_tokens":20,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	readBody(t, resp)
	if c, _ := strconv.ParseFloat(resp.Trailer.Get("X-Semgate-Cost-Usd"), 64); c < wantCost*0.999 || c > wantCost*1.001 {
		t.Fatalf("cost trailer %q, want %g", resp.Trailer.Get("X-Semgate-Cost-Usd"), wantCost)
	}
}

// TestNativeFallbackTranslates: when the Anthropic deployment fails, the
// fallback to a chat deployment answers through the translation, in the
// Messages shape still.
func TestNativeFallbackTranslates(t *testing.T) {
	rc, url := anthropicFake(t, 529, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
	ts := newTestServer(t, anthropicConfig(url, true), nil)
	for _, stream := range []bool{false, true} {
		p := anthropic.MessageNewParams{Model: "claude", MaxTokens: 100,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Fallback " + strconv.FormatBool(stream)))}}
		var resp *http.Response
		var m *anthropic.Message
		client := anthropicClient(ts, "k")
		if stream {
			m = readMessageStream(t, client, p, aoption.WithResponseInto(&resp))
		} else {
			var err error
			if m, err = client.Messages.New(context.Background(), p, aoption.WithResponseInto(&resp)); err != nil {
				t.Fatal(err)
			}
		}
		if resp.Header.Get("X-Semgate-Provider") != "mock" || resp.Header.Get("X-Semgate-Attempts") != "2" || messageText(m) == "" || !strings.HasPrefix(m.ID, "msg_") {
			t.Fatalf("stream %v: %v %+v", stream, resp.Header, m)
		}
	}
	if _, _, _, _, calls := rc.last(); calls != 2 {
		t.Fatalf("anthropic calls %d", calls)
	}
}

// TestNativeUpstreamError: an Anthropic deployment's 4xx reaches the
// client in Anthropic's shape with its status.
func TestNativeUpstreamError(t *testing.T) {
	_, url := anthropicFake(t, 400, `{"type":"error","error":{"type":"invalid_request_error","message":"thinking.budget_tokens: too small"}}`)
	ts := newTestServer(t, anthropicConfig(url, false), nil)
	client := anthropicClient(ts, "k")
	_, err := client.Messages.New(context.Background(), anthropic.MessageNewParams{Model: "claude", MaxTokens: 10,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))}})
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(apiErr.RawJSON(), "budget_tokens: too small") || !strings.Contains(apiErr.RawJSON(), `"invalid_request_error"`) {
		t.Fatalf("%v", err)
	}
}

// TestNativeCountTokens: count_tokens asks the Anthropic deployment's
// count_tokens endpoint and relays its answer; its 4xx reaches the client
// in Anthropic's shape; when it fails, semgate counts.
func TestNativeCountTokens(t *testing.T) {
	body := `{"model":"claude","system":"Be brief.","messages":[{"role":"user","content":"Name three rivers."}]}`
	t.Run("upstream", func(t *testing.T) {
		rc, url := mockNativeUpstream(t)
		ts := newTestServer(t, anthropicConfig(url, false), nil)
		client := anthropicClient(ts, "k")
		n, err := client.Messages.CountTokens(context.Background(), anthropic.MessageCountTokensParams{Model: "claude",
			System:   anthropic.MessageCountTokensParamsSystemUnion{OfString: anthropic.String("Be brief.")},
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Name three rivers."))}},
			aoption.WithHeader("anthropic-beta", "token-counting-2024-11-01"))
		path, h, ubody, answer, _ := rc.last()
		if err != nil || n.InputTokens <= 0 || n.RawJSON() != string(answer) || path != "/v1/messages/count_tokens" {
			t.Fatalf("%v %+v; upstream %s %s", err, n, path, answer)
		}
		if gjson.GetBytes(ubody, "model").Str != "claude-sonnet-4-5" || h.Get("Anthropic-Beta") != "token-counting-2024-11-01" {
			t.Fatalf("upstream got %s %v", ubody, h)
		}
	})
	t.Run("refused", func(t *testing.T) {
		_, url := anthropicFake(t, 400, `{"type":"error","error":{"type":"invalid_request_error","message":"messages: bad role"}}`)
		ts := newTestServer(t, anthropicConfig(url, false), nil)
		status, _, got := rawPost(t, ts.URL+"/v1/messages/count_tokens", body)
		if status != 400 || gjson.GetBytes(got, "error.type").Str != "invalid_request_error" || !strings.Contains(string(got), "bad role") {
			t.Fatalf("%d %s", status, got)
		}
	})
	t.Run("upstream down: counted locally", func(t *testing.T) {
		rc, url := anthropicFake(t, 503, `{"type":"error","error":{"type":"api_error","message":"down"}}`)
		ts := newTestServer(t, anthropicConfig(url, false), nil)
		status, _, got := rawPost(t, ts.URL+"/v1/messages/count_tokens", body)
		if _, _, _, _, calls := rc.last(); status != 200 || gjson.GetBytes(got, "input_tokens").Int() <= 0 || calls == 0 {
			t.Fatalf("%d %s (upstream calls %d)", status, got, calls)
		}
	})
}

// responsesConfig serves alias "gpt" from an openai provider at url that
// serves the Responses API (responses: true), upstream model gpt-4.1.
func responsesConfig(url string) string {
	return "providers:\n  - name: oai\n    type: openai\n    responses: true\n    base_url: " + url +
		"\n    api_key: sk-upstream\n    timeout: 5s\n    idle_timeout: 5s\n" +
		"models:\n  - name: gpt\n    deployments:\n      - provider: oai\n        model: gpt-4.1\n"
}

// TestNativeResponsesPassThrough: /v1/responses to a provider marked
// responses: true sends the client's body (model rewritten) to its
// /responses and relays the answer byte for byte, JSON and stream; the
// chat form serves the next identical request as a hit; a follow-up with
// previous_response_id works from semgate's stored conversation.
func TestNativeResponsesPassThrough(t *testing.T) {
	rc, url := mockNativeUpstream(t)
	ts := newTestServer(t, responsesConfig(url+"/v1"), nil)
	body := `{"model":"gpt","instructions":"Be terse.","input":"Name three rivers.","metadata":{"k":"v"}}`

	status, h, got := rawPost(t, ts.URL+"/v1/responses", body)
	path, _, ubody, answer, calls := rc.last()
	if status != 200 || h.Get("X-Semgate-Cache") != "miss" || calls != 1 || path != "/v1/responses" {
		t.Fatalf("%d %q calls %d path %s: %s", status, h.Get("X-Semgate-Cache"), calls, path, got)
	}
	if string(ubody) != strings.Replace(body, `"gpt"`, `"gpt-4.1"`, 1) || !bytes.Equal(got, answer) {
		t.Fatalf("upstream got %s\nclient   %s\nupstream %s", ubody, got, answer)
	}
	status, h, hit := rawPost(t, ts.URL+"/v1/responses", body)
	if _, _, _, _, n := rc.last(); status != 200 || h.Get("X-Semgate-Cache") != "hit-exact" || n != 1 ||
		gjson.GetBytes(hit, "output.0.content.0.text").Str != gjson.GetBytes(got, "output.0.content.0.text").Str {
		t.Fatalf("hit: %d %q calls %d %s", status, h.Get("X-Semgate-Cache"), n, hit)
	}

	sbody := strings.Replace(strings.Replace(body, "rivers", "lakes", 1), `"input"`, `"stream":true,"input"`, 1)
	status, h, got = rawPost(t, ts.URL+"/v1/responses", sbody)
	_, _, _, answer, _ = rc.last()
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") || !bytes.Equal(got, answer) || !bytes.Contains(got, []byte("response.completed")) {
		t.Fatalf("stream %d:\nclient   %s\nupstream %s", status, got, answer)
	}

	// The stored (passed-through) response continues on semgate's store.
	client := responsesClient(ts, "k")
	ctx := context.Background()
	first, err := client.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Pick a number.")}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, answer, before := rc.last()
	if first.RawJSON() != string(answer) {
		t.Fatalf("SDK got %s, upstream sent %s", first.RawJSON(), answer)
	}
	next, err := client.Responses.New(ctx, responses.ResponseNewParams{Model: "gpt", PreviousResponseID: openai.String(first.ID),
		Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("And another.")}})
	_, _, ubody, _, after := rc.last()
	if err != nil || next.OutputText() == "" || after != before+1 || gjson.GetBytes(ubody, "messages.#").Int() < 3 {
		t.Fatalf("follow-up: %v; upstream got %s", err, ubody)
	}
}

// TestNativeResponsesSDK drives the Responses pass-through with openai-go:
// stream, tools and errors.
func TestNativeResponsesSDK(t *testing.T) {
	rc, url := mockNativeUpstream(t)
	ts := newTestServer(t, responsesConfig(url+"/v1"), nil)
	client := responsesClient(ts, "k")
	ctx := context.Background()
	p := responses.ResponseNewParams{Model: "gpt", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("Name three colours.")}}

	t.Run("stream", func(t *testing.T) {
		var resp *http.Response
		final, rebuilt := readResponsesStream(t, ctx, client, p, option.WithResponseInto(&resp))
		_, _, _, answer, _ := rc.last()
		if final.Status != "completed" || rebuilt.OutputText() != final.OutputText() || !bytes.Contains(answer, []byte(final.ID)) || resp.Header.Get("X-Semgate-Cache") != "miss" {
			t.Fatalf("%s", final.RawJSON())
		}
		hit, _ := readResponsesStream(t, ctx, client, p, option.WithResponseInto(&resp))
		if resp.Header.Get("X-Semgate-Cache") != "hit-exact" || hit.OutputText() != final.OutputText() {
			t.Fatalf("hit %q", resp.Header.Get("X-Semgate-Cache"))
		}
	})

	t.Run("tools", func(t *testing.T) {
		tp := p
		tp.Tools = []responses.ToolUnionParam{{OfFunction: &responses.FunctionToolParam{Name: "get_weather",
			Parameters: map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}}}}
		tp.ToolChoice = responses.ResponseNewParamsToolChoiceUnion{OfToolChoiceMode: openai.Opt(responses.ToolChoiceOptionsRequired)}
		r, err := client.Responses.New(ctx, tp)
		if err != nil {
			t.Fatal(err)
		}
		ok := false
		for _, it := range r.Output {
			ok = ok || (it.Type == "function_call" && it.Name == "get_weather" && it.CallID != "")
		}
		if !ok {
			t.Fatalf("%s", r.RawJSON())
		}
		final, _ := readResponsesStream(t, ctx, client, tp)
		if len(final.Output) == 0 || final.Output[0].Type != "function_call" {
			t.Fatalf("stream: %s", final.RawJSON())
		}
	})

	t.Run("errors", func(t *testing.T) {
		// The mock refuses an input without a message: 400 in OpenAI's shape.
		_, err := client.Responses.New(ctx, p, option.WithJSONSet("input", []any{}))
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 {
			t.Fatalf("%v", err)
		}
	})
}

// TestNativeResponsesLossyNotStored: a Response with a reasoning item
// reaches the client whole and is not stored.
func TestNativeResponsesLossyNotStored(t *testing.T) {
	answer := `{"id":"resp_9","object":"response","created_at":1,"status":"completed","model":"gpt-4.1","output":[{"type":"reasoning","id":"rs_1","summary":[]},{"type":"message","id":"msg_1","role":"assistant","status":"completed","content":[{"type":"output_text","text":"Nile.","annotations":[]}]}],"usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":0},"output_tokens":5,"output_tokens_details":{"reasoning_tokens":3},"total_tokens":15}}`
	rc, url := newNativeRecorder(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	}))
	ts := newTestServer(t, responsesConfig(url), nil)
	for i := range 2 {
		status, h, got := rawPost(t, ts.URL+"/v1/responses", `{"model":"gpt","input":"Name a river.","store":false}`)
		if status != 200 || string(got) != answer || h.Get("X-Semgate-Cache") != "miss" {
			t.Fatalf("%d: %d %q %s", i, status, h.Get("X-Semgate-Cache"), got)
		}
	}
	if _, _, _, _, calls := rc.last(); calls != 2 {
		t.Fatalf("upstream calls %d, want 2", calls)
	}
}

// TestMetricsPerAPI: requests through the fronts are counted under their
// own API, not as chat; every API's duration series exists from the start.
func TestMetricsPerAPI(t *testing.T) {
	ts := newTestServer(t, upstreamConfig(), nil)
	metricsBody := func() string {
		resp, err := http.Get(ts.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		return string(readBody(t, resp))
	}
	for _, api := range []string{"chat", "completions", "embeddings", "responses", "messages"} {
		if !strings.Contains(metricsBody(), `semgate_request_duration_seconds_bucket{endpoint="`+api+`",le="`) {
			t.Fatalf("no duration series for %s at start", api)
		}
	}
	post(t, ts.URL+"/v1/messages", `{"model":"mock-small","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}`)
	post(t, ts.URL+"/v1/messages", `{"model":"nope","max_tokens":20,"messages":[{"role":"user","content":"hi"}]}`)
	post(t, ts.URL+"/v1/responses", `{"model":"mock-small","input":"hi"}`)
	post(t, ts.URL+"/v1/responses", `{"model":"mock-small","input":"hi"}`)
	post(t, ts.URL+"/v1/chat/completions", `{"model":"mock-small","messages":[{"role":"user","content":"hi"}]}`)
	body := metricsBody()
	for _, want := range []string{
		`semgate_requests_total{endpoint="messages",status="200"} 1`,
		`semgate_requests_total{endpoint="messages",status="404"} 1`,
		`semgate_requests_total{endpoint="responses",status="200"} 2`,
		`semgate_requests_total{endpoint="chat",status="200"} 1`,
		`semgate_request_duration_seconds_count{endpoint="responses"} 2`,
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("metrics lack %s:\n%s", want, body)
		}
	}
}

// TestFrontsAdmitBeforeReading: the Messages and Responses fronts check
// server.max_in_flight before reading a body: a request still sending its
// body holds a slot, and the next one is refused in its API's shape
// before its (malformed) body is looked at.
func TestFrontsAdmitBeforeReading(t *testing.T) {
	ts := newTestServer(t, "server: {max_in_flight: 1}\n"+upstreamConfig(), nil)
	send := func(path string, body io.Reader) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+path, body)
		req.Header.Set("Content-Type", "application/json")
		return http.DefaultClient.Do(req)
	}
	// A holds the only slot while it sends its body.
	apr, apw := io.Pipe()
	t.Cleanup(func() { apw.CloseWithError(io.ErrUnexpectedEOF) }) // before the server's cleanup, on failure
	done := make(chan int, 1)
	go func() {
		resp, err := send("/v1/messages", apr)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	apw.Write([]byte(`{"model":"mock-small",`))
	deadline := time.Now().Add(5 * time.Second)
	for ts.inFlight.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	for _, tc := range []struct{ path, check string }{
		{"/v1/messages", "error.type"},
		{"/v1/responses", "error.code"},
		{"/v1/messages/count_tokens", "error.type"},
	} {
		// B's body is malformed: read first, it would be a 400.
		resp := post(t, ts.URL+tc.path, `{"model":`)
		got := readBody(t, resp)
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || !gjson.GetBytes(got, tc.check).Exists() {
			t.Fatalf("%s: %d %v %s", tc.path, resp.StatusCode, resp.Header, got)
		}
		if tc.path != "/v1/responses" && gjson.GetBytes(got, "type").Str != "error" {
			t.Fatalf("%s: not Anthropic's shape: %s", tc.path, got)
		}
	}
	apw.Write([]byte(`"max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`))
	apw.Close()
	if code := <-done; code != 200 {
		t.Fatalf("the admitted request got %d", code)
	}
}

// TestMessagesThinkingBypassesCache: thinking and top_k are left out of the
// chat translation that keys the cache, so a request with them is neither
// served what an identical request without them stored, nor stored.
func TestMessagesThinkingBypassesCache(t *testing.T) {
	rc, url := mockNativeUpstream(t)
	ts := newTestServer(t, anthropicConfig(url, false), nil)
	plain := `{"model":"claude","max_tokens":2000,"messages":[{"role":"user","content":"Name three rivers."}]}`
	if _, h, _ := rawPost(t, ts.URL+"/v1/messages", plain); h.Get("X-Semgate-Cache") != "miss" {
		t.Fatalf("plain: %q", h.Get("X-Semgate-Cache"))
	}
	for i, body := range []string{
		strings.Replace(plain, `"messages"`, `"thinking":{"type":"enabled","budget_tokens":1024},"messages"`, 1),
		strings.Replace(plain, `"messages"`, `"top_k":5,"messages"`, 1),
	} {
		status, h, _ := rawPost(t, ts.URL+"/v1/messages", body)
		if _, _, ubody, _, calls := rc.last(); status != 200 || h.Get("X-Semgate-Cache") != "bypass" || calls != i+2 || string(ubody) != strings.Replace(body, `"claude"`, `"claude-sonnet-4-5"`, 1) {
			t.Fatalf("%d: %d %q calls %d, upstream got %s", i, status, h.Get("X-Semgate-Cache"), calls, ubody)
		}
	}
	if _, h, _ := rawPost(t, ts.URL+"/v1/messages", plain); h.Get("X-Semgate-Cache") != "hit-exact" {
		t.Fatalf("plain again: %q", h.Get("X-Semgate-Cache"))
	}
}

// TestNativeUntranslatable: a Messages request chat cannot express (a
// server tool) passes through to an Anthropic deployment as sent, past the
// cache; an alias without one answers 400 naming the field, as before.
func TestNativeUntranslatable(t *testing.T) {
	rc, url := anthropicFake(t, 200, thinkingMessage)
	cfg := strings.Replace(anthropicConfig(url, true), "models:\n", "  - name: upa\n    type: openai\n    base_url: "+url+"\n    api_key: k\nmodels:\n", 1)
	ts := newTestServer(t, cfg+"  - name: chat-only\n    deployments:\n      - provider: upa\n        model: m\n", nil)
	body := `{"model":"claude","max_tokens":100,"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":2}],"messages":[{"role":"user","content":"News?"}]}`
	for range 2 {
		status, h, got := rawPost(t, ts.URL+"/v1/messages", body)
		_, _, ubody, _, _ := rc.last()
		if status != 200 || string(got) != thinkingMessage || h.Get("X-Semgate-Cache") != "bypass" || h.Get("X-Semgate-Provider") != "ant" ||
			string(ubody) != strings.Replace(body, `"claude"`, `"claude-sonnet-4-5"`, 1) {
			t.Fatalf("%d %v %s; upstream got %s", status, h, got, ubody)
		}
	}
	if _, _, _, _, calls := rc.last(); calls != 2 {
		t.Fatalf("upstream calls %d", calls)
	}
	status, _, got := rawPost(t, ts.URL+"/v1/messages", strings.Replace(body, `"claude"`, `"chat-only"`, 1))
	if status != 400 || gjson.GetBytes(got, "error.type").Str != "invalid_request_error" || !strings.Contains(string(got), "web_search") {
		t.Fatalf("chat-only: %d %s", status, got)
	}
}

// TestNativeStreamBrokenOff: a passed-through stream the upstream cuts off
// reaches the client as sent, then ends with Anthropic's error event; it
// is not stored.
func TestNativeStreamBrokenOff(t *testing.T) {
	cut := thinkingStream[:strings.Index(thinkingStream, "event: message_delta")]
	cut = strings.Replace(cut, `"type":"thinking","thinking":""`, `"type":"text","text":""`, 1)
	cut = strings.Replace(cut, `{"type":"thinking_delta","thinking":"Rivers..."}`, `{"type":"text_delta","text":"Rivers..."}`, 1)
	rc, url := anthropicFake(t, 200, cut)
	ts := newTestServer(t, anthropicConfig(url, false), nil)
	body := `{"model":"claude","max_tokens":20,"stream":true,"messages":[{"role":"user","content":"hi"}]}`
	for range 2 {
		status, _, got := rawPost(t, ts.URL+"/v1/messages", body)
		rest, ok := strings.CutPrefix(string(got), cut)
		if status != 200 || !ok || !strings.HasPrefix(rest, "event: error\ndata: ") || gjson.Get(strings.TrimPrefix(strings.SplitN(rest, "\n", 3)[1], "data: "), "error.type").Str == "" {
			t.Fatalf("%d %s", status, got)
		}
	}
	if _, _, _, _, calls := rc.last(); calls != 2 {
		t.Fatalf("upstream calls %d: a broken stream was stored", calls)
	}
}

// TestNativeRecordedFixtures: Anthropic answers recorded from the real API
// (providers/anthropic/testdata) reach the client byte for byte through
// /v1/messages; complete ones are stored and the next identical request is
// a hit with the same text and tool calls; a stream ending in Anthropic's
// error event is relayed with it, and not stored.
func TestNativeRecordedFixtures(t *testing.T) {
	for _, tc := range []struct {
		file   string
		stored bool
	}{
		{"chat_text.json", true},
		{"chat_tool_use.json", true},
		{"stream_text.sse", true},
		{"stream_tool_use.sse", true},
		{"stream_error.sse", false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			fixture, err := os.ReadFile(filepath.Join("..", "providers", "anthropic", "testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			rc, url := anthropicFake(t, 200, string(fixture))
			ts := newTestServer(t, anthropicConfig(url, false), nil)
			stream := strings.HasSuffix(tc.file, ".sse")
			body := `{"model":"claude","max_tokens":200,"stream":` + strconv.FormatBool(stream) + `,"messages":[{"role":"user","content":"` + tc.file + `"}]}`
			status, _, got := rawPost(t, ts.URL+"/v1/messages", body)
			if status != 200 || !bytes.Equal(got, fixture) {
				t.Fatalf("%d: not byte for byte:\n%s", status, got)
			}
			client := anthropicClient(ts, "k")
			p := anthropic.MessageNewParams{Model: "claude", MaxTokens: 200,
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(tc.file))}}
			var resp *http.Response
			if !tc.stored {
				s := client.Messages.NewStreaming(context.Background(), p, aoption.WithResponseInto(&resp))
				for s.Next() {
				}
				if s.Err() == nil || resp.Header.Get("X-Semgate-Cache") != "miss" {
					t.Fatalf("want the upstream's error again, got %v (%s)", s.Err(), resp.Header.Get("X-Semgate-Cache"))
				}
				if _, _, _, _, calls := rc.last(); calls != 2 {
					t.Fatalf("upstream calls %d", calls)
				}
				return
			}
			var miss anthropic.Message
			if err := json.Unmarshal(fixture, &miss); !stream && err != nil {
				t.Fatal(err)
			}
			var hit *anthropic.Message
			if stream {
				hit = readMessageStream(t, client, p, aoption.WithResponseInto(&resp))
			} else if hit, err = client.Messages.New(context.Background(), p, aoption.WithResponseInto(&resp)); err != nil {
				t.Fatal(err)
			}
			if _, _, _, _, calls := rc.last(); resp.Header.Get("X-Semgate-Cache") != "hit-exact" || calls != 1 {
				t.Fatalf("second: %q, upstream calls %d", resp.Header.Get("X-Semgate-Cache"), calls)
			}
			if stream {
				var want strings.Builder
				for line := range strings.SplitSeq(string(fixture), "\n") {
					if d, ok := strings.CutPrefix(line, "data: "); ok && gjson.Get(d, "delta.type").Str == "text_delta" {
						want.WriteString(gjson.Get(d, "delta.text").Str)
					}
				}
				if messageText(hit) == "" || messageText(hit) != want.String() || hit.StopReason == "" {
					t.Fatalf("hit text %q, want %q", messageText(hit), want.String())
				}
				return
			}
			if messageText(hit) != messageText(&miss) || hit.StopReason != miss.StopReason || len(hit.Content) != len(miss.Content) {
				t.Fatalf("hit %+v\nmiss %+v", hit, miss)
			}
		})
	}
}

// TestNativeCoalesced: identical Messages requests arriving together cost
// one passed-through upstream call; the follower is served the leader's
// chat form, translated, with the same text.
func TestNativeCoalesced(t *testing.T) {
	h, err := mock.NewHandler(mock.Options{TTFT: 300 * time.Millisecond, InterTokenDelay: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	rc, url := newNativeRecorder(t, h)
	ts := newTestServer(t, anthropicConfig(url, false), nil)
	client := anthropicClient(ts, "k")
	for _, stream := range []bool{false, true} {
		p := anthropic.MessageNewParams{Model: "claude", MaxTokens: 100,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Together " + strconv.FormatBool(stream)))}}
		_, _, _, _, before := rc.last()
		var wg sync.WaitGroup
		texts, caches := make([]string, 2), make([]string, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i == 1 {
					time.Sleep(100 * time.Millisecond) // the leader is upstream by now
				}
				var resp *http.Response
				var m *anthropic.Message
				if stream {
					m = readMessageStream(t, client, p, aoption.WithResponseInto(&resp))
				} else {
					var err error
					if m, err = client.Messages.New(context.Background(), p, aoption.WithResponseInto(&resp)); err != nil {
						t.Error(err)
						return
					}
				}
				texts[i], caches[i] = messageText(m), resp.Header.Get("X-Semgate-Cache")
			}()
		}
		wg.Wait()
		if _, _, _, _, after := rc.last(); after != before+1 || !(caches[0] == "miss" && caches[1] == "hit-coalesced" || caches[1] == "miss" && caches[0] == "hit-coalesced") || texts[0] == "" || texts[0] != texts[1] {
			t.Fatalf("stream %v: upstream calls %d, caches %q, texts %q", stream, after-before, caches, texts)
		}
	}
}

// TestResponsesFlagOpenAIOnly: responses: true belongs to openai
// providers.
func TestResponsesFlagOpenAIOnly(t *testing.T) {
	_, err := ParseConfig([]byte("providers:\n  - name: a\n    type: anthropic\n    api_key: k\n    responses: true\nmodels:\n  - name: m\n    deployments:\n      - provider: a\n"), func(string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), "responses") {
		t.Fatalf("%v", err)
	}
	if _, err := ParseConfig([]byte(responsesConfig("http://127.0.0.1:1")), func(string) (string, bool) { return "", false }); err != nil {
		t.Fatal(err)
	}
}

// TestNativeResponsesStreamBrokenOff: a passed-through Responses stream
// the upstream cuts off ends with the API's error event, numbered after
// the last event the client got.
func TestNativeResponsesStreamBrokenOff(t *testing.T) {
	cut := "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"created_at\":1,\"status\":\"in_progress\",\"model\":\"gpt-4.1\",\"output\":[]}}\n\n" +
		"event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"sequence_number\":1,\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[]}}\n\n" +
		"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":2,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Nile\"}\n\n"
	_, url := newNativeRecorder(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, cut)
	}))
	ts := newTestServer(t, responsesConfig(url), nil)
	status, _, got := rawPost(t, ts.URL+"/v1/responses", `{"model":"gpt","input":"A river?","stream":true}`)
	rest, ok := strings.CutPrefix(string(got), cut)
	data, _ := strings.CutPrefix(strings.SplitN(rest, "\n", 3)[1], "data: ")
	if status != 200 || !ok || !strings.HasPrefix(rest, "event: error\n") || gjson.Get(data, "type").Str != "error" || gjson.Get(data, "sequence_number").Int() != 3 || gjson.Get(data, "message").Str == "" {
		t.Fatalf("%d %s", status, got)
	}
}
