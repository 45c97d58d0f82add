package codec

import (
	"errors"
	"io"
	"strconv"

	"github.com/semgate/semgate/providers/jsonx"
	"github.com/semgate/semgate/providers/sse"
	"github.com/tidwall/gjson"
)

// Responses answers into Chat Completions: the reverse of Response and
// ResponsesStream, for a Responses request passed through to an upstream
// that speaks that API, whose answer the gateway caches and accounts in
// chat form. Output items chat cannot carry (reasoning, hosted tool
// calls) and annotations are left out; the caller decides whether such an
// answer may be reused.

// chatUsageOf renders a Responses usage object as a chat usage object.
func chatUsageOf(dst []byte, u gjson.Result) []byte {
	in, out := u.Get("input_tokens").Int(), u.Get("output_tokens").Int()
	dst = append(dst, `{"prompt_tokens":`...)
	dst = strconv.AppendInt(dst, in, 10)
	dst = append(dst, `,"completion_tokens":`...)
	dst = strconv.AppendInt(dst, out, 10)
	dst = append(dst, `,"total_tokens":`...)
	dst = strconv.AppendInt(dst, in+out, 10)
	dst = append(dst, `,"prompt_tokens_details":{"cached_tokens":`...)
	dst = strconv.AppendInt(dst, u.Get("input_tokens_details.cached_tokens").Int(), 10)
	dst = append(dst, `},"completion_tokens_details":{"reasoning_tokens":`...)
	dst = strconv.AppendInt(dst, u.Get("output_tokens_details.reasoning_tokens").Int(), 10)
	return append(dst, "}}"...)
}

// finishOf maps a Response's status and incomplete reason, and whether it
// called functions, to a chat finish_reason.
func finishOf(r gjson.Result, calls bool) string {
	if r.Get("status").Str == "incomplete" {
		if r.Get("incomplete_details.reason").Str == "content_filter" {
			return "content_filter"
		}
		return "length"
	}
	if calls {
		return "tool_calls"
	}
	return "stop"
}

// ChatFromResponse translates a Responses API Response object into a
// chat.completion: the output text of its message items becomes the
// message's content, refusals its refusal, function_call items its
// tool_calls. A failed response, or a body that is not a Response, is an
// *Error wrapping ErrUpstream.
func ChatFromResponse(response []byte) ([]byte, error) {
	if !gjson.ValidBytes(response) {
		return nil, upstreamf("the response is not valid JSON")
	}
	r := gjson.ParseBytes(response)
	if r.Get("object").Str != "response" {
		return nil, upstreamf("expected a response object")
	}
	if r.Get("status").Str == "failed" {
		return nil, upstreamf("the response failed: %s", r.Get("error.message").Str)
	}
	var text, refusal []byte
	hasText, hasRefusal := false, false
	var calls []byte
	n := 0
	r.Get("output").ForEach(func(_, it gjson.Result) bool {
		switch it.Get("type").Str {
		case "message":
			it.Get("content").ForEach(func(_, p gjson.Result) bool {
				switch p.Get("type").Str {
				case "output_text":
					text, hasText = append(text, p.Get("text").Str...), true
				case "refusal":
					refusal, hasRefusal = append(refusal, p.Get("refusal").Str...), true
				}
				return true
			})
		case "function_call":
			if n > 0 {
				calls = append(calls, ',')
			}
			calls = append(calls, `{"id":`...)
			calls = jsonx.AppendString(calls, it.Get("call_id").Str)
			calls = append(calls, `,"type":"function","function":{"name":`...)
			calls = jsonx.AppendString(calls, it.Get("name").Str)
			calls = append(calls, `,"arguments":`...)
			calls = jsonx.AppendString(calls, it.Get("arguments").Str)
			calls = append(calls, "}}"...)
			n++
		}
		return true
	})
	b := append([]byte(nil), `{"id":`...)
	b = jsonx.AppendString(b, r.Get("id").Str)
	b = append(b, `,"object":"chat.completion","created":`...)
	b = strconv.AppendInt(b, r.Get("created_at").Int(), 10)
	b = append(b, `,"model":`...)
	b = jsonx.AppendString(b, r.Get("model").Str)
	b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	if hasText {
		b = jsonx.AppendString(b, string(text))
	} else {
		b = append(b, "null"...)
	}
	if hasRefusal {
		b = append(b, `,"refusal":`...)
		b = jsonx.AppendString(b, string(refusal))
	}
	if n > 0 {
		b = append(b, `,"tool_calls":[`...)
		b = append(b, calls...)
		b = append(b, ']')
	}
	b = append(b, `},"finish_reason":`...)
	b = jsonx.AppendString(b, finishOf(r, n > 0))
	b = append(b, "}]"...)
	if u := r.Get("usage"); u.IsObject() {
		b = append(b, `,"usage":`...)
		b = chatUsageOf(b, u)
	}
	return append(b, '}'), nil
}

// ChatStreamFromResponses returns a reader of the chat.completion.chunk
// stream a Responses event stream (body) translates into, ending with
// "data: [DONE]" after a chunk carrying the usage. An "error" or
// "response.failed" event becomes a chat error event ending the stream
// without [DONE]; a stream cut short is an *Error wrapping ErrUpstream
// from Read. It translates as it is read and closes body when closed.
func ChatStreamFromResponses(body io.ReadCloser) io.ReadCloser {
	return &responsesChat{body: body, events: sse.NewReader(body)}
}

