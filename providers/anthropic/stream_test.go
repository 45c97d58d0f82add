package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/sse"
)

// sseEvents renders Anthropic events: each data string becomes one event
// named after its "type".
func sseEvents(data ...string) string {
	var b []byte
	for _, d := range data {
		b = sse.AppendEvent(b, []byte(gjson.Get(d, "type").Str), []byte(d))
	}
	return string(b)
}

const (
	evStart     = `{"type":"message_start","message":{"id":"msg_s","type":"message","role":"assistant","content":[],"model":"claude","stop_reason":null,"usage":{"input_tokens":5,"output_tokens":1}}}`
	evTextStart = `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`
	evStop      = `{"type":"message_stop"}`
)

func runStream(t *testing.T, upstream string, mode streamMode, includeUsage bool) ([]byte, error) {
	t.Helper()
	s := newStream("test", io.NopCloser(strings.NewReader(upstream)), mode, "m", fixedCreated, includeUsage)
	out, err := io.ReadAll(s)
	if err == nil {
		// io.ReadAll hides io.EOF; make sure the end is sticky.
		if n, err2 := s.Read(make([]byte, 8)); n != 0 || err2 != io.EOF {
			t.Errorf("Read after end = %d, %v; want 0, EOF", n, err2)
		}
	}
	return out, err
}

// chunks decodes the data of every output event, checking the framing.
func chunks(t *testing.T, out []byte) []gjson.Result {
	t.Helper()
	r := sse.NewReader(bytes.NewReader(out))
	var res []gjson.Result
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return res
		}
		if err != nil {
			t.Fatalf("output is not a clean event stream: %v\n%s", err, out)
		}
		if len(ev.Name) != 0 {
			t.Errorf("unexpected event name %q", ev.Name)
		}
		if bytes.Equal(ev.Data, sse.Done) {
			res = append(res, gjson.Result{Type: gjson.String, Str: "[DONE]"})
			continue
		}
		if !json.Valid(ev.Data) {
			t.Fatalf("chunk is not JSON: %s", ev.Data)
		}
		res = append(res, gjson.ParseBytes(ev.Data))
	}
}

func TestStreamChunkSequence(t *testing.T) {
	out, err := translateStream(t, "stream_tool_use.sse", modeChat, true, 4096)
	if err != nil {
		t.Fatal(err)
	}
	cs := chunks(t, out)
	if len(cs) < 4 {
		t.Fatalf("only %d chunks", len(cs))
	}
	if cs[0].Get("choices.0.delta.role").Str != "assistant" {
		t.Errorf("first chunk lacks the role: %s", cs[0].Raw)
	}
	var content strings.Builder
	args := map[int64]*strings.Builder{}
	ids := map[int64]string{}
	finishes := 0
	for i, c := range cs[:len(cs)-2] {
		if c.Get("object").Str != "chat.completion.chunk" || c.Get("id").Str != "msg_014p7gG3wDgGV9EUtLvnow3U" ||
			c.Get("model").Str != "claude-sonnet-4-5" || c.Get("created").Int() != fixedCreated {
			t.Errorf("chunk %d header: %s", i, c.Raw)
		}
		if n := len(c.Get("choices").Array()); n != 1 {
			t.Fatalf("chunk %d has %d choices", i, n)
		}
		content.WriteString(c.Get("choices.0.delta.content").Str)
		for _, tc := range c.Get("choices.0.delta.tool_calls").Array() {
			k := tc.Get("index").Int()
			if id := tc.Get("id"); id.Exists() {
				ids[k] = id.Str
				args[k] = &strings.Builder{}
			}
			if args[k] == nil {
				t.Fatalf("arguments for tool %d before its id", k)
			}
			args[k].WriteString(tc.Get("function.arguments").Str)
		}
		if fr := c.Get("choices.0.finish_reason"); fr.Type != gjson.Null {
			finishes++
			if fr.Str != "tool_calls" || i != len(cs)-3 {
				t.Errorf("finish_reason %s in chunk %d of %d", fr.Raw, i, len(cs))
			}
		}
	}
	if finishes != 1 {
		t.Errorf("%d chunks carry a finish_reason, want 1", finishes)
	}
	if got := content.String(); got != "Okay, let's check the weather." {
		t.Errorf("content = %q", got)
	}
	if ids[0] != "toolu_01T1x1fJ34qAmk2tNTrN7Up6" || ids[1] != "toolu_01QnFpJmZTv8m3xV2ydYxKwP" {
		t.Errorf("tool ids = %v", ids)
	}
	var loc struct{ Location, Unit string }
	if err := json.Unmarshal([]byte(args[0].String()), &loc); err != nil || loc.Location != "San Francisco, CA" || loc.Unit != "fahrenheit" {
		t.Errorf("tool 0 arguments %q: %v", args[0].String(), err)
	}
	if args[1].String() != "{}" {
		t.Errorf("tool 1 arguments = %q, want {}", args[1].String())
	}
	usage := cs[len(cs)-2]
	if len(usage.Get("choices").Array()) != 0 || !usage.Get("choices").IsArray() || usage.Get("usage.prompt_tokens").Int() != 472 ||
		usage.Get("usage.completion_tokens").Int() != 89 || usage.Get("usage.total_tokens").Int() != 561 {
		t.Errorf("usage chunk: %s", usage.Raw)
	}
	if cs[len(cs)-1].Str != "[DONE]" {
		t.Errorf("last event is not [DONE]")
	}
}

