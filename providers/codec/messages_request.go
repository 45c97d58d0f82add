package codec

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
)

// Policy says what ToChat does with a Messages feature chat has no
// counterpart for.
type Policy uint8

const (
	// Refuse: ToChat fails with ErrUnsupported, so the caller can pass the
	// request through to an Anthropic upstream or answer 400.
	Refuse Policy = iota
	// Pass: send the closest chat form (see MessagesOptions).
	Pass
	// Drop: leave the feature out.
	Drop
)

// MessagesOptions say how ToChat treats Messages features without an exact
// chat equivalent. The zero value refuses them all.
type MessagesOptions struct {
	// TopK: Pass sends top_k as an extra chat field, which vLLM, llama.cpp,
	// Ollama and most open-model servers accept and OpenAI rejects; Drop
	// samples without it.
	TopK Policy
	// Thinking (extended thinking enabled or adaptive): Pass maps it to
	// reasoning_effort ("low" for budget_tokens below 4096, "medium" below
	// 16384 and for adaptive, "high" above), for reasoning models served
	// through chat; Drop answers without extended thinking. Either way the
	// answer holds no thinking blocks, since chat returns no reasoning.
	Thinking Policy
}

// MessagesRequest is a validated POST /v1/messages (or
// /v1/messages/count_tokens) body.
type MessagesRequest struct {
	// Model is the requested model.
	Model string
	// Stream reports "stream": true.
	Stream bool
	// MaxTokens is max_tokens (0 for count_tokens requests without it).
	MaxTokens int64
	// Thinking reports extended thinking requested (type enabled or
	// adaptive).
	Thinking bool

	body          jobj
	chat          chatRequest
	unsupported   *Error
	topK          *int64
	thinkingParam string // "thinking" or "" when absent/disabled
	budget        int64
	stop          []string
}

var messagesFields = set("model", "messages", "max_tokens", "system", "stop_sequences",
	"temperature", "top_p", "top_k", "tools", "tool_choice", "metadata", "stream", "thinking",
	"service_tier", "container", "mcp_servers", "context_management", "output_config", "output_format",
	"cache_control")

// ParseMessages validates a Messages API request body. A malformed body
// (including a missing max_tokens) gives an *Error wrapping ErrInvalid;
// valid features chat cannot express are reported by ToChat.
func ParseMessages(body []byte) (*MessagesRequest, error) {
	return parseMessages(body, true)
}

// ParseCountTokens validates a /v1/messages/count_tokens body: a Messages
// request without max_tokens. Count the prompt of the chat request ToChat
// gives (with providers/tokens) and answer with [CountTokensBody].
func ParseCountTokens(body []byte) (*MessagesRequest, error) {
	return parseMessages(body, false)
}

// CountTokensBody renders a count_tokens answer, {"input_tokens":n}.
func CountTokensBody(n int64) []byte {
	return append(strconv.AppendInt([]byte(`{"input_tokens":`), n, 10), '}')
}

func parseMessages(body []byte, needMax bool) (*MessagesRequest, error) {
	o, err := parseBody(body)
	if err != nil {
		return nil, err
	}
	r := &MessagesRequest{body: o}
	if err := r.parse(needMax); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *MessagesRequest) unsup(e *Error) {
	if r.unsupported == nil {
		r.unsupported = e
	}
}