type responsesChat struct {
	body   io.ReadCloser
	events *sse.Reader
	out    []byte
	off    int
	err    error

	base  []byte         // `{"id":…,"object":…,"created":…,"model":…,`
	tools map[int64]int  // output_index → tool call index
	named map[int64]bool // output_index of calls already announced
}

func (c *responsesChat) Read(p []byte) (int, error) {
	for c.off == len(c.out) {
		if c.err != nil {
			return 0, c.err
		}
		c.out, c.off = c.out[:0], 0
		if err := c.step(); err != nil {
			c.err = err
		}
	}
	n := copy(p, c.out[c.off:])
	c.off += n
	return n, nil
}

func (c *responsesChat) Close() error { return c.body.Close() }

// chunk appends one chunk with the given choice delta (raw JSON) and
// finish_reason ("" for null).
func (c *responsesChat) chunk(delta string, finish string) {
	c.out = append(c.out, "data: "...)
	c.out = append(c.out, c.base...)
	c.out = append(c.out, `"choices":[{"index":0,"delta":`...)
	c.out = append(c.out, delta...)
	c.out = append(c.out, `,"finish_reason":`...)
	if finish == "" {
		c.out = append(c.out, "null"...)
	} else {
		c.out = jsonx.AppendString(c.out, finish)
	}
	c.out = append(c.out, "}]}\n\n"...)
}

func (c *responsesChat) fail(message string) error {
	c.out = append(c.out, `data: {"error":{"message":`...)
	c.out = jsonx.AppendString(c.out, message)
	c.out = append(c.out, `,"type":"upstream_error","param":null,"code":null}}`+"\n\n"...)
	return io.EOF
}

func (c *responsesChat) step() error {
	ev, err := c.events.Next()
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return upstreamf("the responses stream ended before response.completed")
		}
		return err
	}
	if !gjson.ValidBytes(ev.Data) {
		return upstreamf("event %q: data is not valid JSON", ev.Name)
	}
	d := gjson.ParseBytes(ev.Data)
	typ := d.Get("type").Str
	if typ == "" {
		typ = string(ev.Name)
	}
	if c.base == nil && typ != "error" {
		r := d.Get("response")
		if typ != "response.created" || !r.IsObject() {
			return upstreamf("event %q before response.created", typ)
		}
		c.base = append(c.base, `{"id":`...)
		c.base = jsonx.AppendString(c.base, r.Get("id").Str)
		c.base = append(c.base, `,"object":"chat.completion.chunk","created":`...)
		c.base = strconv.AppendInt(c.base, r.Get("created_at").Int(), 10)
		c.base = append(c.base, `,"model":`...)
		c.base = jsonx.AppendString(c.base, r.Get("model").Str)
		c.base = append(c.base, ',')
		c.tools, c.named = map[int64]int{}, map[int64]bool{}
		c.chunk(`{"role":"assistant","content":""}`, "")
		return nil
	}
	switch typ {
	case "error":
		msg := d.Get("message").Str
		if msg == "" {
			msg = d.Get("error.message").Str
		}
		return c.fail("the upstream's responses stream failed: " + msg)
	case "response.failed":
		return c.fail("the response failed: " + d.Get("response.error.message").Str)
	case "response.output_text.delta":
		c.chunk(`{"content":`+string(jsonx.AppendString(nil, d.Get("delta").Str))+`}`, "")
	case "response.refusal.delta":
		c.chunk(`{"refusal":`+string(jsonx.AppendString(nil, d.Get("delta").Str))+`}`, "")
	case "response.output_item.added":
		it := d.Get("item")
		if it.Get("type").Str != "function_call" {
			return nil
		}
		oi := d.Get("output_index").Int()
		k := len(c.tools)
		c.tools[oi] = k
		b := append([]byte(`{"tool_calls":[{"index":`), strconv.Itoa(k)...)
		b = append(b, `,"id":`...)
		b = jsonx.AppendString(b, it.Get("call_id").Str)
		b = append(b, `,"type":"function","function":{"name":`...)
		b = jsonx.AppendString(b, it.Get("name").Str)
		b = append(b, `,"arguments":`...)
		b = jsonx.AppendString(b, it.Get("arguments").Str)
		c.chunk(string(append(b, "}}]}"...)), "")
	case "response.function_call_arguments.delta":
		k, ok := c.tools[d.Get("output_index").Int()]
		if !ok {
			return upstreamf("arguments for an unknown function call")
		}
		b := append([]byte(`{"tool_calls":[{"index":`), strconv.Itoa(k)...)
		b = append(b, `,"function":{"arguments":`...)
		b = jsonx.AppendString(b, d.Get("delta").Str)
		c.chunk(string(append(b, "}}]}"...)), "")
	case "response.completed", "response.incomplete":
		r := d.Get("response")
		c.chunk(`{}`, finishOf(r, len(c.tools) > 0))
		if u := r.Get("usage"); u.IsObject() {
			c.out = append(c.out, "data: "...)
			c.out = append(c.out, c.base...)
			c.out = append(c.out, `"choices":[],"usage":`...)
			c.out = chatUsageOf(c.out, u)
			c.out = append(c.out, "}\n\n"...)
		}
		c.out = append(c.out, "data: [DONE]\n\n"...)
		return io.EOF
	}
	// Other events (in_progress, content parts, reasoning, hosted tools,
	// the .done events repeating what the deltas said): nothing in chat.
	return nil
}
