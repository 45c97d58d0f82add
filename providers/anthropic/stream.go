package anthropic

import (
	"errors"
	"github.com/semgate/semgate/providers/jsonx"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/semgate/semgate/providers/sse"
)

// streamMode selects the OpenAI chunk shape a stream produces.
type streamMode uint8

const (
	modeChat       streamMode = iota // chat.completion.chunk
	modeCompletion                   // text_completion
)

// streamTool tracks one tool_use block of the stream.
type streamTool struct {
	block int  // Anthropic content block index
	sent  bool // some argument text was sent
}

// stream translates an Anthropic Messages event stream into OpenAI chunk
// events as it is read. It does no work between calls to Read and starts no
// goroutine: each Read pulls upstream events until it has output.
type stream struct {
	name         string
	body         io.ReadCloser
	events       *sse.Reader
	mode         streamMode
	model        string
	created      int64
	includeUsage bool

	out []byte // pending output is out[off:]
	off int
	err error // returned once out is drained: io.EOF at the end

	started bool   // message_start seen
	base    []byte // `{"id":…,"object":…,"created":…,"model":…,`
	stop    string // Anthropic stop_reason
	usage   usage
	tools   []streamTool // tool_use blocks in order; index is OpenAI's
}

var _ io.ReadCloser = (*stream)(nil)

// newStream wraps an upstream body. model is what the chunks report.
func newStream(name string, body io.ReadCloser, mode streamMode, model string, created int64, includeUsage bool) *stream {
	return &stream{
		name:         name,
		body:         body,
		events:       sse.NewReader(body),
		mode:         mode,
		model:        model,
		created:      created,
		includeUsage: includeUsage,
	}
}

// Read implements io.Reader.
func (s *stream) Read(p []byte) (int, error) {
	for s.off == len(s.out) {
		if s.err != nil {
			return 0, s.err
		}
		s.out, s.off = s.out[:0], 0
		if err := s.step(); err != nil {
			s.err = err
		}
	}
	n := copy(p, s.out[s.off:])
	s.off += n
	return n, nil
}

// Close closes the upstream body, cancelling the upstream request.
func (s *stream) Close() error { return s.body.Close() }

// step handles one upstream event, appending any output to s.out. A non-nil
// error ends the stream after the output already appended.
func (s *stream) step() error {
	ev, err := s.events.Next()
	if err != nil {
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return badResponse(s.name, 200, "the stream ended before message_stop")
		case errors.Is(err, sse.ErrTooLong):
			return badResponse(s.name, 200, "%v", err)
		}
		return err // already a *providers.Error, or the caller's cancellation
	}
	if !gjson.ValidBytes(ev.Data) {
		return badResponse(s.name, 200, "event %q: data is not valid JSON", ev.Name)
	}
	data := gjson.ParseBytes(ev.Data)
	if !data.IsObject() {
		return badResponse(s.name, 200, "event %q: data is not a JSON object", ev.Name)
	}
	typ := data.Get("type").Str
	if typ == "" {
		typ = string(ev.Name)
	}
	switch typ {
	case "message_start":
		return s.messageStart(data)
	case "content_block_start":
		return s.blockStart(data)
	case "content_block_delta":
		return s.blockDelta(data)
	case "content_block_stop":
		return s.blockStop(data)
	case "message_delta":
		return s.messageDelta(data)
	case "message_stop":
		return s.messageStop()
	case "error":
		return streamError(s.name, ev.Data)
	}
	// ping, and event types added after this adapter was written.
	return nil
}

func (s *stream) messageStart(data gjson.Result) error {
	if s.started {
		return badResponse(s.name, 200, "duplicate message_start")
	}
	msg := data.Get("message")
	id := msg.Get("id")
	if !msg.IsObject() || id.Type != gjson.String {
		return badResponse(s.name, 200, "message_start lacks a message id")
	}
	s.started = true
	s.readUsage(msg.Get("usage"))

	s.base = append(s.base[:0], `{"id":`...)
	s.base = s.appendString(s.base, id)
	if s.mode == modeChat {
		s.base = append(s.base, `,"object":"chat.completion.chunk","created":`...)
	} else {
		s.base = append(s.base, `,"object":"text_completion","created":`...)
	}
	s.base = strconv.AppendInt(s.base, s.created, 10)
	s.base = append(s.base, `,"model":`...)
	s.base = jsonx.AppendString(s.base, s.model)
	s.base = append(s.base, ',')

	if s.mode == modeChat {
		s.beginChunk()
		s.out = append(s.out, `{"role":"assistant","content":""}`...)
		s.endChunk("")
	}
	return nil
}