func TestStreamNoUsageChunkByDefault(t *testing.T) {
	out, err := translateStream(t, "stream_text.sse", modeChat, false, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte(`"usage"`)) {
		t.Errorf("usage sent without include_usage:\n%s", out)
	}
}

func TestStreamErrorEvent(t *testing.T) {
	for _, mode := range []streamMode{modeChat, modeCompletion} {
		out, err := translateStream(t, "stream_error.sse", mode, true, 4096)
		var pe *providers.Error
		if !errors.As(err, &pe) {
			t.Fatalf("err = %v, want *providers.Error", err)
		}
		if !errors.Is(err, providers.ErrStatus) || errors.Is(err, providers.ErrBadResponse) {
			t.Errorf("err = %v, want ErrStatus", err)
		}
		if pe.Status != StatusOverloaded || pe.Type != "server_error" || pe.Code != "overloaded" || pe.Message != "Overloaded" || pe.Provider != "test" {
			t.Errorf("error fields: %+v", pe)
		}
		if bytes.Contains(out, []byte("[DONE]")) || bytes.Contains(out, []byte(`"finish_reason":"`)) {
			t.Errorf("stream ended as if complete:\n%s", out)
		}
		if !bytes.Contains(out, []byte("Once upon a time")) {
			t.Errorf("text before the error was lost:\n%s", out)
		}
	}
}

func TestStreamErrorEventUnknownType(t *testing.T) {
	_, err := runStream(t, sseEvents(evStart, `{"type":"error","error":{"type":"brand_new_error","message":"boom"}}`), modeChat, false)
	var pe *providers.Error
	if !errors.As(err, &pe) || !errors.Is(err, providers.ErrStatus) {
		t.Fatalf("err = %v", err)
	}
	if pe.Status != 500 || pe.Type != "upstream_error" || pe.Code != "brand_new_error" || pe.Message != "boom" {
		t.Errorf("error fields: %+v", pe)
	}
	_, err = runStream(t, sseEvents(evStart, `{"type":"error"}`), modeChat, false)
	if !errors.As(err, &pe) || !errors.Is(err, providers.ErrStatus) || pe.Message == "" {
		t.Fatalf("bare error event: %v", err)
	}
}

// Every truncation of a recorded stream must fail, never end with [DONE].
func TestStreamTruncated(t *testing.T) {
	for _, fixture := range []string{"stream_text.sse", "stream_tool_use.sse"} {
		full := readFixture(t, fixture)
		for n := 0; n < len(full); n++ {
			s := newStream("test", io.NopCloser(bytes.NewReader(full[:n])), modeChat, "m", 0, true)
			out, err := io.ReadAll(s)
			if !errors.Is(err, providers.ErrBadResponse) {
				t.Fatalf("%s cut at %d: err = %v, want ErrBadResponse", fixture, n, err)
			}
			var pe *providers.Error
			if !errors.As(err, &pe) || pe.Provider != "test" {
				t.Fatalf("%s cut at %d: err = %#v", fixture, n, err)
			}
			if bytes.Contains(out, []byte("[DONE]")) {
				t.Fatalf("%s cut at %d: [DONE] sent", fixture, n)
			}
		}
	}
}

