package answer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"

	"github.com/tidwall/gjson"
)

// splitter writes the stream events of a JSON answer.
type splitter struct {
	kind string
	top  gjson.Result
	dst  []byte
}

// AppendStreamSSE appends the SSE events a streaming client gets for a JSON
// answer, "[DONE]" last: per choice a role chunk, a chunk with the rest of
// the message and its logprobs, and a finish chunk carrying the choice's
// other fields; then, when includeUsage, the usage chunk. Whether the
// events assemble back into the same answer is checked by CheckSplit, once,
// when the answer is stored.
func AppendStreamSSE(dst []byte, kind string, body []byte, includeUsage bool) ([]byte, error) {
	if !gjson.ValidBytes(body) {
		return dst, fmt.Errorf("%w: the stored answer is not valid JSON", ErrCorrupt)
	}
	if bytes.ContainsAny(body, "\r\n") {
		// An event is one line: drop the white space a pretty-printed
		// answer has between tokens (strings cannot hold raw newlines).
		var c bytes.Buffer
		if err := json.Compact(&c, body); err != nil {
			return dst, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		body = c.Bytes()
	}
	s := splitter{kind: kind, top: gjson.ParseBytes(body), dst: dst}
	if !s.top.IsObject() {
		return dst, fmt.Errorf("%w: the stored answer is not a JSON object", ErrCorrupt)
	}
	choices := s.top.Get("choices")
	if !choices.IsArray() {
		return dst, fmt.Errorf("%w: the answer has no choices array", ErrLossy)
	}
	var err error
	choices.ForEach(func(_, c gjson.Result) bool {
		if !c.IsObject() {
			err = fmt.Errorf("%w: a choice is not an object", ErrLossy)
			return false
		}
		if kind == KindCompletions {
			s.textChoice(c)
		} else {
			err = s.chatChoice(c)
		}
		return err == nil
	})
	if err != nil {
		return dst, err
	}
	if u := s.top.Get("usage"); includeUsage && u.Exists() && u.Type != gjson.Null {
		s.chunk(func(b []byte) []byte {
			b = append(b, `"choices":[]`...)
			return b
		}, `"usage":`+u.Raw)
	}
	return append(s.dst, Done...), nil
}

// chunk appends one event: the answer's top-level members in their order,
// "object" renamed to the chunk's, "choices" written by choices, "usage"
// left out (it goes in its own chunk) unless extra holds it.
func (s *splitter) chunk(choices func([]byte) []byte, extra string) {
	b := append(s.dst, "data: {"...)
	n := 0
	sep := func() {
		if n > 0 {
			b = append(b, ',')
		}
		n++
	}
	s.top.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "usage":
			return true
		case "object":
			sep()
			if s.kind == KindCompletions {
				b = append(b, `"object":"text_completion"`...)
			} else {
				b = append(b, `"object":"chat.completion.chunk"`...)
			}
		case "choices":
			sep()
			b = choices(b)
		default:
			sep()
			b = append(b, k.Raw...)
			b = append(b, ':')
			b = append(b, v.Raw...)
		}
		return true
	})
	if extra != "" {
		sep()
		b = append(b, extra...)
	}
	s.dst = append(b, "}\n\n"...)
}

// choiceChunk appends a chunk with one choice whose members body writes.
func (s *splitter) choiceChunk(body func([]byte) []byte) {
	s.chunk(func(b []byte) []byte {
		b = append(b, `"choices":[{`...)
		b = body(b)
		return append(b, "}]"...)
	}, "")
}