func (s *stream) blockStart(data gjson.Result) error {
	index, err := s.blockIndex(data)
	if err != nil {
		return err
	}
	cb := data.Get("content_block")
	switch cb.Get("type").Str {
	case "text":
		if t := cb.Get("text"); t.Type == gjson.String && t.Str != "" {
			s.emitText(t)
		}
	case "tool_use":
		if s.mode != modeChat {
			return nil
		}
		id, name := cb.Get("id"), cb.Get("name")
		if id.Type != gjson.String || name.Type != gjson.String || id.Str == "" || name.Str == "" {
			return badResponse(s.name, 200, "tool_use block %d lacks an id or name", index)
		}
		k := len(s.tools)
		s.tools = append(s.tools, streamTool{block: index})
		args := ""
		if in := cb.Get("input"); in.IsObject() && len(in.Map()) > 0 {
			args, err = compactObject([]byte(in.Raw))
			if err != nil {
				return badResponse(s.name, 200, "tool_use block %d: %v", index, err)
			}
			s.tools[k].sent = true
		}
		s.beginChunk()
		s.out = append(s.out, `{"tool_calls":[{"index":`...)
		s.out = strconv.AppendInt(s.out, int64(k), 10)
		s.out = append(s.out, `,"id":`...)
		s.out = s.appendString(s.out, id)
		s.out = append(s.out, `,"type":"function","function":{"name":`...)
		s.out = s.appendString(s.out, name)
		s.out = append(s.out, `,"arguments":`...)
		s.out = jsonx.AppendString(s.out, args)
		s.out = append(s.out, `}}]}`...)
		s.endChunk("")
	}
	// thinking, redacted_thinking and server tool blocks are dropped.
	return nil
}

func (s *stream) blockDelta(data gjson.Result) error {
	index, err := s.blockIndex(data)
	if err != nil {
		return err
	}
	delta := data.Get("delta")
	switch delta.Get("type").Str {
	case "text_delta":
		t := delta.Get("text")
		if t.Type != gjson.String {
			return badResponse(s.name, 200, "text_delta without text")
		}
		if t.Str != "" {
			s.emitText(t)
		}
	case "input_json_delta":
		if s.mode != modeChat {
			return nil
		}
		frag := delta.Get("partial_json")
		if frag.Type != gjson.String {
			return badResponse(s.name, 200, "input_json_delta without partial_json")
		}
		k := s.tool(index)
		if k < 0 {
			return badResponse(s.name, 200, "input_json_delta for block %d, which is not a tool_use block", index)
		}
		if frag.Str == "" {
			return nil
		}
		s.tools[k].sent = true
		s.emitArguments(k, frag)
	}
	// thinking_delta, signature_delta, citations_delta: dropped.
	return nil
}

func (s *stream) blockStop(data gjson.Result) error {
	index, err := s.blockIndex(data)
	if err != nil {
		return err
	}
	if k := s.tool(index); k >= 0 && !s.tools[k].sent {
		// A tool without parameters streams no argument text; OpenAI
		// clients expect the arguments to parse as JSON.
		s.tools[k].sent = true
		s.emitArguments(k, gjson.Result{Type: gjson.String, Raw: `"{}"`, Str: "{}"})
	}
	return nil
}

func (s *stream) messageDelta(data gjson.Result) error {
	if !s.started {
		return badResponse(s.name, 200, "message_delta before message_start")
	}
	if r := data.Get("delta.stop_reason"); r.Type == gjson.String {
		s.stop = r.Str
	}
	s.readUsage(data.Get("usage"))
	return nil
}

func (s *stream) messageStop() error {
	if !s.started {
		return badResponse(s.name, 200, "message_stop before message_start")
	}
	fr := finishReason(s.stop)
	if s.mode == modeCompletion && fr == "tool_calls" {
		fr = "stop" // text_completion has no tool calls
	}
	s.beginChunk()
	if s.mode == modeChat {
		s.out = append(s.out, `{}`...)
	} else {
		s.out = append(s.out, `""`...)
	}
	s.endChunk(fr)
	if s.includeUsage {
		u := s.usage.openAI(s.mode == modeChat)
		s.out = append(s.out, "data: "...)
		s.out = append(s.out, s.base...)
		s.out = append(s.out, `"choices":[],"usage":{"prompt_tokens":`...)
		s.out = strconv.AppendInt(s.out, u.PromptTokens, 10)
		s.out = append(s.out, `,"completion_tokens":`...)
		s.out = strconv.AppendInt(s.out, u.CompletionTokens, 10)
		s.out = append(s.out, `,"total_tokens":`...)
		s.out = strconv.AppendInt(s.out, u.TotalTokens, 10)
		if d := u.PromptTokensDetails; d != nil {
			s.out = append(s.out, `,"prompt_tokens_details":{"cached_tokens":`...)
			s.out = strconv.AppendInt(s.out, d.CachedTokens, 10)
			s.out = append(s.out, '}')
		}
		s.out = append(s.out, "}}\n\n"...)
	}
	s.out = append(s.out, "data: [DONE]\n\n"...)
	return io.EOF
}