func TestStreamMalformed(t *testing.T) {
	toolStart := `{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t1","name":"f","input":{}}}`
	tests := []struct {
		name   string
		events []string
	}{
		{"invalid json", []string{evStart, `{"type":"content_block_delta",`}},
		{"not an object", []string{evStart, `["content_block_stop"]`}},
		{"delta before start", []string{`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}`}},
		{"stop before start", []string{evStop}},
		{"message_delta before start", []string{`{"type":"message_delta","delta":{"stop_reason":"end_turn"}}`}},
		{"duplicate start", []string{evStart, evStart}},
		{"start without id", []string{`{"type":"message_start","message":{"type":"message"}}`}},
		{"start without message", []string{`{"type":"message_start"}`}},
		{"missing index", []string{evStart, `{"type":"content_block_delta","delta":{"type":"text_delta","text":"x"}}`}},
		{"negative index", []string{evStart, `{"type":"content_block_stop","index":-1}`}},
		{"fractional index", []string{evStart, `{"type":"content_block_stop","index":0.5}`}},
		{"string index", []string{evStart, `{"type":"content_block_stop","index":"0"}`}},
		{"text not a string", []string{evStart, evTextStart, `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":7}}`}},
		{"text missing", []string{evStart, evTextStart, `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta"}}`}},
		{"json delta for text block", []string{evStart, evTextStart, `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{"}}`}},
		{"partial_json not a string", []string{evStart, toolStart, `{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":{}}}`}},
		{"tool without id", []string{evStart, `{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","name":"f","input":{}}}`}},
		{"tool without name", []string{evStart, `{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","input":{}}}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A well-formed ending must not rescue the stream.
			out, err := runStream(t, sseEvents(append(tc.events, evStop)...), modeChat, false)
			if !errors.Is(err, providers.ErrBadResponse) {
				t.Fatalf("err = %v, want ErrBadResponse", err)
			}
			if bytes.Contains(out, []byte("[DONE]")) {
				t.Errorf("[DONE] sent")
			}
			// The error is sticky.
			s := newStream("test", io.NopCloser(strings.NewReader(sseEvents(tc.events...))), modeChat, "m", 0, false)
			_, err1 := io.ReadAll(s)
			_, err2 := s.Read(make([]byte, 10))
			if err1 == nil || err2 != err1 {
				t.Errorf("errors not sticky: %v then %v", err1, err2)
			}
		})
	}
}

func TestStreamLenient(t *testing.T) {
	tests := []struct {
		name    string
		events  []string
		content string
		args    string
		finish  string
	}{
		{"ping and unknown events ignored", []string{evStart, `{"type":"ping"}`, `{"type":"brand_new_event","x":1}`, evTextStart,
			`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"}}`, `{"type":"content_block_stop","index":0}`, evStop}, "a", "", "stop"},
		{"thinking dropped", []string{evStart,
			`{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}`,
			`{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"hmm"}}`,
			`{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sig"}}`,
			`{"type":"content_block_stop","index":0}`,
			`{"type":"content_block_start","index":1,"content_block":{"type":"text","text":"pre"}}`,
			`{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"fix"}}`,
			`{"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"output_tokens":3}}`, evStop}, "prefix", "", "length"},
		{"tool with initial input", []string{evStart,
			`{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t","name":"f","input":{"a": 1}}}`,
			`{"type":"content_block_stop","index":0}`,
			`{"type":"message_delta","delta":{"stop_reason":"tool_use"}}`, evStop}, "", `{"a":1}`, "tool_calls"},
		{"refusal", []string{evStart, `{"type":"message_delta","delta":{"stop_reason":"refusal"}}`, evStop}, "", "", "content_filter"},
		{"event name fallback", nil, "", "", "stop"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			upstream := sseEvents(tc.events...)
			if tc.events == nil {
				// Data without "type": the SSE event name decides.
				upstream = "event: message_start\ndata: {\"message\":{\"id\":\"m\"}}\n\nevent: message_stop\ndata: {}\n\n"
			}
			out, err := runStream(t, upstream, modeChat, false)
			if err != nil {
				t.Fatal(err)
			}
			var content, args strings.Builder
			finish := ""
			for _, c := range chunks(t, out) {
				content.WriteString(c.Get("choices.0.delta.content").Str)
				args.WriteString(c.Get("choices.0.delta.tool_calls.0.function.arguments").Str)
				if fr := c.Get("choices.0.finish_reason"); fr.Type == gjson.String {
					finish = fr.Str
				}
			}
			if content.String() != tc.content || args.String() != tc.args || finish != tc.finish {
				t.Errorf("content %q args %q finish %q; want %q %q %q\n%s", content.String(), args.String(), finish, tc.content, tc.args, tc.finish, out)
			}
		})
	}
}

func TestStreamUsageCumulative(t *testing.T) {
	upstream := sseEvents(
		`{"type":"message_start","message":{"id":"m","usage":{"input_tokens":10,"cache_read_input_tokens":4,"cache_creation_input_tokens":2,"output_tokens":1}}}`,
		`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":7}}`,
		`{"type":"message_delta","delta":{},"usage":{"input_tokens":11,"output_tokens":9}}`,
		evStop)
	out, err := runStream(t, upstream, modeChat, true)
	if err != nil {
		t.Fatal(err)
	}
	cs := chunks(t, out)
	u := cs[len(cs)-2].Get("usage")
	if u.Raw != `{"prompt_tokens":17,"completion_tokens":9,"total_tokens":26,"prompt_tokens_details":{"cached_tokens":4}}` {
		t.Errorf("usage = %s", u.Raw)
	}
	if fr := cs[len(cs)-3].Get("choices.0.finish_reason").Str; fr != "stop" {
		t.Errorf("finish_reason = %q (a later message_delta without stop_reason must not clear it)", fr)
	}
}

func TestStreamInvalidUTF8(t *testing.T) {
	upstream := sseEvents(evStart, evTextStart,
		"{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"a\xffb\"}}", evStop)
	out, err := runStream(t, upstream, modeChat, false)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`"content":"a\ufffdb"`)) {
		t.Errorf("invalid UTF-8 not replaced:\n%s", out)
	}
}

