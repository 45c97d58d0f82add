package semcache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrIncomplete: a stream could not be assembled into a complete answer.
var ErrIncomplete = errors.New("semcache: incomplete stream")

// Assembler rebuilds a non-streamed OpenAI response from the chunks of a
// streamed one (chat.completion.chunk or streamed text_completion), so a
// streamed miss can be stored once and served in either form.
type Assembler struct {
	kind    string // "chat" or "completions"
	id      string
	created int64
	model   string
	fp      string
	choices []*asmChoice
	usage   json.RawMessage
	chunks  int
}

type asmChoice struct {
	index        int
	role         string
	content      strings.Builder
	hasContent   bool
	refusal      strings.Builder
	hasRefusal   bool
	tools        []*asmTool
	finishReason string
}

type asmTool struct {
	index int
	id    string
	typ   string
	name  string
	args  strings.Builder
}

// NewAssembler returns an assembler for kind "chat" or "completions".
func NewAssembler(kind string) *Assembler { return &Assembler{kind: kind} }

type chunkJSON struct {
	ID                string          `json:"id"`
	Created           int64           `json:"created"`
	Model             string          `json:"model"`
	SystemFingerprint string          `json:"system_fingerprint"`
	Usage             json.RawMessage `json:"usage"`
	Choices           []struct {
		Index        int     `json:"index"`
		Text         *string `json:"text"`
		FinishReason *string `json:"finish_reason"`
		Delta        struct {
			Role      string  `json:"role"`
			Content   *string `json:"content"`
			Refusal   *string `json:"refusal"`
			ToolCalls []struct {
				Index    int    `json:"index"`
				ID       string `json:"id"`
				Type     string `json:"type"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"delta"`
	} `json:"choices"`
}

// Add folds one chunk (an SSE event's data, not "[DONE]") into the answer.
func (a *Assembler) Add(data []byte) error {
	var c chunkJSON
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("%w: chunk: %v", ErrIncomplete, err)
	}
	a.chunks++
	if a.id == "" {
		a.id, a.created, a.model, a.fp = c.ID, c.Created, c.Model, c.SystemFingerprint
	}
	if len(c.Usage) > 0 && !bytes.Equal(c.Usage, []byte("null")) {
		a.usage = append(a.usage[:0], c.Usage...)
	}
	for _, ch := range c.Choices {
		if ch.Index < 0 || ch.Index > 127 {
			return fmt.Errorf("%w: choice index %d", ErrIncomplete, ch.Index)
		}
		cc := a.choice(ch.Index)
		if ch.Delta.Role != "" {
			cc.role = ch.Delta.Role
		}
		if ch.Delta.Content != nil {
			cc.content.WriteString(*ch.Delta.Content)
			cc.hasContent = true
		}
		if ch.Text != nil {
			cc.content.WriteString(*ch.Text)
			cc.hasContent = true
		}
		if ch.Delta.Refusal != nil {
			cc.refusal.WriteString(*ch.Delta.Refusal)
			cc.hasRefusal = true
		}
		for _, tc := range ch.Delta.ToolCalls {
			t := cc.tool(tc.Index)
			if tc.ID != "" {
				t.id = tc.ID
			}
			if tc.Type != "" {
				t.typ = tc.Type
			}
			if tc.Function.Name != "" {
				t.name = tc.Function.Name
			}
			t.args.WriteString(tc.Function.Arguments)
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			cc.finishReason = *ch.FinishReason
		}
	}
	return nil
}

func (a *Assembler) choice(i int) *asmChoice {
	for _, c := range a.choices {
		if c.index == i {
			return c
		}
	}
	c := &asmChoice{index: i}
	a.choices = append(a.choices, c)
	return c
}

func (c *asmChoice) tool(i int) *asmTool {
	for _, t := range c.tools {
		if t.index == i {
			return t
		}
	}
	t := &asmTool{index: i}
	c.tools = append(c.tools, t)
	return t
}

// FinishReasons returns each choice's finish_reason, in index order.
func (a *Assembler) FinishReasons() []string {
	out := make([]string, 0, len(a.choices))
	for _, c := range a.sorted() {
		out = append(out, c.finishReason)
	}
	return out
}

func (a *Assembler) sorted() []*asmChoice {
	cs := slices.Clone(a.choices)
	slices.SortFunc(cs, func(x, y *asmChoice) int { return x.index - y.index })
	return cs
}

// Result returns the assembled response JSON. It fails if no chunk came
// or a choice has no finish_reason (the stream stopped early).
func (a *Assembler) Result() ([]byte, error) {
	if a.chunks == 0 || len(a.choices) == 0 {
		return nil, fmt.Errorf("%w: no choices", ErrIncomplete)
	}
	for _, c := range a.choices {
		if c.finishReason == "" {
			return nil, fmt.Errorf("%w: choice %d has no finish_reason", ErrIncomplete, c.index)
		}
	}
	type fn struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	}
	type toolCall struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function fn     `json:"function"`
	}
	type message struct {
		Role      string     `json:"role"`
		Content   *string    `json:"content"`
		Refusal   *string    `json:"refusal,omitempty"`
		ToolCalls []toolCall `json:"tool_calls,omitempty"`
	}
	type chatChoice struct {
		Index        int             `json:"index"`
		Message      message         `json:"message"`
		Logprobs     json.RawMessage `json:"logprobs"`
		FinishReason string          `json:"finish_reason"`
	}
	type textChoice struct {
		Index        int             `json:"index"`
		Text         string          `json:"text"`
		Logprobs     json.RawMessage `json:"logprobs"`
		FinishReason string          `json:"finish_reason"`
	}
	type response struct {
		ID                string          `json:"id"`
		Object            string          `json:"object"`
		Created           int64           `json:"created"`
		Model             string          `json:"model"`
		SystemFingerprint string          `json:"system_fingerprint,omitempty"`
		Choices           any             `json:"choices"`
		Usage             json.RawMessage `json:"usage,omitempty"`
	}
	r := response{ID: a.id, Created: a.created, Model: a.model, SystemFingerprint: a.fp, Usage: a.usage}
	null := json.RawMessage("null")
	if a.kind == "completions" {
		r.Object = "text_completion"
		var cs []textChoice
		for _, c := range a.sorted() {
			cs = append(cs, textChoice{Index: c.index, Text: c.content.String(), Logprobs: null, FinishReason: c.finishReason})
		}
		r.Choices = cs
	} else {
		r.Object = "chat.completion"
		var cs []chatChoice
		for _, c := range a.sorted() {
			m := message{Role: c.role}
			if m.Role == "" {
				m.Role = "assistant"
			}
			if c.hasContent || len(c.tools) == 0 {
				s := c.content.String()
				m.Content = &s
			}
			if c.hasRefusal {
				s := c.refusal.String()
				m.Refusal = &s
			}
			tools := slices.Clone(c.tools)
			slices.SortFunc(tools, func(x, y *asmTool) int { return x.index - y.index })
			for _, t := range tools {
				typ := t.typ
				if typ == "" {
					typ = "function"
				}
				m.ToolCalls = append(m.ToolCalls, toolCall{ID: t.id, Type: typ, Function: fn{Name: t.name, Arguments: t.args.String()}})
			}
			cs = append(cs, chatChoice{Index: c.index, Message: m, Logprobs: null, FinishReason: c.finishReason})
		}
		r.Choices = cs
	}
	return json.Marshal(r)
}

