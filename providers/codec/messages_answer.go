package codec

import (
	"encoding/json"
	"strings"

	"github.com/semgate/semgate/providers/sse"
)

// Message translates a chat.completion body into a Messages API Message:
// text becomes a text block, each tool call a tool_use block whose input
// is the parsed arguments. finish_reason stop, length, tool_calls and
// content_filter become stop_reason end_turn (stop_sequence when the
// server names the stop string it matched, as vLLM does), max_tokens,
// tool_use and refusal. Arguments that are not a JSON object fail with
// ErrUpstream, unless the answer was cut by length (then input is {}).
func (r *MessagesRequest) Message(chatCompletion []byte, opt AnswerOptions) ([]byte, error) {
	a, err := decodeCompletion(chatCompletion)
	if err != nil {
		return nil, err
	}
	s := r.NewStream(opt)
	for _, c := range a.chunks() {
		if _, err := s.Feed(c); err != nil {
			return nil, err
		}
	}
	return s.assemble(true)
}

// Replay renders a chat.completion body (a cached answer) as the complete
// Messages event stream a live request would have produced.
func (r *MessagesRequest) Replay(chatCompletion []byte, opt AnswerOptions) ([]byte, error) {
	a, err := decodeCompletion(chatCompletion)
	if err != nil {
		return nil, err
	}
	s := r.NewStream(opt)
	var out []byte
	for _, c := range a.chunks() {
		b, err := s.Feed(c)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}

// MessagesStream translates a chat.completion.chunk stream into the
// Messages API's event stream as it arrives: feed it each chunk's data and
// write what it returns. After "[DONE]" it has written message_delta and
// message_stop; a stream that fails (a chunk that cannot be understood, an
// error object mid-stream, End before a finish_reason, Fail) ends with an
// error event, Fail's errType being an OpenAI or Anthropic error type or a
// code such as "rate_limit_exceeded" (see [AnthropicErrorType]). It is not
// safe for concurrent use.
type MessagesStream struct {
	streamOut
	req     *MessagesRequest
	opt     AnswerOptions
	blocks  []*msgBlock
	open    *msgBlock
	pinged  bool
	refused bool
	final   []byte
}

type msgBlock struct {
	index int
	tool  *streamTool
	text  strings.Builder
}

// NewStream starts translating a chat stream for r.
func (r *MessagesRequest) NewStream(opt AnswerOptions) *MessagesStream {
	if opt.ID == "" {
		opt.ID = NewMessageID()
	}
	s := &MessagesStream{req: r, opt: opt}
	s.core = chunkCore{sink: s, idBase: opt.ID}
	return s
}

// Message returns the message the stream carried, assembled (as the
// Anthropic SDK's accumulator would); nil until message_stop was written.
func (s *MessagesStream) Message() []byte { return s.final }

// ID returns the message's id.
func (s *MessagesStream) ID() string { return s.opt.ID }

func (s *MessagesStream) event(name string, v any) {
	s.out = sse.AppendEvent(s.out, []byte(name), marshal(v))
}

type messageObject struct {
	ID           string       `json:"id"`
	Type         string       `json:"type"`
	Role         string       `json:"role"`
	Model        string       `json:"model"`
	Content      []any        `json:"content"`
	StopReason   *string      `json:"stop_reason"`
	StopSequence *string      `json:"stop_sequence"`
	Usage        messageUsage `json:"usage"`
}

type messageUsage struct {
	InputTokens              int64 `json:"input_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
}

type textBlock struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type toolUseBlock struct {
	Type  string          `json:"type"`
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

func (s *MessagesStream) model() string {
	switch {
	case s.opt.Model != "":
		return s.opt.Model
	case s.core.model != "":
		return s.core.model
	}
	return s.req.Model
}

// usage converts chat usage: Anthropic's input_tokens leave out cached
// tokens, which chat's prompt_tokens include.
func (s *MessagesStream) usage() messageUsage {
	u := s.core.usage
	if u == nil {
		return messageUsage{InputTokens: s.opt.InputTokens}
	}
	cached := min(u.cached(), u.PromptTokens)
	return messageUsage{InputTokens: u.PromptTokens - cached, CacheReadInputTokens: cached, OutputTokens: u.CompletionTokens}
}

// stop returns stop_reason and stop_sequence.
func (s *MessagesStream) stop() (string, *string) {
	switch f := s.core.finish; {
	case f == "length":
		return "max_tokens", nil
	case f == "tool_calls" || f == "function_call" || len(s.core.tools) > 0:
		return "tool_use", nil
	case f == "content_filter" || s.refused:
		return "refusal", nil
	case s.core.stopStr != "":
		for _, seq := range s.req.stop {
			if seq == s.core.stopStr {
				str := seq
				return "stop_sequence", &str
			}
		}
	}
	return "end_turn", nil
}

func (s *MessagesStream) start() {
	s.event("message_start", struct {
		Type    string        `json:"type"`
		Message messageObject `json:"message"`
	}{"message_start", messageObject{
		ID: s.opt.ID, Type: "message", Role: "assistant", Model: s.model(), Content: []any{},
		Usage: messageUsage{InputTokens: s.opt.InputTokens},
	}})
}

type blockEvent struct {
	Type         string `json:"type"`
	Index        int    `json:"index"`
	ContentBlock any    `json:"content_block,omitempty"`
	Delta        any    `json:"delta,omitempty"`
}

func (s *MessagesStream) openBlock(t *streamTool) *msgBlock {
	s.closeBlock()
	b := &msgBlock{index: len(s.blocks), tool: t}
	s.blocks = append(s.blocks, b)
	s.open = b
	var cb any = textBlock{Type: "text"}
	if t != nil {
		cb = toolUseBlock{Type: "tool_use", ID: t.id, Name: t.name, Input: json.RawMessage("{}")}
	}
	s.event("content_block_start", blockEvent{Type: "content_block_start", Index: b.index, ContentBlock: cb})
	if !s.pinged {
		// Anthropic sends a ping after the first block starts.
		s.pinged = true
		s.event("ping", struct {
			Type string `json:"type"`
		}{"ping"})
	}
	return b
}

func (s *MessagesStream) closeBlock() {
	if s.open == nil {
		return
	}
	s.event("content_block_stop", blockEvent{Type: "content_block_stop", Index: s.open.index})
	s.open = nil
}

func (s *MessagesStream) text(t string) {
	b := s.open
	if b == nil || b.tool != nil {
		b = s.openBlock(nil)
	}
	b.text.WriteString(t)
	s.event("content_block_delta", blockEvent{Type: "content_block_delta", Index: b.index, Delta: struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}{"text_delta", t}})
}

// refusal: Messages has no refusal text; it is sent as text, and the
// stop_reason says refusal.
func (s *MessagesStream) refusal(t string) {
	s.refused = true
	s.text(t)
}

func (s *MessagesStream) toolStart(t *streamTool) { s.openBlock(t) }

func (s *MessagesStream) toolArgs(t *streamTool, frag string) {
	s.event("content_block_delta", blockEvent{Type: "content_block_delta", Index: s.open.index, Delta: struct {
		Type        string `json:"type"`
		PartialJSON string `json:"partial_json"`
	}{"input_json_delta", frag}})
}

func (s *MessagesStream) finish() { s.closeBlock() }

func (s *MessagesStream) complete() {
	reason, seq := s.stop()
	s.event("message_delta", struct {
		Type  string `json:"type"`
		Delta struct {
			StopReason   string  `json:"stop_reason"`
			StopSequence *string `json:"stop_sequence"`
		} `json:"delta"`
		Usage messageUsage `json:"usage"`
	}{Type: "message_delta", Delta: struct {
		StopReason   string  `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
	}{reason, seq}, Usage: s.usage()})
	s.event("message_stop", struct {
		Type string `json:"type"`
	}{"message_stop"})
	s.final, _ = s.assemble(false)
}

