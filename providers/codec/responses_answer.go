package codec

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/semgate/semgate/providers/sse"
)

// AnswerOptions tune a translated answer.
type AnswerOptions struct {
	// ID is the answer's id ("resp_…" or "msg_…"); empty: a fresh random
	// one ([NewResponseID], [NewMessageID]). Ids of output items and tool
	// calls without one are derived from it.
	ID string
	// CreatedAt is the Responses created_at in Unix seconds; 0: the chat
	// answer's created, or now.
	CreatedAt int64
	// Model is the model to report; empty: the chat answer's, or the
	// request's.
	Model string
	// InputTokens is reported by a Messages stream's message_start, before
	// the upstream's count arrives with the last chunk (chat streams give
	// usage only at the end); 0 if unknown. message_delta carries the
	// upstream's count.
	InputTokens int64
}

// Response translates a chat.completion body into a Responses API
// Response object. A finish_reason of "length" gives status "incomplete"
// with incomplete_details.reason "max_output_tokens", "content_filter"
// gives reason "content_filter".
func (r *ResponsesRequest) Response(chatCompletion []byte, opt AnswerOptions) ([]byte, error) {
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
	return s.Response(), nil
}

// Replay renders a chat.completion body (a cached answer) as the complete
// Responses event stream a live request would have produced.
func (r *ResponsesRequest) Replay(chatCompletion []byte, opt AnswerOptions) ([]byte, error) {
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

// ResponsesStream translates a chat.completion.chunk stream into the
// Responses API's event stream as it arrives: feed it each chunk's data
// and write what it returns. After "[DONE]" it has written
// response.completed (or response.incomplete); a stream that fails (a
// chunk that cannot be understood, an error object mid-stream, End before
// a finish_reason, Fail with a code such as "server_error") ends with
// response.failed. It is not safe for concurrent use.
type ResponsesStream struct {
	streamOut
	req   *ResponsesRequest
	opt   AnswerOptions
	seq   int64
	items []*respItem
	open  *respItem
	final []byte
}

type respItem struct {
	index  int
	id     string
	call   bool
	status string
	parts  []*respPart
	tool   *streamTool
}

type respPart struct {
	refusal bool
	text    strings.Builder
	done    bool
}

// NewStream starts translating a chat stream for r.
func (r *ResponsesRequest) NewStream(opt AnswerOptions) *ResponsesStream {
	if opt.ID == "" {
		opt.ID = NewResponseID()
	}
	s := &ResponsesStream{req: r, opt: opt}
	s.core = chunkCore{sink: s, idBase: opt.ID}
	return s
}

// Response returns the final Response object, as sent in the terminal
// event; nil before it.
func (s *ResponsesStream) Response() []byte { return s.final }

// ID returns the response's id.
func (s *ResponsesStream) ID() string { return s.opt.ID }

// event appends one event: type and sequence_number, then v's fields.
func (s *ResponsesStream) event(name string, v any) {
	b := []byte(`{"type":`)
	b = append(b, jsonString(name)...)
	b = append(b, `,"sequence_number":`...)
	b = strconv.AppendInt(b, s.seq, 10)
	s.seq++
	if v != nil {
		body := marshal(v)
		if len(body) > 2 {
			b = append(b, ',')
			b = append(b, body[1:len(body)-1]...)
		}
	}
	b = append(b, '}')
	s.out = sse.AppendEvent(s.out, []byte(name), b)
}

type evItem struct {
	OutputIndex int `json:"output_index"`
	Item        any `json:"item"`
}

type evPart struct {
	ItemID       string `json:"item_id"`
	OutputIndex  int    `json:"output_index"`
	ContentIndex int    `json:"content_index"`
	Part         any    `json:"part"`
}

type evText struct {
	ItemID       string  `json:"item_id"`
	OutputIndex  int     `json:"output_index"`
	ContentIndex int     `json:"content_index"`
	Delta        *string `json:"delta,omitempty"`
	Text         *string `json:"text,omitempty"`
	Logprobs     []any   `json:"logprobs"`
}

type evRefusal struct {
	ItemID       string  `json:"item_id"`
	OutputIndex  int     `json:"output_index"`
	ContentIndex int     `json:"content_index"`
	Delta        *string `json:"delta,omitempty"`
	Refusal      *string `json:"refusal,omitempty"`
}

type evArgs struct {
	ItemID      string  `json:"item_id"`
	OutputIndex int     `json:"output_index"`
	Delta       *string `json:"delta,omitempty"`
	Name        string  `json:"name,omitempty"`
	Arguments   *string `json:"arguments,omitempty"`
}

// The output item shapes.

type messageItem struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Status  string `json:"status"`
	Content []any  `json:"content"`
	Role    string `json:"role"`
}