// Replay turns a stored non-streamed response into the data of the SSE
// events a streaming client expects: chunks carrying the same content,
// a usage chunk when includeUsage, and "[DONE]".
func Replay(kind string, body []byte, includeUsage bool) ([][]byte, error) {
	var r struct {
		ID                string          `json:"id"`
		Created           int64           `json:"created"`
		Model             string          `json:"model"`
		SystemFingerprint string          `json:"system_fingerprint"`
		Usage             json.RawMessage `json:"usage"`
		Choices           []struct {
			Index        int             `json:"index"`
			Text         string          `json:"text"`
			FinishReason string          `json:"finish_reason"`
			Message      json.RawMessage `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%w: stored body: %v", ErrCorrupt, err)
	}
	object := "chat.completion.chunk"
	if kind == "completions" {
		object = "text_completion"
	}
	head := func(b *bytes.Buffer) {
		b.WriteString(`{"id":`)
		writeJSON(b, r.ID)
		b.WriteString(`,"object":"` + object + `","created":`)
		writeJSON(b, r.Created)
		b.WriteString(`,"model":`)
		writeJSON(b, r.Model)
		if r.SystemFingerprint != "" {
			b.WriteString(`,"system_fingerprint":`)
			writeJSON(b, r.SystemFingerprint)
		}
	}
	var events [][]byte
	emit := func(choice func(b *bytes.Buffer)) {
		var b bytes.Buffer
		head(&b)
		b.WriteString(`,"choices":[`)
		choice(&b)
		b.WriteString("]}")
		events = append(events, b.Bytes())
	}
	for _, c := range r.Choices {
		idx := c.Index
		if kind == "completions" {
			emit(func(b *bytes.Buffer) {
				fmt.Fprintf(b, `{"index":%d,"text":`, idx)
				writeJSON(b, c.Text)
				b.WriteString(`,"logprobs":null,"finish_reason":null}`)
			})
			emit(func(b *bytes.Buffer) {
				fmt.Fprintf(b, `{"index":%d,"text":"","logprobs":null,"finish_reason":`, idx)
				writeJSON(b, c.FinishReason)
				b.WriteString("}")
			})
			continue
		}
		var m struct {
			Role      string          `json:"role"`
			Content   *string         `json:"content"`
			Refusal   *string         `json:"refusal"`
			ToolCalls json.RawMessage `json:"tool_calls"`
		}
		if err := json.Unmarshal(c.Message, &m); err != nil {
			return nil, fmt.Errorf("%w: stored message: %v", ErrCorrupt, err)
		}
		role := m.Role
		if role == "" {
			role = "assistant"
		}
		first := `,"content":""}`
		if m.Content == nil {
			first = `,"content":null}`
		}
		emit(func(b *bytes.Buffer) {
			fmt.Fprintf(b, `{"index":%d,"delta":{"role":`, idx)
			writeJSON(b, role)
			b.WriteString(first + `,"logprobs":null,"finish_reason":null}`)
		})
		if m.Content != nil && *m.Content != "" {
			emit(func(b *bytes.Buffer) {
				fmt.Fprintf(b, `{"index":%d,"delta":{"content":`, idx)
				writeJSON(b, *m.Content)
				b.WriteString(`},"logprobs":null,"finish_reason":null}`)
			})
		}
		if m.Refusal != nil && *m.Refusal != "" {
			emit(func(b *bytes.Buffer) {
				fmt.Fprintf(b, `{"index":%d,"delta":{"refusal":`, idx)
				writeJSON(b, *m.Refusal)
				b.WriteString(`},"logprobs":null,"finish_reason":null}`)
			})
		}
		if len(m.ToolCalls) > 0 && !bytes.Equal(m.ToolCalls, []byte("null")) {
			var calls []map[string]json.RawMessage
			if err := json.Unmarshal(m.ToolCalls, &calls); err != nil {
				return nil, fmt.Errorf("%w: stored tool calls: %v", ErrCorrupt, err)
			}
			for i, call := range calls {
				call["index"] = json.RawMessage(fmt.Sprint(i))
				enc, err := json.Marshal(call) // json sorts map keys: deterministic
				if err != nil {
					return nil, err
				}
				emit(func(b *bytes.Buffer) {
					fmt.Fprintf(b, `{"index":%d,"delta":{"tool_calls":[`, idx)
					b.Write(enc)
					b.WriteString(`]},"logprobs":null,"finish_reason":null}`)
				})
			}
		}
		emit(func(b *bytes.Buffer) {
			fmt.Fprintf(b, `{"index":%d,"delta":{},"logprobs":null,"finish_reason":`, idx)
			writeJSON(b, c.FinishReason)
			b.WriteString("}")
		})
	}
	if includeUsage && len(r.Usage) > 0 && !bytes.Equal(r.Usage, []byte("null")) {
		var b bytes.Buffer
		head(&b)
		b.WriteString(`,"choices":[],"usage":`)
		b.Write(r.Usage)
		b.WriteString("}")
		events = append(events, b.Bytes())
	}
	return append(events, []byte("[DONE]")), nil
}

func writeJSON(b *bytes.Buffer, v any) {
	enc, _ := json.Marshal(v)
	b.Write(enc)
}