func (s *MessagesStream) fail(code, message string) {
	s.event("error", struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}{Type: "error", Error: struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}{AnthropicErrorType(0, code), message}})
}

// assemble builds the Message. strict: tool arguments that are not a JSON
// object are an error, unless the answer was cut by max_tokens.
func (s *MessagesStream) assemble(strict bool) ([]byte, error) {
	reason, seq := s.stop()
	m := messageObject{
		ID: s.opt.ID, Type: "message", Role: "assistant", Model: s.model(), Content: []any{},
		StopReason: &reason, StopSequence: seq, Usage: s.usage(),
	}
	for _, b := range s.blocks {
		if b.tool == nil {
			m.Content = append(m.Content, textBlock{Type: "text", Text: b.text.String()})
			continue
		}
		args := strings.TrimSpace(b.tool.args.String())
		input := json.RawMessage("{}")
		if args != "" {
			if kind(json.RawMessage(args)) == 'o' && json.Valid([]byte(args)) {
				input = compact(json.RawMessage(args))
			} else if strict && reason != "max_tokens" {
				return nil, upstreamf("tool call %q: arguments are not a JSON object", b.tool.name)
			}
		}
		m.Content = append(m.Content, toolUseBlock{Type: "tool_use", ID: b.tool.id, Name: b.tool.name, Input: input})
	}
	return marshal(m), nil
}