type outputText struct {
	Type        string `json:"type"`
	Annotations []any  `json:"annotations"`
	Logprobs    []any  `json:"logprobs"`
	Text        string `json:"text"`
}

type refusalPart struct {
	Type    string `json:"type"`
	Refusal string `json:"refusal"`
}

type functionCallItem struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Status    string `json:"status"`
	Arguments string `json:"arguments"`
	CallID    string `json:"call_id"`
	Name      string `json:"name"`
}

func (p *respPart) json() any {
	if p.refusal {
		return refusalPart{Type: "refusal", Refusal: p.text.String()}
	}
	return outputText{Type: "output_text", Annotations: []any{}, Logprobs: []any{}, Text: p.text.String()}
}

func (it *respItem) json() any {
	if it.call {
		return functionCallItem{ID: it.id, Type: "function_call", Status: it.status, Arguments: it.arguments(), CallID: it.tool.id, Name: it.tool.name}
	}
	content := make([]any, 0, len(it.parts))
	for _, p := range it.parts {
		content = append(content, p.json())
	}
	return messageItem{ID: it.id, Type: "message", Status: it.status, Content: content, Role: "assistant"}
}

// arguments returns a call's arguments; a call streamed without any is
// given "{}", as OpenAI's own are.
func (it *respItem) arguments() string {
	if it.status != "in_progress" && it.tool.args.Len() == 0 {
		return "{}"
	}
	return it.tool.args.String()
}

