package mock

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestName(t *testing.T) {
	if p := newProvider(t, Options{}); p.Name() != "mock" {
		t.Fatalf("name %q", p.Name())
	}
	p, err := New("", Options{})
	if err != nil || p.Name() != DefaultModel {
		t.Fatalf("default name %q %v", p.Name(), err)
	}
}

// TestMessageKinds covers content parts, tool calls and tool results: all
// accepted, all part of the hash.
func TestMessageKinds(t *testing.T) {
	p := newProvider(t, Options{})
	conv := func(url, args, result string) string {
		return `{"model":"m","messages":[` +
			`{"role":"developer","content":"Use tools."},` +
			`{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"` + url + `"}},{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]},` +
			`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"look","arguments":"` + args + `"}}]},` +
			`{"role":"tool","tool_call_id":"call_1","content":"` + result + `"}]}`
	}
	answer := func(body string) (string, int) {
		var c chatCompletion
		decodeStrict(t, mustCall(t, p, chat, body), &c)
		return *c.Choices[0].Message.Content, c.Usage.PromptTokens
	}
	base, tokens := answer(conv("https://x/a.png", `{}`, "a cat"))
	if tokens < 85 {
		t.Fatalf("prompt tokens %d: the image is not counted", tokens)
	}
	for _, other := range []string{
		conv("https://x/b.png", `{}`, "a cat"),
		conv("https://x/a.png", `{\"zoom\":2}`, "a cat"),
		conv("https://x/a.png", `{}`, "a dog"),
	} {
		if got, _ := answer(other); got == base {
			t.Fatalf("%s: same answer as the base conversation", other)
		}
	}
}

// TestToolArgsUnicode streams arguments with multi-byte characters: each
// fragment is whole UTF-8 and they add up to the non-streamed arguments.
func TestToolArgsUnicode(t *testing.T) {
	p := newProvider(t, Options{})
	tools := `"tools":[{"type":"function","function":{"name":"say","parameters":{"type":"object","properties":{"text":{"enum":["日本語のテキストです","日本語のテキストです"]}},"required":["text"]}}}],"tool_choice":"required"`
	var whole chatCompletion
	decodeStrict(t, mustCall(t, p, chat, chatBody(tools)), &whole)
	want := whole.Choices[0].Message.ToolCalls[0].Function.Arguments
	if want != `{"text":"日本語のテキストです"}` {
		t.Fatalf("arguments %q", want)
	}
	s := parseChatStream(t, mustCall(t, p, chat, chatBody(tools+`,"stream":true`)))
	if s.args[0] != want {
		t.Fatalf("streamed %q, want %q", s.args[0], want)
	}
	for _, c := range s.chunks {
		for _, ch := range c.Choices {
			for _, tc := range ch.Delta.ToolCalls {
				if !utf8.ValidString(tc.Function.Arguments) || strings.ContainsRune(tc.Function.Arguments, utf8.RuneError) {
					t.Fatalf("fragment %q splits a character", tc.Function.Arguments)
				}
			}
		}
	}
}

func TestServerTooLarge(t *testing.T) {
	h, err := NewHandler(Options{})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader("{}"))
	req.ContentLength = MaxRequestBody + 1
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var e errorJSON
	decodeStrict(t, w.Body.Bytes(), &e)
	if w.Code != http.StatusRequestEntityTooLarge || e.Error.Message == "" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if !json.Valid(w.Body.Bytes()) {
		t.Fatal("invalid error body")
	}
}

// TestConcurrent hammers a Provider and a Handler from several goroutines,
// for the race detector.
func TestConcurrent(t *testing.T) {
	o := Options{FaultRate: 0.3, Faults: []string{"500", "truncate", "malformed"}}
	p := newProvider(t, o)
	h, srv := newServer(t, o)
	const workers, each = 4, 25
	done := make(chan struct{})
	for w := range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range each {
				body := chatBody(`"n":` + itoa(1+(w+i)%3) + `,"stream":` + map[bool]string{true: "true", false: "false"}[i%2 == 0])
				_, _ = call(t, p, chat, body)
				resp, err := post(t.Context(), srv, paths[chat], body)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	for range workers {
		<-done
	}
	if s, hs := p.Stats(), h.Stats(); s.Requests != workers*each || hs.Requests != workers*each || s.Faults == 0 || hs.Faults == 0 {
		t.Fatalf("stats %+v %+v", s, hs)
	}
}