func (r *MessagesRequest) parse(needMax bool) *Error {
	o := r.body
	c := &r.chat
	var err *Error
	if r.Model, err = o.reqStr("model"); err != nil {
		return err
	}
	c.Model = r.Model
	max, err := o.intMin("max_tokens", 1)
	if err != nil {
		return err
	}
	if max != nil {
		r.MaxTokens = *max
		c.MaxCompletionTokens = max
	} else if needMax {
		return invalidf("max_tokens", "missing_required_parameter", "max_tokens is required")
	}
	if k := o.unknown(messagesFields); k != "" {
		r.unsup(&Error{Param: k, Code: "unknown_parameter", Message: "unknown parameter " + strconv.Quote(k) + " cannot be translated", Err: ErrUnsupported})
	}
	if b, err := o.bool("stream"); err != nil {
		return err
	} else if b != nil && *b {
		r.Stream = true
		c.Stream = true
		c.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	if c.Temperature, err = o.floatIn("temperature", 0, 1); err != nil {
		return err
	}
	if c.TopP, err = o.floatIn("top_p", 0, 1); err != nil {
		return err
	}
	if r.topK, err = o.intMin("top_k", 0); err != nil {
		return err
	}
	if list, _, err := o.array("stop_sequences"); err != nil {
		return err
	} else {
		for i, v := range list {
			s, err := asString(v, index("stop_sequences", i))
			if err != nil {
				return err
			}
			r.stop = append(r.stop, s)
		}
		c.Stop = r.stop
	}
	if m, ok, err := o.object("metadata"); err != nil {
		return err
	} else if ok {
		if c.User, _, err = m.str("user_id"); err != nil {
			return err
		}
	}
	if _, _, err := o.str("service_tier"); err != nil {
		return err
	}
	// A top-level cache_control asks Anthropic to cache the prompt: a hint
	// with no chat counterpart, ignored like the per-block ones.
	if _, _, err := o.object("cache_control"); err != nil {
		return err
	}
	for _, k := range [...]string{"container", "mcp_servers", "context_management", "output_config", "output_format"} {
		if o.has(k) {
			r.unsup(unsupportedf(k, "%s cannot be translated to chat completions", k))
		}
	}
	if err := r.thinking(); err != nil {
		return err
	}
	if err := r.system(); err != nil {
		return err
	}
	if err := r.tools(); err != nil {
		return err
	}
	if err := r.toolChoice(); err != nil {
		return err
	}
	return r.messages()
}

func (r *MessagesRequest) thinking() *Error {
	t, ok, err := r.body.object("thinking")
	if err != nil || !ok {
		return err
	}
	typ, err := t.reqStr("type")
	if err != nil {
		return err
	}
	switch typ {
	case "disabled":
		return nil
	case "enabled":
		b, err := t.intMin("budget_tokens", 1024)
		if err != nil {
			return err
		}
		if b == nil {
			return invalidf(t.p("budget_tokens"), "missing_required_parameter", "budget_tokens is required")
		}
		if r.MaxTokens > 0 && *b >= r.MaxTokens {
			return invalidf(t.p("budget_tokens"), "", "budget_tokens must be less than max_tokens")
		}
		r.budget = *b
	case "adaptive":
	default:
		return invalidf(t.p("type"), "", "thinking.type must be enabled, disabled or adaptive, got %q", typ)
	}
	r.Thinking = true
	r.thinkingParam = "thinking"
	return nil
}

// textBlocks reads a string or an array of text blocks (system prompts,
// tool results), joining the texts with sep.
func textBlocks(raw json.RawMessage, path, sep string) (string, *Error) {
	switch kind(raw) {
	case 's':
		return asString(raw, path)
	case 'a':
	default:
		return "", typeErr(path, "a string or an array of text blocks", raw)
	}
	list, _ := asArray(raw, path)
	var texts []string
	for i, b := range list {
		o, err := asObject(b, index(path, i))
		if err != nil {
			return "", err
		}
		typ, err := o.reqStr("type")
		if err != nil {
			return "", err
		}
		if typ != "text" {
			return "", invalidf(o.p("type"), "", "expected a text block, got %q", typ)
		}
		s, ok, err := o.str("text")
		if err != nil {
			return "", err
		}
		if !ok {
			return "", invalidf(o.p("text"), "missing_required_parameter", "text is required")
		}
		texts = append(texts, s)
	}
	return strings.Join(texts, sep), nil
}

func (r *MessagesRequest) system() *Error {
	raw := r.body.raw("system")
	if raw == nil {
		return nil
	}
	s, err := textBlocks(raw, "system", "\n\n")
	if err != nil {
		return err
	}
	if s != "" {
		r.chat.Messages = append(r.chat.Messages, chatMessage{Role: "system", Content: jsonString(s)})
	}
	return nil
}

func (r *MessagesRequest) tools() *Error {
	list, _, err := r.body.array("tools")
	if err != nil {
		return err
	}
	for i, raw := range list {
		t, err := asObject(raw, index("tools", i))
		if err != nil {
			return err
		}
		typ, _, err := t.str("type")
		if err != nil {
			return err
		}
		name, err := t.reqStr("name")
		if err != nil {
			return err
		}
		if typ != "" && typ != "custom" {
			r.unsup(unsupportedf(t.p("type"), "tool type %q (an Anthropic server or client tool) cannot be translated to chat completions", typ))
			continue
		}
		desc, _, err := t.str("description")
		if err != nil {
			return err
		}
		if _, ok, err := t.object("input_schema"); err != nil {
			return err
		} else if !ok {
			return invalidf(t.p("input_schema"), "missing_required_parameter", "input_schema is required")
		}
		strict, err := t.bool("strict")
		if err != nil {
			return err
		}
		r.chat.Tools = append(r.chat.Tools, chatTool{Type: "function", Function: chatFunctionDef{
			Name: name, Description: desc, Parameters: compact(t.m["input_schema"]), Strict: strict,
		}})
	}
	return nil
}

func (r *MessagesRequest) toolChoice() *Error {
	tc, ok, err := r.body.object("tool_choice")
	if err != nil || !ok {
		return err
	}
	typ, err := tc.reqStr("type")
	if err != nil {
		return err
	}
	noParallel, err := tc.bool("disable_parallel_tool_use")
	if err != nil {
		return err
	}
	switch typ {
	case "auto":
		r.chat.ToolChoice = jsonString("auto")
	case "any":
		r.chat.ToolChoice = jsonString("required")
	case "none":
		r.chat.ToolChoice = jsonString("none")
	case "tool":
		name, err := tc.reqStr("name")
		if err != nil {
			return err
		}
		known := false
		for _, t := range r.chat.Tools {
			known = known || t.Function.Name == name
		}
		if !known && r.unsupported == nil {
			return invalidf(tc.p("name"), "", "tool_choice names tool %q, which is not in tools", name)
		}
		r.chat.ToolChoice = marshal(map[string]any{"type": "function", "function": map[string]string{"name": name}})
	default:
		return invalidf(tc.p("type"), "", "tool_choice.type must be auto, any, tool or none, got %q", typ)
	}
	if noParallel != nil && *noParallel && typ != "none" {
		f := false
		r.chat.ParallelToolCalls = &f
	}
	return nil
}

func (r *MessagesRequest) messages() *Error {
	list, ok, err := r.body.array("messages")
	if err != nil {
		return err
	}
	if !ok {
		return invalidf("messages", "missing_required_parameter", "messages is required")
	}
	if len(list) == 0 {
		return invalidf("messages", "", "messages must not be empty")
	}
	for i, raw := range list {
		m, err := asObject(raw, index("messages", i))
		if err != nil {
			return err
		}
		role, err := m.reqStr("role")
		if err != nil {
			return err
		}
		if role != "user" && role != "assistant" {
			return invalidf(m.p("role"), "", "role must be user or assistant, got %q", role)
		}
		raw := m.m["content"]
		switch kind(raw) {
		case 's':
			s, _ := asString(raw, m.p("content"))
			r.chat.Messages = append(r.chat.Messages, chatMessage{Role: role, Content: jsonString(s)})
			continue
		case 'a':
		case 'z':
			return invalidf(m.p("content"), "missing_required_parameter", "content is required")
		default:
			return typeErr(m.p("content"), "a string or an array of content blocks", raw)
		}
		blocks, _ := asArray(raw, m.p("content"))
		if err := r.blocks(role, blocks, m.p("content")); err != nil {
			return err
		}
	}
	return nil
}

// blocks translates one turn's content blocks: a user turn's tool results
// become tool messages (first, as chat wants them right after the
// assistant's calls), the rest one user message; an assistant turn becomes
// one assistant message with its text and tool calls.
func (r *MessagesRequest) blocks(role string, blocks []json.RawMessage, path string) *Error {
	var parts []chatPart
	var tools []chatMessage
	var calls []chatToolCall
	var text strings.Builder
	for i, raw := range blocks {
		b, err := asObject(raw, index(path, i))
		if err != nil {
			return err
		}
		typ, err := b.reqStr("type")
		if err != nil {
			return err
		}
		onlyIn := func(want string) *Error {
			if role != want {
				return invalidf(b.p("type"), "", "%s blocks are only allowed in %s messages", typ, want)
			}
			return nil
		}
		switch typ {
		case "text":
			s, ok, err := b.str("text")
			if err != nil {
				return err
			}
			if !ok {
				return invalidf(b.p("text"), "missing_required_parameter", "text is required")
			}
			parts = append(parts, textPart(s))
			text.WriteString(s)
		case "image", "document":
			if err := onlyIn("user"); err != nil {
				return err
			}
			part := r.image
			if typ == "document" {
				part = r.document
			}
			p, err := part(b)
			if err != nil {
				return err
			}
			if p != nil {
				parts = append(parts, *p)
			}
		case "tool_use":
			if err := onlyIn("assistant"); err != nil {
				return err
			}
			id, err := b.reqStr("id")
			if err != nil {
				return err
			}
			name, err := b.reqStr("name")
			if err != nil {
				return err
			}
			if _, ok, err := b.object("input"); err != nil {
				return err
			} else if !ok {
				return invalidf(b.p("input"), "missing_required_parameter", "input is required")
			}
			calls = append(calls, chatToolCall{ID: id, Type: "function", Function: chatFunction{Name: name, Arguments: string(compact(b.m["input"]))}})
		case "tool_result":
			if err := onlyIn("user"); err != nil {
				return err
			}
			id, err := b.reqStr("tool_use_id")
			if err != nil {
				return err
			}
			if _, err := b.bool("is_error"); err != nil {
				return err
			}
			content := jsonString("")
			if raw := b.raw("content"); raw != nil {
				c, err := r.toolResult(raw, b.p("content"))
				if err != nil {
					return err
				}
				content = c
			}
			tools = append(tools, chatMessage{Role: "tool", Content: content, ToolCallID: id})
		case "thinking", "redacted_thinking":
			if err := onlyIn("assistant"); err != nil {
				return err
			}
			// Earlier turns' thinking: chat cannot take it back; dropped.
		default:
			r.unsup(unsupportedf(b.p("type"), "content block type %q cannot be translated to chat completions", typ))
		}
	}
	if role == "assistant" {
		if text.Len() == 0 && len(calls) == 0 {
			return nil
		}
		m := chatMessage{Role: "assistant", ToolCalls: calls}
		if text.Len() > 0 || len(calls) == 0 {
			m.Content = jsonString(text.String())
		}
		r.chat.Messages = append(r.chat.Messages, m)
		return nil
	}
	r.chat.Messages = append(r.chat.Messages, tools...)
	if len(parts) > 0 || len(tools) == 0 {
		if len(parts) == 0 {
			parts = []chatPart{textPart("")}
		}
		r.chat.Messages = append(r.chat.Messages, chatMessage{Role: "user", Content: partsContent(parts)})
	}
	return nil
}

var imageTypes = set("image/jpeg", "image/png", "image/gif", "image/webp")

// image translates an image block; nil when it was noted unsupported.
func (r *MessagesRequest) image(b jobj) (*chatPart, *Error) {
	src, ok, err := b.object("source")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalidf(b.p("source"), "missing_required_parameter", "source is required")
	}
	typ, err := src.reqStr("type")
	if err != nil {
		return nil, err
	}
	switch typ {
	case "base64":
		mt, err := src.reqStr("media_type")
		if err != nil {
			return nil, err
		}
		if !imageTypes[mt] {
			return nil, invalidf(src.p("media_type"), "", "media_type must be image/jpeg, image/png, image/gif or image/webp, got %q", mt)
		}
		data, err := base64Data(src)
		if err != nil {
			return nil, err
		}
		return &chatPart{Type: "image_url", ImageURL: &chatImageURL{URL: "data:" + mt + ";base64," + data}}, nil
	case "url":
		u, err := src.reqStr("url")
		if err != nil {
			return nil, err
		}
		return &chatPart{Type: "image_url", ImageURL: &chatImageURL{URL: u}}, nil
	case "file":
		r.unsup(unsupportedf(src.p("type"), "images by file_id cannot be translated; send base64 or url sources"))
		return nil, nil
	}
	return nil, invalidf(src.p("type"), "", "image source type must be base64, url or file, got %q", typ)
}

