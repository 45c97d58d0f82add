package codec

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// ResponsesRequest is a validated POST /v1/responses body.
type ResponsesRequest struct {
	// Model is the requested model.
	Model string
	// Stream reports "stream": true.
	Stream bool
	// Store is "store" (true when absent): whether the client may later
	// continue from this response with previous_response_id, so the caller
	// should keep [ResponsesRequest.Conversation] under the response's id.
	Store bool
	// PreviousResponseID is "previous_response_id", empty if none. The
	// caller looks the stored conversation up and hands it to
	// [ResponsesRequest.Prepend] before [ResponsesRequest.ToChat].
	PreviousResponseID string

	body        jobj
	input       []json.RawMessage // the request's input items, a string input as one user message
	inputMsgs   []chatMessage
	prior       []json.RawMessage // from Prepend
	priorMsgs   []chatMessage
	hasPrior    bool
	unsupported *Error // the first feature ToChat cannot translate
	chat        chatRequest
}

var responsesFields = set("model", "input", "instructions", "tools", "tool_choice", "text",
	"temperature", "top_p", "max_output_tokens", "metadata", "store", "previous_response_id",
	"stream", "stream_options", "parallel_tool_calls", "user", "safety_identifier",
	"prompt_cache_key", "prompt_cache_retention", "service_tier", "reasoning", "truncation",
	"include", "top_logprobs", "background", "conversation", "prompt", "max_tool_calls")

