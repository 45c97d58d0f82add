package codec

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// The Chat Completions request the translators produce. Field order is
// the output order.
type chatRequest struct {
	Model                string          `json:"model"`
	Messages             []chatMessage   `json:"messages"`
	Tools                []chatTool      `json:"tools,omitempty"`
	ToolChoice           json.RawMessage `json:"tool_choice,omitempty"`
	ParallelToolCalls    *bool           `json:"parallel_tool_calls,omitempty"`
	ResponseFormat       json.RawMessage `json:"response_format,omitempty"`
	Temperature          *float64        `json:"temperature,omitempty"`
	TopP                 *float64        `json:"top_p,omitempty"`
	TopK                 *int64          `json:"top_k,omitempty"`
	MaxCompletionTokens  *int64          `json:"max_completion_tokens,omitempty"`
	Stop                 []string        `json:"stop,omitempty"`
	ReasoningEffort      string          `json:"reasoning_effort,omitempty"`
	Verbosity            string          `json:"verbosity,omitempty"`
	User                 string          `json:"user,omitempty"`
	SafetyIdentifier     string          `json:"safety_identifier,omitempty"`
	PromptCacheKey       string          `json:"prompt_cache_key,omitempty"`
	PromptCacheRetention string          `json:"prompt_cache_retention,omitempty"`
	ServiceTier          string          `json:"service_tier,omitempty"`
	Stream               bool            `json:"stream,omitempty"`
	StreamOptions        *streamOptions  `json:"stream_options,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// chatMessage is one message of a chat request. Content is a JSON string,
// an array of chatPart, or null (assistant messages with only tool calls).
type chatMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	Refusal    *string         `json:"refusal,omitempty"`
	ToolCalls  []chatToolCall  `json:"tool_calls,omitempty"`
	ToolCallID string          `json:"tool_call_id,omitempty"`
}

type chatPart struct {
	Type     string        `json:"type"`
	Text     *string       `json:"text,omitempty"`
	ImageURL *chatImageURL `json:"image_url,omitempty"`
	File     *chatFile     `json:"file,omitempty"`
}

type chatImageURL struct {
	URL    string `json:"url"`
	Detail string `json:"detail,omitempty"`
}

type chatFile struct {
	FileData string `json:"file_data,omitempty"`
	FileID   string `json:"file_id,omitempty"`
	Filename string `json:"filename,omitempty"`
}

type chatToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function chatFunction `json:"function"`
}

type chatFunction struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type chatTool struct {
	Type     string          `json:"type"`
	Function chatFunctionDef `json:"function"`
}

type chatFunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
	Strict      *bool           `json:"strict,omitempty"`
}

func textPart(s string) chatPart { return chatPart{Type: "text", Text: &s} }

func jsonString(s string) json.RawMessage { return marshal(s) }

// partsContent renders parts as a message's content: a plain string when
// they are a single text part (the form every chat server understands),
// an array otherwise.
func partsContent(parts []chatPart) json.RawMessage {
	if len(parts) == 1 && parts[0].Type == "text" {
		return jsonString(*parts[0].Text)
	}
	return marshal(parts)
}

// appendMessage appends m, merging tool calls into a directly preceding
// assistant message (chat wants one assistant message holding all the
// calls of a turn).
func appendToolCall(msgs []chatMessage, c chatToolCall) []chatMessage {
	if n := len(msgs); n > 0 && msgs[n-1].Role == "assistant" {
		msgs[n-1].ToolCalls = append(msgs[n-1].ToolCalls, c)
		return msgs
	}
	return append(msgs, chatMessage{Role: "assistant", ToolCalls: []chatToolCall{c}})
}

// The chat answer shapes, decoded leniently: unknown fields are ignored.

type chatUsage struct {
	PromptTokens        int64 `json:"prompt_tokens"`
	CompletionTokens    int64 `json:"completion_tokens"`
	TotalTokens         int64 `json:"total_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails *struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

func (u *chatUsage) cached() int64 {
	if u == nil || u.PromptTokensDetails == nil {
		return 0
	}
	return u.PromptTokensDetails.CachedTokens
}

func (u *chatUsage) reasoning() int64 {
	if u == nil || u.CompletionTokensDetails == nil {
		return 0
	}
	return u.CompletionTokensDetails.ReasoningTokens
}

type chatCompletion struct {
	ID      string      `json:"id"`
	Object  string      `json:"object"`
	Created json.Number `json:"created"`
	Model   string      `json:"model"`
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role      string          `json:"role"`
			Content   json.RawMessage `json:"content"`
			Refusal   *string         `json:"refusal"`
			ToolCalls []chatToolCall  `json:"tool_calls"`
		} `json:"message"`
		FinishReason *string         `json:"finish_reason"`
		StopReason   json.RawMessage `json:"stop_reason"`
	} `json:"choices"`
	Usage *chatUsage `json:"usage"`
}