func base64Data(src jobj) (string, *Error) {
	data, err := src.reqStr("data")
	if err != nil {
		return "", err
	}
	if _, e := base64.StdEncoding.DecodeString(data); e != nil {
		return "", invalidf(src.p("data"), "", "data is not valid base64")
	}
	return data, nil
}

// document translates a document block: base64 PDFs become chat file
// parts, plain-text sources text parts; nil when noted unsupported.
func (r *MessagesRequest) document(b jobj) (*chatPart, *Error) {
	src, ok, err := b.object("source")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalidf(b.p("source"), "missing_required_parameter", "source is required")
	}
	typ, err := src.reqStr("type")
	if err != nil {
		return nil, err
	}
	title, _, err := b.str("title")
	if err != nil {
		return nil, err
	}
	switch typ {
	case "base64":
		mt, err := src.reqStr("media_type")
		if err != nil {
			return nil, err
		}
		if mt != "application/pdf" {
			return nil, invalidf(src.p("media_type"), "", "base64 documents must be application/pdf, got %q", mt)
		}
		data, err := base64Data(src)
		if err != nil {
			return nil, err
		}
		if title == "" {
			title = "document.pdf"
		}
		return &chatPart{Type: "file", File: &chatFile{FileData: "data:application/pdf;base64," + data, Filename: title}}, nil
	case "text":
		data, ok, err := src.str("data")
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, invalidf(src.p("data"), "missing_required_parameter", "data is required")
		}
		p := textPart(data)
		return &p, nil
	}
	r.unsup(unsupportedf(src.p("type"), "document source type %q cannot be translated to chat completions", typ))
	return nil, nil
}