func (s *splitter) chatChoice(c gjson.Result) error {
	index := c.Get("index").Raw
	if index == "" {
		return fmt.Errorf("%w: a choice has no index", ErrLossy)
	}
	msg := c.Get("message")
	if !msg.IsObject() {
		return fmt.Errorf("%w: a choice has no message", ErrLossy)
	}
	if msg.Get("audio").Exists() && msg.Get("audio").Type != gjson.Null {
		return fmt.Errorf("%w: audio answers are streamed as pcm16 chunks, not as the stored file", ErrLossy)
	}
	role := msg.Get("role")
	content := msg.Get("content")
	logprobs := c.Get("logprobs")
	// The role chunk: role and an empty (or null) content, as the API
	// starts a stream.
	s.choiceChunk(func(b []byte) []byte {
		b = append(b, `"index":`...)
		b = append(b, index...)
		b = append(b, `,"delta":{`...)
		n := 0
		if role.Exists() {
			b = append(b, `"role":`...)
			b = append(b, role.Raw...)
			n++
		}
		switch {
		case content.Type == gjson.String:
			if n > 0 {
				b = append(b, ',')
			}
			b = append(b, `"content":""`...)
		case content.Type == gjson.Null && content.Exists():
			if n > 0 {
				b = append(b, ',')
			}
			b = append(b, `"content":null`...)
		}
		b = append(b, '}')
		if logprobs.Exists() {
			b = append(b, `,"logprobs":null`...)
		}
		return append(b, `,"finish_reason":null`...)
	})
	// The body chunk: everything else in the message, tool calls with
	// their index, and the logprobs.
	rest := false
	msg.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "role":
		case "content":
			rest = rest || (v.Type == gjson.String && v.Str != "") || (v.Type != gjson.String && v.Type != gjson.Null)
		default:
			rest = true
		}
		return true
	})
	if rest || (logprobs.Exists() && logprobs.Type != gjson.Null) {
		s.choiceChunk(func(b []byte) []byte {
			b = append(b, `"index":`...)
			b = append(b, index...)
			b = append(b, `,"delta":{`...)
			n := 0
			msg.ForEach(func(k, v gjson.Result) bool {
				switch {
				case k.Str == "role":
					return true
				case k.Str == "content" && (v.Type == gjson.Null || (v.Type == gjson.String && v.Str == "")):
					return true // in the role chunk
				}
				if n > 0 {
					b = append(b, ',')
				}
				n++
				b = append(b, k.Raw...)
				b = append(b, ':')
				if k.Str == "tool_calls" && v.IsArray() {
					b = appendIndexedCalls(b, v)
				} else {
					b = append(b, v.Raw...)
				}
				return true
			})
			b = append(b, '}')
			if logprobs.Exists() {
				b = append(b, `,"logprobs":`...)
				b = append(b, logprobs.Raw...)
			}
			return append(b, `,"finish_reason":null`...)
		})
	}
	// The finish chunk: an empty delta, the finish_reason and the choice's
	// other members.
	s.choiceChunk(func(b []byte) []byte {
		b = append(b, `"index":`...)
		b = append(b, index...)
		b = append(b, `,"delta":{}`...)
		if logprobs.Exists() {
			b = append(b, `,"logprobs":null`...)
		}
		c.ForEach(func(k, v gjson.Result) bool {
			switch k.Str {
			case "index", "message", "logprobs":
				return true
			}
			b = append(b, ',')
			b = append(b, k.Raw...)
			b = append(b, ':')
			b = append(b, v.Raw...)
			return true
		})
		return b
	})
	return nil
}

// appendIndexedCalls writes a tool_calls array with "index" first in each
// element, as streams carry them.
func appendIndexedCalls(b []byte, calls gjson.Result) []byte {
	b = append(b, '[')
	i := 0
	calls.ForEach(func(_, call gjson.Result) bool {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		call.ForEach(func(k, v gjson.Result) bool {
			if k.Str == "index" {
				return true
			}
			b = append(b, ',')
			b = append(b, k.Raw...)
			b = append(b, ':')
			b = append(b, v.Raw...)
			return true
		})
		b = append(b, '}')
		i++
		return true
	})
	return append(b, ']')
}

func (s *splitter) textChoice(c gjson.Result) {
	// One chunk with the text and its logprobs, then a finish chunk with
	// the choice's other members.
	s.choiceChunk(func(b []byte) []byte {
		n := 0
		c.ForEach(func(k, v gjson.Result) bool {
			switch k.Str {
			case "finish_reason":
				v = gjson.Result{Type: gjson.Null, Raw: "null"}
			case "text", "index", "logprobs":
			default:
				return true
			}
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = append(b, k.Raw...)
			b = append(b, ':')
			b = append(b, v.Raw...)
			return true
		})
		return b
	})
	s.choiceChunk(func(b []byte) []byte {
		n := 0
		c.ForEach(func(k, v gjson.Result) bool {
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = append(b, k.Raw...)
			b = append(b, ':')
			switch k.Str {
			case "text":
				b = append(b, `""`...)
			case "logprobs":
				b = append(b, "null"...)
			default:
				b = append(b, v.Raw...)
			}
			return true
		})
		return b
	})
}

// CheckSplit reports whether the JSON answer body survives being served as
// a stream: its events must assemble back into the same JSON document
// (member order aside). It returns nil or an error wrapping ErrLossy.
func CheckSplit(kind string, body []byte) error {
	sse, err := AppendStreamSSE(nil, kind, body, true)
	if err != nil {
		return err
	}
	a := NewAssembler(kind)
	for len(sse) > 0 {
		line, rest, _ := cutLine(sse)
		sse = rest
		data, ok := cutPrefix(line, "data: ")
		if !ok || string(data) == "[DONE]" {
			continue
		}
		if err := a.Add(data); err != nil {
			return fmt.Errorf("%w: %w", ErrLossy, err)
		}
	}
	back, err := a.Result()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrLossy, err)
	}
	if !SameJSON(back, body) {
		return fmt.Errorf("%w: the streamed form assembles into a different answer", ErrLossy)
	}
	return nil
}

// SameJSON reports whether two JSON documents hold the same values, member
// order aside. Numbers compare by their text.
func SameJSON(a, b []byte) bool {
	va, ok1 := decodeAny(a)
	vb, ok2 := decodeAny(b)
	return ok1 && ok2 && reflect.DeepEqual(va, vb)
}

func decodeAny(b []byte) (any, bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

func cutLine(b []byte) (line, rest []byte, found bool) {
	for i, c := range b {
		if c == '\n' {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

func cutPrefix(b []byte, p string) ([]byte, bool) {
	if len(b) >= len(p) && string(b[:len(p)]) == p {
		return b[len(p):], true
	}
	return nil, false
}