// readUsage overwrites the counts present in an Anthropic usage object;
// message_delta carries cumulative totals.
func (s *stream) readUsage(u gjson.Result) {
	if !u.IsObject() {
		return
	}
	for _, f := range [...]struct {
		key string
		dst *int64
	}{
		{"input_tokens", &s.usage.InputTokens},
		{"output_tokens", &s.usage.OutputTokens},
		{"cache_creation_input_tokens", &s.usage.CacheCreationInputTokens},
		{"cache_read_input_tokens", &s.usage.CacheReadInputTokens},
	} {
		if v := u.Get(f.key); v.Type == gjson.Number {
			*f.dst = v.Int()
		}
	}
}

// blockIndex returns a content block event's index.
func (s *stream) blockIndex(data gjson.Result) (int, error) {
	if !s.started {
		return 0, badResponse(s.name, 200, "content block event before message_start")
	}
	i := data.Get("index")
	if i.Type != gjson.Number || i.Num < 0 || i.Num > 1<<20 || i.Num != float64(int(i.Num)) {
		return 0, badResponse(s.name, 200, "content block event without a valid index")
	}
	return int(i.Num), nil
}

// tool returns the OpenAI index of the tool_use block with the given
// Anthropic index, or -1.
func (s *stream) tool(block int) int {
	for k := range s.tools {
		if s.tools[k].block == block {
			return k
		}
	}
	return -1
}

func (s *stream) emitText(t gjson.Result) {
	s.beginChunk()
	if s.mode == modeChat {
		s.out = append(s.out, `{"content":`...)
		s.out = s.appendString(s.out, t)
		s.out = append(s.out, '}')
	} else {
		s.out = s.appendString(s.out, t)
	}
	s.endChunk("")
}

func (s *stream) emitArguments(k int, frag gjson.Result) {
	s.beginChunk()
	s.out = append(s.out, `{"tool_calls":[{"index":`...)
	s.out = strconv.AppendInt(s.out, int64(k), 10)
	s.out = append(s.out, `,"function":{"arguments":`...)
	s.out = s.appendString(s.out, frag)
	s.out = append(s.out, `}}]}`...)
	s.endChunk("")
}

// beginChunk starts a one-choice chunk event; the caller appends the delta
// (chat) or text (legacy) and calls endChunk.
func (s *stream) beginChunk() {
	s.out = append(s.out, "data: "...)
	s.out = append(s.out, s.base...)
	if s.mode == modeChat {
		s.out = append(s.out, `"choices":[{"index":0,"delta":`...)
	} else {
		s.out = append(s.out, `"choices":[{"text":`...)
	}
}

// endChunk finishes a chunk with the given finish_reason ("" for null).
func (s *stream) endChunk(finish string) {
	if s.mode == modeChat {
		s.out = append(s.out, `,"logprobs":null,"finish_reason":`...)
	} else {
		s.out = append(s.out, `,"index":0,"logprobs":null,"finish_reason":`...)
	}
	if finish == "" {
		s.out = append(s.out, "null"...)
	} else {
		s.out = jsonx.AppendString(s.out, finish)
	}
	s.out = append(s.out, "}]}\n\n"...)
}

// appendString appends a gjson string value as a JSON string. The event
// was validated, so its raw literal is valid JSON and is copied as is unless
// it holds invalid UTF-8.
func (s *stream) appendString(dst []byte, v gjson.Result) []byte {
	if len(v.Raw) >= 2 && v.Raw[0] == '"' && utf8.ValidString(v.Raw) {
		return append(dst, v.Raw...)
	}
	return jsonx.AppendString(dst, v.Str)
}

// appendJSONString appends s as a JSON string literal.
var appendJSONString = jsonx.AppendString