// toolResult translates a tool_result's content: a string or text blocks
// (chat tool messages hold text only; images are noted unsupported).
func (r *MessagesRequest) toolResult(raw json.RawMessage, path string) (json.RawMessage, *Error) {
	if kind(raw) == 's' {
		return compact(raw), nil
	}
	list, err := asArray(raw, path)
	if err != nil {
		return nil, typeErr(path, "a string or an array of content blocks", raw)
	}
	var parts []chatPart
	for i, braw := range list {
		b, err := asObject(braw, index(path, i))
		if err != nil {
			return nil, err
		}
		typ, err := b.reqStr("type")
		if err != nil {
			return nil, err
		}
		switch typ {
		case "text":
			s, ok, err := b.str("text")
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, invalidf(b.p("text"), "missing_required_parameter", "text is required")
			}
			parts = append(parts, textPart(s))
		case "image":
			if _, err := r.image(b); err != nil {
				return nil, err
			}
			r.unsup(unsupportedf(b.p("type"), "images in tool results cannot be translated: chat tool messages hold text only"))
		default:
			r.unsup(unsupportedf(b.p("type"), "tool_result content type %q cannot be translated to chat completions", typ))
		}
	}
	if len(parts) == 0 {
		return jsonString(""), nil
	}
	return partsContent(parts), nil
}