// ParseResponses validates a Responses API request body. A malformed body
// gives an *Error wrapping ErrInvalid; features that are valid but cannot
// be translated to Chat Completions are not errors here: ToChat reports
// them.
func ParseResponses(body []byte) (*ResponsesRequest, error) {
	o, err := parseBody(body)
	if err != nil {
		return nil, err
	}
	r := &ResponsesRequest{body: o, Store: true}
	if err := r.parse(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *ResponsesRequest) unsup(e *Error) {
	if r.unsupported == nil {
		r.unsupported = e
	}
}

func (r *ResponsesRequest) parse() *Error {
	o := r.body
	c := &r.chat
	var err *Error
	if r.Model, err = o.reqStr("model"); err != nil {
		return err
	}
	c.Model = r.Model
	if k := o.unknown(responsesFields); k != "" {
		r.unsup(&Error{Param: k, Code: "unknown_parameter", Message: "unknown parameter " + strconv.Quote(k) + " cannot be translated", Err: ErrUnsupported})
	}
	if b, err := o.bool("stream"); err != nil {
		return err
	} else if b != nil && *b {
		r.Stream = true
		c.Stream = true
		c.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	if b, err := o.bool("store"); err != nil {
		return err
	} else if b != nil {
		r.Store = *b
	}
	if r.PreviousResponseID, _, err = o.str("previous_response_id"); err != nil {
		return err
	}
	if _, _, err := o.object("stream_options"); err != nil {
		return err
	}
	if c.Temperature, err = o.floatIn("temperature", 0, 2); err != nil {
		return err
	}
	if c.TopP, err = o.floatIn("top_p", 0, 1); err != nil {
		return err
	}
	if c.MaxCompletionTokens, err = o.intMin("max_output_tokens", 1); err != nil {
		return err
	}
	if c.ParallelToolCalls, err = o.bool("parallel_tool_calls"); err != nil {
		return err
	}
	for _, f := range [...]struct {
		key string
		dst *string
	}{
		{"user", &c.User}, {"safety_identifier", &c.SafetyIdentifier}, {"prompt_cache_key", &c.PromptCacheKey},
		{"prompt_cache_retention", &c.PromptCacheRetention}, {"service_tier", &c.ServiceTier},
	} {
		if *f.dst, _, err = o.str(f.key); err != nil {
			return err
		}
	}
	if err := r.metadata(); err != nil {
		return err
	}
	if err := r.misc(); err != nil {
		return err
	}
	if instr, ok, err := o.str("instructions"); err != nil {
		return err
	} else if ok && instr != "" {
		c.Messages = append(c.Messages, chatMessage{Role: "system", Content: jsonString(instr)})
	}
	if err := r.tools(); err != nil {
		return err
	}
	if err := r.toolChoice(); err != nil {
		return err
	}
	if err := r.text(); err != nil {
		return err
	}
	// Input last: its errors are the least helpful to stop at first.
	raw := o.m["input"]
	switch kind(raw) {
	case 'z':
	case 's':
		s, _ := asString(raw, "input")
		r.input = []json.RawMessage{marshal(map[string]string{"type": "message", "role": "user", "content": s})}
	case 'a':
		items, _ := asArray(raw, "input")
		r.input = items
	default:
		return typeErr("input", "a string or an array of input items", raw)
	}
	msgs, unsup, err := translateItems(r.input, func(i int) string { return index("input", i) })
	if err != nil {
		return err
	}
	if unsup != nil {
		r.unsup(unsup)
	}
	r.inputMsgs = msgs
	if r.PreviousResponseID == "" && len(r.input) == 0 && !o.has("conversation") && !o.has("prompt") {
		return invalidf("input", "missing_required_parameter", "input is required")
	}
	return nil
}

func (r *ResponsesRequest) metadata() *Error {
	m, ok, err := r.body.object("metadata")
	if err != nil || !ok {
		return err
	}
	if len(m.m) > 16 {
		return invalidf("metadata", "", "metadata may hold at most 16 keys, got %d", len(m.m))
	}
	for k, v := range m.m {
		if utf8.RuneCountInString(k) > 64 {
			return invalidf(m.p(k), "", "metadata keys are at most 64 characters")
		}
		s, err := asString(v, m.p(k))
		if err != nil {
			return err
		}
		if utf8.RuneCountInString(s) > 512 {
			return invalidf(m.p(k), "", "metadata values are at most 512 characters")
		}
	}
	return nil
}

// misc validates the fields with no chat counterpart, noting those that
// change the answer in ways a chat upstream cannot honour.
func (r *ResponsesRequest) misc() *Error {
	o := r.body
	if t, ok, err := o.str("truncation"); err != nil {
		return err
	} else if ok && t != "auto" && t != "disabled" {
		return invalidf("truncation", "", "truncation must be \"auto\" or \"disabled\", got %q", t)
	}
	if b, err := o.bool("background"); err != nil {
		return err
	} else if b != nil && *b {
		r.unsup(unsupportedf("background", "background responses cannot be translated to chat completions"))
	}
	if n, err := o.intMin("top_logprobs", 0); err != nil {
		return err
	} else if n != nil && *n > 0 {
		r.unsup(unsupportedf("top_logprobs", "logprobs cannot be translated to chat completions"))
	}
	if _, err := o.intMin("max_tool_calls", 1); err != nil {
		return err
	}
	if list, _, err := o.array("include"); err != nil {
		return err
	} else {
		for i, v := range list {
			s, err := asString(v, index("include", i))
			if err != nil {
				return err
			}
			if s == "message.output_text.logprobs" {
				r.unsup(unsupportedf(index("include", i), "logprobs cannot be translated to chat completions"))
			}
		}
	}
	if o.has("conversation") {
		if k := kind(o.m["conversation"]); k != 's' && k != 'o' {
			return typeErr("conversation", "a string or an object", o.m["conversation"])
		}
		if r.PreviousResponseID != "" {
			return invalidf("conversation", "", "conversation and previous_response_id cannot be used together")
		}
		r.unsup(unsupportedf("conversation", "conversations are not available; use previous_response_id"))
	}
	if _, ok, err := o.object("prompt"); err != nil {
		return err
	} else if ok {
		r.unsup(unsupportedf("prompt", "stored prompt templates cannot be translated to chat completions"))
	}
	if re, ok, err := o.object("reasoning"); err != nil {
		return err
	} else if ok {
		effort, _, err := re.str("effort")
		if err != nil {
			return err
		}
		switch effort {
		case "", "none", "minimal", "low", "medium", "high", "xhigh":
		default:
			return invalidf(re.p("effort"), "", "unknown reasoning effort %q", effort)
		}
		r.chat.ReasoningEffort = effort
		// summary and generate_summary: chat answers carry no reasoning
		// summaries, so they are accepted and have no effect.
		if _, _, err := re.str("summary"); err != nil {
			return err
		}
	}
	return nil
}

func (r *ResponsesRequest) tools() *Error {
	list, _, err := r.body.array("tools")
	if err != nil {
		return err
	}
	for i, raw := range list {
		p := index("tools", i)
		t, err := asObject(raw, p)
		if err != nil {
			return err
		}
		typ, err := t.reqStr("type")
		if err != nil {
			return err
		}
		if typ != "function" {
			r.unsup(unsupportedf(t.p("type"), "tool type %q cannot be translated to chat completions; only function tools", typ))
			continue
		}
		var f chatFunctionDef
		if f.Name, err = t.reqStr("name"); err != nil {
			return err
		}
		if f.Description, _, err = t.str("description"); err != nil {
			return err
		}
		if t.has("parameters") {
			if _, err := asObject(t.m["parameters"], t.p("parameters")); err != nil {
				return err
			}
			f.Parameters = compact(t.m["parameters"])
		}
		if f.Strict, err = t.bool("strict"); err != nil {
			return err
		}
		r.chat.Tools = append(r.chat.Tools, chatTool{Type: "function", Function: f})
	}
	return nil
}

func (r *ResponsesRequest) toolChoice() *Error {
	raw := r.body.raw("tool_choice")
	switch kind(raw) {
	case 'z':
		return nil
	case 's':
		s, _ := asString(raw, "tool_choice")
		switch s {
		case "none", "auto", "required":
			r.chat.ToolChoice = jsonString(s)
			return nil
		}
		return invalidf("tool_choice", "", "tool_choice must be \"none\", \"auto\", \"required\" or an object, got %q", s)
	case 'o':
	default:
		return typeErr("tool_choice", "a string or an object", raw)
	}
	tc, _ := asObject(raw, "tool_choice")
	typ, err := tc.reqStr("type")
	if err != nil {
		return err
	}
	if typ != "function" {
		r.unsup(unsupportedf("tool_choice.type", "tool_choice type %q cannot be translated to chat completions", typ))
		return nil
	}
	name, err := tc.reqStr("name")
	if err != nil {
		return err
	}
	known := false
	for _, t := range r.chat.Tools {
		known = known || t.Function.Name == name
	}
	if !known && r.unsupported == nil {
		return invalidf("tool_choice.name", "", "tool_choice names function %q, which is not in tools", name)
	}
	r.chat.ToolChoice = marshal(map[string]any{"type": "function", "function": map[string]string{"name": name}})
	return nil
}

func (r *ResponsesRequest) text() *Error {
	t, ok, err := r.body.object("text")
	if err != nil || !ok {
		return err
	}
	if v, ok, err := t.str("verbosity"); err != nil {
		return err
	} else if ok {
		if v != "low" && v != "medium" && v != "high" {
			return invalidf(t.p("verbosity"), "", "verbosity must be low, medium or high, got %q", v)
		}
		r.chat.Verbosity = v
	}
	f, ok, err := t.object("format")
	if err != nil || !ok {
		return err
	}
	typ, err := f.reqStr("type")
	if err != nil {
		return err
	}
	switch typ {
	case "text":
	case "json_object":
		r.chat.ResponseFormat = json.RawMessage(`{"type":"json_object"}`)
	case "json_schema":
		name, err := f.reqStr("name")
		if err != nil {
			return err
		}
		_, ok, err := f.object("schema")
		if err != nil {
			return err
		}
		if !ok {
			return invalidf(f.p("schema"), "missing_required_parameter", "schema is required")
		}
		desc, _, err := f.str("description")
		if err != nil {
			return err
		}
		strict, err := f.bool("strict")
		if err != nil {
			return err
		}
		js := struct {
			Name        string          `json:"name"`
			Description string          `json:"description,omitempty"`
			Schema      json.RawMessage `json:"schema"`
			Strict      *bool           `json:"strict,omitempty"`
		}{name, desc, compact(f.m["schema"]), strict}
		r.chat.ResponseFormat = marshal(map[string]any{"type": "json_schema", "json_schema": js})
	default:
		return invalidf(f.p("type"), "", "text.format.type must be text, json_object or json_schema, got %q", typ)
	}
	return nil
}

// Prepend puts a stored conversation's items (those
// [ResponsesRequest.Conversation] returned for the previous response)
// before this request's input, resolving previous_response_id. Call it
// before ToChat.
func (r *ResponsesRequest) Prepend(items []json.RawMessage) error {
	msgs, unsup, err := translateItems(items, func(i int) string { return "previous_response_id" })
	if err != nil {
		return err
	}
	if unsup != nil {
		r.unsup(unsup)
	}
	r.prior = append(append([]json.RawMessage(nil), items...), r.prior...)
	r.priorMsgs = append(msgs, r.priorMsgs...)
	r.hasPrior = true
	return nil
}

// ToChat translates the request into a Chat Completions request body. It
// fails with an *Error wrapping ErrUnsupported for what chat cannot
// express (non-function tools, background, conversation, prompt
// templates, logprobs, unknown fields, item types other than messages,
// function calls and their outputs, an unresolved previous_response_id),
// and with ErrInvalid when no message remains. A stream asks for usage
// (stream_options.include_usage), which the Responses events need.
func (r *ResponsesRequest) ToChat() ([]byte, error) {
	if r.unsupported != nil {
		return nil, r.unsupported
	}
	return r.toChat()
}

// ApproxChat is the chat form of what translates of a request ToChat
// refuses as untranslatable (hosted tools, unknown items and fields are
// left out). It is not the request: a gateway passing the request through
// to an upstream that speaks the Responses API can use it for bookkeeping
// (routing, limits, token estimates), never to answer the request or to
// key a cache.
func (r *ResponsesRequest) ApproxChat() ([]byte, error) { return r.toChat() }

func (r *ResponsesRequest) toChat() ([]byte, error) {
	if r.PreviousResponseID != "" && !r.hasPrior {
		return nil, unsupportedf("previous_response_id", "previous_response_id %q was not resolved (no stored conversation)", r.PreviousResponseID)
	}
	c := r.chat
	c.Messages = append(append(append([]chatMessage(nil), c.Messages...), r.priorMsgs...), r.inputMsgs...)
	conversational := false
	for _, m := range c.Messages {
		conversational = conversational || m.Role != "system"
	}
	if !conversational {
		return nil, invalidf("input", "missing_required_parameter", "input must hold at least one message or function call output")
	}
	return marshal(c), nil
}

// Conversation returns the items a later request continuing from this
// one's answer (previous_response_id) must see: the prepended items, this
// request's input (a string input as a user message), then the answer's
// output items. response is the Response object the client got.
// Instructions are not carried over, as OpenAI documents.
func (r *ResponsesRequest) Conversation(response []byte) ([]json.RawMessage, error) {
	var resp struct {
		Output []json.RawMessage `json:"output"`
	}
	if err := json.Unmarshal(response, &resp); err != nil {
		return nil, upstreamf("response: %v", err)
	}
	out := make([]json.RawMessage, 0, len(r.prior)+len(r.input)+len(resp.Output))
	out = append(out, r.prior...)
	for _, it := range r.input {
		out = append(out, compact(it))
	}
	return append(out, resp.Output...), nil
}

// translateItems translates Responses input items into chat messages.
// It returns the first untranslatable feature separately from validation
// errors, which stop it.
func translateItems(items []json.RawMessage, path func(int) string) ([]chatMessage, *Error, *Error) {
	var msgs []chatMessage
	var unsup *Error
	note := func(e *Error) {
		if unsup == nil {
			unsup = e
		}
	}
	for i, raw := range items {
		it, err := asObject(raw, path(i))
		if err != nil {
			return nil, nil, err
		}
		typ, _, err := it.str("type")
		if err != nil {
			return nil, nil, err
		}
		if typ == "" && it.has("role") {
			typ = "message"
		}
		switch typ {
		case "message":
			m, u, err := inputMessage(it)
			if err != nil {
				return nil, nil, err
			}
			if u != nil {
				note(u)
				continue
			}
			msgs = append(msgs, m)
		case "function_call":
			callID, err := it.reqStr("call_id")
			if err != nil {
				return nil, nil, err
			}
			name, err := it.reqStr("name")
			if err != nil {
				return nil, nil, err
			}
			args, ok, err := it.str("arguments")
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				return nil, nil, invalidf(it.p("arguments"), "missing_required_parameter", "arguments is required")
			}
			msgs = appendToolCall(msgs, chatToolCall{ID: callID, Type: "function", Function: chatFunction{Name: name, Arguments: args}})
		case "function_call_output":
			callID, err := it.reqStr("call_id")
			if err != nil {
				return nil, nil, err
			}
			content, u, err := toolOutput(it)
			if err != nil {
				return nil, nil, err
			}
			if u != nil {
				note(u)
				continue
			}
			msgs = append(msgs, chatMessage{Role: "tool", Content: content, ToolCallID: callID})
		case "reasoning":
			// Reasoning items carry OpenAI's encrypted reasoning state; a
			// chat upstream cannot take it back, so they are dropped.
		case "":
			return nil, nil, invalidf(it.p("type"), "missing_required_parameter", "input items need a type")
		default:
			note(unsupportedf(it.p("type"), "input item type %q cannot be translated to chat completions", typ))
		}
	}
	return msgs, unsup, nil
}

// inputMessage translates a message item (an easy input message, an input
// message or an earlier output message).
func inputMessage(it jobj) (chatMessage, *Error, *Error) {
	role, err := it.reqStr("role")
	if err != nil {
		return chatMessage{}, nil, err
	}
	switch role {
	case "user", "system", "developer", "assistant":
	default:
		return chatMessage{}, nil, invalidf(it.p("role"), "", "role must be user, assistant, system or developer, got %q", role)
	}
	chatRole := role
	if role == "developer" {
		// "system" is the role every chat server knows; OpenAI treats the
		// two alike for chat completions.
		chatRole = "system"
	}
	raw := it.m["content"]
	switch kind(raw) {
	case 's':
		s, _ := asString(raw, it.p("content"))
		return chatMessage{Role: chatRole, Content: jsonString(s)}, nil, nil
	case 'a':
	case 'z':
		return chatMessage{}, nil, invalidf(it.p("content"), "missing_required_parameter", "content is required")
	default:
		return chatMessage{}, nil, typeErr(it.p("content"), "a string or an array of content parts", raw)
	}
	list, _ := asArray(raw, it.p("content"))
	var parts []chatPart
	var text, refusal []byte
	hasText, hasRefusal := false, false
	var unsup *Error
	for j, praw := range list {
		p, err := asObject(praw, index(it.p("content"), j))
		if err != nil {
			return chatMessage{}, nil, err
		}
		typ, err := p.reqStr("type")
		if err != nil {
			return chatMessage{}, nil, err
		}
		switch typ {
		case "input_text", "output_text", "text":
			s, ok, err := p.str("text")
			if err != nil {
				return chatMessage{}, nil, err
			}
			if !ok {
				return chatMessage{}, nil, invalidf(p.p("text"), "missing_required_parameter", "text is required")
			}
			parts = append(parts, textPart(s))
			text, hasText = append(text, s...), true
		case "refusal":
			s, ok, err := p.str("refusal")
			if err != nil {
				return chatMessage{}, nil, err
			}
			if !ok {
				return chatMessage{}, nil, invalidf(p.p("refusal"), "missing_required_parameter", "refusal is required")
			}
			refusal, hasRefusal = append(refusal, s...), true
		case "input_image":
			part, u, err := inputImage(p)
			if err != nil {
				return chatMessage{}, nil, err
			}
			if u == nil && role != "user" {
				u = unsupportedf(p.p("type"), "images are only translatable in user messages")
			}
			if u != nil && unsup == nil {
				unsup = u
			}
			parts = append(parts, part)
		case "input_file":
			part, u, err := inputFile(p)
			if err != nil {
				return chatMessage{}, nil, err
			}
			if u == nil && role != "user" {
				u = unsupportedf(p.p("type"), "files are only translatable in user messages")
			}
			if u != nil && unsup == nil {
				unsup = u
			}
			parts = append(parts, part)
		default:
			if unsup == nil {
				unsup = unsupportedf(p.p("type"), "content part type %q cannot be translated to chat completions", typ)
			}
		}
	}
	if unsup != nil {
		return chatMessage{}, unsup, nil
	}
	if role == "assistant" {
		m := chatMessage{Role: "assistant"}
		if hasText || !hasRefusal {
			m.Content = jsonString(string(text))
		}
		if hasRefusal {
			s := string(refusal)
			m.Refusal = &s
		}
		return m, nil, nil
	}
	if hasRefusal {
		return chatMessage{}, unsupportedf(it.p("content"), "refusal parts are only translatable in assistant messages"), nil
	}
	if len(parts) == 0 {
		return chatMessage{Role: chatRole, Content: jsonString("")}, nil, nil
	}
	return chatMessage{Role: chatRole, Content: partsContent(parts)}, nil, nil
}

func inputImage(p jobj) (chatPart, *Error, *Error) {
	url, hasURL, err := p.str("image_url")
	if err != nil {
		return chatPart{}, nil, err
	}
	_, hasFile, err := p.str("file_id")
	if err != nil {
		return chatPart{}, nil, err
	}
	detail, _, err := p.str("detail")
	if err != nil {
		return chatPart{}, nil, err
	}
	switch detail {
	case "", "auto", "low", "high":
	default:
		return chatPart{}, nil, invalidf(p.p("detail"), "", "detail must be auto, low or high, got %q", detail)
	}
	if !hasURL {
		if hasFile {
			return chatPart{}, unsupportedf(p.p("file_id"), "images by file_id cannot be translated; send image_url"), nil
		}
		return chatPart{}, nil, invalidf(p.p("image_url"), "missing_required_parameter", "input_image needs image_url or file_id")
	}
	return chatPart{Type: "image_url", ImageURL: &chatImageURL{URL: url, Detail: detail}}, nil, nil
}

func inputFile(p jobj) (chatPart, *Error, *Error) {
	var f chatFile
	var err *Error
	if f.FileData, _, err = p.str("file_data"); err != nil {
		return chatPart{}, nil, err
	}
	if f.FileID, _, err = p.str("file_id"); err != nil {
		return chatPart{}, nil, err
	}
	if f.Filename, _, err = p.str("filename"); err != nil {
		return chatPart{}, nil, err
	}
	if _, ok, err := p.str("file_url"); err != nil {
		return chatPart{}, nil, err
	} else if ok {
		return chatPart{}, unsupportedf(p.p("file_url"), "files by URL cannot be translated; send file_data or file_id"), nil
	}
	if f.FileData == "" && f.FileID == "" {
		return chatPart{}, nil, invalidf(p.path, "missing_required_parameter", "input_file needs file_data, file_id or file_url")
	}
	return chatPart{Type: "file", File: &f}, nil, nil
}

// toolOutput translates a function_call_output's output: a string, or
// text parts (chat tool messages hold text only).
func toolOutput(it jobj) (json.RawMessage, *Error, *Error) {
	raw := it.m["output"]
	switch kind(raw) {
	case 's':
		return compact(raw), nil, nil
	case 'a':
	case 'z':
		return nil, nil, invalidf(it.p("output"), "missing_required_parameter", "output is required")
	default:
		return nil, nil, typeErr(it.p("output"), "a string or an array of content parts", raw)
	}
	list, _ := asArray(raw, it.p("output"))
	var parts []chatPart
	for j, praw := range list {
		p, err := asObject(praw, index(it.p("output"), j))
		if err != nil {
			return nil, nil, err
		}
		typ, err := p.reqStr("type")
		if err != nil {
			return nil, nil, err
		}
		if typ != "input_text" {
			return nil, unsupportedf(p.p("type"), "function call outputs translate to chat tool messages, which hold text only; got %q", typ), nil
		}
		s, ok, err := p.str("text")
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			return nil, nil, invalidf(p.p("text"), "missing_required_parameter", "text is required")
		}
		parts = append(parts, textPart(s))
	}
	if len(parts) == 0 {
		return jsonString(""), nil, nil
	}
	return partsContent(parts), nil, nil
}