// answer is a chat answer reduced to what the other APIs can express.
type answer struct {
	id, model  string
	created    int64
	text       string
	hasText    bool
	refusal    string
	hasRefusal bool
	calls      []chatToolCall
	finish     string // finish_reason, "" if none
	stopString string // the matched stop sequence, where the server says (vLLM's stop_reason)
	usage      *chatUsage
}

func numberInt(n json.Number) int64 {
	if n == "" {
		return 0
	}
	if i, err := n.Int64(); err == nil {
		return i
	}
	if f, err := n.Float64(); err == nil && f > 0 && f < 1<<62 {
		return int64(f)
	}
	return 0
}

// decodeCompletion parses a chat.completion body.
func decodeCompletion(body []byte) (*answer, error) {
	var c chatCompletion
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, upstreamf("%v", err)
	}
	if len(c.Choices) == 0 {
		return nil, upstreamf("no choices")
	}
	ch := &c.Choices[0]
	for i := range c.Choices {
		if c.Choices[i].Index == 0 {
			ch = &c.Choices[i]
			break
		}
	}
	a := &answer{id: c.ID, model: c.Model, created: numberInt(c.Created), usage: c.Usage}
	switch kind(ch.Message.Content) {
	case 'z':
	case 's':
		_ = json.Unmarshal(ch.Message.Content, &a.text)
		a.hasText = a.text != ""
	case 'a':
		// Some servers answer with text parts.
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(ch.Message.Content, &parts); err != nil {
			return nil, upstreamf("message content: %v", err)
		}
		var b strings.Builder
		for _, p := range parts {
			if p.Type == "text" {
				b.WriteString(p.Text)
			}
		}
		a.text, a.hasText = b.String(), b.Len() > 0
	default:
		return nil, upstreamf("message content is %s", kindName(kind(ch.Message.Content)))
	}
	if ch.Message.Refusal != nil && *ch.Message.Refusal != "" {
		a.refusal, a.hasRefusal = *ch.Message.Refusal, true
	}
	for i, tc := range ch.Message.ToolCalls {
		if tc.Type != "" && tc.Type != "function" {
			return nil, upstreamf("tool call %d has type %q", i, tc.Type)
		}
		if tc.Function.Name == "" {
			return nil, upstreamf("tool call %d has no function name", i)
		}
		a.calls = append(a.calls, tc)
	}
	if ch.FinishReason != nil {
		a.finish = *ch.FinishReason
	}
	if kind(ch.StopReason) == 's' {
		_ = json.Unmarshal(ch.StopReason, &a.stopString)
	}
	return a, nil
}

