package anthropic

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// messagesRequest is the body of POST /v1/messages. Field order is the
// output order.
type messagesRequest struct {
	Model         string      `json:"model"`
	MaxTokens     int64       `json:"max_tokens"`
	System        string      `json:"system,omitempty"`
	Messages      []message   `json:"messages"`
	Tools         []tool      `json:"tools,omitempty"`
	ToolChoice    *toolChoice `json:"tool_choice,omitempty"`
	Temperature   *float64    `json:"temperature,omitempty"`
	TopP          *float64    `json:"top_p,omitempty"`
	StopSequences []string    `json:"stop_sequences,omitempty"`
	Metadata      *metadata   `json:"metadata,omitempty"`
	Stream        bool        `json:"stream,omitempty"`
}

type message struct {
	Role    string  `json:"role"`
	Content []block `json:"content"`
}

// block is an Anthropic content block; which fields are set depends on
// Type (text, image, document, tool_use, tool_result).
type block struct {
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`
	Source    *source         `json:"source,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   []block         `json:"content,omitempty"`
}

type source struct {
	Type      string `json:"type"` // base64 or url
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

type tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type toolChoice struct {
	Type                   string `json:"type"` // auto, any, tool, none
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

type metadata struct {
	UserID string `json:"user_id"`
}

// translated is a translated request and what the answer's translation
// needs to know about it.
type translated struct {
	req          messagesRequest
	includeUsage bool // stream_options.include_usage
}

// The OpenAI request shapes, decoded strictly: a field of the wrong JSON
// type fails the request. Polymorphic fields stay raw.

type chatRequest struct {
	Model               string          `json:"model"`
	Messages            []chatMessage   `json:"messages"`
	MaxTokens           *int64          `json:"max_tokens"`
	MaxCompletionTokens *int64          `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	Stop                json.RawMessage `json:"stop"`
	User                *string         `json:"user"`
	Stream              *bool           `json:"stream"`
	StreamOptions       *streamOptions  `json:"stream_options"`
	N                   *int64          `json:"n"`
	Logprobs            *bool           `json:"logprobs"`
	TopLogprobs         *int64          `json:"top_logprobs"`
	LogitBias           json.RawMessage `json:"logit_bias"`
	ResponseFormat      json.RawMessage `json:"response_format"`
	Modalities          []string        `json:"modalities"`
	Audio               json.RawMessage `json:"audio"`
	Tools               []chatTool      `json:"tools"`
	ToolChoice          json.RawMessage `json:"tool_choice"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls"`
	Functions           json.RawMessage `json:"functions"`
	FunctionCall        json.RawMessage `json:"function_call"`
}

type streamOptions struct {
	IncludeUsage *bool `json:"include_usage"`
}

type chatMessage struct {
	Role         string          `json:"role"`
	Content      json.RawMessage `json:"content"`
	ToolCalls    []chatToolCall  `json:"tool_calls"`
	ToolCallID   *string         `json:"tool_call_id"`
	FunctionCall json.RawMessage `json:"function_call"`
	Audio        json.RawMessage `json:"audio"`
}

type chatToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type contentPart struct {
	Type     string  `json:"type"`
	Text     *string `json:"text"`
	Refusal  *string `json:"refusal"`
	ImageURL *struct {
		URL string `json:"url"`
	} `json:"image_url"`
	File *struct {
		FileData string `json:"file_data"`
		FileID   string `json:"file_id"`
	} `json:"file"`
}

type chatTool struct {
	Type     string `json:"type"`
	Function *struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"function"`
}

type completionRequest struct {
	Model         string          `json:"model"`
	Prompt        json.RawMessage `json:"prompt"`
	MaxTokens     *int64          `json:"max_tokens"`
	Temperature   *float64        `json:"temperature"`
	TopP          *float64        `json:"top_p"`
	Stop          json.RawMessage `json:"stop"`
	User          *string         `json:"user"`
	Stream        *bool           `json:"stream"`
	StreamOptions *streamOptions  `json:"stream_options"`
	N             *int64          `json:"n"`
	BestOf        *int64          `json:"best_of"`
	Logprobs      *int64          `json:"logprobs"`
	Echo          *bool           `json:"echo"`
	Suffix        *string         `json:"suffix"`
	LogitBias     json.RawMessage `json:"logit_bias"`
}

// translator turns OpenAI requests into Messages requests.
type translator struct {
	name      string // provider name, for errors
	maxTokens int64  // default max_tokens
}

// chat translates a chat completions request body.
func (t *translator) chat(body []byte) (*translated, error) {
	var in chatRequest
	if err := t.decode(body, &in); err != nil {
		return nil, err
	}
	out := &translated{}
	r := &out.req
	r.Model = in.Model
	if err := t.common(r, in.Stop, in.Temperature, in.TopP, in.User); err != nil {
		return nil, err
	}
	if err := t.maxTokensOf(r, in.MaxCompletionTokens, in.MaxTokens); err != nil {
		return nil, err
	}
	if in.Stream != nil && *in.Stream {
		r.Stream = true
		out.includeUsage = in.StreamOptions != nil && in.StreamOptions.IncludeUsage != nil && *in.StreamOptions.IncludeUsage
	}
	if err := t.checkN(in.N); err != nil {
		return nil, err
	}
	if in.Logprobs != nil && *in.Logprobs {
		return nil, unsupported(t.name, "logprobs", "logprobs are not available from Anthropic")
	}
	if in.TopLogprobs != nil && *in.TopLogprobs != 0 {
		return nil, unsupported(t.name, "top_logprobs", "logprobs are not available from Anthropic")
	}
	if err := t.checkLogitBias(in.LogitBias); err != nil {
		return nil, err
	}
	if err := t.checkResponseFormat(in.ResponseFormat); err != nil {
		return nil, err
	}
	for _, m := range in.Modalities {
		if m != "text" {
			return nil, unsupported(t.name, "modalities", "output modality %q is not available from Anthropic", m)
		}
	}
	if !isNull(in.Audio) {
		return nil, unsupported(t.name, "audio", "audio output is not available from Anthropic")
	}
	if !isNull(in.Functions) {
		return nil, unsupported(t.name, "functions", "the deprecated functions field is not supported; use tools")
	}
	if !isNull(in.FunctionCall) {
		return nil, unsupported(t.name, "function_call", "the deprecated function_call field is not supported; use tool_choice")
	}
	if err := t.messages(r, in.Messages); err != nil {
		return nil, err
	}
	if err := t.tools(r, in.Tools, in.ToolChoice, in.ParallelToolCalls); err != nil {
		return nil, err
	}
	return out, nil
}

// completion translates a legacy text completions request body.
func (t *translator) completion(body []byte) (*translated, error) {
	var in completionRequest
	if err := t.decode(body, &in); err != nil {
		return nil, err
	}
	out := &translated{}
	r := &out.req
	r.Model = in.Model
	if err := t.common(r, in.Stop, in.Temperature, in.TopP, in.User); err != nil {
		return nil, err
	}
	if err := t.maxTokensOf(r, in.MaxTokens); err != nil {
		return nil, err
	}
	if in.Stream != nil && *in.Stream {
		r.Stream = true
		out.includeUsage = in.StreamOptions != nil && in.StreamOptions.IncludeUsage != nil && *in.StreamOptions.IncludeUsage
	}
	if err := t.checkN(in.N); err != nil {
		return nil, err
	}
	if in.BestOf != nil && *in.BestOf > 1 {
		return nil, unsupported(t.name, "best_of", "best_of > 1 is not available from Anthropic")
	}
	if in.Logprobs != nil {
		return nil, unsupported(t.name, "logprobs", "logprobs are not available from Anthropic")
	}
	if in.Echo != nil && *in.Echo {
		return nil, unsupported(t.name, "echo", "echo is not available from Anthropic")
	}
	if in.Suffix != nil && *in.Suffix != "" {
		return nil, unsupported(t.name, "suffix", "suffix (insertion) is not available from Anthropic")
	}
	if err := t.checkLogitBias(in.LogitBias); err != nil {
		return nil, err
	}
	prompt, err := t.prompt(in.Prompt)
	if err != nil {
		return nil, err
	}
	r.Messages = []message{{Role: "user", Content: []block{{Type: "text", Text: prompt}}}}
	return out, nil
}

// decode unmarshals an OpenAI request body, turning JSON errors into
// invalid-request errors naming the offending field.
func (t *translator) decode(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return invalid(t.name, "", "the request body must be a JSON object")
	}
	err := json.Unmarshal(trimmed, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return invalid(t.name, te.Field, "%s: expected %s, got %s", fieldName(te.Field), jsonKind(te.Type), te.Value)
	}
	return invalid(t.name, "", "the request body is not valid JSON: %v", err)
}

// jsonKind names the JSON type a Go type decodes from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "another type"
}

func fieldName(f string) string {
	if f == "" {
		return "request"
	}
	return f
}

// common translates the fields chat and legacy completions share.
func (t *translator) common(r *messagesRequest, stop json.RawMessage, temperature, topP *float64, user *string) error {
	if temperature != nil {
		v := *temperature
		if v < 0 || v > 2 {
			return invalid(t.name, "temperature", "temperature must be between 0 and 2, got %v", v)
		}
		// Anthropic accepts 0–1; clamp rather than scale (see package doc).
		v = min(v, 1)
		r.Temperature = &v
	}
	if topP != nil {
		v := *topP
		if v < 0 || v > 1 {
			return invalid(t.name, "top_p", "top_p must be between 0 and 1, got %v", v)
		}
		// 1 samples from everything, as if unset; sending it would break
		// models that refuse temperature and top_p together.
		if v < 1 {
			r.TopP = &v
		}
	}
	seqs, err := t.stop(stop)
	if err != nil {
		return err
	}
	r.StopSequences = seqs
	if user != nil && *user != "" {
		r.Metadata = &metadata{UserID: *user}
	}
	return nil
}

// maxTokensOf sets max_tokens from the first non-null limit.
func (t *translator) maxTokensOf(r *messagesRequest, limits ...*int64) error {
	names := [...]string{"max_completion_tokens", "max_tokens"}
	if len(limits) == 1 {
		names[0] = "max_tokens"
	}
	for i, l := range limits {
		if l == nil {
			continue
		}
		if *l < 1 {
			return invalid(t.name, names[i], "%s must be at least 1, got %d", names[i], *l)
		}
		r.MaxTokens = *l
		return nil
	}
	r.MaxTokens = t.maxTokens
	return nil
}

func (t *translator) checkN(n *int64) error {
	if n == nil {
		return nil
	}
	if *n < 1 {
		return invalid(t.name, "n", "n must be at least 1, got %d", *n)
	}
	if *n > 1 {
		return unsupported(t.name, "n", "Anthropic generates one choice per request; n must be 1, got %d", *n)
	}
	return nil
}

func (t *translator) checkLogitBias(raw json.RawMessage) error {
	if isNull(raw) {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return invalid(t.name, "logit_bias", "logit_bias must be an object")
	}
	if len(m) > 0 {
		return unsupported(t.name, "logit_bias", "logit_bias is not available from Anthropic")
	}
	return nil
}

func (t *translator) checkResponseFormat(raw json.RawMessage) error {
	if isNull(raw) {
		return nil
	}
	var rf struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &rf); err != nil {
		return invalid(t.name, "response_format", "response_format must be an object with a string type")
	}
	if rf.Type != "text" {
		return unsupported(t.name, "response_format", "response_format %q is not supported by this provider; only \"text\"", rf.Type)
	}
	return nil
}

// stop translates stop: null, a string, or an array of strings. Empty
// strings stop nothing and are dropped.
func (t *translator) stop(raw json.RawMessage) ([]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	var list []string
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, invalid(t.name, "stop", "stop must be a string or an array of strings")
		}
		list = []string{s}
	case '[':
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, invalid(t.name, "stop", "stop must be a string or an array of strings")
		}
	default:
		return nil, invalid(t.name, "stop", "stop must be a string or an array of strings")
	}
	out := list[:0]
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// prompt extracts a legacy prompt: a string or an array of one string.
func (t *translator) prompt(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", invalid(t.name, "prompt", "prompt is required")
	}
	var s string
	switch raw[0] {
	case '"':
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", invalid(t.name, "prompt", "prompt must be a string")
		}
	case '[':
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return "", invalid(t.name, "prompt", "prompt must be a string or an array of strings")
		}
		if len(list) != 1 {
			return "", unsupported(t.name, "prompt", "Anthropic takes one prompt per request; got an array of %d", len(list))
		}
		if err := json.Unmarshal(list[0], &s); err != nil {
			return "", unsupported(t.name, "prompt", "token-array prompts are not supported; send text")
		}
	default:
		return "", unsupported(t.name, "prompt", "token-array prompts are not supported; send text")
	}
	if s == "" {
		return "", invalid(t.name, "prompt", "prompt must not be empty")
	}
	return s, nil
}

// messages translates the conversation: system and developer messages into
// r.System, the rest into alternating user and assistant turns.
func (t *translator) messages(r *messagesRequest, msgs []chatMessage) error {
	if len(msgs) == 0 {
		return invalid(t.name, "messages", "messages must be a non-empty array")
	}
	var system []string
	for i := range msgs {
		m := &msgs[i]
		param := "messages[" + strconv.Itoa(i) + "]"
		if !isNull(m.FunctionCall) {
			return unsupported(t.name, param+".function_call", "the deprecated function_call field is not supported; use tool_calls")
		}
		if !isNull(m.Audio) {
			return unsupported(t.name, param+".audio", "audio is not available from Anthropic")
		}
		if m.Role != "assistant" && len(m.ToolCalls) > 0 {
			return invalid(t.name, param+".tool_calls", "tool_calls are only allowed in assistant messages")
		}
		if m.Role != "tool" && m.ToolCallID != nil {
			return invalid(t.name, param+".tool_call_id", "tool_call_id is only allowed in tool messages")
		}
		var role string
		var blocks []block
		switch m.Role {
		case "system", "developer":
			parts, err := t.parts(m.Content, param, m.Role)
			if err != nil {
				return err
			}
			for _, b := range parts {
				if b.Type != "text" {
					return unsupported(t.name, param+".content", "%s messages may only contain text", m.Role)
				}
				system = append(system, b.Text)
			}
			continue
		case "user":
			role = "user"
			parts, err := t.parts(m.Content, param, m.Role)
			if err != nil {
				return err
			}
			blocks = parts
		case "assistant":
			role = "assistant"
			parts, err := t.parts(m.Content, param, m.Role)
			if err != nil {
				return err
			}
			blocks = parts
			for j := range m.ToolCalls {
				b, err := t.toolUse(&m.ToolCalls[j], param+".tool_calls["+strconv.Itoa(j)+"]")
				if err != nil {
					return err
				}
				blocks = append(blocks, b)
			}
		case "tool":
			role = "user"
			if m.ToolCallID == nil || *m.ToolCallID == "" {
				return invalid(t.name, param+".tool_call_id", "tool messages need a tool_call_id")
			}
			parts, err := t.parts(m.Content, param, m.Role)
			if err != nil {
				return err
			}
			blocks = []block{{Type: "tool_result", ToolUseID: *m.ToolCallID, Content: parts}}
		default:
			return unsupported(t.name, param+".role", "message role %q is not supported", m.Role)
		}
		if len(blocks) == 0 {
			continue // nothing to say; Anthropic rejects empty turns
		}
		if n := len(r.Messages); n > 0 && r.Messages[n-1].Role == role {
			r.Messages[n-1].Content = append(r.Messages[n-1].Content, blocks...)
		} else {
			r.Messages = append(r.Messages, message{Role: role, Content: blocks})
		}
	}
	if len(r.Messages) == 0 {
		return invalid(t.name, "messages", "messages must contain at least one non-empty user or assistant message")
	}
	// Anthropic wants tool results first in a user turn.
	for i := range r.Messages {
		if r.Messages[i].Role == "user" {
			toolResultsFirst(r.Messages[i].Content)
		}
	}
	r.System = strings.Join(system, "\n\n")
	return nil
}

// toolResultsFirst moves tool_result blocks to the front, keeping order.
func toolResultsFirst(blocks []block) {
	var results, others []block
	for _, b := range blocks {
		if b.Type == "tool_result" {
			results = append(results, b)
		} else {
			others = append(others, b)
		}
	}
	if len(results) == 0 || len(others) == 0 {
		return
	}
	n := copy(blocks, results)
	copy(blocks[n:], others)
}

// parts translates a message's content: null, a string, or an array of
// content parts. Empty text is dropped. Only user messages may carry images
// and files, and only assistant messages refusals.
func (t *translator) parts(raw json.RawMessage, param, role string) ([]block, error) {
	param += ".content"
	media := role == "user"
	if isNull(raw) {
		return nil, nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, invalid(t.name, param, "content must be a string or an array of content parts")
		}
		if s == "" {
			return nil, nil
		}
		return []block{{Type: "text", Text: s}}, nil
	case '[':
	default:
		return nil, invalid(t.name, param, "content must be a string or an array of content parts")
	}
	var parts []contentPart
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, invalid(t.name, param, "content must be a string or an array of content parts")
	}
	var out []block
	for i := range parts {
		p := &parts[i]
		pp := param + "[" + strconv.Itoa(i) + "]"
		switch p.Type {
		case "text":
			if p.Text == nil {
				return nil, invalid(t.name, pp+".text", "text parts need text")
			}
			if *p.Text != "" {
				out = append(out, block{Type: "text", Text: *p.Text})
			}
		case "refusal":
			if role != "assistant" {
				return nil, unsupported(t.name, pp+".type", "refusal parts are only allowed in assistant messages")
			}
			if p.Refusal == nil {
				return nil, invalid(t.name, pp+".refusal", "refusal parts need a refusal")
			}
			if *p.Refusal != "" {
				out = append(out, block{Type: "text", Text: *p.Refusal})
			}
		case "image_url":
			if !media {
				return nil, unsupported(t.name, pp+".type", "image parts are only supported in user messages")
			}
			if p.ImageURL == nil || p.ImageURL.URL == "" {
				return nil, invalid(t.name, pp+".image_url.url", "image_url parts need a url")
			}
			src, err := t.imageSource(p.ImageURL.URL, pp+".image_url.url")
			if err != nil {
				return nil, err
			}
			out = append(out, block{Type: "image", Source: src})
		case "file":
			if !media {
				return nil, unsupported(t.name, pp+".type", "file parts are only supported in user messages")
			}
			if p.File == nil || p.File.FileData == "" {
				return nil, unsupported(t.name, pp+".file", "only inline file_data (a data: URL) is supported, not file_id")
			}
			mediaType, data, err := t.dataURL(p.File.FileData, pp+".file.file_data")
			if err != nil {
				return nil, err
			}
			if mediaType != "application/pdf" {
				return nil, unsupported(t.name, pp+".file.file_data", "only PDF files are supported, got %q", mediaType)
			}
			out = append(out, block{Type: "document", Source: &source{Type: "base64", MediaType: mediaType, Data: data}})
		default:
			return nil, unsupported(t.name, pp+".type", "content part type %q is not supported", p.Type)
		}
	}
	return out, nil
}

// imageSource translates an image URL: data: URLs to base64 sources,
// http(s) URLs to url sources.
func (t *translator) imageSource(u, param string) (*source, error) {
	if hasPrefixFold(u, "data:") {
		mediaType, data, err := t.dataURL(u, param)
		if err != nil {
			return nil, err
		}
		return &source{Type: "base64", MediaType: mediaType, Data: data}, nil
	}
	if hasPrefixFold(u, "https://") || hasPrefixFold(u, "http://") {
		return &source{Type: "url", URL: u}, nil
	}
	return nil, unsupported(t.name, param, "image URLs must be data:, http: or https: URLs")
}

// dataURL splits a base64 data: URL into its media type and payload,
// checking that the payload is valid base64.
func (t *translator) dataURL(u, param string) (mediaType, data string, err error) {
	if !hasPrefixFold(u, "data:") {
		return "", "", invalid(t.name, param, "expected a data: URL")
	}
	meta, payload, ok := strings.Cut(u[len("data:"):], ",")
	if !ok {
		return "", "", invalid(t.name, param, "malformed data: URL")
	}
	mediaType, enc, ok := strings.Cut(meta, ";")
	if !ok || !strings.EqualFold(enc, "base64") {
		return "", "", invalid(t.name, param, "data: URLs must be base64-encoded (data:<type>;base64,...)")
	}
	mediaType = strings.ToLower(strings.TrimSpace(mediaType))
	if mediaType == "" {
		return "", "", invalid(t.name, param, "data: URL has no media type")
	}
	if payload == "" {
		return "", "", invalid(t.name, param, "data: URL has no data")
	}
	if _, err := base64.StdEncoding.DecodeString(payload); err != nil {
		return "", "", invalid(t.name, param, "data: URL payload is not valid base64")
	}
	return mediaType, payload, nil
}

// toolUse translates one assistant tool call.
func (t *translator) toolUse(c *chatToolCall, param string) (block, error) {
	if c.Type != "" && c.Type != "function" {
		return block{}, unsupported(t.name, param+".type", "tool call type %q is not supported", c.Type)
	}
	if c.ID == "" {
		return block{}, invalid(t.name, param+".id", "tool calls need an id")
	}
	if c.Function.Name == "" {
		return block{}, invalid(t.name, param+".function.name", "tool calls need a function name")
	}
	args := bytes.TrimSpace([]byte(c.Function.Arguments))
	if len(args) == 0 {
		args = []byte("{}")
	}
	if !json.Valid(args) {
		return block{}, invalid(t.name, param+".function.arguments", "arguments are not valid JSON")
	}
	if args[0] != '{' {
		return block{}, invalid(t.name, param+".function.arguments", "arguments must be a JSON object")
	}
	return block{Type: "tool_use", ID: c.ID, Name: c.Function.Name, Input: json.RawMessage(args)}, nil
}

// tools translates tools, tool_choice and parallel_tool_calls.
func (t *translator) tools(r *messagesRequest, tools []chatTool, choiceRaw json.RawMessage, parallel *bool) error {
	for i := range tools {
		ct := &tools[i]
		param := "tools[" + strconv.Itoa(i) + "]"
		if ct.Type != "function" {
			return unsupported(t.name, param+".type", "tool type %q is not supported; only function tools", ct.Type)
		}
		if ct.Function == nil || ct.Function.Name == "" {
			return invalid(t.name, param+".function.name", "function tools need a name")
		}
		schema := bytes.TrimSpace(ct.Function.Parameters)
		if isNull(schema) {
			schema = []byte(`{"type":"object","properties":{}}`)
		} else if schema[0] != '{' {
			return invalid(t.name, param+".function.parameters", "parameters must be a JSON Schema object")
		}
		r.Tools = append(r.Tools, tool{Name: ct.Function.Name, Description: ct.Function.Description, InputSchema: json.RawMessage(schema)})
	}

	var choice *toolChoice
	if !isNull(choiceRaw) {
		switch choiceRaw[0] {
		case '"':
			var s string
			if err := json.Unmarshal(choiceRaw, &s); err != nil {
				return invalid(t.name, "tool_choice", "tool_choice must be a string or an object")
			}
			switch s {
			case "none":
				choice = &toolChoice{Type: "none"}
			case "auto":
				choice = &toolChoice{Type: "auto"}
			case "required":
				choice = &toolChoice{Type: "any"}
			default:
				return invalid(t.name, "tool_choice", "tool_choice %q is not one of none, auto, required", s)
			}
		case '{':
			var obj struct {
				Type     string `json:"type"`
				Function *struct {
					Name string `json:"name"`
				} `json:"function"`
			}
			if err := json.Unmarshal(choiceRaw, &obj); err != nil {
				return invalid(t.name, "tool_choice", "tool_choice must be a string or an object")
			}
			if obj.Type != "function" {
				return unsupported(t.name, "tool_choice.type", "tool_choice type %q is not supported; only function", obj.Type)
			}
			if obj.Function == nil || obj.Function.Name == "" {
				return invalid(t.name, "tool_choice.function.name", "tool_choice needs a function name")
			}
			known := false
			for _, tl := range r.Tools {
				known = known || tl.Name == obj.Function.Name
			}
			if !known {
				return invalid(t.name, "tool_choice.function.name", "tool_choice names function %q, which is not in tools", obj.Function.Name)
			}
			choice = &toolChoice{Type: "tool", Name: obj.Function.Name}
		default:
			return invalid(t.name, "tool_choice", "tool_choice must be a string or an object")
		}
	}
	if len(r.Tools) == 0 {
		if choice != nil && choice.Type != "none" && choice.Type != "auto" {
			return invalid(t.name, "tool_choice", "tool_choice requires tools")
		}
		return nil
	}
	if parallel != nil && !*parallel && (choice == nil || choice.Type != "none") {
		if choice == nil {
			choice = &toolChoice{Type: "auto"}
		}
		choice.DisableParallelToolUse = true
	}
	r.ToolChoice = choice
	return nil
}

// isNull reports whether a raw field is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// marshal encodes v as compact JSON without HTML escaping.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("anthropic: encoding JSON: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