// ToChat translates the request into a Chat Completions request body.
// It fails with an *Error wrapping ErrUnsupported for what chat cannot
// express: server and client tools (web search, bash, computer use...),
// container, mcp_servers, context_management, structured output_config,
// file sources, images in tool results, unknown block types and fields,
// and, unless opt says otherwise, top_k and extended thinking. A stream
// asks for usage (stream_options.include_usage), which the Messages
// events need.
func (r *MessagesRequest) ToChat(opt MessagesOptions) ([]byte, error) {
	if r.unsupported != nil {
		return nil, r.unsupported
	}
	return r.toChat(opt)
}

// ApproxChat is the chat form of what translates of a request ToChat
// refuses as untranslatable: the features ToChat names (server tools,
// unknown blocks and fields...), top_k and thinking are left out. It is
// not the request: a gateway passing the request through to an upstream
// that speaks the Messages API can use it for bookkeeping (routing, limits,
// token estimates), never to answer the request or to key a cache.
func (r *MessagesRequest) ApproxChat() ([]byte, error) {
	return r.toChat(MessagesOptions{TopK: Drop, Thinking: Drop})
}

func (r *MessagesRequest) toChat(opt MessagesOptions) ([]byte, error) {
	c := r.chat
	if r.topK != nil {
		switch opt.TopK {
		case Refuse:
			return nil, unsupportedf("top_k", "top_k has no chat completions equivalent")
		case Pass:
			c.TopK = r.topK
		}
	}
	if r.Thinking {
		switch opt.Thinking {
		case Refuse:
			return nil, unsupportedf("thinking", "extended thinking has no chat completions equivalent")
		case Pass:
			switch {
			case r.budget == 0 || (r.budget >= 4096 && r.budget < 16384):
				c.ReasoningEffort = "medium"
			case r.budget < 4096:
				c.ReasoningEffort = "low"
			default:
				c.ReasoningEffort = "high"
			}
		}
	}
	return marshal(c), nil
}