// chunks renders a as the chat.completion.chunk data a server would have
// streamed: role, text, refusal, each tool call whole, finish, usage.
// Replays of cached answers go through the stream translators this way, so
// they produce exactly the events a live stream would.
func (a *answer) chunks() [][]byte {
	head := []byte(`{"id":`)
	head = append(head, jsonString(a.id)...)
	head = append(head, `,"object":"chat.completion.chunk","created":`...)
	head = strconv.AppendInt(head, a.created, 10)
	head = append(head, `,"model":`...)
	head = append(head, jsonString(a.model)...)
	head = append(head, `,"choices":[{"index":0,"delta":`...)
	chunk := func(delta string, finish string) []byte {
		b := append([]byte(nil), head...)
		b = append(b, delta...)
		b = append(b, `,"finish_reason":`...)
		if finish == "" {
			b = append(b, "null"...)
		} else {
			b = append(b, jsonString(finish)...)
		}
		if a.stopString != "" && finish != "" {
			b = append(b, `,"stop_reason":`...)
			b = append(b, jsonString(a.stopString)...)
		}
		return append(b, "}]}"...)
	}
	out := [][]byte{chunk(`{"role":"assistant","content":""}`, "")}
	if a.hasText {
		out = append(out, chunk(`{"content":`+string(jsonString(a.text))+`}`, ""))
	}
	if a.hasRefusal {
		out = append(out, chunk(`{"refusal":`+string(jsonString(a.refusal))+`}`, ""))
	}
	for i, c := range a.calls {
		d := marshal(map[string]any{"tool_calls": []any{map[string]any{
			"index": i, "id": c.ID, "type": "function",
			"function": map[string]any{"name": c.Function.Name, "arguments": c.Function.Arguments},
		}}})
		out = append(out, chunk(string(d), ""))
	}
	finish := a.finish
	if finish == "" {
		finish = "stop"
	}
	out = append(out, chunk(`{}`, finish))
	if a.usage != nil {
		b := bytes.TrimSuffix(head, []byte(`{"index":0,"delta":`))
		b = append(append([]byte(nil), b...), `],"usage":`...)
		b = append(b, marshal(a.usage)...)
		out = append(out, append(b, '}'))
	}
	return append(out, []byte("[DONE]"))
}

// chatChunk is one chat.completion.chunk, decoded leniently.
type chatChunk struct {
	ID      string      `json:"id"`
	Created json.Number `json:"created"`
	Model   string      `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content   *string `json:"content"`
			Refusal   *string `json:"refusal"`
			ToolCalls []struct {
				Index    *int   `json:"index"`
				ID       string `json:"id"`
				Type     string `json:"type"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string         `json:"finish_reason"`
		StopReason   json.RawMessage `json:"stop_reason"`
	} `json:"choices"`
	Usage *chatUsage      `json:"usage"`
	Error json.RawMessage `json:"error"`
}

// streamTool is one tool call of a stream.
type streamTool struct {
	chatIndex int
	id, name  string
	args      strings.Builder
}

// sink receives a chat stream's content in order; each API's stream
// translator implements it and writes its own events.
type sink interface {
	start()
	text(s string)
	refusal(s string)
	toolStart(t *streamTool)
	toolArgs(t *streamTool, frag string)
	finish()
	complete()
	fail(code, message string)
}

// streamOut is what the Messages and Responses stream translators share:
// the chunk core that reads the chat stream, and the buffer their events
// are written to.
type streamOut struct {
	core chunkCore
	out  []byte
}

// Feed takes the data of one event of the chat stream: a chunk's JSON or
// "[DONE]", and returns the API's events to write (SSE, each with its
// event: line). A chunk that cannot be understood, or an error object the
// upstream sent mid-stream, ends the stream with the API's error event,
// and err says what happened.
//
// The returned slice is reused: write it before the next call.
func (s *streamOut) Feed(data []byte) ([]byte, error) {
	s.out = s.out[:0]
	err := s.core.feed(data)
	return s.out, err
}

// End is called when the chat stream ends without "[DONE]": it completes
// the answer if a finish_reason was seen, and fails it otherwise.
func (s *streamOut) End() []byte {
	s.out = s.out[:0]
	s.core.end(false)
	return s.out
}

// Fail ends the stream with the API's error event, for an upstream or
// client error the caller saw.
func (s *streamOut) Fail(errType, message string) []byte {
	s.out = s.out[:0]
	s.core.failWith(errType, message)
	return s.out
}

// Done reports whether the terminal event was written.
func (s *streamOut) Done() bool { return s.core.done }