// failingBody returns its data, then err.
type failingBody struct {
	r      io.Reader
	err    error
	closed bool
}

func (b *failingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, b.err
	}
	return n, err
}

func (b *failingBody) Close() error { b.closed = true; return nil }

func TestStreamUpstreamReadError(t *testing.T) {
	want := &providers.Error{Provider: "test", Type: "upstream_timeout", Err: providers.ErrTimeout}
	body := &failingBody{r: strings.NewReader(sseEvents(evStart, evTextStart)), err: want}
	s := newStream("test", body, modeChat, "m", 0, false)
	out, err := io.ReadAll(s)
	if err != want {
		t.Fatalf("err = %v, want the body's error unchanged", err)
	}
	if !bytes.Contains(out, []byte(`"role":"assistant"`)) {
		t.Errorf("output before the error lost: %s", out)
	}
	if err := s.Close(); err != nil || !body.closed {
		t.Errorf("Close = %v, closed = %v", err, body.closed)
	}
}

func TestStreamEventTooLong(t *testing.T) {
	s := newStream("test", io.NopCloser(strings.NewReader(sseEvents(evStart, `{"type":"ping","pad":"`+strings.Repeat("x", 64)+`"}`))), modeChat, "m", 0, false)
	s.events.SetMaxEventSize(32)
	_, err := io.ReadAll(s)
	if !errors.Is(err, providers.ErrBadResponse) {
		t.Fatalf("err = %v, want ErrBadResponse", err)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "\n\r\t\x00\x1f\x7f", "<&>", "é€😀", "\u2028\u2029", "bad\xffutf8\xc3", "\xed\xa0\x80"} {
		checkJSONString(t, s)
	}
}

func checkJSONString(t *testing.T, s string) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSuffix(buf.String(), "\n")
	if got := string(appendJSONString(nil, s)); got != want {
		t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("a\"b\\c\n\u2028\xff")
	f.Fuzz(func(t *testing.T, s string) { checkJSONString(t, s) })
}

// FuzzStream feeds arbitrary upstream bytes to the stream translator: it
// must not panic, must not loop, and must only end cleanly after a [DONE].
func FuzzStream(f *testing.F) {
	for _, name := range []string{"stream_text.sse", "stream_tool_use.sse", "stream_error.sse"} {
		b, err := readFixtureErr(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, mode := range []streamMode{modeChat, modeCompletion} {
			s := newStream("fuzz", io.NopCloser(bytes.NewReader(data)), mode, "m", 0, true)
			out, err := io.ReadAll(s)
			if err == nil && !bytes.HasSuffix(out, []byte("data: [DONE]\n\n")) {
				t.Fatalf("clean end without [DONE]: %q", out)
			}
			if err != nil && bytes.Contains(out, []byte("[DONE]")) {
				t.Fatalf("[DONE] before error %v", err)
			}
		}
	})
}

func BenchmarkStreamTranslate(b *testing.B) {
	for _, name := range []string{"stream_text.sse", "stream_tool_use.sse"} {
		b.Run(name, func(b *testing.B) {
			data := readFixture(b, name)
			body := bytes.NewReader(data)
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				body.Reset(data)
				s := newStream("bench", io.NopCloser(body), modeChat, "claude-sonnet-4-5", fixedCreated, true)
				for {
					_, err := s.Read(buf)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