type responseUsage struct {
	InputTokens        int64 `json:"input_tokens"`
	InputTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int64 `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int64 `json:"total_tokens"`
}

// responseObject is the Response object; request parameters are echoed as
// OpenAI does.
type responseObject struct {
	ID                 string          `json:"id"`
	Object             string          `json:"object"`
	CreatedAt          int64           `json:"created_at"`
	Status             string          `json:"status"`
	Background         bool            `json:"background"`
	Error              json.RawMessage `json:"error"`
	IncompleteDetails  json.RawMessage `json:"incomplete_details"`
	Instructions       json.RawMessage `json:"instructions"`
	MaxOutputTokens    json.RawMessage `json:"max_output_tokens"`
	Model              string          `json:"model"`
	Output             []any           `json:"output"`
	ParallelToolCalls  bool            `json:"parallel_tool_calls"`
	PreviousResponseID json.RawMessage `json:"previous_response_id"`
	PromptCacheKey     json.RawMessage `json:"prompt_cache_key"`
	Reasoning          json.RawMessage `json:"reasoning"`
	SafetyIdentifier   json.RawMessage `json:"safety_identifier"`
	ServiceTier        json.RawMessage `json:"service_tier"`
	Store              bool            `json:"store"`
	Temperature        json.RawMessage `json:"temperature"`
	Text               json.RawMessage `json:"text"`
	ToolChoice         json.RawMessage `json:"tool_choice"`
	Tools              json.RawMessage `json:"tools"`
	TopLogprobs        json.RawMessage `json:"top_logprobs"`
	TopP               json.RawMessage `json:"top_p"`
	Truncation         json.RawMessage `json:"truncation"`
	Usage              *responseUsage  `json:"usage"`
	User               json.RawMessage `json:"user"`
	Metadata           json.RawMessage `json:"metadata"`
}

// or returns the request's field key, or def when absent.
func (r *ResponsesRequest) or(key, def string) json.RawMessage {
	if raw := r.body.raw(key); raw != nil {
		return compact(raw)
	}
	if def == "" {
		return nil
	}
	return json.RawMessage(def)
}

func (s *ResponsesStream) response(status string, final bool, errObj json.RawMessage) []byte {
	r := s.req
	o := responseObject{
		ID:                 s.opt.ID,
		Object:             "response",
		CreatedAt:          s.createdAt(),
		Status:             status,
		Error:              errObj,
		Instructions:       r.or("instructions", ""),
		MaxOutputTokens:    r.or("max_output_tokens", ""),
		Model:              s.model(),
		Output:             []any{},
		ParallelToolCalls:  r.chat.ParallelToolCalls == nil || *r.chat.ParallelToolCalls,
		PreviousResponseID: r.or("previous_response_id", ""),
		PromptCacheKey:     r.or("prompt_cache_key", ""),
		Reasoning:          r.or("reasoning", `{"effort":null,"summary":null}`),
		SafetyIdentifier:   r.or("safety_identifier", ""),
		ServiceTier:        r.or("service_tier", `"auto"`),
		Store:              r.Store,
		Temperature:        r.or("temperature", "1"),
		Text:               r.or("text", `{"format":{"type":"text"}}`),
		ToolChoice:         r.or("tool_choice", `"auto"`),
		Tools:              r.or("tools", `[]`),
		TopLogprobs:        r.or("top_logprobs", "0"),
		TopP:               r.or("top_p", "1"),
		Truncation:         r.or("truncation", `"disabled"`),
		User:               r.or("user", ""),
		Metadata:           r.or("metadata", `{}`),
	}
	if final {
		for _, it := range s.items {
			o.Output = append(o.Output, it.json())
		}
		if u := s.core.usage; u != nil {
			o.Usage = &responseUsage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
			if o.Usage.TotalTokens == 0 {
				o.Usage.TotalTokens = u.PromptTokens + u.CompletionTokens
			}
			o.Usage.InputTokensDetails.CachedTokens = u.cached()
			o.Usage.OutputTokensDetails.ReasoningTokens = u.reasoning()
		}
		switch f := s.core.finish; {
		case errObj != nil:
		case f == "length":
			o.IncompleteDetails = json.RawMessage(`{"reason":"max_output_tokens"}`)
		case f == "content_filter":
			o.IncompleteDetails = json.RawMessage(`{"reason":"content_filter"}`)
		}
	}
	return marshal(o)
}

func (s *ResponsesStream) createdAt() int64 {
	switch {
	case s.opt.CreatedAt != 0:
		return s.opt.CreatedAt
	case s.core.created > 0:
		return s.core.created
	}
	s.opt.CreatedAt = time.Now().Unix()
	return s.opt.CreatedAt
}

func (s *ResponsesStream) model() string {
	switch {
	case s.opt.Model != "":
		return s.opt.Model
	case s.core.model != "":
		return s.core.model
	}
	return s.req.Model
}

// The sink: chat content in, Responses events out.

func (s *ResponsesStream) start() {
	resp := s.response("in_progress", false, nil)
	s.event("response.created", struct {
		Response json.RawMessage `json:"response"`
	}{resp})
	s.event("response.in_progress", struct {
		Response json.RawMessage `json:"response"`
	}{resp})
}

func (s *ResponsesStream) addItem(call bool, t *streamTool) *respItem {
	s.closeItem("completed")
	it := &respItem{index: len(s.items), call: call, status: "in_progress", tool: t}
	if call {
		it.id = derivedID("fc", s.opt.ID, it.index)
	} else {
		it.id = derivedID("msg", s.opt.ID, it.index)
	}
	s.items = append(s.items, it)
	s.open = it
	s.event("response.output_item.added", evItem{OutputIndex: it.index, Item: it.json()})
	return it
}

// part returns the open message's open part of the given kind, opening
// the message and the part as needed.
func (s *ResponsesStream) part(refusal bool) (*respItem, *respPart, int) {
	it := s.open
	if it == nil || it.call {
		it = s.addItem(false, nil)
	}
	if n := len(it.parts); n > 0 && !it.parts[n-1].done && it.parts[n-1].refusal == refusal {
		return it, it.parts[n-1], n - 1
	}
	s.closePart(it)
	p := &respPart{refusal: refusal}
	it.parts = append(it.parts, p)
	k := len(it.parts) - 1
	s.event("response.content_part.added", evPart{ItemID: it.id, OutputIndex: it.index, ContentIndex: k, Part: p.json()})
	return it, p, k
}

func (s *ResponsesStream) closePart(it *respItem) {
	n := len(it.parts)
	if n == 0 || it.parts[n-1].done {
		return
	}
	p := it.parts[n-1]
	p.done = true
	full := p.text.String()
	if p.refusal {
		s.event("response.refusal.done", evRefusal{ItemID: it.id, OutputIndex: it.index, ContentIndex: n - 1, Refusal: &full})
	} else {
		s.event("response.output_text.done", evText{ItemID: it.id, OutputIndex: it.index, ContentIndex: n - 1, Text: &full, Logprobs: []any{}})
	}
	s.event("response.content_part.done", evPart{ItemID: it.id, OutputIndex: it.index, ContentIndex: n - 1, Part: p.json()})
}

func (s *ResponsesStream) closeItem(status string) {
	it := s.open
	if it == nil {
		return
	}
	s.open = nil
	if it.call {
		it.status = status
		args := it.arguments()
		s.event("response.function_call_arguments.done", evArgs{ItemID: it.id, OutputIndex: it.index, Name: it.tool.name, Arguments: &args})
	} else {
		s.closePart(it)
		it.status = status
	}
	s.event("response.output_item.done", evItem{OutputIndex: it.index, Item: it.json()})
}

func (s *ResponsesStream) text(t string) {
	it, p, k := s.part(false)
	p.text.WriteString(t)
	s.event("response.output_text.delta", evText{ItemID: it.id, OutputIndex: it.index, ContentIndex: k, Delta: &t, Logprobs: []any{}})
}

func (s *ResponsesStream) refusal(t string) {
	it, p, k := s.part(true)
	p.text.WriteString(t)
	s.event("response.refusal.delta", evRefusal{ItemID: it.id, OutputIndex: it.index, ContentIndex: k, Delta: &t})
}

func (s *ResponsesStream) toolStart(t *streamTool) { s.addItem(true, t) }

func (s *ResponsesStream) toolArgs(t *streamTool, frag string) {
	it := s.open
	s.event("response.function_call_arguments.delta", evArgs{ItemID: it.id, OutputIndex: it.index, Delta: &frag})
}

func (s *ResponsesStream) finish() {
	status := "completed"
	if f := s.core.finish; f == "length" || f == "content_filter" {
		status = "incomplete"
	}
	s.closeItem(status)
}

func (s *ResponsesStream) complete() {
	status, name := "completed", "response.completed"
	if f := s.core.finish; f == "length" || f == "content_filter" {
		status, name = "incomplete", "response.incomplete"
	}
	s.final = s.response(status, true, nil)
	s.event(name, struct {
		Response json.RawMessage `json:"response"`
	}{s.final})
}

func (s *ResponsesStream) fail(code, message string) {
	if !s.core.started {
		s.core.started = true
		s.start()
	}
	switch code {
	case "server_error", "rate_limit_exceeded", "invalid_prompt", "vector_store_timeout", "invalid_image":
	default:
		code = "server_error"
	}
	s.final = s.response("failed", true, marshal(map[string]string{"code": code, "message": message}))
	s.event("response.failed", struct {
		Response json.RawMessage `json:"response"`
	}{s.final})
}