// chunkCore turns chat chunks into sink calls: it tracks the stream's
// metadata, tool calls by index, the finish reason and usage.
type chunkCore struct {
	sink     sink
	idBase   string // for tool call ids the upstream left out
	started  bool
	finished bool // a finish_reason was seen
	done     bool // terminal events written
	id       string
	model    string
	created  int64
	finish   string
	stopStr  string
	usage    *chatUsage
	tools    []*streamTool
	cur      *streamTool // the tool call whose arguments may still grow
}

func (c *chunkCore) begin() {
	if !c.started {
		c.started = true
		c.sink.start()
	}
}

// feed handles one chunk's data ("[DONE]" included).
func (c *chunkCore) feed(data []byte) error {
	if c.done {
		return nil
	}
	data = bytes.TrimSpace(data)
	if string(data) == "[DONE]" {
		c.end(true)
		return nil
	}
	var ch chatChunk
	if err := json.Unmarshal(data, &ch); err != nil {
		e := upstreamf("chunk: %v", err)
		c.failWith("server_error", e.Message)
		return e
	}
	if kind(ch.Error) != 'z' {
		msg := "the upstream reported an error mid-stream"
		var eo struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    any    `json:"code"`
		}
		if json.Unmarshal(ch.Error, &eo) == nil && eo.Message != "" {
			msg = eo.Message
		}
		code := "server_error"
		if eo.Type != "" {
			code = eo.Type
		}
		c.failWith(code, msg)
		return &Error{Code: code, Message: msg, Err: ErrUpstream}
	}
	if c.id == "" {
		c.id, c.model, c.created = ch.ID, ch.Model, numberInt(ch.Created)
	}
	if ch.Usage != nil {
		c.usage = ch.Usage
	}
	for i := range ch.Choices {
		choice := &ch.Choices[i]
		if choice.Index != 0 {
			continue
		}
		c.begin()
		if c.finished {
			continue
		}
		d := &choice.Delta
		if d.Content != nil && *d.Content != "" {
			c.cur = nil
			c.sink.text(*d.Content)
		}
		if d.Refusal != nil && *d.Refusal != "" {
			c.cur = nil
			c.sink.refusal(*d.Refusal)
		}
		for j := range d.ToolCalls {
			tc := &d.ToolCalls[j]
			idx := j
			if tc.Index != nil {
				idx = *tc.Index
			}
			var t *streamTool
			for _, x := range c.tools {
				if x.chatIndex == idx {
					t = x
				}
			}
			if t == nil {
				if tc.Function.Name == "" {
					e := upstreamf("tool call %d starts without a function name", idx)
					c.failWith("server_error", e.Message)
					return e
				}
				t = &streamTool{chatIndex: idx, id: tc.ID, name: tc.Function.Name}
				if t.id == "" {
					t.id = derivedID("call", c.idBase, len(c.tools))
				}
				c.tools = append(c.tools, t)
				c.cur = t
				c.sink.toolStart(t)
			} else if t != c.cur {
				e := upstreamf("arguments for tool call %d arrived after another part of the answer began", idx)
				c.failWith("server_error", e.Message)
				return e
			}
			if tc.Function.Arguments != "" {
				t.args.WriteString(tc.Function.Arguments)
				c.sink.toolArgs(t, tc.Function.Arguments)
			}
		}
		if choice.FinishReason != nil && *choice.FinishReason != "" {
			c.finished = true
			c.finish = *choice.FinishReason
			if kind(choice.StopReason) == 's' {
				_ = json.Unmarshal(choice.StopReason, &c.stopStr)
			}
			c.cur = nil
			c.sink.finish()
		}
	}
	return nil
}

// end finishes the stream: complete if it was (a [DONE], or the upstream
// ended after a finish_reason), failed otherwise.
func (c *chunkCore) end(sawDone bool) {
	if c.done {
		return
	}
	if !c.finished && !sawDone {
		c.failWith("server_error", "the upstream stream ended before the answer was complete")
		return
	}
	c.begin()
	if !c.finished {
		c.finished = true
		c.finish = "stop"
		c.sink.finish()
	}
	c.done = true
	c.sink.complete()
}

func (c *chunkCore) failWith(code, message string) {
	if c.done {
		return
	}
	c.done = true
	c.sink.fail(code, message)
}
